package config

import (
	"bytes"
	"encoding/json"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/hashicorp/hcl/v2"
)

const badSource = `host "web" {
  address = "10.0.0.5"
}

endpoint "web" {
  host     = host.web
  port     = 80
  protocol = "sctp"
}
`

func TestWriteDiagnostics(t *testing.T) {
	cfg, diags := LoadSources(map[string][]byte{"web.pc.hcl": []byte(badSource)}, Options{})
	var b bytes.Buffer
	if err := WriteDiagnostics(&b, cfg.Files, diags, false, 0); err != nil {
		t.Fatal(err)
	}
	out := b.String()
	for _, want := range []string{
		"Error: Invalid protocol",
		`on web.pc.hcl line 8, in endpoint "web":`,
		`   8:   protocol = "sctp"`,
		`protocol must be "tcp" or "udp"; got "sctp".`,
	} {
		if !strings.Contains(out, want) {
			t.Errorf("output lacks %q:\n%s", want, out)
		}
	}
	if strings.Contains(out, "\x1b[") {
		t.Error("color without asking")
	}

	b.Reset()
	if err := WriteDiagnostics(&b, cfg.Files, diags, true, 0); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(b.String(), "\x1b[") {
		t.Error("no color when asked")
	}
}

// TestWriteDiagnosticsWidth: width 0 means 78 columns, not "no wrapping".
func TestWriteDiagnosticsWidth(t *testing.T) {
	long := strings.Repeat("word ", 40)
	diags := hcl.Diagnostics{{Severity: hcl.DiagError, Summary: "S", Detail: long}}
	var b bytes.Buffer
	if err := WriteDiagnostics(&b, nil, diags, false, 0); err != nil {
		t.Fatal(err)
	}
	for _, line := range strings.Split(b.String(), "\n") {
		if len(line) > 78 {
			t.Errorf("line of %d columns: %q", len(line), line)
		}
	}
}

func TestDiagnosticsJSON(t *testing.T) {
	_, diags := LoadSources(map[string][]byte{"web.pc.hcl": []byte(badSource)}, Options{})
	diags = append(diags, &hcl.Diagnostic{Severity: hcl.DiagWarning, Summary: "No subject", Detail: "d"})
	out, err := DiagnosticsJSON(diags)
	if err != nil {
		t.Fatal(err)
	}
	var got []map[string]any
	if err := json.Unmarshal(out, &got); err != nil {
		t.Fatalf("%v:\n%s", err, out)
	}
	want := []map[string]any{
		{
			"severity": "error",
			"summary":  "Invalid protocol",
			"detail":   `protocol must be "tcp" or "udp"; got "sctp".`,
			"range": map[string]any{
				"filename": "web.pc.hcl",
				"start":    map[string]any{"line": 8.0, "column": 14.0, "byte": 107.0},
				"end":      map[string]any{"line": 8.0, "column": 20.0, "byte": 113.0},
			},
		},
		{"severity": "warning", "summary": "No subject", "detail": "d"},
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("(-want +got):\n%s", diff)
	}

	empty, _ := DiagnosticsJSON(nil)
	if string(empty) != "[]" {
		t.Errorf("no diagnostics = %s, want []", empty)
	}
}

func TestSourceOf(t *testing.T) {
	r := hcl.Range{Filename: "examples/web.pc.hcl", Start: hcl.Pos{Line: 14, Column: 1}}
	if got := SourceOf(r); got != "examples/web.pc.hcl:14" {
		t.Errorf("SourceOf = %q", got)
	}
	if got := SourceOf(hcl.Range{}); got != "" {
		t.Errorf("SourceOf(zero) = %q, want empty", got)
	}
}

// TestDiagnosticContext: a conflict prints both attributes, an element
// error prints the whole list around it.
func TestDiagnosticContext(t *testing.T) {
	src := `host "both" {
  address   = "10.0.0.1"
  addresses = [
    "10.0.0.2",
    "10.0.0.300",
  ]
}
`
	cfg, diags := LoadSources(map[string][]byte{"c.pc.hcl": []byte(src)}, Options{})
	var b bytes.Buffer
	if err := WriteDiagnostics(&b, cfg.Files, diags, false, 0); err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{
		"Error: Invalid IP address",
		`   3:   addresses = [`,
		`   5:     "10.0.0.300",`,
		"Error: Conflicting attributes",
		`   2:   address   = "10.0.0.1"`,
	} {
		if !strings.Contains(b.String(), want) {
			t.Errorf("output lacks %q:\n%s", want, b.String())
		}
	}
}

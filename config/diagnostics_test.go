package config

import (
	"bytes"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"unicode/utf8"

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

// checkPrintable fails when out has a line longer than maxOutputLine (plus
// the cut marker) or a control byte other than newline and tab.
func checkPrintable(t *testing.T, out string) {
	t.Helper()
	for i, line := range strings.Split(out, "\n") {
		if len(line) > maxOutputLine+len("…") {
			t.Errorf("output line %d has %d bytes: %.100q…", i+1, len(line), line)
		}
		for _, c := range []byte(line) {
			if (c < 0x20 && c != '\t') || c == 0x7f {
				t.Errorf("output line %d holds control byte 0x%02x: %.200q", i+1, c, line)
				break
			}
		}
	}
}

// TestWriteDiagnosticsLimits: what a broken or hostile file can make
// WriteDiagnostics print is bounded. Before, a 10 MB line was echoed whole
// once per diagnostic on it, and a binary's raw bytes reached the
// terminal.
func TestWriteDiagnosticsLimits(t *testing.T) {
	huge := strings.Repeat("x", 10<<20)
	long := "locals {\n  a = [" + strings.Repeat("1, ", 50_000) + "$, " + strings.Repeat("2, ", 50_000) + "]\n}\n"
	var many strings.Builder
	for i := range 100 {
		fmt.Fprintf(&many, "host \"h%d\" {\n  address = \"10.0.0.%d\"\n  adress  = 1\n}\n", i, i)
	}
	control := "locals {\n  a = \"\x1b[31mred\x07\u202e\" $\n}\n"
	tests := []struct {
		name     string
		src      string
		wantDiag int      // how many diagnostics the load gives
		want     []string // in the output
		maxBytes int
	}{
		{"a 10 MB line", "locals {\n  a = \"" + huge + "\" $\n}\n", 2,
			[]string{"   2: …xxxxxxxx", `xxxxxxxx" $`, "Error: Invalid character", "Error: Missing newline after argument"}, 2000},
		{"an error in the middle of a long line", long, 2,
			[]string{"   2: … 1, 1, 1", "1, 1, 1, $, 2, 2, 2", "2, 2,…\n", "Error: Invalid expression"}, 1000},
		{"many errors", many.String(), 100,
			[]string{"… and 80 more errors not shown (portcheck validate -json lists them all)."}, 20_000},
		{"control characters", control, 2,
			[]string{`   2:   a = "\x1b[31mred\x07\u202e" $`}, 1000},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cfg, diags := LoadSources(map[string][]byte{"x.pc.hcl": []byte(tt.src)}, Options{})
			if len(diags) != tt.wantDiag {
				t.Fatalf("%d diagnostics, want %d", len(diags), tt.wantDiag)
			}
			for _, color := range []bool{false, true} {
				var b bytes.Buffer
				if err := WriteDiagnostics(&b, cfg.Files, diags, color, 0); err != nil {
					t.Fatal(err)
				}
				out := b.String()
				if len(out) > tt.maxBytes {
					t.Errorf("color %v: %d bytes of output, want at most %d:\n%.3000s", color, len(out), tt.maxBytes, out)
				}
				if strings.Count(out, "Error: ") > MaxDiagnosticsShown {
					t.Errorf("more than %d diagnostics shown", MaxDiagnosticsShown)
				}
				if color {
					continue
				}
				checkPrintable(t, out)
				for _, w := range tt.want {
					if !strings.Contains(out, w) {
						t.Errorf("output lacks %q:\n%.3000s", w, out)
					}
				}
			}
		})
	}
}

// TestWriteDiagnosticsClips: long texts and long snippets are cut, and a
// context too long to show gives way to the subject.
func TestWriteDiagnosticsClips(t *testing.T) {
	src := []byte("locals {\n" + strings.Repeat("  a = 1\n", 50) + "  b = 2\n}\n")
	f := &hcl.File{Bytes: src}
	line := func(n int) hcl.Range {
		start := bytes.Index(src, []byte("  b")) // line 52
		if n != 52 {
			start = 9 + (n-2)*8
		}
		return hcl.Range{Filename: "c.pc.hcl", Start: hcl.Pos{Line: n, Column: 3, Byte: start + 2}, End: hcl.Pos{Line: n, Column: 4, Byte: start + 3}}
	}
	whole := hcl.Range{Filename: "c.pc.hcl", Start: hcl.Pos{Line: 1, Column: 1, Byte: 0}, End: hcl.Pos{Line: 53, Column: 2, Byte: len(src) - 1}}
	tests := []struct {
		name      string
		d         *hcl.Diagnostic
		want      []string
		wantLines int // source lines shown
	}{
		{"long detail", &hcl.Diagnostic{Severity: hcl.DiagError, Summary: "S", Detail: strings.Repeat("word ", 10_000), Subject: line(52).Ptr()},
			[]string{"word … (48000 more bytes)"}, 1},
		{"long summary", &hcl.Diagnostic{Severity: hcl.DiagError, Summary: strings.Repeat("s", 1000), Subject: line(52).Ptr()},
			[]string{"s… (800 more bytes)"}, 1},
		{"control characters in the texts", &hcl.Diagnostic{Severity: hcl.DiagError, Summary: "S\x1b[2J", Detail: "a\nb\x07\xff", Subject: line(52).Ptr()},
			[]string{`Error: S\x1b[2J`, "a\nb\\x07\\xff"}, 1},
		{"long context dropped", &hcl.Diagnostic{Severity: hcl.DiagError, Summary: "S", Subject: line(52).Ptr(), Context: whole.Ptr()},
			[]string{"  52:   b = 2"}, 1},
		{"long subject cut", &hcl.Diagnostic{Severity: hcl.DiagError, Summary: "S", Subject: whole.Ptr()},
			[]string{"   1: locals {", "  12:   a = 1"}, maxSnippetLines},
		{"short context kept", &hcl.Diagnostic{Severity: hcl.DiagError, Summary: "S", Subject: line(52).Ptr(), Context: hcl.RangeOver(line(50), line(52)).Ptr()},
			[]string{"  50:   a = 1", "  52:   b = 2"}, 3},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var b bytes.Buffer
			if err := WriteDiagnostics(&b, map[string]*hcl.File{"c.pc.hcl": f}, hcl.Diagnostics{tt.d}, false, 0); err != nil {
				t.Fatal(err)
			}
			out := b.String()
			checkPrintable(t, out)
			for _, w := range tt.want {
				if !strings.Contains(out, w) {
					t.Errorf("output lacks %q:\n%s", w, out)
				}
			}
			shown := 0
			for _, l := range strings.Split(out, "\n") {
				if len(l) > 5 && l[4] == ':' && strings.TrimSpace(l[:4]) != "" {
					shown++
				}
			}
			if shown != tt.wantLines {
				t.Errorf("%d source lines shown, want %d:\n%s", shown, tt.wantLines, out)
			}
		})
	}
}

// TestDiagnosticsJSONClips: -json keeps every diagnostic but not a
// megabyte of quoted source in one.
func TestDiagnosticsJSONClips(t *testing.T) {
	diags := hcl.Diagnostics{{Severity: hcl.DiagError, Summary: "S", Detail: strings.Repeat("x", 1<<20)}}
	for range 1000 {
		diags = append(diags, &hcl.Diagnostic{Severity: hcl.DiagError, Summary: "S", Detail: "d"})
	}
	out, err := DiagnosticsJSON(diags)
	if err != nil {
		t.Fatal(err)
	}
	var got []struct{ Detail string }
	if err := json.Unmarshal(out, &got); err != nil {
		t.Fatal(err)
	}
	if len(got) != len(diags) {
		t.Errorf("%d diagnostics in JSON, want all %d", len(got), len(diags))
	}
	if len(got[0].Detail) > maxDetail+50 || !strings.HasSuffix(got[0].Detail, "more bytes)") {
		t.Errorf("detail of %d bytes not cut: %.100q", len(got[0].Detail), got[0].Detail)
	}
}

// TestWriteDiagnosticsAsHCL: for diagnostics on a few short lines of
// text, WriteDiagnostics prints exactly what HCL's writer does (the
// limits change nothing there), in colour too; every error fixture, and
// evaluation errors that show variable values.
func TestWriteDiagnosticsAsHCL(t *testing.T) {
	names, _ := filepath.Glob("testdata/errors/*.pc.hcl")
	srcs := map[string][]byte{}
	for _, n := range names {
		src, err := os.ReadFile(n)
		if err != nil {
			t.Fatal(err)
		}
		srcs[n] = src
	}
	srcs["values.pc.hcl"] = []byte(`variable "n" {
  default = 5
}
locals {
  s    = "abc"
  list = [1, 2]
  obj  = { a = 1 }
  bad  = local.s + var.n + length(local.list) + local.obj + local.list[0]
}
`)
	checked := 0
	for name, src := range srcs {
		if checkSource(name, src) != nil {
			continue // refused before parsing: HCL would print the parser's errors
		}
		if terminalText(string(src)) != string(src) {
			// Ours escapes what HCL's prints raw.
			cfg, diags := LoadSources(map[string][]byte{name: src}, Options{})
			var ours bytes.Buffer
			if err := WriteDiagnostics(&ours, cfg.Files, diags, false, 0); err != nil {
				t.Fatal(err)
			}
			checkPrintable(t, ours.String())
			if !utf8.ValidString(ours.String()) {
				t.Errorf("%s: bytes that are not UTF-8 printed:\n%s", name, ours.String())
			}
			continue
		}
		cfg, diags := LoadSources(map[string][]byte{name: src}, Options{})
		diags = diags[:min(len(diags), MaxDiagnosticsShown)] // no "… and N more"
		for _, color := range []bool{false, true} {
			var ours, theirs bytes.Buffer
			if err := WriteDiagnostics(&ours, cfg.Files, diags, color, 0); err != nil {
				t.Fatal(err)
			}
			if err := hcl.NewDiagnosticTextWriter(&theirs, cfg.Files, 78, color).WriteDiagnostics(diags); err != nil {
				t.Fatal(err)
			}
			if name == "values.pc.hcl" && !strings.Contains(ours.String(), `with local.s as "abc".`) {
				t.Errorf("no variable values shown:\n%s", ours.String())
			}
			if diff := cmp.Diff(theirs.String(), ours.String()); diff != "" {
				t.Errorf("%s (color %v): output differs from HCL's (-hcl +ours):\n%s", name, color, diff)
			}
		}
		checked++
		if name == "values.pc.hcl" && !strings.Contains(fmt.Sprint(diags), "Invalid operand") {
			t.Errorf("values.pc.hcl gave no evaluation error: %v", diags)
		}
	}
	if checked < 10 {
		t.Errorf("only %d fixtures compared", checked)
	}
}

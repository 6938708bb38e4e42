package config

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

const unformatted = `host "web" {
address="10.0.0.5"
    local     = true
}
endpoint "web" {
    host = host.web
  port=80
  expect {
  http { status = [200,204] }
  }
}
`

const formatted = `host "web" {
  address = "10.0.0.5"
  local   = true
}
endpoint "web" {
  host = host.web
  port = 80
  expect {
    http { status = [200, 204] }
  }
}
`

func TestFormat(t *testing.T) {
	tests := []struct{ name, in, want string }{
		{"unformatted", unformatted, formatted},
		{"canonical is unchanged", formatted, formatted},
		{"empty", "", ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, diags := Format("f.pc.hcl", []byte(tt.in))
			if len(diags) > 0 {
				t.Fatal(diags)
			}
			if diff := cmp.Diff(tt.want, string(got)); diff != "" {
				t.Errorf("(-want +got):\n%s", diff)
			}
			again, _ := Format("f.pc.hcl", got)
			if string(again) != string(got) {
				t.Errorf("not idempotent:\n%s", cmp.Diff(string(got), string(again)))
			}
		})
	}
}

// TestFixturesAreCanonical keeps the valid fixtures formatted, as users'
// files would be after portcheck fmt.
func TestFixturesAreCanonical(t *testing.T) {
	names, _ := filepath.Glob("testdata/valid/*.pc.hcl")
	more, _ := filepath.Glob("testdata/valid/*/*.pc.hcl")
	for _, name := range append(names, more...) {
		src, err := os.ReadFile(name)
		if err != nil {
			t.Fatal(err)
		}
		got, diags := Format(name, src)
		if len(diags) > 0 {
			t.Fatal(diags)
		}
		if diff := cmp.Diff(string(src), string(got)); diff != "" {
			t.Errorf("%s is not canonical (-file +formatted):\n%s", name, diff)
		}
	}
}

func TestFormatSyntaxError(t *testing.T) {
	got, diags := Format("bad.pc.hcl", []byte("host \"web\" {\n  address = \n}\n"))
	if got != nil || !diags.HasErrors() {
		t.Fatalf("got %q, %v; want nil and an error", got, diags)
	}
	if s := diags[0].Subject; s == nil || s.Filename != "bad.pc.hcl" || s.Start.Line != 2 {
		t.Errorf("subject %v, want bad.pc.hcl line 2", s)
	}
}

func TestFormatPath(t *testing.T) {
	dir := t.TempDir()
	write := func(name, src string) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, []byte(src), 0o640); err != nil {
			t.Fatal(err)
		}
		return p
	}
	a := write("a.pc.hcl", unformatted)
	write("b.pc.hcl", formatted)
	other := write("c.hcl", unformatted) // not ours: left alone
	write("d.pc.json", `{"host":{}}`)

	changed, _, diags := FormatPath(dir, false)
	if len(diags) > 0 {
		t.Fatal(diags)
	}
	if diff := cmp.Diff([]string{a}, changed); diff != "" {
		t.Errorf("check: changed (-want +got):\n%s", diff)
	}
	if src, _ := os.ReadFile(a); string(src) != unformatted {
		t.Error("write=false rewrote a file")
	}

	changed, _, diags = FormatPath(dir, true)
	if len(diags) > 0 || len(changed) != 1 {
		t.Fatalf("write: %v %v", changed, diags)
	}
	if src, _ := os.ReadFile(a); string(src) != formatted {
		t.Errorf("not rewritten:\n%s", src)
	}
	if fi, _ := os.Stat(a); fi.Mode().Perm() != 0o640 {
		t.Errorf("mode %v, want 0640 kept", fi.Mode().Perm())
	}
	if src, _ := os.ReadFile(other); string(src) != unformatted {
		t.Error("a file without the .pc.hcl suffix was rewritten")
	}

	changed, _, diags = FormatPath(dir, true)
	if len(diags) > 0 || len(changed) != 0 {
		t.Errorf("second run: %v %v; want nothing to do", changed, diags)
	}

	// One file by name, with a syntax error: reported, not rewritten.
	bad := write("e.pc.hcl", "host {\n")
	changed, _, diags = FormatPath(bad, true)
	if len(changed) != 0 || !diags.HasErrors() {
		t.Errorf("broken file: %v %v", changed, diags)
	}
	if src, _ := os.ReadFile(bad); string(src) != "host {\n" {
		t.Error("a file with a syntax error was rewritten")
	}
}

// TestFormatRefuses: fmt (hclwrite) gets the same checks as Load before
// it sees a file, and returns the files it read so that its errors show
// source lines (fmt printed "(source code not available)").
func TestFormatRefuses(t *testing.T) {
	dir := t.TempDir()
	files := map[string]string{
		"binary.pc.hcl": "host \x00\x01\x02",
		"deep.pc.hcl":   "locals {\n  a = " + strings.Repeat("[", MaxNesting) + strings.Repeat("]", MaxNesting) + "\n}\n",
		"broken.pc.hcl": "host \"a\" {\n  address = \n}\n",
	}
	for n, src := range files {
		if err := os.WriteFile(filepath.Join(dir, n), []byte(src), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	changed, read, diags := FormatPath(dir, true)
	if len(changed) != 0 {
		t.Errorf("changed %v", changed)
	}
	want := map[string]string{"binary.pc.hcl": "Not a text file", "deep.pc.hcl": "Nesting too deep", "broken.pc.hcl": "Invalid expression"}
	got := map[string]string{}
	for _, d := range diags {
		got[filepath.Base(d.Subject.Filename)] = d.Summary
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("diagnostics (-want +got):\n%s", diff)
	}
	for n, src := range files {
		p := filepath.Join(dir, n)
		if f := read[p]; f == nil || string(f.Bytes) != src {
			t.Errorf("%s: not among the files returned", n)
		}
		if b, _ := os.ReadFile(p); string(b) != src {
			t.Errorf("%s was rewritten", n)
		}
	}
	var out bytes.Buffer
	if err := WriteDiagnostics(&out, read, diags, false, 0); err != nil {
		t.Fatal(err)
	}
	if strings.Contains(out.String(), "source code not available") || !strings.Contains(out.String(), "   2:   address = ") {
		t.Errorf("fmt errors without their source lines:\n%s", out.String())
	}
}

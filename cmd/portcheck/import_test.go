package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// import's exit codes, and its output through validate and fmt -check: 0
// with the HCL written; 2 for a malformed line (file:line on stderr,
// nothing written), an unknown format or state, no input, or nothing in it.
func TestImportCommand(t *testing.T) {
	dir := t.TempDir()
	write := func(name, text string) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, []byte(text), 0o644); err != nil {
			t.Fatal(err)
		}
		return p
	}
	batch := write("batch.txt", "10.0.0.5:22:ssh\n10.0.0.5:80:http\n[::1]:8080:http-alt\n")
	bad := write("bad.txt", "10.0.0.5:22:ssh\n10.0.0.5:http\n")
	empty := write("empty.txt", "# nothing\n")
	for _, tc := range []struct {
		name     string
		args     []string
		code     int
		inStderr string
		written  bool
	}{
		{"batch to a file", []string{"import", "-format", "batch", batch}, 0, "Wrote", true},
		{"nmap scan", []string{"import", "../../internal/inventory/testdata/nmap.xml"}, 0, "note: ", true},
		{"malformed line", []string{"import", bad}, 2, bad + ":2: ", false},
		{"unknown format", []string{"import", "-format", "csv", batch}, 2, `-format "csv"`, false},
		{"unknown state", []string{"import", "-states", "open,up", batch}, 2, `"up" is not one of`, false},
		{"no file", []string{"import"}, 2, "missing FILE", false},
		{"missing file", []string{"import", filepath.Join(dir, "nope.txt")}, 2, "no such file", false},
		{"nothing in it", []string{"import", empty}, 2, "nothing to import", false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			out := filepath.Join(t.TempDir(), "imported.pc.hcl")
			code, _, stderr := runCmd(t, append(tc.args, "-o", out)...)
			if code != tc.code || !strings.Contains(stderr, tc.inStderr) {
				t.Fatalf("exit %d, stderr %q; want %d and %q", code, stderr, tc.code, tc.inStderr)
			}
			_, err := os.Stat(out)
			if (err == nil) != tc.written {
				t.Fatalf("output written: %v, want %v", err == nil, tc.written)
			}
			if !tc.written {
				return
			}
			if code, _, errOut := runCmd(t, "validate", out); code != 0 {
				t.Errorf("validate: exit %d\n%s", code, errOut)
			}
			if code, stdout, _ := runCmd(t, "fmt", "-check", out); code != 0 {
				t.Errorf("fmt -check: exit %d: %s", code, stdout)
			}
		})
	}
	// Without -o the HCL goes to standard output.
	code, stdout, _ := runCmd(t, "import", batch)
	if code != 0 || !strings.Contains(stdout, `endpoint "ssh"`) || !strings.Contains(stdout, `address = "::1"`) {
		t.Errorf("exit %d, stdout:\n%s", code, stdout)
	}
}

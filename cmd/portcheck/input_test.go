package main

import (
	"encoding/json"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func writeFile(t *testing.T, name string, src []byte) string {
	t.Helper()
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, name), src, 0o644); err != nil {
		t.Fatal(err)
	}
	return dir
}

// TestHostileInput: files that killed portcheck with a stack overflow
// (100,000 levels of nesting in 200 KB: over 1 GB, then a multi-thousand
// line dump) or flooded the terminal (a binary: 1,141 errors and 585 KB of
// raw bytes; a 10 MB line echoed twice) give short diagnostics and exit 2
// in every command that reads HCL, and -json lists them without the
// megabytes.
func TestHostileInput(t *testing.T) {
	const deep = 100_000
	rng := rand.New(rand.NewPCG(9, 10))
	binary := make([]byte, 200_000)
	for i := range binary {
		binary[i] = byte(rng.UintN(256))
	}
	var many strings.Builder
	for i := range 1141 {
		many.WriteString("host \"h" + strings.Repeat("x", i%7) + "\" {\n  $\n}\n")
	}
	tests := []struct {
		name, file string
		src        []byte
		summary    string
		diags      int // in -json
		maxStderr  int
	}{
		{"parentheses", "x.pc.hcl", []byte("locals {\n  a = " + strings.Repeat("(", deep) + "1" + strings.Repeat(")", deep) + "\n}\n"),
			"Error: Nesting too deep", 1, 2000},
		{"mixed brackets", "x.pc.hcl", []byte("locals {\n  a = " + strings.Repeat("[{a = (", deep/3) + "1" + strings.Repeat(")}]", deep/3) + "\n}\n"),
			"Error: Nesting too deep", 1, 2000},
		{"JSON arrays", "x.pc.json", []byte(`{"locals": {"a": ` + strings.Repeat("[", deep) + strings.Repeat("]", deep) + "}}"),
			"Error: Nesting too deep", 1, 2000},
		{"a binary", "x.pc.hcl", binary, "Error: Not a text file", 1, 2000},
		{"a 10 MB line", "x.pc.hcl", []byte("locals {\n  a = \"" + strings.Repeat("x", 10<<20) + "\" $\n}\n"),
			"Error: Invalid character", 2, 3000},
		{"a thousand errors", "x.pc.hcl", []byte(many.String()),
			"… and 1,122 more errors not shown (portcheck validate -json lists them all).", 1142, 20_000},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := writeFile(t, tt.file, tt.src)
			cmds := [][]string{{"validate", dir}, {"plan", dir}, {"verify", dir}, {"verify", "-json", dir}}
			if strings.HasSuffix(tt.file, ".pc.hcl") {
				cmds = append(cmds, []string{"fmt", "-check", dir})
			}
			for _, args := range cmds {
				code, out, errOut := runCmd(t, args...)
				if code != exitUsage {
					t.Errorf("%v: exit %d, want %d", args, code, exitUsage)
				}
				if !strings.Contains(errOut, tt.summary) {
					t.Errorf("%v: stderr lacks %q:\n%.2000s", args, tt.summary, errOut)
				}
				if len(errOut) > tt.maxStderr || len(out) > 0 {
					t.Errorf("%v: %d bytes on stderr (want at most %d), %d on stdout", args, len(errOut), tt.maxStderr, len(out))
				}
			}

			code, out, _ := runCmd(t, "validate", "-json", dir)
			var diags []struct {
				Summary, Detail string
				Range           *struct{ Filename string }
			}
			if err := json.Unmarshal([]byte(out), &diags); err != nil || code != exitUsage {
				t.Fatalf("validate -json: exit %d, %v", code, err)
			}
			if len(diags) != tt.diags {
				t.Errorf("validate -json: %d diagnostics, want %d", len(diags), tt.diags)
			}
			if len(out) > tt.diags*1000 {
				t.Errorf("validate -json: %d bytes for %d diagnostics", len(out), len(diags))
			}
		})
	}
}

// TestConfigMessages: the small ones of issue 9 (items 8 and 15).
func TestConfigMessages(t *testing.T) {
	const valid = "variable \"port\" {\n  type    = number\n  default = 80\n}\nhost \"a\" {\n  address = \"127.0.0.1\"\n}\nendpoint \"e\" {\n  host = host.a\n  port = var.port\n}\n"
	broken := writeFile(t, "x.pc.hcl", []byte("host \"a\" {\n  address = \n}\n"))
	good := writeFile(t, "x.pc.hcl", []byte(valid))
	onlyHCL := writeFile(t, "x.hcl", []byte(valid))

	t.Run("the path in the last line", func(t *testing.T) {
		t.Chdir(broken)
		code, _, errOut := runCmd(t, "validate", ".")
		if code != exitUsage || !strings.HasSuffix(errOut, "\nConfiguration \".\" has 1 error.\n") {
			t.Errorf("exit %d, stderr:\n%s", code, errOut)
		}
		code, out, _ := runCmd(t, "validate", good)
		if want := "Success! Configuration \"" + good + "\" is valid: 1 host, 1 endpoint.\n"; code != exitOK || out != want {
			t.Errorf("exit %d, stdout %q, want %q", code, out, want)
		}
	})
	t.Run("fmt shows the source", func(t *testing.T) {
		code, _, errOut := runCmd(t, "fmt", broken)
		if code != exitUsage || strings.Contains(errOut, "source code not available") || !strings.Contains(errOut, "   2:   address = ") {
			t.Errorf("exit %d, stderr:\n%s", code, errOut)
		}
	})
	t.Run("a directory of x.hcl", func(t *testing.T) {
		for _, cmd := range []string{"validate", "fmt", "plan", "verify"} {
			code, _, errOut := runCmd(t, cmd, onlyHCL)
			for _, want := range []string{"holds x.hcl, but no configuration file", "*.pc.hcl", "*.pc.json", "rename it to x.pc.hcl"} {
				if !strings.Contains(strings.ReplaceAll(errOut, "\n", " "), want) {
					t.Errorf("%s: stderr lacks %q:\n%s", cmd, want, errOut)
				}
			}
			if code != exitUsage {
				t.Errorf("%s: exit %d", cmd, code)
			}
		}
	})
	t.Run("PORTCHECK_VAR_ for an undeclared variable", func(t *testing.T) {
		t.Setenv("PORTCHECK_VAR_prot", "8080")
		for _, cmd := range []string{"validate", "plan"} {
			code, _, errOut := runCmd(t, cmd, good)
			if code != exitOK {
				t.Errorf("%s: exit %d, want 0 (a warning)", cmd, code)
			}
			flat := strings.ReplaceAll(errOut, "\n", " ")
			for _, want := range []string{"Warning: Value for undeclared variable", "PORTCHECK_VAR_prot", `Did you mean "port"`} {
				if !strings.Contains(flat, want) {
					t.Errorf("%s: stderr lacks %q:\n%s", cmd, want, errOut)
				}
			}
		}
	})
}

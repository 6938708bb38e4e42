package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestVerifyFactsErrors: a facts document from a newer schema version, a
// truncated one, one missing an observer, garbage, and a missing file are
// each refused with the file and what is wrong (exit 2, nothing verified);
// a declared host no document covers is an error check (exit 1), never a
// skip; -offline without -facts is a usage error.
func TestVerifyFactsErrors(t *testing.T) {
	good, err := os.ReadFile("../../runner/testdata/facts/web.json")
	if err != nil {
		t.Fatal(err)
	}
	cfgDir := "../../runner/testdata/facts/web.pc.hcl"
	dir := t.TempDir()
	write := func(name, content string) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
		return p
	}
	doc := string(good)
	for _, tc := range []struct {
		name, file, want string
	}{
		{"newer version", write("newer.json", strings.Replace(doc, `"version": 1`, `"version": 2`, 1)), "newer.json: facts version 2 is newer than this portcheck reads (1)"},
		{"truncated", write("cut.json", doc[:len(doc)/3]), "cut.json: truncated"},
		{"missing observer", write("gap.json", strings.Replace(doc, `"selinux": {`, `"selinux_x": {`, 1)), `gap.json: "selinux" is missing`},
		{"garbage", write("junk.json", "\x7fELF\x02\x01\x01garbage"), "junk.json: not a facts document"},
		{"no such file", filepath.Join(dir, "nope.json"), "no such file"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			code, out, errOut := runCmd(t, "verify", "-offline", "-facts", tc.file, cfgDir)
			if code != 2 || !strings.Contains(errOut, tc.want) || out != "" {
				t.Errorf("exit %d, stderr %q (want 2 and %q), stdout %q", code, errOut, tc.want, out)
			}
		})
	}

	t.Run("host without a document", func(t *testing.T) {
		other := write("other.json", strings.Replace(doc, `"name": "web"`, `"name": "db"`, 1))
		other = strings.TrimSpace(other)
		// The address still matches: rename it away too.
		b, _ := os.ReadFile(other)
		os.WriteFile(other, []byte(strings.ReplaceAll(string(b), `"10.102.68.2"`, `"10.250.0.9"`)), 0o644)
		code, out, _ := runCmd(t, "verify", "-offline", "-json", "-facts", other, cfgDir)
		if code != 1 || !strings.Contains(out, `no facts document for host web`) || strings.Contains(out, `"status": "pass"`) {
			t.Errorf("exit %d; want 1 with every server check an error naming the missing document:\n%s", code, out)
		}
	})
	t.Run("offline needs facts", func(t *testing.T) {
		if code, _, errOut := runCmd(t, "verify", "-offline", cfgDir); code != 2 || !strings.Contains(errOut, "-offline needs -facts") {
			t.Errorf("exit %d %q", code, errOut)
		}
	})
	t.Run("judged from the document", func(t *testing.T) {
		code, out, _ := runCmd(t, "verify", "-offline", "-facts", write("web.json", doc), cfgDir)
		if code != 1 || !strings.Contains(out, "server-side checks judged from facts web.json (collected ") || !strings.Contains(out, "L2 firewall_blocked") {
			t.Errorf("exit %d:\n%s", code, out)
		}
		code, out, _ = runCmd(t, "plan", "-offline", "-facts", filepath.Join(dir, "web.json"), cfgDir)
		if code != 0 || !strings.Contains(out, "on facts") {
			t.Errorf("plan exit %d:\n%s", code, out)
		}
	})
}

package config

import (
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/hashicorp/hcl/v2"
)

// FuzzLoadSources: no input may panic the loader (or the writers that print
// its diagnostics), and every error must point at the source.
func FuzzLoadSources(f *testing.F) {
	for _, pattern := range []string{
		"testdata/valid/*.pc.*", "testdata/valid/*/*.pc.*", "testdata/errors/*.pc.hcl", "testdata/varfiles/*",
	} {
		names, _ := filepath.Glob(pattern)
		for _, name := range names {
			src, err := os.ReadFile(name)
			if err != nil {
				f.Fatal(err)
			}
			f.Add(src, strings.HasSuffix(name, ".json"))
		}
	}
	f.Fuzz(func(t *testing.T, src []byte, isJSON bool) {
		name := "fuzz.pc.hcl"
		if isJSON {
			name = "fuzz.pc.json"
		}
		cfg, diags := LoadSources(map[string][]byte{name: src}, Options{})
		if cfg == nil {
			t.Fatal("nil Config")
		}
		for _, d := range diags {
			if d.Severity == hcl.DiagError && d.Subject == nil {
				t.Errorf("error without a subject: %s: %s", d.Summary, d.Detail)
			}
		}
		_ = WriteDiagnostics(io.Discard, cfg.Files, diags, false, 0)
		if _, err := DiagnosticsJSON(diags); err != nil {
			t.Error(err)
		}
		if !isJSON {
			if out, d := Format(name, src); !d.HasErrors() {
				if again, _ := Format(name, out); string(again) != string(out) {
					t.Errorf("Format is not idempotent:\n%q\n%q", out, again)
				}
			}
		}
	})
}

// FuzzDecodeHex: send_hex input never panics, and
// what decodes is half as long as its digits.
func FuzzDecodeHex(f *testing.F) {
	for _, s := range []string{"0000000804d2162f", "00 00:ff", "0x41", "0g", " ", "abc"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		b, err := DecodeHex(s)
		if err == nil && len(b) > len(s)/2 {
			t.Errorf("%q decoded to %d bytes", s, len(b))
		}
	})
}

package config

import (
	"math/rand/v2"
	"strings"
	"testing"

	"github.com/hashicorp/hcl/v2"
)

// TestNotText: a file that is not UTF-8 text gets one diagnostic where
// the first offending byte is, instead of the parser's (a binary named
// x.pc.hcl gave 1,141 errors and 585 KB of raw bytes). Other files are
// still read and reported.
func TestNotText(t *testing.T) {
	rng := rand.New(rand.NewPCG(9, 10))
	binary := make([]byte, 200_000)
	for i := range binary {
		binary[i] = byte(rng.UintN(256))
	}
	binary[0], binary[1] = 'E', 'L' // not a UTF-16 mark
	// A binary without NULs: mostly bytes that are not UTF-8.
	high := make([]byte, 4096)
	for i := range high {
		high[i] = byte(0x80 + rng.UintN(128))
	}
	copy(high, "host \"a\" {\n")

	tests := []struct {
		name, file, src string
		line, column    int
		detail          string
	}{
		{"NUL byte", "x.pc.hcl", "host \"a\" {\n  address = \"10.0.0.1\"\x00\n}\n", 2, 23, "holds a NUL byte at line 2, column 23"},
		{"mostly not UTF-8", "x.pc.hcl", string(high), 2, 1, "bytes that are not UTF-8, the first"},
		{"UTF-16", "x.pc.hcl", "\xff\xfeh\x00o\x00", 1, 1, "UTF-16 byte order mark"},
		{"binary", "x.pc.hcl", string(binary), 0, 0, "holds a NUL byte"},
		{"binary JSON", "x.pc.json", "{\"host\": {\"a\": {\"address\": \"\x00\"}}}", 1, 29, "NUL byte"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cfg, diags := LoadSources(map[string][]byte{
				tt.file:        []byte(tt.src),
				"other.pc.hcl": []byte("host \"b\" {\n  address = \n}\n"), // a syntax error
			}, Options{})
			var mine []*hcl.Diagnostic
			for _, d := range diags {
				if d.Subject != nil && d.Subject.Filename == tt.file {
					mine = append(mine, d)
				}
			}
			if len(mine) != 1 || mine[0].Summary != "Not a text file" || len(diags) != 2 {
				t.Fatalf("want one Not a text file for %s and the other file's error, got:\n%s", tt.file, diagText(cfg, diags))
			}
			s := mine[0].Subject
			if tt.line > 0 && (s.Start.Line != tt.line || s.Start.Column != tt.column) {
				t.Errorf("at line %d column %d, want %d:%d", s.Start.Line, s.Start.Column, tt.line, tt.column)
			}
			if !strings.Contains(mine[0].Detail+mine[0].Summary, tt.detail) {
				t.Errorf("detail %q lacks %q", mine[0].Detail, tt.detail)
			}
		})
	}

	// Text that is not ASCII is fine, and so is a Latin-1 comment, as it
	// was before (HCL skips comments).
	for _, src := range []string{"# café, 東京\n", "# caf\xe9, Stra\xdfe\n"} {
		_, diags := LoadSources(map[string][]byte{"u.pc.hcl": []byte(src + "host \"a\" {\n  address = \"10.0.0.1\"\n}\n")}, Options{})
		if len(diags) > 0 {
			t.Errorf("%q refused: %v", src, diags)
		}
	}
}

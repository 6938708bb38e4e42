package textfile

import (
	"bytes"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestRead(t *testing.T) {
	dir := t.TempDir()
	write := func(name string, data []byte) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, data, 0o644); err != nil {
			t.Fatal(err)
		}
		return p
	}
	latin1 := append([]byte("# Auteur: Fran"), 0xe7, 'o', 'i', 's', '\n')
	for _, tc := range []struct {
		name    string
		path    string
		max     int64
		wantErr error
		errText string
	}{
		{"text", write("a.cfg", []byte("backend web\n  server a 10.0.0.1:80\n")), 0, nil, ""},
		{"empty", write("empty.cfg", nil), 0, nil, ""},
		{"a few Latin-1 bytes", write("latin1.cfg", latin1), 0, nil, ""},
		{"too large", write("big.cfg", bytes.Repeat([]byte("x"), 101)), 100, ErrTooLarge, "101 bytes, the limit is 100"},
		{"exactly the limit", write("limit.cfg", bytes.Repeat([]byte("x"), 100)), 100, nil, ""},
		{"NUL byte", write("nul.bin", []byte("abc\x00def")), 0, ErrBinary, "NUL byte at offset 3"},
		{"not UTF-8", write("bin.bin", bytes.Repeat([]byte{0xff, 0xfe, 'a'}, 40)), 0, ErrBinary, "not UTF-8"},
		{"directory", dir, 0, nil, "not a regular file"},
		{"missing", filepath.Join(dir, "nope"), 0, os.ErrNotExist, ""},
	} {
		f, err := Read(tc.path, tc.max)
		switch {
		case tc.wantErr == nil && tc.errText == "":
			if err != nil {
				t.Errorf("%s: %v", tc.name, err)
			} else if f.Path != tc.path {
				t.Errorf("%s: path %q", tc.name, f.Path)
			}
		case err == nil:
			t.Errorf("%s: no error", tc.name)
		default:
			if tc.wantErr != nil && !errors.Is(err, tc.wantErr) {
				t.Errorf("%s: error %v, want %v", tc.name, err, tc.wantErr)
			}
			if !strings.Contains(err.Error(), tc.errText) || !strings.Contains(err.Error(), tc.path) {
				t.Errorf("%s: error %q should name %s and say %q", tc.name, err, tc.path, tc.errText)
			}
		}
	}
}

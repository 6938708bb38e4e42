package filematch

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/portcheck/portcheck/internal/textfile"
)

const nginxSite = `server {
    listen 9090;            # moved from 8080
    listen [::]:9090;
    server_name web.example;
    # listen 8080;
    location / { proxy_pass http://127.0.0.1:3000; }
}
`

func TestMatch(t *testing.T) {
	dir := t.TempDir()
	site := filepath.Join(dir, "web.conf")
	if err := os.WriteFile(site, []byte(nginxSite), 0o644); err != nil {
		t.Fatal(err)
	}
	sum := sha256.Sum256([]byte(nginxSite))
	for _, tc := range []struct {
		name      string
		pattern   string
		opts      Options
		matched   bool
		lines     []int
		matches   int
		truncated bool
	}{
		{"new port, two lines", `listen\s+(\[::\]:)?9090;`, Options{}, true, []int{2, 3}, 2, false},
		{"anchored per line, comment excluded", `^\s*listen 8080;`, Options{}, false, []int{}, 0, false},
		{"commented line matches when asked", `^\s*#\s*listen 8080;`, Options{}, true, []int{5}, 1, false},
		{"several matches on one line count once", `9090`, Options{}, true, []int{2, 3}, 2, false},
		{"line numbers capped", `\S`, Options{MaxLines: 3}, true, []int{1, 2, 3}, 7, true},
		{"a pattern across lines", `9090;\n\s+server_name`, Options{}, true, []int{3}, 1, false},
		{"end of line anchors (line 2 ends in a comment)", `;$`, Options{}, true, []int{3, 4, 5}, 3, false},
		{"the end after the last newline is no line", `^$`, Options{}, false, []int{}, 0, false},
	} {
		f, err := Match(context.Background(), site, tc.pattern, tc.opts)
		if err != nil {
			t.Errorf("%s: %v", tc.name, err)
			continue
		}
		want := &Facts{Path: site, Size: int64(len(nginxSite)), SHA256: hex.EncodeToString(sum[:]), ModTime: f.ModTime,
			Pattern: tc.pattern, Matched: tc.matched, Matches: tc.matches, Lines: tc.lines, Truncated: tc.truncated}
		if d := cmp.Diff(want, f); d != "" {
			t.Errorf("%s (-want +got):\n%s", tc.name, d)
		}
		if f.ModTime.IsZero() || f.Holds(tc.matched) != true || f.Holds(!tc.matched) {
			t.Errorf("%s: mod time %v, Holds wrong", tc.name, f.ModTime)
		}
	}
}

func TestEvidence(t *testing.T) {
	f := &Facts{Path: "/etc/app.conf", Size: 120, SHA256: strings.Repeat("ab", 32), Pattern: "port=9090", Matched: true, Matches: 5, Lines: []int{3, 9}, Truncated: true}
	if got, want := f.Evidence(), `/etc/app.conf (120 bytes, sha256 abababababab…) matches "port=9090" on lines 3, 9 and 3 more`; got != want {
		t.Errorf("%q\nwant %q", got, want)
	}
	f = &Facts{Path: "/etc/app.conf", Size: 120, SHA256: strings.Repeat("ab", 32), Pattern: "port=9090", Lines: []int{}}
	if got, want := f.Evidence(), `/etc/app.conf (120 bytes, sha256 abababababab…) has no match for "port=9090"`; got != want {
		t.Errorf("%q\nwant %q", got, want)
	}
}

func TestRefusals(t *testing.T) {
	dir := t.TempDir()
	huge := filepath.Join(dir, "huge.log")
	if err := os.WriteFile(huge, bytes.Repeat([]byte("listen 9090;\n"), 100), 0o644); err != nil {
		t.Fatal(err)
	}
	bin := filepath.Join(dir, "app.bin")
	if err := os.WriteFile(bin, []byte("\x7fELF\x02\x01\x01\x00listen 9090"), 0o644); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name, path, pattern string
		opts                Options
		is                  error
		text                string
	}{
		{"huge", huge, "9090", Options{MaxSize: 1000}, textfile.ErrTooLarge, "1300 bytes, the limit is 1000"},
		{"binary", bin, "9090", Options{}, textfile.ErrBinary, "NUL byte"},
		{"missing", filepath.Join(dir, "nope.conf"), "9090", Options{}, os.ErrNotExist, "nope.conf"},
		{"bad pattern", huge, "listen (9090", Options{}, nil, `pattern "listen (9090": error parsing regexp`},
	} {
		_, err := Match(context.Background(), tc.path, tc.pattern, tc.opts)
		if err == nil || (tc.is != nil && !errors.Is(err, tc.is)) || !strings.Contains(err.Error(), tc.text) {
			t.Errorf("%s: error %v, want %v containing %q", tc.name, err, tc.is, tc.text)
		}
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, err := Match(ctx, huge, "9090", Options{}); !errors.Is(err, context.Canceled) {
		t.Errorf("cancelled context: %v", err)
	}
}

// Any file content and pattern gives facts or an error, never a panic;
// line numbers are real lines in increasing order.
func FuzzMatch(f *testing.F) {
	f.Add([]byte(nginxSite), `listen\s+9090;`)
	f.Add([]byte(""), `^$`)
	f.Add([]byte("a\nb\n"), `$`)
	dir := f.TempDir()
	f.Fuzz(func(t *testing.T, data []byte, pattern string) {
		p := filepath.Join(dir, "f")
		if err := os.WriteFile(p, data, 0o644); err != nil {
			t.Fatal(err)
		}
		facts, err := Match(context.Background(), p, pattern, Options{MaxLines: 5})
		if err != nil {
			return
		}
		lines := strings.Count(string(data), "\n") + 1
		prev := 0
		for _, l := range facts.Lines {
			if l <= prev || l > lines {
				t.Fatalf("lines %v of a %d-line file", facts.Lines, lines)
			}
			prev = l
		}
		if facts.Matched != (facts.Matches > 0) || len(facts.Lines) > 5 || facts.Truncated != (facts.Matches > len(facts.Lines)) {
			t.Fatalf("inconsistent facts %+v", facts)
		}
	})
}

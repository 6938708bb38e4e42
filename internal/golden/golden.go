// Package golden compares test output with files under testdata/; run a
// test with -update to rewrite them.
package golden

import (
	"flag"
	"os"
	"testing"

	"github.com/google/go-cmp/cmp"
)

var update = flag.Bool("update", false, "rewrite golden files")

// Compare fails t when got differs from the golden file, or rewrites the
// file under -update.
func Compare(t *testing.T, path string, got []byte) {
	t.Helper()
	CompareNormalized(t, path, got, func(b []byte) string { return string(b) })
}

// CompareNormalized is Compare for output with parts that change from run
// to run (timestamps): both sides go through norm before comparing, and
// -update writes got as it is.
func CompareNormalized(t *testing.T, path string, got []byte, norm func([]byte) string) {
	t.Helper()
	if *update {
		if err := os.WriteFile(path, got, 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (run with -update to create it)", err)
	}
	if diff := cmp.Diff(norm(want), norm(got)); diff != "" {
		t.Errorf("%s mismatch (-want +got):\n%s", path, diff)
	}
}

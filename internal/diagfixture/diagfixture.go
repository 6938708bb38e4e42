// Package diagfixture checks configuration error fixtures: HCL files whose
// offending lines carry the diagnostic they must get as a comment,
// `# ERROR: Summary` (or WARNING). Every diagnostic must land on a line
// whose comment names its summary, and every such comment must get its
// diagnostic, so a fixture fails when an error is lost, added or moves.
package diagfixture

import (
	"bufio"
	"bytes"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/hashicorp/hcl/v2"
)

// Diag is one expected or actual diagnostic of a fixture.
type Diag struct {
	Line     int
	Severity string // "ERROR" or "WARNING"
	Summary  string
}

func (d Diag) String() string { return fmt.Sprintf("%d: %s: %s", d.Line, d.Severity, d.Summary) }

var comment = regexp.MustCompile(`(ERROR|WARNING): ([^#]+)`)

// Expected reads the `# ERROR: Summary` comments of a fixture; a line may
// carry several.
func Expected(src []byte) []Diag {
	var out []Diag
	sc := bufio.NewScanner(bytes.NewReader(src))
	for line := 1; sc.Scan(); line++ {
		_, c, ok := strings.Cut(sc.Text(), "#")
		if !ok {
			continue
		}
		for _, m := range comment.FindAllStringSubmatch(c, -1) {
			out = append(out, Diag{line, m[1], strings.TrimSpace(m[2])})
		}
	}
	return out
}

// Run checks each fixture matching glob (at least one must) in its own
// subtest: load returns the diagnostics of the fixture at path.
func Run(t *testing.T, glob string, load func(t *testing.T, path string) hcl.Diagnostics) {
	t.Helper()
	names, err := filepath.Glob(glob)
	if err != nil || len(names) == 0 {
		t.Fatalf("no fixtures match %s: %v", glob, err)
	}
	for _, name := range names {
		t.Run(filepath.Base(name), func(t *testing.T) {
			src, err := os.ReadFile(name)
			if err != nil {
				t.Fatal(err)
			}
			want := Expected(src)
			if len(want) == 0 {
				t.Fatal("fixture has no ERROR comments")
			}
			diags := load(t, name)
			var got []Diag
			for _, d := range diags {
				if d.Subject == nil {
					t.Errorf("diagnostic without a subject: %s: %s", d.Summary, d.Detail)
					continue
				}
				if d.Subject.Filename != name {
					t.Errorf("diagnostic in %s, want %s: %s", d.Subject.Filename, name, d.Summary)
				}
				sev := "ERROR"
				if d.Severity == hcl.DiagWarning {
					sev = "WARNING"
				}
				got = append(got, Diag{d.Subject.Start.Line, sev, d.Summary})
			}
			sortDiags(want)
			sortDiags(got)
			if diff := cmp.Diff(want, got); diff != "" {
				t.Errorf("diagnostics (-want +got):\n%s\n%s", diff, diags.Error())
			}
		})
	}
}

func sortDiags(ds []Diag) {
	sort.Slice(ds, func(i, j int) bool { return ds[i].String() < ds[j].String() })
}

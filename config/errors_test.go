package config

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

// fixtureDiag is one expected or actual diagnostic of an error fixture.
type fixtureDiag struct {
	Line     int
	Severity string
	Summary  string
}

func (d fixtureDiag) String() string { return fmt.Sprintf("%d: %s: %s", d.Line, d.Severity, d.Summary) }

var expectComment = regexp.MustCompile(`(ERROR|WARNING): ([^#]+)`)

// expectedDiags reads the `# ERROR: Summary` (or WARNING) comments of a
// fixture; a line may carry several.
func expectedDiags(t *testing.T, src []byte) []fixtureDiag {
	t.Helper()
	var out []fixtureDiag
	sc := bufio.NewScanner(bytes.NewReader(src))
	for line := 1; sc.Scan(); line++ {
		_, comment, ok := strings.Cut(sc.Text(), "#")
		if !ok {
			continue
		}
		for _, m := range expectComment.FindAllStringSubmatch(comment, -1) {
			out = append(out, fixtureDiag{line, m[1], strings.TrimSpace(m[2])})
		}
	}
	return out
}

func sortDiags(ds []fixtureDiag) {
	sort.Slice(ds, func(i, j int) bool { return ds[i].String() < ds[j].String() })
}

// TestErrorFixtures loads each testdata/errors fixture and checks that
// every diagnostic lands on a line whose comment names its summary, and
// that every such comment got its diagnostic.
func TestErrorFixtures(t *testing.T) {
	names, err := filepath.Glob("testdata/errors/*.pc.hcl")
	if err != nil || len(names) == 0 {
		t.Fatalf("no fixtures: %v", err)
	}
	for _, name := range names {
		t.Run(filepath.Base(name), func(t *testing.T) {
			src, err := os.ReadFile(name)
			if err != nil {
				t.Fatal(err)
			}
			want := expectedDiags(t, src)
			if len(want) == 0 {
				t.Fatal("fixture has no ERROR comments")
			}
			cfg, diags := Load(name, Options{})
			if cfg == nil {
				t.Fatal("nil Config")
			}
			var got []fixtureDiag
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
				got = append(got, fixtureDiag{d.Subject.Start.Line, sev, d.Summary})
			}
			sortDiags(want)
			sortDiags(got)
			if diff := cmp.Diff(want, got); diff != "" {
				t.Errorf("diagnostics (-want +got):\n%s\n%s", diff, diagText(cfg, diags))
			}
		})
	}
}

// TestJSONErrors covers the JSON syntax, which cannot carry comments.
func TestJSONErrors(t *testing.T) {
	tests := []struct {
		name string
		src  string
		want []fixtureDiag
	}{
		{"malformed", `{"host": {"web": {"address": "10.0.0.5",}}}`,
			[]fixtureDiag{{1, "ERROR", "Trailing comma in object"}}},
		{"root not an object", `"host"`,
			[]fixtureDiag{{1, "ERROR", "Root value must be object"}}},
		{"host not a traversal", `{
"host": {"web": {"address": "10.0.0.5"}},
"endpoint": {"web": {"host": 5, "port": 80}}
}`, []fixtureDiag{{3, "ERROR", "Invalid host reference"}}},
		{"undeclared host", `{
"host": {"web": {"address": "10.0.0.5"}},
"endpoint": {"web": {"host": "host.wbe", "port": 80}}
}`, []fixtureDiag{{3, "ERROR", "Reference to undeclared host"}}},
		{"unknown property", `{
"host": {"web": {"address": "10.0.0.5", "adress": "x"}}
}`, []fixtureDiag{{2, "ERROR", "Extraneous JSON object property"}}},
		{"bad interpolation", `{
"host": {"web": {"address": "${var.nope}"}}
}`, []fixtureDiag{{2, "ERROR", "Reference to undeclared input variable"}}},
		{"from not hosts", `{
"host": {"web": {"address": "10.0.0.5"}},
"endpoint": {"web": {"host": "host.web", "port": 80,
  "from": ["host.web", "web"]}}
}`, []fixtureDiag{{4, "ERROR", "Invalid host reference"}}},
		{"bad type expression", `{
"variable": {"x": {"type": "lisst(string)"}}
}`, []fixtureDiag{{2, "ERROR", "Invalid type specification"}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cfg, diags := LoadSources(map[string][]byte{"e.pc.json": []byte(tt.src)}, Options{})
			var got []fixtureDiag
			for _, d := range diags {
				if d.Subject == nil {
					t.Errorf("diagnostic without a subject: %s", d.Summary)
					continue
				}
				sev := "ERROR"
				if d.Severity == hcl.DiagWarning {
					sev = "WARNING"
				}
				got = append(got, fixtureDiag{d.Subject.Start.Line, sev, d.Summary})
			}
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("diagnostics (-want +got):\n%s\n%s", diff, diagText(cfg, diags))
			}
		})
	}
}

package runner

import (
	"go/parser"
	"go/token"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
)

// The runner sees a host's packet filter through the firewall package's
// model (firewall.View), never through a backend: adding a firewall
// backend must not touch the runner.
func TestRunnerImportsNoFirewallBackend(t *testing.T) {
	files, err := filepath.Glob("*.go")
	if err != nil {
		t.Fatal(err)
	}
	const model = "github.com/portcheck/portcheck/providers/firewall"
	checked := 0
	for _, f := range files {
		if strings.HasSuffix(f, "_test.go") {
			continue
		}
		af, err := parser.ParseFile(token.NewFileSet(), f, nil, parser.ImportsOnly)
		if err != nil {
			t.Fatal(err)
		}
		checked++
		for _, imp := range af.Imports {
			path, _ := strconv.Unquote(imp.Path.Value)
			if strings.HasPrefix(path, model+"/") {
				t.Errorf("%s imports %s: the runner must see the firewall through %s (View)", f, path, model)
			}
		}
	}
	if checked == 0 {
		t.Fatal("no runner source files found")
	}
}

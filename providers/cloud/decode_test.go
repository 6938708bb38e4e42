package cloud_test

import (
	"context"
	"strings"
	"testing"

	"github.com/hashicorp/hcl/v2"

	"github.com/portcheck/portcheck/config"
	"github.com/portcheck/portcheck/internal/diagfixture"
	"github.com/portcheck/portcheck/runner"
)

// A provider type no backend serves is a configuration error at its label
// (exit 2 in every command), whatever backends are linked in.
func TestDecodeUnknownType(t *testing.T) {
	diagfixture.Run(t, "testdata/errors/*.pc.hcl", func(t *testing.T, path string) hcl.Diagnostics {
		cfg, diags := config.Load(path, config.Options{})
		if diags.HasErrors() {
			t.Fatalf("config refused the fixture: %s", diags.Error())
		}
		return runner.DecodeProviders(cfg)
	})
}

// A caller that skips DecodeProviders still never gets another cloud's
// semantics: the plan marks the check an error, reading and auditing
// fail with the diagnostic.
func TestUnknownTypeNeverFallsBack(t *testing.T) {
	cfg, diags := config.Load("testdata/errors/unknown.pc.hcl", config.Options{})
	if diags.HasErrors() {
		t.Fatal(diags.Error())
	}
	plan, err := runner.BuildPlan(cfg, runner.PlanOptions{Env: runner.Environment{GOOS: "linux"}})
	if err != nil {
		t.Fatal(err)
	}
	var l6 int
	for _, e := range plan.Endpoints {
		for _, c := range e.Checks {
			if c.Layer != 6 {
				continue
			}
			l6++
			if !strings.Contains(c.Error, `Provider "gcp" is not supported`) {
				t.Errorf("L6 check from %s: error %q, want the unknown type", c.From, c.Error)
			}
		}
	}
	if l6 == 0 {
		t.Fatal("no L6 check planned")
	}
	if _, err := runner.ReadCloud(context.Background(), cfg.Providers[0], []string{"10.0.0.5"}, nil, false); err == nil || !strings.Contains(err.Error(), "Unknown cloud provider") {
		t.Errorf("ReadCloud: %v, want the unknown type", err)
	}
	rep := runner.Audit(context.Background(), cfg, runner.AuditOptions{})
	if rep.Summary.Errors != 1 || !strings.Contains(rep.Scopes[0].Error, "Unknown cloud provider") || rep.ExitCode() != 1 {
		t.Errorf("audit: %+v %+v, want one error naming the unknown type", rep.Summary, rep.Scopes[0])
	}
}

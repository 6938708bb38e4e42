package runner_test

import (
	"bytes"
	"net/netip"
	"path/filepath"
	"strings"
	"testing"

	"github.com/portcheck/portcheck/config"
	"github.com/portcheck/portcheck/internal/golden"
	"github.com/portcheck/portcheck/runner"
	"github.com/portcheck/portcheck/runner/report"
)

// pinnedEnv makes plans independent of the machine the test runs on.
var pinnedEnv = runner.Environment{
	GOOS:       "linux",
	LocalAddrs: []netip.Addr{netip.MustParseAddr("127.0.0.1"), netip.MustParseAddr("::1")},
}

func TestPlanGolden(t *testing.T) {
	fixtures, _ := filepath.Glob("testdata/plan/*.pc.hcl")
	if len(fixtures) == 0 {
		t.Fatal("no plan fixtures")
	}
	for _, f := range fixtures {
		t.Run(filepath.Base(f), func(t *testing.T) {
			cfg, diags := config.Load(f, config.Options{})
			if diags.HasErrors() {
				t.Fatalf("config: %v", diags)
			}
			plan, err := runner.BuildPlan(cfg, runner.PlanOptions{Env: pinnedEnv})
			if err != nil {
				t.Fatal(err)
			}
			var buf bytes.Buffer
			report.WritePlan(&buf, plan, report.Style{})
			goldenPath := strings.TrimSuffix(f, ".pc.hcl") + ".plan.txt"
			golden.Compare(t, goldenPath, buf.Bytes())
		})
	}
}

func TestPlanTarget(t *testing.T) {
	cfg, diags := config.Load("testdata/plan/mixed.pc.hcl", config.Options{})
	if diags.HasErrors() {
		t.Fatal(diags)
	}
	plan, err := runner.BuildPlan(cfg, runner.PlanOptions{Env: pinnedEnv, Targets: []string{"endpoint.redis"}})
	if err != nil {
		t.Fatal(err)
	}
	if len(plan.Endpoints) != 1 || plan.Endpoints[0].Endpoint.Name != "redis" {
		t.Fatalf("-target endpoint.redis planned %d endpoints", len(plan.Endpoints))
	}
	for _, bad := range []string{"endpoint.nope", "redis", "host.web"} {
		if _, err := runner.BuildPlan(cfg, runner.PlanOptions{Env: pinnedEnv, Targets: []string{bad}}); err == nil {
			t.Errorf("-target %s: no error", bad)
		}
	}
}

func TestPlanLimitsCrossProduct(t *testing.T) {
	src := `
host "h" {
  addresses = ["127.0.0.1", "::1"]
}
endpoint "wide" {
  host = host.h
  port = "1-1024"
  expect {
    http {}
    tls {}
    grpc {}
    banner {}
    connectivity {}
  }
}
`
	cfg, diags := config.LoadSources(map[string][]byte{"wide.pc.hcl": []byte(src)}, config.Options{})
	if diags.HasErrors() {
		t.Fatal(diags)
	}
	if _, err := runner.BuildPlan(cfg, runner.PlanOptions{Env: pinnedEnv}); err == nil || !strings.Contains(err.Error(), "wide.pc.hcl") {
		t.Fatalf("want a limit error citing the file, got %v", err)
	}
}

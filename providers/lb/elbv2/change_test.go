package elbv2_test

import (
	"context"
	"fmt"
	"strings"
	"testing"

	"github.com/portcheck/portcheck/config"
	"github.com/portcheck/portcheck/providers/lb/elbv2"
	"github.com/portcheck/portcheck/runner"
)

// TestChangeLoadBalancerStep: a change's load_balancer step read through
// the real SDK against the local ELBv2 Query API. 10.0.1.5 is healthy on
// 9090 in web-9090 and draining on 8080 in web-8080: done when draining
// counts as gone, and the old target a leftover when it does not;
// 10.0.1.6 is unhealthy on 9090: not done.
func TestChangeLoadBalancerStep(t *testing.T) {
	url, region, arns := elbv2.StartFakeMove(t)
	change := func(name, target string, draining bool) string {
		return fmt.Sprintf(`
change %q {
  endpoint     = endpoint.web
  from_port    = 8080
  to_port      = 9090
  window_start = "2026-12-03T22:00:00Z"
  ticket       = "CHG-14"

  app_config {
    skip = "judged in runner's TestChangeMoveLab"
  }
  firewall {
    skip = "judged in runner's TestChangeMoveLab"
  }
  selinux {
    skip = "no SELinux"
  }
  cloud {
    skip = "judged in providers/cloud/aws's TestChangeCloudStep"
  }
  load_balancer {
    type           = "elbv2"
    region         = %q
    endpoint       = %q
    pools          = [%q, %q, %q]
    targets        = [%q]
    allow_draining = %v
  }
  dns {
    skip = "judged in runner's TestChangeMoveLab"
  }
  monitoring {
    skip = "judged in runner's TestChangeMoveLab"
  }
  document {
    skip = "a test"
  }
  rollback {
    skip = "judged in runner's TestChangeMoveLab"
  }
}
`, name, region, url, arns[0], arns[1], arns[2], target, draining)
	}
	src := `
host "web" {
  address = "10.0.1.5"
  local   = false
}

endpoint "web" {
  host = host.web
  port = 9090
}
` + change("draining_counts", "10.0.1.5", true) + change("draining_is_leftover", "10.0.1.5", false) + change("unhealthy", "10.0.1.6", true)
	cfg, diags := config.LoadSources(map[string][]byte{"change.pc.hcl": []byte(src)}, config.Options{})
	if diags.HasErrors() {
		t.Fatal(diags)
	}
	rs := runner.VerifyChanges(context.Background(), cfg.Changes, runner.PhasePost, runner.ChangeOptions{Env: runner.Environment{GOOS: "linux"}})
	tests := map[string]struct {
		status  runner.StepStatus
		newOK   bool
		oldOK   bool
		command string
	}{
		"draining_counts":      {runner.StepDone, true, true, ""},
		"draining_is_leftover": {runner.StepNotDone, true, false, "aws elbv2 deregister-targets --target-group-arn " + arns[1] + " --targets Id=10.0.1.5,Port=8080"},
		"unhealthy":            {runner.StepNotDone, false, true, "aws elbv2 register-targets --target-group-arn " + arns[2] + " --targets Id=10.0.1.6,Port=9090"},
	}
	for _, r := range rs {
		tt := tests[r.Change.Name]
		var st *runner.StepResult
		for _, s := range r.Steps {
			if s.Step.Name == config.StepLoadBalancer {
				st = s
			}
		}
		for _, c := range st.Checks {
			t.Logf("%s: %s %s: %s | %v", r.Change.Name, c.Status, c.What, c.Summary, c.Commands)
		}
		if st.Status != tt.status || len(st.Checks) != 2 {
			t.Errorf("%s: %s with %d checks (%s), want %s with 2", r.Change.Name, st.Status, len(st.Checks), st.Summary, tt.status)
			continue
		}
		if got := st.Checks[0].Status == runner.StatusPass; got != tt.newOK {
			t.Errorf("%s: new backend check passes %v, want %v", r.Change.Name, got, tt.newOK)
		}
		if got := st.Checks[1].Status == runner.StatusPass; got != tt.oldOK {
			t.Errorf("%s: old backend check passes %v, want %v", r.Change.Name, got, tt.oldOK)
		}
		if tt.command != "" && !strings.Contains(strings.Join(st.Commands(), "\n"), tt.command) {
			t.Errorf("%s: commands %q lack %q", r.Change.Name, st.Commands(), tt.command)
		}
	}
}

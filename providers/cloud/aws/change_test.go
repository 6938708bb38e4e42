package aws_test

import (
	"context"
	"fmt"
	"strings"
	"testing"

	"github.com/portcheck/portcheck/config"
	"github.com/portcheck/portcheck/providers/cloud"
	"github.com/portcheck/portcheck/providers/cloud/aws"
	"github.com/portcheck/portcheck/runner"
)

// TestChangeCloudStep: a change's cloud step judged through the real SDK
// against the local EC2 Query API (the region of e2e_test.go: sg-web
// allows 443 from anywhere and 8080-8081 from the office prefix list).
// Moving 8080 -> 443, the new port is allowed but the old port's rule is
// a leftover: the step is not done and names the allowing rule. Moving
// 8082 -> 443, no rule allows the old port any more: done.
func TestChangeCloudStep(t *testing.T) {
	url := aws.StartFakeEC2(t)
	step := func(name string, from int) string {
		return fmt.Sprintf(`
change %q {
  endpoint     = endpoint.web
  from_port    = %d
  to_port      = 443
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
    provider = provider.aws
    target   = "i-0web"
    sources  = ["192.0.2.9"]
  }
  load_balancer {
    skip = "judged in providers/lb/elbv2's TestChangeLoadBalancerStep"
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
`, name, from)
	}
	src := fmt.Sprintf(`
provider "aws" {
  region   = %q
  endpoint = %q
}

security_group "web" {
  provider = provider.aws
  id       = "sg-web"

  ingress {
    protocol    = "tcp"
    ports       = 443
    cidr_blocks = ["0.0.0.0/0"]
    description = "HTTPS"
  }
  ingress {
    protocol    = "tcp"
    ports       = 80
    cidr_blocks = ["::/0"]
  }
  ingress {
    protocol     = "tcp"
    ports        = "8080-8081"
    prefix_lists = ["pl-office"]
    description  = "office"
  }
}

host "web" {
  address = "10.0.1.10"
  local   = false
}

endpoint "web" {
  host = host.web
  port = 443
}
`, aws.FakeRegion, url) + step("leftover", 8080) + step("clean", 8082)
	cfg, diags := config.LoadSources(map[string][]byte{"change.pc.hcl": []byte(src)}, config.Options{})
	if diags.HasErrors() {
		t.Fatal(diags)
	}
	if diags := runner.DecodeProviders(cfg); diags.HasErrors() {
		t.Fatal(diags)
	}
	all := func(ctx context.Context, p *config.CloudProvider, _, groups []string, _ bool) (*cloud.Snapshot, error) {
		return runner.ReadCloud(ctx, p, nil, groups, true)
	}
	rs := runner.VerifyChanges(context.Background(), cfg.Changes, runner.PhasePost, runner.ChangeOptions{
		Env: runner.Environment{GOOS: "linux"}, Verify: runner.Options{CloudRead: all}})
	byName := map[string]*runner.StepResult{}
	for _, r := range rs {
		for _, s := range r.Steps {
			if s.Step.Name == config.StepCloud {
				byName[r.Change.Name] = s
				for _, c := range s.Checks {
					t.Logf("%s: %s %s: %s | %v", r.Change.Name, c.Status, c.What, c.Summary, c.Commands)
				}
			}
		}
	}
	left := byName["leftover"]
	if left == nil || left.Status != runner.StepNotDone {
		t.Fatalf("leftover: %+v, want not_done", left)
	}
	if c := left.Checks[0]; c.Status != runner.StatusPass || !strings.Contains(c.What, "new port 443/tcp") {
		t.Errorf("leftover: new port check %s %q: %s", c.Status, c.What, c.Summary)
	}
	if c := left.Checks[1]; c.Status != runner.StatusFail || !strings.Contains(c.Summary, "still there") || !strings.Contains(c.Summary, "sgr-web-office") {
		t.Errorf("leftover: old port check %s %q: %s, want the office rule named", c.Status, c.What, c.Summary)
	}
	clean := byName["clean"]
	if clean == nil || clean.Status != runner.StepDone {
		t.Fatalf("clean: %+v, want done", clean)
	}
	// Before the window, 8080 is allowed: the pre phase holds for the
	// first change and not for the second, whose old port never was open.
	pre := runner.VerifyChanges(context.Background(), cfg.Changes, runner.PhasePre, runner.ChangeOptions{
		Env: runner.Environment{GOOS: "linux"}, Verify: runner.Options{CloudRead: all}})
	if !pre[0].Complete() || pre[1].Complete() {
		t.Errorf("pre: leftover complete %v (want true), clean complete %v (want false)", pre[0].Complete(), pre[1].Complete())
	}
	if o := pre[1].FirstOpen(); o == nil || o.Step.Name != config.StepCloud || !strings.Contains(strings.Join(o.Commands(), "\n"), "aws ec2 authorize-security-group-ingress --group-id sg-web --protocol tcp --port 8082") {
		t.Errorf("pre: clean's first open step should be cloud with the authorize command for 8082: %+v", o)
	}
}

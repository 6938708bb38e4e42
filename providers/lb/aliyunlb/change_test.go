package aliyunlb_test

import (
	"context"
	"fmt"
	"strings"
	"testing"

	"github.com/portcheck/portcheck/config"
	"github.com/portcheck/portcheck/providers/lb/aliyunlb"
	"github.com/portcheck/portcheck/runner"
)

// TestChangeLoadBalancerStepSLB: a change's load_balancer step on an
// Alibaba Cloud SLB, read through the V2 SDK against the local OpenAPI
// server. web-1 is healthy on 9090, but its 8080 backend in web-8080 is
// still registered: the step is not done, and the command removes it from
// that group only.
func TestChangeLoadBalancerStepSLB(t *testing.T) {
	url, region, groups, web1 := aliyunlb.StartFakeSLB(t)
	src := fmt.Sprintf(`
host "web" {
  address = "172.16.1.10"
  local   = false
}

endpoint "web" {
  host = host.web
  port = 9090
}

change "slb_move" {
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
    type     = "slb"
    region   = %q
    endpoint = %q
    pools    = [%q, %q]
    targets  = [%q, "172.16.1.10"]
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
`, region, url, groups[0], groups[1], web1)
	cfg, diags := config.LoadSources(map[string][]byte{"change.pc.hcl": []byte(src)}, config.Options{})
	if diags.HasErrors() {
		t.Fatal(diags)
	}
	rs := runner.VerifyChanges(context.Background(), cfg.Changes, runner.PhasePost, runner.ChangeOptions{Env: runner.Environment{GOOS: "linux"}})
	st := rs[0].Steps[4]
	for _, c := range st.Checks {
		t.Logf("%s %s: %s | %v", c.Status, c.What, c.Summary, c.Commands)
	}
	if st.Status != runner.StepNotDone || len(st.Checks) != 2 || st.Checks[0].Status != runner.StatusPass || st.Checks[1].Status != runner.StatusFail {
		t.Fatalf("load_balancer: %s (%s), want not_done: new backend healthy, old one left over", st.Status, st.Summary)
	}
	want := fmt.Sprintf(`aliyun slb RemoveVServerGroupBackendServers --VServerGroupId %s --BackendServers '[{"ServerId":"%s","Port":"8080"}]'`, groups[1], web1)
	if got := strings.Join(st.Commands(), "\n"); got != want {
		t.Errorf("commands:\n%s\nwant:\n%s", got, want)
	}
}

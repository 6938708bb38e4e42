package runner_test

import (
	"context"
	"strings"
	"testing"

	"github.com/portcheck/portcheck/config"
	"github.com/portcheck/portcheck/providers"
	"github.com/portcheck/portcheck/providers/facts"
	"github.com/portcheck/portcheck/runner"
)

// TestChangeSeedCase2FromFacts: the seed's case 2 — nginx moved to 9090 on
// a host with SELinux enforcing, where 9090 is websm_port_t — as a change,
// judged from the recorded facts document of testdata/facts (collected
// from a lab, SELinux switched on as a RHEL machine reports it). Each open
// step says what is wrong and gives the host's command: the old port still
// listens, 9090 is dropped by the filter, and SELinux needs semanage -m.
func TestChangeSeedCase2FromFacts(t *testing.T) {
	src := `
host "selinux-web" {
  address = "10.102.68.2"
}

host "client" {
  address = "10.102.68.1"
}

endpoint "nginx" {
  host = host.selinux-web
  from = [host.client]
  port = 9090
}

change "nginx_to_9090" {
  endpoint     = endpoint.nginx
  from_port    = 8080
  to_port      = 9090
  window_start = "2026-12-03T22:00:00Z"
  ticket       = "CHG-2"

  app_config {}
  firewall {
    sources = ["10.102.68.1"]
  }
  selinux {
    type   = "http_port_t"
    domain = "httpd_t"
  }
  cloud {
    skip = "on premises"
  }
  load_balancer {
    skip = "clients connect directly"
  }
  dns {
    skip = "clients use the address"
  }
  monitoring {
    skip = "not monitored"
  }
  document {
    skip = "a test"
  }
  rollback {
    skip = "the document holds no backup"
  }
}
`
	cfg, diags := config.LoadSources(map[string][]byte{"case2.pc.hcl": []byte(src)}, config.Options{})
	if diags.HasErrors() {
		t.Fatal(diags)
	}
	docs, err := facts.Load("testdata/facts/selinux.json")
	if err != nil {
		t.Fatal(err)
	}
	rec := facts.Recorded(docs)
	env := runner.Environment{GOOS: "linux", Offline: true, Facts: func(h *config.Host) error {
		_, err := rec.For(h.Name, h.Addresses, providers.Exec{})
		return err
	}}
	rs := runner.VerifyChanges(context.Background(), cfg.Changes, runner.PhasePost, runner.ChangeOptions{Env: env, Verify: runner.Options{Observers: runner.Observers{Facts: rec}}})
	r := rs[0]
	for _, s := range r.Steps {
		for _, c := range s.Checks {
			t.Logf("%s: %s %s: %s | %v", s.Step.Name, c.Status, c.What, c.Summary, c.Commands)
		}
	}
	tests := []struct {
		step    config.StepName
		status  runner.StepStatus
		summary string
		command string
	}{
		// Both ports listen in the document: the old one is a leftover.
		{config.StepAppConfig, runner.StepNotDone, "old port 8080/tcp no longer listening: still there", "stop or reconfigure what still listens on port 8080"},
		{config.StepFirewall, runner.StepNotDone, "tcp/9090 from 10.102.68.1 is dropped by inet filter input handle 2", "nft insert rule inet filter input position 2 ip saddr 10.102.68.1/32 tcp dport 9090 accept"},
		{config.StepSELinux, runner.StepNotDone, "9090/tcp is websm_port_t, not http_port_t", "semanage port -m -t http_port_t -p tcp 9090"},
	}
	for _, tt := range tests {
		var s *runner.StepResult
		for _, x := range r.Steps {
			if x.Step.Name == tt.step {
				s = x
			}
		}
		if s.Status != tt.status || !strings.Contains(s.Summary, tt.summary) {
			t.Errorf("%s: %s %q, want %s with %q", tt.step, s.Status, s.Summary, tt.status, tt.summary)
		}
		if cmds := strings.Join(s.Commands(), "\n"); !strings.Contains(cmds, tt.command) {
			t.Errorf("%s: commands %q lack %q", tt.step, cmds, tt.command)
		}
	}
	// The old port meets only input's accept policy: no rule is left over.
	for _, c := range r.Steps[1].Checks {
		if strings.Contains(c.What, "old port 8080/tcp") && (c.Status != runner.StatusPass || !strings.Contains(c.Summary, "no rule for it is left")) {
			t.Errorf("old port check: %s %s, want pass: no rule left", c.Status, c.Summary)
		}
	}
	if o := r.FirstOpen(); o == nil || o.Step.Name != config.StepAppConfig {
		t.Errorf("first open step %v, want app_config", o)
	}
}

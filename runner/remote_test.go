package runner_test

import (
	"context"
	"errors"
	"net/netip"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/portcheck/portcheck/config"
	"github.com/portcheck/portcheck/providers"
	"github.com/portcheck/portcheck/providers/app"
	"github.com/portcheck/portcheck/providers/facts"
	"github.com/portcheck/portcheck/providers/probe"
	"github.com/portcheck/portcheck/runner"
)

func TestRemoteServersAndPlan(t *testing.T) {
	src := `
host "web" {
  address = "192.0.2.5"
  connection {
    user = "ops"
  }
}
host "db" {
  address = "192.0.2.6"
  netns   = "pg"
  connection {
    port = 2222
  }
}
host "here" {
  address = "127.0.0.1"
}
endpoint "web" {
  host = host.web
  port = 443
}
endpoint "db" {
  host = host.db
  port = 5432
  expect {
    selinux {
      type   = "postgresql_port_t"
      domain = "postgresql_t"
    }
  }
}
endpoint "local" {
  host = host.here
  port = 22
}
host "svc" {
  address = "10.9.9.9"
  netns   = "svc"
}
endpoint "from_web" {
  host = host.svc
  port = 22
  from = [host.web]
  expect {
    banner {
      match = "^SSH-"
    }
  }
}
`
	cfg, diags := config.LoadSources(map[string][]byte{"r.pc.hcl": []byte(src)}, config.Options{})
	if diags.HasErrors() {
		t.Fatal(diags)
	}
	plan, err := runner.BuildPlan(cfg, runner.PlanOptions{Env: runner.Environment{GOOS: "linux"}})
	if err != nil {
		t.Fatal(err)
	}
	type rs struct {
		Host      string
		Observers []string
		Domains   []string
	}
	var got []rs
	for _, s := range plan.RemoteServers() {
		got = append(got, rs{s.Host.Name, s.Observers, s.SELinuxDomains})
	}
	want := []rs{{"web", []string{"sockets", "firewall"}, nil}, {"db", []string{"sockets", "firewall", "selinux"}, []string{"postgresql_t"}}}
	if d := cmp.Diff(want, got); d != "" {
		t.Errorf("RemoteServers (-want +got):\n%s", d)
	}
	execs := map[string]string{}
	for _, e := range plan.Endpoints {
		execs[e.Name()] = e.Server.String()
		for _, c := range e.Checks {
			if c.Error != "" && e.Name() != "endpoint.from_web" {
				t.Errorf("%s %s: error %s", e.Name(), c.Name, c.Error)
			}
		}
	}
	if d := cmp.Diff(map[string]string{"endpoint.web": "ssh:ops@192.0.2.5:22", "endpoint.db": "ssh:root@192.0.2.6:2222 netns:pg", "endpoint.local": "local", "endpoint.from_web": "netns:svc"}, execs); d != "" {
		t.Errorf("server executors (-want +got):\n%s", d)
	}
	// From a vantage host with a connection: L4 and L7 run there (their
	// exec is remote), never from here instead;
	// L2 judges its packets by its declared address.
	for _, e := range plan.Endpoints {
		if e.Name() != "endpoint.from_web" {
			continue
		}
		for _, c := range e.Checks {
			if c.From != "web" {
				continue
			}
			switch c.Name {
			case "connectivity":
				if c.Error != "" || c.Exec.Remote != "ssh:ops@192.0.2.5:22" {
					t.Errorf("L4 from web: error %q exec %v", c.Error, c.Exec)
				}
			case "banner":
				if c.Error != "" || c.Exec.Remote != "ssh:ops@192.0.2.5:22" {
					t.Errorf("L7 from web: error %q exec %v (it runs there, through the prober stream)", c.Error, c.Exec)
				}
			case "firewall":
				if c.FromExec != nil || len(c.FromAddrs) != 1 {
					t.Errorf("L2 from web: FromExec %v FromAddrs %v", c.FromExec, c.FromAddrs)
				}
			}
		}
	}
	if vs := plan.RemoteVantages(); len(vs) != 1 || vs[0].Name != "web" {
		t.Errorf("RemoteVantages = %v", vs)
	}
}

// noFacts is a facts source that has none: the server-side checks are
// errors, which this test does not look at.
type noFacts struct{}

func (noFacts) For(string, []netip.Addr, providers.Exec) (facts.HostFacts, error) {
	return nil, errors.New("no facts in this test")
}
func (noFacts) Recorded() bool { return false }

// TestRemoteVantageWithoutRemote: a front end that gives verify no way to
// reach ssh hosts (Observers.Remote nil, as serve) turns the checks from
// such a vantage host into errors that say so; they never run from this
// machine in its place.
func TestRemoteVantageWithoutRemote(t *testing.T) {
	src := `
host "web" {
  address = "192.0.2.5"
  connection {
    user = "ops"
  }
}
host "svc" {
  address = "10.9.9.9"
  netns   = "svc"
}
endpoint "from_web" {
  host = host.svc
  port = 22
  from = [host.web]
  expect {
    banner {
      match = "^SSH-"
    }
  }
}
`
	cfg, diags := config.LoadSources(map[string][]byte{"r.pc.hcl": []byte(src)}, config.Options{})
	if diags.HasErrors() {
		t.Fatal(diags)
	}
	plan, err := runner.BuildPlan(cfg, runner.PlanOptions{Env: runner.Environment{GOOS: "linux"}})
	if err != nil {
		t.Fatal(err)
	}
	var local atomic.Int32
	obs := runner.Observers{
		Facts: noFacts{},
		Probe: func(context.Context, providers.Exec, providers.Target, probe.Params) (probe.Outcome, error) {
			local.Add(1)
			return probe.Outcome{State: probe.StateOpen}, nil
		},
		Banner: func(context.Context, providers.Exec, providers.Target, app.BannerParams) (*app.BannerFacts, error) {
			local.Add(1)
			return &app.BannerFacts{Banner: "SSH-2.0-x"}, nil
		},
	}
	var results []*runner.Result
	runner.Verify(t.Context(), plan, runner.Options{AllLayers: true, Observers: obs}, func(er *runner.EndpointResult) { results = append(results, er.Results...) })
	seen := map[string]bool{}
	for _, r := range results {
		if r.Check.From != "web" || (r.Check.Name != "connectivity" && r.Check.Name != "banner") {
			continue
		}
		seen[r.Check.Name] = true
		if r.Status != runner.StatusError || !strings.Contains(r.Summary, "does not run checks over ssh") {
			t.Errorf("%s from web: %s %q, want an error saying this command does not run checks over ssh", r.Check.Name, r.Status, r.Summary)
		}
	}
	if !seen["connectivity"] || !seen["banner"] {
		t.Errorf("checks from web: %v, want connectivity and banner", seen)
	}
	if n := local.Load(); n != 0 {
		t.Errorf("%d checks of the ssh vantage host ran from this machine instead", n)
	}
}

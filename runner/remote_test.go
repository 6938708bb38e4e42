package runner_test

import (
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/portcheck/portcheck/config"
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
endpoint "from_web" {
  host = host.here
  port = 22
  from = [host.web]
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
	if d := cmp.Diff(map[string]string{"endpoint.web": "ssh:ops@192.0.2.5:22", "endpoint.db": "ssh:root@192.0.2.6:2222 netns:pg", "endpoint.local": "local", "endpoint.from_web": "local"}, execs); d != "" {
		t.Errorf("server executors (-want +got):\n%s", d)
	}
	// Probes from a host with a connection are not in this version: an
	// error that says so, never a probe from here in its place.
	for _, e := range plan.Endpoints {
		if e.Name() != "endpoint.from_web" {
			continue
		}
		for _, c := range e.Checks {
			if c.From == "web" && c.Name == "connectivity" && (c.Error == "" || !strings.Contains(c.Error, "probes from a host with a connection block")) {
				t.Errorf("%s from web: error %q", c.Name, c.Error)
			}
		}
	}
}

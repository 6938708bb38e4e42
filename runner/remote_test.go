package runner_test

import (
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

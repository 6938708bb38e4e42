package main

import (
	"context"
	"encoding/json"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/portcheck/portcheck/internal/lab"
	"github.com/portcheck/portcheck/internal/netns"
	"github.com/portcheck/portcheck/providers/remote/sshconn"
)

// buildCollector builds portcheck-collector for this machine.
func buildCollector(t *testing.T) string {
	t.Helper()
	lab.Require(t, "go")
	out := filepath.Join(t.TempDir(), "portcheck-collector")
	cmd := exec.Command("go", "build", "-trimpath", "-ldflags=-s -w", "-o", out, "../portcheck-collector")
	cmd.Env = append(os.Environ(), "CGO_ENABLED=0")
	if msg, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, msg)
	}
	return out
}

// TestVerifyOverSSH: verify collects a host with a connection block over
// its sshd, another host whose sshd is down is an error with the reason
// (exit 1), the report names where the facts came from; remote clean
// removes the cached collector.
func TestVerifyOverSSH(t *testing.T) {
	lab.Require(t, "ip", "/usr/sbin/sshd")
	collectorBin := buildCollector(t)
	l := lab.New(t)
	client, server := l.Pair()
	down := l.Host("down")
	l.Link(client, down, "10.78.1")
	key := lab.NewSSHKey(t, "")
	sshd := server.StartSSHD(t, lab.SSHDOptions{Addr: server.Addr(), Authorized: []*lab.SSHKey{key}})
	kh := lab.WriteKnownHosts(t, sshd.KnownHostsLine())
	server.ListenTCP("tcp4", "0.0.0.0:8084")
	sshOptions = sshconn.Options{Dial: func(ctx context.Context, n, a string) (net.Conn, error) {
		return netns.DialContext(ctx, client.Path(), &net.Dialer{}, n, a)
	}}
	t.Cleanup(func() { sshOptions = sshconn.Options{} })

	dir := writeHCL(t, fmt.Sprintf(`
host "web" {
  address = %[1]q
  connection {
    private_key = %[2]q
    known_hosts = %[3]q
    timeout     = "2s"
  }
}
host "db" {
  address = "10.78.1.2"
  connection {
    private_key = %[2]q
    known_hosts = %[3]q
    timeout     = "2s"
  }
}
host "client" {
  address = %[4]q
  netns   = %[5]q
}
endpoint "web" {
  host = host.web
  from = [host.client]
  port = 8084
}
endpoint "from_web" {
  host = host.web
  from = [host.web]
  port = 8084
}
endpoint "db" {
  host    = host.db
  from    = [host.client]
  port    = 5432
  timeout = "300ms"
  retries = 0
}
`, server.Addr(), key.Path, kh, client.Addr(), client.Path()))

	code, out, errOut := runCmd(t, "plan", dir)
	if code != 0 || !strings.Contains(out, "ssh:root@"+sshd.HostPort()) {
		t.Errorf("plan: exit %d, want the ssh executor shown:\n%s%s", code, out, errOut)
	}

	code, out, errOut = runCmd(t, "verify", "-json", "-collector", collectorBin, dir)
	if code != 1 {
		t.Errorf("verify: exit %d, want 1 (host db unreachable)\n%s\n%s", code, out, errOut)
	}
	var rep struct {
		Endpoints []struct {
			Address   string `json:"address"`
			Diagnosis struct {
				Cause string `json:"cause"`
			} `json:"diagnosis"`
			Checks []struct {
				Layer    int    `json:"layer"`
				Status   string `json:"status"`
				Summary  string `json:"summary"`
				Facts    string `json:"facts"`
				Executor string `json:"executor"`
			} `json:"checks"`
		} `json:"endpoints"`
	}
	if err := json.Unmarshal([]byte(out), &rep); err != nil {
		t.Fatalf("json: %v\n%s", err, out)
	}
	for _, e := range rep.Endpoints {
		l1 := e.Checks[0]
		switch e.Address {
		case "endpoint.web":
			if e.Diagnosis.Cause != "ok" || l1.Status != "pass" || !strings.HasPrefix(l1.Facts, "ssh:root@"+sshd.HostPort()) {
				t.Errorf("web: cause %s, L1 %+v", e.Diagnosis.Cause, l1)
			}
		case "endpoint.from_web":
			// L4 from web ran on web (over ssh), not from here.
			var l4 string
			for _, c := range e.Checks {
				if c.Layer == 4 {
					l4 = c.Status + " " + c.Executor
				}
			}
			if e.Diagnosis.Cause != "ok" || l4 != "pass ssh:root@"+sshd.HostPort() {
				t.Errorf("from_web: cause %s, L4 %q", e.Diagnosis.Cause, l4)
			}
		case "endpoint.db":
			if l1.Layer != 1 || l1.Status != "error" || !strings.Contains(l1.Summary, "root@10.78.1.2:22") {
				t.Errorf("db L1: %+v, want an error naming the connection", l1)
			}
		}
	}

	// The collector is cached under the sessions' HOME; clean removes it.
	cached, _ := filepath.Glob(filepath.Join(sshd.Home, ".cache/portcheck/collector-*"))
	if len(cached) != 1 {
		t.Fatalf("cached collectors: %v", cached)
	}
	code, out, _ = runCmd(t, "remote", "clean", dir)
	if code != 1 || !strings.Contains(out, "host.web (ssh:root@"+sshd.HostPort()+"): removed 1 file(s)") || !strings.Contains(out, "host.db (ssh:root@10.78.1.2:22): error:") {
		t.Errorf("remote clean: exit %d\n%s", code, out)
	}
	if cached, _ := filepath.Glob(filepath.Join(sshd.Home, ".cache/portcheck/collector-*")); len(cached) != 0 {
		t.Errorf("after clean: %v", cached)
	}
	if code, _, errOut := runCmd(t, "remote"); code != 2 || !strings.Contains(errOut, "clean") {
		t.Errorf("remote without subcommand: exit %d %s", code, errOut)
	}
}

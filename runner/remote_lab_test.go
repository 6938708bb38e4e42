package runner_test

import (
	"context"
	"fmt"
	"net"
	"net/http"
	"os/exec"
	"regexp"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/portcheck/portcheck/config"
	"github.com/portcheck/portcheck/internal/lab"
	"github.com/portcheck/portcheck/internal/netns"
	"github.com/portcheck/portcheck/providers/facts"
	"github.com/portcheck/portcheck/providers/remote"
	"github.com/portcheck/portcheck/providers/remote/collector"
	"github.com/portcheck/portcheck/providers/remote/sshconn"
	"github.com/portcheck/portcheck/runner"
)

// remoteEndpoints are the scenarios judged both ways: a service not
// listening, one on 127.0.0.1 only, one behind an nft drop rule, one fine.
const remoteEndpoints = `
endpoint "down" {
  host    = host.server
  from    = [host.client]
  port    = 8081
  timeout = "300ms"
  retries = 0
}
endpoint "loopback" {
  host    = host.server
  from    = [host.client]
  port    = 8082
  timeout = "300ms"
  retries = 0
}
endpoint "dropped" {
  host    = host.server
  from    = [host.client]
  port    = 8083
  timeout = "300ms"
  retries = 0
}
endpoint "ok" {
  host    = host.server
  from    = [host.client]
  port    = 8084
}
`

func runVerify(t *testing.T, src string, obs func(*runner.Plan) runner.Observers) []*runner.EndpointResult {
	t.Helper()
	cfg, diags := config.LoadSources(map[string][]byte{"lab.pc.hcl": []byte(src)}, config.Options{})
	if diags.HasErrors() {
		t.Fatalf("config: %v\n%s", diags, src)
	}
	plan, err := runner.BuildPlan(cfg, runner.PlanOptions{Env: runner.CurrentEnvironment()})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(t.Context(), 60*time.Second)
	defer cancel()
	var out []*runner.EndpointResult
	runner.Verify(ctx, plan, runner.Options{AllLayers: true, Observers: obs(plan)}, func(er *runner.EndpointResult) { out = append(out, er) })
	return out
}

// buildingFinder finds no collector anywhere and builds one from this
// module with the Go toolchain, into a temporary cache.
func buildingFinder(t *testing.T) *collector.Finder {
	return &collector.Finder{CacheDir: t.TempDir(), Executable: func() (string, error) { return "/nonexistent/portcheck", nil }, Getenv: func(string) string { return "" }}
}

// vantageSource is the remote source of the plan's vantage hosts reached
// over ssh, dialling from the namespace from; closed when the test ends.
func vantageSource(t *testing.T, from *lab.Host, plan *runner.Plan) *remote.Source {
	s := remote.NewSource(nil, remote.Options{Finder: buildingFinder(t), Vantages: plan.RemoteVantages(), SSH: sshconn.Options{Dial: func(ctx context.Context, n, a string) (net.Conn, error) {
		return netns.DialContext(ctx, from.Path(), &net.Dialer{}, n, a)
	}}})
	t.Cleanup(s.Close)
	return s
}

// remoteObservers collects the plan's hosts with a connection block over
// ssh, dialling from the client namespace, as verify wires it.
func remoteObservers(t *testing.T, from *lab.Host, finder *collector.Finder, report func(remote.HostReport)) func(*runner.Plan) runner.Observers {
	return func(plan *runner.Plan) runner.Observers {
		var hosts []*config.Host
		observers, domains := map[string][]string{}, map[string][]string{}
		for _, s := range plan.RemoteServers() {
			hosts = append(hosts, s.Host)
			observers[s.Host.Name], domains[s.Host.Name] = s.Observers, s.SELinuxDomains
		}
		src := remote.NewSource(hosts, remote.Options{Finder: finder, Report: report, Observers: observers, SELinuxDomains: domains, SSH: sshconn.Options{Dial: func(ctx context.Context, n, a string) (net.Conn, error) {
			return netns.DialContext(ctx, from.Path(), &net.Dialer{}, n, a)
		}}})
		t.Cleanup(src.Close)
		return runner.Observers{Facts: remote.Compose(facts.Live(), src), Remote: src}
	}
}

// TestRemoteDiagnosisMatchesLocal: the same namespace diagnosed over ssh
// (its sshd, the collector uploaded there) and locally gives the same
// cause and layer on every check.
func TestRemoteDiagnosisMatchesLocal(t *testing.T) {
	lab.Require(t, "ip", "nft", "/usr/sbin/sshd", "go")
	l := lab.New(t)
	client, server := l.Pair()
	key := lab.NewSSHKey(t, "")
	sshd := server.StartSSHD(t, lab.SSHDOptions{Addr: server.Addr(), Authorized: []*lab.SSHKey{key}})
	kh := lab.WriteKnownHosts(t, sshd.KnownHostsLine())
	server.ListenTCP("tcp4", "127.0.0.1:8082")
	server.ListenTCP("tcp4", "0.0.0.0:8083")
	server.ListenTCP("tcp4", "0.0.0.0:8084")
	server.NFT(nftInput("tcp dport 8083 drop"))

	local := pairHosts(client, server) + remoteEndpoints
	overSSH := fmt.Sprintf(`
host "server" {
  address = %q
  connection {
    private_key = %q
    known_hosts = %q
    timeout     = "5s"
  }
}
host "client" {
  address = %q
  netns   = %q
}
`, server.Addr(), key.Path, kh, client.Addr(), client.Path()) + remoteEndpoints

	finder := buildingFinder(t)
	var reports []remote.HostReport
	want := runVerify(t, local, func(*runner.Plan) runner.Observers { return runner.Observers{} })
	got := runVerify(t, overSSH, remoteObservers(t, client, finder, func(r remote.HostReport) { reports = append(reports, r) }))
	if len(reports) != 1 || reports[0].Err != nil || reports[0].Uploaded == 0 {
		t.Errorf("collections: %+v, want one upload", reports)
	}
	wantCause := map[string]string{"endpoint.down": runner.CauseNotListening, "endpoint.loopback": runner.CauseLoopbackOnly, "endpoint.dropped": runner.CauseFirewallBlocked, "endpoint.ok": runner.CauseOK}
	byName := map[string]*runner.EndpointResult{}
	for _, er := range got {
		byName[er.Plan.Name()] = er
	}
	for _, w := range want {
		name := w.Plan.Name()
		g := byName[name]
		if g == nil {
			t.Errorf("%s: no result over ssh", name)
			continue
		}
		if w.Diagnosis.Cause != wantCause[name] {
			t.Errorf("%s: local diagnosis %s, want %s (the scenario is wrong)\n%s", name, w.Diagnosis.Cause, wantCause[name], dump(w))
		}
		if g.Diagnosis.Layer != w.Diagnosis.Layer || g.Diagnosis.Cause != w.Diagnosis.Cause {
			t.Errorf("%s: over ssh L%d %s (%s), locally L%d %s\n%s", name, g.Diagnosis.Layer, g.Diagnosis.Cause, g.Diagnosis.Summary, w.Diagnosis.Layer, w.Diagnosis.Cause, dump(g))
		}
		if len(g.Results) != len(w.Results) {
			t.Errorf("%s: %d checks over ssh, %d locally", name, len(g.Results), len(w.Results))
			continue
		}
		for i := range w.Results {
			a, b := w.Results[i], g.Results[i]
			if a.Status != b.Status || a.Cause != b.Cause {
				t.Errorf("%s L%d %s: locally %s/%s %q; over ssh %s/%s %q", name, int(a.Check.Layer), a.Check.Name, a.Status, a.Cause, a.Summary, b.Status, b.Cause, b.Summary)
			}
			if b.Check.From == "" && b.Status != runner.StatusSkip && !strings.HasPrefix(b.FactsOrigin, "ssh:root@"+sshd.HostPort()+" (collected ") {
				t.Errorf("%s L%d %s: facts origin %q, want ssh:root@%s", name, int(b.Check.Layer), b.Check.Name, b.FactsOrigin, sshd.HostPort())
			}
		}
	}
}

// TestRemoteDeadHostErrorsOthersJudged: one host's sshd is down and
// another's port never speaks SSH: their checks are errors with the
// reason, within the timeout; the healthy host is judged.
func TestRemoteDeadHostErrorsOthersJudged(t *testing.T) {
	lab.Require(t, "ip", "/usr/sbin/sshd", "go")
	l := lab.New(t)
	client, server := l.Pair()
	dead := l.Host("dead") // no sshd there at all
	silent := l.Host("silent")
	l.Link(client, dead, "10.77.1")
	l.Link(client, silent, "10.77.2")
	silent.ListenSilent(t, "10.77.2.2:22")
	key := lab.NewSSHKey(t, "")
	sshd := server.StartSSHD(t, lab.SSHDOptions{Addr: server.Addr(), Authorized: []*lab.SSHKey{key}})
	kh := lab.WriteKnownHosts(t, sshd.KnownHostsLine())
	server.ListenTCP("tcp4", "0.0.0.0:8084")
	conn := func(addr string) string {
		return fmt.Sprintf(`connection {
    host        = %q
    private_key = %q
    known_hosts = %q
    timeout     = "1s"
  }`, addr, key.Path, kh)
	}
	src := fmt.Sprintf(`
host "web" {
  address = %q
  %s
}
host "dead" {
  address = "10.77.1.2"
  %s
}
host "silent" {
  address = "10.77.2.2"
  %s
}
host "client" {
  address = %q
  netns   = %q
}
endpoint "web" {
  host = host.web
  from = [host.client]
  port = 8084
}
endpoint "dead" {
  host = host.dead
  from = [host.client]
  port = 8084
  timeout = "300ms"
  retries = 0
}
endpoint "silent" {
  host = host.silent
  from = [host.client]
  port = 8084
  timeout = "300ms"
  retries = 0
}
`, server.Addr(), conn(server.Addr().String()), conn("10.77.1.2"), conn("10.77.2.2"), client.Addr(), client.Path())
	finder := buildingFinder(t)
	// The collector is built before the clock starts: on a loaded machine
	// with a cold build cache the build alone can take longer than the bound.
	if _, err := finder.Find(t.Context(), collector.Platform{GOOS: "linux", GOARCH: runtime.GOARCH}); err != nil {
		t.Fatal(err)
	}
	start := time.Now()
	got := runVerify(t, src, remoteObservers(t, client, finder, nil))
	if took := time.Since(start); took > 30*time.Second {
		t.Errorf("the run took %v: a dead host stalled it", took)
	}
	byName := map[string]*runner.EndpointResult{}
	for _, er := range got {
		byName[er.Plan.Name()] = er
	}
	if er := byName["endpoint.web"]; er == nil || er.Diagnosis.Cause != runner.CauseOK {
		t.Errorf("web: %+v", er)
	}
	for name, want := range map[string]string{"endpoint.dead": "connection refused", "endpoint.silent": "no SSH handshake"} {
		er := byName[name]
		if er == nil {
			t.Errorf("%s: no result", name)
			continue
		}
		r := resultOf(er, "L1 listening")
		if r == nil || r.Status != runner.StatusError || !strings.Contains(r.Summary, want) {
			t.Errorf("%s L1: %+v, want an error saying %q\n%s", name, r, want, dump(er))
		}
	}
}

// TestRemoteWithoutFirewallTools: a remote with neither nft nor iptables
// on its PATH gives L2 an error naming why, L1 is still judged.
func TestRemoteWithoutFirewallTools(t *testing.T) {
	lab.Require(t, "ip", "/usr/sbin/sshd", "go")
	l := lab.New(t)
	client, server := l.Pair()
	key := lab.NewSSHKey(t, "")
	tools := lab.ToolDir(t, "sh", "cat", "uname", "sha256sum", "mkdir", "mv", "chmod", "rm", "rmdir")
	sshd := server.StartSSHD(t, lab.SSHDOptions{Addr: server.Addr(), Authorized: []*lab.SSHKey{key}, Path: tools})
	kh := lab.WriteKnownHosts(t, sshd.KnownHostsLine())
	server.ListenTCP("tcp4", "0.0.0.0:8084")
	src := fmt.Sprintf(`
host "web" {
  address = %q
  connection {
    private_key = %q
    known_hosts = %q
  }
}
host "client" {
  address = %q
  netns   = %q
}
endpoint "web" {
  host = host.web
  from = [host.client]
  port = 8084
  expect {
    firewall {}
  }
}
`, server.Addr(), key.Path, kh, client.Addr(), client.Path())
	finder := buildingFinder(t)
	got := runVerify(t, src, remoteObservers(t, client, finder, nil))
	if len(got) != 1 {
		t.Fatalf("%d results", len(got))
	}
	er := got[0]
	if r := resultOf(er, "L1 listening"); r == nil || r.Status != runner.StatusPass {
		t.Errorf("L1: %+v\n%s", r, dump(er))
	}
	if r := resultOf(er, "L2 firewall"); r == nil || r.Status != runner.StatusError || !strings.Contains(r.Summary, "firewall observer failed") || !strings.Contains(r.Summary, "not installed") {
		t.Errorf("L2: %+v, want an error saying the tools are missing\n%s", r, dump(er))
	}
}

// TestRemoteVantageProbes: "reachable from the bastion, not from the
// office": L4 from a vantage host reached over ssh runs on that host (the
// collector's probe command), L4 from the client runs here; the target is
// reachable only from the bastion.
func TestRemoteVantageProbes(t *testing.T) {
	lab.Require(t, "ip", "/usr/sbin/sshd", "go")
	l := lab.New(t)
	b := l.BastionTopology()
	key := lab.NewSSHKey(t, "")
	jump := b.Jump.StartSSHD(t, lab.SSHDOptions{Addr: b.JumpAddr, Authorized: []*lab.SSHKey{key}})
	kh := lab.WriteKnownHosts(t, jump.KnownHostsLine())
	b.Target.ListenTCP("tcp4", "0.0.0.0:8080")
	web := b.Target.Listener("tcp4", "0.0.0.0:8090")
	go http.Serve(web, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		fmt.Fprintf(w, "ok from %s\n", r.Host)
	}))
	src := fmt.Sprintf(`
host "bastion" {
  address = %q
  connection {
    private_key = %q
    known_hosts = %q
  }
}
host "office" {
  address = %q
  netns   = %q
}
host "target" {
  address = %q
  netns   = %q
}
endpoint "app" {
  host    = host.target
  port    = 8080
  from    = [host.bastion, host.office]
  timeout = "300ms"
  retries = 0
}
endpoint "closed" {
  host    = host.target
  port    = 8081
  from    = [host.bastion]
}
# L7 and L5 from the bastion run there too, through the same prober.
endpoint "web" {
  host    = host.target
  port    = 8090
  from    = [host.bastion]
  expect {
    http {
      path   = "/healthz"
      status = [200]
      body   = "^ok from "
    }
    path {
      rounds  = 2
      timeout = "1s"
    }
  }
}
# More probes at once than sshd's MaxSessions (10) allows sessions: one
# prober stream carries them all.
endpoint "many" {
  host    = host.target
  port    = "9000-9039"
  from    = [host.bastion]
  state   = "closed"
}
`, b.JumpAddr, key.Path, kh, b.Client.Addrs[0], b.Client.Path(), b.TargetAddr, b.Target.Path())
	got := runVerify(t, src, func(plan *runner.Plan) runner.Observers {
		s := vantageSource(t, b.Client, plan)
		return runner.Observers{Facts: remote.Compose(facts.Live(), s), Remote: s}
	})
	states := map[string]string{}
	many := 0
	for _, er := range got {
		for _, r := range er.Results {
			if r.Check.Layer == 4 && er.Plan.Name() == "endpoint.many" {
				if r.Status != "pass" || !strings.Contains(r.Summary, "refused") {
					t.Errorf("endpoint.many L4 %s from %s: %s %s", r.Check.Target, r.Check.From, r.Status, r.Summary)
				}
				many++
				continue
			}
			if r.Check.Layer == 4 {
				states[er.Plan.Name()+" from "+r.Check.From] = string(r.Status) + " " + r.Summary
			}
		}
	}
	for k, want := range map[string]string{
		"endpoint.app from bastion":    "pass",
		"endpoint.app from office":     "fail",
		"endpoint.closed from bastion": "fail",
	} {
		if !strings.HasPrefix(states[k], want+" ") {
			t.Errorf("L4 %s: %q, want %s", k, states[k], want)
		}
	}
	for _, er := range got {
		if er.Plan.Name() != "endpoint.web" {
			continue
		}
		layers := map[int]bool{}
		for _, r := range er.Results {
			if r.Check.Layer == 5 || r.Check.Layer == 7 {
				layers[int(r.Check.Layer)] = true
				if r.Status != "pass" {
					t.Errorf("endpoint.web L%d %s from the bastion: %s %s", r.Check.Layer, r.Check.Name, r.Status, r.Summary)
				}
			}
		}
		if !layers[5] || !layers[7] {
			t.Errorf("endpoint.web: L5 and L7 from the bastion were not both checked: %v", layers)
		}
	}
	if many != 40 {
		t.Errorf("endpoint.many: %d L4 results from the bastion, want 40", many)
	}
	if !strings.Contains(states["endpoint.closed from bastion"], "refused") {
		t.Errorf("from the bastion the closed port is refused (an RST seen there): %q", states["endpoint.closed from bastion"])
	}
}

// TestRemoteCancel: Ctrl-C (the run's context ending) while probes from a
// vantage host reached over ssh wait on a silent port: Verify returns at
// once with the run marked interrupted, and once the source is closed the
// prober on that host is gone.
func TestRemoteCancel(t *testing.T) {
	lab.Require(t, "ip", "/usr/sbin/sshd", "go", "nft", "pgrep")
	l := lab.New(t)
	b := l.BastionTopology()
	key := lab.NewSSHKey(t, "")
	jump := b.Jump.StartSSHD(t, lab.SSHDOptions{Addr: b.JumpAddr, Authorized: []*lab.SSHKey{key}})
	kh := lab.WriteKnownHosts(t, jump.KnownHostsLine())
	b.Target.NFT("table inet t {\n  chain input {\n    type filter hook input priority 0; policy accept;\n    tcp dport 7000-7009 drop\n  }\n}\n")
	src := fmt.Sprintf(`
host "bastion" {
  address = %q
  connection {
    private_key = %q
    known_hosts = %q
  }
}
host "target" {
  address = %q
  netns   = %q
}
endpoint "silent" {
  host    = host.target
  port    = "7000-7009"
  from    = [host.bastion]
  timeout = "60s"
}
`, b.JumpAddr, key.Path, kh, b.TargetAddr, b.Target.Path())
	cfg, diags := config.LoadSources(map[string][]byte{"lab.pc.hcl": []byte(src)}, config.Options{})
	if diags.HasErrors() {
		t.Fatal(diags)
	}
	plan, err := runner.BuildPlan(cfg, runner.PlanOptions{Env: runner.CurrentEnvironment()})
	if err != nil {
		t.Fatal(err)
	}
	s := vantageSource(t, b.Client, plan)
	// This test's prober only: other packages' tests run probers too.
	prober := regexp.QuoteMeta(jump.Home) + "/.*collector-.* probe -stdio"
	ctx, cancel := context.WithCancel(t.Context())
	// Cancel once the prober runs there (its probes then wait 60 s).
	cancelled := make(chan time.Time, 1)
	go func() {
		for ctx.Err() == nil {
			if exec.Command("pgrep", "-f", prober).Run() == nil {
				time.Sleep(500 * time.Millisecond)
				cancelled <- time.Now()
				cancel()
				return
			}
			time.Sleep(100 * time.Millisecond)
		}
	}()
	sum := runner.Verify(ctx, plan, runner.Options{AllLayers: true, Observers: runner.Observers{Facts: remote.Compose(facts.Live(), s), Remote: s}}, func(*runner.EndpointResult) {})
	ended := time.Now()
	cancel()
	var took time.Duration
	select {
	case at := <-cancelled:
		took = ended.Sub(at)
	default:
		t.Fatalf("the run ended before the prober was seen on the bastion: %+v", sum)
	}
	if !sum.Interrupted {
		t.Errorf("a cancelled run is not marked interrupted: %+v", sum)
	}
	if took > 5*time.Second {
		t.Errorf("Verify returned %v after the cancel; it should stop at once", took)
	}
	s.Close()
	deadline := time.Now().Add(10 * time.Second)
	for exec.Command("pgrep", "-f", prober).Run() == nil {
		if time.Now().After(deadline) {
			out, _ := exec.Command("pgrep", "-af", prober).CombinedOutput()
			t.Fatalf("the prober still runs on the bastion 10 s after the source closed:\n%s", out)
		}
		time.Sleep(100 * time.Millisecond)
	}
	t.Logf("the run returned %v after the cancel", took)
}

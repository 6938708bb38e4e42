package runner_test

import (
	"context"
	"fmt"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/portcheck/portcheck/config"
	"github.com/portcheck/portcheck/internal/fwbackup"
	"github.com/portcheck/portcheck/internal/lab"
	"github.com/portcheck/portcheck/internal/netns"
	"github.com/portcheck/portcheck/runner"
	"github.com/portcheck/portcheck/runner/report"
)

// changeLab is a service moving from 8080 to 9090 on a lab server
// namespace, with everything the checklist touches: a real listener
// (this test process, serving /metrics), a real nftables filter, an
// HAProxy configuration naming the backend, Debian's dnsmasq answering
// the service's SRV record and Debian's prometheus scraping it through a
// file_sd file. The lab applies the change one step at a time.
type changeLab struct {
	t              *testing.T
	client, server *lab.Host
	dir            string
	comm           string
	listeners      map[int]*http.Server
	dnsmasq        *lab.Server
	window         time.Time
	src            string
}

func (cl *changeLab) serve(port int) {
	t := cl.t
	ln, err := netns.Listen(cl.server.Path(), "tcp", net.JoinHostPort(cl.server.Addr().String(), fmt.Sprint(port)))
	if err != nil {
		t.Fatal(err)
	}
	srv := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		fmt.Fprint(w, "# TYPE lab_up gauge\nlab_up 1\n")
	})}
	go srv.Serve(ln)
	t.Cleanup(func() { srv.Close() })
	cl.listeners[port] = srv
}

func (cl *changeLab) stop(port int) {
	cl.listeners[port].Close()
	delete(cl.listeners, port)
}

// nft loads the server's filter: policy drop, the lab's own services
// (DNS, Prometheus) open, and the given service ports open to the client.
func (cl *changeLab) nft(ports ...int) {
	cl.server.Exec("nft", "flush", "ruleset")
	var rules []string
	for _, p := range ports {
		rules = append(rules, fmt.Sprintf("ip saddr %s tcp dport %d accept", cl.client.Addr(), p))
	}
	cl.server.NFT(fmt.Sprintf(`table inet filter {
  chain input {
    type filter hook input priority 0; policy drop;
    ct state established,related accept
    iif "lo" accept
    udp dport 53 accept
    tcp dport { 53, 9099 } accept
    %s
  }
}
`, strings.Join(rules, "\n    ")))
}

func (cl *changeLab) write(name, text string) string {
	p := filepath.Join(cl.dir, name)
	if err := os.WriteFile(p+".tmp", []byte(text), 0o644); err != nil {
		cl.t.Fatal(err)
	}
	if err := os.Rename(p+".tmp", p); err != nil { // prometheus watches the file: replace it whole
		cl.t.Fatal(err)
	}
	return p
}

func (cl *changeLab) haproxy(ports ...int) {
	var lines []string
	for i, p := range ports {
		lines = append(lines, fmt.Sprintf("    server web%d %s:%d check", i, cl.server.Addr(), p))
	}
	cl.write("haproxy.cfg", "defaults\n    mode http\n    timeout connect 1s\n    timeout client 5s\n    timeout server 5s\n\nbackend web\n"+strings.Join(lines, "\n")+"\n")
}

func (cl *changeLab) fileSD(port int) {
	cl.write("targets.json", fmt.Sprintf(`[{"targets": ["%s:%d"]}]`, cl.server.Addr(), port))
}

func (cl *changeLab) dns(port int) {
	if cl.dnsmasq != nil {
		cl.dnsmasq.Stop()
	}
	cl.dnsmasq = cl.server.StartDnsmasq(cl.t, cl.server.Addr(),
		fmt.Sprintf("--host-record=web.lab,%s", cl.server.Addr()),
		fmt.Sprintf("--srv-host=_http._tcp.web.lab,web.lab,%d", port))
}

// judge loads the configuration (with extra files such as attestations)
// and judges the change in phase.
func (cl *changeLab) judge(phase runner.Phase, extra string) *runner.ChangeResult {
	t := cl.t
	t.Helper()
	files := map[string][]byte{filepath.Join(cl.dir, "change.pc.hcl"): []byte(cl.src)}
	if extra != "" {
		files[filepath.Join(cl.dir, "attestations.pc.hcl")] = []byte(extra)
	}
	cfg, diags := config.LoadSources(files, config.Options{})
	if diags.HasErrors() {
		t.Fatalf("config: %v", diags)
	}
	rs := runner.VerifyChanges(context.Background(), cfg.Changes, phase, runner.ChangeOptions{Env: runner.CurrentEnvironment()})
	var b strings.Builder
	report.WriteChangeText(&b, rs, report.Style{}, true)
	t.Logf("%s phase:\n%s", phase, b.String())
	return rs[0]
}

func newChangeLab(t *testing.T) *changeLab {
	lab.Require(t, "ip", "nft", "dnsmasq", "prometheus")
	l := lab.New(t)
	client, server := l.Pair()
	comm, err := os.ReadFile("/proc/self/comm")
	if err != nil {
		t.Fatal(err)
	}
	cl := &changeLab{t: t, client: client, server: server, dir: t.TempDir(), comm: strings.TrimSpace(string(comm)), listeners: map[int]*http.Server{}}

	// Before the window: the service on 8080 everywhere.
	cl.serve(8080)
	cl.nft(8080)
	cl.haproxy(8080)
	cl.fileSD(8080)
	cl.dns(8080)
	cl.write("web.conf", "server {\n    listen 8080;\n}\n")
	prom := net.JoinHostPort(server.Addr().String(), "9099")
	server.StartPrometheus(t, prom, fmt.Sprintf(`global:
  scrape_interval: 1s
  scrape_timeout: 500ms
scrape_configs:
  - job_name: web
    file_sd_configs:
      - files: [%q]
        refresh_interval: 1s
`, filepath.Join(cl.dir, "targets.json")))

	// The backup the rollback step needs, taken before the window starts.
	backups := filepath.Join(cl.dir, "backups")
	if err := os.Mkdir(backups, 0o755); err != nil {
		t.Fatal(err)
	}
	if _, err := fwbackup.Create(context.Background(), fwbackup.Options{Netns: server.Path(), FirewalldDir: filepath.Join(cl.dir, "no-firewalld")}, backups); err != nil {
		t.Fatal(err)
	}
	cl.window = time.Now().UTC().Truncate(time.Second).Add(2 * time.Second)

	cl.src = pairHosts(client, server) + fmt.Sprintf(`
endpoint "web" {
  host = host.server
  port = 9090
  from = [host.client]
}

change "web_to_9090" {
  endpoint     = endpoint.web
  from_port    = 8080
  to_port      = 9090
  window_start = %q
  ticket       = "CHG-14"

  app_config {
    process      = %q
    config_file  = "web.conf"
    config_match = "listen\\s+9090;"
  }
  firewall {
    sources = [%q]
  }
  selinux {
    skip = "SELinux is off in the lab"
  }
  cloud {
    skip = "the lab is not in a cloud (TestChangeCloudStep judges a security group through the EC2 API)"
  }
  load_balancer {
    type  = "haproxy"
    file  = "haproxy.cfg"
    pools = ["web"]
  }
  dns {
    resolver = %q
    from     = host.client
    name     = "web.lab"
    srv      = "_http._tcp.web.lab"
  }
  monitoring {
    prometheus = "http://%s"
    from       = host.client
    jobs       = ["web"]
  }
  document {}
  rollback {
    backup_dir = "backups"
  }
}
`, cl.window.Format(time.RFC3339), cl.comm, client.Addr(), server.Addr(), prom)
	time.Sleep(time.Until(cl.window))
	return cl
}

// stepOf returns the step result of a name.
func stepOf(t *testing.T, r *runner.ChangeResult, n config.StepName) *runner.StepResult {
	t.Helper()
	for _, s := range r.Steps {
		if s.Step.Name == n {
			return s
		}
	}
	t.Fatalf("no step %s", n)
	return nil
}

// wantFirstOpen checks the first open step and that its commands hold
// every fragment.
func wantFirstOpen(t *testing.T, r *runner.ChangeResult, n config.StepName, fragments ...string) {
	t.Helper()
	o := r.FirstOpen()
	if o == nil {
		t.Fatalf("first open step: none, want %s", n)
	}
	if o.Step.Name != n {
		t.Fatalf("first open step: %s (%s: %s), want %s", o.Step.Name, o.Status, o.Summary, n)
	}
	cmds := strings.Join(o.Commands(), "\n")
	for _, f := range fragments {
		if !strings.Contains(cmds, f) {
			t.Errorf("commands of %s lack %q:\n%s", n, f, cmds)
		}
	}
}

// wantCheck checks that a step has a check whose What holds what, with
// the status.
func wantCheck(t *testing.T, s *runner.StepResult, what string, st runner.Status) {
	t.Helper()
	for _, c := range s.Checks {
		if strings.Contains(c.What, what) {
			if c.Status != st {
				t.Errorf("%s: check %q is %s (%s), want %s", s.Step.Name, c.What, c.Status, c.Summary, st)
			}
			return
		}
	}
	t.Errorf("%s: no check %q", s.Step.Name, what)
}

// eventually judges until the step is done or 30 s pass (Prometheus
// rereads a file_sd file and scrapes on its own schedule).
func (cl *changeLab) eventually(n config.StepName) *runner.ChangeResult {
	cl.t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for {
		r := cl.judge(runner.PhasePost, "")
		if s := stepOf(cl.t, r, n); s.Status == runner.StepDone || time.Now().After(deadline) {
			return r
		}
		time.Sleep(time.Second)
	}
}

// TestChangeMoveLab moves the service from 8080 to 9090 step by step: the
// pre phase holds before anything changes; in the post phase each step
// not done is the first open one with its command, turns done once the
// lab applies it, and old-port leftovers (the firewall rule, the
// balancer's server line, the SRV record) keep it open.
func TestChangeMoveLab(t *testing.T) {
	cl := newChangeLab(t)

	// Pre: the old port serves, the new one is free, the backup exists.
	// Prometheus needs a scrape or two before the old target is up.
	deadline := time.Now().Add(30 * time.Second)
	var pre *runner.ChangeResult
	for {
		pre = cl.judge(runner.PhasePre, "")
		if pre.Complete() || time.Now().After(deadline) {
			break
		}
		time.Sleep(time.Second)
	}
	if o := pre.FirstOpen(); o != nil {
		t.Fatalf("pre phase not complete: %s %s: %s", o.Step.Name, o.Status, o.Summary)
	}
	if s := stepOf(t, pre, config.StepDocument); s.Status != runner.StepNotInPhase {
		t.Errorf("pre: document is %s, want not_in_phase", s.Status)
	}

	// Post, before anything moved: app config is the first open step.
	r := cl.judge(runner.PhasePost, "")
	wantFirstOpen(t, r, config.StepAppConfig, "9090")
	if got := report.ChangeExitCode([]*runner.ChangeResult{r}); got != 1 {
		t.Errorf("exit code %d while steps are open, want 1", got)
	}

	// 1. The service moves: the new listener, the old one stopped, its
	// configuration file says so.
	cl.serve(9090)
	r = cl.judge(runner.PhasePost, "")
	wantCheck(t, stepOf(t, r, config.StepAppConfig), "new port 9090/tcp listening", runner.StatusPass)
	wantCheck(t, stepOf(t, r, config.StepAppConfig), "old port 8080/tcp no longer listening", runner.StatusFail) // leftover
	wantFirstOpen(t, r, config.StepAppConfig)
	cl.stop(8080)
	cl.write("web.conf", "server {\n    listen 9090;\n}\n")
	r = cl.judge(runner.PhasePost, "")
	if s := stepOf(t, r, config.StepAppConfig); s.Status != runner.StepDone {
		t.Fatalf("app_config: %s: %s", s.Status, s.Summary)
	}

	// 2. Firewall: the first open step names the nft command that opens
	// 9090 to the client on this host.
	wantFirstOpen(t, r, config.StepFirewall, "nft", "9090")
	cl.nft(8080, 9090)
	r = cl.judge(runner.PhasePost, "")
	fw := stepOf(t, r, config.StepFirewall)
	wantCheck(t, fw, "new port 9090/tcp accepted", runner.StatusPass)
	wantCheck(t, fw, "old port 8080/tcp no longer accepted", runner.StatusFail) // the old rule is a leftover
	wantFirstOpen(t, r, config.StepFirewall, "8080")
	cl.nft(9090)
	r = cl.judge(runner.PhasePost, "")
	if s := stepOf(t, r, config.StepFirewall); s.Status != runner.StepDone {
		t.Fatalf("firewall: %s: %s", s.Status, s.Summary)
	}
	for _, n := range []config.StepName{config.StepSELinux, config.StepCloud} {
		if s := stepOf(t, r, n); s.Status != runner.StepSkipped {
			t.Errorf("%s: %s, want skipped", n, s.Status)
		}
	}

	// 5. Load balancer: the new server line first, the old one left over.
	wantFirstOpen(t, r, config.StepLoadBalancer, "9090", "haproxy -c")
	cl.haproxy(8080, 9090)
	r = cl.judge(runner.PhasePost, "")
	wantCheck(t, stepOf(t, r, config.StepLoadBalancer), "new backend", runner.StatusPass)
	wantCheck(t, stepOf(t, r, config.StepLoadBalancer), "old backend", runner.StatusFail)
	wantFirstOpen(t, r, config.StepLoadBalancer, "8080")
	cl.haproxy(9090)
	r = cl.judge(runner.PhasePost, "")

	// 6. DNS: the SRV record still carries 8080.
	wantFirstOpen(t, r, config.StepDNS, "9090")
	cl.dns(9090)
	r = cl.judge(runner.PhasePost, "")

	// 7. Monitoring: Prometheus still scrapes the old target.
	wantFirstOpen(t, r, config.StepMonitoring, "9090")
	cl.fileSD(9090)
	r = cl.eventually(config.StepMonitoring)

	// 8. Document: only a person's attestation, made after the window
	// start, counts; one from before it does not.
	wantFirstOpen(t, r, config.StepDocument)
	before := cl.window.Add(-time.Hour).Format(time.RFC3339)
	r = cl.judge(runner.PhasePost, fmt.Sprintf(`attestation "web_to_9090" "document" {
  by = "alice"
  at = %q
}
`, before))
	if s := stepOf(t, r, config.StepDocument); s.Status != runner.StepNotDone || s.Rejected == "" {
		t.Errorf("document attested before the window: %s (%q), want not_done with the reason", s.Status, s.Rejected)
	}
	r = cl.judge(runner.PhasePost, fmt.Sprintf(`attestation "web_to_9090" "document" {
  by   = "alice"
  at   = %q
  note = "record filed"
}
`, cl.window.Add(time.Second).Format(time.RFC3339)))
	if o := r.FirstOpen(); o != nil {
		t.Fatalf("post phase not complete: %s %s: %s", o.Step.Name, o.Status, o.Summary)
	}
	if got := report.ChangeExitCode([]*runner.ChangeResult{r}); got != 0 {
		t.Errorf("exit code %d with every step done, want 0", got)
	}

	// 9. Rollback: the backup's restore passed its dry run, and the
	// rollback commands of the verified steps are listed: the firewall's
	// from the layer's own fix for the state before the window.
	rb := stepOf(t, r, config.StepRollback)
	all := ""
	for _, c := range rb.Checks {
		all += c.What + ": " + strings.Join(c.Commands, " | ") + "\n"
	}
	for _, want := range []string{"portcheck restore -netns " + cl.server.Path(), "rollback commands for firewall", "8080"} {
		if !strings.Contains(all, want) {
			t.Errorf("rollback lacks %q:\n%s", want, all)
		}
	}

	// The change record names every step, the attestation and commands.
	var md strings.Builder
	report.WriteChangeMarkdown(&md, []*runner.ChangeResult{r})
	for _, want := range []string{"# Change record: web_to_9090", "By **alice**", "| 9 | rollback | done |", "CHG-14"} {
		if !strings.Contains(md.String(), want) {
			t.Errorf("change record lacks %q:\n%s", want, md.String())
		}
	}
}

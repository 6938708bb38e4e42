package probe

import (
	"context"
	"fmt"
	"os/exec"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/portcheck/portcheck/internal/lab"
	"github.com/portcheck/portcheck/providers"
)

// These lab tests run the scheduler against real kernels in namespaces:
// the adaptive wait must never turn an answer into "filtered".

type adaptiveLab struct {
	client, server *lab.Host
	exec           providers.Exec
}

func newAdaptiveLab(t *testing.T) adaptiveLab {
	t.Helper()
	l := lab.New(t)
	lab.Require(t, "nft")
	client, server := l.Pair()
	return adaptiveLab{client: client, server: server, exec: providers.Exec{Netns: client.Path()}}
}

// listen opens listeners on ports [from, to].
func (a adaptiveLab) listen(from, to int) {
	for p := from; p <= to; p++ {
		a.server.ListenTCP("tcp4", fmt.Sprintf("0.0.0.0:%d", p))
	}
}

// probeAll probes ports [from, to] at once through s and returns the
// outcomes by port and how long the whole batch took.
func (a adaptiveLab) probeAll(t *testing.T, s *Scheduler, from, to int, p Params) (map[int]Outcome, time.Duration) {
	t.Helper()
	out := map[int]Outcome{}
	var mu sync.Mutex
	var wg sync.WaitGroup
	start := time.Now()
	for port := from; port <= to; port++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			o, err := s.Probe(context.Background(), a.exec, providers.Target{Address: a.server.Addr(), Port: port, Protocol: "tcp"}, p)
			if err != nil {
				t.Errorf("port %d: %v", port, err)
			}
			mu.Lock()
			out[port] = o
			mu.Unlock()
		}()
	}
	wg.Wait()
	return out, time.Since(start)
}

// TestAdaptiveHostStopsAnswering: a host answered, then drops everything.
// Its silent ports are decided on the adaptive wait (a fraction of the
// declared 2 s × 2 attempts), say so in the evidence, and are still
// filtered, not anything else.
func TestAdaptiveHostStopsAnswering(t *testing.T) {
	a := newAdaptiveLab(t)
	a.listen(30000, 30019)
	s := NewScheduler(0)
	p := Params{Timeout: 2 * time.Second, Retries: 1}
	warm, _ := a.probeAll(t, s, 30000, 30019, p)
	for port, o := range warm {
		if o.State != StateOpen {
			t.Fatalf("warm-up: port %d is %s (%s), want open", port, o.State, o.Detail)
		}
	}
	a.server.NFT("table inet stop {\n  chain input {\n    type filter hook input priority 0; policy drop;\n  }\n}\n")
	got, took := a.probeAll(t, s, 30000, 30099, p)
	for port, o := range got {
		if o.State != StateFiltered {
			t.Errorf("port %d: %s (%s), want filtered", port, o.State, o.Detail)
			continue
		}
		if o.Timing == nil || !o.Timing.Adaptive || o.Timing.Assumption == "" || !strings.Contains(o.Detail, "assuming") {
			t.Errorf("port %d: a verdict on the adaptive wait must say so and state its assumption: %s (timing %+v)", port, o.Detail, o.Timing)
		}
	}
	// Before: 100 ports × 2 attempts × 2 s, 10 at a time = 40 s.
	if took > 10*time.Second {
		t.Errorf("100 silent ports took %v; the adaptive wait should decide them in about a second", took)
	}
	t.Logf("100 ports of a host that stopped answering: %v", took)
}

// TestAdaptiveHostDropsEverything: a host that never answered gives no
// round trip to adapt to, so each verdict rests on the declared timeout
// (and claims nothing more), but the window still lets its ports be
// probed side by side.
func TestAdaptiveHostDropsEverything(t *testing.T) {
	a := newAdaptiveLab(t)
	a.listen(30000, 30009)
	a.server.NFT("table inet stop {\n  chain input {\n    type filter hook input priority 0; policy drop;\n  }\n}\n")
	s := NewScheduler(0)
	p := Params{Timeout: 300 * time.Millisecond, Retries: 1}
	got, took := a.probeAll(t, s, 30000, 30099, p)
	for port, o := range got {
		if o.State != StateFiltered || o.Attempts != 2 {
			t.Errorf("port %d: %s after %d attempts (%s), want filtered after 2", port, o.State, o.Attempts, o.Detail)
		}
		if o.Timing == nil || o.Timing.Adaptive || o.Timing.Assumption != "" || o.Timing.Samples != 0 {
			t.Errorf("port %d: no answer was ever seen, so nothing is adaptive: %+v", port, o.Timing)
		}
		if want := "no answer to 2 SYNs within 300ms each"; o.Detail != want {
			t.Errorf("port %d: detail %q, want %q", port, o.Detail, want)
		}
	}
	// Ten at a time, as before, would take 100/10 × 0.6 s = 6 s.
	if took > 4*time.Second {
		t.Errorf("100 ports of a silent host took %v; the window should have grown", took)
	}
	t.Logf("100 ports of a host that drops everything: %v", took)
}

// TestAdaptiveRateLimitedRSTs: the server's own output chain lets only a
// few RSTs a second out. Closed ports then stay silent to most probes;
// the scheduler must see the loss (a retry answered), stop trusting short
// silence on that host and slow down, so that no closed port is called
// filtered and no open one either.
func TestAdaptiveRateLimitedRSTs(t *testing.T) {
	a := newAdaptiveLab(t)
	a.listen(31000, 31029) // 31030..31059: closed, answered by a rate-limited RST
	a.server.NFT("table inet rl {\n  chain output {\n    type filter hook output priority 0; policy accept;\n    tcp flags & rst == rst limit rate over 20/second burst 5 packets drop\n  }\n}\n")
	s := NewScheduler(0)
	p := Params{Timeout: 2 * time.Second, Retries: 1}
	got, took := a.probeAll(t, s, 31000, 31059, p)
	for port, o := range got {
		want := StateOpen
		if port >= 31030 {
			want = StateRefused
		}
		if o.State != want {
			t.Errorf("port %d: %s (%s), want %s", port, o.State, o.Detail, want)
		}
	}
	_, _, lossy, _ := s.Timing(a.exec, a.server.Addr())
	if !lossy {
		t.Errorf("the host dropped RSTs but the scheduler saw no loss")
	}
	t.Logf("60 ports behind an RST rate limit: %v", took)
}

// TestAdaptiveDelayedPath: 50 ms of delay on the server's link (netem).
// The estimate follows the path, open ports stay open and dropped ones
// filtered. The kernel must have sch_netem; without it the test skips
// (a kernel feature, not a package CI could install).
func TestAdaptiveDelayedPath(t *testing.T) {
	a := newAdaptiveLab(t)
	lab.Require(t, "tc")
	dev := veth(t, a.server)
	if out, err := exec.Command("ip", "netns", "exec", a.server.NS, "tc", "qdisc", "add", "dev", dev, "root", "netem", "delay", "50ms").CombinedOutput(); err != nil {
		t.Skipf("the kernel has no sch_netem (tc qdisc add … netem delay 50ms: %v: %s)", err, strings.TrimSpace(string(out)))
	}
	a.listen(32000, 32029)
	a.server.NFT("table inet d {\n  chain input {\n    type filter hook input priority 0; policy accept;\n    tcp dport 32020-32029 drop\n  }\n}\n")
	s := NewScheduler(0)
	got, _ := a.probeAll(t, s, 32000, 32029, Params{Timeout: 2 * time.Second, Retries: 1})
	for port, o := range got {
		want := StateOpen
		if port >= 32020 {
			want = StateFiltered
		}
		if o.State != want {
			t.Errorf("port %d: %s (%s), want %s", port, o.State, o.Detail, want)
		}
	}
	est, _, _, _ := s.Timing(a.exec, a.server.Addr())
	if est.SRTT < 50*time.Millisecond {
		t.Errorf("SRTT %v on a path with 50 ms of delay", est.SRTT)
	}
}

// TestAdaptiveSlowLink: without netem, a slow link makes the delay: an
// HTB class of 16 kbit/s on the server's side holds each answer ~40 ms
// and queues them behind each other, so round trips grow while the probes
// run. Open ports must still be open, closed ones refused and dropped
// ones filtered.
func TestAdaptiveSlowLink(t *testing.T) {
	a := newAdaptiveLab(t)
	lab.Require(t, "tc")
	dev := veth(t, a.server)
	if out, err := exec.Command("ip", "netns", "exec", a.server.NS, "tc", "qdisc", "add", "dev", dev, "root", "handle", "1:", "htb", "default", "1").CombinedOutput(); err != nil {
		t.Skipf("the kernel has no sch_htb (%v: %s)", err, strings.TrimSpace(string(out)))
	}
	a.server.Exec("tc", "class", "add", "dev", dev, "parent", "1:", "classid", "1:1", "htb", "rate", "16kbit", "burst", "100")
	a.listen(33000, 33019) // 33020..33029 closed
	a.server.NFT("table inet d {\n  chain input {\n    type filter hook input priority 0; policy accept;\n    tcp dport 33015-33019 drop\n  }\n}\n")
	s := NewScheduler(0)
	got, took := a.probeAll(t, s, 33000, 33029, Params{Timeout: 2 * time.Second, Retries: 1})
	for port, o := range got {
		want := StateOpen
		switch {
		case port >= 33020:
			want = StateRefused
		case port >= 33015:
			want = StateFiltered
		}
		if o.State != want {
			t.Errorf("port %d: %s (%s), want %s", port, o.State, o.Detail, want)
		}
	}
	est, w, lossy, _ := s.Timing(a.exec, a.server.Addr())
	t.Logf("slow link: %v; SRTT %v RTTVAR %v window %.1f lossy %v", took, est.SRTT, est.RTTVar, w, lossy)
}

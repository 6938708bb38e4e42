package path

import (
	"context"
	"fmt"
	"net/netip"
	"strings"
	"testing"
	"time"

	"github.com/portcheck/portcheck/internal/lab"
	"github.com/portcheck/portcheck/providers"
)

// These tests trace through a real router chain, client → r1 → r2 →
// server, built from network namespaces; they need root and skip without it.

type chain struct {
	client, r1, r2, server *lab.Host
}

func newChain(t *testing.T) chain {
	t.Helper()
	l := lab.New(t)
	lab.Require(t, "ip", "nft", "sysctl")
	hs := l.Chain("client", "r1", "r2", "server")
	c := chain{client: hs[0], r1: hs[1], r2: hs[2], server: hs[3]}
	c.server.ListenTCP("tcp4", c.server.Addr().String()+":8080")
	return c
}

// r1Addr and r2Addr are the routers' addresses towards the client, which
// Linux uses as the source of its time-exceeded messages to the client.
func (c chain) r1Addr() string { return c.r1.Addrs[0].String() }
func (c chain) r2Addr() string { return c.r2.Addrs[0].String() }

var testParams = Params{Rounds: 2, Timeout: 400 * time.Millisecond, MaxHops: 12}

func (c chain) trace(t *testing.T, mode string, port int) *Facts {
	t.Helper()
	p := testParams
	p.Mode = mode
	ctx, cancel := context.WithTimeout(context.Background(), 15*time.Second)
	defer cancel()
	f, err := Trace(ctx, providers.Exec{Netns: c.client.Path()}, providers.Target{Address: c.server.Addr(), Port: port, Protocol: "tcp"}, p)
	if err != nil {
		t.Fatalf("Trace: %v", err)
	}
	t.Logf("%s trace: reached=%v stops_after=%q/%d ping=%+v", mode, f.Reached, f.StopsAfter, f.StopsAfterTTL, *f.Ping)
	for _, h := range f.Hops {
		t.Logf("  %2d %-15s sent=%d recv=%d loss=%.0f%% min/avg/max=%.3f/%.3f/%.3f final=%v", h.TTL, orStar(h.Addr), h.Sent, h.Received, h.LossPct, h.MinMs, h.AvgMs, h.MaxMs, h.Final)
	}
	for _, n := range f.Notes {
		t.Logf("  note: %s", n)
	}
	return f
}

func orStar(s string) string {
	if s == "" {
		return "*"
	}
	return s
}

func wantHops(t *testing.T, f *Facts, addrs ...string) {
	t.Helper()
	if len(f.Hops) < len(addrs) {
		t.Fatalf("got %d hops, want at least %d", len(f.Hops), len(addrs))
	}
	for i, a := range addrs {
		if got := f.Hops[i].Addr; got != a {
			t.Errorf("hop %d: addr %q, want %q", i+1, got, a)
		}
	}
}

func TestTraceHealthy(t *testing.T) {
	t.Parallel()
	c := newChain(t)
	for _, mode := range []string{"tcp", "icmp"} {
		t.Run(mode, func(t *testing.T) {
			f := c.trace(t, mode, 8080)
			if !f.Reached || f.StopsAfter != "" {
				t.Fatalf("reached=%v stops_after=%q, want reached", f.Reached, f.StopsAfter)
			}
			if len(f.Hops) != 3 {
				t.Fatalf("%d hops, want 3 (r1, r2, server)", len(f.Hops))
			}
			wantHops(t, f, c.r1Addr(), c.r2Addr(), c.server.Addr().String())
			for _, h := range f.Hops {
				if h.Sent != 2 || h.Received != 2 || h.LossPct != 0 || h.AvgMs <= 0 {
					t.Errorf("hop %d: %+v, want 2/2 answered with an RTT", h.TTL, h)
				}
				if h.Final != (h.TTL == 3) {
					t.Errorf("hop %d: final=%v", h.TTL, h.Final)
				}
			}
			if f.Ping == nil || f.Ping.Received != f.Ping.Sent || f.Ping.Sent != 2 {
				t.Errorf("ping %+v, want 2/2", f.Ping)
			}
		})
	}
}

// TestTraceDropAtR2Forward drops the port in r2's forward chain. The kernel
// checks the TTL in ip_forward() before the NF_INET_FORWARD hook runs, so a
// probe whose TTL runs out at r2 is answered with time-exceeded (sent through
// r2's OUTPUT hook, not FORWARD) and only probes that r2 would forward are
// dropped: the trace stops after r2, not after r1. This is also the ping
// case: ICMP passes while TCP does not.
func TestTraceDropAtR2Forward(t *testing.T) {
	t.Parallel()
	c := newChain(t)
	c.r2.NFT(`table inet f {
	chain forward {
		type filter hook forward priority 0; policy accept;
		tcp dport 8080 drop
	}
}
`)
	f := c.trace(t, "tcp", 8080)
	if f.Reached {
		t.Fatal("reached, want not reached")
	}
	if f.StopsAfter != c.r2Addr() || f.StopsAfterTTL != 2 {
		t.Errorf("stops after %q (TTL %d), want r2 %s (TTL 2)", f.StopsAfter, f.StopsAfterTTL, c.r2Addr())
	}
	wantHops(t, f, c.r1Addr(), c.r2Addr(), "")
	if f.Ping == nil || f.Ping.Received == 0 {
		t.Errorf("ping %+v, want answered (only TCP is dropped)", f.Ping)
	}
	if !hasNote(f, "ping reaches the target but tcp probes to port 8080 do not") {
		t.Errorf("no note that ping works while TCP does not: %q", f.Notes)
	}

	// ICMP mode passes the same router.
	if f := c.trace(t, "icmp", 0); !f.Reached {
		t.Errorf("icmp trace not reached though only TCP is dropped")
	}
}

// TestTraceDropAtR2Prerouting is the contrast to the forward-chain case: a
// drop in r2's prerouting hook runs before ip_forward() looks at the TTL, so
// r2 never answers a TCP probe and the trace stops after r1.
func TestTraceDropAtR2Prerouting(t *testing.T) {
	t.Parallel()
	c := newChain(t)
	c.r2.NFT(`table inet f {
	chain prerouting {
		type filter hook prerouting priority 0; policy accept;
		tcp dport 8080 drop
	}
}
`)
	f := c.trace(t, "tcp", 8080)
	if f.Reached {
		t.Fatal("reached, want not reached")
	}
	if f.StopsAfter != c.r1Addr() || f.StopsAfterTTL != 1 {
		t.Errorf("stops after %q (TTL %d), want r1 %s (TTL 1)", f.StopsAfter, f.StopsAfterTTL, c.r1Addr())
	}
	wantHops(t, f, c.r1Addr(), "")
}

// TestTracePingBlocked: r2 drops ICMP echo; the TCP trace still reaches.
func TestTracePingBlocked(t *testing.T) {
	t.Parallel()
	c := newChain(t)
	c.r2.NFT(`table inet f {
	chain forward {
		type filter hook forward priority 0; policy accept;
		icmp type echo-request drop
	}
}
`)
	f := c.trace(t, "tcp", 8080)
	if !f.Reached {
		t.Fatal("not reached")
	}
	if f.Ping == nil || f.Ping.Received != 0 {
		t.Errorf("ping %+v, want no reply", f.Ping)
	}
	if !hasNote(f, "ping is blocked") {
		t.Errorf("no note that ping is blocked: %q", f.Notes)
	}
}

// TestTraceSilentRouter: r1 sends no time-exceeded; hop 1 is "*" but the
// trace goes on to the server.
func TestTraceSilentRouter(t *testing.T) {
	t.Parallel()
	c := newChain(t)
	c.r1.NFT(`table inet f {
	chain output {
		type filter hook output priority 0; policy accept;
		icmp type time-exceeded drop
	}
}
`)
	f := c.trace(t, "tcp", 8080)
	if !f.Reached || f.StopsAfter != "" {
		t.Fatalf("reached=%v stops_after=%q, want reached", f.Reached, f.StopsAfter)
	}
	wantHops(t, f, "", c.r2Addr(), c.server.Addr().String())
	if h := f.Hops[0]; h.Received != 0 || h.LossPct != 100 {
		t.Errorf("hop 1: %+v, want all lost", h)
	}
	if !hasNote(f, "TTL 1 gave no answer") {
		t.Errorf("no note about the silent router: %q", f.Notes)
	}
}

// TestTraceUDPClosedPort: nothing listens on UDP 9999; the server's port
// unreachable ends the trace.
func TestTraceUDPClosedPort(t *testing.T) {
	t.Parallel()
	c := newChain(t)
	f := c.trace(t, "udp", 9999)
	if !f.Reached {
		t.Fatal("not reached")
	}
	wantHops(t, f, c.r1Addr(), c.r2Addr(), c.server.Addr().String())
	if len(f.Hops) != 3 || !f.Hops[2].Final {
		t.Errorf("hops %+v, want 3 with the last final", f.Hops)
	}
}

// TestTraceTCPClosedPort: a RST from the target also ends the trace.
func TestTraceTCPClosedPort(t *testing.T) {
	t.Parallel()
	c := newChain(t)
	f := c.trace(t, "tcp", 9999)
	if !f.Reached || len(f.Hops) != 3 {
		t.Fatalf("reached=%v hops=%d, want reached in 3", f.Reached, len(f.Hops))
	}
}

// TestTraceRejectAtRouter: r1 rejects the port with admin-prohibited; the
// path ends at r1, which answered.
func TestTraceRejectAtRouter(t *testing.T) {
	t.Parallel()
	c := newChain(t)
	c.r1.NFT(`table inet f {
	chain forward {
		type filter hook forward priority 0; policy accept;
		tcp dport 8080 reject with icmpx type admin-prohibited
	}
}
`)
	f := c.trace(t, "tcp", 8080)
	if f.Reached {
		t.Fatal("reached")
	}
	if f.StopsAfter != c.r1Addr() {
		t.Errorf("stops after %q, want r1 %s", f.StopsAfter, c.r1Addr())
	}
	if !hasNote(f, "admin-prohibited from "+c.r1Addr()) {
		t.Errorf("no note about the reject: %q", f.Notes)
	}
}

func hasNote(f *Facts, sub string) bool {
	for _, n := range f.Notes {
		if strings.Contains(n, sub) {
			return true
		}
	}
	return false
}

// addIPv6 gives the chain IPv6 on every link (fd00:0:K::1 left, ::2
// right), forwarding in the routers and the routes between.
func (c chain) addIPv6(t *testing.T) (server string) {
	t.Helper()
	hs := []*lab.Host{c.client, c.r1, c.r2, c.server}
	for k := 0; k < 3; k++ {
		left, right := hs[k], hs[k+1]
		li := left.Ifaces[len(left.Ifaces)-1]
		ri := right.Ifaces[0]
		left.Exec("ip", "-6", "addr", "add", fmt.Sprintf("fd00:0:%d::1/64", k), "dev", li, "nodad")
		right.Exec("ip", "-6", "addr", "add", fmt.Sprintf("fd00:0:%d::2/64", k), "dev", ri, "nodad")
	}
	for _, r := range []*lab.Host{c.r1, c.r2} {
		r.Exec("sysctl", "-qw", "net.ipv6.conf.all.forwarding=1")
	}
	c.client.Exec("ip", "-6", "route", "add", "default", "via", "fd00:0:0::2")
	c.r1.Exec("ip", "-6", "route", "add", "fd00:0:2::/64", "via", "fd00:0:1::2")
	c.r2.Exec("ip", "-6", "route", "add", "fd00:0:0::/64", "via", "fd00:0:1::1")
	c.server.Exec("ip", "-6", "route", "add", "default", "via", "fd00:0:2::1")
	c.server.ListenTCP("tcp6", "[fd00:0:2::2]:8080")
	// Neighbour discovery on fresh links (link-local addresses still in
	// DAD) can delay the first packets by a second or two: wait until an
	// echo gets through end to end.
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	for ctx.Err() == nil {
		f, err := Trace(ctx, providers.Exec{Netns: c.client.Path()}, providers.Target{Address: netip.MustParseAddr("fd00:0:2::2")}, Params{Mode: "icmp", MaxHops: 3, Rounds: 1, Timeout: 200 * time.Millisecond})
		if err == nil && f.Reached {
			return "fd00:0:2::2"
		}
	}
	t.Fatal("IPv6 through the chain never came up")
	return ""
}

func TestTraceIPv6(t *testing.T) {
	t.Parallel()
	c := newChain(t)
	srv := c.addIPv6(t)
	for _, mode := range []string{"tcp", "udp", "icmp"} {
		t.Run(mode, func(t *testing.T) {
			port := 8080
			if mode == "udp" {
				port = 9999
			}
			p := testParams
			p.Mode = mode
			f, err := Trace(context.Background(), providers.Exec{Netns: c.client.Path()}, providers.Target{Address: netip.MustParseAddr(srv), Port: port}, p)
			if err != nil {
				t.Fatal(err)
			}
			for _, h := range f.Hops {
				t.Logf("  %2d %-15s sent=%d recv=%d final=%v", h.TTL, orStar(h.Addr), h.Sent, h.Received, h.Final)
			}
			if !f.Reached || f.Ping.Received == 0 {
				t.Fatalf("reached=%v ping=%+v notes=%q", f.Reached, *f.Ping, f.Notes)
			}
			wantHops(t, f, "fd00::2", "fd00:0:1::2", srv)
		})
	}
}

// traceWith traces from the chain's client with p.
func (c chain) traceWith(t *testing.T, p Params, port int) *Facts {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	f, err := Trace(ctx, providers.Exec{Netns: c.client.Path()}, providers.Target{Address: c.server.Addr(), Port: port, Protocol: "tcp"}, p)
	if err != nil {
		t.Fatalf("Trace: %v", err)
	}
	t.Logf("%s trace: reached=%v stops_after=%q/%d rounds=%d sent=%d out_of_hops=%v", p.Mode, f.Reached, f.StopsAfter, f.StopsAfterTTL, f.Rounds, f.Sent, f.OutOfHops)
	for _, h := range f.Hops {
		t.Logf("  %2d %-15s sent=%d recv=%d loss=%.0f%% not_carried=%v final=%v", h.TTL, orStar(h.Addr), h.Sent, h.Received, h.LossPct, h.LossNotCarried, h.Final)
	}
	for _, n := range f.Notes {
		t.Logf("  note: %s", n)
	}
	return f
}

// noICMPRateLimit lets the routers answer every expired probe, so that
// only the loss a test makes shows.
func (c chain) noICMPRateLimit() {
	for _, r := range []*lab.Host{c.r1, c.r2} {
		r.Exec("sysctl", "-qw", "net.ipv4.icmp_ratelimit=0")
	}
}

// Issue 11.2: with max_hops shorter than the path, the last hop still
// forwards; that is not a path that stops, and no note says something
// filters the port.
func TestTraceOutOfHops(t *testing.T) {
	t.Parallel()
	c := newChain(t)
	p := testParams
	p.MaxHops = 2
	f := c.traceWith(t, p, 8080)
	if f.Reached || !f.OutOfHops || f.MaxHops != 2 {
		t.Fatalf("reached=%v out_of_hops=%v max_hops=%d, want out of hops at 2", f.Reached, f.OutOfHops, f.MaxHops)
	}
	wantHops(t, f, c.r1Addr(), c.r2Addr())
	if len(f.Hops) != 2 {
		t.Errorf("%d hops, want 2 (no * hop past the limit)", len(f.Hops))
	}
	if hasNote(f, "filters the port") || hasNote(f, "drops them") {
		t.Errorf("a note blames a filter although the trace only ran out of hops: %q", f.Notes)
	}
	if !hasNote(f, "the path is longer than 2 hops") {
		t.Errorf("no note that the path is longer: %q", f.Notes)
	}
}

// Issue 11.7: once the first round shows where the probes stop, later
// rounds probe only up to one TTL past the last answer, and the trace ends
// after notReachedRounds rounds instead of running all of them.
func TestTraceBrokenStopsEarly(t *testing.T) {
	t.Parallel()
	c := newChain(t)
	c.r2.NFT(`table inet f {
	chain forward {
		type filter hook forward priority 0; policy accept;
		tcp dport 8080 drop
	}
}
`)
	p := testParams
	p.Rounds = 10
	f := c.traceWith(t, p, 8080)
	if f.Reached || f.StopsAfter != c.r2Addr() {
		t.Fatalf("reached=%v stops_after=%q, want stopping after r2", f.Reached, f.StopsAfter)
	}
	if f.Rounds != notReachedRounds {
		t.Errorf("ran %d rounds, want %d (the answer cannot change)", f.Rounds, notReachedRounds)
	}
	// Round 0 probes TTL 1..10 (two windows of 5; max-unknown ends it);
	// rounds 1 and 2 probe TTL 1..3 only.
	if want := 10 + 2*3; f.Sent != want {
		t.Errorf("sent %d probes, want %d", f.Sent, want)
	}
	if !hasNote(f, "stopped after 3 of 10 rounds") {
		t.Errorf("no note that the trace stopped early: %q", f.Notes)
	}
	// Issue 11.6: the note names r2's forward chain, not the next hop's.
	if !hasNote(f, "("+c.r2Addr()+"): its forward chain drops them") {
		t.Errorf("no note naming r2's forward chain: %q", f.Notes)
	}
}

// Issue 11.4: loss on the r1 → r2 link shows at every hop after it; it is
// not ICMP rate limiting, and no hop is marked as such.
func TestTraceLinkLossNotBlamedOnRateLimit(t *testing.T) {
	t.Parallel()
	c := newChain(t)
	c.noICMPRateLimit()
	// r1 forwards the probes with TTL >= 2; 30% of them are lost.
	c.r1.NFT(`table inet f {
	chain forward {
		type filter hook forward priority 0; policy accept;
		tcp dport 8080 numgen random mod 10 < 3 drop
	}
}
`)
	p := testParams
	p.Rounds, p.Timeout, p.Interval = 20, 200*time.Millisecond, -1
	f := c.traceWith(t, p, 8080)
	if !f.Reached {
		t.Fatal("not reached")
	}
	for _, h := range f.Hops {
		if h.LossNotCarried {
			t.Errorf("hop %d marked as ICMP rate limiting though the loss is on the link", h.TTL)
		}
	}
	if hasNote(f, "rate-limits its ICMP") {
		t.Errorf("link loss blamed on ICMP rate limiting: %q", f.Notes)
	}
	// P(no loss at the target in 20 probes at 30%) = 0.7^20 < 0.1%.
	if end := f.Hops[len(f.Hops)-1]; end.LossPct == 0 {
		t.Errorf("no loss at the target: %+v", end)
	}
}

// Issue 11.4: Linux routers rate-limit time-exceeded (a burst of 6, then
// 1/s). Unpaced rounds lose answers at the routers only, and the hops are
// marked as rate limiting; paced rounds (the default) lose nothing.
func TestTraceICMPRateLimit(t *testing.T) {
	t.Parallel()
	c := newChain(t)
	p := testParams
	p.Rounds, p.Interval = 10, -1
	f := c.traceWith(t, p, 8080)
	if !f.Reached {
		t.Fatal("not reached")
	}
	for _, h := range f.Hops[:2] {
		if h.LossPct == 0 || !h.LossNotCarried {
			t.Errorf("hop %d: %+v, want loss marked as ICMP rate limiting", h.TTL, h)
		}
	}
	if end := f.Hops[2]; !end.Final || end.LossPct != 0 {
		t.Errorf("target: %+v, want every SYN answered", end)
	}

	c2 := newChain(t)
	p.Rounds, p.Interval = 7, 0 // default pacing: (7-4)/6 s between rounds
	f = c2.traceWith(t, p, 8080)
	for _, h := range f.Hops {
		if h.LossPct != 0 {
			t.Errorf("paced rounds: hop %d lost %.0f%%, want none", h.TTL, h.LossPct)
		}
	}
}

func TestDefaultInterval(t *testing.T) {
	for _, rounds := range []int{1, 5, 6, 7, 10, 20, 100} {
		iv := defaultInterval(rounds)
		// Tokens available by the last round: the burst plus one per second.
		tokens := float64(icmpBurst) + float64(rounds-1)*iv.Seconds()
		if tokens < float64(rounds) {
			t.Errorf("rounds %d: interval %v leaves %.1f tokens, want >= %d", rounds, iv, tokens, rounds)
		}
		t.Logf("rounds %d: interval %v", rounds, iv)
	}
}

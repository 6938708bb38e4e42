package netfilter_test

import (
	"bufio"
	"cmp"
	"context"
	"errors"
	"flag"
	"fmt"
	"maps"
	"net"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/portcheck/portcheck/internal/lab"
	"github.com/portcheck/portcheck/internal/netns"
	"github.com/portcheck/portcheck/providers/firewall"
	"github.com/portcheck/portcheck/providers/firewall/netfilter"
)

// TestDifferential checks the evaluator against the kernel: it loads
// rulesets (fixtures from testdata/differential, generated ones from fixed
// seeds, and a Docker-style host) into a lab server namespace, reads them
// back with netfilter.Read, and for every probe port compares the
// evaluator's Decision with what a real TCP connect from the lab client
// gets: connected = accept, refused or unreachable = reject, silence =
// drop. The Decision covers the SYN and what goes back: its SYN-ACK
// (Decision.Reply) or a reject's answer (Decision.Answer), and what is
// compared is what the client sees (Decision.Seen). When the SYN-ACK is
// stopped, dropped or rejected alike, the client must see silence: a
// rejected reply's RST or ICMP error goes to the reply's sender (the
// server's own stack, or the container), never to the client, so for the
// reply path only "accepted or not" is visible and "not" is always a
// timeout; likewise when output stops a reject's RST or ICMP error.
// PORTCHECK_DIFF_SEEDS=N runs seeds 1..N (default 60); with -update-diff a
// disagreeing seed is saved as a fixture.

var diffUpdate = flag.Bool("update-diff", false, "save generated rulesets the evaluator and the kernel disagree on as testdata/differential/failed-seed-N.*")

const (
	diffDir          = "testdata/differential"
	diffDefaultSeeds = 60
	// diffDefaultConstructSeeds is how many cases of the constructs
	// generator run by default (PORTCHECK_DIFF_CONSTRUCT_SEEDS=N for more).
	diffDefaultConstructSeeds = 40
	// diffTimeout is how long a connect may take before the probe counts
	// as dropped; a dropped SYN is only retransmitted after a second. (A
	// slow answer taken for a drop where the evaluator says otherwise is
	// probed again, patiently.)
	diffTimeout = 300 * time.Millisecond
	// diffRetryTimeout confirms a disagreement, so a slow box does not
	// turn an accept into a drop.
	diffRetryTimeout = 1500 * time.Millisecond
)

func TestDifferential(t *testing.T) {
	lab.Require(t, "nft", "iptables-nft-restore", "iptables-nft-save")
	_, err := exec.LookPath("iptables-legacy-restore")
	legacy := err == nil

	seeds := diffDefaultSeeds
	if s := os.Getenv("PORTCHECK_DIFF_SEEDS"); s != "" {
		n, err := strconv.Atoi(s)
		if err != nil || n < 0 {
			t.Fatalf("PORTCHECK_DIFF_SEEDS=%q: want a number of seeds", s)
		}
		seeds = n
	}
	cases := diffFixtures(t)
	for seed := 1; seed <= seeds; seed++ {
		cases = append(cases, diffGenerate(uint64(seed)))
	}
	constructs := diffDefaultConstructSeeds
	if s := os.Getenv("PORTCHECK_DIFF_CONSTRUCT_SEEDS"); s != "" {
		n, err := strconv.Atoi(s)
		if err != nil || n < 0 {
			t.Fatalf("PORTCHECK_DIFF_CONSTRUCT_SEEDS=%q: want a number of seeds", s)
		}
		constructs = n
	}
	for seed := 1; seed <= constructs; seed++ {
		cases = append(cases, diffGenerateConstructs(uint64(seed)))
	}

	// Cases run in parallel, each on a lab of the pool; the probes of one
	// case run concurrently.
	workers := 2
	if f := flag.Lookup("test.parallel"); f != nil {
		if n, err := strconv.Atoi(f.Value.String()); err == nil {
			workers = n
		}
	}
	// Probes mostly wait (a dropped one for its timeout), so twice as
	// many labs as CPUs keep the machine busy without starving them.
	workers = max(1, min(2*workers, 4))
	pool := make(chan *diffLab, workers)
	for range workers {
		pool <- newDiffLab(t)
	}

	start := time.Now()
	stats := &diffStats{}
	t.Run("group", func(t *testing.T) {
		// One Docker lab per backend, each running its variants in turn.
		backends := []string{diffIptables}
		if legacy {
			backends = append(backends, diffIptablesLegcy)
		}
		for _, b := range backends {
			t.Run("docker-"+b, func(t *testing.T) {
				t.Parallel()
				diffDocker(t, b, stats)
			})
		}
		for _, c := range cases {
			t.Run(c.Name, func(t *testing.T) {
				t.Parallel()
				if c.uses(diffIptablesLegcy) && !legacy {
					t.Skip("iptables-legacy-restore is not installed")
				}
				if c.uses(diffIPSet) {
					lab.Require(t, "ipset")
				}
				dl := <-pool
				defer func() { pool <- dl }()
				dl.check(t, c, stats)
			})
		}
	})
	t.Logf("%d cases, %d probes (%d IPv6, %d UDP; %d rejects, %d drops, %d accepts; %d replies and %d reject answers stopped on the way back; "+
		"%d verdicts under an assumption, %d across random choices, %d undecided by random choices; %d explained walks agree) in %v",
		stats.cases.Load(), stats.probes.Load(), stats.v6.Load(), stats.udp.Load(), stats.rejects.Load(), stats.drops.Load(), stats.accepts.Load(),
		stats.replies.Load(), stats.answers.Load(), stats.assumed.Load(), stats.branched.Load(), stats.undecided.Load(), stats.walks.Load(),
		time.Since(start).Round(time.Millisecond))
	var total, undecided int
	for _, name := range slices.Sorted(maps.Keys(stats.real)) {
		v := stats.real[name]
		total, undecided = total+v[0], undecided+v[1]
		t.Logf("%s: %d probes, %d undecided", name, v[0], v[1])
	}
	if total > 0 {
		t.Logf("real-world rulesets: %d probes, %d undecided (%.1f%%)", total, undecided, 100*float64(undecided)/float64(total))
		if undecided*20 > total {
			t.Errorf("%d of %d probes of the real-world rulesets are undecided, more than 5%%", undecided, total)
		}
	}
}

type diffStats struct {
	cases, probes, accepts, drops, rejects atomic.Int64
	// replies and answers count the probes whose SYN-ACK or reject
	// answer the evaluator (agreeing with the kernel) says is stopped.
	replies, answers atomic.Int64
	// v6 and udp count the probes of each kind; assumed those whose
	// verdict rests on an assumption, branched those decided across
	// random choices, undecided the honest indeterminate ones (random
	// choices that disagree).
	v6, udp, assumed, branched, undecided atomic.Int64
	// walks counts the probes whose explained walk (RecordWalk) ends
	// where their decision does.
	walks atomic.Int64
	// real counts, per real-world fixture, its probes and the undecided
	// ones among them (the target: at most 5%).
	realMu sync.Mutex
	real   map[string][2]int
}

// realWorld records a probe of a real-world fixture.
func (s *diffStats) realWorld(name string, undecided bool) {
	s.realMu.Lock()
	defer s.realMu.Unlock()
	if s.real == nil {
		s.real = map[string][2]int{}
	}
	v := s.real[name]
	v[0]++
	if undecided {
		v[1]++
	}
	s.real[name] = v
}

// diffLab is a client and a server namespace on 10.88.1.0/24; the server
// listens on every probed port.
type diffLab struct {
	client, server *lab.Host
	clientAddr     netip.Addr
	serverAddr     netip.Addr
	// legacyTables are the iptables-legacy tables the server has: they
	// stay once made, so reset empties them.
	legacyTables map[string]bool
	// ipsets: a case made ipsets, which reset destroys.
	ipsets bool
}

func newDiffLab(t *testing.T) *diffLab {
	t.Helper()
	l := lab.New(t)
	c, s := l.Host("client"), l.Host("server")
	ca, sa := l.Link(c, s, "10.88.1")
	if ca.String() != diffClient || sa.String() != diffServer || s.Ifaces[0] != diffIface {
		t.Fatalf("lab link gave client %s, server %s on %s; the generated rulesets assume %s, %s on %s",
			ca, sa, s.Ifaces[0], diffClient, diffServer, diffIface)
	}
	diffIPv6(c, s)
	diffClientSetup(c)
	diffServerSetup(s)
	return &diffLab{client: c, server: s, clientAddr: ca, serverAddr: sa, legacyTables: map[string]bool{}}
}

// diffIPv6 gives the lab's first link the IPv6 addresses the generated
// rulesets use (without duplicate address detection, which would delay
// them) and each end a permanent neighbour entry for the other: a ruleset
// that drops ICMPv6 must not also stop neighbour discovery, which the
// evaluator does not model (it judges L3 and L4, not the link).
func diffIPv6(c, s *lab.Host) {
	c.Exec("ip", "-6", "addr", "add", diffClient6+"/64", "dev", c.Ifaces[0], "nodad")
	s.Exec("ip", "-6", "addr", "add", diffServer6+"/64", "dev", s.Ifaces[0], "nodad")
	mac := func(h *lab.Host) string {
		f := strings.Fields(h.Exec("cat", "/sys/class/net/"+h.Ifaces[0]+"/address"))
		return f[0]
	}
	c.Exec("ip", "-6", "neigh", "replace", diffServer6, "lladdr", mac(s), "dev", c.Ifaces[0], "nud", "permanent")
	s.Exec("ip", "-6", "neigh", "replace", diffClient6, "lladdr", mac(c), "dev", s.Ifaces[0], "nud", "permanent")
	c.Exec("ip", "neigh", "replace", diffServer, "lladdr", mac(s), "dev", c.Ifaces[0], "nud", "permanent")
	s.Exec("ip", "neigh", "replace", diffClient, "lladdr", mac(c), "dev", s.Ifaces[0], "nud", "permanent")
}

// diffClientSetup lets only SYNs leave the client. The evaluator judges
// the first packet of a connection and its first reply; the rest of a
// real handshake (the client's ACK, established in conntrack) may meet
// other rules, and an ACK rejected with an ICMP error shows up as
// connect's error even though the SYN was accepted. With the ACK held
// back, connect reports exactly what happened to the SYN and the SYN-ACK:
// SYN-ACK received (connected), RST or ICMP error (refused, unreachable)
// or nothing (timeout). Every probe sends from a port of its own
// (diffSourcePort): a connection whose SYN-ACK was stopped stays in the
// server's conntrack as having seen a reply, and a later SYN on the same
// tuple would be established there instead of new.
func diffClientSetup(c *lab.Host) {
	c.NFT("table inet probe {\n\tchain output {\n\t\ttype filter hook output priority filter; policy accept;\n\t\ttcp flags & syn == 0 drop\n\t}\n}\n")
}

// diffServerSetup turns off ICMP rate limiting in the server namespace
// (otherwise a burst of rejected probes loses its port-unreachables and
// looks dropped) and listens on every probed port.
func diffServerSetup(s *lab.Host) {
	s.Exec("sysctl", "-q", "-w", "net.ipv4.icmp_ratemask=0", "net.ipv4.icmp_ratelimit=0", "net.ipv6.icmp.ratelimit=0")
	for _, p := range diffPorts {
		s.ListenTCP("tcp4", fmt.Sprintf("0.0.0.0:%d", p))
		s.ListenUDP("udp4", fmt.Sprintf("0.0.0.0:%d", p))
		if len(s.Ifaces) > 0 && s.Ifaces[0] == diffIface {
			s.ListenTCP("tcp6", fmt.Sprintf("[::]:%d", p))
			s.ListenUDP("udp6", fmt.Sprintf("[::]:%d", p))
		}
	}
}

// client6 and server6 are the addresses a probe of kind uses.
func (dl *diffLab) client6(k diffProbeKind) netip.Addr {
	if k.v6() {
		return netip.MustParseAddr(diffClient6)
	}
	return dl.clientAddr
}

func (dl *diffLab) server6(k diffProbeKind) netip.Addr {
	if k.v6() {
		return netip.MustParseAddr(diffServer6)
	}
	return dl.serverAddr
}

// diffRandomChoice reports an indeterminate decision that is so because
// the ways of a random choice disagree: the only undecided verdict the
// generator's constructs allow.
func diffRandomChoice(d firewall.Decision) bool {
	return d.Verdict == firewall.Indeterminate && strings.Contains(d.Reason, "depends on a random choice")
}

// run runs a program in the server namespace.
func (dl *diffLab) run(t *testing.T, stdin string, name string, args ...string) {
	t.Helper()
	var in []byte
	if stdin != "" {
		in = []byte(stdin)
	}
	if _, err := netns.Output(t.Context(), dl.server.Path(), in, name, args...); err != nil {
		t.Fatalf("in the server namespace: %s %s: %v\ninput:\n%s", name, strings.Join(args, " "), err, stdin)
	}
}

// diffBuiltins are the builtin chains of each iptables table.
var diffBuiltins = map[string][]string{
	"filter": {"INPUT", "FORWARD", "OUTPUT"},
	"nat":    {"PREROUTING", "INPUT", "OUTPUT", "POSTROUTING"},
	"mangle": {"PREROUTING", "INPUT", "FORWARD", "OUTPUT", "POSTROUTING"},
	"raw":    {"PREROUTING", "OUTPUT"},
}

// reset empties the server's ruleset: every nft table (iptables-nft's
// included) and the iptables-legacy tables earlier cases filled.
func (dl *diffLab) reset(t *testing.T) {
	dl.run(t, "", "nft", "flush", "ruleset")
	if dl.ipsets {
		// After the rules that used them are gone.
		defer func() { dl.run(t, "", "ipset", "destroy"); dl.ipsets = false }()
	}
	tables := slices.Sorted(maps.Keys(dl.legacyTables))
	if len(tables) == 0 {
		return
	}
	var b strings.Builder
	for _, tbl := range tables {
		fmt.Fprintf(&b, "*%s\n", tbl)
		for _, c := range diffBuiltins[tbl] {
			fmt.Fprintf(&b, ":%s ACCEPT [0:0]\n", c)
		}
		b.WriteString("COMMIT\n")
	}
	dl.run(t, b.String(), "iptables-legacy-restore", "-w", "5")
}

func (dl *diffLab) load(t *testing.T, p diffPart) {
	switch p.Kind {
	case diffNft:
		dl.run(t, p.Text, "nft", "-f", "-")
	case diffIptables:
		dl.run(t, p.Text, "iptables-nft-restore")
	case diffIp6tables:
		dl.run(t, p.Text, "ip6tables-nft-restore")
	case diffIPSet:
		dl.run(t, p.Text, "ipset", "restore")
		dl.ipsets = true
	case diffIptablesLegcy:
		for line := range strings.Lines(p.Text) {
			if tbl, ok := strings.CutPrefix(strings.TrimSpace(line), "*"); ok {
				dl.legacyTables[tbl] = true
			}
		}
		dl.run(t, p.Text, "iptables-legacy-restore", "-w", "5")
	default:
		t.Fatalf("unknown ruleset kind %q", p.Kind)
	}
}

// diffKernel is what a real connect got.
type diffKernel struct {
	verdict string // accept, drop, reject, or "error" for anything else
	errno   syscall.Errno
	err     error
}

func (k diffKernel) String() string {
	switch {
	case k.verdict == firewall.Accept:
		return "accept (connected)"
	case k.verdict == firewall.Drop:
		return "drop (no answer)"
	case k.errno != 0:
		return fmt.Sprintf("%s (%s)", k.verdict, diffErrnoName(k.errno))
	}
	return fmt.Sprintf("%s (%v)", k.verdict, k.err)
}

func diffErrnoName(e syscall.Errno) string {
	switch e {
	case syscall.ECONNREFUSED:
		return "ECONNREFUSED"
	case syscall.EHOSTUNREACH:
		return "EHOSTUNREACH"
	case syscall.ENETUNREACH:
		return "ENETUNREACH"
	case syscall.EACCES:
		return "EACCES"
	case syscall.EPERM:
		return "EPERM"
	case syscall.ENOPROTOOPT:
		return "ENOPROTOOPT"
	}
	return e.Error()
}

// diffNextPort hands out the probes' source ports, each used once per
// test run.
var diffNextPort atomic.Uint32

// diffSourcePort returns a source port no probe of this run has used
// (10000-59999, wrapping after 50,000 probes).
func diffSourcePort() uint16 {
	return uint16(10000 + (diffNextPort.Add(1)-1)%50000)
}

// diffProbe sends one probe of kind (tcp4, udp4, tcp6, udp6) from the
// namespace at nsPath, from source port sport, to dst and classifies the
// outcome. TCP: a connect. UDP: one datagram, which the server echoes;
// the echo is an accept, an ICMP error (read back on the connected
// socket) a reject, silence a drop.
func diffProbe(ctx context.Context, nsPath string, kind diffProbeKind, sport uint16, dst netip.AddrPort, timeout time.Duration) diffKernel {
	network := kind.network()
	var local net.Addr = &net.TCPAddr{Port: int(sport)}
	if kind.udp() {
		local = &net.UDPAddr{Port: int(sport)}
	}
	d := &net.Dialer{Timeout: timeout, LocalAddr: local}
	if kind.udp() {
		// Without IP_RECVERR a UDP socket ignores the ICMP errors RFC 1122
		// calls soft (net and host unreachable): the firewall rejected,
		// the client only saw nothing. With it, every error counts.
		d.Control = func(_, _ string, c syscall.RawConn) error {
			var serr error
			err := c.Control(func(fd uintptr) {
				if kind.v6() {
					serr = syscall.SetsockoptInt(int(fd), syscall.IPPROTO_IPV6, syscall.IPV6_RECVERR, 1)
				} else {
					serr = syscall.SetsockoptInt(int(fd), syscall.IPPROTO_IP, syscall.IP_RECVERR, 1)
				}
			})
			if err != nil {
				return err
			}
			return serr
		}
	}
	conn, err := netns.DialContext(ctx, nsPath, d, network, dst.String())
	if err == nil && kind.udp() {
		defer conn.Close()
		conn.SetDeadline(time.Now().Add(timeout))
		if _, err = conn.Write([]byte("probe")); err == nil {
			buf := make([]byte, 64)
			_, err = conn.Read(buf)
		}
		if err == nil {
			return diffKernel{verdict: firewall.Accept}
		}
	} else if err == nil {
		conn.Close()
		return diffKernel{verdict: firewall.Accept}
	}
	var errno syscall.Errno
	if errors.As(err, &errno) {
		switch errno {
		case syscall.ECONNREFUSED, syscall.EHOSTUNREACH, syscall.ENETUNREACH, syscall.EACCES, syscall.EPERM, syscall.ENOPROTOOPT:
			return diffKernel{verdict: firewall.Reject, errno: errno, err: err}
		}
	}
	var ne net.Error
	if errors.As(err, &ne) && ne.Timeout() {
		return diffKernel{verdict: firewall.Drop, err: err}
	}
	return diffKernel{verdict: "error", err: err}
}

// diffProbeKind is a probe's protocol and family.
type diffProbeKind string

const (
	diffTCP4 diffProbeKind = "tcp4"
	diffUDP4 diffProbeKind = "udp4"
	diffTCP6 diffProbeKind = "tcp6"
	diffUDP6 diffProbeKind = "udp6"
)

func (k diffProbeKind) network() string { return string(k) }
func (k diffProbeKind) udp() bool       { return k == diffUDP4 || k == diffUDP6 }
func (k diffProbeKind) v6() bool        { return k == diffTCP6 || k == diffUDP6 }
func (k diffProbeKind) proto() uint8 {
	if k.udp() {
		return firewall.ProtoUDP
	}
	return firewall.ProtoTCP
}

// diffRejectErrno is the socket error a reject of this kind causes, for
// an IPv4 or IPv6 probe (icmp_err_convert, icmpv6_err_convert): IPv6 calls
// an administrative prohibition EACCES.
func diffRejectErrno(kind string, v6 bool) syscall.Errno {
	switch {
	case kind == "tcp reset", strings.HasSuffix(kind, "port-unreachable"):
		return syscall.ECONNREFUSED
	case v6 && (strings.HasSuffix(kind, "admin-prohibited") || strings.HasSuffix(kind, "policy-fail") || strings.HasSuffix(kind, "reject-route")):
		return syscall.EACCES
	case v6 && (strings.HasSuffix(kind, "host-prohibited") || strings.HasSuffix(kind, "net-prohibited")):
		return syscall.EACCES
	case strings.HasSuffix(kind, "admin-prohibited"), strings.HasSuffix(kind, "host-prohibited"), strings.HasSuffix(kind, "host-unreachable"),
		strings.HasSuffix(kind, "addr-unreachable"):
		return syscall.EHOSTUNREACH
	case strings.HasSuffix(kind, "net-unreachable"), strings.HasSuffix(kind, "net-prohibited"), strings.HasSuffix(kind, "no-route"):
		return syscall.ENETUNREACH
	case strings.HasSuffix(kind, "prot-unreachable"):
		return syscall.ENOPROTOOPT
	}
	return 0
}

// diffCompare returns why a decision and the kernel's outcome disagree,
// or "". What the client sees (Decision.Seen) is compared: a stopped
// SYN-ACK or a stopped reject answer is a timeout.
func diffCompare(d firewall.Decision, k diffKernel, v6 bool) string {
	seen := d.Seen()
	switch seen {
	case firewall.Indeterminate:
		if diffRandomChoice(d) {
			return "" // the ways a random choice can take lead to different verdicts: honestly undecided
		}
		return "the evaluator is indeterminate: " + d.Reason
	case firewall.Accept, firewall.Drop, firewall.Reject:
	default:
		return fmt.Sprintf("the evaluator gave an unknown verdict %q", d.Verdict)
	}
	if seen != k.verdict {
		if seen != d.Verdict {
			return fmt.Sprintf("the evaluator says %s, so the client sees %s; the kernel did %s", diffDecisionString(d), seen, k)
		}
		return fmt.Sprintf("the evaluator says %s, the kernel did %s", diffDecisionString(d), k)
	}
	if seen == firewall.Reject {
		want := diffRejectErrno(d.Reject, v6)
		if want == 0 {
			return fmt.Sprintf("the evaluator says reject with %q, which names no known reply; the kernel did %s", d.Reject, k)
		}
		if want != k.errno {
			return fmt.Sprintf("the evaluator says reject with %q (%s), the kernel did %s", d.Reject, diffErrnoName(want), k)
		}
	}
	return ""
}

// diffWalk says how the explained walk of p contradicts d, or "": the
// decision Evaluate gives with a walk recorded (every rule tried, no index)
// must be d, and the walk's own ending (Walk.Seen) what the client sees.
func diffWalk(ev *firewall.Evaluator, p firewall.Packet, d firewall.Decision) string {
	var w firewall.Walk
	dw := ev.Evaluate(p, firewall.RecordWalk(&w))
	if !reflect.DeepEqual(d, dw) {
		return fmt.Sprintf("with the walk recorded the decision is %s, without %s", diffDecisionString(dw), diffDecisionString(d))
	}
	v, r := w.Seen()
	if v != d.Seen() || (v == firewall.Reject && r != d.Reject) {
		return fmt.Sprintf("the walk ends in %s %s, the decision is %s %s", v, r, d.Seen(), d.Reject)
	}
	return ""
}

func diffDecisionString(d firewall.Decision) string {
	s := d.Verdict
	if d.Reject != "" {
		s += " with " + d.Reject
	}
	if d.Rule != nil {
		s += " by " + d.Rule.String()
	}
	if d.ReplyBlocked() || d.AnswerBlocked() {
		s += " (" + d.Reason + ")"
	}
	return s
}

func diffTrace(d firewall.Decision) string {
	var steps []string
	for _, s := range d.Trace {
		steps = append(steps, fmt.Sprintf("%s: %s -> %s", s.Hook, s.Ref.String(), s.Verdict))
	}
	if d.DNATAddr.IsValid() || d.DNATPort != 0 {
		steps = append(steps, fmt.Sprintf("dnat to %s:%d", d.DNATAddr, d.DNATPort))
	}
	for what, r := range map[string]*firewall.Decision{"reply": d.Reply, "answer": d.Answer} {
		if r == nil {
			continue
		}
		steps = append(steps, fmt.Sprintf("%s (iif %q, oif %q) -> %s", what, r.IIF, r.OIF, r.Verdict))
		for _, s := range r.Trace {
			steps = append(steps, fmt.Sprintf("  %s %s: %s -> %s", what, s.Hook, s.Ref.String(), s.Verdict))
		}
	}
	return strings.Join(steps, "\n\t\t")
}

// check loads a case into the lab's server, evaluates and probes every
// port, and reports each disagreement. c.Want, when set, holds the kernel
// outcomes the case is meant to show (so a broken lab cannot pass by
// breaking both sides alike).
func (dl *diffLab) check(t *testing.T, c diffCase, stats *diffStats) {
	ctx := t.Context()
	if !c.Keep {
		dl.reset(t)
		for _, p := range c.Parts {
			dl.load(t, p)
		}
	}
	snap, err := netfilter.Read(ctx, dl.server.Path())
	if err != nil {
		t.Fatalf("netfilter.Read: %v\n%s", err, c)
	}
	for _, n := range snap.Notes {
		t.Logf("snapshot note: %s", n)
	}
	ev := snap.Evaluator()

	// Each probe from a source port of its own; the evaluator judges the
	// same packet.
	type target struct {
		kind diffProbeKind
		port uint16
	}
	probe := func(timeout time.Duration, targets []target) ([]diffKernel, []uint16) {
		out, sports := make([]diffKernel, len(targets)), make([]uint16, len(targets))
		var wg sync.WaitGroup
		for i, tg := range targets {
			sports[i] = diffSourcePort()
			wg.Go(func() {
				out[i] = diffProbe(ctx, dl.client.Path(), tg.kind, sports[i], netip.AddrPortFrom(dl.server6(tg.kind), tg.port), timeout)
			})
		}
		wg.Wait()
		return out, sports
	}
	ports := c.Ports
	if ports == nil {
		ports = diffPorts
	}
	var targets []target
	for _, k := range c.probeKinds() {
		for _, p := range ports {
			targets = append(targets, target{k, p})
		}
	}
	kernel, sports := probe(diffTimeout, targets)
	packet := func(tg target, sport uint16) firewall.Packet {
		return firewall.Packet{Src: dl.client6(tg.kind), Dst: dl.server6(tg.kind), Proto: tg.kind.proto(), SPort: sport, DPort: tg.port}
	}
	eval := func(tg target, sport uint16) firewall.Decision { return ev.Evaluate(packet(tg, sport)) }

	decisions := make([]firewall.Decision, len(targets))
	var again []int
	for i, tg := range targets {
		decisions[i] = eval(tg, sports[i])
		if diffCompare(decisions[i], kernel[i], tg.kind.v6()) != "" && decisions[i].Seen() != firewall.Indeterminate {
			again = append(again, i)
		}
	}
	if len(again) > 0 {
		// Confirm with patient probes before blaming anyone.
		retry := make([]target, len(again))
		for j, i := range again {
			retry[j] = targets[i]
		}
		ks, sp := probe(diffRetryTimeout, retry)
		for j, i := range again {
			kernel[i], sports[i] = ks[j], sp[j]
			decisions[i] = eval(targets[i], sp[j])
		}
	}

	var problems []string
	for i, tg := range targets {
		sport, d, k := sports[i], decisions[i], kernel[i]
		why := diffCompare(d, k, tg.kind.v6())
		stats.probes.Add(1)
		if tg.kind.v6() {
			stats.v6.Add(1)
		}
		if tg.kind.udp() {
			stats.udp.Add(1)
		}
		if why == "" && d.ReplyBlocked() {
			stats.replies.Add(1)
		}
		if why == "" && d.AnswerBlocked() {
			stats.answers.Add(1)
		}
		if why == "" && len(d.Assumptions) > 0 {
			stats.assumed.Add(1)
		}
		if d.Branches > 1 {
			stats.branched.Add(1)
		}
		if d.Seen() == firewall.Indeterminate {
			stats.undecided.Add(1)
		}
		if strings.HasPrefix(c.Name, "fixture-real-") || strings.HasPrefix(c.Name, "real-") {
			stats.realWorld(strings.TrimPrefix(c.Name, "fixture-"), d.Seen() == firewall.Indeterminate)
		}
		switch k.verdict {
		case firewall.Accept:
			stats.accepts.Add(1)
		case firewall.Drop:
			stats.drops.Add(1)
		case firewall.Reject:
			stats.rejects.Add(1)
		}
		src, dst := dl.client6(tg.kind), dl.server6(tg.kind)
		if want, ok := c.Want[diffWantKey{tg.kind, tg.port}]; ok && want != k.verdict {
			problems = append(problems, fmt.Sprintf("%s %s -> %s: the case expects the kernel to %s, it did %s (is the lab broken?)",
				tg.kind, src, netip.AddrPortFrom(dst, tg.port), want, k))
		}
		if why != "" {
			problems = append(problems, fmt.Sprintf("%s %s (sport %d) -> %s: %s\n\t\t%s", tg.kind, src, sport, netip.AddrPortFrom(dst, tg.port), why, diffTrace(d)))
		}
		// What explain shows must be what verify decides: the walk (every
		// rule tried, no index) ends where the decision does.
		if bad := diffWalk(ev, packet(tg, sport), d); bad != "" {
			problems = append(problems, fmt.Sprintf("%s %s (sport %d) -> %s: the explained walk disagrees with the decision: %s", tg.kind, src, sport, netip.AddrPortFrom(dst, tg.port), bad))
		} else {
			stats.walks.Add(1)
		}
	}
	stats.cases.Add(1)
	if c.Known != "" {
		if len(problems) == 0 {
			t.Errorf("%s is marked known (%s) but the evaluator and the kernel agree now: delete its \"# known:\" line", c.Name, c.Known)
			return
		}
		t.Skipf("known disagreement (%s):\n\t%s", c.Known, strings.Join(problems, "\n\t"))
	}
	if len(problems) == 0 {
		return
	}
	t.Errorf("%s: the evaluator and the kernel disagree:\n\t%s\nruleset:\n%s", c.Name, strings.Join(problems, "\n\t"), c)
	if c.Seed != 0 {
		if *diffUpdate {
			diffSave(t, c, problems)
		} else {
			t.Logf("rerun with PORTCHECK_DIFF_SEEDS=%d go test -run 'TestDifferential/group/seed-%d$' -update-diff to keep it as a fixture in %s", c.Seed, c.Seed, diffDir)
		}
	}
}

// diffSave writes a generated case as fixture files.
func diffSave(t *testing.T, c diffCase, problems []string) {
	if err := os.MkdirAll(diffDir, 0o755); err != nil {
		t.Fatal(err)
	}
	var head strings.Builder
	fmt.Fprintf(&head, "# Generated by differential_gen_test.go from seed %d; lab: client %s, server %s on %s.\n", c.Seed, diffClient, diffServer, diffIface)
	head.WriteString("# The evaluator and the kernel disagreed:\n")
	// Probes that disagree for the same reason share one line.
	var whys []string
	ports := map[string][]string{}
	for _, p := range problems {
		line, _, _ := strings.Cut(p, "\n")
		probe, why, _ := strings.Cut(line, ": ")
		if _, ok := ports[why]; !ok {
			whys = append(whys, why)
		}
		ports[why] = append(ports[why], probe[strings.LastIndex(probe, ":")+1:])
	}
	for _, why := range whys {
		fmt.Fprintf(&head, "#   tcp %s -> %s port %s: %s\n", diffClient, diffServer, strings.Join(ports[why], ","), why)
	}
	// One file per kind: two nft tables go into one nft -f file.
	texts := map[string]string{}
	var kinds []string
	for _, p := range c.Parts {
		if _, ok := texts[p.Kind]; !ok {
			kinds = append(kinds, p.Kind)
		}
		texts[p.Kind] += p.Text
	}
	for _, kind := range kinds {
		name := filepath.Join(diffDir, fmt.Sprintf("failed-seed-%d.%s", c.Seed, kind))
		if err := os.WriteFile(name, []byte(head.String()+texts[kind]), 0o644); err != nil {
			t.Fatal(err)
		}
		t.Logf("wrote %s", name)
	}
}

// diffFixtures loads testdata/differential: files with the same name up to
// the extension (.nft, .iptables, .iptables-legacy) form one case, loaded
// nft first. A line "# expect PORT VERDICT" states what the kernel must do.
// A line "# known: WHY" marks a disagreement that is understood but not
// fixed yet (a parser bug reported to its owner): the case is skipped
// while it still disagrees, and fails once it agrees, so the line gets
// deleted and the fixture becomes a regression test.
func diffFixtures(t *testing.T) []diffCase {
	entries, err := os.ReadDir(diffDir)
	if err != nil {
		t.Fatalf("reading fixtures: %v", err)
	}
	byStem := map[string]*diffCase{}
	var stems []string
	for _, e := range entries {
		name := e.Name()
		var kind string
		for _, k := range []string{diffIptablesLegcy, diffIp6tables, diffIptables, diffNft, diffIPSet} {
			if strings.HasSuffix(name, "."+k) {
				kind = k
				break
			}
		}
		if kind == "" || e.IsDir() {
			continue
		}
		stem := strings.TrimSuffix(name, "."+kind)
		b, err := os.ReadFile(filepath.Join(diffDir, name))
		if err != nil {
			t.Fatal(err)
		}
		c := byStem[stem]
		if c == nil {
			c = &diffCase{Name: "fixture-" + stem, Want: map[diffWantKey]string{}}
			byStem[stem] = c
			stems = append(stems, stem)
		}
		c.Parts = append(c.Parts, diffPart{Kind: kind, Text: string(b)})
		sc := bufio.NewScanner(strings.NewReader(string(b)))
		for sc.Scan() {
			if known, ok := strings.CutPrefix(sc.Text(), "# known:"); ok {
				c.Known = strings.TrimSpace(known)
			}
			f := strings.Fields(sc.Text())
			if len(f) == 3 && f[0] == "#" && f[1] == "probes" {
				c.Probes = nil
				for _, k := range strings.Split(f[2], ",") {
					if !slices.Contains([]diffProbeKind{diffTCP4, diffUDP4, diffTCP6, diffUDP6}, diffProbeKind(k)) {
						t.Fatalf("%s: bad line %q: want # probes KIND,… of tcp4, udp4, tcp6, udp6", name, sc.Text())
					}
					c.Probes = append(c.Probes, diffProbeKind(k))
				}
				continue
			}
			if len(f) < 4 || len(f) > 5 || f[0] != "#" || f[1] != "expect" {
				continue
			}
			kind := diffTCP4
			if len(f) == 5 {
				kind, f = diffProbeKind(f[2]), append(f[:2], f[3:]...)
			}
			port, err := strconv.ParseUint(f[2], 10, 16)
			if err != nil || !slices.Contains([]string{firewall.Accept, firewall.Drop, firewall.Reject}, f[3]) {
				t.Fatalf("%s: bad line %q: want # expect [KIND] PORT accept|drop|reject", name, sc.Text())
			}
			c.Want[diffWantKey{kind, uint16(port)}] = f[3]
		}
	}
	slices.Sort(stems)
	order := map[string]int{diffNft: 0, diffIPSet: 1, diffIptables: 2, diffIp6tables: 3, diffIptablesLegcy: 4}
	var out []diffCase
	for _, s := range stems {
		c := byStem[s]
		slices.SortFunc(c.Parts, func(a, b diffPart) int { return order[a.Kind] - order[b.Kind] })
		out = append(out, *c)
	}
	return out
}

// diffDocker builds a Docker host: a bridge docker0 (172.17.0.1/16) in the
// server with a container namespace (172.17.0.2, listening on 80) behind
// it, forwarding on, and Docker's iptables rules publishing 8080 -> 80. A
// published port is decided in FORWARD, not in INPUT (whose policy drops),
// and so is its SYN-ACK, which comes back from docker0 with the
// container's address and port until srcnat (100) in postrouting puts the
// published ones back.
func diffDocker(t *testing.T, b string, stats *diffStats) {
	l := lab.New(t)
	c, s, ctr := l.Host("client"), l.Host("server"), l.Host("container")
	ca, sa := l.Link(c, s, "10.88.1")
	s.Exec("ip", "link", "add", "docker0", "type", "bridge")
	s.Exec("ip", "addr", "add", "172.17.0.1/16", "dev", "docker0")
	s.Exec("ip", "link", "set", "docker0", "up")
	s.Exec("ip", "link", "add", "vethh", "type", "veth", "peer", "name", "vethc", "netns", ctr.NS)
	s.Exec("ip", "link", "set", "vethh", "master", "docker0")
	s.Exec("ip", "link", "set", "vethh", "up")
	ctr.Exec("ip", "addr", "add", "172.17.0.2/16", "dev", "vethc")
	ctr.Exec("ip", "link", "set", "vethc", "up")
	ctr.Exec("ip", "route", "add", "default", "via", "172.17.0.1")
	ctr.ListenTCP("tcp4", "0.0.0.0:80")
	s.Exec("sysctl", "-q", "-w", "net.ipv4.ip_forward=1")
	diffClientSetup(c)
	diffServerSetup(s)
	dl := &diffLab{client: c, server: s, clientAddr: ca, serverAddr: sa, legacyTables: map[string]bool{}}

	const nftForward = "table inet filter {\n\tchain forward {\n\t\ttype filter hook forward priority filter; policy drop;\n%s\t}\n}\n"
	const nftPost = "table ip post {\n\tchain post {\n\t\ttype filter hook postrouting priority %d; policy accept;\n\t\t%s\n\t}\n}\n"
	const nftRaw = "table ip raw {\n\tchain pre {\n\t\ttype filter hook prerouting priority raw; policy accept;\n\t\t%s\n\t}\n}\n"
	const (
		established = "-A FORWARD -o docker0 -m conntrack --ctstate RELATED,ESTABLISHED -j ACCEPT"
		egress      = "-A FORWARD -i docker0 ! -o docker0 -j ACCEPT"
	)
	variants := []struct {
		name     string
		user     string   // DOCKER-USER rules
		omit     []string // lines of Docker's rules left out
		nft      string   // a native nft table next to Docker's
		noFwd    bool     // net.ipv4.ip_forward=0
		to       string   // the DNAT destination, default 172.17.0.2:80
		want8080 string
		// nativeNft: Docker's nftables backend (docker 29,
		// --firewall-backend=nftables) instead of its iptables rules;
		// user then holds nft rules of a host filter table.
		nativeNft bool
	}{
		{name: "published", want8080: firewall.Accept},
		{name: "user-drop", user: "-A DOCKER-USER -s " + diffClient + "/32 -j DROP\n", want8080: firewall.Drop},
		{name: "user-reset", user: "-A DOCKER-USER -s " + diffClient + "/32 -p tcp -j REJECT --reject-with tcp-reset\n", want8080: firewall.Reject},
		{name: "user-prohibited", user: "-A DOCKER-USER -s " + diffClient + "/32 -j REJECT --reject-with icmp-admin-prohibited\n", want8080: firewall.Reject},
		// An nft forward chain with policy drop blocks published ports too
		// (every base chain on the hook must accept) …
		{name: "nft-forward-drop", nft: fmt.Sprintf(nftForward, ""), want8080: firewall.Drop},
		// … unless it lets docker0's traffic through, and the replies: the
		// SYN-ACK crosses forward too, from docker0.
		{name: "nft-forward-docker0", nft: fmt.Sprintf(nftForward, "\t\tct state established,related accept\n\t\toifname \"docker0\" accept\n"), want8080: firewall.Accept},
		{name: "nft-forward-no-established", nft: fmt.Sprintf(nftForward, "\t\toifname \"docker0\" accept\n"), want8080: firewall.Drop},
		// The reply stopped in DOCKER-USER: dropped or rejected, the client
		// hears nothing (the RST or ICMP error goes to the container).
		{name: "user-reply-drop", user: "-A DOCKER-USER -i docker0 -j DROP\n", want8080: firewall.Drop},
		{name: "user-reply-reset", user: "-A DOCKER-USER -i docker0 -p tcp -j REJECT --reject-with tcp-reset\n", want8080: firewall.Drop},
		{name: "user-reply-prohibited", user: "-A DOCKER-USER -i docker0 -j REJECT --reject-with icmp-admin-prohibited\n", want8080: firewall.Drop},
		{name: "user-established-first", user: "-A DOCKER-USER -m conntrack --ctstate RELATED,ESTABLISHED -j ACCEPT\n-A DOCKER-USER -i docker0 -j DROP\n", want8080: firewall.Accept},
		// FORWARD sees the container's source, not the published one.
		{name: "user-reply-container-port", user: "-A DOCKER-USER -s 172.17.0.2/32 -p tcp -m tcp --sport 80 -j DROP\n", want8080: firewall.Drop},
		{name: "user-reply-published-port", user: "-A DOCKER-USER -s " + diffServer + "/32 -p tcp -m tcp --sport 8080 -j DROP\n", want8080: firewall.Accept},
		// FORWARD without its RELATED,ESTABLISHED rule still lets the
		// SYN-ACK out (-i docker0 ! -o docker0); without that one, only an
		// established rule does.
		{name: "no-established", omit: []string{established}, want8080: firewall.Accept},
		{name: "no-egress", omit: []string{egress}, want8080: firewall.Drop},
		{name: "no-egress-no-established", omit: []string{egress, established}, want8080: firewall.Drop},
		{name: "no-egress-user-established", omit: []string{egress}, user: "-A DOCKER-USER -m conntrack --ctstate RELATED,ESTABLISHED -j ACCEPT\n", want8080: firewall.Accept},
		// Postrouting before srcnat sees the container, after it the
		// published address and port.
		{name: "post-before-srcnat", nft: fmt.Sprintf(nftPost, 50, "ip saddr 172.17.0.2 tcp sport 80 drop"), want8080: firewall.Drop},
		{name: "post-after-srcnat-container", nft: fmt.Sprintf(nftPost, 150, "ip saddr 172.17.0.2 tcp sport 80 drop"), want8080: firewall.Accept},
		{name: "post-after-srcnat-published", nft: fmt.Sprintf(nftPost, 150, "ip saddr "+diffServer+" tcp sport 8080 drop"), want8080: firewall.Drop},
		// Before conntrack (raw, -300) the SYN-ACK has no connection yet.
		{name: "raw-reply-invalid", nft: fmt.Sprintf(nftRaw, `iifname "docker0" ct state invalid drop`), want8080: firewall.Drop},
		{name: "raw-reply-established", nft: fmt.Sprintf(nftRaw, `iifname "docker0" ct state established drop`), want8080: firewall.Accept},
		// After DNAT, routing decides: with forwarding off the packet is
		// dropped silently; without a route a forwarding host answers
		// ICMP net-unreachable.
		{name: "forwarding-off", noFwd: true, want8080: firewall.Drop},
		{name: "no-route", to: "192.0.2.1:80", want8080: firewall.Reject},
		// Docker's nftables backend: interface-keyed verdict maps, fib
		// daddr type local, DNAT in its own table; a host table's forward
		// chain decides too.
		{name: "native-nft-published", nativeNft: true, want8080: firewall.Accept},
		{name: "native-nft-host-forward-drop", nativeNft: true, nft: fmt.Sprintf(nftForward, ""), want8080: firewall.Drop},
		{name: "native-nft-host-forward-docker0", nativeNft: true,
			nft: fmt.Sprintf(nftForward, "\t\tct state established,related accept\n\t\toifname \"docker0\" accept\n"), want8080: firewall.Accept},
	}
	for _, v := range variants {
		t.Run(v.name, func(t *testing.T) {
			// The published port; INPUT's policy, the same in every
			// variant, is probed on the other ports once.
			want := map[diffWantKey]string{{diffTCP4, 8080}: v.want8080}
			c := diffCase{Name: "docker-" + b + "-" + v.name, Want: want, Ports: []uint16{8080}, Probes: []diffProbeKind{diffTCP4}}
			if v.name == "published" {
				c.Ports = nil
				for _, p := range diffPorts {
					if p != 8080 {
						want[diffWantKey{diffTCP4, p}] = firewall.Drop // INPUT policy DROP
					}
				}
			}
			if v.nft != "" {
				c.Parts = append(c.Parts, diffPart{Kind: diffNft, Text: v.nft})
			}
			if v.nativeNft {
				if b != diffIptables {
					t.Skip("Docker's nftables backend does not go with iptables-legacy")
				}
				c.Parts = append(c.Parts, diffPart{Kind: diffNft, Text: diffDockerNft(v.user)})
				dl.check(t, c, stats)
				return
			}
			rules := diffDockerRules(v.user, cmp.Or(v.to, "172.17.0.2:80"))
			for _, line := range v.omit {
				if !strings.Contains(rules, line+"\n") {
					t.Fatalf("Docker's rules have no line %q", line)
				}
				rules = strings.Replace(rules, line+"\n", "", 1)
			}
			c.Parts = append(c.Parts, diffPart{Kind: b, Text: rules})
			if v.noFwd {
				dl.run(t, "", "sysctl", "-q", "-w", "net.ipv4.ip_forward=0")
				defer dl.run(t, "", "sysctl", "-q", "-w", "net.ipv4.ip_forward=1")
			}
			dl.check(t, c, stats)
		})
	}
}

// diffDockerNft is what dockerd 29 with --firewall-backend=nftables
// writes for the default bridge and one container publishing 8080 -> 80
// (moby's integration/network/bridge/nftablesdoc), on the lab's docker0.
func diffDockerNft(string) string {
	return `table ip docker-bridges {
	map filter-forward-in-jumps {
		type ifname : verdict
		elements = { "docker0" : jump filter-forward-in__docker0 }
	}
	map filter-forward-out-jumps {
		type ifname : verdict
		elements = { "docker0" : jump filter-forward-out__docker0 }
	}
	map nat-postrouting-in-jumps {
		type ifname : verdict
		elements = { "docker0" : jump nat-postrouting-in__docker0 }
	}
	map nat-postrouting-out-jumps {
		type ifname : verdict
		elements = { "docker0" : jump nat-postrouting-out__docker0 }
	}
	chain filter-forward-in__docker0 {
		ct state established,related counter accept
		iifname "docker0" counter accept comment "ICC"
		ip daddr 172.17.0.2 tcp dport 80 counter accept
		counter drop comment "UNPUBLISHED PORT DROP"
	}
	chain filter-forward-out__docker0 {
		ct state established,related counter accept
		counter accept comment "OUTGOING"
	}
	chain nat-postrouting-in__docker0 {
	}
	chain nat-postrouting-out__docker0 {
		oifname != "docker0" ip saddr 172.17.0.0/16 counter masquerade comment "MASQUERADE"
	}
	chain nat-prerouting-and-output {
		iifname != "docker0" tcp dport 8080 counter dnat to 172.17.0.2:80 comment "DNAT"
	}
	chain filter-FORWARD {
		type filter hook forward priority filter; policy accept;
		oifname vmap @filter-forward-in-jumps
		iifname vmap @filter-forward-out-jumps
	}
	chain nat-OUTPUT {
		type nat hook output priority -100; policy accept;
		ip daddr != 127.0.0.0/8 fib daddr type local counter jump nat-prerouting-and-output
	}
	chain nat-POSTROUTING {
		type nat hook postrouting priority srcnat; policy accept;
		iifname vmap @nat-postrouting-out-jumps
		oifname vmap @nat-postrouting-in-jumps
	}
	chain nat-PREROUTING {
		type nat hook prerouting priority dstnat; policy accept;
		fib daddr type local counter jump nat-prerouting-and-output
	}
	chain raw-PREROUTING {
		type filter hook prerouting priority raw; policy accept;
		ip daddr 172.17.0.2 iifname != "docker0" counter drop comment "DROP DIRECT ACCESS"
	}
}
`
}

// diffDockerRules is what dockerd writes for one container publishing
// 8080 -> 80 (to), with user rules inserted into DOCKER-USER.
func diffDockerRules(user, to string) string {
	return `*nat
:PREROUTING ACCEPT [0:0]
:INPUT ACCEPT [0:0]
:OUTPUT ACCEPT [0:0]
:POSTROUTING ACCEPT [0:0]
:DOCKER - [0:0]
-A PREROUTING -m addrtype --dst-type LOCAL -j DOCKER
-A OUTPUT ! -d 127.0.0.0/8 -m addrtype --dst-type LOCAL -j DOCKER
-A POSTROUTING -s 172.17.0.0/16 ! -o docker0 -j MASQUERADE
-A POSTROUTING -s 172.17.0.2/32 -d 172.17.0.2/32 -p tcp -m tcp --dport 80 -j MASQUERADE
-A DOCKER -i docker0 -j RETURN
-A DOCKER ! -i docker0 -p tcp -m tcp --dport 8080 -j DNAT --to-destination ` + to + `
COMMIT
*filter
:INPUT DROP [0:0]
:FORWARD DROP [0:0]
:OUTPUT ACCEPT [0:0]
:DOCKER - [0:0]
:DOCKER-ISOLATION-STAGE-1 - [0:0]
:DOCKER-ISOLATION-STAGE-2 - [0:0]
:DOCKER-USER - [0:0]
-A FORWARD -j DOCKER-USER
-A FORWARD -j DOCKER-ISOLATION-STAGE-1
-A FORWARD -o docker0 -m conntrack --ctstate RELATED,ESTABLISHED -j ACCEPT
-A FORWARD -o docker0 -j DOCKER
-A FORWARD -i docker0 ! -o docker0 -j ACCEPT
-A FORWARD -i docker0 -o docker0 -j ACCEPT
-A DOCKER -d 172.17.0.2/32 ! -i docker0 -o docker0 -p tcp -m tcp --dport 80 -j ACCEPT
-A DOCKER-ISOLATION-STAGE-1 -i docker0 ! -o docker0 -j DOCKER-ISOLATION-STAGE-2
-A DOCKER-ISOLATION-STAGE-1 -j RETURN
-A DOCKER-ISOLATION-STAGE-2 -o docker0 -j DROP
-A DOCKER-ISOLATION-STAGE-2 -j RETURN
` + user + `-A DOCKER-USER -j RETURN
COMMIT
`
}

// TestDifferentialFirewalld checks the evaluator against the kernel on the
// ruleset a real firewalld writes (its nftables backend, IPv4 and IPv6):
// the reverse-path check for IPv6 (fib saddr . mark . iif oif missing
// drop), ct status dnat, the zone dispatch, services and ports with ct
// state { new, untracked }, rich rules with a limit, a reject and a
// source, and the log rules LogDenied=all adds (meta pkttype, limits).
// firewalld runs in the lab's server namespace on a private bus.
func TestDifferentialFirewalld(t *testing.T) {
	lab.Require(t, "nft", "firewalld", "firewall-cmd", "dbus-daemon")
	dl := newDiffLab(t)
	dl.reset(t)
	fw := dl.server.StartFirewalld(t)
	stats := &diffStats{}
	for _, logDenied := range []string{"off", "all"} {
		t.Run("log-denied-"+logDenied, func(t *testing.T) {
			// Setting LogDenied reloads firewalld, which forgets runtime
			// changes: make them after it.
			fw.Cmd(t, "--set-log-denied="+logDenied)
			fw.Cmd(t, "--zone=public", "--change-interface="+diffIface)
			fw.Cmd(t, "--zone=public", "--add-port=8080/tcp")
			fw.Cmd(t, "--zone=public", "--add-port=7000-7001/udp")
			fw.Cmd(t, "--zone=public", `--add-rich-rule=rule family="ipv4" port port="443" protocol="tcp" accept limit value="10/m"`)
			fw.Cmd(t, "--zone=public", `--add-rich-rule=rule family="ipv4" source address="10.88.1.0/24" port port="9100" protocol="tcp" reject`)
			fw.Cmd(t, "--zone=public", `--add-rich-rule=rule family="ipv6" source address="fd88:1::/64" port port="80" protocol="tcp" accept`)
			c := diffCase{Name: "real-firewalld-log-denied-" + logDenied, Keep: true,
				Probes: []diffProbeKind{diffTCP4, diffUDP4, diffTCP6, diffUDP6},
				Want: map[diffWantKey]string{
					{diffTCP4, 22}: firewall.Accept, {diffTCP6, 22}: firewall.Accept, {diffTCP4, 8080}: firewall.Accept,
					{diffTCP4, 9100}: firewall.Reject, {diffTCP6, 80}: firewall.Accept, {diffTCP4, 80}: firewall.Reject,
					{diffUDP4, 7000}: firewall.Accept,
				}}
			dl.check(t, c, stats)
		})
	}
	for name, v := range stats.real {
		t.Logf("%s: %d probes, %d undecided", name, v[0], v[1])
		if v[1]*20 > v[0] {
			t.Errorf("%s: %d of %d probes undecided, more than 5%%", name, v[1], v[0])
		}
	}
}

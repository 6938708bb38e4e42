// Package path observes layer 5, the network path: when ICMP ping works but
// the port does not, it traces the path to the port the way
// `traceroute -T -p PORT` and `mtr --tcp -P PORT` do, and reports where the
// probes stop.
//
// How it probes (Linux):
//
//   - tcp (default): one non-blocking TCP socket per probe, with IP_TTL /
//     IPV6_UNICAST_HOPS set to the probe's TTL and IP_RECVERR /
//     IPV6_RECVERR on, connect()s to the target port. A router where the TTL
//     runs out answers with ICMP time-exceeded; the kernel matches it to the
//     socket by the quoted 4-tuple and sequence number, aborts the connect in
//     SYN_SENT with EHOSTUNREACH and queues the ICMP, with the router's
//     address (SO_EE_OFFENDER), on the socket's error queue (tcp_v4_err /
//     tcp_v6_err call ip_icmp_error before tcp_done). A completed handshake
//     or ECONNREFUSED with an empty queue (a RST) means the target answered.
//     No raw socket is needed for this mode.
//   - udp: the same with connected UDP sockets; ICMP port-unreachable from
//     the target (or a reply datagram) means the target answered.
//   - icmp: echo requests with rising TTL on one raw ICMP socket; the quoted
//     echo header (identifier, sequence) in time-exceeded messages matches
//     them.
//
// Like mtr, every TTL is probed Rounds times; up to window TTLs are in
// flight at once. Rounds beyond a router's ICMP burst are paced (see
// defaultInterval), so the routers' own ICMP rate limit does not read as
// loss. A trace whose target has not answered stops after notReachedRounds
// rounds, probing only up to one TTL past the last answer: more rounds
// could not move where the probes stop. Every trace also pings the target
// (ICMP echo on a raw socket, so CAP_NET_RAW is required), the seed's
// preparation step.
//
// A provider observes and never decides pass or fail: an error means the
// trace could not be made at all, never that the path is broken.
package path

import (
	"context"
	"fmt"
	"math"
	"net/netip"
	"sort"
	"strings"
	"time"

	"github.com/portcheck/portcheck/providers"
)

// Defaults of Params for callers that leave them zero; the runner passes
// the configuration's (config.DefaultPath*), which are the same.
const (
	DefaultMaxHops = 30
	DefaultRounds  = 10
	DefaultTimeout = time.Second
)

// window is how many TTLs are probed at once; maxUnknown is how many silent
// TTLs in a row (after the last answer) end the first round, like mtr's
// --max-unknown; notReachedRounds is how many rounds a trace whose target
// never answered runs before it stops.
const (
	window           = 5
	maxUnknown       = 5
	notReachedRounds = 3
)

// icmpBurst is how many ICMP errors a Linux router sends one destination
// at once before its rate limit (net.ipv4.icmp_ratelimit, 1/s, with a
// burst of 6 tokens) holds the rest back.
const icmpBurst = 6

// Params tunes a trace; the zero value means the defaults.
type Params struct {
	Mode    string        `json:"mode,omitempty"`     // "tcp" (default), "udp", "icmp"
	MaxHops int           `json:"max_hops,omitempty"` // default 30
	Rounds  int           `json:"rounds,omitempty"`   // probes per TTL, mtr-style; default 10
	Timeout time.Duration `json:"timeout,omitempty"`  // per probe; default 1s
	// Interval is the least time from the start of one round to the next;
	// 0 = defaultInterval(Rounds), negative = no pacing.
	Interval time.Duration `json:"interval,omitempty"`
}

// defaultInterval paces rounds so that a router's ICMP token bucket (a
// burst of icmpBurst, then one per second) covers every round:
// burst + (rounds-1)*interval/1s >= rounds, with one token to spare.
// Up to icmpBurst-1 rounds need no pacing; 10 rounds take about 5 s, as
// mtr's 10 take 10 s.
func defaultInterval(rounds int) time.Duration {
	if rounds < icmpBurst {
		return 0
	}
	return time.Duration(rounds-icmpBurst+2) * time.Second / time.Duration(rounds-1)
}

// Hop is one TTL of the trace.
type Hop struct {
	TTL      int     `json:"ttl"`
	Addr     string  `json:"addr"` // responder; "" = no answer (*)
	Sent     int     `json:"sent"`
	Received int     `json:"received"`
	LossPct  float64 `json:"loss_pct"`
	MinMs    float64 `json:"min_ms"`
	AvgMs    float64 `json:"avg_ms"`
	MaxMs    float64 `json:"max_ms"`
	// Final is true when the target itself answered at this TTL (SYN-ACK or
	// RST for tcp, port-unreachable or a reply for udp, echo-reply for icmp).
	Final bool `json:"final,omitempty"`
	// LossNotCarried is set when this hop lost probes but every later hop
	// lost fewer and the end of the trace lost none: the loss is the
	// router rate-limiting its ICMP, not packets lost on the path.
	LossNotCarried bool `json:"loss_not_carried,omitempty"`
}

// PingFacts is the ICMP echo reachability of the target.
type PingFacts struct {
	Sent     int     `json:"sent"`
	Received int     `json:"received"`
	AvgMs    float64 `json:"avg_ms"`
}

// Facts is what a trace observed.
type Facts struct {
	Mode    string `json:"mode"`
	Target  string `json:"target"`
	Hops    []Hop  `json:"hops"`
	Reached bool   `json:"reached"` // the target answered
	// StopsAfter is, when the target was not reached, the address of the
	// last hop that answered ("" if none did), and StopsAfterTTL its TTL.
	StopsAfter    string     `json:"stops_after,omitempty"`
	StopsAfterTTL int        `json:"stops_after_ttl,omitempty"`
	Ping          *PingFacts `json:"ping,omitempty"`
	Notes         []string   `json:"notes,omitempty"`
	// MaxHops is the TTL limit of the trace; OutOfHops is set when the
	// target was not reached and the hop at MaxHops still answered: the
	// path is longer than MaxHops, nothing is known to stop the probes.
	MaxHops   int  `json:"max_hops,omitempty"`
	OutOfHops bool `json:"out_of_hops,omitempty"`
	// Rounds is how many rounds ran (Rounds asked for, fewer when the
	// trace stopped early); Sent counts every probe sent.
	Rounds int `json:"rounds,omitempty"`
	Sent   int `json:"sent,omitempty"`
}

// result kinds of one probe.
const (
	kindSilent  = iota // no answer within the timeout
	kindHop            // time-exceeded from a router
	kindFinal          // the target answered
	kindUnreach        // destination-unreachable from a router: the path ends there
	kindLocal          // the vantage itself refused to send (routing, output policy)
)

// result is one probe's answer.
type result struct {
	ttl  int
	kind int
	from netip.Addr
	rtt  time.Duration
	what string // ICMP name or errno, for notes
}

func (p Params) withDefaults() (Params, error) {
	p.Mode = strings.ToLower(p.Mode)
	switch p.Mode {
	case "":
		p.Mode = "tcp"
	case "tcp", "udp", "icmp":
	default:
		return p, fmt.Errorf("traceroute: mode %q not supported (tcp, udp or icmp)", p.Mode)
	}
	if p.MaxHops <= 0 {
		p.MaxHops = DefaultMaxHops
	}
	if p.MaxHops > 255 {
		p.MaxHops = 255
	}
	if p.Rounds <= 0 {
		p.Rounds = DefaultRounds
	}
	if p.Timeout <= 0 {
		p.Timeout = DefaultTimeout
	}
	switch {
	case p.Interval == 0:
		p.Interval = defaultInterval(p.Rounds)
	case p.Interval < 0:
		p.Interval = 0
	}
	return p, nil
}

// Trace traces the path from exec to target. The target must be an IP
// literal (resolving a name would leave the vantage's namespace); the port
// is needed for tcp and udp.
func Trace(ctx context.Context, exec providers.Exec, target providers.Target, p Params) (*Facts, error) {
	p, err := p.withDefaults()
	if err != nil {
		return nil, err
	}
	if !target.Address.IsValid() {
		return nil, fmt.Errorf("traceroute: no target address")
	}
	addr := target.Address.Unmap()
	if p.Mode != "icmp" && (target.Port < 1 || target.Port > 65535) {
		return nil, fmt.Errorf("traceroute: target port %d out of range 1-65535", target.Port)
	}
	t := &tracer{
		ns:   providers.NetnsPath(exec.Netns),
		mode: p.Mode,
		dst:  netip.AddrPortFrom(addr, uint16(target.Port)),
		p:    p,
	}
	f := &Facts{Mode: p.Mode, Target: t.dst.String(), MaxHops: p.MaxHops}
	if p.Mode == "icmp" {
		f.Target = addr.String()
	}

	// The raw ICMP socket serves the ping and, in icmp mode, the trace.
	ic, err := openICMP(t.ns, addr)
	if err != nil {
		return nil, err
	}
	defer ic.close()
	t.icmp = ic

	ping, err := t.ping(ctx)
	if err != nil {
		return nil, err
	}
	f.Ping = ping

	run, err := t.run(ctx)
	if err != nil {
		return nil, err
	}
	f.Notes = append(f.Notes, run.notes...)
	f.Rounds, f.Sent = run.rounds, run.sent
	summarize(f, run.byTTL, run.limit)
	return f, nil
}

// traceRun is what the rounds of a trace collected.
type traceRun struct {
	byTTL  map[int][]result
	limit  int // the last TTL probed (or the final one)
	rounds int
	sent   int
	notes  []string
}

// lastAnswer is the highest TTL with any answer so far, 0 if none.
func lastAnswer(byTTL map[int][]result) int {
	last := 0
	for ttl, rs := range byTTL {
		for _, r := range rs {
			if r.kind != kindSilent && ttl > last {
				last = ttl
			}
		}
	}
	return last
}

// run probes TTL 1..limit up to Rounds times.
func (t *tracer) run(ctx context.Context) (traceRun, error) {
	byTTL := map[int][]result{}
	var notes []string
	limit := t.p.MaxHops
	final := 0 // lowest TTL at which the path ended (target answered or unreachable)
	rounds, sent := 0, 0
	var roundStart time.Time
	for round := 0; round < t.p.Rounds; round++ {
		if round > 0 && final == 0 {
			// Where the probes stop is known after the first round; probe
			// one TTL past the last answer, and only a few rounds more:
			// a drop stays a drop, loss would show in them.
			last := lastAnswer(byTTL)
			if round >= notReachedRounds {
				notes = append(notes, fmt.Sprintf("stopped after %d of %d rounds: the target never answered and no probe beyond TTL %d was answered, so more rounds would not change where the probes stop", round, t.p.Rounds, last))
				break
			}
			if last > 0 && last+1 < limit {
				limit = last + 1
			}
		}
		if round > 0 && t.p.Interval > 0 {
			if err := sleepCtx(ctx, time.Until(roundStart.Add(t.p.Interval))); err != nil {
				return traceRun{}, err
			}
		}
		roundStart = time.Now()
		rounds++
		silentRun := 0
		for lo := 1; lo <= limit; lo += window {
			hi := min(lo+window-1, limit)
			if final > 0 {
				hi = min(hi, final)
			}
			if lo > hi {
				break
			}
			ttls := make([]int, 0, hi-lo+1)
			for ttl := lo; ttl <= hi; ttl++ {
				ttls = append(ttls, ttl)
			}
			if err := ctx.Err(); err != nil {
				return traceRun{}, err
			}
			res, err := t.window(ctx, ttls)
			if err != nil {
				return traceRun{}, err
			}
			sent += len(res)
			sort.Slice(res, func(i, j int) bool { return res[i].ttl < res[j].ttl })
			for _, r := range res {
				if final > 0 && r.ttl > final {
					continue // beyond the end, e.g. more SYNs that reached the target
				}
				byTTL[r.ttl] = append(byTTL[r.ttl], r)
				if r.kind == kindFinal || r.kind == kindUnreach || r.kind == kindLocal {
					if final == 0 || r.ttl < final {
						final = r.ttl
					}
				}
			}
			if final > 0 {
				limit = final
				break
			}
			if round == 0 {
				for _, r := range res {
					if r.kind == kindSilent {
						silentRun++
					} else {
						silentRun = 0
					}
				}
				if silentRun >= maxUnknown && hi < limit {
					notes = append(notes, fmt.Sprintf("stopped probing at TTL %d after %d silent TTLs in a row (like mtr --max-unknown)", hi, silentRun))
					limit = hi
					break
				}
			}
		}
	}
	if final > 0 {
		// Drop anything recorded beyond the end in earlier rounds.
		for ttl := range byTTL {
			if ttl > final {
				delete(byTTL, ttl)
			}
		}
		limit = final
	}
	return traceRun{byTTL: byTTL, limit: limit, rounds: rounds, sent: sent, notes: notes}, nil
}

func sleepCtx(ctx context.Context, d time.Duration) error {
	if d <= 0 {
		return ctx.Err()
	}
	tm := time.NewTimer(d)
	defer tm.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-tm.C:
		return nil
	}
}

// summarize turns the answers into hops and the verdict-free facts.
func summarize(f *Facts, byTTL map[int][]result, limit int) {
	lastResp := 0
	for ttl := 1; ttl <= limit; ttl++ {
		for _, r := range byTTL[ttl] {
			if r.kind != kindSilent {
				lastResp = ttl
			}
		}
	}
	end := min(lastResp+1, limit) // one "*" hop shows where the answers end
	var unreach, local []string
	for ttl := 1; ttl <= end; ttl++ {
		rs := byTTL[ttl]
		h := Hop{TTL: ttl, Sent: len(rs)}
		count := map[netip.Addr]int{}
		var first []netip.Addr
		var sum time.Duration
		for _, r := range rs {
			if r.kind == kindSilent {
				continue
			}
			if r.kind == kindLocal {
				local = append(local, fmt.Sprintf("TTL %d: the vantage itself refused to send (%s)", ttl, r.what))
				continue
			}
			h.Received++
			if r.from.IsValid() {
				if count[r.from] == 0 {
					first = append(first, r.from)
				}
				count[r.from]++
			}
			ms := float64(r.rtt) / 1e6
			if h.Received == 1 || ms < h.MinMs {
				h.MinMs = ms
			}
			if ms > h.MaxMs {
				h.MaxMs = ms
			}
			sum += r.rtt
			if r.kind == kindFinal {
				h.Final = true
				if r.what != "" {
					f.Notes = append(f.Notes, fmt.Sprintf("the target %s answered TTL %d with %s", r.from, ttl, r.what))
				}
			}
			if r.kind == kindUnreach {
				unreach = append(unreach, fmt.Sprintf("TTL %d: %s from %s: the path ends at that router (a reject rule or a missing route there)", ttl, r.what, r.from))
			}
		}
		if h.Sent > 0 {
			h.LossPct = round2(100 * float64(h.Sent-h.Received) / float64(h.Sent))
		}
		if h.Received > 0 {
			h.AvgMs = round3(float64(sum) / 1e6 / float64(h.Received))
			h.MinMs, h.MaxMs = round3(h.MinMs), round3(h.MaxMs)
		}
		best := netip.Addr{}
		for _, a := range first {
			if !best.IsValid() || count[a] > count[best] {
				best = a
			}
		}
		if best.IsValid() {
			h.Addr = best.String()
		}
		if len(first) > 1 {
			var all []string
			for _, a := range first {
				all = append(all, a.String())
			}
			f.Notes = append(f.Notes, fmt.Sprintf("TTL %d answered from several addresses (%s): load-balanced paths", ttl, strings.Join(all, ", ")))
		}
		if h.Final {
			f.Reached = true
		}
		f.Hops = append(f.Hops, h)
	}
	f.Notes = append(f.Notes, dedup(unreach)...)
	f.Notes = append(f.Notes, dedup(local)...)

	if !f.Reached {
		for i := len(f.Hops) - 1; i >= 0; i-- {
			if f.Hops[i].Addr != "" {
				f.StopsAfter, f.StopsAfterTTL = f.Hops[i].Addr, f.Hops[i].TTL
				break
			}
		}
		what := "the target"
		if f.Mode != "icmp" {
			what = fmt.Sprintf("%s probes to %s", f.Mode, f.Target)
		}
		// Out of hops: the last TTL allowed still got time-exceeded, so the
		// probes were still being forwarded when the trace had to stop.
		f.OutOfHops = len(unreach) == 0 && len(local) == 0 && f.StopsAfterTTL > 0 && f.StopsAfterTTL == f.MaxHops && lastResp == f.MaxHops
		switch {
		case f.OutOfHops:
			f.Notes = append(f.Notes, fmt.Sprintf("%s were still forwarded at TTL %d (%s), the last allowed (max_hops): the path is longer than %d hops; nothing shows the probes being stopped", what, f.MaxHops, f.StopsAfter, f.MaxHops))
		case len(unreach) > 0:
			// The unreachable note above already says where the path ends.
		case f.StopsAfter != "":
			// A router checks the TTL before its forward hook, so it still
			// answers the probe that expires there when its forward chain
			// drops the rest: the last answering hop is the first suspect.
			f.Notes = append(f.Notes, fmt.Sprintf("%s get no answer beyond TTL %d (%s): its forward chain drops them (it still answers the probes that expire there), or the next hop's prerouting/input chain does, or %s has no route onward", what, f.StopsAfterTTL, f.StopsAfter, f.StopsAfter))
		case limit > 0:
			f.Notes = append(f.Notes, fmt.Sprintf("%s got no answer from any hop (TTL 1-%d)", what, limit))
		}
	}
	for _, h := range f.Hops {
		if h.Addr == "" && h.TTL < lastResp {
			f.Notes = append(f.Notes, fmt.Sprintf("TTL %d gave no answer (*) but later hops did: that router does not send ICMP time-exceeded (or rate-limits it); it is not where the path breaks", h.TTL))
		}
	}
	markLossNotCarried(f)
	if ping := f.Ping; ping != nil && !f.OutOfHops {
		switch {
		case ping.Received == 0 && f.Reached:
			f.Notes = append(f.Notes, "the target does not answer ICMP echo (ping) although the trace reached it: ping is blocked, the path works")
		case ping.Received == 0:
			f.Notes = append(f.Notes, "the target does not answer ICMP echo (ping) either; ping may just be blocked, so this alone does not prove the host is down")
		case !f.Reached && f.Mode != "icmp":
			f.Notes = append(f.Notes, fmt.Sprintf("ping reaches the target but %s probes to port %d do not: something on the path filters the port", f.Mode, int(mustPort(f.Target))))
		}
	}
}

func mustPort(s string) uint16 {
	ap, err := netip.ParseAddrPort(s)
	if err != nil {
		return 0
	}
	return ap.Port()
}

func dedup(s []string) []string {
	seen := map[string]bool{}
	var out []string
	for _, x := range s {
		if !seen[x] {
			seen[x] = true
			out = append(out, x)
		}
	}
	return out
}

func round2(x float64) float64 { return float64(int64(x*100+0.5)) / 100 }
func round3(x float64) float64 { return float64(int64(x*1000+0.5)) / 1000 }

// markLossNotCarried flags the hops whose loss is the router's ICMP rate
// limit rather than loss on the path. Loss on a link shows at every hop
// after it, the end included; a router that limits its time-exceeded
// messages loses only its own hop. A hop qualifies only when the end of
// the trace lost none of its probes and, had the hop's loss rate been on
// the path, losing none there would have had a chance below 5%
// ((1-loss)^n < 0.05): real loss is never explained away as rate limiting,
// and with few rounds no hop qualifies.
func markLossNotCarried(f *Facts) {
	n := len(f.Hops)
	if n == 0 {
		return
	}
	end := f.Hops[n-1]
	if !end.Final || end.Sent == 0 || end.Received != end.Sent {
		return
	}
	for i := range f.Hops[:n-1] {
		h := &f.Hops[i]
		if h.Received == 0 || h.Received == h.Sent {
			continue // silent hops have their own note
		}
		if math.Pow(1-h.LossPct/100, float64(end.Sent)) >= 0.05 {
			continue // too few probes at the end to tell
		}
		h.LossNotCarried = true
		f.Notes = append(f.Notes, fmt.Sprintf("the %.0f%% loss at TTL %d does not carry on: the target answered all %d probes, which loss on the path would hardly allow, so that router rate-limits its ICMP (as Linux does by default); the path does not lose packets there", h.LossPct, h.TTL, end.Sent))
	}
}

package runner

import (
	"context"
	"errors"
	"fmt"
	"net/netip"
	"slices"
	"strings"
	"sync"

	"github.com/portcheck/portcheck/config"
	"github.com/portcheck/portcheck/providers"
	"github.com/portcheck/portcheck/providers/firewall"
)

// ephemeralPort is the source port of judged packets: one in Linux's
// default ephemeral range (32768–60999), as a real client would use.
const ephemeralPort = 40000

// maxSourceSamples bounds how many stretches of a declared source range
// are judged.
const maxSourceSamples = 4096

// filterSnapshot is a host's packet filter as L2 (and L1's DNAT, L4's
// hint) judge it, read once per run.
type filterSnapshot struct {
	once sync.Once
	snap firewall.View
	err  error
}

// filter returns the host's packet filter, read once per run.
func (v *verifier) filter(ctx context.Context, exec providers.Exec) *filterSnapshot {
	v.mu.Lock()
	s, ok := v.filters[hostKey(exec)]
	if !ok {
		s = &filterSnapshot{}
		v.filters[hostKey(exec)] = s
	}
	v.mu.Unlock()
	s.once.Do(func() {
		hf, err := v.hostFactsOf(exec)
		if err != nil {
			s.err = err
			return
		}
		s.snap, s.err = viewOf(hf.Firewall(ctx))
	})
	return s
}

// readFilter is where a host's packet filter comes from: read live in the
// host's namespace by the reader linked into the binary (netfilter). Every
// command that judges a filter (verify, explain) gets it here.
func readFilter(ctx context.Context, exec providers.Exec) (firewall.View, error) {
	return firewall.Read(ctx, exec.Netns)
}

// viewOf turns a facts source's packet filter into the view the
// evaluators use, minding the typed nil: no filter is an error, not a
// view that panics.
func viewOf[S interface {
	firewall.View
	comparable
}](snap S, err error) (firewall.View, error) {
	var zero S
	if err != nil {
		return nil, err
	}
	if snap == zero {
		return nil, errors.New("the facts hold no packet filter")
	}
	return snap, nil
}

// FirewallEvidence is what an L2 result was judged on.
type FirewallEvidence struct {
	Manager string `json:"manager"`
	// Judged lists each packet with the verdict (one for a vantage host,
	// one per source stretch for a declared range; failures first, at most
	// a few).
	Judged    []JudgedPacket `json:"judged"`
	Stretches int            `json:"stretches,omitempty"`
	// Firewalld is the managing tool's view of the port (firewalld's zone,
	// runtime, permanent, drift).
	Firewalld *FirewalldEvidence  `json:"firewalld,omitempty"`
	Docker    *firewall.Published `json:"docker_published,omitempty"`
	Notes     []string            `json:"notes,omitempty"`
}

// JudgedPacket is one packet and the evaluator's decision for it.
type JudgedPacket struct {
	Packet   firewall.Packet   `json:"packet"`
	Decision firewall.Decision `json:"decision"`
}

// FirewalldEvidence is firewalld's view of the port for the packet's zone:
// what opens it now ("" = nothing), what opens it after a reload, and the
// zone's drift.
type FirewalldEvidence = firewall.ManagedPort

type firewallExpected struct {
	Verdict   string `json:"verdict"` // accept or deny
	Sources   string `json:"sources,omitempty"`
	Backend   string `json:"backend,omitempty"`
	Permanent bool   `json:"permanent"`
}

func (v *verifier) runFirewall(ctx context.Context, ep *config.Endpoint, c *Check) *Result {
	fs := v.filter(ctx, c.Exec)
	if fs.err != nil {
		return errorResult(c, "reading the packet filter", fs.err)
	}
	packets, err := firewallPackets(&v.sources, c, ep.Expect.Firewall, fs.snap.Evaluator())
	if err != nil {
		return errorResult(c, "building the packet to judge", err)
	}
	ev := fs.snap.Evaluator()
	judged := make([]JudgedPacket, len(packets))
	for i, p := range packets {
		judged[i] = JudgedPacket{Packet: p, Decision: ev.Evaluate(p)}
	}
	return evalFirewall(c, ep, fs.snap, judged)
}

// firewallPackets builds the packets a check judges: the one a vantage
// host sends, or one per stretch of a declared source range.
func firewallPackets(sc *sourceCache, c *Check, fw *config.ExpectFirewall, ev *firewall.Evaluator) ([]firewall.Packet, error) {
	dst := c.Target.Address
	proto := firewall.ProtoTCP
	if c.Target.Protocol == "udp" {
		proto = firewall.ProtoUDP
	}
	pkt := func(src netip.Addr) firewall.Packet {
		return firewall.Packet{Src: src, Dst: dst, Proto: proto, SPort: ephemeralPort, DPort: uint16(c.Target.Port)}
	}
	if !c.Sources.IsValid() {
		src, err := vantageSource(sc, c, dst)
		if err != nil {
			return nil, err
		}
		return []firewall.Packet{pkt(src)}, nil
	}
	// The opposite declarations cut the range too, so every stretch outside
	// them has its own sample.
	flow := firewall.Flow{Dst: dst, Proto: proto, DPort: uint16(c.Target.Port), SPort: ephemeralPort}
	samples, truncated := ev.SourceSamples(c.Sources, maxSourceSamples, flow, oppositeSources(fw, c)...)
	if truncated {
		return nil, fmt.Errorf("%s splits into more than %d stretches that rules treat differently; declare narrower ranges", c.Sources, maxSourceSamples)
	}
	out := make([]firewall.Packet, 0, len(samples))
	for i, s := range samples {
		// Show a host address rather than the network address when the
		// stretch has one (the verdict is the same across a stretch).
		if i == 0 && s == c.Sources.Addr() && s.Next().IsValid() && c.Sources.Contains(s.Next()) && (len(samples) == 1 || samples[1] != s.Next()) {
			s = s.Next()
		}
		out = append(out, pkt(s))
	}
	return out, nil
}

// vantageSource is the address the vantage host sends from: its own route
// lookup when it can be entered here, else its declared address.
func vantageSource(sc *sourceCache, c *Check, dst netip.Addr) (netip.Addr, error) {
	if c.FromExec != nil {
		return sc.sourceFor(c.FromExec.Netns, dst)
	}
	if a, ok := sameFamily(c.FromAddrs, dst); ok {
		return a, nil
	}
	return netip.Addr{}, fmt.Errorf("vantage host %s has no %s address to send from", c.From, family(dst))
}

// oppositeSources are the declared ranges of the other kind than c's:
// deny_from for an allow_from check and the reverse.
func oppositeSources(fw *config.ExpectFirewall, c *Check) []netip.Prefix {
	if fw == nil {
		return nil
	}
	if c.Deny {
		return fw.AllowFrom
	}
	return fw.DenyFrom
}

// excluded drops the samples a more specific opposite declaration covers:
// with allow_from 10.0.0.0/8 and deny_from 0.0.0.0/0, the deny check does
// not judge sources in 10/8.
func excluded(fw *config.ExpectFirewall, c *Check, a netip.Addr) bool {
	for _, p := range oppositeSources(fw, c) {
		if p.Bits() > c.Sources.Bits() && p.Contains(a) {
			return true
		}
	}
	return false
}

func evalFirewall(c *Check, ep *config.Endpoint, view firewall.View, judged []JudgedPacket) *Result {
	fw := ep.Expect.Firewall
	permanent := fw == nil || fw.Permanent
	exp := firewallExpected{Verdict: "accept", Permanent: permanent}
	if c.Sources.IsValid() {
		exp.Sources = c.Sources.String()
	}
	if c.Deny {
		exp.Verdict = "deny"
	}
	if fw != nil && fw.Backend != "auto" {
		exp.Backend = fw.Backend
	}
	if c.Sources.IsValid() {
		// The host's own addresses only ever arrive over lo, from the host
		// itself: not what a source range declares.
		ev := view.Evaluator()
		kept := judged[:0]
		for _, j := range judged {
			if !excluded(fw, c, j.Packet.Src) && !ev.IsLocal(j.Packet.Src) {
				kept = append(kept, j)
			}
		}
		judged = kept
	}
	r := &Result{Check: c, Expected: exp}
	evidence := &FirewallEvidence{Manager: view.ManagedBy(), Notes: view.ReadNotes()}
	r.Evidence = evidence
	if len(judged) == 0 {
		r.Status = StatusPass
		r.Summary = fmt.Sprintf("every source in %s is the host itself or covered by a more specific declaration", c.Sources)
		return r
	}

	// The packet that settles the check: the first one against the
	// declaration, else the first undecidable one, else the first.
	bad, unknown := -1, -1
	for i, j := range judged {
		accepted := j.Decision.Verdict == firewall.Accept
		switch {
		case j.Decision.Verdict == firewall.Indeterminate:
			if unknown < 0 {
				unknown = i
			}
		case accepted == c.Deny:
			if bad < 0 {
				bad = i
			}
		}
	}
	pick := 0
	switch {
	case bad >= 0:
		pick = bad
	case unknown >= 0:
		pick = unknown
	}
	j := judged[pick]
	evidence.Judged = []JudgedPacket{j}
	if len(judged) > 1 {
		evidence.Stretches = len(judged)
	}
	d := j.Decision
	if p, ok := view.PublishedFor(d); ok {
		evidence.Docker = &p
	}
	src := j.Packet.Src
	what := fmt.Sprintf("%s/%d from %s", c.Target.Protocol, c.Target.Port, src)
	if c.Sources.IsValid() && c.Sources.Bits() != src.BitLen() {
		what = fmt.Sprintf("%s/%d from %s (in %s)", c.Target.Protocol, c.Target.Port, src, c.Sources)
	}

	switch {
	case bad >= 0 && c.Deny:
		r.Status, r.Cause = StatusFail, CauseUnexpectedlyOpen
		r.Summary = fmt.Sprintf("%s is accepted by %s, but deny_from declares it blocked", what, decidedBy(d))
		r.Hint = denyHint(view, d, c, src)
	case bad >= 0 && d.ReplyBlocked():
		r.Status, r.Cause = StatusFail, CauseFirewallBlocked
		r.Summary = fmt.Sprintf("%s is accepted, but %s", what, replyBlocked(d))
		r.Hint = replyHint(view, d, c)
	case bad >= 0:
		r.Status, r.Cause = StatusFail, CauseFirewallBlocked
		r.Summary = fmt.Sprintf("%s is %s by %s", what, verdictWords(d), decidedBy(d))
		if d.AnswerBlocked() {
			r.Summary += "; " + d.Reason
		}
		r.Hint = allowHint(view, d, c, src)
	case unknown >= 0:
		r.Status = StatusError
		r.Summary = fmt.Sprintf("cannot decide %s: %s", what, d.Reason)
		r.Hint = "the rule uses a match portcheck does not evaluate; check it by hand: " + view.ShowCommand(d.Rule, c.Exec.Netns)
		return r
	case c.Deny && d.ReplyBlocked():
		r.Status = StatusPass
		r.Summary = fmt.Sprintf("%s is accepted, but %s", what, replyBlocked(d))
	case c.Deny:
		r.Status = StatusPass
		r.Summary = fmt.Sprintf("%s is %s by %s", what, verdictWords(d), decidedBy(d))
	case d.Rule == nil:
		r.Status = StatusPass
		r.Summary = fmt.Sprintf("%s is accepted: no filter chain on its path", what)
	default:
		r.Status = StatusPass
		r.Summary = fmt.Sprintf("%s is accepted by %s", what, decidedBy(d))
		if evidence.Docker != nil {
			r.Summary += " (" + evidence.Docker.Where() + ")"
		}
	}
	if len(judged) > 1 && bad < 0 {
		r.Summary += fmt.Sprintf("; all %d source stretches of %s agree", len(judged), c.Sources)
	}
	if d.Branches > 1 {
		r.Summary += fmt.Sprintf("; the same whichever of the %d ways random choices (kube-proxy's pick of an endpoint) take", d.Branches)
	}
	// A verdict that rests on rate or state (limits not reached, no
	// earlier connection) says so; the union over the stretches judged.
	var assume []string
	for _, j := range judged {
		for _, a := range j.Decision.Assumptions {
			if !slices.Contains(assume, a) {
				assume = append(assume, a)
			}
		}
	}
	if len(assume) > 0 {
		r.Summary += " (assuming " + strings.Join(assume, "; ") + ")"
	}

	if mp := view.ManagedPort(d, string(c.Target.Protocol), c.Target.Port, src); mp != nil && !c.Deny {
		evidence.Firewalld = mp
		if r.Status == StatusPass && permanent {
			driftPermanent(r, view, mp, c, src)
		}
		if r.Status == StatusFail && mp.Permanent != "" && !d.ReplyBlocked() {
			if fix, ok := view.ApplyFix(c.Exec.Netns); ok {
				r.Hint = fmt.Sprintf("the permanent configuration opens it (%s) but the runtime does not: %s applies it", mp.Permanent, fix.Command)
			}
		}
	}
	if r.Status == StatusPass && fw != nil && fw.Backend != "auto" && !backendMatches(fw.Backend, view.ManagedBy()) {
		r.Status, r.Cause = StatusDrift, CauseFirewallBlocked
		r.Summary = fmt.Sprintf("declared backend %s, but the host's rules are managed by %s (%s)", fw.Backend, view.ManagedBy(), r.Summary)
		r.Hint = fmt.Sprintf("update backend in %s, or move the rules to %s", config.SourceOf(fw.DeclRange), fw.Backend)
	}
	return r
}

func backendMatches(declared, manager string) bool {
	if declared == "iptables" {
		return manager == firewall.ManagerIptablesNft || manager == firewall.ManagerIptablesLegacy
	}
	return declared == manager
}

func verdictWords(d firewall.Decision) string {
	switch d.Verdict {
	case firewall.Reject:
		if d.Reject != "" {
			return "rejected (" + d.Reject + ")"
		}
		return "rejected"
	case firewall.Drop:
		return "dropped"
	}
	return d.Verdict
}

// replyBlocked says where the reply of an accepted packet is stopped:
// "the reply is dropped by inet filter output policy drop".
func replyBlocked(d firewall.Decision) string {
	r := d.Reply
	if r.Rule == nil {
		return "the reply is " + verdictWords(*r) + ": " + r.Reason
	}
	s := fmt.Sprintf("the reply is %s by %s", verdictWords(*r), r.Rule)
	if r.Hook != "" && !strings.EqualFold(r.Rule.Chain, r.Hook) {
		s += " in " + r.Hook
	}
	if r.Verdict == firewall.Reject {
		s += " (the reject goes back to its sender, so the client sees a timeout)"
	}
	return s
}

// decidedBy names the deciding rule for a summary.
func decidedBy(d firewall.Decision) string {
	if d.Rule == nil {
		if d.Reason != "" {
			return "routing: " + d.Reason
		}
		return "no rule (no base chain on the path)"
	}
	s := d.Rule.String()
	if d.Hook != "" && d.Hook != firewall.HookInput {
		s += " in " + d.Hook
	}
	return s
}

// driftPermanent flags the seed's trap: open now, gone after a reload.
func driftPermanent(r *Result, view firewall.View, mp *firewall.ManagedPort, c *Check, src netip.Addr) {
	if mp.Runtime == "" || mp.Permanent != "" {
		return
	}
	r.Status, r.Cause = StatusDrift, CauseFirewallBlocked
	r.Summary = fmt.Sprintf("%s now (%s: %s), but not in the permanent configuration: it closes at the next reload or reboot", r.Summary, mp.Where(), mp.Runtime)
	if fix, ok := view.PersistFix(mp, selector(c, src), c.Exec.Netns); ok {
		r.Hint = fix.String()
	}
}

// allowHint says how to let the packet in, in the tool that manages the
// host's rules, at the place the packet is stopped, runnable as printed in
// the host's namespace.
func allowHint(view firewall.View, d firewall.Decision, c *Check, src netip.Addr) string {
	if d.Rule == nil {
		if strings.Contains(d.Reason, "forwarding is off") {
			return "the destination is not local and forwarding is off: check the address, or enable forwarding (" +
				firewall.CommandIn(c.Exec.Netns, "sysctl -w net.ipv4.ip_forward=1") + ")"
		}
		return "check the host's routes (" + firewall.CommandIn(c.Exec.Netns, "ip route get "+c.Target.Address.String()) + ")"
	}
	fix, ok := view.AcceptFix(d, selector(c, src), c.Exec.Netns)
	if !ok {
		return ""
	}
	return fix.String()
}

// selector is the traffic a fix for check c covers.
func selector(c *Check, src netip.Addr) firewall.Selector {
	return firewall.Selector{Proto: string(c.Target.Protocol), Port: c.Target.Port, Sources: c.Sources, Src: src}
}

// replyHint says how to let the replies of accepted connections out, in
// the tool that manages the chain that stops them: accept established
// traffic at its top (for Docker's forward path in DOCKER-USER when that
// is where it is stopped, else in FORWARD).
func replyHint(view firewall.View, d firewall.Decision, c *Check) string {
	if d.Rule == nil {
		return "the reply cannot leave: check the host's route back to the client (" + firewall.CommandIn(c.Exec.Netns, "ip route get <client address>") + ")"
	}
	// The service's port as the reply leaves it: after DNAT, the target's.
	port := c.Target.Port
	if d.DNATPort != 0 {
		port = int(d.DNATPort)
	}
	fix, _ := view.ReplyFix(d, string(c.Target.Protocol), port, c.Exec.Netns)
	return fix.String()
}

// denyHint says what lets a denied source in.
func denyHint(view firewall.View, d firewall.Decision, c *Check, src netip.Addr) string {
	if d.Rule == nil || d.Rule.Policy != "" {
		fix, ok := view.DropFix(d, selector(c, src), c.Exec.Netns)
		if !ok {
			return fmt.Sprintf("nothing stops %s: add a rule that drops it before the port is accepted", c.Sources)
		}
		return fmt.Sprintf("nothing stops %s: %s", c.Sources, fix)
	}
	if fix, ok := view.NarrowFix(d, selector(c, src), c.Exec.Netns); ok {
		return fix.String()
	}
	fix, ok := view.DropFix(d, selector(c, src), c.Exec.Netns)
	if !ok {
		return fmt.Sprintf("narrow the accepting rule %s so that it does not match %s", d.Rule, c.Sources)
	}
	return fmt.Sprintf("narrow the accepting rule %s so that it does not match %s, or drop it before: %s", d.Rule, c.Sources, fix)
}

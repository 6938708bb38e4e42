package firewall

import (
	"cmp"
	"fmt"
	"net/netip"
	"slices"
	"strings"

	"github.com/portcheck/portcheck/internal/addrrange"
)

// maxJumpDepth bounds jump nesting; nftables itself allows 16 levels, so a
// deeper stack can only come from a loop in hand-made input.
const maxJumpDepth = 64

// Evaluator walks packets through a ruleset the way the kernel does:
// prerouting (raw, mangle, dnat, filter base chains of every table that
// sees the packet's family, by priority), the routing decision, then input
// for local delivery or forward and postrouting; then, for a TCP or UDP
// packet, the first packet back to the client: the reply of an accepted
// one, the answer (TCP reset, ICMP error) of a rejected one. Build it
// once; Evaluate is safe for concurrent use.
type Evaluator struct {
	host   hostIndex
	hooks  map[hookKey][]*baseChain
	tables []*ctable
	// natOrder is, per family (index 1 = IPv6), the snapshot position of
	// the first nat base chain: the NAT core's hooks are registered with
	// the first nat chain of a family, which orders them among chains of
	// equal priority. -1 when the family has no nat chain.
	natOrder [2]int
}

type hookKey struct {
	v6   bool
	hook string
}

type baseChain struct {
	t     *ctable
	c     *cchain
	order int // position in the snapshot, to keep sorting stable
}

type ctable struct {
	t      *Table
	chains map[string]*cchain
	sets   map[string]*cset
}

type cset struct {
	s      *Set
	vals   *valueSet
	concat bool
}

type cchain struct {
	t     *ctable
	c     *Chain
	rules []*crule
	idx   ruleIndex
}

type crule struct {
	r       *Rule
	matches []cmatch
	vmap    *valueMap
}

type cmatch struct {
	m      *Match
	vals   *valueSet
	has4   bool
	has6   bool
	broken string // e.g. a named set that does not exist
}

// valueMap is a compiled verdict map: keys in element order.
type valueMap struct {
	elems  []MapElement
	broken string
}

// NewEvaluator compiles a ruleset and the host facts for evaluation.
func NewEvaluator(rs *Ruleset, host *Host) *Evaluator {
	e := &Evaluator{hooks: map[hookKey][]*baseChain{}, natOrder: [2]int{-1, -1}}
	if host != nil {
		e.host = newHostIndex(host)
	}
	order := 0
	for _, t := range rs.Tables {
		ct := compileTable(t)
		e.tables = append(e.tables, ct)
		var fams []bool // v6 flags this table sees
		switch t.Family {
		case FamilyIP:
			fams = []bool{false}
		case FamilyIP6:
			fams = []bool{true}
		case FamilyInet:
			fams = []bool{false, true}
		default:
			continue // bridge, arp, netdev do not see routed IP packets at these hooks
		}
		for _, c := range t.Chains {
			if c.Hook == "" {
				continue
			}
			for _, v6 := range fams {
				k := hookKey{v6, c.Hook}
				e.hooks[k] = append(e.hooks[k], &baseChain{t: ct, c: ct.chains[c.Name], order: order})
				if i := famIndex(v6); c.Type == "nat" && e.natOrder[i] < 0 {
					e.natOrder[i] = order
				}
			}
			order++
		}
	}
	// Chains of equal priority run in reverse registration order: the
	// kernel inserts a new hook before those of the same priority
	// (nf_hook_entries_grow). nft lists tables and chains in the order they
	// were created, which is when their hooks were registered, so a chain
	// listed later runs first. (Between iptables-legacy and nftables chains
	// the registration order is not in the snapshot; legacy tables, listed
	// last, are taken as registered last.)
	for k, list := range e.hooks {
		slices.SortStableFunc(list, func(a, b *baseChain) int {
			return cmp.Or(cmp.Compare(hookPriority(a.c.c, k.hook), hookPriority(b.c.c, k.hook)),
				cmp.Compare(a.c.c.Priority, b.c.c.Priority), cmp.Compare(b.order, a.order))
		})
	}
	return e
}

func famIndex(v6 bool) int {
	if v6 {
		return 1
	}
	return 0
}

// hookPriority is where a base chain runs among the hook's chains. The
// kernel does not hook nat chains in at their own priority: every nat
// chain (nft's and iptables', legacy or not) runs inside the NAT core's
// hook, which sits at dstnat (-100) in prerouting and output and at srcnat
// (100) in input and postrouting; a nat chain's priority only orders it
// among the nat chains. So a nat chain declared at -190 still runs after
// a filter chain at -150, and sees the packet before DNAT.
func hookPriority(c *Chain, hook string) int {
	if c.Type != "nat" {
		return c.Priority
	}
	switch hook {
	case HookPrerouting, HookOutput:
		return -100
	case HookInput, HookPostrouting:
		return 100
	}
	return c.Priority
}

func compileTable(t *Table) *ctable {
	ct := &ctable{t: t, chains: map[string]*cchain{}, sets: map[string]*cset{}}
	for name, s := range t.Sets {
		cs := &cset{s: s, concat: strings.Contains(s.Type, " . ")}
		cs.vals = compileValues(s.Prefixes, s.Ranges, s.Names)
		ct.sets[name] = cs
	}
	for _, c := range t.Chains {
		ct.chains[c.Name] = compileChain(ct, c)
	}
	return ct
}

func compileChain(ct *ctable, c *Chain) *cchain {
	cc := &cchain{t: ct, c: c}
	for _, r := range c.Rules {
		cr := &crule{r: r}
		for j := range r.Matches {
			cr.matches = append(cr.matches, compileMatch(ct, &r.Matches[j]))
		}
		if r.Verdict.Kind == VerdictVmap {
			cr.vmap = compileVmap(ct, &r.Verdict)
		}
		cc.rules = append(cc.rules, cr)
	}
	cc.idx = buildIndex(cc.rules)
	return cc
}

func compileMatch(ct *ctable, m *Match) cmatch {
	cm := cmatch{m: m}
	if m.Set != "" {
		s, ok := ct.sets[m.Set]
		switch {
		case !ok:
			cm.broken = fmt.Sprintf("set @%s is not defined in table %s %s", m.Set, ct.t.Family, ct.t.Name)
		case s.concat:
			cm.broken = fmt.Sprintf("lookup in set @%s with concatenated key %q is not supported", m.Set, s.s.Type)
		case s.s.Map != "":
			cm.broken = fmt.Sprintf("@%s is a map, not a set", m.Set)
		default:
			cm.vals = s.vals
		}
	} else {
		cm.vals = compileValues(m.Prefixes, m.Ranges, m.Names)
	}
	if cm.vals != nil {
		for _, iv := range cm.vals.addrs {
			cm.has4 = cm.has4 || iv.lo.Is4()
			cm.has6 = cm.has6 || iv.lo.Is6()
		}
	}
	return cm
}

func compileVmap(ct *ctable, v *Verdict) *valueMap {
	if v.Map == "" {
		return &valueMap{elems: v.Elements}
	}
	s, ok := ct.sets[v.Map]
	switch {
	case !ok:
		return &valueMap{broken: fmt.Sprintf("map @%s is not defined in table %s %s", v.Map, ct.t.Family, ct.t.Name)}
	case s.concat:
		return &valueMap{broken: fmt.Sprintf("lookup in map @%s with concatenated key %q is not supported", v.Map, s.s.Type)}
	case s.s.Map != "verdict":
		return &valueMap{broken: fmt.Sprintf("@%s is not a verdict map", v.Map)}
	}
	return &valueMap{elems: s.s.Elements}
}

// packetState is a packet as it moves through the hooks.
type packetState struct {
	Packet
	origDst   netip.Addr
	origDPort uint16
	oif       string
	cands     map[*cchain][]int32 // candidate rules per chain, for this packet
	dnat      bool                // a nat chain set a destination mapping
	snat      bool                // a nat chain set a source mapping
	// noCT: the base chain being run comes before conntrack (priority
	// below -200 in prerouting or output), so the packet has no
	// connection yet: ct state is invalid, ct original … never match.
	noCT bool
	// ctEarly: the packet carries its connection before conntrack looks
	// it up (nf_conntrack_in leaves a packet that has one alone), so
	// chains before conntrack see it too: traffic over loopback, which
	// got it in output, and a reject's answer, which the reject attaches
	// it to.
	ctEarly bool
	// noConn: conntrack finds no connection for the packet anywhere (the
	// answer of a reject that ran before conntrack): ct state invalid.
	noConn bool
	// confirmedCT: the connection is confirmed (in the table): for a new
	// connection only once it went out and came back over loopback
	// (confirmed at the end of postrouting).
	confirmedCT bool
	// reply: the first reply of the connection: ct state established, ct
	// status confirmed and seen-reply (nf_conntrack_in sets IPS_SEEN_REPLY
	// at -200, before the chains that see the connection).
	reply bool
	// related: a reject's answer, attached to the connection as related.
	related bool
	// noIIF: made by the host itself and not yet received (output and
	// postrouting of a local reply): there is no input interface, so
	// iif/iifname compare with none (0, "").
	noIIF bool
	// oifWhy says why the interface a reply leaves by is unknown (no
	// route back to the client); rules that test it cannot be decided.
	oifWhy string
	// dstWhy says why the destination is unknown where the chain runs: a
	// reply to a source-NATed connection carries the NAT address until
	// the NAT core restores the client's (not modelled: SNAT targets are
	// not in the snapshot).
	dstWhy string
}

// conntrackPriority is where conntrack looks a packet up in prerouting and
// output (NF_IP_PRI_CONNTRACK).
const conntrackPriority = -200

func beforeConntrack(c *Chain, hook string) bool {
	return (hook == HookPrerouting || hook == HookOutput) && hookPriority(c, hook) < conntrackPriority
}

// candidates returns, in order, the rules of c that may match the packet.
func (st *packetState) candidates(c *cchain) []int32 {
	if cs, ok := st.cands[c]; ok {
		return cs
	}
	if st.cands == nil {
		st.cands = map[*cchain][]int32{}
	}
	cs := c.idx.candidates(st.Src, st.DPort)
	st.cands[c] = cs
	return cs
}

// outcome is how one base chain left the packet.
type outcome struct {
	verdict string // accept, drop, reject, dnat, indeterminate
	reject  string
	ref     RuleRef
	reason  string
}

// Evaluate decides the kernel's verdict for the first packet (conntrack
// state new) of a connection arriving at the host and, for the protocols
// with replies (TCP, UDP, SCTP, UDP-Lite), for the first packet the host
// sends back: the reply when the packet is accepted (Decision.Reply), the
// TCP reset or ICMP error when it is rejected (Decision.Answer).
func (e *Evaluator) Evaluate(p Packet) Decision {
	d, st := e.evaluateOriginal(p)
	if !hasPorts(st.Proto) {
		return d
	}
	switch d.Verdict {
	case Accept:
		r := e.evaluateReply(st, d.Hook == HookInput)
		d.Reply = &r
		if r.Verdict != Accept {
			d.Verdict, d.Reject, d.Hook, d.Rule = r.Verdict, r.Reject, r.Hook, r.Rule
			d.Reason = replyReason(st, r)
		}
	case Reject:
		a := e.evaluateAnswer(st, d.Reject)
		d.Answer = &a
		if a.Verdict != Accept {
			d.Reason = answerReason(d, a)
		}
	}
	return d
}

// answerReason says that a reject's answer does not reach the client.
func answerReason(d Decision, a Decision) string {
	what := "its answer"
	if d.Reject != "" {
		what = "the " + d.Reject + " it answers with"
	}
	s := ""
	switch {
	case a.Verdict == Indeterminate:
		s = "whether " + what + " reaches the client cannot be decided: " + a.Reason
	case a.Rule != nil:
		s = fmt.Sprintf("%s is %s by %s", what, verdictWord(a.Verdict), a.Rule)
		if a.Hook != HookOutput && a.Hook != HookInput {
			s += " in " + a.Hook
		}
		s += ", so the client sees no answer (a timeout)"
	default:
		s = what + " is not delivered: " + a.Reason
	}
	if d.Reason != "" {
		return d.Reason + "; " + s
	}
	return s
}

func verdictWord(v string) string {
	switch v {
	case Drop:
		return "dropped"
	case Reject:
		return "rejected"
	}
	return v
}

// replyReason says that the reply, not the packet, is stopped.
func replyReason(orig *packetState, r Decision) string {
	what := "the reply"
	switch orig.Proto {
	case ProtoTCP:
		what = "the reply (SYN-ACK)"
	case ProtoUDP:
		what = "the reply datagram"
	}
	what += " to " + orig.Src.String()
	if r.Verdict == Indeterminate {
		return what + " cannot be decided: " + r.Reason
	}
	if r.Rule == nil {
		return what + " is not delivered: " + r.Reason
	}
	words := "dropped"
	if r.Verdict == Reject {
		words = "rejected"
		if r.Reject != "" {
			words += " with " + r.Reject
		}
	}
	s := fmt.Sprintf("%s is %s by %s", what, words, r.Rule)
	if r.Hook != HookOutput && r.Hook != HookInput {
		s += " in " + r.Hook
	}
	if r.Verdict == Reject {
		s += " (the reject answers the reply's sender, not the client, which sees no answer)"
	}
	return s
}

// evaluateOriginal decides the first packet of the connection and returns
// it as it left the last hook.
func (e *Evaluator) evaluateOriginal(p Packet) (Decision, *packetState) {
	st := &packetState{Packet: p, origDst: p.Dst, origDPort: p.DPort}
	st.Src, st.Dst = st.Src.Unmap(), st.Dst.Unmap()
	v6 := st.Dst.Is6()
	d := Decision{}
	if st.IIF == "" {
		// Unknown when there is no route back to the source; only rules
		// that test the interface then become undecidable.
		st.IIF = e.host.ingress(st.Src)
	}
	st.ctEarly = st.IIF == "lo"
	st.confirmedCT = st.ctEarly
	d.IIF = st.IIF

	if out := e.walk(&d, st, hookKey{v6, HookPrerouting}); out != nil {
		return e.final(d, *out), st
	}
	if st.Dst != st.origDst || st.DPort != st.origDPort {
		d.DNATAddr, d.DNATPort = st.Dst, st.DPort
	}

	if !v6 && st.Dst.IsLoopback() && st.IIF != "" && st.IIF != "lo" && !e.host.routeLocalnet(st.IIF) {
		// ip_route_input_slow: a loopback destination on a packet from
		// another interface is martian (DNAT to 127.0.0.1 included).
		d.Verdict, d.Hook = Drop, "routing"
		d.Reason = fmt.Sprintf("%s is a loopback address and the packet came in on %s: routing drops it as a martian destination "+
			"(net.ipv4.conf.%s.route_localnet=0)", st.Dst, st.IIF, st.IIF)
		return d, st
	}

	hooks := []string{HookInput}
	if !e.host.isLocal(st.Dst) {
		if !e.host.forwarding(v6) {
			d.Verdict, d.Hook = Drop, "routing"
			d.Reason = fmt.Sprintf("%s is not an address of this host and forwarding is off (%s)", st.Dst, forwardingSysctl(v6))
			return d, st
		}
		st.oif = e.host.egress(st.Dst)
		if st.oif == "" {
			// A forwarding host answers a packet it has no route for
			// (ip_error / ip6_pkt_discard); only with forwarding off does
			// it drop silently.
			d.Verdict, d.Hook, d.Reject = Reject, "routing", "icmp net-unreachable"
			if v6 {
				d.Reject = "icmpv6 no-route"
			}
			d.Reason = fmt.Sprintf("no route to %s", st.Dst)
			st.noCT = false // conntrack has seen it: the answer is related
			return d, st
		}
		d.OIF = st.oif
		hooks = []string{HookForward, HookPostrouting}
	}
	for _, h := range hooks {
		if out := e.walk(&d, st, hookKey{v6, h}); out != nil {
			return e.final(d, *out), st
		}
	}
	d.Verdict, d.Hook = Accept, hooks[0]
	d.Rule = acceptingRule(d.Trace, hooks[0])
	return d, st
}

// natFix is a translation the NAT core applies to a packet going back to
// the client: it reverses the original packet's NAT on every later packet
// of the connection, without consulting nat chains (nf_nat_inet_fn only
// runs them for new connections; nf_nat_packet does the rest). A DNAT is
// reversed on the source at the source-NAT hooks (postrouting and input,
// priority srcnat 100), an SNAT on the destination at the destination-NAT
// hooks (prerouting and output, dstnat -100): HOOK2MANIP with the
// direction inverted.
type natFix struct {
	hooks [2]string
	prio  int
	apply func(st *packetState)
	done  bool
}

// backPhase is one hook of the way back and what the packet looks like
// there.
type backPhase struct {
	hook    string
	iif     string // "" with noIIF: made here
	noIIF   bool
	oif     string // "" before routing (prerouting, input)
	oifWhy  string
	ctEarly bool
}

// natFixes are the reverse translations for a packet of the connection
// orig going back to the client.
func natFixes(orig, st *packetState, withPort bool) []*natFix {
	var fixes []*natFix
	if orig.dnat {
		to, port := orig.origDst, orig.origDPort
		fixes = append(fixes, &natFix{hooks: [2]string{HookPostrouting, HookInput}, prio: 100, apply: func(st *packetState) {
			st.Src = to
			if withPort {
				st.SPort = port
			}
			st.cands = nil // candidates depend on the source
		}})
	}
	if orig.snat {
		st.dstWhy = fmt.Sprintf("the packet to %s still carries the connection's source NAT address here, which is not modelled", orig.Src)
		fixes = append(fixes, &natFix{hooks: [2]string{HookPrerouting, HookOutput}, prio: -100, apply: func(st *packetState) { st.dstWhy = "" }})
	}
	return fixes
}

// localPhases is the way of a packet the host makes for client: output
// and postrouting, then over lo through prerouting and input when the
// client is the host itself. main is the hook that decides it.
func (e *Evaluator) localPhases(client netip.Addr) (phases []backPhase, main, oif string) {
	oif, oifWhy := e.host.egress(client), ""
	if oif == "" {
		oifWhy = fmt.Sprintf("no route back to %s, so the interface the packet leaves by is unknown", client)
	}
	phases = []backPhase{
		{hook: HookOutput, noIIF: true, oif: oif, oifWhy: oifWhy},
		{hook: HookPostrouting, noIIF: true, oif: oif, oifWhy: oifWhy},
	}
	if oif != "lo" {
		return phases, HookOutput, oif
	}
	// Received again over lo, with its connection already attached.
	return append(phases, backPhase{hook: HookPrerouting, iif: "lo", ctEarly: true}, backPhase{hook: HookInput, iif: "lo", ctEarly: true}), HookInput, oif
}

// evaluateReply decides the first reply of the accepted connection orig:
// from the address the client reached (after DNAT) back to the client,
// ports swapped, conntrack state established, with no nat chains asked.
// local says the original was delivered locally (the reply is made by the
// host and leaves through output and postrouting); otherwise it was
// forwarded and the reply comes back from where it went (prerouting,
// forward, postrouting).
func (e *Evaluator) evaluateReply(orig *packetState, local bool) Decision {
	client := orig.Src
	st := &packetState{
		Packet:    Packet{Src: orig.Dst, Dst: client, Proto: orig.Proto, SPort: orig.DPort, DPort: orig.SPort},
		origDst:   orig.origDst,
		origDPort: orig.origDPort,
		dnat:      orig.dnat,
		snat:      orig.snat,
		reply:     true,
		// Confirmed at the end of the original's input or postrouting.
		confirmedCT: true,
	}
	fixes := natFixes(orig, st, true)
	if local {
		phases, main, oif := e.localPhases(client)
		return e.walkBack(st, phases, fixes, main, oif)
	}
	// From where the original went: its egress interface.
	iif := orig.oif
	phases := []backPhase{{hook: HookPrerouting, iif: iif}}
	if e.host.isLocal(client) {
		return e.walkBack(st, append(phases, backPhase{hook: HookInput, iif: iif}), fixes, HookInput, "lo")
	}
	oif, oifWhy := e.host.egress(client), ""
	if oif == "" {
		oifWhy = fmt.Sprintf("no route back to %s, so the interface the reply leaves by is unknown", client)
	}
	phases = append(phases, backPhase{hook: HookForward, iif: iif, oif: oif, oifWhy: oifWhy},
		backPhase{hook: HookPostrouting, iif: iif, oif: oif, oifWhy: oifWhy})
	return e.walkBack(st, phases, fixes, HookForward, oif)
}

// evaluateAnswer decides the answer of a reject of kind (the TCP reset or
// the ICMP error) on its way to the client. Whatever hook rejected, the
// host makes the answer itself: it leaves through output and postrouting.
// The reject attaches it to the connection as related, so every chain
// sees it related, even before conntrack; a reject that ran before
// conntrack has no connection to attach, and its answer is invalid
// everywhere.
func (e *Evaluator) evaluateAnswer(orig *packetState, kind string) Decision {
	client := orig.Src
	v6 := client.Is6()
	st := &packetState{
		Packet:    Packet{Src: orig.Dst, Dst: client},
		origDst:   orig.origDst,
		origDPort: orig.origDPort,
		dnat:      orig.dnat,
		snat:      orig.snat,
	}
	tcp := kind == "tcp reset" && orig.Proto == ProtoTCP
	if tcp {
		// From the address and port the SYN reached.
		st.Proto, st.SPort, st.DPort = ProtoTCP, orig.DPort, orig.SPort
	} else {
		st.Proto, st.ICMPType = ProtoICMP, 3 // destination unreachable
		if v6 {
			st.Proto, st.ICMPType = ProtoICMPv6, 1
		}
		if !e.host.isLocal(orig.Dst) {
			// icmp_send picks the source of the route back for a packet
			// that was not for the host.
			if a := e.host.primary(e.host.egress(client), v6); a.IsValid() {
				st.Src = a
			}
		}
	}
	var fixes []*natFix
	if orig.noCT {
		st.noConn = true
	} else {
		st.related, st.ctEarly = true, true
		fixes = natFixes(orig, st, tcp)
	}
	phases, main, oif := e.localPhases(client)
	return e.walkBack(st, phases, fixes, main, oif)
}

// walkBack runs a packet going back to the client through its phases.
func (e *Evaluator) walkBack(st *packetState, phases []backPhase, fixes []*natFix, main, oif string) Decision {
	v6 := st.Dst.Is6()
	r := Decision{IIF: phases[0].iif, OIF: oif}
	early := st.ctEarly
	for _, ph := range phases {
		st.IIF, st.noIIF, st.oif, st.oifWhy = ph.iif, ph.noIIF, ph.oif, ph.oifWhy
		st.ctEarly = early || ph.ctEarly
		if out := e.walkBackHook(&r, st, hookKey{v6, ph.hook}, fixes); out != nil {
			return e.final(r, *out)
		}
	}
	r.Verdict, r.Hook = Accept, main
	r.Rule = acceptingRule(r.Trace, main)
	for i := len(phases) - 1; r.Rule == nil && i >= 0; i-- {
		r.Rule = acceptingRule(r.Trace, phases[i].hook)
	}
	return r
}

// walkBackHook runs the base chains of one hook for a packet of an
// existing connection: every type but nat, applying the NAT core's
// reverse translations where it runs among them.
func (e *Evaluator) walkBackHook(d *Decision, st *packetState, k hookKey, fixes []*natFix) *outcome {
	for _, bc := range e.hooks[k] {
		if bc.c.c.Type == "nat" {
			continue
		}
		for _, f := range fixes {
			if !f.done && (f.hooks[0] == k.hook || f.hooks[1] == k.hook) && e.afterNATCore(bc, k, f.prio) {
				f.apply(st)
				f.done = true
			}
		}
		out, stop := e.step(d, st, bc, k.hook)
		if stop {
			final := out // a copy: taking out's own address would move it to the heap every iteration
			return &final
		}
		if out.verdict == VerdictSNAT { // only nat chains may translate
			d.Hook = k.hook
			return &outcome{verdict: Indeterminate, ref: out.ref, reason: "snat outside a nat chain in rule " + out.ref.String()}
		}
	}
	for _, f := range fixes {
		if !f.done && (f.hooks[0] == k.hook || f.hooks[1] == k.hook) {
			f.apply(st)
			f.done = true
		}
	}
	return nil
}

// afterNATCore reports whether base chain bc runs after the NAT core's
// hook at prio. Among equal priorities the later registered runs first
// (see NewEvaluator); the NAT core registered with the family's first nat
// chain.
func (e *Evaluator) afterNATCore(bc *baseChain, k hookKey, prio int) bool {
	p := bc.c.c.Priority
	if p != prio {
		return p > prio
	}
	return bc.order < e.natOrder[famIndex(k.v6)]
}

// ctState is the conntrack state the packet has where it is: new, or
// invalid before conntrack saw it (nft and xt_conntrack both call a packet
// without a connection invalid).
func (st *packetState) ctState() string {
	switch {
	case st.noCT:
		return "invalid"
	case st.reply:
		return "established"
	case st.related:
		return "related"
	}
	return "new"
}

func forwardingSysctl(v6 bool) string {
	if v6 {
		return "net.ipv6.conf.all.forwarding=0"
	}
	return "net.ipv4.ip_forward=0"
}

// walk runs every base chain of one hook in priority order. It returns the
// final outcome when a chain dropped, rejected or could not be evaluated,
// nil when the packet goes on.
func (e *Evaluator) walk(d *Decision, st *packetState, k hookKey) *outcome {
	natDone := false
	for _, bc := range e.hooks[k] {
		if bc.c.c.Type == "nat" && natDone {
			continue // the kernel stops asking nat chains once one set a mapping
		}
		out, stop := e.step(d, st, bc, k.hook)
		if stop {
			final := out // a copy: taking out's own address would move it to the heap every iteration
			return &final
		}
		switch out.verdict {
		case VerdictSNAT:
			st.snat = true
			natDone = true
		case VerdictDNAT:
			natDone = true
		}
	}
	return nil
}

// step runs one base chain and records it in the trace. stop is set when
// the chain ended the packet's way (drop, reject, undecidable); the
// decision then names the hook.
func (e *Evaluator) step(d *Decision, st *packetState, bc *baseChain, hook string) (out outcome, stop bool) {
	out = e.runBase(bc, st, hook)
	d.Trace = append(d.Trace, Step{Hook: hook, Ref: out.ref, Verdict: out.verdict})
	switch out.verdict {
	case Drop, Reject, Indeterminate:
		d.Hook = hook
		return out, true
	}
	return out, false
}

func (e *Evaluator) final(d Decision, out outcome) Decision {
	d.Verdict, d.Reject, d.Reason = out.verdict, out.reject, out.reason
	ref := out.ref
	d.Rule = &ref
	return d
}

// acceptingRule picks the rule to show for an accepted packet: the last
// explicit accept in a filter chain of the deciding hook, else the last
// step of that hook.
func acceptingRule(trace []Step, hook string) *RuleRef {
	var last *RuleRef
	for i := range trace {
		s := &trace[i]
		if s.Hook != hook {
			continue
		}
		if s.Ref.Policy == "" {
			r := s.Ref
			last = &r
		} else if last == nil || last.Policy != "" {
			r := s.Ref
			last = &r
		}
	}
	return last
}

// frame is a place to come back to: a chain, its candidate rules for this
// packet, and the next candidate to try.
type frame struct {
	c     *cchain
	cands []int32
	ci    int
}

// runBase evaluates one base chain with its jumps, gotos and returns.
func (e *Evaluator) runBase(bc *baseChain, st *packetState, hook string) outcome {
	c := bc.c
	st.noCT = st.noConn || (!st.ctEarly && beforeConntrack(c.c, hook))
	cands, ci := st.candidates(c), 0
	var stack []frame
	policy := func() outcome {
		pol := cmp.Or(bc.c.c.Policy, Accept)
		ref := e.ref(bc.c, nil)
		ref.Policy = pol
		return outcome{verdict: pol, ref: ref}
	}
	for {
		if ci >= len(cands) {
			if len(stack) == 0 {
				return policy()
			}
			top := stack[len(stack)-1]
			stack = stack[:len(stack)-1]
			c, cands, ci = top.c, top.cands, top.ci
			continue
		}
		r := c.rules[cands[ci]]
		ci++
		ok, why := e.matches(r, st, hook)
		if why != "" {
			return e.indeterminate(c, r, why)
		}
		if !ok {
			continue
		}
		if r.r.SetMark != nil {
			st.Mark = *r.r.SetMark
		}
		v := r.r.Verdict
		if v.Kind == VerdictVmap {
			mv, found, why := e.lookupVmap(r, st)
			if why != "" {
				return e.indeterminate(c, r, why)
			}
			if !found {
				continue
			}
			v = mv
		}
		ref := e.ref(c, r.r)
		switch v.Kind {
		case VerdictNone:
			continue
		case VerdictAccept:
			return outcome{verdict: Accept, ref: ref}
		case VerdictDrop:
			return outcome{verdict: Drop, ref: ref}
		case VerdictReject:
			return outcome{verdict: Reject, reject: v.Reject, ref: ref}
		case VerdictJump, VerdictGoto:
			target, ok := c.t.chains[v.Chain]
			if !ok {
				return e.indeterminate(c, r, fmt.Sprintf("%s to chain %q, which does not exist", v.Kind, v.Chain))
			}
			if v.Kind == VerdictJump {
				if len(stack) >= maxJumpDepth {
					return e.indeterminate(c, r, fmt.Sprintf("jumps nest deeper than %d (a loop?)", maxJumpDepth))
				}
				stack = append(stack, frame{c, cands, ci})
			}
			c, cands, ci = target, st.candidates(target), 0
		case VerdictReturn:
			if len(stack) == 0 {
				return policy()
			}
			top := stack[len(stack)-1]
			stack = stack[:len(stack)-1]
			c, cands, ci = top.c, top.cands, top.ci
		case VerdictDNAT, VerdictRedirect:
			if bc.c.c.Type != "nat" || (hook != HookPrerouting && hook != HookOutput) {
				return e.indeterminate(c, r, v.Kind+" outside a nat prerouting chain")
			}
			if v.Kind == VerdictRedirect {
				addr := e.host.primary(st.IIF, st.Dst.Is6())
				if !addr.IsValid() {
					return e.indeterminate(c, r, "redirect: interface "+st.IIF+" has no address")
				}
				st.Dst = addr
			} else if v.NATAddr.IsValid() {
				st.Dst = v.NATAddr.Unmap()
			}
			if v.NATPort != 0 {
				st.DPort = v.NATPort
			}
			st.cands = nil // candidates depend on the destination port
			st.dnat = true
			return outcome{verdict: VerdictDNAT, ref: ref}
		case VerdictSNAT:
			return outcome{verdict: VerdictSNAT, ref: ref}
		case VerdictQueue:
			return e.indeterminate(c, r, "the packet is queued to a user-space program (NFQUEUE), which decides")
		default:
			return e.indeterminate(c, r, fmt.Sprintf("unknown verdict %q", v.Kind))
		}
	}
}

func (e *Evaluator) ref(c *cchain, r *Rule) RuleRef {
	ref := RuleRef{Backend: c.t.t.Backend, Family: c.t.t.Family, Table: c.t.t.Name, Chain: c.c.Name}
	if r != nil {
		ref.Handle, ref.Number, ref.Text = r.Handle, r.Number, r.Text
	}
	return ref
}

func (e *Evaluator) indeterminate(c *cchain, r *crule, why string) outcome {
	ref := e.ref(c, r.r)
	return outcome{verdict: Indeterminate, ref: ref, reason: why + " in rule " + ref.String()}
}

// String names a rule the way its tool would: "inet filter input handle 7"
// or "ip filter INPUT #3".
func (r RuleRef) String() string {
	s := r.Family + " " + r.Table + " " + r.Chain
	switch {
	case r.Policy != "":
		s += " policy " + r.Policy
	case r.Handle != 0:
		s += fmt.Sprintf(" handle %d", r.Handle)
	case r.Number != 0:
		s += fmt.Sprintf(" #%d", r.Number)
	}
	if r.Text != "" && r.Policy == "" {
		s += ": " + r.Text
	}
	return s
}

// matches reports whether every match of r holds. A match that cannot be
// evaluated only matters when all the others hold: one definite mismatch
// settles the rule either way.
func (e *Evaluator) matches(r *crule, st *packetState, hook string) (bool, string) {
	why := ""
	for i := range r.matches {
		ok, w := e.matchOne(&r.matches[i], st, hook)
		if w != "" {
			if why == "" {
				why = w
			}
			continue
		}
		if !ok {
			return false, ""
		}
	}
	if why != "" {
		return false, why
	}
	if r.r.Unsupported != "" {
		return false, "unsupported " + r.r.Unsupported
	}
	return true, ""
}

func (e *Evaluator) matchOne(cm *cmatch, st *packetState, hook string) (bool, string) {
	if cm.broken != "" {
		return false, cm.broken
	}
	m, vs := cm.m, cm.vals
	in := false
	switch m.Field {
	case FieldIIF:
		if st.noIIF {
			in = vs.hasName("")
			break
		}
		if st.IIF == "" {
			// Unknown, but not lo: only the host's own addresses use lo.
			if !onlyLoopback(vs.names) {
				return false, fmt.Sprintf("no route back to %s, so the interface it arrives on is unknown", st.Src)
			}
			return m.Negate, ""
		}
		in = vs.hasName(st.IIF)
	case FieldOIF:
		if st.oifWhy != "" {
			return false, st.oifWhy
		}
		in = st.oif != "" && vs.hasName(st.oif)
	case FieldSaddr, FieldDaddr, FieldCTOrigDaddr:
		if m.Field == FieldCTOrigDaddr && st.noCT {
			return false, "" // no connection: the match fails, negated or not
		}
		if m.Field == FieldDaddr && st.dstWhy != "" {
			return false, st.dstWhy
		}
		a := st.Src
		if m.Field == FieldDaddr {
			a = st.Dst
		} else if m.Field == FieldCTOrigDaddr {
			a = st.origDst
		}
		if (a.Is4() && !cm.has4) || (a.Is6() && !cm.has6) {
			return false, "" // an address match of the other family never matches
		}
		in = vs.hasAddr(a)
	case FieldNfproto:
		fam := "ipv4"
		if st.Dst.Is6() {
			fam = "ipv6"
		}
		in = vs.hasName(fam)
	case FieldL4Proto:
		in = vs.hasNum(uint32(st.Proto))
	case FieldSport, FieldDport, FieldCTOrigDport:
		if !hasPorts(st.Proto) || (m.Proto != 0 && m.Proto != st.Proto) || (m.Field == FieldCTOrigDport && st.noCT) {
			return false, ""
		}
		port := st.DPort
		switch m.Field {
		case FieldSport:
			port = st.SPort
		case FieldCTOrigDport:
			port = st.origDPort
		}
		in = vs.hasNum(uint32(port))
	case FieldCTState:
		in = vs.hasName(st.ctState())
	case FieldCTStatus:
		if st.noCT {
			return false, ""
		}
		// A new connection has not seen a reply and is not assured; it is
		// confirmed only when it came over loopback (confirmed at the end
		// of postrouting on the way out). Its first reply makes it
		// seen-reply (not assured yet: TCP waits for the handshake's ACK,
		// UDP for a later reply).
		in = (st.dnat && vs.hasName("dnat")) || (st.snat && vs.hasName("snat")) ||
			(st.confirmedCT && vs.hasName("confirmed")) || (st.reply && vs.hasName("seen-reply"))
	case FieldMark:
		mark := st.Mark
		if m.Mask != 0 {
			mark &= m.Mask
		}
		in = vs.hasNum(mark)
	case FieldICMPType:
		if st.Proto != ProtoICMP {
			return false, ""
		}
		in = vs.hasNum(uint32(st.ICMPType))
	case FieldICMPv6Type:
		if st.Proto != ProtoICMPv6 {
			return false, ""
		}
		in = vs.hasNum(uint32(st.ICMPType))
	case FieldDaddrType:
		if st.dstWhy != "" {
			return false, st.dstWhy
		}
		in = vs.hasName(e.host.addrType(st.Dst))
	case FieldSaddrType:
		in = vs.hasName(e.host.addrType(st.Src))
	default:
		return false, fmt.Sprintf("match on %q is not supported", m.Field)
	}
	return in != m.Negate, ""
}

func onlyLoopback(names []string) bool {
	for _, n := range names {
		if n != "lo" {
			return false
		}
	}
	return true
}

func hasPorts(proto uint8) bool {
	return proto == ProtoTCP || proto == ProtoUDP || proto == 132 || proto == 136 // sctp, udplite
}

func (e *Evaluator) lookupVmap(r *crule, st *packetState) (Verdict, bool, string) {
	vm := r.vmap
	if vm.broken != "" {
		return Verdict{}, false, vm.broken
	}
	v := r.r.Verdict
	var num uint32
	var addr netip.Addr
	var name string
	switch v.Key {
	case FieldDport, FieldSport:
		if !hasPorts(st.Proto) || (v.KeyProto != 0 && v.KeyProto != st.Proto) {
			return Verdict{}, false, ""
		}
		num = uint32(st.DPort)
		if v.Key == FieldSport {
			num = uint32(st.SPort)
		}
	case FieldL4Proto:
		num = uint32(st.Proto)
	case FieldSaddr:
		addr = st.Src
	case FieldDaddr:
		if st.dstWhy != "" {
			return Verdict{}, false, st.dstWhy
		}
		addr = st.Dst
	case FieldIIF:
		if st.noIIF {
			break // no input interface: the key is ""
		}
		if st.IIF == "" {
			return Verdict{}, false, fmt.Sprintf("no route back to %s, so the interface it arrives on is unknown", st.Src)
		}
		name = st.IIF
	case FieldOIF:
		if st.oifWhy != "" {
			return Verdict{}, false, st.oifWhy
		}
		name = st.oif
	case FieldCTState:
		name = st.ctState()
	case FieldMark:
		num = st.Mark
	default:
		return Verdict{}, false, fmt.Sprintf("verdict map keyed on %q is not supported", v.Key)
	}
	for _, el := range vm.elems {
		switch {
		case el.Prefix != nil:
			if addr.IsValid() && el.Prefix.Contains(addr) {
				return el.Verdict, true, ""
			}
		case el.Range != nil:
			if !addr.IsValid() && name == "" && num >= el.Range.From && num <= el.Range.To {
				return el.Verdict, true, ""
			}
		case el.Name != "":
			if nameMatches(el.Name, name) {
				return el.Verdict, true, ""
			}
		}
	}
	return Verdict{}, false, ""
}

// SourceSamples returns one source address for each stretch of within over
// which nothing in the ruleset or routes can tell sources apart: every
// boundary of an address interval (rule, set, route, own address) that
// falls inside within starts a new stretch. Evaluating these addresses
// covers every source in within, as long as no other field of the packet
// depends on the source. extra prefixes cut the range too (declarations
// the caller judges apart). At most limit samples; truncated reports more.
func (e *Evaluator) SourceSamples(within netip.Prefix, limit int, extra ...netip.Prefix) (samples []netip.Addr, truncated bool) {
	cuts := addrrange.Within(within)
	for _, t := range e.tables {
		for _, c := range t.chains {
			for _, r := range c.rules {
				if r.vmap != nil {
					for _, el := range r.vmap.elems {
						if el.Prefix != nil {
							cuts.Prefix(*el.Prefix)
						}
					}
				}
				for _, m := range r.matches {
					if m.vals != nil && m.m.Field == FieldSaddr {
						for _, iv := range m.vals.addrs {
							cuts.Range(iv.lo, iv.hi)
						}
					}
				}
			}
		}
		for _, s := range t.sets {
			for _, iv := range s.vals.addrs {
				cuts.Range(iv.lo, iv.hi)
			}
			for _, el := range s.s.Elements {
				if el.Prefix != nil {
					cuts.Prefix(*el.Prefix)
				}
			}
		}
	}
	for _, r := range e.host.routes {
		cuts.Prefix(r.Dst)
	}
	for _, r := range e.host.localR {
		cuts.Prefix(r.Dst)
	}
	for a := range e.host.local {
		cuts.Range(a, a)
	}
	for _, p := range extra {
		cuts.Prefix(p)
	}
	samples = cuts.Addrs()
	if limit > 0 && len(samples) > limit {
		return samples[:limit], true
	}
	return samples, false
}

// IsLocal reports whether a is one of the host's own addresses (loopback
// included): packets from it come from the host itself, over lo.
func (e *Evaluator) IsLocal(a netip.Addr) bool { return e.host.isLocal(a.Unmap()) }

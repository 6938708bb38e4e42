package firewall

import (
	"cmp"
	"fmt"
	"net/netip"
	"slices"
	"strings"
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
	// updated are the sets rules add keys to: lookups in them must be
	// reached, not ruled out by an index of their current contents.
	updated map[string]bool
	// ipsets are the namespace's, which iptables rules look up.
	ipsets map[string]*IPSet
}

type cset struct {
	s      *Set
	vals   *valueSet
	tuples *tupleSet // sets and maps with a concatenated key
	concat bool
}

type cchain struct {
	t     *ctable
	c     *Chain
	rules []*crule
	idx   ruleIndex
	// inert: no rule of the chain can change the packet's fate or what
	// later rules see (LOG and RETURN rules, jumps to such chains), so a
	// jump to it changes nothing.
	inert bool
}

type crule struct {
	r       *Rule
	matches []cmatch
	vmap    *valueMap
	// inert: the rule changes nothing whether it matches or not (no
	// verdict, no effect; or a jump to an inert chain); it is skipped.
	inert bool
}

type cmatch struct {
	m      *Match
	vals   *valueSet
	tuples *tupleSet // FieldConcat
	has4   bool
	has6   bool
	broken string // e.g. a named set that does not exist
	setKey string // the named set's table and name (ctable.setKey)
}

// valueMap is a compiled verdict map: keys in element order.
type valueMap struct {
	elems  []MapElement
	tuples *tupleSet // concatenated keys: element i of tuples is elems[i]
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
		ct := compileTable(t, rs.IPSets)
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

func compileTable(t *Table, ipsets map[string]*IPSet) *ctable {
	ct := &ctable{t: t, chains: map[string]*cchain{}, sets: map[string]*cset{}, ipsets: ipsets}
	for name, s := range t.Sets {
		cs := &cset{s: s, concat: strings.Contains(s.Type, " . ")}
		cs.vals = compileValues(s.Prefixes, s.Ranges, s.Names)
		if cs.concat {
			keys := s.Tuples
			if s.Map != "" {
				keys = elementTuples(s.Elements)
			}
			cs.tuples = compileTuples(keys)
		}
		ct.sets[name] = cs
	}
	ct.updated = map[string]bool{}
	for _, c := range t.Chains {
		for _, r := range c.Rules {
			for _, name := range r.SetUpdates {
				ct.updated[name] = true
			}
		}
	}
	for _, c := range t.Chains {
		ct.chains[c.Name] = compileChain(ct, c)
	}
	markInert(ct)
	for _, c := range ct.chains {
		c.idx = buildIndex(c.rules, ct.updated)
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
	return cc
}

// hasEffect reports whether a rule changes something later rules see
// (the mark, a set) or does something unmodelled when it matches.
func hasEffect(r *Rule) bool {
	return r.MarkSet != nil || len(r.SetUpdates) > 0 || (r.Unsupported != "" && !r.UnsupportedMatch)
}

// markInert finds the rules and chains that cannot change a packet's
// fate: a rule without verdict or effect, whatever its matches (LOG with
// -m limit), and a chain of only such rules, RETURNs and jumps to such
// chains (ufw's logging chains). A jump to an inert chain is inert too;
// a goto is not, as it ends the calling chain.
func markInert(ct *ctable) {
	state := map[*cchain]int{} // 0 unknown, 1 in progress, 2 done
	var visit func(c *cchain) bool
	visit = func(c *cchain) bool {
		switch state[c] {
		case 1:
			return false // a loop: not provably inert
		case 2:
			return c.inert
		}
		state[c] = 1
		inert := true
		for _, r := range c.rules {
			v := r.r.Verdict
			switch {
			case hasEffect(r.r):
			case v.Kind == VerdictNone:
				r.inert = true
			case v.Kind == VerdictJump:
				if t, ok := ct.chains[v.Chain]; ok && t != c && visit(t) {
					r.inert = true
				}
			}
			if !r.inert && !(v.Kind == VerdictReturn && !hasEffect(r.r)) {
				inert = false
			}
		}
		c.inert = inert
		state[c] = 2
		return inert
	}
	for _, c := range ct.chains {
		visit(c)
	}
}

func compileMatch(ct *ctable, m *Match) cmatch {
	if m.Field == FieldIPSet {
		synth, why := ct.resolveIPSet(m)
		if why != "" {
			return cmatch{m: m, broken: why}
		}
		m = synth
	}
	cm := cmatch{m: m}
	switch {
	case m.Field == FieldConcat && m.Set != "":
		s, ok := ct.sets[m.Set]
		switch {
		case !ok:
			cm.broken = fmt.Sprintf("set @%s is not defined in table %s %s", m.Set, ct.t.Family, ct.t.Name)
		case s.s.Map != "":
			cm.broken = fmt.Sprintf("@%s is a map, not a set", m.Set)
		case s.tuples == nil || len(m.Concat) != len(strings.Split(s.s.Type, " . ")):
			cm.broken = fmt.Sprintf("set @%s of type %q for a key of %d parts", m.Set, s.s.Type, len(m.Concat))
		default:
			cm.tuples = s.tuples
		}
	case m.Field == FieldConcat:
		cm.tuples = compileTuples(m.Tuples)
	case m.Field == FieldAssumed:
		// Set names a recent list, not a set of the table.
	case m.Set != "":
		s, ok := ct.sets[m.Set]
		switch {
		case !ok:
			cm.broken = fmt.Sprintf("set @%s is not defined in table %s %s", m.Set, ct.t.Family, ct.t.Name)
		case s.concat:
			cm.broken = fmt.Sprintf("lookup in set @%s with concatenated key %q on a single field", m.Set, s.s.Type)
		case s.s.Map != "":
			cm.broken = fmt.Sprintf("@%s is a map, not a set", m.Set)
		default:
			cm.vals = s.vals
			// The set's type gives the family, also when it is empty: a
			// negated lookup in an empty set holds.
			cm.has4 = s.s.Type == "ipv4_addr"
			cm.has6 = s.s.Type == "ipv6_addr"
		}
	default:
		cm.vals = compileValues(m.Prefixes, m.Ranges, m.Names)
	}
	if m.Set != "" {
		cm.setKey = ct.setKey(m.Set)
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
		vm := &valueMap{elems: v.Elements}
		if v.Key == FieldConcat {
			vm.tuples = compileTuples(elementTuples(v.Elements))
		}
		return vm
	}
	s, ok := ct.sets[v.Map]
	switch {
	case !ok:
		return &valueMap{broken: fmt.Sprintf("map @%s is not defined in table %s %s", v.Map, ct.t.Family, ct.t.Name)}
	case s.s.Map != "verdict":
		return &valueMap{broken: fmt.Sprintf("@%s is not a verdict map", v.Map)}
	case s.concat != (v.Key == FieldConcat):
		return &valueMap{broken: fmt.Sprintf("map @%s of type %q for this key", v.Map, s.s.Type)}
	}
	return &valueMap{elems: s.s.Elements, tuples: s.tuples}
}

func elementTuples(elems []MapElement) [][]Value {
	out := make([][]Value, len(elems))
	for i, el := range elems {
		out[i] = el.Tuple
	}
	return out
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
	// tcpFlags are the packet's TCP flags: SYN for the first packet,
	// SYN|ACK for its reply, RST|ACK for a reject's reset.
	tcpFlags uint8
	// run is what the packets of one evaluation share: the random
	// choices taken, the assumptions made, the sets changed.
	run *evalRun
}

// TCP flag bits.
const (
	tcpFIN uint8 = 0x01
	tcpSYN uint8 = 0x02
	tcpRST uint8 = 0x04
	tcpACK uint8 = 0x10
	tcpECE uint8 = 0x40
	tcpCWR uint8 = 0x80
)

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
//
// Rules that pick one of several ways at random (kube-proxy's endpoint
// choice: statistic, numgen) are followed every way; the verdict stands
// when all ways agree (Decision.Branches), else it is indeterminate.
// Rate and state matches are judged for this one new connection, and the
// assumptions that takes are listed (Decision.Assumptions).
func (e *Evaluator) Evaluate(p Packet) Decision {
	run := &evalRun{}
	first := e.evaluateRun(p, run)
	if len(run.ch.arity) == 0 {
		return first
	}
	branches := []Decision{first}
	assume, refs := run.assume, run.ch.refs
	script := run.ch.taken()
	for {
		next, ok := nextScript(script, run.ch.arity)
		if !ok {
			break
		}
		if len(branches) == maxBranches {
			d := first
			d.Verdict, d.Reject, d.Reply, d.Answer = Indeterminate, "", nil, nil
			d.Reason = fmt.Sprintf("more than %d combinations of random choices (%s) lead to different rules; not all were followed", maxBranches, refs[0])
			return d
		}
		run = &evalRun{ch: chooser{script: next}}
		d := e.evaluateRun(p, run)
		branches = append(branches, d)
		assume = appendNew(assume, run.assume...)
		refs = append(refs, run.ch.refs...)
		script = run.ch.taken()
	}
	return mergeBranches(branches, assume, refs)
}

// evaluateRun is one way through the ruleset, with the random choices run
// prescribes.
func (e *Evaluator) evaluateRun(p Packet, run *evalRun) Decision {
	d, st := e.evaluateOriginal(p, run)
	if hasPorts(st.Proto) {
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
	}
	d.Assumptions = run.assume
	return d
}

// evaluateOriginal decides the first packet of the connection and returns
// it as it left the last hook.
func (e *Evaluator) evaluateOriginal(p Packet, run *evalRun) (Decision, *packetState) {
	st := &packetState{Packet: p, origDst: p.Dst, origDPort: p.DPort, tcpFlags: tcpSYN, run: run}
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
		if r, ok := e.host.route(st.Dst); ok && r.Type != "" && r.Type != "throw" {
			// A route that leads nowhere: blackhole drops silently,
			// unreachable and prohibit answer (ip_error, ip6_pkt_discard).
			d.Verdict, d.Hook = Reject, "routing"
			d.Reason = fmt.Sprintf("the route to %s is %s %s", st.Dst, r.Type, r.Dst)
			switch {
			case r.Type == "blackhole":
				d.Verdict = Drop
			case r.Type == "prohibit" && v6:
				d.Reject = "icmpv6 admin-prohibited"
			case r.Type == "prohibit":
				d.Reject = "icmp admin-prohibited"
			case v6:
				d.Reject = "icmpv6 no-route"
			default:
				d.Reject = "icmp host-unreachable"
			}
			st.noCT = false // conntrack has seen it: the answer is related
			return d, st
		}
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
	d.Trace = append(d.Trace, Step{Hook: hook, Ref: out.ref, Verdict: out.verdict, nat: bc.c.c.Type == "nat"})
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

// acceptingRule picks the rule to show for an accepted packet among the
// base chains of the deciding hook that accepted it: an explicit accept
// in a chain that filters (not a nat chain, whose policy every packet
// passes), else such a chain's policy, else a nat chain's rule or policy;
// the last one of the best kind. (An iptables host's INPUT hook also
// runs nat INPUT: "accepted by ip nat INPUT policy accept" says nothing.)
func acceptingRule(trace []Step, hook string) *RuleRef {
	var best *RuleRef
	bestRank := -1
	for i := range trace {
		s := &trace[i]
		if s.Hook != hook {
			continue
		}
		rank := 0
		if !s.nat {
			rank += 2
		}
		if s.Ref.Policy == "" {
			rank++
		}
		if rank >= bestRank {
			r := s.Ref
			best, bestRank = &r, rank
		}
	}
	return best
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
		if r.inert {
			continue
		}
		ok, why := e.matches(c, r, st, hook)
		if why != "" {
			return e.indeterminate(c, r, why)
		}
		if !ok {
			continue
		}
		if r.r.MarkSet != nil {
			st.Mark = r.r.MarkSet.Apply(st.Mark)
		}
		for _, name := range r.r.SetUpdates {
			if st.run.updated == nil {
				st.run.updated = map[string]string{}
			}
			st.run.updated[c.t.setKey(name)] = e.ref(c, r.r).String()
		}
		v := r.r.Verdict
		if v.Kind == VerdictVmap {
			mv, found, why := e.lookupVmap(c, r, st)
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
			// The connection is marked DNATed (ct status dnat, ctstate
			// DNAT) only when the mapping changes its tuple
			// (nf_nat_setup_info).
			st.dnat = st.dnat || st.Dst != st.origDst || st.DPort != st.origDPort
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

// setKey names a set of the table across tables; iptables' recent lists
// ("recent:NAME") are the namespace's, whichever table uses them.
func (t *ctable) setKey(name string) string {
	if strings.HasPrefix(name, "recent:") {
		return name
	}
	return t.t.Family + " " + t.t.Name + " " + name
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

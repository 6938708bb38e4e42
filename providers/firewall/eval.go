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
// for local delivery or forward and postrouting. Build it once; Evaluate
// is safe for concurrent use.
type Evaluator struct {
	host   hostIndex
	hooks  map[hookKey][]*baseChain
	tables []*ctable
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
	e := &Evaluator{hooks: map[hookKey][]*baseChain{}}
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
	// noCT: the base chain being run comes before conntrack (priority
	// below -200 in prerouting or output), so the packet has no
	// connection yet: ct state is invalid, ct original … never match.
	noCT bool
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
// state new) of a connection arriving at the host.
func (e *Evaluator) Evaluate(p Packet) Decision {
	st := &packetState{Packet: p, origDst: p.Dst, origDPort: p.DPort}
	st.Src, st.Dst = st.Src.Unmap(), st.Dst.Unmap()
	v6 := st.Dst.Is6()
	d := Decision{}
	if st.IIF == "" {
		// Unknown when there is no route back to the source; only rules
		// that test the interface then become undecidable.
		st.IIF = e.host.ingress(st.Src)
	}
	d.IIF = st.IIF

	if out := e.walk(&d, st, hookKey{v6, HookPrerouting}); out != nil {
		return e.final(d, *out)
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
		return d
	}

	hooks := []string{HookInput}
	if !e.host.isLocal(st.Dst) {
		if !e.host.forwarding(v6) {
			d.Verdict, d.Hook = Drop, "routing"
			d.Reason = fmt.Sprintf("%s is not an address of this host and forwarding is off (%s)", st.Dst, forwardingSysctl(v6))
			return d
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
			return d
		}
		d.OIF = st.oif
		hooks = []string{HookForward, HookPostrouting}
	}
	for _, h := range hooks {
		if out := e.walk(&d, st, hookKey{v6, h}); out != nil {
			return e.final(d, *out)
		}
	}
	d.Verdict, d.Hook = Accept, hooks[0]
	d.Rule = acceptingRule(d.Trace, hooks[0])
	return d
}

// ctState is the conntrack state the packet has where it is: new, or
// invalid before conntrack saw it (nft and xt_conntrack both call a packet
// without a connection invalid).
func (st *packetState) ctState() string {
	if st.noCT {
		return "invalid"
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
		out := e.runBase(bc, st, k.hook)
		d.Trace = append(d.Trace, Step{Hook: k.hook, Ref: out.ref, Verdict: out.verdict})
		switch out.verdict {
		case Drop, Reject, Indeterminate:
			out := out
			d.Hook = k.hook
			return &out
		case VerdictDNAT, VerdictSNAT:
			natDone = true
		}
	}
	return nil
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
	st.noCT = beforeConntrack(c.c, hook)
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
		if st.IIF == "" {
			// Unknown, but not lo: only the host's own addresses use lo.
			if !onlyLoopback(vs.names) {
				return false, fmt.Sprintf("no route back to %s, so the interface it arrives on is unknown", st.Src)
			}
			return m.Negate, ""
		}
		in = vs.hasName(st.IIF)
	case FieldOIF:
		in = st.oif != "" && vs.hasName(st.oif)
	case FieldSaddr, FieldDaddr, FieldCTOrigDaddr:
		if m.Field == FieldCTOrigDaddr && st.noCT {
			return false, "" // no connection: the match fails, negated or not
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
		// A new connection is not yet confirmed, assured or seen a reply;
		// its only named flag is dnat once a nat chain rewrote it.
		in = st.dnat && vs.hasName("dnat")
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
		addr = st.Dst
	case FieldIIF:
		if st.IIF == "" {
			return Verdict{}, false, fmt.Sprintf("no route back to %s, so the interface it arrives on is unknown", st.Src)
		}
		name = st.IIF
	case FieldOIF:
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
// depends on the source. At most limit samples; truncated reports more.
func (e *Evaluator) SourceSamples(within netip.Prefix, limit int) (samples []netip.Addr, truncated bool) {
	within = within.Masked()
	seen := map[netip.Addr]bool{}
	add := func(a netip.Addr) {
		if a.IsValid() && within.Contains(a) {
			seen[a] = true
		}
	}
	add(within.Addr())
	interval := func(lo, hi netip.Addr) { add(lo); add(hi.Next()) }
	for _, t := range e.tables {
		for _, c := range t.chains {
			for _, r := range c.rules {
				if r.vmap != nil {
					for _, el := range r.vmap.elems {
						if el.Prefix != nil {
							interval(el.Prefix.Masked().Addr(), LastAddr(el.Prefix.Masked()))
						}
					}
				}
				for _, m := range r.matches {
					if m.vals != nil && m.m.Field == FieldSaddr {
						for _, iv := range m.vals.addrs {
							interval(iv.lo, iv.hi)
						}
					}
				}
			}
		}
		for _, s := range t.sets {
			for _, iv := range s.vals.addrs {
				interval(iv.lo, iv.hi)
			}
			for _, el := range s.s.Elements {
				if el.Prefix != nil {
					interval(el.Prefix.Masked().Addr(), LastAddr(el.Prefix.Masked()))
				}
			}
		}
	}
	for _, r := range append(slices.Clone(e.host.routes), e.host.localR...) {
		interval(r.Dst.Addr(), LastAddr(r.Dst))
	}
	for a := range e.host.local {
		interval(a, a)
	}
	for a := range seen {
		samples = append(samples, a)
	}
	slices.SortFunc(samples, netip.Addr.Compare)
	if limit > 0 && len(samples) > limit {
		return samples[:limit], true
	}
	return samples, false
}

// IsLocal reports whether a is one of the host's own addresses (loopback
// included): packets from it come from the host itself, over lo.
func (e *Evaluator) IsLocal(a netip.Addr) bool { return e.host.isLocal(a.Unmap()) }

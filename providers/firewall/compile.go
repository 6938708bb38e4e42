package firewall

import (
	"cmp"
	"fmt"
	"slices"
	"strings"
)

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

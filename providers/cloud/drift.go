package cloud

import (
	"cmp"
	"fmt"
	"net/netip"
	"slices"
	"strings"
)

// DeclaredRule is a rule as a user declares it: several peers (CIDRs,
// prefix lists, groups) and one port range. Policy "" is accept; Priority
// 0 means "any priority" (and is what AWS rules always have).
type DeclaredRule struct {
	Direction   string
	Protocol    string
	Ports       PortRange
	CIDRs       []netip.Prefix
	PrefixLists []string
	Groups      []string
	Policy      string // "" = accept
	Priority    int    // 0 = any/AWS
	Description string
}

// DeclaredGroup is the declared state of one security group.
type DeclaredGroup struct {
	Provider string
	ID       string
	Rules    []DeclaredRule
	// ManageEgress false: egress rules are not compared at all.
	ManageEgress bool
}

// AtomicRule is a rule with one peer and one port range: the unit drift
// compares, so a grouped rule and its split form are the same.
type AtomicRule struct {
	Direction string
	Protocol  string
	Ports     PortRange
	Peer      string // "cidr:10.0.0.0/8" | "pl:pl-1" | "sg:sg-1"
	Policy    string
	Priority  int
	// Local and SourcePorts are a quintuple rule's (see Rule); declared
	// rules have neither, so a quintuple rule never equals one.
	Local       string    `json:",omitempty"` // "10.0.0.5/32"
	SourcePorts PortRange `json:",omitzero"`
}

// String is the rule in one line: "ingress tcp 443 from cidr:0.0.0.0/0 accept".
func (a AtomicRule) String() string {
	local, _ := netip.ParsePrefix(a.Local) // invalid when empty: no local part
	return a.Direction + " " + ruleLine(a.Direction, a.Protocol, a.Ports, a.Peer+quintupleText(a.Direction, local, a.SourcePorts), a.Policy, a.Priority)
}

// Drift is one difference between a group and its declaration.
type Drift struct {
	Kind      string // "missing" | "unexpected" | "changed"
	Direction string
	Declared  *AtomicRule
	Actual    *AtomicRule
	RuleIDs   []string // ids of the actual rules behind Actual
	Detail    string
}

// Drift kinds.
const (
	DriftMissing    = "missing"
	DriftUnexpected = "unexpected"
	DriftChanged    = "changed"
)

// rawAtom is an atomic rule before merging, with the id of its rule.
type rawAtom struct {
	AtomicRule
	id string
}

// atom is a merged atomic rule with the ids of the rules it came from.
type atom struct {
	AtomicRule
	ids []string
}

// normAtom normalises protocol, policy and ports so the two sides compare:
// tcp/udp ports "-1" are 0-65535; for protocol all and protocols without
// ports the ports are meaningless and set to AllPorts; icmp keeps type and
// code with any negative value as -1.
func normAtom(a *AtomicRule) {
	a.Protocol = normProto(a.Protocol)
	a.Policy = policyOf(a.Policy)
	switch {
	case isPortProto(a.Protocol):
		if a.Ports.From < 0 || a.Ports.To < 0 {
			a.Ports = AllPorts
		}
	case isICMP(a.Protocol):
		if a.Ports.From < 0 {
			a.Ports = PortRange{-1, -1}
		} else if a.Ports.To < 0 {
			a.Ports.To = -1
		}
	default:
		a.Ports = AllPorts
	}
}

func peerKey(p Peer) string {
	switch {
	case p.CIDR.IsValid():
		return "cidr:" + p.CIDR.Masked().String()
	case p.PrefixList != "":
		return "pl:" + p.PrefixList
	case p.Group != "":
		return "sg:" + p.Group
	}
	return ""
}

func rawFromRules(rules []Rule) []rawAtom {
	out := make([]rawAtom, 0, len(rules))
	for i := range rules {
		r := &rules[i]
		a := rawAtom{AtomicRule{Direction: r.Direction, Protocol: r.Protocol, Ports: r.Ports,
			Peer: peerKey(r.Peer), Policy: r.Policy, Priority: r.Priority}, r.ID}
		if r.Local.IsValid() {
			a.Local = r.Local.Masked().String()
		}
		if !anyPorts(r.SourcePorts) {
			a.SourcePorts = r.SourcePorts
		}
		normAtom(&a.AtomicRule)
		out = append(out, a)
	}
	return out
}

func rawFromDeclared(rules []DeclaredRule) []rawAtom {
	n := 0
	for i := range rules {
		n += len(rules[i].CIDRs) + len(rules[i].PrefixLists) + len(rules[i].Groups)
	}
	out := make([]rawAtom, 0, n)
	for i := range rules {
		r := &rules[i]
		base := AtomicRule{Direction: r.Direction, Protocol: r.Protocol, Ports: r.Ports, Policy: r.Policy, Priority: r.Priority}
		normAtom(&base)
		add := func(peer string) {
			a := base
			a.Peer = peer
			out = append(out, rawAtom{AtomicRule: a})
		}
		for _, p := range r.CIDRs {
			add("cidr:" + p.Masked().String())
		}
		for _, p := range r.PrefixLists {
			add("pl:" + p)
		}
		for _, g := range r.Groups {
			add("sg:" + g)
		}
	}
	return out
}

// mergeKey is what port sets are merged per.
type mergeKey struct {
	dir, proto, peer, policy string
	prio                     int
	local                    string
	sourcePorts              PortRange
}

func (a *AtomicRule) mergeKey() mergeKey {
	return mergeKey{a.Direction, a.Protocol, a.Peer, a.Policy, a.Priority, a.Local, a.SourcePorts}
}

func cmpAtomic(a, b *AtomicRule) int {
	// Short-circuiting (cmp.Or would evaluate every comparison).
	if c := strings.Compare(a.Direction, b.Direction); c != 0 {
		return c
	}
	if c := strings.Compare(a.Protocol, b.Protocol); c != 0 {
		return c
	}
	if c := strings.Compare(a.Peer, b.Peer); c != 0 {
		return c
	}
	if c := strings.Compare(a.Policy, b.Policy); c != 0 {
		return c
	}
	if c := cmp.Compare(a.Priority, b.Priority); c != 0 {
		return c
	}
	if c := strings.Compare(a.Local, b.Local); c != 0 {
		return c
	}
	if c := cmp.Compare(a.SourcePorts.From, b.SourcePorts.From); c != 0 {
		return c
	}
	if c := cmp.Compare(a.SourcePorts.To, b.SourcePorts.To); c != 0 {
		return c
	}
	if c := cmp.Compare(a.Ports.From, b.Ports.From); c != 0 {
		return c
	}
	return cmp.Compare(a.Ports.To, b.Ports.To)
}

// merge sorts the atoms and, per (direction, protocol, peer, policy,
// priority), merges overlapping and adjacent tcp/udp port ranges (so 80-81
// equals 80 + 81) and drops duplicates; the ids of merged rules are
// gathered, sorted and deduplicated.
func merge(raw []rawAtom) []atom {
	slices.SortFunc(raw, func(a, b rawAtom) int { return cmpAtomic(&a.AtomicRule, &b.AtomicRule) })
	out := make([]atom, 0, len(raw))
	// The ids of one merged atom are contiguous in raw: collect them in one
	// backing array and give each atom its own full slice of it.
	ids := make([]string, 0, len(raw))
	start := 0
	closeIDs := func() {
		if n := len(out); n > 0 {
			a := ids[start:len(ids):len(ids)]
			slices.Sort(a)
			out[n-1].ids = slices.Compact(a)
			if len(out[n-1].ids) == 0 {
				out[n-1].ids = nil
			}
		}
		start = len(ids)
	}
	for _, r := range raw {
		if n := len(out); n > 0 {
			last := &out[n-1]
			if last.mergeKey() == r.mergeKey() {
				mergeable := isPortProto(r.Protocol) && r.Ports.From <= last.Ports.To+1
				if mergeable || last.Ports == r.Ports {
					last.Ports.To = max(last.Ports.To, r.Ports.To)
					if r.id != "" {
						ids = append(ids, r.id)
					}
					continue
				}
			}
		}
		closeIDs()
		out = append(out, atom{AtomicRule: r.AtomicRule})
		if r.id != "" {
			ids = append(ids, r.id)
		}
	}
	closeIDs()
	return out
}

func atomicsOf(as []atom) []AtomicRule {
	out := make([]AtomicRule, len(as))
	for i := range as {
		out[i] = as[i].AtomicRule
	}
	return out
}

// Atomize splits rules into atomic rules, one peer each (the readers
// already give one peer per Rule), normalised, with overlapping or
// adjacent port ranges of otherwise equal rules merged and duplicates
// removed, sorted. It is idempotent: atomizing rules rebuilt from its
// result gives the same result.
func Atomize(rules []Rule) []AtomicRule {
	return atomicsOf(merge(rawFromRules(rules)))
}

// AtomizeDeclared splits declared rules into atomic rules: one per CIDR,
// prefix list and group, merged like Atomize. A declared rule with no peer
// yields nothing.
func AtomizeDeclared(rules []DeclaredRule) []AtomicRule {
	return atomicsOf(merge(rawFromDeclared(rules)))
}

// isDefaultEgress says whether an atom is the egress allow-all rule AWS
// puts in every new group (all protocols to 0.0.0.0/0, and ::/0 in an
// IPv6 VPC).
func isDefaultEgress(a *AtomicRule) bool {
	return a.Direction == Egress && a.Protocol == ProtoAll && a.Policy == Accept &&
		(a.Peer == "cidr:0.0.0.0/0" || a.Peer == "cidr:::/0")
}

// pairKey groups atoms that can be "changed" versions of one another.
type pairKey struct{ dir, proto, peer string }

// Diff compares a group with its declaration, atomic rule by atomic rule.
//
//   - Both sides are atomised and their port sets merged per (direction,
//     protocol, peer, policy, priority): a declared 80-81 equals actual 80
//     plus 81.
//   - Declared priority 0 means "any": where every declared atom of a
//     (direction, protocol, peer, policy) has priority 0, the actual
//     atoms of that tuple are compared without their priority (reported
//     as 0). For AWS priorities are ignored altogether.
//   - Equal atoms match. Of the rest, a declared and an actual atom with
//     the same direction, protocol and peer pair one-to-one as "changed"
//     (ports, policy or priority differ), preferring equal ports, then
//     overlapping ports with equal policy, then equal policy, then order;
//     leftovers are "missing" (declared, absent) or "unexpected" (present,
//     undeclared).
//   - ManageEgress false ignores egress on both sides. When true, the
//     default egress allow-all rule present but not declared is reported
//     as unexpected with a Detail saying it is the default egress rule; it
//     never pairs as "changed".
//
// Work is linear in the rules (after sorting) except the pairing within
// one (direction, protocol, peer), which is small. Results are sorted by
// direction, protocol, peer, ports, kind.
func Diff(g *SecurityGroup, d DeclaredGroup) []Drift {
	provider := d.Provider
	var rules []Rule
	gid := d.ID
	if g != nil {
		rules = g.Rules
		if provider == "" {
			provider = g.Provider
		}
		if gid == "" {
			gid = g.ID
		}
	}
	actRaw := rawFromRules(rules)
	decRaw := rawFromDeclared(d.Rules)
	keep := func(raw []rawAtom) []rawAtom {
		return slices.DeleteFunc(raw, func(a rawAtom) bool {
			return !d.ManageEgress && a.Direction == Egress
		})
	}
	actRaw, decRaw = keep(actRaw), keep(decRaw)
	if provider == AWS {
		for i := range actRaw {
			actRaw[i].Priority = 0
		}
		for i := range decRaw {
			decRaw[i].Priority = 0
		}
	} else {
		// Tuples where the declaration does not care about priority.
		type tuple struct{ dir, proto, peer, policy string }
		anyPrio := map[tuple]bool{}
		for _, a := range decRaw {
			t := tuple{a.Direction, a.Protocol, a.Peer, a.Policy}
			v, seen := anyPrio[t]
			anyPrio[t] = (!seen || v) && a.Priority == 0
		}
		for i := range actRaw {
			a := &actRaw[i]
			if anyPrio[tuple{a.Direction, a.Protocol, a.Peer, a.Policy}] {
				a.Priority = 0
			}
		}
	}
	act, dec := merge(actRaw), merge(decRaw)

	// Exact matches: both lists are sorted by the same order; walk them.
	var actLeft, decLeft []*atom
	i, j := 0, 0
	for i < len(dec) || j < len(act) {
		switch {
		case j == len(act):
			decLeft = append(decLeft, &dec[i])
			i++
		case i == len(dec):
			actLeft = append(actLeft, &act[j])
			j++
		default:
			switch c := cmpAtomic(&dec[i].AtomicRule, &act[j].AtomicRule); {
			case c == 0:
				i++
				j++
			case c < 0:
				decLeft = append(decLeft, &dec[i])
				i++
			default:
				actLeft = append(actLeft, &act[j])
				j++
			}
		}
	}

	var out []Drift
	byKey := map[pairKey][]*atom{}
	paired := map[*atom]bool{}
	for _, a := range actLeft {
		if isDefaultEgress(&a.AtomicRule) {
			out = append(out, Drift{Kind: DriftUnexpected, Direction: a.Direction, Actual: ptr(a.AtomicRule), RuleIDs: a.ids,
				Detail: fmt.Sprintf("default egress rule (allow all traffic to %s, which the cloud adds to every new group) is present in %s but not declared: declare it or revoke it",
					strings.TrimPrefix(a.Peer, "cidr:"), gid)})
			continue
		}
		k := pairKey{a.Direction, a.Protocol, a.Peer}
		byKey[k] = append(byKey[k], a)
	}
	for _, dl := range decLeft {
		k := pairKey{dl.Direction, dl.Protocol, dl.Peer}
		cands := byKey[k]
		best, bestScore := -1, -1
		for ci, a := range cands {
			if a == nil {
				continue
			}
			if s := pairScore(&dl.AtomicRule, &a.AtomicRule); s > bestScore {
				best, bestScore = ci, s
			}
		}
		if best < 0 {
			out = append(out, Drift{Kind: DriftMissing, Direction: dl.Direction, Declared: ptr(dl.AtomicRule),
				Detail: fmt.Sprintf("declared rule %s is not in %s", dl.AtomicRule, gid)})
			continue
		}
		a := cands[best]
		cands[best] = nil
		paired[a] = true
		out = append(out, Drift{Kind: DriftChanged, Direction: dl.Direction, Declared: ptr(dl.AtomicRule), Actual: ptr(a.AtomicRule),
			RuleIDs: a.ids, Detail: changeText(&dl.AtomicRule, &a.AtomicRule)})
	}
	for _, a := range actLeft {
		if isDefaultEgress(&a.AtomicRule) || paired[a] {
			continue
		}
		out = append(out, Drift{Kind: DriftUnexpected, Direction: a.Direction, Actual: ptr(a.AtomicRule), RuleIDs: a.ids,
			Detail: fmt.Sprintf("rule %s%s is in %s but not declared", a.AtomicRule, idsText(a.ids), gid)})
	}
	slices.SortFunc(out, func(x, y Drift) int {
		return cmp.Or(cmpAtomic(x.rule(), y.rule()), cmp.Compare(x.Kind, y.Kind))
	})
	return out
}

// rule is the atom a drift sorts by: the declared one if any.
func (d *Drift) rule() *AtomicRule {
	if d.Declared != nil {
		return d.Declared
	}
	return d.Actual
}

func pairScore(d, a *AtomicRule) int {
	switch {
	case d.Ports == a.Ports:
		return 3
	case d.Policy == a.Policy && d.Ports.From <= a.Ports.To && a.Ports.From <= d.Ports.To:
		return 2
	case d.Policy == a.Policy:
		return 1
	}
	return 0
}

func changeText(d, a *AtomicRule) string {
	var parts []string
	if d.Ports != a.Ports {
		pt := portsText
		if isICMP(d.Protocol) {
			pt = icmpText
		}
		parts = append(parts, fmt.Sprintf("ports %s declared, %s actual", pt(d.Ports), pt(a.Ports)))
	}
	if d.Policy != a.Policy {
		parts = append(parts, fmt.Sprintf("policy %s declared, %s actual", d.Policy, a.Policy))
	}
	if d.Priority != 0 && d.Priority != a.Priority {
		parts = append(parts, fmt.Sprintf("priority %d declared, %d actual", d.Priority, a.Priority))
	}
	// A quintuple rule's narrowing is not declarable: say what it limits.
	orAny := func(s string) string { return cmp.Or(s, "any") }
	if d.Local != a.Local {
		side := "destination"
		if d.Direction == Egress {
			side = "source"
		}
		parts = append(parts, fmt.Sprintf("%s %s declared, %s actual", side, orAny(d.Local), orAny(a.Local)))
	}
	if d.SourcePorts != a.SourcePorts {
		sp := func(r PortRange) string {
			if anyPorts(r) {
				return "any"
			}
			return portsText(r)
		}
		parts = append(parts, fmt.Sprintf("source ports %s declared, %s actual", sp(d.SourcePorts), sp(a.SourcePorts)))
	}
	return fmt.Sprintf("%s %s %s: %s", d.Direction, d.Protocol, d.Peer, strings.Join(parts, "; "))
}

func idsText(ids []string) string {
	if len(ids) == 0 {
		return ""
	}
	return " (" + strings.Join(ids, ", ") + ")"
}

func ptr[T any](v T) *T { return &v }

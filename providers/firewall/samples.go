package firewall

import (
	"net/netip"

	"github.com/portcheck/portcheck/internal/addrrange"
)

// Flow is what every packet judged for a declared source range shares:
// the destination, the protocol and port, and the client's source port.
// The packets of the flow are the first one (to Dst:DPort), its reply
// (from DPort to SPort) and a reject's answer (a TCP reset, an ICMP
// error).
type Flow struct {
	Dst   netip.Addr
	Proto uint8
	DPort uint16
	SPort uint16
}

// SourceSamples returns one source address for each stretch of within over
// which nothing that can see the flow's packets tells sources apart. It
// filters first, then splits: only rules that can match a packet of the
// flow (protocol and ports allow it, in chains such rules lead to, with
// the ports destination NAT may give it) draw boundaries, with their
// source addresses and, since the reply goes back to the source, their
// destination addresses; so do sets and verdict-map keys those rules look
// up, the routes, the host's own and broadcast addresses. On a kube-proxy
// node the thousands of per-service rules then draw nothing for a port no
// service uses. Evaluating one address per stretch covers every source in
// within. extra prefixes cut the range too (declarations the caller
// judges apart). At most limit samples; truncated reports more.
func (e *Evaluator) SourceSamples(within netip.Prefix, limit int, flow Flow, extra ...netip.Prefix) (samples []netip.Addr, truncated bool) {
	cuts := addrrange.Within(within)
	r := newReach(e, flow)
	r.run()
	for _, iv := range r.addrs {
		cuts.Range(iv.lo, iv.hi)
	}
	for _, rt := range e.host.routes {
		cuts.Prefix(rt.Dst)
	}
	for _, rt := range e.host.localR {
		cuts.Prefix(rt.Dst)
	}
	for a := range e.host.local {
		cuts.Range(a, a)
	}
	for _, ps := range e.host.ifaces {
		for _, p := range ps {
			if p.Addr().Is4() && p.Bits() < 31 {
				b := addrrange.Last(p)
				cuts.Range(b, b) // the broadcast address (addrtype, pkttype)
			}
		}
	}
	for _, p := range []string{"224.0.0.0/4", "255.255.255.255/32", "ff00::/8"} {
		cuts.Prefix(netip.MustParsePrefix(p))
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

// reach finds what of the ruleset a flow's packets can meet.
type reach struct {
	e      *Evaluator
	protos []uint8
	ports  map[uint16]bool
	// seen chains, and the address intervals of their matching rules.
	seen  map[*cchain]bool
	addrs []addrInterval
	// grew is set when a destination NAT adds a port.
	grew bool
}

func newReach(e *Evaluator, f Flow) *reach {
	r := &reach{e: e, ports: map[uint16]bool{f.DPort: true, f.SPort: true}}
	// The reject answers: a TCP reset (same protocol) or an ICMP error.
	r.protos = []uint8{f.Proto, ProtoICMP, ProtoICMPv6}
	return r
}

// run walks every chain the flow's packets can reach from the base
// chains, again whenever destination NAT adds a port.
func (r *reach) run() {
	for {
		r.seen, r.addrs, r.grew = map[*cchain]bool{}, nil, false
		for _, t := range r.e.tables {
			for _, c := range t.chains {
				if c.c.Hook != "" {
					r.chain(c)
				}
			}
		}
		if !r.grew {
			return
		}
	}
}

func (r *reach) chain(c *cchain) {
	if r.seen[c] {
		return
	}
	r.seen[c] = true
	for _, cr := range c.rules {
		if cr.inert || !r.mayMatch(cr) {
			continue
		}
		for i := range cr.matches {
			r.addrsOf(&cr.matches[i])
		}
		v := cr.r.Verdict
		switch v.Kind {
		case VerdictJump, VerdictGoto:
			if t, ok := c.t.chains[v.Chain]; ok {
				r.chain(t)
			}
		case VerdictDNAT, VerdictRedirect:
			if v.NATPort != 0 && !r.ports[v.NATPort] {
				r.ports[v.NATPort] = true
				r.grew = true
			}
		case VerdictVmap:
			r.vmap(c, cr)
		}
	}
}

// vmap follows the elements of a verdict map the flow's packets can hit.
func (r *reach) vmap(c *cchain, cr *crule) {
	vm := cr.vmap
	if vm == nil || vm.broken != "" {
		return
	}
	key := cr.r.Verdict
	for i, el := range vm.elems {
		switch key.Key {
		case FieldConcat:
			if i >= len(vm.tuples.tuples) || !r.tupleMay(key.Concat, vm.tuples.tuples[i]) {
				continue
			}
			r.tupleAddrs(key.Concat, vm.tuples.tuples[i])
		case FieldDport, FieldSport:
			if el.Range != nil && !r.portIn([]Range{*el.Range}) {
				continue
			}
		case FieldL4Proto:
			if el.Range != nil && !r.protoIn([]Range{*el.Range}) {
				continue
			}
		case FieldSaddr, FieldDaddr:
			if el.Prefix != nil {
				p := el.Prefix.Masked()
				r.addrs = append(r.addrs, addrInterval{p.Addr(), addrrange.Last(p)})
			}
		}
		if el.Verdict.Kind == VerdictJump || el.Verdict.Kind == VerdictGoto {
			if t, ok := c.t.chains[el.Verdict.Chain]; ok {
				r.chain(t)
			}
		}
	}
}

// mayMatch reports whether some packet of the flow can satisfy the rule's
// protocol and port matches.
func (r *reach) mayMatch(cr *crule) bool {
	for i := range cr.matches {
		cm := &cr.matches[i]
		m := cm.m
		if cm.broken != "" {
			continue
		}
		switch m.Field {
		case FieldL4Proto:
			if !m.Negate && cm.vals != nil && !r.protoIn(cm.vals.ranges) {
				return false
			}
		case FieldDport, FieldSport, FieldCTOrigDport:
			if m.Proto != 0 && !r.hasProto(m.Proto) {
				return false
			}
			if !m.Negate && cm.vals != nil && !r.portIn(cm.vals.ranges) {
				return false
			}
		case FieldTCPFlags:
			if !r.hasProto(ProtoTCP) {
				return false
			}
		case FieldConcat:
			if cm.tuples != nil && !m.Negate && !r.anyTupleMay(m.Concat, cm.tuples) {
				return false
			}
		}
	}
	return true
}

func (r *reach) hasProto(p uint8) bool {
	for _, q := range r.protos {
		if q == p {
			return true
		}
	}
	return false
}

func (r *reach) protoIn(rs []Range) bool {
	for _, p := range r.protos {
		for _, rg := range rs {
			if uint32(p) >= rg.From && uint32(p) <= rg.To {
				return true
			}
		}
	}
	return false
}

func (r *reach) portIn(rs []Range) bool {
	for p := range r.ports {
		for _, rg := range rs {
			if uint32(p) >= rg.From && uint32(p) <= rg.To {
				return true
			}
		}
	}
	return false
}

// tupleMay reports whether a key of a concatenated lookup can be the
// flow's: its protocol and port parts allow one of the flow's.
func (r *reach) tupleMay(parts []KeyField, t []Value) bool {
	if len(parts) != len(t) {
		return true
	}
	for i, f := range parts {
		v := t[i]
		if v.Range == nil {
			continue
		}
		switch f.Field {
		case FieldL4Proto:
			if !r.protoIn([]Range{*v.Range}) {
				return false
			}
		case FieldDport, FieldSport:
			if !r.portIn([]Range{*v.Range}) {
				return false
			}
		}
	}
	return true
}

func (r *reach) anyTupleMay(parts []KeyField, ts *tupleSet) bool {
	found := false
	for _, t := range ts.tuples {
		if r.tupleMay(parts, t) {
			found = true
			r.tupleAddrs(parts, t)
		}
	}
	return found
}

// tupleAddrs records the address parts of a key the flow can have.
func (r *reach) tupleAddrs(parts []KeyField, t []Value) {
	for i, f := range parts {
		if i < len(t) && t[i].Prefix != nil && (f.Field == FieldSaddr || f.Field == FieldDaddr) {
			p := t[i].Prefix.Masked()
			r.addrs = append(r.addrs, addrInterval{p.Addr(), addrrange.Last(p)})
		}
	}
}

// addrsOf records the source and destination intervals of a match: the
// source for the first packet, the destination for the packets that go
// back to the client.
func (r *reach) addrsOf(cm *cmatch) {
	if cm.vals == nil || (cm.m.Field != FieldSaddr && cm.m.Field != FieldDaddr) {
		return
	}
	r.addrs = append(r.addrs, cm.vals.addrs...)
}

// IsLocal reports whether a is one of the host's own addresses (loopback
// included): packets from it come from the host itself, over lo.
func (e *Evaluator) IsLocal(a netip.Addr) bool { return e.host.isLocal(a.Unmap()) }

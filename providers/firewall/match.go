package firewall

import (
	"fmt"
	"net/netip"
)

// matches reports whether every match of r holds. A match that cannot be
// evaluated only matters when all the others hold: one definite mismatch
// settles the rule either way. Random choices are taken last, and only
// when everything else holds, so that a rule another match rules out does
// not split the evaluation; an assumption is recorded when it is what
// decides the rule (every other match holds).
//
// at is the index of the match that decided a rule that does not match or
// cannot be decided (-1 when the rule's own statement cannot be), for the
// walk.
func (e *Evaluator) matches(c *cchain, r *crule, st *packetState, hook string) (bool, string, int) {
	why, whyAt := "", -1
	var assume []string
	random := false
	for i := range r.matches {
		cm := &r.matches[i]
		if cm.m.Field == FieldRandom {
			random = true
			continue
		}
		ok, w, a := e.matchOne(cm, st, hook)
		if w != "" {
			if why == "" {
				why, whyAt = w, i
			}
			continue
		}
		if a != "" {
			assume = append(assume, a)
		}
		if !ok {
			if a == "" {
				return false, "", i
			}
			// Decided by the assumption only if every other match holds.
			if e.othersHold(r, i, st, hook) {
				st.run.assumeThat(a)
			}
			return false, "", i
		}
	}
	if why != "" {
		return false, why, whyAt
	}
	if r.r.Unsupported != "" {
		return false, "unsupported " + r.r.Unsupported, -1
	}
	for _, a := range assume {
		st.run.assumeThat(a)
	}
	if random {
		for i := range r.matches {
			m := r.matches[i].m
			if m.Field != FieldRandom {
				continue
			}
			// Way 0: the random match holds; way 1: it does not.
			if holds := st.run.ch.choose(2, e.ref(c, r.r)) == 0; holds == m.Negate {
				return false, "", i
			}
		}
	}
	return true, "", -1
}

// othersHold reports whether every match of r but the i-th holds (and can
// be decided), without taking random choices.
func (e *Evaluator) othersHold(r *crule, skip int, st *packetState, hook string) bool {
	for j := range r.matches {
		if j == skip || r.matches[j].m.Field == FieldRandom {
			continue
		}
		ok, w, _ := e.matchOne(&r.matches[j], st, hook)
		if w != "" || !ok {
			return false
		}
	}
	return r.r.Unsupported == ""
}

// matchOne evaluates one match. why says why it cannot be decided;
// assume, when not empty, is the assumption its result rests on.
func (e *Evaluator) matchOne(cm *cmatch, st *packetState, hook string) (ok bool, why, assume string) {
	if cm.broken != "" {
		return false, cm.broken, ""
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
				return false, fmt.Sprintf("no route back to %s, so the interface it arrives on is unknown", st.Src), ""
			}
			return m.Negate, "", ""
		}
		in = vs.hasName(st.IIF)
	case FieldOIF:
		if st.oifWhy != "" {
			return false, st.oifWhy, ""
		}
		in = st.oif != "" && vs.hasName(st.oif)
	case FieldSaddr, FieldDaddr, FieldCTOrigDaddr:
		if m.Field == FieldCTOrigDaddr && st.noCT {
			return false, "", "" // no connection: the match fails, negated or not
		}
		if m.Field == FieldDaddr && st.dstWhy != "" {
			return false, st.dstWhy, ""
		}
		a := st.Src
		if m.Field == FieldDaddr {
			a = st.Dst
		} else if m.Field == FieldCTOrigDaddr {
			a = st.origDst
		}
		if (a.Is4() && !cm.has4) || (a.Is6() && !cm.has6) {
			return false, "", "" // an address match of the other family never matches
		}
		in = vs.hasAddr(a)
		if !in && m.Set != "" {
			if w := st.updatedSet(cm); w != "" {
				return false, w, ""
			}
		}
	case FieldNfproto:
		in = vs.hasName(nfproto(st.Dst))
	case FieldL4Proto:
		in = vs.hasNum(uint32(st.Proto))
	case FieldSport, FieldDport, FieldCTOrigDport:
		if !hasPorts(st.Proto) || (m.Proto != 0 && m.Proto != st.Proto) || (m.Field == FieldCTOrigDport && st.noCT) {
			return false, "", ""
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
		// iptables' virtual states DNAT and SNAT are the connection's NAT
		// status bits (xt_conntrack ORs them into the state).
		if !st.noCT && ((st.dnat && vs.hasName("dnat")) || (st.snat && vs.hasName("snat"))) {
			in = true
		}
	case FieldCTStatus:
		if st.noCT {
			return false, "", ""
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
	case FieldTCPFlags:
		if st.Proto != ProtoTCP {
			return false, "", "" // implies tcp: never for other protocols
		}
		in = flagsIn(st.tcpFlags, m, vs)
		// A client may ask for ECN on its SYN (ECE and CWR set); a test
		// that looks at those bits holds only for one kind of SYN.
		if st.tcpFlags == tcpSYN && !st.reply && flagsIn(tcpSYN|tcpECE|tcpCWR, m, vs) != in {
			assume = "the client's SYN does not request ECN (ECE and CWR unset), as Linux clients' do not by default"
		}
	case FieldICMPType:
		if st.Proto != ProtoICMP {
			return false, "", ""
		}
		in = vs.hasNum(uint32(st.ICMPType))
	case FieldICMPv6Type:
		if st.Proto != ProtoICMPv6 {
			return false, "", ""
		}
		in = vs.hasNum(uint32(st.ICMPType))
	case FieldDaddrType:
		if st.dstWhy != "" {
			return false, st.dstWhy, ""
		}
		in = vs.hasName(e.host.addrType(st.Dst))
	case FieldSaddrType:
		in = vs.hasName(e.host.addrType(st.Src))
	case FieldExtHdr, FieldFragment, FieldIPsec:
		// The packets judged are plain: no extension headers, not
		// fragments, not from an IPsec tunnel.
		in = false
	case FieldRPF:
		present, w := e.reversePath(st, vs, hook)
		if w != "" {
			return false, w, ""
		}
		in = present
	case FieldPktType:
		in = vs.hasName(e.host.pktType(st))
	case FieldAssumed:
		if m.Set != "" && st.run.updated[cm.setKey] != "" {
			// A recent list this packet's way added the source to: the
			// check sees it, whatever came before.
			in = false
			break
		}
		in, assume = true, m.Assume
	case FieldConcat:
		key, applies, w := e.concatKey(m.Concat, st)
		if w != "" {
			return false, w, ""
		}
		if !applies {
			return false, "", "" // a part that does not exist for this packet: no match
		}
		in = cm.tuples.lookup(key) >= 0
		if !in && m.Set != "" {
			if w := st.updatedSet(cm); w != "" {
				return false, w, ""
			}
		}
	default:
		return false, fmt.Sprintf("match on %q is not supported", m.Field), ""
	}
	return in != m.Negate, "", assume
}

// flagsIn tests TCP flags against a flags match: (flags & mask) in the
// match's values.
func flagsIn(flags uint8, m *Match, vs *valueSet) bool {
	v := uint32(flags)
	if m.Mask != 0 {
		v &= m.Mask
	}
	return vs.hasNum(v)
}

func nfproto(a netip.Addr) string {
	if a.Is6() {
		return "ipv6"
	}
	return "ipv4"
}

// updatedSet says why a lookup that found nothing cannot be trusted: an
// earlier rule on the packet's way added its key to the set.
func (st *packetState) updatedSet(cm *cmatch) string {
	if st.run == nil || len(st.run.updated) == 0 {
		return ""
	}
	if by, ok := st.run.updated[cm.setKey]; ok {
		return fmt.Sprintf("set @%s was added to by %s on this packet's way, which is not modelled", cm.m.Set, by)
	}
	return ""
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

// lookupVmap finds the verdict a verdict map gives the packet.
func (e *Evaluator) lookupVmap(c *cchain, r *crule, st *packetState) (Verdict, bool, string) {
	vm := r.vmap
	if vm.broken != "" {
		return Verdict{}, false, vm.broken
	}
	v := r.r.Verdict
	switch v.Key {
	case FieldConcat:
		key, applies, why := e.concatKey(v.Concat, st)
		if why != "" || !applies {
			return Verdict{}, false, why
		}
		if i := vm.tuples.lookup(key); i >= 0 {
			return vm.elems[i].Verdict, true, ""
		}
		return Verdict{}, false, ""
	case FieldNumgen:
		if v.Mod == 0 {
			return Verdict{}, false, "numgen with modulus 0"
		}
		// The kernel draws a number (or counts packets): every value is
		// followed.
		n := v.Offset + uint32(st.run.ch.choose(int(v.Mod), e.ref(c, r.r)))
		for _, el := range vm.elems {
			if el.Range != nil && n >= el.Range.From && n <= el.Range.To {
				return el.Verdict, true, ""
			}
		}
		return Verdict{}, false, ""
	}
	part, applies, why := e.keyPart(KeyField{Field: v.Key, Proto: v.KeyProto}, st)
	if why != "" || !applies {
		return Verdict{}, false, why
	}
	for _, el := range vm.elems {
		switch {
		case el.Prefix != nil:
			if part.kind == 'a' && el.Prefix.Contains(part.addr) {
				return el.Verdict, true, ""
			}
		case el.Range != nil:
			if part.kind == 'n' && part.num >= el.Range.From && part.num <= el.Range.To {
				return el.Verdict, true, ""
			}
		case el.Name != "":
			if part.kind == 's' && nameMatches(el.Name, part.name) {
				return el.Verdict, true, ""
			}
		}
	}
	return Verdict{}, false, ""
}

// concatKey is the packet's value of a concatenated key. applies is false
// when a part does not exist for the packet (a port of an ICMP packet, an
// IPv4 address of an IPv6 one): the lookup then finds nothing.
func (e *Evaluator) concatKey(parts []KeyField, st *packetState) (key []keyPart, applies bool, why string) {
	key = make([]keyPart, len(parts))
	for i, f := range parts {
		p, ok, w := e.keyPart(f, st)
		if w != "" || !ok {
			return nil, false, w
		}
		key[i] = p
	}
	return key, true, ""
}

// keyPart is the packet's value of one field used as a lookup key.
func (e *Evaluator) keyPart(f KeyField, st *packetState) (keyPart, bool, string) {
	switch f.Field {
	case FieldDport, FieldSport:
		if !hasPorts(st.Proto) || (f.Proto != 0 && f.Proto != st.Proto) {
			return keyPart{}, false, ""
		}
		if f.Field == FieldSport {
			return keyPart{kind: 'n', num: uint32(st.SPort)}, true, ""
		}
		return keyPart{kind: 'n', num: uint32(st.DPort)}, true, ""
	case FieldCTOrigDport:
		if !hasPorts(st.Proto) || st.noCT {
			return keyPart{}, false, ""
		}
		return keyPart{kind: 'n', num: uint32(st.origDPort)}, true, ""
	case FieldL4Proto:
		return keyPart{kind: 'n', num: uint32(st.Proto)}, true, ""
	case FieldICMPType, FieldICMPv6Type:
		if (f.Field == FieldICMPType && st.Proto != ProtoICMP) || (f.Field == FieldICMPv6Type && st.Proto != ProtoICMPv6) {
			return keyPart{}, false, ""
		}
		return keyPart{kind: 'n', num: uint32(st.ICMPType)}, true, ""
	case FieldSaddr:
		return keyPart{kind: 'a', addr: st.Src}, true, ""
	case FieldDaddr:
		if st.dstWhy != "" {
			return keyPart{}, false, st.dstWhy
		}
		return keyPart{kind: 'a', addr: st.Dst}, true, ""
	case FieldCTOrigDaddr:
		if st.noCT {
			return keyPart{}, false, ""
		}
		return keyPart{kind: 'a', addr: st.origDst}, true, ""
	case FieldIIF:
		if st.noIIF {
			return keyPart{kind: 's'}, true, "" // no input interface: the key is ""
		}
		if st.IIF == "" {
			return keyPart{}, false, fmt.Sprintf("no route back to %s, so the interface it arrives on is unknown", st.Src)
		}
		return keyPart{kind: 's', name: st.IIF}, true, ""
	case FieldOIF:
		if st.oifWhy != "" {
			return keyPart{}, false, st.oifWhy
		}
		return keyPart{kind: 's', name: st.oif}, true, ""
	case FieldCTState:
		return keyPart{kind: 's', name: st.ctState()}, true, ""
	case FieldNfproto:
		return keyPart{kind: 's', name: nfproto(st.Dst)}, true, ""
	case FieldMark:
		return keyPart{kind: 'n', num: st.Mark}, true, ""
	case FieldDaddrType:
		if st.dstWhy != "" {
			return keyPart{}, false, st.dstWhy
		}
		return keyPart{kind: 's', name: e.host.addrType(st.Dst)}, true, ""
	case FieldSaddrType:
		return keyPart{kind: 's', name: e.host.addrType(st.Src)}, true, ""
	}
	return keyPart{}, false, fmt.Sprintf("lookup keyed on %q is not supported", f.Field)
}

package iptables

import (
	"net/netip"
	"slices"
	"strings"

	"github.com/portcheck/portcheck/providers/firewall"
)

// matchers translate the -m matches the model can express; any other
// match makes the rule Unsupported.
var matchers = map[string]func(*builder, *extension){
	"tcp":        func(b *builder, m *extension) { b.portMatch(m, firewall.ProtoTCP) },
	"udp":        func(b *builder, m *extension) { b.portMatch(m, firewall.ProtoUDP) },
	"multiport":  (*builder).multiport,
	"conntrack":  (*builder).conntrack,
	"state":      (*builder).conntrack,
	"comment":    (*builder).comment,
	"addrtype":   (*builder).addrtype,
	"mark":       (*builder).mark,
	"icmp":       (*builder).icmp,
	"icmp6":      (*builder).icmp,
	"iprange":    (*builder).iprange,
	"limit":      (*builder).limit,
	"hashlimit":  (*builder).hashlimit,
	"recent":     (*builder).recent,
	"connlimit":  (*builder).connlimit,
	"quota":      (*builder).quota,
	"statistic":  (*builder).statistic,
	"rt":         extHeader("rt"),
	"frag":       extHeader("frag"),
	"hbh":        extHeader("hbh"),
	"dst":        extHeader("dst"),
	"mh":         extHeader("mh"),
	"ah":         extHeader("ah"),
	"ipv6header": (*builder).ipv6header,
	"rpfilter":   (*builder).rpfilter,
	"pkttype":    (*builder).pkttype,
	"policy":     (*builder).policy,
	"set":        (*builder).set,
}

func (b *builder) match(m *extension) {
	if tr, ok := matchers[m.name]; ok {
		tr(b, m)
		return
	}
	b.unsupported("match %q", m.name)
}

func (b *builder) badOption(m *extension, o option) { b.unsupportedOption("match", m, o) }

// portMatch translates -m tcp and -m udp.
func (b *builder) portMatch(m *extension, proto uint8) {
	for _, o := range m.opts {
		switch o.name {
		case "--sport", "--source-port", "--dport", "--destination-port":
			arg, ok := oneArg(o)
			r, ok2 := parsePortRange(arg)
			if !ok || !ok2 {
				b.badOption(m, o)
				continue
			}
			field := firewall.FieldDport
			if o.name == "--sport" || o.name == "--source-port" {
				field = firewall.FieldSport
			}
			b.add(firewall.Match{Field: field, Negate: o.negate, Proto: proto, Ranges: []firewall.Range{r}})
		case "--syn", "--tcp-flags":
			if proto != firewall.ProtoTCP {
				b.badOption(m, o)
				continue
			}
			mask, comp, ok := tcpFlagsTest(o)
			if !ok {
				b.badOption(m, o)
				continue
			}
			b.add(firewall.Match{Field: firewall.FieldTCPFlags, Negate: o.negate, Proto: firewall.ProtoTCP,
				Mask: mask, Ranges: []firewall.Range{{From: comp, To: comp}}})
		default:
			b.badOption(m, o)
		}
	}
}

// tcpFlagNames are the flag names of --tcp-flags.
var tcpFlagNames = map[string]uint32{
	"FIN": 0x01, "SYN": 0x02, "RST": 0x04, "PSH": 0x08, "ACK": 0x10, "URG": 0x20,
	"ECE": 0x40, "CWR": 0x80, "ALL": 0x3f, "NONE": 0,
}

// tcpFlagsTest reads --tcp-flags MASK COMP ((flags & MASK) == COMP) and
// --syn (--tcp-flags FIN,SYN,RST,ACK SYN).
func tcpFlagsTest(o option) (mask, comp uint32, ok bool) {
	if o.name == "--syn" {
		return 0x17, 0x02, len(o.args) == 0
	}
	if len(o.args) != 2 {
		return 0, 0, false
	}
	flags := func(s string) (uint32, bool) {
		var v uint32
		for _, f := range strings.Split(strings.ToUpper(s), ",") {
			n, ok := tcpFlagNames[f]
			if !ok {
				return 0, false
			}
			v |= n
		}
		return v, true
	}
	mask, ok1 := flags(o.args[0])
	comp, ok2 := flags(o.args[1])
	return mask, comp & mask, ok1 && ok2 && mask != 0
}

// multiport translates --dports and --sports; the kernel requires a
// single protocol with ports (-p tcp, udp, …), which becomes Match.Proto.
func (b *builder) multiport(m *extension) {
	for _, o := range m.opts {
		field := firewall.FieldDport
		switch o.name {
		case "--dports", "--destination-ports":
		case "--sports", "--source-ports":
			field = firewall.FieldSport
		default: // --ports: either direction, not one field
			b.badOption(m, o)
			continue
		}
		arg, ok := oneArg(o)
		rs, ok2 := parsePortList(arg)
		if !ok || !ok2 || !hasPorts(b.proto) {
			b.badOption(m, o)
			continue
		}
		b.add(firewall.Match{Field: field, Negate: o.negate, Proto: b.proto, Ranges: rs})
	}
}

// ctStates are the conntrack states the model knows, with the virtual
// states SNAT and DNAT (the connection's NAT status, which xt_conntrack
// ORs into the state).
var ctStates = []string{"new", "established", "related", "invalid", "untracked", "snat", "dnat"}

// ctStatuses are the --ctstatus flags the model knows.
var ctStatuses = []string{"expected", "seen_reply", "assured", "confirmed"}

// conntrack translates -m conntrack and -m state.
func (b *builder) conntrack(m *extension) {
	for _, o := range m.opts {
		arg, ok := oneArg(o)
		if !ok {
			b.badOption(m, o)
			continue
		}
		switch {
		case o.name == "--ctstate" && m.name == "conntrack", o.name == "--state" && m.name == "state":
			names := strings.Split(strings.ToLower(arg), ",")
			if !allIn(names, ctStates) {
				b.badOption(m, o)
				continue
			}
			b.add(firewall.Match{Field: firewall.FieldCTState, Negate: o.negate, Names: names})
		case o.name == "--ctstatus" && m.name == "conntrack":
			names := strings.Split(strings.ToLower(arg), ",")
			if !allIn(names, ctStatuses) {
				b.badOption(m, o)
				continue
			}
			for i, n := range names {
				names[i] = strings.ReplaceAll(n, "_", "-")
			}
			b.add(firewall.Match{Field: firewall.FieldCTStatus, Negate: o.negate, Names: names})
		case o.name == "--ctorigdst" && m.name == "conntrack":
			p, ok := parsePrefix(b.family, arg)
			if !ok {
				b.badOption(m, o)
				continue
			}
			b.add(firewall.Match{Field: firewall.FieldCTOrigDaddr, Negate: o.negate, Prefixes: []netip.Prefix{p}})
		case o.name == "--ctorigdstport" && m.name == "conntrack":
			// The kernel compares the tuple's port field of any protocol
			// (ICMP keeps type and code there); only a -p with ports makes
			// that the port the model means.
			r, ok := parsePortRange(arg)
			if !ok || !hasPorts(b.proto) {
				b.badOption(m, o)
				continue
			}
			b.add(firewall.Match{Field: firewall.FieldCTOrigDport, Negate: o.negate, Proto: b.proto, Ranges: []firewall.Range{r}})
		default:
			b.badOption(m, o)
		}
	}
}

func allIn(names, known []string) bool {
	for _, n := range names {
		if !slices.Contains(known, n) {
			return false
		}
	}
	return len(names) > 0
}

// comment changes nothing a packet sees.
func (b *builder) comment(m *extension) {
	for _, o := range m.opts {
		if o.name != "--comment" || o.negate {
			b.badOption(m, o)
		}
	}
}

// addrTypes are the types of -m addrtype, as the model (and nft's fib)
// names them.
var addrTypes = []string{"unspec", "unicast", "local", "broadcast", "anycast", "multicast",
	"blackhole", "unreachable", "prohibit", "throw", "nat", "xresolve"}

// addrtype translates --src-type and --dst-type. For IPv4 the kernel tests
// the address's one route type against the list, as the model does. For
// IPv6 it combines the listed types differently and calls every local
// address "unicast" too, so only a single LOCAL or MULTICAST is exact.
func (b *builder) addrtype(m *extension) {
	for _, o := range m.opts {
		field := firewall.FieldDaddrType
		switch o.name {
		case "--dst-type":
		case "--src-type":
			field = firewall.FieldSaddrType
		default: // --limit-iface-in/out: the route type seen through one interface
			b.badOption(m, o)
			continue
		}
		arg, ok := oneArg(o)
		names := strings.Split(strings.ToLower(arg), ",")
		if !ok || !exactAddrTypes(b.family, names) {
			b.badOption(m, o)
			continue
		}
		b.add(firewall.Match{Field: field, Negate: o.negate, Names: names})
	}
}

func exactAddrTypes(family string, names []string) bool {
	if family == firewall.FamilyIP6 {
		return len(names) == 1 && (names[0] == "local" || names[0] == "multicast")
	}
	return allIn(names, addrTypes)
}

// mark translates --mark V[/M]: the kernel tests (mark & M) == V.
func (b *builder) mark(m *extension) {
	for _, o := range m.opts {
		arg, ok := oneArg(o)
		v, mask, ok2 := parseValueMask(arg)
		if o.name != "--mark" || !ok || !ok2 {
			b.badOption(m, o)
			continue
		}
		match := firewall.Match{Field: firewall.FieldMark, Negate: o.negate, Ranges: []firewall.Range{{From: v, To: v}}}
		switch mask {
		case 0:
			// Mask 0 means "no mask" in the model; in the kernel every
			// mark passes when V is 0 and none does otherwise.
			match.Ranges = []firewall.Range{{From: 0, To: ^uint32(0)}}
			match.Negate = o.negate != (v != 0)
		case ^uint32(0):
		default:
			match.Mask = mask
		}
		b.add(match)
	}
}

// icmp translates -m icmp --icmp-type (iptables) and -m icmp6
// --icmpv6-type (ip6tables).
func (b *builder) icmp(m *extension) {
	v4 := m.name == "icmp"
	if v4 != (b.family == firewall.FamilyIP) {
		b.unsupported("match %q in family %s", m.name, b.family)
		return
	}
	want, field, proto, names := "--icmp-type", firewall.FieldICMPType, firewall.ProtoICMP, icmpTypes
	if !v4 {
		want, field, proto, names = "--icmpv6-type", firewall.FieldICMPv6Type, firewall.ProtoICMPv6, icmpv6Types
	}
	for _, o := range m.opts {
		arg, ok := oneArg(o)
		r, ok2 := parseICMPType(arg, names, v4)
		if o.name != want || !ok || !ok2 {
			b.badOption(m, o)
			continue
		}
		b.add(firewall.Match{Field: field, Negate: o.negate, Proto: proto, Ranges: []firewall.Range{r}})
	}
}

// iprange translates --src-range and --dst-range A-B into the prefixes
// that cover exactly the range.
func (b *builder) iprange(m *extension) {
	for _, o := range m.opts {
		field := firewall.FieldSaddr
		switch o.name {
		case "--src-range":
		case "--dst-range":
			field = firewall.FieldDaddr
		default:
			b.badOption(m, o)
			continue
		}
		arg, ok := oneArg(o)
		from, to, _ := strings.Cut(arg, "-")
		lo, ok1 := parseAddr(b.family, from)
		hi, ok2 := parseAddr(b.family, to)
		if !ok || !ok1 || !ok2 || hi.Less(lo) {
			b.badOption(m, o)
			continue
		}
		b.add(firewall.Match{Field: field, Negate: o.negate, Prefixes: rangePrefixes(lo, hi)})
	}
}

// set translates -m set --match-set NAME DIRS (an ipset lookup, resolved
// against the set's type when evaluated). Counter conditions and
// --return-nomatch are not modelled.
func (b *builder) set(m *extension) {
	for _, o := range m.opts {
		switch o.name {
		case "--match-set":
			if len(o.args) != 2 {
				b.badOption(m, o)
				continue
			}
			b.add(firewall.Match{Field: firewall.FieldIPSet, Negate: o.negate, Set: o.args[0], Names: strings.Split(o.args[1], ",")})
		case "--update-counters", "--update-subcounters":
			// Counting changes nothing judged.
		default:
			b.badOption(m, o)
		}
	}
}

package iptables

import (
	"math"
	"net/netip"
	"strconv"
	"strings"

	"github.com/portcheck/portcheck/providers/firewall"
)

// parsePrefix reads an address as iptables-save prints it: "10.0.0.1/32",
// "10.0.0.1" (a host) or "10.0.0.0/255.0.255.0" (a mask). Only masks that
// are a prefix can be modelled; ok is false for anything else, including
// an address of the other family.
func parsePrefix(family, s string) (netip.Prefix, bool) {
	addrText, maskText, hasMask := strings.Cut(s, "/")
	a, err := netip.ParseAddr(addrText)
	if err != nil || a.Zone() != "" || a.Is4() != (family == firewall.FamilyIP) {
		return netip.Prefix{}, false
	}
	bits := a.BitLen()
	if hasMask {
		var ok bool
		if bits, ok = maskBits(maskText, a.BitLen()); !ok {
			return netip.Prefix{}, false
		}
	}
	return netip.PrefixFrom(a, bits).Masked(), true
}

// maskBits reads a prefix length or a netmask that is a prefix.
func maskBits(s string, width int) (int, bool) {
	if n, err := strconv.Atoi(s); err == nil {
		return n, n >= 0 && n <= width && s == strconv.Itoa(n)
	}
	m, err := netip.ParseAddr(s)
	if err != nil || m.BitLen() != width || m.Zone() != "" {
		return 0, false
	}
	b := m.AsSlice()
	ones := 0
	for ones < width && b[ones/8]&(0x80>>(ones%8)) != 0 {
		ones++
	}
	for i := ones; i < width; i++ {
		if b[i/8]&(0x80>>(i%8)) != 0 {
			return 0, false // not contiguous: no prefix equals it
		}
	}
	return ones, true
}

// parseAddr reads a single address of the family.
func parseAddr(family, s string) (netip.Addr, bool) {
	a, err := netip.ParseAddr(s)
	if err != nil || a.Zone() != "" || a.Is4() != (family == firewall.FamilyIP) {
		return netip.Addr{}, false
	}
	return a, true
}

// rangePrefixes splits the inclusive address range lo-hi into the fewest
// prefixes that cover exactly it.
func rangePrefixes(lo, hi netip.Addr) []netip.Prefix {
	var out []netip.Prefix
	for lo.IsValid() && !hi.Less(lo) {
		bits := lo.BitLen()
		for bits > 0 {
			p := netip.PrefixFrom(lo, bits-1)
			if p.Masked().Addr() != lo || hi.Less(lastAddr(p)) {
				break
			}
			bits--
		}
		p := netip.PrefixFrom(lo, bits)
		out = append(out, p)
		lo = lastAddr(p).Next() // invalid after the last address: ends the loop
	}
	return out
}

// lastAddr is the highest address of a prefix.
func lastAddr(p netip.Prefix) netip.Addr {
	b := p.Masked().Addr().AsSlice()
	for i := p.Bits(); i < len(b)*8; i++ {
		b[i/8] |= 0x80 >> (i % 8)
	}
	a, _ := netip.AddrFromSlice(b)
	return a
}

// parsePort reads a port number.
func parsePort(s string) (uint32, bool) {
	n, err := strconv.ParseUint(s, 10, 16)
	return uint32(n), err == nil
}

// parsePortRange reads "N", "N:M", "N:" or ":M" (the colon forms of the
// tcp, udp and multiport matches).
func parsePortRange(s string) (firewall.Range, bool) {
	from, to, isRange := strings.Cut(s, ":")
	if !isRange {
		p, ok := parsePort(s)
		return firewall.Range{From: p, To: p}, ok
	}
	r := firewall.Range{From: 0, To: math.MaxUint16}
	ok1, ok2 := true, true
	if from != "" {
		r.From, ok1 = parsePort(from)
	}
	if to != "" {
		r.To, ok2 = parsePort(to)
	}
	return r, ok1 && ok2 && r.From <= r.To
}

// parsePortList reads a multiport list: "22,80,8000:8100".
func parsePortList(s string) ([]firewall.Range, bool) {
	var out []firewall.Range
	for _, item := range strings.Split(s, ",") {
		r, ok := parsePortRange(item)
		if !ok {
			return nil, false
		}
		out = append(out, r)
	}
	return out, true
}

// parseUint32 reads a mark value as iptables prints it (hex with 0x, or
// decimal).
func parseUint32(s string) (uint32, bool) {
	n, err := strconv.ParseUint(s, 0, 32)
	return uint32(n), err == nil
}

// parseValueMask reads "V" or "V/M"; a missing mask is all ones.
func parseValueMask(s string) (value, mask uint32, ok bool) {
	v, m, hasMask := strings.Cut(s, "/")
	value, ok = parseUint32(v)
	mask = math.MaxUint32
	if ok && hasMask {
		mask, ok = parseUint32(m)
	}
	return value, mask, ok
}

// protocols maps the names iptables-save prints for -p: its own list, then
// the primary names of /etc/protocols (netbase), which it uses for other
// numbers.
var protocols = map[string]uint8{
	"all": 0, "tcp": 6, "udp": 17, "icmp": 1, "ipv6-icmp": 58, "icmpv6": 58,
	"sctp": 132, "udplite": 136, "esp": 50, "ah": 51, "mh": 135,
	"ip": 0, "hopopt": 0, "igmp": 2, "ggp": 3, "ipencap": 4, "st": 5, "egp": 8,
	"igp": 9, "pup": 12, "hmp": 20, "xns-idp": 22, "rdp": 27, "iso-tp4": 29,
	"dccp": 33, "xtp": 36, "ddp": 37, "idpr-cmtp": 38, "ipv6": 41,
	"ipv6-route": 43, "ipv6-frag": 44, "idrp": 45, "rsvp": 46, "gre": 47,
	"skip": 57, "ipv6-nonxt": 59, "ipv6-opts": 60, "rspf": 73, "vmtp": 81,
	"eigrp": 88, "ospf": 89, "ax.25": 93, "ipip": 94, "etherip": 97,
	"encap": 98, "pim": 103, "ipcomp": 108, "vrrp": 112, "l2tp": 115,
	"isis": 124, "fc": 133, "mobility-header": 135, "mpls-in-ip": 137,
	"manet": 138, "hip": 139, "shim6": 140, "wesp": 141, "rohc": 142,
	"ethernet": 143,
}

// parseProto reads the argument of -p: a number or a name, case-insensitive
// as iptables lower-cases it.
func parseProto(s string) (uint8, bool) {
	if n, err := strconv.ParseUint(s, 10, 8); err == nil {
		return uint8(n), true
	}
	p, ok := protocols[strings.ToLower(s)]
	return p, ok
}

// hasPorts reports whether the kernel's port matches apply to a protocol
// (multiport and conntrack accept these).
func hasPorts(proto uint8) bool {
	switch proto {
	case firewall.ProtoTCP, firewall.ProtoUDP, 33, 132, 136: // dccp, sctp, udplite
		return true
	}
	return false
}

// icmpTypes are the names of whole ICMP types (every code) that the icmp
// match accepts; the names of single codes are left out, since a code
// cannot be modelled.
var icmpTypes = map[string]uint32{
	"any": math.MaxUint8, "echo-reply": 0, "pong": 0, "destination-unreachable": 3, "source-quench": 4,
	"redirect": 5, "echo-request": 8, "ping": 8, "router-advertisement": 9,
	"router-solicitation": 10, "time-exceeded": 11, "ttl-exceeded": 11,
	"parameter-problem": 12, "timestamp-request": 13, "timestamp-reply": 14,
	"address-mask-request": 17, "address-mask-reply": 18,
}

// icmpv6Types is the same for the icmp6 match.
var icmpv6Types = map[string]uint32{
	"destination-unreachable": 1, "packet-too-big": 2, "time-exceeded": 3,
	"ttl-exceeded": 3, "parameter-problem": 4, "echo-request": 128, "ping": 128,
	"echo-reply": 129, "pong": 129, "mld-listener-query": 130,
	"mld-listener-report": 131, "mld-listener-done": 132,
	"mld-listener-reduction": 132, "router-solicitation": 133,
	"router-advertisement": 134, "neighbour-solicitation": 135,
	"neighbor-solicitation": 135, "neighbour-advertisement": 136,
	"neighbor-advertisement": 136, "redirect": 137,
}

// parseICMPType reads --icmp-type / --icmpv6-type: a whole-type name or a
// number. For icmp, type 255 is how the kernel stores "any": it matches
// every type. A code ("3/3", names of single codes) gives ok false: the
// model has no ICMP code.
func parseICMPType(s string, names map[string]uint32, v4 bool) (firewall.Range, bool) {
	t, ok := names[s]
	if !ok {
		n, err := strconv.ParseUint(s, 10, 8)
		if err != nil {
			return firewall.Range{}, false
		}
		t = uint32(n)
	}
	if v4 && t == math.MaxUint8 {
		return firewall.Range{From: 0, To: math.MaxUint8}, true
	}
	return firewall.Range{From: t, To: t}, true
}

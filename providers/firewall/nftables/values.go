package nftables

import (
	"encoding/json"
	"fmt"
	"math"
	"net/netip"
	"strconv"

	"github.com/portcheck/portcheck/providers/firewall"
)

// kind is what the values of a field (or the elements of a set) are, which
// decides how nft's JSON values for it convert. Each kind is one nft set
// type, so a named set fits a field when their kinds agree.
type kind int

const (
	kindAddr4 kind = iota + 1
	kindAddr6
	kindPort
	kindProto
	kindMark
	kindICMP
	kindICMPv6
	kindIfname
	kindIfindex
	kindCTState
	kindCTStatus
	kindNfproto
	kindEtherType
	kindAddrType
	kindTCPFlags
	kindPktType
	kindFragOff
	// kindBool is the right side of an existence test (exthdr, fib oif,
	// meta ipsec): true or false.
	kindBool
)

// setTypes maps nft set types to kinds; sets of other types are kept but
// lookups in them are Unsupported.
var setTypes = map[string]kind{
	"ipv4_addr":    kindAddr4,
	"ipv6_addr":    kindAddr6,
	"inet_service": kindPort,
	"inet_proto":   kindProto,
	"mark":         kindMark,
	"icmp_type":    kindICMP,
	"icmpv6_type":  kindICMPv6,
	"ifname":       kindIfname,
	"iface_index":  kindIfindex,
	"ct_state":     kindCTState,
	"ct_status":    kindCTStatus,
	"nf_proto":     kindNfproto,
	"ether_type":   kindEtherType,
	"fib_addrtype": kindAddrType,
	"tcp_flag":     kindTCPFlags,
	"pkt_type":     kindPktType,
}

// numeric kinds: largest value and the names nft prints instead of numbers.
var numeric = map[kind]struct {
	max   uint32
	names map[string]uint32
}{
	kindPort:     {math.MaxUint16, services},
	kindProto:    {math.MaxUint8, protocols},
	kindMark:     {math.MaxUint32, nil},
	kindICMP:     {math.MaxUint8, icmpTypes},
	kindICMPv6:   {math.MaxUint8, icmpv6Types},
	kindTCPFlags: {math.MaxUint8, tcpFlags},
}

// tcpFlags are the TCP flag bits by the names nft prints.
var tcpFlags = map[string]uint32{
	"fin": 0x01, "syn": 0x02, "rst": 0x04, "psh": 0x08, "ack": 0x10, "urg": 0x20, "ecn": 0x40, "cwr": 0x80,
}

// services are the /etc/services names nft may print for ports (nft -S);
// tcp and udp share these numbers.
var services = map[string]uint32{
	"ftp-data": 20, "ftp": 21, "ssh": 22, "telnet": 23, "smtp": 25,
	"domain": 53, "bootps": 67, "bootpc": 68, "tftp": 69, "http": 80,
	"kerberos": 88, "pop3": 110, "sunrpc": 111, "auth": 113, "ntp": 123,
	"netbios-ns": 137, "netbios-dgm": 138, "netbios-ssn": 139, "imap2": 143,
	"imap": 143, "snmp": 161, "snmp-trap": 162, "bgp": 179, "ldap": 389,
	"https": 443, "microsoft-ds": 445, "isakmp": 500, "syslog": 514,
	"submission": 587, "ldaps": 636, "rsync": 873, "imaps": 993, "pop3s": 995,
	"openvpn": 1194, "ms-sql-s": 1433, "mysql": 3306, "ipsec-nat-t": 4500,
	"postgresql": 5432, "http-alt": 8080,
}

// protocols are the /etc/protocols names nft prints for protocol numbers.
var protocols = map[string]uint32{
	"icmp": 1, "igmp": 2, "ipencap": 4, "tcp": 6, "egp": 8, "pup": 12,
	"udp": 17, "dccp": 33, "ipv6": 41, "ipv6-route": 43, "ipv6-frag": 44,
	"rsvp": 46, "gre": 47, "esp": 50, "ah": 51, "ipv6-icmp": 58, "icmpv6": 58,
	"ipv6-nonxt": 59, "ipv6-opts": 60, "eigrp": 88, "ospf": 89, "ipip": 94,
	"etherip": 97, "encap": 98, "pim": 103, "ipcomp": 108, "vrrp": 112,
	"l2tp": 115, "isis": 124, "sctp": 132, "mobility-header": 135,
	"udplite": 136, "mpls-in-ip": 137, "ethernet": 143,
}

var icmpTypes = map[string]uint32{
	"echo-reply": 0, "destination-unreachable": 3, "source-quench": 4,
	"redirect": 5, "echo-request": 8, "router-advertisement": 9,
	"router-solicitation": 10, "time-exceeded": 11, "parameter-problem": 12,
	"timestamp-request": 13, "timestamp-reply": 14, "info-request": 15,
	"info-reply": 16, "address-mask-request": 17, "address-mask-reply": 18,
}

var icmpv6Types = map[string]uint32{
	"destination-unreachable": 1, "packet-too-big": 2, "time-exceeded": 3,
	"parameter-problem": 4, "echo-request": 128, "echo-reply": 129,
	"mld-listener-query": 130, "mld-listener-report": 131,
	"mld-listener-done": 132, "mld-listener-reduction": 132,
	"nd-router-solicit": 133, "nd-router-advert": 134,
	"nd-neighbor-solicit": 135, "nd-neighbor-advert": 136, "nd-redirect": 137,
	"router-renumbering": 138, "ind-neighbor-solicit": 141,
	"ind-neighbor-advert": 142, "mld2-listener-report": 143,
}

// names are the valid values of the name kinds, mapped to the model's name.
var names = map[kind]map[string]string{
	kindCTState: {"new": "new", "established": "established", "related": "related",
		"invalid": "invalid", "untracked": "untracked"},
	kindCTStatus: {"expected": "expected", "seen-reply": "seen-reply", "assured": "assured",
		"confirmed": "confirmed", "snat": "snat", "dnat": "dnat", "dying": "dying"},
	kindNfproto:   {"ipv4": "ipv4", "ipv6": "ipv6"},
	kindEtherType: {"ip": "ipv4", "ip6": "ipv6"},
	kindPktType:   {"host": "host", "unicast": "host", "broadcast": "broadcast", "multicast": "multicast", "other": "otherhost"},
	kindAddrType: {"unspec": "unspec", "unicast": "unicast", "local": "local",
		"broadcast": "broadcast", "anycast": "anycast", "multicast": "multicast",
		"blackhole": "blackhole", "unreachable": "unreachable", "prohibit": "prohibit",
		"throw": "throw", "nat": "nat", "xresolve": "xresolve"},
}

// valueSet collects converted values: what a match compares with or a set holds.
type valueSet struct {
	prefixes []netip.Prefix
	ranges   []firewall.Range
	names    []string
}

func (vs *valueSet) empty() bool {
	return len(vs.prefixes)+len(vs.ranges)+len(vs.names) == 0
}

// add converts one nft value (scalar, prefix, range, or an element wrapped
// with a timeout or comment) and appends it. It returns why the value cannot
// be represented, or "".
func (k kind) add(vs *valueSet, v any) string {
	obj, ok := v.(map[string]any)
	if !ok {
		return k.addScalar(vs, v)
	}
	key, val, ok := single(obj)
	if !ok {
		return fmt.Sprintf("value %q", describe(v))
	}
	if k == kindTCPFlags && key == "|" {
		return k.addScalar(vs, v)
	}
	switch key {
	case "elem":
		e, ok := val.(map[string]any)
		if !ok {
			return fmt.Sprintf("value %q", describe(v))
		}
		return k.add(vs, e["val"])
	case "prefix":
		return k.addPrefix(vs, val)
	case "range":
		return k.addRange(vs, val)
	}
	return fmt.Sprintf("value %q", describe(v))
}

func (k kind) addScalar(vs *valueSet, v any) string {
	if v == "*" {
		return `catch-all element "*"`
	}
	switch k {
	case kindAddr4, kindAddr6:
		a, why := k.addr(v)
		if why != "" {
			return why
		}
		vs.prefixes = append(vs.prefixes, netip.PrefixFrom(a, a.BitLen()))
	case kindIfname, kindIfindex:
		s, ok := v.(string)
		if !ok {
			return fmt.Sprintf("interface %q", describe(v))
		}
		vs.names = append(vs.names, s)
	case kindCTState, kindCTStatus, kindNfproto, kindEtherType, kindAddrType, kindPktType:
		s, _ := v.(string)
		name, ok := names[k][s]
		if !ok {
			return fmt.Sprintf("value %q", describe(v))
		}
		vs.names = append(vs.names, name)
	default:
		n, why := k.number(v)
		if why != "" {
			return why
		}
		vs.ranges = append(vs.ranges, firewall.Range{From: n, To: n})
	}
	return ""
}

func (k kind) addPrefix(vs *valueSet, v any) string {
	p, ok := v.(map[string]any)
	if !ok || (k != kindAddr4 && k != kindAddr6) {
		return fmt.Sprintf("prefix %q", describe(v))
	}
	a, why := k.addr(p["addr"])
	if why != "" {
		return why
	}
	bits, why := kindNumber(p["len"], uint32(a.BitLen()))
	if why != "" {
		return fmt.Sprintf("prefix length %q", describe(p["len"]))
	}
	vs.prefixes = append(vs.prefixes, netip.PrefixFrom(a, int(bits)).Masked())
	return ""
}

func (k kind) addRange(vs *valueSet, v any) string {
	r, ok := v.([]any)
	if !ok || len(r) != 2 {
		return fmt.Sprintf("range %q", describe(v))
	}
	switch k {
	case kindAddr4, kindAddr6:
		lo, why := k.addr(r[0])
		if why != "" {
			return why
		}
		hi, why := k.addr(r[1])
		if why != "" {
			return why
		}
		if hi.Less(lo) {
			return fmt.Sprintf("empty range %q", describe(v))
		}
		vs.prefixes = append(vs.prefixes, rangePrefixes(lo, hi)...)
	case kindPort, kindProto, kindMark, kindICMP, kindICMPv6:
		lo, why := k.number(r[0])
		if why != "" {
			return why
		}
		hi, why := k.number(r[1])
		if why != "" {
			return why
		}
		if hi < lo {
			return fmt.Sprintf("empty range %q", describe(v))
		}
		vs.ranges = append(vs.ranges, firewall.Range{From: lo, To: hi})
	default:
		return fmt.Sprintf("range %q", describe(v))
	}
	return ""
}

// addr parses an address of the kind's family.
func (k kind) addr(v any) (netip.Addr, string) {
	s, _ := v.(string)
	a, err := netip.ParseAddr(s)
	if err != nil || a.Zone() != "" || a.Is4() != (k == kindAddr4) {
		return netip.Addr{}, fmt.Sprintf("address %q", describe(v))
	}
	return a, ""
}

// number converts a numeric kind's value: a JSON number, a numeric string
// ("0x10") or a name nft printed for the number.
func (k kind) number(v any) (uint32, string) {
	nk := numeric[k]
	if s, ok := v.(string); ok {
		if n, ok := nk.names[s]; ok {
			return n, ""
		}
	}
	if k == kindTCPFlags {
		// A combination: ["syn", "ack"] or {"|": ["syn", "ack"]}.
		var parts []any
		switch x := v.(type) {
		case []any:
			parts = x
		case map[string]any:
			if ops, ok := x["|"].([]any); ok && len(x) == 1 {
				parts = ops
			}
		}
		if parts != nil {
			var n uint32
			for _, p := range parts {
				f, why := k.number(p)
				if why != "" {
					return 0, why
				}
				n |= f
			}
			return n, ""
		}
	}
	return kindNumber(v, nk.max)
}

// kindNumber reads a JSON number or numeric string no larger than max.
func kindNumber(v any, max uint32) (uint32, string) {
	var s string
	switch x := v.(type) {
	case json.Number:
		s = x.String()
	case string:
		s = x
	default:
		return 0, fmt.Sprintf("value %q", describe(v))
	}
	n, err := strconv.ParseUint(s, 0, 32)
	if err != nil || n > uint64(max) {
		return 0, fmt.Sprintf("value %q", describe(v))
	}
	return uint32(n), ""
}

// rangePrefixes splits lo-hi (same family, lo <= hi) into the fewest
// prefixes covering exactly that range.
func rangePrefixes(lo, hi netip.Addr) []netip.Prefix {
	var out []netip.Prefix
	for {
		p := largestBlock(lo, hi)
		out = append(out, p)
		last := lastAddr(p)
		if last == hi {
			return out
		}
		lo = last.Next()
	}
}

// largestBlock is the shortest prefix starting at lo that ends by hi.
func largestBlock(lo, hi netip.Addr) netip.Prefix {
	for bits := 0; bits < lo.BitLen(); bits++ {
		p := netip.PrefixFrom(lo, bits).Masked()
		if p.Addr() == lo && !hi.Less(lastAddr(p)) {
			return p
		}
	}
	return netip.PrefixFrom(lo, lo.BitLen())
}

func lastAddr(p netip.Prefix) netip.Addr {
	b := p.Addr().AsSlice()
	for i := p.Bits(); i < len(b)*8; i++ {
		b[i/8] |= 0x80 >> (i % 8)
	}
	a, _ := netip.AddrFromSlice(b)
	return a
}

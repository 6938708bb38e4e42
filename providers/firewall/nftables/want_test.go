package nftables

import (
	"net/netip"

	"github.com/google/go-cmp/cmp/cmpopts"

	fw "github.com/portcheck/portcheck/providers/firewall"
)

// netipEqual lets cmp compare netip values, whose fields are unexported.
var netipEqual = cmpopts.EquateComparable(netip.Addr{}, netip.Prefix{})

// want is the model each fixture (testdata/NAME.nft, loaded into a fresh
// namespace) translates to, from the stored listings and from a live Read.
var want = map[string][]*fw.Table{
	"inet":        {inetFilter},
	"families":    {ipNat, ipFilter, ip6Filter, inetNat46, bridgeBr},
	"unsupported": {ipUnsupported},
	"iptables":    {iptFilter, iptNat},
}

// Helpers keeping the expectations readable.

func pfx(ss ...string) []netip.Prefix {
	out := make([]netip.Prefix, len(ss))
	for i, s := range ss {
		out[i] = netip.MustParsePrefix(s)
	}
	return out
}

func one(vals ...uint32) []fw.Range {
	out := make([]fw.Range, len(vals))
	for i, v := range vals {
		out[i] = fw.Range{From: v, To: v}
	}
	return out
}

func span(from, to uint32) fw.Range { return fw.Range{From: from, To: to} }

func nf(name string) fw.Match { return fw.Match{Field: fw.FieldNfproto, Names: []string{name}} }

func dport(proto uint8, ports ...uint32) fw.Match {
	return fw.Match{Field: fw.FieldDport, Proto: proto, Ranges: one(ports...)}
}

var (
	tcpOnly = fw.Match{Field: fw.FieldL4Proto, Ranges: one(6)}
	accept  = fw.Verdict{Kind: fw.VerdictAccept}
	drop    = fw.Verdict{Kind: fw.VerdictDrop}
	none    = fw.Verdict{Kind: fw.VerdictNone}
)

func rule(handle int, text string, v fw.Verdict, ms ...fw.Match) *fw.Rule {
	return &fw.Rule{Handle: handle, Text: text, Matches: ms, Verdict: v}
}

// unsupported is a rule with a statement the model cannot express, with
// the matches that come before it.
func unsupported(handle int, text, why string, before ...fw.Match) *fw.Rule {
	return &fw.Rule{Handle: handle, Text: text, Unsupported: why, Matches: before}
}

// unsupportedMatch is a rule with a match the model cannot express: the
// matches before it, and the verdict, which the statements after it give.
func unsupportedMatch(handle int, text, why string, v fw.Verdict, before ...fw.Match) *fw.Rule {
	return &fw.Rule{Handle: handle, Text: text, Unsupported: why, UnsupportedMatch: true, Verdict: v, Matches: before}
}

func assumed(fails bool, text string) fw.Match {
	return fw.Match{Field: fw.FieldAssumed, Negate: fails, Assume: text}
}

var tcpOnlyDep = fw.Match{Field: fw.FieldL4Proto, Ranges: []fw.Range{{From: 6, To: 6}}}

func reject(how string) fw.Verdict { return fw.Verdict{Kind: fw.VerdictReject, Reject: how} }

func dnat(addr string, port uint16) fw.Verdict {
	v := fw.Verdict{Kind: fw.VerdictDNAT, NATPort: port}
	if addr != "" {
		v.NATAddr = netip.MustParseAddr(addr)
	}
	return v
}

func baseChain(name, typ, hook string, prio int, policy string, rules ...*fw.Rule) *fw.Chain {
	return &fw.Chain{Name: name, Type: typ, Hook: hook, Priority: prio, Policy: policy, Rules: append([]*fw.Rule{}, rules...)}
}

func chain(name string, rules ...*fw.Rule) *fw.Chain {
	return &fw.Chain{Name: name, Rules: append([]*fw.Rule{}, rules...)}
}

func table(backend, family, name string, sets map[string]*fw.Set, chains ...*fw.Chain) *fw.Table {
	return &fw.Table{Backend: backend, Family: family, Name: name, Sets: sets, Chains: chains}
}

var inetFilter = table(fw.BackendNftables, "inet", "filter",
	map[string]*fw.Set{
		// 172.16.0.1-172.16.0.9 splits into the prefixes covering it exactly.
		"allowed4": {Name: "allowed4", Type: "ipv4_addr", Prefixes: pfx("10.0.0.0/8", "172.16.0.1/32", "172.16.0.2/31", "172.16.0.4/30", "172.16.0.8/31", "192.168.1.1/32")},
		"ports":    {Name: "ports", Type: "inet_service", Ranges: one(22, 80, 443)},
		"pairs": {Name: "pairs", Type: "ipv4_addr . inet_service", Tuples: [][]fw.Value{
			{{Prefix: &pfx("10.0.0.1/32")[0]}, {Range: &fw.Range{From: 22, To: 22}}}}},
		"portv": {Name: "portv", Type: "inet_service", Map: "verdict", Elements: []fw.MapElement{
			{Range: &fw.Range{From: 22, To: 22}, Verdict: accept},
			{Range: &fw.Range{From: 23, To: 23}, Verdict: drop},
			{Range: &fw.Range{From: 1000, To: 2000}, Verdict: fw.Verdict{Kind: fw.VerdictJump, Chain: "svc"}},
		}},
	},
	baseChain("input", "filter", "input", 0, "drop",
		rule(9, "ct state established,related accept", accept,
			fw.Match{Field: fw.FieldCTState, Names: []string{"established", "related"}}),
		rule(10, "ct state invalid drop", drop, fw.Match{Field: fw.FieldCTState, Names: []string{"invalid"}}),
		rule(11, "ct state != new counter", none, fw.Match{Field: fw.FieldCTState, Negate: true, Names: []string{"new"}}),
		rule(12, `iif "lo" accept`, accept, fw.Match{Field: fw.FieldIIF, Names: []string{"lo"}}),
		rule(13, `iifname "eth*" oifname "eth1" accept`, accept,
			fw.Match{Field: fw.FieldIIF, Names: []string{"eth*"}}, fw.Match{Field: fw.FieldOIF, Names: []string{"eth1"}}),
		rule(14, "ip saddr @allowed4 tcp dport @ports accept", accept,
			nf("ipv4"), fw.Match{Field: fw.FieldSaddr, Set: "allowed4"}, fw.Match{Field: fw.FieldDport, Proto: 6, Set: "ports"}),
		rule(15, "ip6 saddr fe80::/10 udp dport 546 accept", accept,
			nf("ipv6"), fw.Match{Field: fw.FieldSaddr, Prefixes: pfx("fe80::/10")}, dport(17, 546)),
		rule(17, "ip daddr 10.0.0.1 tcp dport { 22, 80, 1000-2000 } accept", accept,
			nf("ipv4"), fw.Match{Field: fw.FieldDaddr, Prefixes: pfx("10.0.0.1/32")},
			fw.Match{Field: fw.FieldDport, Proto: 6, Ranges: append(one(22, 80), span(1000, 2000))}),
		rule(18, "udp sport 53 udp dport != 1-1023 accept", accept,
			fw.Match{Field: fw.FieldSport, Proto: 17, Ranges: one(53)},
			fw.Match{Field: fw.FieldDport, Negate: true, Proto: 17, Ranges: []fw.Range{span(1, 1023)}}),
		rule(19, "th dport 5000 accept", accept, dport(0, 5000)),
		rule(21, "tcp dport < 1024 ip saddr != { 10.0.0.1, 10.0.0.2 } drop", drop,
			fw.Match{Field: fw.FieldDport, Proto: 6, Ranges: []fw.Range{span(0, 1023)}},
			nf("ipv4"), fw.Match{Field: fw.FieldSaddr, Negate: true, Prefixes: pfx("10.0.0.1/32", "10.0.0.2/32")}),
		rule(23, "meta l4proto { tcp, udp } meta nfproto ipv4 accept", accept,
			fw.Match{Field: fw.FieldL4Proto, Ranges: one(6, 17)}, nf("ipv4")),
		rule(25, "ip protocol icmp icmp type { destination-unreachable, echo-request } accept", accept,
			nf("ipv4"), fw.Match{Field: fw.FieldL4Proto, Ranges: one(1)},
			fw.Match{Field: fw.FieldICMPType, Proto: 1, Ranges: one(3, 8)}),
		rule(27, "icmpv6 type { echo-request, nd-neighbor-solicit } accept", accept,
			nf("ipv6"), fw.Match{Field: fw.FieldICMPv6Type, Proto: 58, Ranges: one(128, 135)}),
		rule(28, "meta mark & 0x000000ff == 0x00000002 accept", accept,
			fw.Match{Field: fw.FieldMark, Ranges: one(2), Mask: 0xff}),
		rule(29, "meta mark 0x00000010-0x00000020 accept", accept,
			fw.Match{Field: fw.FieldMark, Ranges: []fw.Range{span(16, 32)}}),
		rule(30, "fib daddr type local tcp dport 8080 accept", accept,
			fw.Match{Field: fw.FieldDaddrType, Names: []string{"local"}}, dport(6, 8080)),
		rule(31, "fib saddr type != local drop", drop,
			fw.Match{Field: fw.FieldSaddrType, Negate: true, Names: []string{"local"}}),
		rule(32, "ip saddr . tcp dport @pairs accept", accept, nf("ipv4"), tcpOnlyDep,
			fw.Match{Field: fw.FieldConcat, Set: "pairs", Concat: []fw.KeyField{{Field: fw.FieldSaddr}, {Field: fw.FieldDport, Proto: 6}}}),
		rule(33, "limit rate 10/second accept", accept, assumed(false, "fewer than 10/second reach the rule (limit rate 10/second)")),
		rule(34, "ip saddr 10.0.0.0-10.0.0.255 jump svc", fw.Verdict{Kind: fw.VerdictJump, Chain: "svc"},
			nf("ipv4"), fw.Match{Field: fw.FieldSaddr, Prefixes: pfx("10.0.0.0/24")}),
		rule(35, "tcp dport vmap @portv", fw.Verdict{Kind: fw.VerdictVmap, Key: fw.FieldDport, KeyProto: 6, Map: "portv"}),
		rule(37, "tcp dport vmap { 25 : drop, 587 : goto svc }", fw.Verdict{Kind: fw.VerdictVmap, Key: fw.FieldDport, KeyProto: 6,
			Elements: []fw.MapElement{
				{Range: &fw.Range{From: 25, To: 25}, Verdict: drop},
				{Range: &fw.Range{From: 587, To: 587}, Verdict: fw.Verdict{Kind: fw.VerdictGoto, Chain: "svc"}},
			}}),
		rule(39, "ip saddr vmap { 10.0.0.0/8 : accept, 192.168.0.1 : drop }", fw.Verdict{Kind: fw.VerdictVmap, Key: fw.FieldSaddr,
			Elements: []fw.MapElement{
				{Prefix: &pfx("10.0.0.0/8")[0], Verdict: accept},
				{Prefix: &pfx("192.168.0.1/32")[0], Verdict: drop},
			}}),
		rule(40, "ct original ip daddr 10.0.0.1 meta l4proto tcp ct original proto-dst 80 accept", accept,
			nf("ipv4"), fw.Match{Field: fw.FieldCTOrigDaddr, Prefixes: pfx("10.0.0.1/32")},
			tcpOnly, fw.Match{Field: fw.FieldCTOrigDport, Ranges: one(80)}),
		&fw.Rule{Handle: 41, Text: "meta mark set 0x00000005", MarkSet: fw.SetMarkTo(5)},
		&fw.Rule{Handle: 42, Text: `meta mark set 0x00000006 accept comment "tagged"`, MarkSet: fw.SetMarkTo(6), Verdict: accept},
		rule(43, "reject with icmpx admin-prohibited", reject("icmpx admin-prohibited")),
		rule(44, "reject with icmp admin-prohibited", reject("icmp admin-prohibited"), nf("ipv4")),
		rule(45, "reject with icmpv6 port-unreachable", reject("icmpv6 port-unreachable"), nf("ipv6")),
		rule(46, "meta l4proto tcp reject with tcp reset", reject("tcp reset"), tcpOnly),
		rule(47, "reject", reject("icmpx port-unreachable")),
	),
	chain("svc",
		rule(48, "tcp dport 22 return", fw.Verdict{Kind: fw.VerdictReturn}, dport(6, 22)),
		rule(49, "goto sink", fw.Verdict{Kind: fw.VerdictGoto, Chain: "sink"}),
	),
	chain("sink", rule(50, `log prefix "sink " drop`, drop)),
	baseChain("forward", "filter", "forward", 10, "accept"),
)

var ipNat = table(fw.BackendNftables, "ip", "nat", nil,
	baseChain("prerouting", "nat", "prerouting", -100, "accept",
		rule(3, "tcp dport 8080 dnat to 10.0.0.2:80", dnat("10.0.0.2", 80), dport(6, 8080)),
		rule(4, "tcp dport 8081 dnat to 10.0.0.2", dnat("10.0.0.2", 0), dport(6, 8081)),
		rule(5, "tcp dport 8082 redirect to :80", fw.Verdict{Kind: fw.VerdictRedirect, NATPort: 80}, dport(6, 8082)),
		rule(6, "tcp dport 8083 redirect", fw.Verdict{Kind: fw.VerdictRedirect}, dport(6, 8083)),
		unsupported(7, "tcp dport 8084 dnat to 10.0.0.2/31", `statement "dnat to 10.0.0.2/31"`, dport(6, 8084)),
	),
	baseChain("postrouting", "nat", "postrouting", 100, "accept",
		rule(8, `oifname "eth0" masquerade`, fw.Verdict{Kind: fw.VerdictSNAT}, fw.Match{Field: fw.FieldOIF, Names: []string{"eth0"}}),
		rule(9, "ip saddr 10.0.0.0/8 snat to 1.2.3.4", fw.Verdict{Kind: fw.VerdictSNAT}, fw.Match{Field: fw.FieldSaddr, Prefixes: pfx("10.0.0.0/8")}),
	),
)

// An ip table implies IPv4, so no nfproto matches; tcp reset keeps the tcp
// dependency nft hides from the listing.
var ipFilter = table(fw.BackendNftables, "ip", "filter", nil,
	baseChain("input", "filter", "input", 0, "accept",
		rule(2, "ip saddr 10.0.0.1 reject", reject("icmp port-unreachable"), fw.Match{Field: fw.FieldSaddr, Prefixes: pfx("10.0.0.1/32")}),
		rule(3, "reject with tcp reset", reject("tcp reset"), tcpOnly),
		rule(4, "ct original ip daddr 10.0.0.1 accept", accept, fw.Match{Field: fw.FieldCTOrigDaddr, Prefixes: pfx("10.0.0.1/32")}),
		rule(5, "meta protocol ip6 drop", drop, nf("ipv6")),
		rule(6, "icmp type echo-request drop", drop, fw.Match{Field: fw.FieldICMPType, Proto: 1, Ranges: one(8)}),
	),
)

var ip6Filter = table(fw.BackendNftables, "ip6", "filter6", nil,
	baseChain("input", "filter", "input", -300, "drop",
		rule(3, "ip6 saddr fe80::1-fe80::ff accept", accept, fw.Match{Field: fw.FieldSaddr,
			Prefixes: pfx("fe80::1/128", "fe80::2/127", "fe80::4/126", "fe80::8/125", "fe80::10/124", "fe80::20/123", "fe80::40/122", "fe80::80/121")}),
		rule(4, "icmpv6 type nd-router-advert accept", accept, fw.Match{Field: fw.FieldICMPv6Type, Proto: 58, Ranges: one(134)}),
		rule(5, "ip6 nexthdr ipv6-icmp accept", accept, fw.Match{Field: fw.FieldL4Proto, Ranges: one(58)}),
		rule(6, "reject", reject("icmpv6 port-unreachable")),
	),
	baseChain("prerouting", "nat", "prerouting", -100, "accept",
		rule(7, "tcp dport 80 dnat to [::1]:8080", dnat("::1", 8080), dport(6, 80)),
	),
)

// In an inet table a nat statement for one family skips the other.
var inetNat46 = table(fw.BackendNftables, "inet", "nat46", nil,
	baseChain("prerouting", "nat", "prerouting", -105, "accept",
		rule(2, "tcp dport 80 dnat ip to 10.0.0.1:8080", dnat("10.0.0.1", 8080), dport(6, 80), nf("ipv4")),
		rule(3, "tcp dport 81 dnat ip6 to fd00::1", dnat("fd00::1", 0), dport(6, 81), nf("ipv6")),
	),
)

var bridgeBr = table(fw.BackendNftables, "bridge", "br", nil,
	baseChain("forward", "filter", "forward", 0, "accept",
		rule(2, "ip saddr 1.2.3.4 drop", drop, nf("ipv4"), fw.Match{Field: fw.FieldSaddr, Prefixes: pfx("1.2.3.4/32")}),
	),
)

var ipUnsupported = table(fw.BackendNftables, "ip", "u",
	map[string]*fw.Set{
		"macs":  {Name: "macs", Type: "ether_addr"},
		"dyn":   {Name: "dyn", Type: "ipv4_addr"},
		"addrs": {Name: "addrs", Type: "ipv4_addr", Map: "ipv4_addr"},
		"pairv": {Name: "pairv", Type: "ipv4_addr . inet_service", Map: "verdict", Elements: []fw.MapElement{
			{Tuple: []fw.Value{{Prefix: &pfx("10.0.0.1/32")[0]}, {Range: &fw.Range{From: 22, To: 22}}}, Verdict: accept}}},
	},
	baseChain("input", "filter", "input", 0, "accept",
		rule(7, "limit rate over 10/second drop", drop, assumed(true, "fewer than 10/second reach the rule (limit rate over 10/second)")),
		rule(8, "ct status dnat accept", accept, fw.Match{Field: fw.FieldCTStatus, Names: []string{"dnat"}}),
		rule(9, "quota over 10 mbytes drop", drop, assumed(true, "the quota of 10 mbytes is not used up (quota over 10 mbytes)")),
		rule(10, "ct count over 10 drop", drop, assumed(true, "at most 10 connections are counted with this one (ct count over 10)")),
		unsupportedMatch(11, "ct mark 0x00000001 accept", `expression "ct mark"`, accept),
		// The connection's mark is not read by any modelled match.
		rule(12, "ct mark set 0x00000001", none),
		&fw.Rule{Handle: 13, Text: "meta mark set meta mark | 0x00000010", MarkSet: &fw.MarkOp{And: ^uint32(0x10), Xor: 0x10}},
		unsupportedMatch(14, "meta skuid 0 accept", `expression "meta skuid"`, accept),
		rule(15, "tcp flags syn accept", accept, fw.Match{Field: fw.FieldTCPFlags, Negate: true, Proto: 6, Mask: 2, Ranges: []fw.Range{{}}}),
		unsupportedMatch(16, "ip dscp cs1 accept", `expression "ip dscp"`, accept),
		unsupportedMatch(17, "@th,64,32 0x1 accept", `expression "@th,64,32"`, accept),
		unsupportedMatch(18, "ip version 4 ip hdrlength 5 accept", `expression "ip version"`, accept),
		unsupportedMatch(19, "fib daddr oif missing drop", `expression "fib daddr oif"`, drop),
		unsupportedMatch(20, "fib daddr . iif type local accept", `expression "fib daddr . iif type"`, accept),
		unsupportedMatch(21, "ct reply ip saddr 10.0.0.1 accept", `expression "ct reply ip saddr"`, accept),
		// == with a flag list compares the combined value, which no
		// single state equals.
		unsupportedMatch(22, "ct state established | related accept", `value "established | related"`, accept),
		unsupportedMatch(23, "ether saddr @macs accept", `expression "ether saddr"`, accept),
		&fw.Rule{Handle: 24, Text: "add @dyn { ip saddr } drop", SetUpdates: []string{"dyn"}, Verdict: drop},
		rule(25, "ip saddr . tcp dport vmap @pairv", fw.Verdict{Kind: fw.VerdictVmap, Key: fw.FieldConcat, Map: "pairv",
			Concat: []fw.KeyField{{Field: fw.FieldSaddr}, {Field: fw.FieldDport, Proto: 6}}}, tcpOnlyDep),
		unsupported(27, "meta mark & 0x000000ff vmap { 0x00000001 : accept }", `verdict map on "meta mark & 255"`),
		&fw.Rule{Handle: 28, Text: "meta mark set 0x00000001 tcp dport 22 accept", MarkSet: fw.SetMarkTo(1), Verdict: accept,
			Unsupported: `match after "meta mark set"`, UnsupportedMatch: true},
		unsupportedMatch(29, "ip daddr @addrs accept", `lookup in map "addrs"`, accept),
		unsupported(30, "ip saddr 10.0.0.1 notrack", `expression "notrack"`, fw.Match{Field: fw.FieldSaddr, Prefixes: []netip.Prefix{netip.MustParsePrefix("10.0.0.1/32")}}),
		unsupportedMatch(31, "tcp option maxseg size 1460 accept", `expression "tcp option maxseg size"`, accept),
		unsupportedMatch(32, `osf name "Linux" accept`, `expression "osf name"`, accept),
		unsupportedMatch(33, "jhash ip saddr mod 2 0 accept", `expression "jhash"`, accept),
		rule(34, "numgen random mod 2 0 accept", accept, fw.Match{Field: fw.FieldRandom}),
		unsupportedMatch(35, "socket transparent 1 accept", `expression "socket transparent"`, accept),
		unsupportedMatch(36, "meta iiftype ether accept", `expression "meta iiftype"`, accept),
		rule(37, "ip option rr exists accept", accept, fw.Match{Field: fw.FieldExtHdr, Names: []string{"ip option rr"}}),
	),
	baseChain("prerouting", "nat", "prerouting", -100, "accept",
		unsupported(38, "dnat to ip daddr map @addrs", `statement "dnat to ip daddr map @addrs"`),
		unsupported(39, "tcp dport 8080 dnat to 10.0.0.2:8000-8010", `statement "dnat to port 8000-8010"`, dport(6, 8080)),
	),
)

const xtHint = " (read this table with iptables-nft-save)"

var iptFilter = table(fw.BackendIptablesNft, "ip", "filter", nil,
	baseChain("INPUT", "filter", "input", 0, "accept",
		unsupportedMatch(2, "meta l4proto tcp tcp dport { 1, 2 } counter accept", `iptables extension "multiport"`+xtHint, accept, tcpOnly),
		rule(3, "tcp dport 22 counter accept", accept, dport(6, 22)),
	),
)

var iptNat = table(fw.BackendIptablesNft, "ip", "nat", nil,
	baseChain("PREROUTING", "nat", "prerouting", -100, "accept",
		unsupported(2, "tcp dport 80 counter dnat to 10.0.0.1:8080", `iptables extension "DNAT"`+xtHint, dport(6, 80)),
	),
)

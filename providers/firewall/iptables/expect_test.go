package iptables

import (
	"net/netip"
	"slices"
	"strings"

	"github.com/google/go-cmp/cmp/cmpopts"
	"github.com/portcheck/portcheck/providers/firewall"
)

// equateNetip lets cmp compare netip values, whose fields are unexported.
var equateNetip = cmpopts.EquateComparable(netip.Addr{}, netip.Prefix{})

// saves are the testdata files a save command printed for a fixture
// (testdata/FIXTURE.rules), with the extra save flags used.
var saves = []struct {
	file, fixture, backend string
	args                   []string
}{
	{"docker.legacy.save", "docker", legacy, nil},
	{"docker.nft.save", "docker", nft, nil},
	{"docker.counters.save", "docker", legacy, []string{"-c"}},
	{"rich4.legacy.save", "rich4", legacy, nil},
	{"rich4.nft.save", "rich4", nft, nil},
	{"rich6.legacy.save", "rich6", legacy, nil},
	{"rich6.nft.save", "rich6", nft, nil},
}

var fixtureFamily = map[string]string{"docker": firewall.FamilyIP, "rich4": firewall.FamilyIP, "rich6": firewall.FamilyIP6}

// expected is the model of a fixture as a backend reads it.
func expected(fixture, backend string) []*firewall.Table {
	tables := map[string]func() []*firewall.Table{"docker": dockerTables, "rich4": rich4Tables, "rich6": rich6Tables}[fixture]()
	for _, t := range tables {
		t.Backend, t.Family = backend, fixtureFamily[fixture]
	}
	return tables
}

// sortTables orders tables by family and name: legacy and nft list them
// in different orders.
func sortTables(ts []*firewall.Table) []*firewall.Table {
	ts = slices.Clone(ts)
	slices.SortFunc(ts, func(a, b *firewall.Table) int {
		return strings.Compare(a.Family+" "+a.Name, b.Family+" "+b.Name)
	})
	return ts
}

var (
	accept = firewall.Verdict{Kind: firewall.VerdictAccept}
	drop   = firewall.Verdict{Kind: firewall.VerdictDrop}
	ret    = firewall.Verdict{Kind: firewall.VerdictReturn}
	snat   = firewall.Verdict{Kind: firewall.VerdictSNAT}
	queue  = firewall.Verdict{Kind: firewall.VerdictQueue}
	none   = firewall.Verdict{}
)

func jump(c string) firewall.Verdict  { return firewall.Verdict{Kind: firewall.VerdictJump, Chain: c} }
func gotoV(c string) firewall.Verdict { return firewall.Verdict{Kind: firewall.VerdictGoto, Chain: c} }
func reject(how string) firewall.Verdict {
	return firewall.Verdict{Kind: firewall.VerdictReject, Reject: how}
}
func redirect(port uint16) firewall.Verdict {
	return firewall.Verdict{Kind: firewall.VerdictRedirect, NATPort: port}
}

func dnat(addr string, port uint16) firewall.Verdict {
	v := firewall.Verdict{Kind: firewall.VerdictDNAT, NATPort: port}
	if addr != "" {
		v.NATAddr = netip.MustParseAddr(addr)
	}
	return v
}

func one(v uint32) firewall.Range         { return firewall.Range{From: v, To: v} }
func rng(a, b uint32) firewall.Range      { return firewall.Range{From: a, To: b} }
func not(m firewall.Match) firewall.Match { m.Negate = true; return m }

func prefixes(ps ...string) []netip.Prefix {
	var out []netip.Prefix
	for _, p := range ps {
		out = append(out, netip.MustParsePrefix(p))
	}
	return out
}

func saddr(ps ...string) firewall.Match {
	return firewall.Match{Field: firewall.FieldSaddr, Prefixes: prefixes(ps...)}
}
func daddr(ps ...string) firewall.Match {
	return firewall.Match{Field: firewall.FieldDaddr, Prefixes: prefixes(ps...)}
}
func origDaddr(ps ...string) firewall.Match {
	return firewall.Match{Field: firewall.FieldCTOrigDaddr, Prefixes: prefixes(ps...)}
}
func iif(n string) firewall.Match {
	return firewall.Match{Field: firewall.FieldIIF, Names: []string{n}}
}
func oif(n string) firewall.Match {
	return firewall.Match{Field: firewall.FieldOIF, Names: []string{n}}
}
func l4(p uint32) firewall.Match {
	return firewall.Match{Field: firewall.FieldL4Proto, Ranges: []firewall.Range{one(p)}}
}
func dport(proto uint8, rs ...firewall.Range) firewall.Match {
	return firewall.Match{Field: firewall.FieldDport, Proto: proto, Ranges: rs}
}
func sport(proto uint8, rs ...firewall.Range) firewall.Match {
	return firewall.Match{Field: firewall.FieldSport, Proto: proto, Ranges: rs}
}
func origDport(proto uint8, rs ...firewall.Range) firewall.Match {
	return firewall.Match{Field: firewall.FieldCTOrigDport, Proto: proto, Ranges: rs}
}
func ctstate(names ...string) firewall.Match {
	return firewall.Match{Field: firewall.FieldCTState, Names: names}
}
func daddrType(names ...string) firewall.Match {
	return firewall.Match{Field: firewall.FieldDaddrType, Names: names}
}
func saddrType(names ...string) firewall.Match {
	return firewall.Match{Field: firewall.FieldSaddrType, Names: names}
}
func mark(v, mask uint32) firewall.Match {
	return firewall.Match{Field: firewall.FieldMark, Ranges: []firewall.Range{one(v)}, Mask: mask}
}
func icmpType(r firewall.Range) firewall.Match {
	return firewall.Match{Field: firewall.FieldICMPType, Proto: firewall.ProtoICMP, Ranges: []firewall.Range{r}}
}
func icmpv6Type(t uint32) firewall.Match {
	return firewall.Match{Field: firewall.FieldICMPv6Type, Proto: firewall.ProtoICMPv6, Ranges: []firewall.Range{one(t)}}
}

const (
	tcp = firewall.ProtoTCP
	udp = firewall.ProtoUDP
)

func r(text string, v firewall.Verdict, ms ...firewall.Match) *firewall.Rule {
	return &firewall.Rule{Text: text, Verdict: v, Matches: ms}
}

// u is a rule with an Unsupported match.
func u(why, text string, v firewall.Verdict, ms ...firewall.Match) *firewall.Rule {
	rule := r(text, v, ms...)
	rule.Unsupported, rule.UnsupportedMatch = why, true
	return rule
}

// effect is a rule with an Unsupported target or statement.
func effect(why, text string, v firewall.Verdict, ms ...firewall.Match) *firewall.Rule {
	rule := r(text, v, ms...)
	rule.Unsupported = why
	return rule
}

func setMark(m uint32, rule *firewall.Rule) *firewall.Rule {
	rule.MarkSet = firewall.SetMarkTo(m)
	return rule
}

func markOp(and, xor uint32, rule *firewall.Rule) *firewall.Rule {
	rule.MarkSet = &firewall.MarkOp{And: and, Xor: xor}
	return rule
}

func updates(set string, rule *firewall.Rule) *firewall.Rule {
	rule.SetUpdates = append(rule.SetUpdates, set)
	return rule
}

func flags(mask, comp uint32) firewall.Match {
	return firewall.Match{Field: firewall.FieldTCPFlags, Proto: firewall.ProtoTCP, Mask: mask, Ranges: []firewall.Range{one(comp)}}
}

func assumed(fails bool, text string) firewall.Match {
	return firewall.Match{Field: firewall.FieldAssumed, Negate: fails, Assume: text}
}

func numbered(rules []*firewall.Rule) []*firewall.Rule {
	for i, rule := range rules {
		rule.Number = i + 1
	}
	if rules == nil {
		return []*firewall.Rule{}
	}
	return rules
}

func base(name, typ string, prio int, policy string, rules ...*firewall.Rule) *firewall.Chain {
	return &firewall.Chain{Name: name, Type: typ, Hook: strings.ToLower(name), Priority: prio, Policy: policy, Rules: numbered(rules)}
}

func user(name string, rules ...*firewall.Rule) *firewall.Chain {
	return &firewall.Chain{Name: name, Rules: numbered(rules)}
}

func table(name string, chains ...*firewall.Chain) *firewall.Table {
	return &firewall.Table{Name: name, Chains: chains}
}

func dockerTables() []*firewall.Table {
	return []*firewall.Table{
		table("raw",
			base("PREROUTING", "filter", -300, "accept",
				r("-A PREROUTING -d 172.17.0.2/32 ! -i docker0 -j DROP", drop, daddr("172.17.0.2/32"), not(iif("docker0")))),
			base("OUTPUT", "filter", -300, "accept")),
		table("filter",
			base("INPUT", "filter", 0, "accept"),
			base("FORWARD", "filter", 0, "drop",
				r("-A FORWARD -j DOCKER-USER", jump("DOCKER-USER")),
				r("-A FORWARD -j DOCKER-FORWARD", jump("DOCKER-FORWARD"))),
			base("OUTPUT", "filter", 0, "accept"),
			user("DOCKER",
				r("-A DOCKER -d 172.17.0.2/32 ! -i docker0 -o docker0 -p tcp -m tcp --dport 80 -j ACCEPT", accept,
					daddr("172.17.0.2/32"), not(iif("docker0")), oif("docker0"), l4(6), dport(tcp, one(80))),
				r("-A DOCKER ! -i docker0 -o docker0 -j DROP", drop, not(iif("docker0")), oif("docker0"))),
			user("DOCKER-FORWARD",
				r("-A DOCKER-FORWARD -j DOCKER-ISOLATION-STAGE-1", jump("DOCKER-ISOLATION-STAGE-1")),
				r("-A DOCKER-FORWARD -o docker0 -m conntrack --ctstate RELATED,ESTABLISHED -j ACCEPT", accept,
					oif("docker0"), ctstate("related", "established")),
				r("-A DOCKER-FORWARD -o docker0 -j DOCKER", jump("DOCKER"), oif("docker0")),
				r("-A DOCKER-FORWARD -i docker0 -j ACCEPT", accept, iif("docker0"))),
			user("DOCKER-ISOLATION-STAGE-1",
				r("-A DOCKER-ISOLATION-STAGE-1 -i docker0 ! -o docker0 -j DOCKER-ISOLATION-STAGE-2", jump("DOCKER-ISOLATION-STAGE-2"),
					iif("docker0"), not(oif("docker0")))),
			user("DOCKER-ISOLATION-STAGE-2",
				r("-A DOCKER-ISOLATION-STAGE-2 -o docker0 -j DROP", drop, oif("docker0"))),
			user("DOCKER-USER")),
		table("nat",
			base("PREROUTING", "nat", -100, "accept",
				r("-A PREROUTING -m addrtype --dst-type LOCAL -j DOCKER", jump("DOCKER"), daddrType("local"))),
			base("INPUT", "nat", 100, "accept"),
			base("OUTPUT", "nat", -100, "accept",
				r("-A OUTPUT ! -d 127.0.0.0/8 -m addrtype --dst-type LOCAL -j DOCKER", jump("DOCKER"),
					not(daddr("127.0.0.0/8")), daddrType("local"))),
			base("POSTROUTING", "nat", 100, "accept",
				r("-A POSTROUTING -s 172.17.0.0/16 ! -o docker0 -j MASQUERADE", snat, saddr("172.17.0.0/16"), not(oif("docker0")))),
			user("DOCKER",
				r("-A DOCKER -i docker0 -j RETURN", ret, iif("docker0")),
				r("-A DOCKER ! -i docker0 -p tcp -m tcp --dport 8080 -j DNAT --to-destination 172.17.0.2:80", dnat("172.17.0.2", 80),
					not(iif("docker0")), l4(6), dport(tcp, one(8080))))),
	}
}

func rich4Tables() []*firewall.Table {
	return []*firewall.Table{
		table("security",
			base("INPUT", "filter", 50, "accept",
				r("-A INPUT -p tcp -m tcp --dport 25 -j DROP", drop, l4(6), dport(tcp, one(25)))),
			base("FORWARD", "filter", 50, "accept"),
			base("OUTPUT", "filter", 50, "accept")),
		table("filter",
			base("INPUT", "filter", 0, "drop",
				r("-A INPUT -i lo -j ACCEPT", accept, iif("lo")),
				r("-A INPUT -m conntrack --ctstate RELATED,ESTABLISHED -j ACCEPT", accept, ctstate("related", "established")),
				r("-A INPUT -m state --state INVALID -j DROP", drop, ctstate("invalid")),
				r("-A INPUT -m conntrack ! --ctstate NEW,UNTRACKED,DNAT -j DROP", drop, not(ctstate("new", "untracked", "dnat"))),
				r(`-A INPUT -p tcp -m tcp --dport 22 -m comment --comment "ssh from \"admins\" \\ ok" -j ACCEPT`, accept, l4(6), dport(tcp, one(22))),
				r("-A INPUT -p tcp -m comment --comment -j -m tcp --dport 23 -j ACCEPT", accept, l4(6), dport(tcp, one(23))),
				r(`-A INPUT -p tcp -m comment --comment "it\'s" -m tcp --dport 24 -j ACCEPT`, accept, l4(6), dport(tcp, one(24))),
				r("-A INPUT -s 10.0.0.1/32 -d 192.168.0.0/16 -p udp -m udp --sport 1000:2000 --dport 53 -j ACCEPT", accept,
					saddr("10.0.0.1/32"), daddr("192.168.0.0/16"), l4(17), sport(udp, rng(1000, 2000)), dport(udp, one(53))),
				u("-s 10.0.0.0/255.0.255.0", "-A INPUT -s 10.0.0.0/255.0.255.0 -j DROP", drop),
				r("-A INPUT -p tcp -m multiport --dports 80,443,8000:8100 -j ACCEPT", accept,
					l4(6), dport(tcp, one(80), one(443), rng(8000, 8100))),
				r("-A INPUT -p udp -m multiport ! --sports 1,2 -j ACCEPT", accept, l4(17), not(sport(udp, one(1), one(2)))),
				u(`match "multiport": --ports 5,6`, "-A INPUT -p tcp -m multiport --ports 5,6 -j ACCEPT", accept, l4(6)),
				r("-A INPUT -p tcp -m tcp ! --tcp-flags FIN,SYN,RST,ACK SYN -j DROP", drop, l4(6), not(flags(0x17, 0x02))),
				r("-A INPUT -p tcp -m tcp --tcp-flags FIN,SYN,RST,ACK SYN -j ACCEPT", accept, l4(6), flags(0x17, 0x02)),
				r("-A INPUT -p tcp -m tcp --tcp-flags FIN,SYN,RST,PSH,ACK,URG SYN -j ACCEPT", accept, l4(6), flags(0x3f, 0x02)),
				r("-A INPUT -p tcp -m tcp --tcp-flags FIN,SYN,RST,ACK SYN -j ACCEPT", accept, l4(6), flags(0x17, 0x02)),
				r("-A INPUT -p icmp -m icmp --icmp-type 8 -j ACCEPT", accept, l4(1), icmpType(one(8))),
				u(`match "icmp": --icmp-type 3/3`, "-A INPUT -p icmp -m icmp --icmp-type 3/3 -j ACCEPT", accept, l4(1)),
				u(`match "icmp": --icmp-type 3/3`, "-A INPUT -p icmp -m icmp --icmp-type 3/3 -j ACCEPT", accept, l4(1)),
				r("-A INPUT -p icmp -m icmp --icmp-type any -j ACCEPT", accept, l4(1), icmpType(rng(0, 255))),
				r("-A INPUT -p icmp -m icmp ! --icmp-type 0 -j ACCEPT", accept, l4(1), not(icmpType(one(0)))),
				r("-A INPUT -p gre -j ACCEPT", accept, l4(47)),
				r("-A INPUT -p 200 -j ACCEPT", accept, l4(200)),
				r("-A INPUT ! -p udp -j my-chain", jump("my-chain"), not(l4(17))),
				r("-A INPUT -j ACCEPT", accept),
				r("-A INPUT -f -j DROP", drop, firewall.Match{Field: firewall.FieldFragment}),
				r(`-A INPUT -m limit --limit 5/min -j LOG --log-prefix "in: "`, none, assumed(false, "fewer than 5/min reach the rule (-m limit --limit 5/min)")),
				r("-A INPUT -j LOG --log-prefix -j", none),
				r("-A INPUT -j NFLOG --nflog-prefix x --nflog-group 2", none),
				r("-A INPUT -m iprange --src-range 10.0.0.3-10.0.0.17 -j ACCEPT", accept,
					saddr("10.0.0.3/32", "10.0.0.4/30", "10.0.0.8/29", "10.0.0.16/31")),
				r("-A INPUT -m iprange ! --dst-range 10.0.0.3-10.0.0.3 -j ACCEPT", accept, not(daddr("10.0.0.3/32"))),
				u(`match "conntrack": --ctorigdstport 80`, "-A INPUT -m conntrack --ctorigdst 1.2.3.4 --ctorigdstport 80 -j ACCEPT", accept,
					origDaddr("1.2.3.4/32")),
				r("-A INPUT -p tcp -m conntrack --ctorigdst 1.2.3.0/24 ! --ctorigdstport 80:90 -j ACCEPT", accept,
					l4(6), origDaddr("1.2.3.0/24"), not(origDport(tcp, rng(80, 90)))),
				u(`match "conntrack": --ctproto 6`, "-A INPUT -m conntrack --ctstate DNAT --ctproto 6 -j ACCEPT", accept, ctstate("dnat")),
				r("-A INPUT -m addrtype ! --dst-type BROADCAST,MULTICAST -j ACCEPT", accept, not(daddrType("broadcast", "multicast"))),
				updates("recent:foo", r("-A INPUT -m recent --set --name foo --mask 255.255.255.255 --rsource", none)),
				r("-A INPUT -m hashlimit --hashlimit-upto 1/sec --hashlimit-burst 5 --hashlimit-name hl -j ACCEPT", accept,
					assumed(false, "fewer than 1/sec reach the rule in hl (-m hashlimit --hashlimit-upto 1/sec --hashlimit-burst 5 --hashlimit-name hl)")),
				u(`match "physdev"`, "-A INPUT -m physdev --physdev-in eth0 -j ACCEPT", accept),
				r("-A INPUT -j REJECT --reject-with icmp-port-unreachable", reject("icmp port-unreachable")),
				r("-A INPUT -p tcp -j REJECT --reject-with tcp-reset", reject("tcp reset"), l4(6)),
				r("-A INPUT -j REJECT --reject-with icmp-host-prohibited", reject("icmp host-prohibited")),
				r("-A INPUT -j REJECT --reject-with icmp-admin-prohibited", reject("icmp admin-prohibited")),
				r("-A INPUT -j REJECT --reject-with icmp-proto-unreachable", reject("icmp prot-unreachable")),
				r("-A INPUT -j NFQUEUE --queue-num 3 --queue-bypass", queue),
				r("-A INPUT -p udp -m udp ! --dport 53 -j ACCEPT", accept, l4(17), not(dport(udp, one(53)))),
				r("-A INPUT -p tcp -m tcp --sport 1024:65535 -j ACCEPT", accept, l4(6), sport(tcp, rng(1024, 65535))),
				r("-A INPUT -p udp -m conntrack --ctorigdstport 5353 -j ACCEPT", accept, l4(17), origDport(udp, one(5353))),
				// (mark & 0) == 0 always holds, so the negation never does;
				// (mark & 0) == 1 never holds.
				r("-A INPUT -m mark ! --mark 0x0/0x0 -j DROP", drop, not(firewall.Match{Field: firewall.FieldMark, Ranges: []firewall.Range{rng(0, 1<<32-1)}})),
				r("-A INPUT -m mark --mark 0x1/0x0 -j DROP", drop, not(firewall.Match{Field: firewall.FieldMark, Ranges: []firewall.Range{rng(0, 1<<32-1)}})),
				r(`-A INPUT -m comment --comment "only a comment"`, none),
				r("-A INPUT ! -s 192.0.2.0/24 -d 10.9.8.7/32 -j REJECT --reject-with icmp-net-unreachable", reject("icmp net-unreachable"),
					not(saddr("192.0.2.0/24")), daddr("10.9.8.7/32")),
				r("-A INPUT -g my-chain", gotoV("my-chain"))),
			base("FORWARD", "filter", 0, "drop",
				r("-A FORWARD -i eth+ -o wg0 -j ACCEPT", accept, iif("eth+"), oif("wg0")),
				r("-A FORWARD -j LOGDROP", jump("LOGDROP"))),
			base("OUTPUT", "filter", 0, "accept",
				u(`match "owner"`, "-A OUTPUT -m owner --uid-owner 0 -j ACCEPT", accept)),
			user("LOGDROP",
				r("-A LOGDROP -j LOG", none),
				r("-A LOGDROP -j DROP", drop)),
			user("my-chain",
				r("-A my-chain -p tcp -m tcp --dport 9000 -j ACCEPT", accept, l4(6), dport(tcp, one(9000))),
				r("-A my-chain -j RETURN", ret))),
		table("nat",
			base("PREROUTING", "nat", -100, "accept",
				r("-A PREROUTING -m addrtype --dst-type LOCAL -j DOCKER", jump("DOCKER"), daddrType("local")),
				r("-A PREROUTING -p tcp -m tcp --dport 2222 -j REDIRECT --to-ports 22", redirect(22), l4(6), dport(tcp, one(2222))),
				effect(`target "REDIRECT": --to-ports 22-25`, "-A PREROUTING -p tcp -m tcp --dport 2223 -j REDIRECT --to-ports 22-25", redirect(0),
					l4(6), dport(tcp, one(2223))),
				r("-A PREROUTING -p tcp -m tcp --dport 2224 -j REDIRECT", redirect(0), l4(6), dport(tcp, one(2224))),
				r("-A PREROUTING -p tcp -m tcp --dport 81 -j DNAT --to-destination 10.0.0.5", dnat("10.0.0.5", 0), l4(6), dport(tcp, one(81))),
				effect(`target "DNAT": --to-destination 10.0.0.5-10.0.0.9:80`, "-A PREROUTING -p tcp -m tcp --dport 82 -j DNAT --to-destination 10.0.0.5-10.0.0.9:80",
					dnat("", 0), l4(6), dport(tcp, one(82))),
				r("-A PREROUTING -p tcp -m tcp --dport 83 -j DNAT --to-destination :8080", dnat("", 8080), l4(6), dport(tcp, one(83))),
				effect(`target "DNAT": --to-destination 10.0.0.5:80-90`, "-A PREROUTING -p tcp -m tcp --dport 84 -j DNAT --to-destination 10.0.0.5:80-90 --random",
					dnat("", 0), l4(6), dport(tcp, one(84))),
				u(`match "addrtype": --limit-iface-in`, "-A PREROUTING -m addrtype --src-type UNICAST,LOCAL --limit-iface-in -j ACCEPT", accept,
					saddrType("unicast", "local"))),
			base("INPUT", "nat", 100, "accept"),
			base("OUTPUT", "nat", -100, "accept",
				r("-A OUTPUT ! -d 127.0.0.0/8 -m addrtype --dst-type LOCAL -j DOCKER", jump("DOCKER"),
					not(daddr("127.0.0.0/8")), daddrType("local"))),
			base("POSTROUTING", "nat", 100, "accept",
				r("-A POSTROUTING -s 172.17.0.0/16 ! -o docker0 -j MASQUERADE", snat, saddr("172.17.0.0/16"), not(oif("docker0"))),
				r("-A POSTROUTING -s 10.1.0.0/16 -j SNAT --to-source 1.2.3.4", snat, saddr("10.1.0.0/16")),
				r("-A POSTROUTING -o eth9 -p tcp -j MASQUERADE --to-ports 1024-2000 --random-fully", snat, oif("eth9"), l4(6))),
			user("DOCKER",
				r("-A DOCKER -i docker0 -j RETURN", ret, iif("docker0")),
				r("-A DOCKER ! -i docker0 -p tcp -m tcp --dport 8080 -j DNAT --to-destination 172.17.0.2:80", dnat("172.17.0.2", 80),
					not(iif("docker0")), l4(6), dport(tcp, one(8080))))),
		table("mangle",
			base("PREROUTING", "filter", -150, "accept",
				setMark(0x10, r("-A PREROUTING -i eth0 -p tcp -m tcp --dport 80 -j MARK --set-xmark 0x10/0xffffffff", none,
					iif("eth0"), l4(6), dport(tcp, one(80)))),
				markOp(^uint32(0xff), 5, r("-A PREROUTING -i eth1 -j MARK --set-xmark 0x5/0xff", none, iif("eth1"))),
				markOp(^uint32(4), 4, r("-A PREROUTING -i eth2 -j MARK --set-xmark 0x4/0x4", none, iif("eth2"))),
				r("-A PREROUTING -m mark --mark 0x10/0xf0 -j CONNMARK --save-mark --nfmask 0xffffffff --ctmask 0xffffffff", none,
					mark(0x10, 0xf0))),
			base("INPUT", "filter", -150, "accept",
				r("-A INPUT -m mark --mark 0x3 -j ACCEPT", accept, mark(3, 0))),
			base("FORWARD", "filter", -150, "accept"),
			base("OUTPUT", "route", -150, "accept",
				r("-A OUTPUT -p tcp -m tcp --tcp-flags SYN,RST SYN -j TCPMSS --clamp-mss-to-pmtu", none, l4(6), flags(0x06, 0x02))),
			base("POSTROUTING", "filter", -150, "accept")),
		table("raw",
			base("PREROUTING", "filter", -300, "accept",
				effect(`target "CT": --notrack`,
					"-A PREROUTING -p tcp -m tcp --dport 9999 --tcp-flags FIN,SYN,RST,ACK SYN -j CT --notrack", none, l4(6), dport(tcp, one(9999)), flags(0x17, 0x02)),
				effect(`target "NOTRACK"`, "-A PREROUTING -p udp -m udp --dport 53 -j NOTRACK", none, l4(17), dport(udp, one(53))),
				r("-A PREROUTING -p udp -m udp --dport 54 -j TRACE", none, l4(17), dport(udp, one(54)))),
			base("OUTPUT", "filter", -300, "accept")),
	}
}

func rich6Tables() []*firewall.Table {
	return []*firewall.Table{
		table("filter",
			base("INPUT", "filter", 0, "drop",
				r("-A INPUT -i lo -j ACCEPT", accept, iif("lo")),
				r("-A INPUT -m conntrack --ctstate RELATED,ESTABLISHED -j ACCEPT", accept, ctstate("related", "established")),
				r("-A INPUT -p ipv6-icmp -j ICMP", jump("ICMP"), l4(58)),
				r("-A INPUT -s fe80::1/128 -d ff02::/16 -p udp -m udp --dport 546 -j ACCEPT", accept,
					saddr("fe80::1/128"), daddr("ff02::/16"), l4(17), dport(udp, one(546))),
				r("-A INPUT -s 2001:db8::/32 -j ACCEPT", accept, saddr("2001:db8::/32")),
				u("-s 2001::/ffff:0:ffff::", "-A INPUT -s 2001::/ffff:0:ffff:: -j ACCEPT", accept),
				r("-A INPUT -p tcp -m multiport --dports 22,80:90 -j ACCEPT", accept, l4(6), dport(tcp, one(22), rng(80, 90))),
				r("-A INPUT -m conntrack --ctorigdst fd00::1 -j ACCEPT", accept, origDaddr("fd00::1/128")),
				r("-A INPUT -m iprange --src-range 2001:db8::1-2001:db8::ff -j ACCEPT", accept,
					saddr("2001:db8::1/128", "2001:db8::2/127", "2001:db8::4/126", "2001:db8::8/125",
						"2001:db8::10/124", "2001:db8::20/123", "2001:db8::40/122", "2001:db8::80/121")),
				r("-A INPUT -p tcp -j REJECT --reject-with tcp-reset", reject("tcp reset"), l4(6)),
				r("-A INPUT -j REJECT --reject-with icmp6-port-unreachable", reject("icmpv6 port-unreachable")),
				r("-A INPUT -j REJECT --reject-with icmp6-adm-prohibited", reject("icmpv6 admin-prohibited")),
				r("-A INPUT -j REJECT --reject-with icmp6-addr-unreachable", reject("icmpv6 addr-unreachable")),
				r("-A INPUT -j REJECT --reject-with icmp6-no-route", reject("icmpv6 no-route")),
				r("-A INPUT -j REJECT --reject-with icmp6-policy-fail", reject("icmpv6 policy-fail")),
				r("-A INPUT -j REJECT --reject-with icmp6-reject-route", reject("icmpv6 reject-route")),
				r("-A INPUT -m rt --rt-type 0 -j DROP", drop, firewall.Match{Field: firewall.FieldExtHdr, Names: []string{"rt"}}),
				r("-A INPUT -m frag --fragmore -j DROP", drop, firewall.Match{Field: firewall.FieldExtHdr, Names: []string{"frag"}})),
			base("FORWARD", "filter", 0, "drop"),
			base("OUTPUT", "filter", 0, "accept"),
			user("ICMP",
				r("-A ICMP -p ipv6-icmp -m icmp6 --icmpv6-type 128 -j ACCEPT", accept, l4(58), icmpv6Type(128)),
				r("-A ICMP -p ipv6-icmp -m icmp6 --icmpv6-type 135 -j ACCEPT", accept, l4(58), icmpv6Type(135)),
				u(`match "icmp6": --icmpv6-type 1/4`, "-A ICMP -p ipv6-icmp -m icmp6 --icmpv6-type 1/4 -j ACCEPT", accept, l4(58)),
				r("-A ICMP -p ipv6-icmp -m icmp6 ! --icmpv6-type 135 -j ACCEPT", accept, l4(58), not(icmpv6Type(135))),
				u(`match "icmp6": --icmpv6-type 1/4`, "-A ICMP -p ipv6-icmp -m icmp6 --icmpv6-type 1/4 -j ACCEPT", accept, l4(58)),
				r("-A ICMP -j RETURN", ret))),
		table("nat",
			base("PREROUTING", "nat", -100, "accept",
				r("-A PREROUTING -p tcp -m tcp --dport 8080 -j DNAT --to-destination [fd00::2]:80", dnat("fd00::2", 80), l4(6), dport(tcp, one(8080))),
				r("-A PREROUTING -p tcp -m tcp --dport 8081 -j DNAT --to-destination fd00::3", dnat("fd00::3", 0), l4(6), dport(tcp, one(8081))),
				r("-A PREROUTING -p tcp -m tcp --dport 8082 -j DNAT --to-destination fd00::3", dnat("fd00::3", 0), l4(6), dport(tcp, one(8082))),
				r("-A PREROUTING -p tcp -m tcp --dport 8083 -j REDIRECT --to-ports 80", redirect(80), l4(6), dport(tcp, one(8083))),
				r("-A PREROUTING -m addrtype --dst-type LOCAL -j ACCEPT", accept, daddrType("local")),
				u(`match "addrtype": --dst-type UNICAST,LOCAL`, "-A PREROUTING -m addrtype --dst-type UNICAST,LOCAL -j ACCEPT", accept)),
			base("INPUT", "nat", 100, "accept"),
			base("OUTPUT", "nat", -100, "accept"),
			base("POSTROUTING", "nat", 100, "accept",
				r("-A POSTROUTING -s fd00::/64 ! -o br0 -j MASQUERADE", snat, saddr("fd00::/64"), not(oif("br0"))))),
		table("mangle",
			base("PREROUTING", "filter", -150, "accept",
				setMark(2, r("-A PREROUTING -p tcp -m tcp --dport 80 -j MARK --set-xmark 0x2/0xffffffff", none, l4(6), dport(tcp, one(80))))),
			base("INPUT", "filter", -150, "accept"),
			base("FORWARD", "filter", -150, "accept"),
			base("OUTPUT", "route", -150, "accept"),
			base("POSTROUTING", "filter", -150, "accept")),
		table("raw",
			base("PREROUTING", "filter", -300, "accept",
				r("-A PREROUTING -p ipv6-icmp -j ACCEPT", accept, l4(58))),
			base("OUTPUT", "filter", -300, "accept")),
	}
}

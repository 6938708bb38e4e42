package netfilter_test

import (
	"fmt"
	"math/rand/v2"
	"strings"
)

// The constructs generator writes rulesets made of what real hosts use
// beyond plain port and address matches (issue 10): TCP flags, in IPv4
// and IPv6 and seen by UDP packets; verdict maps on the family, on
// numgen and on concatenated keys; named sets of concatenated keys;
// marks changed with masks (kube-proxy's and Calico's) and tested with
// masks; reverse-path fib lookups; IPv6 extension headers; rate limits,
// meters, connection counts, recent lists and hashlimits in forms whose
// outcome does not depend on the probes' timing; log rules behind limits,
// helper assignments and other statements without a verdict; random
// choices (numgen, statistic), which the evaluator follows every way. It
// writes nftables (inet) or iptables (IPv4 and IPv6) rulesets, and every
// case is probed with TCP and UDP over IPv4 and IPv6.

// diffIp6tables is a part loaded with ip6tables-nft-restore, diffIPSet
// one loaded with ipset restore (before the rules that use its sets).
const (
	diffIp6tables = "ip6tables"
	diffIPSet     = "ipset"
)

// diffConstructPorts are the ports the constructs cases probe.
var diffConstructPorts = []uint16{22, 80, 443, 7000, 8001, 8080}

func diffGenerateConstructs(seed uint64) diffCase {
	g := &diffGen{r: rand.New(rand.NewPCG(seed, 0x636f6e7374727563))}
	c := diffCase{Name: fmt.Sprintf("constructs-%d", seed), Seed: seed, Ports: diffConstructPorts,
		Probes: []diffProbeKind{diffTCP4, diffUDP4, diffTCP6, diffUDP6}}
	if g.chance(60) {
		c.Parts = append(c.Parts, diffPart{Kind: diffNft, Text: g.constructsNft()})
	} else {
		v4, v6 := g.constructsIptables(false), g.constructsIptables(true)
		c.Parts = append(c.Parts, diffPart{Kind: diffIptables, Text: v4}, diffPart{Kind: diffIp6tables, Text: v6})
	}
	return c
}

func (g *diffGen) cport() uint16 { return diffConstructPorts[g.r.IntN(len(diffConstructPorts))] }

// fill replaces %P with probed ports and %V with verdicts.
func (g *diffGen) fill(tmpl string, verdict func() string) string {
	var b strings.Builder
	for i := 0; i < len(tmpl); i++ {
		if tmpl[i] == '%' && i+1 < len(tmpl) {
			switch tmpl[i+1] {
			case 'P':
				fmt.Fprint(&b, g.cport())
				i++
				continue
			case 'V':
				b.WriteString(verdict())
				i++
				continue
			case 'N':
				g.n++
				fmt.Fprint(&b, g.n)
				i++
				continue
			}
		}
		b.WriteByte(tmpl[i])
	}
	return b.String()
}

var nftConstructInput = []string{
	"tcp flags syn tcp dport %P %V",
	"tcp flags & (fin|syn|rst|ack) == syn tcp dport %P %V",
	"tcp flags syn / fin,syn,rst,ack tcp dport %P %V",
	"tcp flags != syn %V",
	"tcp flags { syn, syn | ack } tcp dport %P %V",
	"tcp flags & (ack|rst) == 0 tcp dport %P %V",
	"tcp flags ack %V",
	"tcp flags & (syn|ecn|cwr) == syn tcp dport %P %V",
	"tcp flags & (fin|syn|rst|psh|ack|urg) == 0x0 drop",
	"udp dport %P %V",
	"meta l4proto udp udp dport %P %V",
	"th dport %P %V",
	"meta protocol vmap { ip : jump c1, ip6 : jump c2 }",
	"meta nfproto vmap { ipv4 : goto c1, ipv6 : jump c2 }",
	"tcp dport %P limit rate 10000/second burst 10000 packets %V",
	"limit rate over 10000/second burst 10000 packets drop",
	"limit rate 1/minute log prefix \"pc \"",
	"limit rate 1/minute jump logc",
	"meter m4x%N { ip saddr limit rate over 10000/second burst 10000 packets } drop",
	"meter m6x%N { ip6 saddr limit rate over 10000/second burst 10000 packets } drop",
	"ct count over 1000 drop",
	"tcp dport %P ct count 1000 %V",
	"quota over 2000 mbytes drop",
	"tcp dport %P ct helper set \"ftph\"",
	"update @dyn { ip saddr }",
	"rt type 0 drop",
	"exthdr rt exists drop",
	"exthdr hbh exists drop",
	"exthdr frag missing tcp dport %P %V",
	"fib saddr . iif oif missing drop",
	"meta nfproto ipv6 fib saddr . mark . iif oif missing drop",
	"fib saddr oif missing drop",
	"fib saddr . iif oif exists th dport %P %V",
	"meta mark & 0x4000 == 0x4000 %V",
	"meta mark & 0x000f0000 != 0 %V",
	"meta mark & 0x10 == 0x10 th dport %P %V",
	"ip saddr . tcp dport @sp4 %V",
	"ip6 saddr . tcp dport @sp6 %V",
	"ip saddr . th dport { 10.88.1.0/24 . %P } %V",
	"ip6 saddr . th dport { fd88:1::/64 . %P, fd89::3 . %P } %V",
	"ip daddr . meta l4proto . th dport vmap @svc4",
	"ip6 daddr . meta l4proto . th dport vmap @svc6",
	"meta l4proto . th dport vmap { tcp . %P : accept, udp . %P : drop }",
	"numgen random mod 2 vmap { 0 : jump c1, 1 : jump c2 }",
	"numgen random mod 2 vmap { 0 : jump c1, 1 : jump c1 }",
	"meta pkttype host th dport %P %V",
	"meta pkttype broadcast drop",
	"meta ipsec exists drop",
	"ip frag-off & 0x1fff != 0 drop",
	"ip saddr 10.88.1.0/24 th dport %P %V",
	"ip6 saddr fd88:1::/64 th dport %P %V",
	"ip6 saddr fe80::/10 %V",
	"meta l4proto ipv6-icmp accept",
	"ct state established,related accept",
	"ct state invalid drop",
	"iifname \"lo\" accept",
}

// nftConstructChain are rules of the regular chains c1 and c2.
var nftConstructChain = []string{
	"tcp flags syn th dport %P %V",
	"udp dport %P %V",
	"meta nfproto ipv6 th dport %P %V",
	"ip saddr 10.88.1.1 th dport %P %V",
	"meta mark & 0x4000 == 0x4000 %V",
	"limit rate 10000/second burst 10000 packets th dport %P %V",
	"th dport %P return",
	"%V",
}

// nftConstructPre are rules of a filter prerouting chain at mangle
// priority: marks for input to test, reverse-path checks, helpers.
var nftConstructPre = []string{
	"meta mark set meta mark | 0x4000",
	"th dport %P meta mark set meta mark | 0x10",
	"meta mark set meta mark & 0xfff0ffff ^ 0x10000",
	"meta mark set 0x7",
	"tcp dport %P ct helper set \"ftph\"",
	"meta nfproto ipv6 fib saddr . mark . iif oif missing drop",
	"fib saddr . iif oif missing drop",
	"icmpv6 type { nd-router-advert, nd-neighbor-solicit } accept",
	"rt type 0 drop",
}

// nftConstructOutput are rules of an output chain, which the replies
// (SYN-ACK, UDP answer) and reject answers (RST, ICMP error) cross.
var nftConstructOutput = []string{
	"tcp flags & (syn|ack) == syn|ack tcp sport %P drop",
	"tcp flags syn tcp sport %P drop",
	"tcp flags rst drop",
	"tcp flags ack tcp sport %P accept",
	"udp sport %P drop",
	"meta l4proto . th sport vmap { tcp . %P : drop, udp . %P : drop }",
	"limit rate over 10000/second burst 10000 packets drop",
	"ct state established accept",
	"meta l4proto { icmp, ipv6-icmp } drop",
}

func (g *diffGen) nftConstructVerdict(level int) func() string {
	return func() string {
		switch x := g.r.IntN(100); {
		case x < 35:
			return "accept"
		case x < 55:
			return "drop"
		case x < 70:
			return g.pick([]string{"reject", "reject with icmpx type admin-prohibited", "reject with icmpx type port-unreachable",
				"reject with icmpx type host-unreachable", "reject with tcp reset"})
		case x < 85 && level == 0:
			return g.pick([]string{"jump c1", "goto c2", "jump c2", "jump logc"})
		}
		return "counter"
	}
}

func (g *diffGen) constructsNft() string {
	var b strings.Builder
	b.WriteString("table inet cx {\n\tct helper ftph {\n\t\ttype \"ftp\" protocol tcp\n\t}\n")
	b.WriteString("\tset dyn {\n\t\ttype ipv4_addr\n\t\tflags dynamic\n\t}\n")
	// Two different ports: nft refuses overlapping intervals.
	p1 := g.cport()
	p2 := g.cport()
	for p2 == p1 {
		p2 = g.cport()
	}
	fmt.Fprintf(&b, "\tset sp4 {\n\t\ttype ipv4_addr . inet_service\n\t\tflags interval\n\t\telements = { 10.88.1.0/24 . %d, 10.88.1.1 . %d, 192.168.0.0/16 . %d }\n\t}\n",
		p1, p2, g.cport())
	fmt.Fprintf(&b, "\tset sp6 {\n\t\ttype ipv6_addr . inet_service\n\t\tflags interval\n\t\telements = { fd88:1::/64 . %d, fd88:1::1 . %d, fd00::/8 . 1 }\n\t}\n",
		p2, p1)
	mapVerdict := func() string { return g.pick([]string{"accept", "drop", "jump c1", "goto c2"}) }
	for _, m := range []struct{ name, typ, addr string }{{"svc4", "ipv4_addr", diffServer}, {"svc6", "ipv6_addr", diffServer6}} {
		seen := map[string]bool{}
		var els []string
		for range 1 + g.r.IntN(4) {
			k := fmt.Sprintf("%s . %s . %d", m.addr, g.pick([]string{"tcp", "udp"}), g.cport())
			if seen[k] {
				continue
			}
			seen[k] = true
			els = append(els, k+" : "+mapVerdict())
		}
		fmt.Fprintf(&b, "\tmap %s {\n\t\ttype %s . inet_proto . inet_service : verdict\n\t\telements = { %s }\n\t}\n", m.name, m.typ, strings.Join(els, ", "))
	}
	// logc changes nothing: log lines behind limits, and returns.
	b.WriteString("\tchain logc {\n\t\tlimit rate 3/minute burst 10 packets log prefix \"pc-log \"\n\t\tct state invalid limit rate 3/minute return\n\t\tcounter\n\t}\n")
	for _, name := range []string{"c1", "c2"} {
		fmt.Fprintf(&b, "\tchain %s {\n", name)
		for range 1 + g.r.IntN(3) {
			r := g.fill(g.pick(nftConstructChain), g.nftConstructVerdict(1))
			if strings.Contains(r, "udp") {
				r = strings.ReplaceAll(r, "reject with tcp reset", "reject")
			}
			if diffKnownGap("inet", r) {
				r = "counter"
			}
			fmt.Fprintf(&b, "\t\t%s\n", r)
		}
		b.WriteString("\t}\n")
	}
	if g.chance(50) {
		b.WriteString("\tchain pre {\n\t\ttype filter hook prerouting priority mangle; policy accept;\n")
		for range 1 + g.r.IntN(3) {
			fmt.Fprintf(&b, "\t\t%s\n", g.fill(g.pick(nftConstructPre), g.nftConstructVerdict(1)))
		}
		b.WriteString("\t}\n")
	}
	policy := g.pick([]string{"accept", "drop", "drop"})
	fmt.Fprintf(&b, "\tchain input {\n\t\ttype filter hook input priority filter; policy %s;\n", policy)
	for range 2 + g.r.IntN(7) {
		r := g.fill(g.pick(nftConstructInput), g.nftConstructVerdict(0))
		if strings.Contains(r, "udp") || strings.Contains(r, "ipv6-icmp") {
			r = strings.ReplaceAll(r, "reject with tcp reset", "reject") // nft: only after tcp
		}
		if diffKnownGap("inet", r) {
			continue
		}
		fmt.Fprintf(&b, "\t\t%s\n", r)
	}
	b.WriteString("\t}\n")
	if g.chance(40) {
		b.WriteString("\tchain output {\n\t\ttype filter hook output priority filter; policy accept;\n")
		for range 1 + g.r.IntN(3) {
			fmt.Fprintf(&b, "\t\t%s\n", g.fill(g.pick(nftConstructOutput), nil))
		}
		b.WriteString("\t}\n")
	}
	b.WriteString("}\n")
	return b.String()
}

// iptables constructs: %J is a target.
var iptConstructInput = []string{
	"-p tcp -m tcp --dport %P --tcp-flags SYN,ACK SYN %J",
	"-p tcp -m tcp ! --syn -j DROP",
	"-p tcp -m tcp --tcp-flags FIN,SYN,RST,PSH,ACK,URG NONE -j DROP",
	"-p tcp -m tcp --tcp-flags FIN,SYN FIN,SYN -j DROP",
	"-p tcp -m tcp --syn --dport %P %J",
	"-p tcp -m tcp --tcp-flags ALL SYN %J",
	"-p udp -m udp --dport %P %J",
	"-m limit --limit 1/min -j LOG",
	"-j LOGC",
	"-m limit --limit 3/min --limit-burst 10 -j LOGC",
	"-p tcp -m tcp --dport %P -m limit --limit 10000/sec --limit-burst 10000 %J",
	"-m hashlimit --hashlimit-above 10000/sec --hashlimit-burst 10000 --hashlimit-mode srcip --hashlimit-name hl -j DROP",
	"-p tcp -m connlimit --connlimit-above 1000 -j DROP",
	"-m recent --set --name other",
	"-p tcp -m tcp --dport %P -m recent --rcheck --name seen %J",
	"-m recent --rcheck --seconds 60 --name never -j DROP",
	"-m statistic --mode random --probability 0.5 -j U1",
	"-m mark --mark 0x4000/0x4000 %J",
	"-m mark --mark 0x0/0xf0000 -p tcp -m tcp --dport %P %J",
	"-m pkttype --pkt-type unicast -p tcp -m tcp --dport %P %J",
	"-m policy --dir in --pol none -p udp -m udp --dport %P %J",
	"-m conntrack --ctstate RELATED,ESTABLISHED -j ACCEPT",
	"-m conntrack --ctstate INVALID -j DROP",
	"-p tcp -m tcp --dport %P -j U2",
}

var iptConstructInput4 = []string{
	"-f -j DROP",
	"-s 10.88.1.0/24 -p tcp -m tcp --dport %P %J",
	"-m addrtype --dst-type LOCAL -p udp -m udp --dport %P %J",
	"-m mark --mark 0x4000/0x4000 -j ACCEPT",
}

var iptConstructInput6 = []string{
	"-m rt --rt-type 0 -j DROP",
	"-m frag --fragmore -j DROP",
	"-m ipv6header --header frag --soft -j DROP",
	"-m hbh --hbh-len 0 -j DROP",
	"-s fd88:1::/64 -p tcp -m tcp --dport %P %J",
	"-p ipv6-icmp -j ACCEPT",
}

// iptConstructMangle marks in mangle PREROUTING: kube-proxy's and
// Calico's masked forms.
var iptConstructMangle = []string{
	"-j MARK --set-xmark 0x4000/0x4000",
	"-j MARK --set-xmark 0x0/0xf0000",
	"-p tcp -m tcp --dport %P -j MARK --set-xmark 0x10000/0x10000",
	"-j MARK --or-mark 0x4000",
	"-j MARK --and-mark 0xffffbfff",
	"-j MARK --xor-mark 0x4000",
	"-p udp -m udp --dport %P -j MARK --set-mark 0x4000",
}

func (g *diffGen) iptConstructTarget(v6 bool) func() string {
	return func() string {
		switch x := g.r.IntN(100); {
		case x < 35:
			return "-j ACCEPT"
		case x < 55:
			return "-j DROP"
		case x < 70 && v6:
			return g.pick([]string{"-j REJECT", "-j REJECT --reject-with icmp6-adm-prohibited", "-j REJECT --reject-with icmp6-port-unreachable"})
		case x < 70:
			return g.pick([]string{"-j REJECT", "-j REJECT --reject-with icmp-admin-prohibited", "-j REJECT --reject-with icmp-host-unreachable"})
		case x < 85:
			return g.pick([]string{"-j U1", "-j U2", "-g U2"})
		}
		return "-j LOG"
	}
}

func (g *diffGen) constructsIptables(v6 bool) string {
	var b strings.Builder
	fill := func(chain, tmpl string, target func() string) {
		line := "-A " + chain + " " + tmpl
		line = strings.ReplaceAll(line, "%J", "%V")
		fmt.Fprintln(&b, g.fill(line, target))
	}
	if g.chance(40) {
		b.WriteString("*raw\n:PREROUTING ACCEPT [0:0]\n:OUTPUT ACCEPT [0:0]\n")
		if g.chance(50) {
			b.WriteString("-A PREROUTING -p tcp -m tcp --dport 21 -j CT --helper ftp\n")
		}
		if g.chance(60) {
			b.WriteString("-A PREROUTING -m rpfilter --invert -j DROP\n")
		}
		b.WriteString("COMMIT\n")
	}
	if g.chance(50) {
		b.WriteString("*mangle\n:PREROUTING ACCEPT [0:0]\n:INPUT ACCEPT [0:0]\n:FORWARD ACCEPT [0:0]\n:OUTPUT ACCEPT [0:0]\n:POSTROUTING ACCEPT [0:0]\n")
		for range 1 + g.r.IntN(3) {
			fill("PREROUTING", g.pick(iptConstructMangle), nil)
		}
		b.WriteString("COMMIT\n")
	}
	if !v6 && g.chance(35) {
		// kube-proxy's shape: a service on 7000 whose endpoints are two
		// local ports, picked at random; its mark for masquerading.
		b.WriteString(`*nat
:PREROUTING ACCEPT [0:0]
:INPUT ACCEPT [0:0]
:OUTPUT ACCEPT [0:0]
:POSTROUTING ACCEPT [0:0]
:KUBE-SERVICES - [0:0]
:KUBE-SVC-A - [0:0]
:KUBE-SEP-1 - [0:0]
:KUBE-SEP-2 - [0:0]
:KUBE-MARK-MASQ - [0:0]
:KUBE-POSTROUTING - [0:0]
-A PREROUTING -m comment --comment "kubernetes service portals" -j KUBE-SERVICES
-A POSTROUTING -m comment --comment "kubernetes postrouting rules" -j KUBE-POSTROUTING
-A KUBE-MARK-MASQ -j MARK --set-xmark 0x4000/0x4000
-A KUBE-POSTROUTING -m mark ! --mark 0x4000/0x4000 -j RETURN
-A KUBE-POSTROUTING -j MARK --set-xmark 0x4000/0x0
-A KUBE-POSTROUTING -m comment --comment "kubernetes service traffic requiring SNAT" -j MASQUERADE --random-fully
-A KUBE-SERVICES -d 10.88.1.2/32 -p tcp -m comment --comment "ns/svc:p cluster IP" -m tcp --dport 7000 -j KUBE-SVC-A
-A KUBE-SVC-A ! -s 10.244.0.0/16 -d 10.88.1.2/32 -p tcp -m tcp --dport 7000 -j KUBE-MARK-MASQ
`)
		fmt.Fprintf(&b, "-A KUBE-SVC-A -m statistic --mode random --probability 0.50000000000 -j KUBE-SEP-1\n-A KUBE-SVC-A -j KUBE-SEP-2\n")
		fmt.Fprintf(&b, "-A KUBE-SEP-1 -s 10.88.1.2/32 -j KUBE-MARK-MASQ\n-A KUBE-SEP-1 -p tcp -m tcp -j DNAT --to-destination 10.88.1.2:%d\n", g.pickPort(8001, 80))
		fmt.Fprintf(&b, "-A KUBE-SEP-2 -s 10.88.1.2/32 -j KUBE-MARK-MASQ\n-A KUBE-SEP-2 -p tcp -m tcp -j DNAT --to-destination 10.88.1.2:%d\n", g.pickPort(8001, 443))
		b.WriteString("COMMIT\n")
	}
	policy := g.pick([]string{"ACCEPT", "DROP", "DROP"})
	fmt.Fprintf(&b, "*filter\n:INPUT %s [0:0]\n:FORWARD ACCEPT [0:0]\n:OUTPUT ACCEPT [0:0]\n:LOGC - [0:0]\n:U1 - [0:0]\n:U2 - [0:0]\n", policy)
	pool := append([]string{}, iptConstructInput...)
	if v6 {
		pool = append(pool, iptConstructInput6...)
	} else {
		pool = append(pool, iptConstructInput4...)
	}
	for range 2 + g.r.IntN(7) {
		tmpl := g.pick(pool)
		if strings.Contains(tmpl, "--rcheck --name seen") {
			// Only a --set on the same way may put the source in the
			// list: later probes must not find the earlier ones'.
			b.WriteString("-A INPUT -m recent --set --name seen\n")
		}
		fill("INPUT", tmpl, g.iptConstructTarget(v6))
	}
	if g.chance(30) {
		fmt.Fprintf(&b, "-A OUTPUT -p tcp -m tcp --sport %d --tcp-flags SYN,ACK SYN,ACK -j DROP\n", g.cport())
	}
	if g.chance(20) {
		fmt.Fprintf(&b, "-A OUTPUT -p udp -m udp --sport %d -j DROP\n", g.cport())
	}
	b.WriteString("-A LOGC -m limit --limit 3/min --limit-burst 10 -j LOG --log-prefix \"[pc] \"\n-A LOGC -m conntrack --ctstate INVALID -m limit --limit 3/min -j RETURN\n")
	leaf := func() string {
		return g.pick([]string{"-j ACCEPT", "-j DROP", "-j RETURN", "-j LOG"})
	}
	for _, ch := range []string{"U1", "U2"} {
		for range 1 + g.r.IntN(3) {
			fill(ch, g.pick([]string{"-p tcp -m tcp --dport %P %J", "-p udp -m udp --dport %P %J", "-m mark --mark 0x4000/0x4000 %J",
				"-p tcp -m tcp --tcp-flags SYN,RST,ACK SYN %J", "%J"}), leaf)
		}
	}
	b.WriteString("COMMIT\n")
	return b.String()
}

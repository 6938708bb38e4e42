package firewall

import (
	"net/netip"
	"strings"
	"testing"
)

// Constructs of real rulesets (issue 10): each case is a ruleset and a
// packet with the verdict, the deciding rule, the assumptions and the
// random ways the evaluator must report. Kernel agreement is checked by
// the differential test (netfilter); these pin the evaluator's answers.

func udpTo(dst string, port uint16) Packet {
	return Packet{Src: addr("10.0.0.2"), Dst: addr(dst), Proto: ProtoUDP, SPort: 40000, DPort: port}
}

func tcp6To(port uint16) Packet {
	return Packet{Src: addr("fd00::2"), Dst: addr("fd00::1"), Proto: ProtoTCP, SPort: 40000, DPort: port}
}

func flags(mask, value uint32, negate bool) Match {
	return Match{Field: FieldTCPFlags, Proto: ProtoTCP, Mask: mask, Ranges: ports(value), Negate: negate}
}

func assumed(fails bool, text string) Match {
	return Match{Field: FieldAssumed, Negate: fails, Assume: text}
}

func regular(name string, rules ...*Rule) *Chain { return &Chain{Name: name, Rules: rules} }

func jump(chain string) Verdict { return Verdict{Kind: VerdictJump, Chain: chain} }

func TestEvaluateConstructs(t *testing.T) {
	reject := Verdict{Kind: VerdictReject, Reject: "icmpx port-unreachable"}
	kubeMark := &MarkOp{And: ^uint32(0x4000), Xor: 0x4000}
	tests := []struct {
		name     string
		tables   []*Table
		pkt      Packet
		verdict  string
		handle   int
		assume   string // a substring of one assumption; "" = none
		branches int
		reason   string
	}{
		// TCP flags, as nft's operators and iptables' --tcp-flags give them.
		{name: "tcp flags syn (any of) matches a SYN",
			tables: []*Table{nftTable(inputChain("drop", rule(1, accept, flags(0x02, 0, true))))},
			pkt:    tcpTo("10.0.0.1", 22), verdict: Accept, handle: 1},
		{name: "tcp flags & (fin|syn|rst|ack) == syn matches a SYN",
			tables: []*Table{nftTable(inputChain("drop", rule(1, accept, flags(0x17, 0x02, false))))},
			pkt:    tcpTo("10.0.0.1", 22), verdict: Accept, handle: 1},
		{name: "! --syn does not match a SYN",
			tables: []*Table{nftTable(inputChain("accept", rule(1, drop, flags(0x17, 0x02, true))))},
			pkt:    tcpTo("10.0.0.1", 22), verdict: Accept},
		{name: "tcp flags never match a UDP packet, negated or not",
			tables: []*Table{nftTable(inputChain("accept", rule(1, drop, flags(0x02, 0x02, true)), rule(2, drop, flags(0x17, 0x02, false))))},
			pkt:    udpTo("10.0.0.1", 53), verdict: Accept},
		{name: "a test of ECE and CWR rests on the client's SYN",
			tables: []*Table{nftTable(inputChain("drop", rule(1, accept, flags(0xc2, 0x02, false))))},
			pkt:    tcpTo("10.0.0.1", 22), verdict: Accept, handle: 1, assume: "does not request ECN"},
		{name: "the SYN-ACK meets tcp flags in output",
			tables: []*Table{nftTable(inputChain("accept"), outputChain(0, "accept", rule(7, drop, flags(0x12, 0x12, false))))},
			pkt:    tcpTo("10.0.0.1", 22), verdict: Drop, handle: 7},

		// Verdict maps on the family and numgen.
		{name: "meta protocol vmap sends IPv4 one way",
			tables: []*Table{nftTable(regular("in4", rule(20, drop)), regular("in6", rule(21, accept)), inputChain("accept",
				rule(1, Verdict{Kind: VerdictVmap, Key: FieldNfproto, Elements: []MapElement{
					{Name: "ipv4", Verdict: jump("in4")}, {Name: "ipv6", Verdict: jump("in6")}}})))},
			pkt: tcpTo("10.0.0.1", 22), verdict: Drop, handle: 20},
		{name: "… and IPv6 the other",
			tables: []*Table{nftTable(regular("in4", rule(20, drop)), regular("in6", rule(21, accept)), inputChain("drop",
				rule(1, Verdict{Kind: VerdictVmap, Key: FieldNfproto, Elements: []MapElement{
					{Name: "ipv4", Verdict: jump("in4")}, {Name: "ipv6", Verdict: jump("in6")}}})))},
			pkt: tcp6To(22), verdict: Accept, handle: 21},
		{name: "numgen ways that agree give the verdict",
			tables: []*Table{nftTable(regular("a", rule(20, accept)), regular("b", rule(21, accept)), inputChain("drop",
				rule(1, Verdict{Kind: VerdictVmap, Key: FieldNumgen, Mod: 2, Elements: []MapElement{
					{Range: &Range{0, 0}, Verdict: Verdict{Kind: VerdictGoto, Chain: "a"}}, {Range: &Range{1, 1}, Verdict: Verdict{Kind: VerdictGoto, Chain: "b"}}}})))},
			pkt: tcpTo("10.0.0.1", 22), verdict: Accept, branches: 2},
		{name: "numgen ways that disagree are undecided",
			tables: []*Table{nftTable(regular("a", rule(20, accept)), regular("b", rule(21, drop)), inputChain("drop",
				rule(1, Verdict{Kind: VerdictVmap, Key: FieldNumgen, Mod: 2, Elements: []MapElement{
					{Range: &Range{0, 0}, Verdict: Verdict{Kind: VerdictGoto, Chain: "a"}}, {Range: &Range{1, 1}, Verdict: Verdict{Kind: VerdictGoto, Chain: "b"}}}})))},
			pkt: tcpTo("10.0.0.1", 22), verdict: Indeterminate, branches: 2, reason: "depends on a random choice"},
		{name: "statistic random: both ways",
			tables: []*Table{nftTable(inputChain("accept", rule(1, drop, dport(22), Match{Field: FieldRandom})))},
			pkt:    tcpTo("10.0.0.1", 22), verdict: Indeterminate, branches: 2, reason: "depends on a random choice"},

		// Marks as bit operations.
		{name: "kube-proxy's mark for masquerade, then a masked test",
			tables: []*Table{nftTable(inputChain("drop",
				&Rule{Handle: 1, MarkSet: kubeMark},
				rule(2, accept, Match{Field: FieldMark, Mask: 0x4000, Ranges: ports(0x4000)})))},
			pkt: tcpTo("10.0.0.1", 22), verdict: Accept, handle: 2},
		{name: "Calico's --set-xmark 0x0/0xf0000 clears only its bits",
			tables: []*Table{nftTable(inputChain("drop",
				&Rule{Handle: 1, MarkSet: &MarkOp{And: 0xffffffff, Xor: 0x10001}},
				&Rule{Handle: 2, MarkSet: &MarkOp{And: ^uint32(0xf0000), Xor: 0}},
				rule(3, accept, Match{Field: FieldMark, Ranges: ports(1)})))},
			pkt: tcpTo("10.0.0.1", 22), verdict: Accept, handle: 3},

		// Concatenated keys.
		{name: "address . port set",
			tables: []*Table{nftTable(inputChain("drop", rule(1, accept, Match{Field: FieldConcat,
				Concat: []KeyField{{Field: FieldSaddr}, {Field: FieldDport, Proto: ProtoTCP}},
				Tuples: [][]Value{{{Prefix: &[]netip.Prefix{pfx("10.0.0.0/24")}[0]}, {Range: &Range{22, 22}}}}})))},
			pkt: tcpTo("10.0.0.1", 22), verdict: Accept, handle: 1},
		{name: "kube-proxy's service-ips map",
			tables: []*Table{{Backend: BackendNftables, Family: FamilyIP, Name: "kube-proxy", Chains: []*Chain{
				regular("svc", rule(20, reject)),
				{Name: "pre", Type: "filter", Hook: HookInput, Policy: "accept", Rules: []*Rule{
					rule(1, Verdict{Kind: VerdictVmap, Key: FieldConcat, Map: "service-ips",
						Concat: []KeyField{{Field: FieldDaddr}, {Field: FieldL4Proto}, {Field: FieldDport}}})}}},
				Sets: map[string]*Set{"service-ips": {Name: "service-ips", Type: "ipv4_addr . inet_proto . inet_service", Map: "verdict",
					Elements: []MapElement{{Tuple: []Value{{Prefix: &[]netip.Prefix{pfx("10.0.0.1/32")}[0]}, {Range: &Range{6, 6}}, {Range: &Range{443, 443}}},
						Verdict: Verdict{Kind: VerdictGoto, Chain: "svc"}}}}}}},
			pkt: tcpTo("10.0.0.1", 443), verdict: Reject, handle: 20},

		// Rate and state: judged for one new connection, said so.
		{name: "limit … accept accepts, assuming the rate holds",
			tables: []*Table{nftTable(inputChain("drop", rule(1, accept, dport(22), assumed(false, "fewer than 10/minute reach the rule"))))},
			pkt:    tcpTo("10.0.0.1", 22), verdict: Accept, handle: 1, assume: "fewer than 10/minute"},
		{name: "limit rate over … drop does not drop, assuming the rate holds",
			tables: []*Table{nftTable(inputChain("accept", rule(1, drop, dport(22), assumed(true, "fewer than 10/second reach the rule"))))},
			pkt:    tcpTo("10.0.0.1", 22), verdict: Accept, assume: "fewer than 10/second"},
		{name: "an assumption another match makes moot is not stated",
			tables: []*Table{nftTable(inputChain("accept", rule(1, drop, dport(80), assumed(true, "fewer than 10/second reach the rule"))))},
			pkt:    tcpTo("10.0.0.1", 22), verdict: Accept},
		{name: "recent --rcheck sees the --set on the same way",
			tables: []*Table{nftTable(inputChain("drop",
				&Rule{Handle: 1, SetUpdates: []string{"recent:knock"}},
				rule(2, accept, Match{Field: FieldAssumed, Negate: true, Set: "recent:knock", Assume: "no earlier entry"})))},
			pkt: tcpTo("10.0.0.1", 22), verdict: Accept, handle: 2},

		// Rules that change nothing.
		{name: "a log rule behind an unmodelled match is skipped",
			tables: []*Table{nftTable(inputChain("drop",
				&Rule{Handle: 1, Unsupported: `match "u32"`, UnsupportedMatch: true},
				rule(2, accept, dport(22))))},
			pkt: tcpTo("10.0.0.1", 22), verdict: Accept, handle: 2},
		{name: "a jump to a chain of log and return rules is skipped",
			tables: []*Table{nftTable(
				regular("logging", &Rule{Handle: 10, Unsupported: `match "u32"`, UnsupportedMatch: true},
					&Rule{Handle: 11, Verdict: Verdict{Kind: VerdictReturn}, Unsupported: `match "u32"`, UnsupportedMatch: true}),
				inputChain("drop", &Rule{Handle: 1, Verdict: jump("logging"), Unsupported: `match "limit2"`, UnsupportedMatch: true}, rule(2, accept, dport(22))))},
			pkt: tcpTo("10.0.0.1", 22), verdict: Accept, handle: 2},
		{name: "an unmodelled effect is not skipped",
			tables: []*Table{nftTable(inputChain("drop", &Rule{Handle: 1, Unsupported: `statement "notrack"`}, rule(2, accept, dport(22))))},
			pkt:    tcpTo("10.0.0.1", 22), verdict: Indeterminate, reason: "notrack"},

		// Reverse-path checks from the routes, extension headers.
		{name: "fib saddr . iif oif missing: the route back exists",
			tables: []*Table{nftTable(inputChain("accept", rule(1, drop, Match{Field: FieldRPF, Negate: true})))},
			pkt:    tcpTo("10.0.0.1", 22), verdict: Accept},
		{name: "strict reverse path through another interface",
			tables:  []*Table{nftTable(inputChain("accept", rule(1, drop, Match{Field: FieldRPF, Negate: true})))},
			pkt:     Packet{IIF: "docker0", Src: addr("10.0.0.2"), Dst: addr("10.0.0.1"), Proto: ProtoTCP, SPort: 40000, DPort: 22},
			verdict: Drop, handle: 1},
		{name: "loose reverse path through another interface",
			tables:  []*Table{nftTable(inputChain("accept", rule(1, drop, Match{Field: FieldRPF, Negate: true, Names: []string{"loose"}})))},
			pkt:     Packet{IIF: "docker0", Src: addr("10.0.0.2"), Dst: addr("10.0.0.1"), Proto: ProtoTCP, SPort: 40000, DPort: 22},
			verdict: Accept},
		{name: "-m rt --rt-type 0 never matches a packet without a routing header",
			tables: []*Table{nftTable(inputChain("accept", rule(1, drop, Match{Field: FieldExtHdr, Names: []string{"rt"}})))},
			pkt:    tcp6To(22), verdict: Accept},
		{name: "exthdr frag missing holds",
			tables: []*Table{nftTable(inputChain("drop", rule(1, accept, Match{Field: FieldExtHdr, Negate: true, Names: []string{"frag"}})))},
			pkt:    tcp6To(22), verdict: Accept, handle: 1},

		// The virtual conntrack state DNAT, and DNAT only when it changes.
		{name: "ctstate DNAT after a DNAT",
			tables: []*Table{{Backend: BackendNftables, Family: FamilyIP, Name: "nat", Chains: []*Chain{
				{Name: "pre", Type: "nat", Hook: HookPrerouting, Priority: -100, Policy: "accept", Rules: []*Rule{
					rule(1, Verdict{Kind: VerdictDNAT, NATPort: 8080}, dport(80))}}}},
				nftTable(inputChain("drop", rule(5, accept, Match{Field: FieldCTState, Names: []string{"dnat"}})))},
			pkt: tcpTo("10.0.0.1", 80), verdict: Accept, handle: 5},
		{name: "a DNAT that changes nothing sets no DNAT status",
			tables: []*Table{{Backend: BackendNftables, Family: FamilyIP, Name: "nat", Chains: []*Chain{
				{Name: "pre", Type: "nat", Hook: HookPrerouting, Priority: -100, Policy: "accept", Rules: []*Rule{
					rule(1, Verdict{Kind: VerdictDNAT, NATPort: 80}, dport(80))}}}},
				nftTable(inputChain("drop", rule(5, accept, Match{Field: FieldCTStatus, Names: []string{"dnat"}})))},
			pkt: tcpTo("10.0.0.1", 80), verdict: Drop},

		// A set a rule adds the packet's key to cannot be looked up after.
		{name: "lookup after a set update",
			tables: []*Table{{Backend: BackendNftables, Family: FamilyInet, Name: "filter", Sets: map[string]*Set{"seen": {Name: "seen", Type: "ipv4_addr"}},
				Chains: []*Chain{inputChain("drop", &Rule{Handle: 1, SetUpdates: []string{"seen"}}, rule(2, accept, Match{Field: FieldSaddr, Set: "seen"}))}}},
			pkt: tcpTo("10.0.0.1", 22), verdict: Indeterminate, reason: "was added to"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h := *server
			h.Interfaces = append(h.Interfaces, Interface{Name: "eth6", Addrs: []netip.Prefix{pfx("fd00::1/64")}})
			e := NewEvaluator(&Ruleset{Tables: tt.tables}, &h)
			d := walked(t, e, tt.pkt)
			if d.Seen() != tt.verdict {
				t.Fatalf("verdict %s (%s), want %s; rule %v", d.Seen(), d.Reason, tt.verdict, d.Rule)
			}
			if tt.handle != 0 && (d.Rule == nil || d.Rule.Handle != tt.handle) {
				t.Errorf("decided by %v, want handle %d", d.Rule, tt.handle)
			}
			got := strings.Join(d.Assumptions, "; ")
			if (tt.assume == "") != (got == "") || !strings.Contains(got, tt.assume) {
				t.Errorf("assumptions %q, want %q", got, tt.assume)
			}
			if d.Branches != tt.branches {
				t.Errorf("branches %d, want %d", d.Branches, tt.branches)
			}
			if !strings.Contains(d.Reason, tt.reason) {
				t.Errorf("reason %q, want it to contain %q", d.Reason, tt.reason)
			}
		})
	}
}

// Routes that lead nowhere decide forwarded packets as the kernel does,
// and policy routing makes a reverse-path check undecidable.
func TestEvaluateRouteTypes(t *testing.T) {
	h := *server
	h.Routes = append([]Route{{Dst: pfx("192.0.2.0/24"), Type: "blackhole"}, {Dst: pfx("198.51.100.0/24"), Type: "unreachable"},
		{Dst: pfx("203.0.113.0/24"), Type: "prohibit"}}, h.Routes...)
	e := NewEvaluator(&Ruleset{}, &h)
	for dst, want := range map[string]string{"192.0.2.9": Drop, "198.51.100.9": Reject + " icmp host-unreachable", "203.0.113.9": Reject + " icmp admin-prohibited"} {
		d := walked(t, e, tcpTo(dst, 80))
		got := d.Verdict
		if d.Reject != "" {
			got += " " + d.Reject
		}
		if got != want || d.Hook != "routing" {
			t.Errorf("to %s: %s in %s, want %s in routing", dst, got, d.Hook, want)
		}
	}
	h.PolicyRules = []string{"ip rule 100: from all fwmark 0x1 lookup 100"}
	e = NewEvaluator(&Ruleset{Tables: []*Table{nftTable(inputChain("accept", rule(1, drop, Match{Field: FieldRPF, Negate: true})))}}, &h)
	if d := walked(t, e, tcpTo("10.0.0.1", 22)); d.Verdict != Indeterminate || !strings.Contains(d.Reason, "policy rules") {
		t.Errorf("rpf with policy routing: %s (%s), want indeterminate naming the policy rules", d.Verdict, d.Reason)
	}
}

// SourceSamples cuts where the flow's packets can meet addresses: the
// reply's destination is the source, so output rules on daddr cut too;
// rules for another port or protocol, and the chains only they lead to,
// do not.
func TestSourceSamplesFilterByFlow(t *testing.T) {
	one := func(p string) []netip.Prefix { return []netip.Prefix{pfx(p)} }
	tbl := nftTable(
		regular("svc", rule(20, drop, Match{Field: FieldSaddr, Prefixes: one("10.5.0.0/16")})),
		inputChain("accept",
			rule(1, jump("svc"), dport(80)),
			rule(2, drop, Match{Field: FieldSaddr, Prefixes: one("10.6.0.0/16")}, Match{Field: FieldDport, Proto: ProtoUDP, Ranges: ports(22)})),
		outputChain(0, "accept", rule(7, drop, Match{Field: FieldDaddr, Prefixes: one("10.7.0.0/16")})))
	e := NewEvaluator(&Ruleset{Tables: []*Table{tbl}}, server)
	got, _ := e.SourceSamples(pfx("10.0.0.0/8"), 0, Flow{Dst: addr("10.0.0.1"), Proto: ProtoTCP, DPort: 22, SPort: 40000})
	has := func(a string) bool {
		for _, s := range got {
			if s == addr(a) {
				return true
			}
		}
		return false
	}
	if !has("10.7.0.0") || !has("10.8.0.0") {
		t.Errorf("samples %v: want a cut at 10.7.0.0/16 (the reply's destination)", got)
	}
	if has("10.5.0.0") || has("10.6.0.0") {
		t.Errorf("samples %v: rules for tcp/80 and udp/22 must not cut for tcp/22", got)
	}
}

// -m set resolves against the ipset's type: one address dimension with a
// nomatch hole (the most specific entry wins), a port bitmap, an address
// and port tuple; a set that was not read cannot be decided.
func TestEvaluateIPSets(t *testing.T) {
	pv := func(s string) Value { p := pfx(s); return Value{Prefix: &p} }
	sets := map[string]*IPSet{
		"nets": {Name: "nets", Type: "hash:net", Family: "inet", Entries: []IPSetEntry{
			{Values: []Value{pv("10.0.0.0/16")}}, {Values: []Value{pv("10.0.0.0/28")}, Nomatch: true}, {Values: []Value{pv("10.0.0.2/32")}}}},
		"ports": {Name: "ports", Type: "bitmap:port", Entries: []IPSetEntry{{Values: []Value{{Range: &Range{8080, 8080}, Proto: ProtoTCP}}}}},
		"svc": {Name: "svc", Type: "hash:ip,port", Family: "inet", Entries: []IPSetEntry{
			{Values: []Value{pv("10.0.0.1/32"), {Range: &Range{53, 53}, Proto: ProtoUDP}}}}},
	}
	set := func(name string, dirs ...string) Match { return Match{Field: FieldIPSet, Set: name, Names: dirs} }
	tests := []struct {
		name    string
		m       Match
		pkt     Packet
		verdict string
	}{
		{"inside the net, outside the hole", set("nets", "src"), Packet{Src: addr("10.0.0.200"), Dst: addr("10.0.0.1"), Proto: ProtoTCP, SPort: 40000, DPort: 22}, Accept},
		{"in the nomatch hole", set("nets", "src"), Packet{Src: addr("10.0.0.3"), Dst: addr("10.0.0.1"), Proto: ProtoTCP, SPort: 40000, DPort: 22}, Drop},
		{"an entry inside the hole", set("nets", "src"), tcpTo("10.0.0.1", 22), Accept},
		{"bitmap:port on dst", set("ports", "dst"), tcpTo("10.0.0.1", 8080), Accept},
		{"ip,port on dst,dst", set("svc", "dst", "dst"), udpTo("10.0.0.1", 53), Accept},
		{"ip,port: another protocol", set("svc", "dst", "dst"), tcpTo("10.0.0.1", 53), Drop},
		{"fewer directions than dimensions never match", set("svc", "dst"), udpTo("10.0.0.1", 53), Drop},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			rs := &Ruleset{IPSets: sets, Tables: []*Table{{Backend: BackendIptablesNft, Family: FamilyIP, Name: "filter", Chains: []*Chain{
				{Name: "INPUT", Type: "filter", Hook: HookInput, Policy: "drop", Rules: []*Rule{{Number: 1, Matches: []Match{tt.m}, Verdict: accept}}}}}}}
			if d := walked(t, NewEvaluator(rs, server), tt.pkt); d.Seen() != tt.verdict {
				t.Errorf("%s (%s), want %s", d.Seen(), d.Reason, tt.verdict)
			}
		})
	}
	rs := &Ruleset{Tables: []*Table{nftTable(inputChain("drop", rule(1, accept, set("gone", "src"))))}}
	if d := walked(t, NewEvaluator(rs, server), tcpTo("10.0.0.1", 22)); d.Verdict != Indeterminate || !strings.Contains(d.Reason, "ipset gone was not read") {
		t.Errorf("unknown set: %s (%s)", d.Verdict, d.Reason)
	}
}

package firewall

import (
	"net/netip"
	"strings"
	"testing"
)

var (
	pfx  = netip.MustParsePrefix
	addr = netip.MustParseAddr
)

func ports(ps ...uint32) []Range {
	var out []Range
	for _, p := range ps {
		out = append(out, Range{p, p})
	}
	return out
}

func dport(ps ...uint32) Match {
	return Match{Field: FieldDport, Proto: ProtoTCP, Ranges: ports(ps...)}
}

func rule(h int, v Verdict, ms ...Match) *Rule {
	return &Rule{Handle: h, Text: "rule", Matches: ms, Verdict: v}
}

var (
	accept = Verdict{Kind: VerdictAccept}
	drop   = Verdict{Kind: VerdictDrop}
)

// server is a host with eth0 10.0.0.1/24, a docker0 bridge and lo.
var server = &Host{
	Interfaces: []Interface{
		{Name: "lo", Addrs: []netip.Prefix{pfx("127.0.0.1/8")}},
		{Name: "eth0", Addrs: []netip.Prefix{pfx("10.0.0.1/24"), pfx("fd00::1/64")}},
		{Name: "docker0", Addrs: []netip.Prefix{pfx("172.17.0.1/16")}},
	},
	Routes: []Route{
		{Dst: pfx("10.0.0.0/24"), Dev: "eth0"},
		{Dst: pfx("0.0.0.0/0"), Dev: "eth0"},
		{Dst: pfx("fd00::/64"), Dev: "eth0"},
		{Dst: pfx("172.17.0.0/16"), Dev: "docker0"},
		{Dst: pfx("127.0.0.0/8"), Dev: "lo", Local: true},
	},
	Forwarding4: true,
}

func inputChain(policy string, rules ...*Rule) *Chain {
	return &Chain{Name: "input", Type: "filter", Hook: HookInput, Policy: policy, Rules: rules}
}

func nftTable(chains ...*Chain) *Table {
	return &Table{Backend: BackendNftables, Family: FamilyInet, Name: "filter", Chains: chains}
}

func tcpTo(dst string, port uint16) Packet {
	return Packet{Src: addr("10.0.0.2"), Dst: addr(dst), Proto: ProtoTCP, SPort: 40000, DPort: port}
}

func TestEvaluate(t *testing.T) {
	web := &Chain{Name: "web", Rules: []*Rule{
		rule(20, accept, Match{Field: FieldSaddr, Prefixes: []netip.Prefix{pfx("10.0.0.0/25")}}),
		rule(21, Verdict{Kind: VerdictReturn}),
	}}
	mark := uint32(7)
	tests := []struct {
		name    string
		tables  []*Table
		pkt     Packet
		verdict string
		reject  string
		handle  int
		policy  string
		hook    string
		reason  string
	}{
		{
			name:    "policy drop, port accepted",
			tables:  []*Table{nftTable(inputChain("drop", rule(3, accept, dport(22)), rule(4, accept, dport(8080))))},
			pkt:     tcpTo("10.0.0.1", 8080),
			verdict: Accept, handle: 4, hook: HookInput,
		},
		{
			name:    "policy drop decides",
			tables:  []*Table{nftTable(inputChain("drop", rule(3, accept, dport(22))))},
			pkt:     tcpTo("10.0.0.1", 8080),
			verdict: Drop, policy: "drop", hook: HookInput,
		},
		{
			name: "udp rule does not match tcp",
			tables: []*Table{nftTable(inputChain("drop",
				rule(3, accept, Match{Field: FieldDport, Proto: ProtoUDP, Ranges: ports(8080)})))},
			pkt:     tcpTo("10.0.0.1", 8080),
			verdict: Drop, policy: "drop",
		},
		{
			name: "reject with tcp reset",
			tables: []*Table{nftTable(inputChain("accept",
				rule(5, Verdict{Kind: VerdictReject, Reject: "tcp reset"}, dport(8080))))},
			pkt:     tcpTo("10.0.0.1", 8080),
			verdict: Reject, reject: "tcp reset", handle: 5,
		},
		{
			name: "ct state established does not match a new packet",
			tables: []*Table{nftTable(inputChain("drop",
				rule(2, accept, Match{Field: FieldCTState, Names: []string{"established", "related"}})))},
			pkt:     tcpTo("10.0.0.1", 8080),
			verdict: Drop, policy: "drop",
		},
		{
			name: "iif lo accept does not match eth0 traffic",
			tables: []*Table{nftTable(inputChain("drop",
				rule(2, accept, Match{Field: FieldIIF, Names: []string{"lo"}})))},
			pkt:     tcpTo("10.0.0.1", 8080),
			verdict: Drop, policy: "drop",
		},
		{
			name: "iif lo accept matches traffic from the host itself",
			tables: []*Table{nftTable(inputChain("drop",
				rule(2, accept, Match{Field: FieldIIF, Names: []string{"lo"}})))},
			pkt:     Packet{Src: addr("10.0.0.1"), Dst: addr("10.0.0.1"), Proto: ProtoTCP, DPort: 8080},
			verdict: Accept, handle: 2,
		},
		{
			name: "jump, return, then policy",
			tables: []*Table{nftTable(web, inputChain("drop",
				rule(10, Verdict{Kind: VerdictJump, Chain: "web"}, dport(80)),
				rule(11, Verdict{Kind: VerdictReject, Reject: "icmp admin-prohibited"}, dport(80))))},
			pkt:     Packet{Src: addr("10.0.0.200"), Dst: addr("10.0.0.1"), Proto: ProtoTCP, DPort: 80},
			verdict: Reject, reject: "icmp admin-prohibited", handle: 11,
		},
		{
			name: "jump into an accepting rule",
			tables: []*Table{nftTable(web, inputChain("drop",
				rule(10, Verdict{Kind: VerdictJump, Chain: "web"}, dport(80))))},
			pkt:     Packet{Src: addr("10.0.0.20"), Dst: addr("10.0.0.1"), Proto: ProtoTCP, DPort: 80},
			verdict: Accept, handle: 20,
		},
		{
			name: "goto returns to the caller's caller: the base chain's policy",
			tables: []*Table{nftTable(web, inputChain("accept",
				rule(10, Verdict{Kind: VerdictGoto, Chain: "web"}, dport(80)),
				rule(11, drop)))},
			pkt:     Packet{Src: addr("10.0.0.200"), Dst: addr("10.0.0.1"), Proto: ProtoTCP, DPort: 80},
			verdict: Accept, policy: "accept",
		},
		{
			name: "a drop in any table wins over an accept in another",
			tables: []*Table{
				nftTable(inputChain("accept", rule(1, accept, dport(80)))),
				{Backend: BackendIptablesLegacy, Family: FamilyIP, Name: "filter", Chains: []*Chain{
					{Name: "INPUT", Type: "filter", Hook: HookInput, Policy: "drop"},
				}},
			},
			pkt:     tcpTo("10.0.0.1", 80),
			verdict: Drop, policy: "drop",
		},
		{
			name: "an ip6 table does not see IPv4",
			tables: []*Table{{Backend: BackendNftables, Family: FamilyIP6, Name: "f", Chains: []*Chain{
				inputChain("drop")}}},
			pkt:     tcpTo("10.0.0.1", 80),
			verdict: Accept,
		},
		{
			name: "named set with intervals",
			tables: []*Table{{Backend: BackendNftables, Family: FamilyInet, Name: "filter",
				Sets:   map[string]*Set{"ok": {Name: "ok", Type: "ipv4_addr", Prefixes: []netip.Prefix{pfx("10.0.0.0/30"), pfx("192.168.0.0/16")}}},
				Chains: []*Chain{inputChain("drop", rule(4, accept, Match{Field: FieldSaddr, Set: "ok"}))}}},
			pkt:     tcpTo("10.0.0.1", 80),
			verdict: Accept, handle: 4,
		},
		{
			name: "missing set is indeterminate",
			tables: []*Table{nftTable(inputChain("drop",
				rule(4, accept, Match{Field: FieldSaddr, Set: "nope"})))},
			pkt:     tcpTo("10.0.0.1", 80),
			verdict: Indeterminate, handle: 4, reason: "set @nope is not defined in table inet filter in rule inet filter input handle 4: rule",
		},
		{
			name: "unsupported rule that cannot match is passed over",
			tables: []*Table{nftTable(inputChain("drop",
				&Rule{Handle: 6, Matches: []Match{dport(22)}, Unsupported: `expression "limit"`, Verdict: accept},
				rule(7, accept, dport(80))))},
			pkt:     tcpTo("10.0.0.1", 80),
			verdict: Accept, handle: 7,
		},
		{
			name: "unsupported rule that may match is indeterminate",
			tables: []*Table{nftTable(inputChain("drop",
				&Rule{Handle: 6, Text: "tcp dport 80 limit rate 1/second accept", Matches: []Match{dport(80)}, Unsupported: `expression "limit"`, Verdict: accept}))},
			pkt:     tcpTo("10.0.0.1", 80),
			verdict: Indeterminate, handle: 6,
			reason: `unsupported expression "limit" in rule inet filter input handle 6: tcp dport 80 limit rate 1/second accept`,
		},
		{
			name: "vmap on dport",
			tables: []*Table{nftTable(web, inputChain("drop",
				rule(8, Verdict{Kind: VerdictVmap, Key: FieldDport, KeyProto: ProtoTCP, Elements: []MapElement{
					{Range: &Range{22, 22}, Verdict: accept},
					{Range: &Range{80, 80}, Verdict: Verdict{Kind: VerdictJump, Chain: "web"}},
				}})))},
			pkt:     tcpTo("10.0.0.1", 22),
			verdict: Accept, handle: 8,
		},
		{
			name: "mark set then matched",
			tables: []*Table{nftTable(inputChain("drop",
				&Rule{Handle: 1, MarkSet: SetMarkTo(mark)},
				rule(2, accept, Match{Field: FieldMark, Ranges: ports(7)})))},
			pkt:     tcpTo("10.0.0.1", 80),
			verdict: Accept, handle: 2,
		},
		{
			name:    "not local and forwarding off",
			tables:  []*Table{nftTable(inputChain("accept"))},
			pkt:     tcpTo("10.9.9.9", 80),
			verdict: Drop, hook: "routing",
		},
		{
			name: "addrtype local",
			tables: []*Table{nftTable(inputChain("drop",
				rule(3, accept, Match{Field: FieldDaddrType, Names: []string{"local"}}, dport(80))))},
			pkt:     tcpTo("10.0.0.1", 80),
			verdict: Accept, handle: 3,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h := *server
			if tt.name == "not local and forwarding off" {
				h.Forwarding4 = false
			}
			d := walked(t, NewEvaluator(&Ruleset{Tables: tt.tables}, &h), tt.pkt)
			if d.Verdict != tt.verdict || d.Reject != tt.reject {
				t.Fatalf("verdict %s %q, want %s %q (decision %+v)", d.Verdict, d.Reject, tt.verdict, tt.reject, d)
			}
			if tt.handle != 0 && (d.Rule == nil || d.Rule.Handle != tt.handle) {
				t.Errorf("deciding rule %+v, want handle %d", d.Rule, tt.handle)
			}
			if tt.policy != "" && (d.Rule == nil || d.Rule.Policy != tt.policy) {
				t.Errorf("deciding rule %+v, want policy %s", d.Rule, tt.policy)
			}
			if tt.hook != "" && d.Hook != tt.hook {
				t.Errorf("hook %q, want %q", d.Hook, tt.hook)
			}
			if tt.reason != "" && d.Reason != tt.reason {
				t.Errorf("reason %q\nwant   %q", d.Reason, tt.reason)
			}
		})
	}
}

// Docker's published port: DNAT in nat prerouting, decided in forward.
func TestEvaluateDNATGoesToForward(t *testing.T) {
	nat := &Table{Backend: BackendIptablesNft, Family: FamilyIP, Name: "nat", Chains: []*Chain{
		{Name: "PREROUTING", Type: "nat", Hook: HookPrerouting, Priority: -100, Policy: "accept", Rules: []*Rule{
			{Number: 1, Matches: []Match{{Field: FieldDaddrType, Names: []string{"local"}}}, Verdict: Verdict{Kind: VerdictJump, Chain: "DOCKER"}},
		}},
		{Name: "DOCKER", Rules: []*Rule{
			{Number: 1, Matches: []Match{{Field: FieldIIF, Negate: true, Names: []string{"docker0"}}, dport(8080)},
				Verdict: Verdict{Kind: VerdictDNAT, NATAddr: addr("172.17.0.2"), NATPort: 80}},
		}},
	}}
	filter := &Table{Backend: BackendIptablesNft, Family: FamilyIP, Name: "filter", Chains: []*Chain{
		{Name: "INPUT", Type: "filter", Hook: HookInput, Policy: "drop"},
		{Name: "FORWARD", Type: "filter", Hook: HookForward, Policy: "drop", Rules: []*Rule{
			{Number: 1, Text: "-A FORWARD -j DOCKER-USER", Verdict: Verdict{Kind: VerdictJump, Chain: "DOCKER-USER"}},
			{Number: 2, Text: "-A FORWARD -o docker0 -j ACCEPT", Matches: []Match{{Field: FieldOIF, Names: []string{"docker0"}}}, Verdict: accept},
			// What lets the container's replies out (and its own traffic).
			{Number: 3, Text: "-A FORWARD -i docker0 ! -o docker0 -j ACCEPT", Matches: []Match{{Field: FieldIIF, Names: []string{"docker0"}}, {Field: FieldOIF, Negate: true, Names: []string{"docker0"}}}, Verdict: accept},
		}},
		{Name: "DOCKER-USER", Rules: []*Rule{
			{Number: 1, Text: "-A DOCKER-USER -s 10.0.0.128/25 -j DROP", Matches: []Match{{Field: FieldSaddr, Prefixes: []netip.Prefix{pfx("10.0.0.128/25")}}}, Verdict: drop},
			{Number: 2, Verdict: Verdict{Kind: VerdictReturn}},
		}},
	}}
	e := NewEvaluator(&Ruleset{Tables: []*Table{nat, filter}}, server)

	d := walked(t, e, tcpTo("10.0.0.1", 8080))
	if d.Verdict != Accept || d.Hook != HookForward || d.OIF != "docker0" || d.DNATAddr != addr("172.17.0.2") || d.DNATPort != 80 {
		t.Fatalf("published port: %+v", d)
	}
	if d.Rule == nil || d.Rule.Number != 2 || d.Rule.Chain != "FORWARD" {
		t.Errorf("deciding rule %+v, want FORWARD #2", d.Rule)
	}
	if r := d.Reply; r == nil || r.Verdict != Accept || r.Hook != HookForward || r.IIF != "docker0" || r.OIF != "eth0" || r.Rule == nil || r.Rule.Number != 3 {
		t.Errorf("reply from the container: %+v, want accepted by FORWARD #3 from docker0 to eth0", r)
	}
	d = walked(t, e, Packet{Src: addr("10.0.0.200"), Dst: addr("10.0.0.1"), Proto: ProtoTCP, DPort: 8080})
	if d.Verdict != Drop || d.Rule == nil || d.Rule.Chain != "DOCKER-USER" || d.Rule.Number != 1 {
		t.Fatalf("DOCKER-USER drop: %+v", d)
	}
	// Not published: INPUT's policy decides.
	d = walked(t, e, tcpTo("10.0.0.1", 9090))
	if d.Verdict != Drop || d.Hook != HookInput {
		t.Fatalf("unpublished port: %+v", d)
	}
}

// The dport index must not change the order rules are tried in.
func TestIndexKeepsRuleOrder(t *testing.T) {
	var rules []*Rule
	rules = append(rules, rule(1, accept, dport(5)))
	rules = append(rules, rule(2, drop, Match{Field: FieldSaddr, Prefixes: []netip.Prefix{pfx("10.0.0.2/32")}}))
	rules = append(rules, rule(3, accept, dport(80)))
	e := NewEvaluator(&Ruleset{Tables: []*Table{nftTable(inputChain("drop", rules...))}}, server)
	if d := walked(t, e, tcpTo("10.0.0.1", 80)); d.Verdict != Drop || d.Rule.Handle != 2 {
		t.Fatalf("got %+v, want the earlier saddr drop", d)
	}
	if d := walked(t, e, tcpTo("10.0.0.1", 5)); d.Verdict != Accept || d.Rule.Handle != 1 {
		t.Fatalf("got %+v, want the earlier dport accept", d)
	}
}

func TestSourceSamples(t *testing.T) {
	tbl := nftTable(inputChain("drop",
		rule(1, accept, Match{Field: FieldSaddr, Prefixes: []netip.Prefix{pfx("10.1.2.0/24")}})))
	e := NewEvaluator(&Ruleset{Tables: []*Table{tbl}}, server)
	flow := Flow{Dst: addr("10.0.0.1"), Proto: ProtoTCP, DPort: 22, SPort: 40000}
	got, trunc := e.SourceSamples(pfx("10.1.0.0/16"), 0, flow)
	want := []netip.Addr{addr("10.1.0.0"), addr("10.1.2.0"), addr("10.1.3.0")}
	if trunc || len(got) != len(want) {
		t.Fatalf("samples %v, want %v", got, want)
	}
	for i := range want {
		if got[i] != want[i] {
			t.Fatalf("samples %v, want %v", got, want)
		}
	}
	if _, trunc := e.SourceSamples(pfx("10.1.0.0/16"), 2, flow); !trunc {
		t.Error("limit 2 of 3 samples: not reported as truncated")
	}
}

// firewalld accepts DNATed connections in INPUT with "ct status dnat".
func TestCTStatusDNAT(t *testing.T) {
	nat := &Table{Backend: BackendNftables, Family: FamilyIP, Name: "nat", Chains: []*Chain{
		{Name: "pre", Type: "nat", Hook: HookPrerouting, Priority: -100, Policy: "accept", Rules: []*Rule{
			rule(1, Verdict{Kind: VerdictRedirect, NATPort: 80}, dport(8080)),
		}},
	}}
	filter := nftTable(inputChain("drop", rule(2, accept, Match{Field: FieldCTStatus, Names: []string{"dnat"}})))
	e := NewEvaluator(&Ruleset{Tables: []*Table{nat, filter}}, server)
	if d := walked(t, e, tcpTo("10.0.0.1", 8080)); d.Verdict != Accept || d.Rule.Handle != 2 || d.DNATPort != 80 {
		t.Errorf("redirected packet: %+v, want accepted by ct status dnat", d)
	}
	if d := walked(t, e, tcpTo("10.0.0.1", 9090)); d.Verdict != Drop {
		t.Errorf("packet without nat: %+v, want the policy's drop", d)
	}
}

// A source with no route back has an unknown ingress interface: rules on
// other interfaces cannot be decided, "iif lo" still can.
func TestUnknownIngress(t *testing.T) {
	h := &Host{Interfaces: server.Interfaces, Routes: []Route{{Dst: pfx("10.0.0.0/24"), Dev: "eth0"}}}
	lo := nftTable(inputChain("drop", rule(1, accept, Match{Field: FieldIIF, Names: []string{"lo"}}), rule(2, accept, dport(80))))
	if d := walked(t, NewEvaluator(&Ruleset{Tables: []*Table{lo}}, h), tcpTo("10.0.0.1", 80)); d.Verdict != Accept {
		t.Errorf("routed source: %+v", d)
	}
	far := Packet{Src: addr("192.0.2.9"), Dst: addr("10.0.0.1"), Proto: ProtoTCP, DPort: 80}
	if d := walked(t, NewEvaluator(&Ruleset{Tables: []*Table{lo}}, h), far); d.Verdict != Accept || d.Rule.Handle != 2 {
		t.Errorf("unrouted source past iif lo: %+v", d)
	}
	eth := nftTable(inputChain("drop", rule(1, accept, Match{Field: FieldIIF, Names: []string{"eth0"}})))
	if d := walked(t, NewEvaluator(&Ruleset{Tables: []*Table{eth}}, h), far); d.Verdict != Indeterminate || !strings.Contains(d.Reason, "no route back to 192.0.2.9") {
		t.Errorf("unrouted source at iif eth0: %+v", d)
	}
}

// DNAT to 127.0.0.1 from outside is martian unless route_localnet is on
// (as on Kubernetes nodes).
func TestDNATToLoopback(t *testing.T) {
	nat := &Table{Backend: BackendNftables, Family: FamilyIP, Name: "nat", Chains: []*Chain{
		{Name: "pre", Type: "nat", Hook: HookPrerouting, Priority: -100, Policy: "accept", Rules: []*Rule{
			rule(1, Verdict{Kind: VerdictDNAT, NATAddr: addr("127.0.0.1"), NATPort: 80}, dport(8080)),
		}},
	}}
	rs := &Ruleset{Tables: []*Table{nat}}
	if d := walked(t, NewEvaluator(rs, server), tcpTo("10.0.0.1", 8080)); d.Verdict != Drop || d.Hook != "routing" {
		t.Errorf("route_localnet off: %+v, want a martian drop", d)
	}
	h := *server
	h.RouteLocalnet = []string{"eth0"}
	if d := walked(t, NewEvaluator(rs, &h), tcpTo("10.0.0.1", 8080)); d.Verdict != Accept {
		t.Errorf("route_localnet on eth0: %+v, want accepted", d)
	}
}

func outputChain(prio int, policy string, rules ...*Rule) *Chain {
	return &Chain{Name: "output", Type: "filter", Hook: HookOutput, Priority: prio, Policy: policy, Rules: rules}
}

var (
	established = Match{Field: FieldCTState, Names: []string{"established", "related"}}
	rejectReset = Verdict{Kind: VerdictReject, Reject: "tcp reset"}
)

func sport(ps ...uint32) Match {
	return Match{Field: FieldSport, Proto: ProtoTCP, Ranges: ports(ps...)}
}

// A locally delivered connection is answered through output: with policy
// drop and nothing for established traffic the SYN-ACK never leaves, and
// the port is unreachable although input accepts the SYN.
func TestReplyThroughOutput(t *testing.T) {
	input := inputChain("drop", rule(1, accept, dport(8080)), rule(2, accept, Match{Field: FieldDport, Proto: ProtoUDP, Ranges: ports(53)}),
		rule(3, accept, Match{Field: FieldL4Proto, Ranges: ports(uint32(ProtoICMP))}))
	tests := []struct {
		name    string
		output  *Chain
		pkt     Packet
		verdict string
		handle  int    // deciding rule of the reply
		policy  string // or its chain's policy
		reason  string // part of the top-level reason
	}{
		{
			name:    "output policy drop, nothing for established",
			output:  outputChain(0, "drop", rule(5, accept, dport(22))),
			pkt:     tcpTo("10.0.0.1", 8080),
			verdict: Drop, policy: "drop",
			reason: "the reply (SYN-ACK) to 10.0.0.2 is dropped by inet filter output policy drop",
		},
		{
			name:    "output accepts established",
			output:  outputChain(0, "drop", rule(5, accept, established)),
			pkt:     tcpTo("10.0.0.1", 8080),
			verdict: Accept, handle: 5,
		},
		{
			name:    "ports are swapped: tcp sport is the service's port",
			output:  outputChain(0, "drop", rule(5, accept, dport(8080)), rule(6, accept, sport(8080))),
			pkt:     tcpTo("10.0.0.1", 8080),
			verdict: Accept, handle: 6,
		},
		{
			name:    "addresses are swapped: ip daddr is the client",
			output:  outputChain(0, "accept", rule(5, drop, Match{Field: FieldDaddr, Prefixes: []netip.Prefix{pfx("10.0.0.2/32")}})),
			pkt:     tcpTo("10.0.0.1", 8080),
			verdict: Drop, handle: 5,
		},
		{
			name:    "a rejected reply answers the host, not the client",
			output:  outputChain(0, "accept", rule(5, rejectReset, sport(8080))),
			pkt:     tcpTo("10.0.0.1", 8080),
			verdict: Reject, handle: 5,
			reason: "the reply (SYN-ACK) to 10.0.0.2 is rejected with tcp reset by inet filter output handle 5: rule (the reject answers the reply's sender",
		},
		{
			name:    "UDP: the reply datagram",
			output:  outputChain(0, "drop"),
			pkt:     Packet{Src: addr("10.0.0.2"), Dst: addr("10.0.0.1"), Proto: ProtoUDP, SPort: 40000, DPort: 53},
			verdict: Drop, policy: "drop",
			reason: "the reply datagram to 10.0.0.2 is dropped",
		},
		{
			name:    "ICMP has no reply to judge",
			output:  outputChain(0, "drop"),
			pkt:     Packet{Src: addr("10.0.0.2"), Dst: addr("10.0.0.1"), Proto: ProtoICMP, ICMPType: 8},
			verdict: Accept,
		},
		{
			name: "ct status of the first reply: confirmed and seen-reply, not assured",
			output: outputChain(0, "drop",
				rule(5, drop, Match{Field: FieldCTStatus, Names: []string{"assured"}}),
				rule(6, accept, Match{Field: FieldCTStatus, Names: []string{"seen-reply"}}, Match{Field: FieldCTStatus, Names: []string{"confirmed"}})),
			pkt:     tcpTo("10.0.0.1", 8080),
			verdict: Accept, handle: 6,
		},
		{
			// Locally made packets have no input interface: iifname is "".
			name:    "no input interface in output",
			output:  outputChain(0, "drop", rule(5, drop, Match{Field: FieldIIF, Names: []string{"lo"}}), rule(6, accept, Match{Field: FieldIIF, Negate: true, Names: []string{"lo"}})),
			pkt:     tcpTo("10.0.0.1", 8080),
			verdict: Accept, handle: 6,
		},
		{
			name:    "output interface is the route back to the client",
			output:  outputChain(0, "drop", rule(5, accept, Match{Field: FieldOIF, Names: []string{"eth0"}})),
			pkt:     tcpTo("10.0.0.1", 8080),
			verdict: Accept, handle: 5,
		},
		{
			// A chain before conntrack (-200) sees the reply without its
			// connection: ct state invalid, so established does not match.
			name:    "chain before conntrack",
			output:  outputChain(-300, "drop", rule(5, accept, established)),
			pkt:     tcpTo("10.0.0.1", 8080),
			verdict: Drop, policy: "drop",
		},
		{
			name:    "chain before conntrack: ct state invalid",
			output:  outputChain(-300, "accept", rule(5, drop, Match{Field: FieldCTState, Names: []string{"invalid"}})),
			pkt:     tcpTo("10.0.0.1", 8080),
			verdict: Drop, handle: 5,
		},
		{
			name:    "a refused SYN has no reply",
			output:  outputChain(0, "drop"),
			pkt:     tcpTo("10.0.0.1", 9090),
			verdict: Drop, policy: "drop",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			d := walked(t, NewEvaluator(&Ruleset{Tables: []*Table{nftTable(input, tt.output)}}, server), tt.pkt)
			if d.Verdict != tt.verdict {
				t.Fatalf("verdict %s, want %s (decision %+v, reply %+v)", d.Verdict, tt.verdict, d, d.Reply)
			}
			// Blocked, the reply's rule decides; accepted, it is the
			// reply's own.
			ref := d.Rule
			if d.Verdict == Accept && d.Reply != nil {
				ref = d.Reply.Rule
			}
			if tt.handle != 0 && (ref == nil || ref.Handle != tt.handle) {
				t.Errorf("deciding rule %+v, want handle %d", ref, tt.handle)
			}
			if tt.policy != "" && (ref == nil || ref.Policy != tt.policy) {
				t.Errorf("deciding rule %+v, want policy %s", ref, tt.policy)
			}
			if !strings.Contains(d.Reason, tt.reason) {
				t.Errorf("reason %q, want it to contain %q", d.Reason, tt.reason)
			}
			if tt.pkt.DPort == 9090 || tt.pkt.Proto == ProtoICMP {
				if d.Reply != nil {
					t.Errorf("reply judged: %+v", d.Reply)
				}
				return
			}
			// The original's trace stays the SYN's; the reply has its own.
			if len(d.Trace) != 1 || d.Trace[0].Hook != HookInput || d.Trace[0].Verdict != Accept {
				t.Errorf("trace %+v, want the input chain's accept only", d.Trace)
			}
			r := d.Reply
			if r == nil || len(r.Trace) != 1 || r.Trace[0].Hook != HookOutput || r.OIF != "eth0" {
				t.Fatalf("reply %+v, want one step in output, leaving by eth0", r)
			}
			if d.ReplyBlocked() != (tt.verdict != Accept) {
				t.Errorf("ReplyBlocked() = %v", d.ReplyBlocked())
			}
			if tt.verdict != Accept && d.Hook != HookOutput {
				t.Errorf("hook %q, want output", d.Hook)
			}
		})
	}
}

// A reply to a client on the host itself comes back over lo: through
// prerouting and input, where an input chain must let it in.
func TestReplyToTheHostItself(t *testing.T) {
	self := Packet{Src: addr("10.0.0.1"), Dst: addr("10.0.0.1"), Proto: ProtoTCP, SPort: 40000, DPort: 8080}
	only := nftTable(inputChain("drop", rule(1, accept, dport(8080))))
	d := walked(t, NewEvaluator(&Ruleset{Tables: []*Table{only}}, server), self)
	if d.Verdict != Drop || d.Hook != HookInput || d.Reply == nil || d.Reply.OIF != "lo" {
		t.Fatalf("reply over lo into an input chain that only opens 8080: %+v, reply %+v", d, d.Reply)
	}
	lo := nftTable(inputChain("drop", rule(1, accept, dport(8080)), rule(2, accept, Match{Field: FieldIIF, Names: []string{"lo"}})))
	if d := walked(t, NewEvaluator(&Ruleset{Tables: []*Table{lo}}, server), self); d.Verdict != Accept || d.Reply.Rule.Handle != 2 {
		t.Fatalf("iif lo accept: %+v, reply %+v", d, d.Reply)
	}
	// Over lo the packet has its connection before prerouting's
	// conntrack hook: a chain at -300 sees it established.
	raw := nftTable(inputChain("drop", rule(1, accept, dport(8080)), rule(2, accept, established)),
		&Chain{Name: "raw", Type: "filter", Hook: HookPrerouting, Priority: -300, Policy: "accept", Rules: []*Rule{
			rule(3, drop, Match{Field: FieldCTState, Names: []string{"invalid"}}),
		}})
	if d := walked(t, NewEvaluator(&Ruleset{Tables: []*Table{raw}}, server), self); d.Verdict != Accept || d.Reply.Rule.Handle != 2 {
		t.Fatalf("raw prerouting over lo: %+v, reply %+v", d, d.Reply)
	}
}

// No route back to the client: the reply's output interface is unknown,
// so only rules that test it are undecidable.
func TestReplyUnknownEgress(t *testing.T) {
	h := &Host{Interfaces: server.Interfaces, Routes: []Route{{Dst: pfx("10.0.0.0/24"), Dev: "eth0"}}}
	far := Packet{Src: addr("192.0.2.9"), Dst: addr("10.0.0.1"), Proto: ProtoTCP, SPort: 40000, DPort: 80}
	est := nftTable(inputChain("accept"), outputChain(0, "drop", rule(1, accept, established)))
	if d := walked(t, NewEvaluator(&Ruleset{Tables: []*Table{est}}, h), far); d.Verdict != Accept {
		t.Errorf("established accept: %+v", d)
	}
	oif := nftTable(inputChain("accept"), outputChain(0, "drop", rule(1, accept, Match{Field: FieldOIF, Names: []string{"eth0"}})))
	d := walked(t, NewEvaluator(&Ruleset{Tables: []*Table{oif}}, h), far)
	if d.Verdict != Indeterminate || !strings.Contains(d.Reason, "the reply (SYN-ACK) to 192.0.2.9 cannot be decided: no route back to 192.0.2.9") {
		t.Errorf("oif rule: %+v", d)
	}
}

// The reply of a DNATed (Docker-published) connection comes back from the
// container through prerouting, forward and postrouting. Its source is
// the container's until the NAT core restores the published address at
// srcnat (100) in postrouting.
func TestReplyForwardedFromContainer(t *testing.T) {
	nat := &Table{Backend: BackendIptablesNft, Family: FamilyIP, Name: "nat", Chains: []*Chain{
		{Name: "PREROUTING", Type: "nat", Hook: HookPrerouting, Priority: -100, Policy: "accept", Rules: []*Rule{
			{Number: 1, Matches: []Match{dport(8080)}, Verdict: Verdict{Kind: VerdictDNAT, NATAddr: addr("172.17.0.2"), NATPort: 80}},
		}},
	}}
	forward := func(rules ...*Rule) *Table {
		rules = append([]*Rule{
			{Text: "-A FORWARD -o docker0 -j ACCEPT", Matches: []Match{{Field: FieldOIF, Names: []string{"docker0"}}}, Verdict: accept},
		}, rules...)
		for i, r := range rules {
			r.Number = i + 1
		}
		return &Table{Backend: BackendIptablesNft, Family: FamilyIP, Name: "filter", Chains: []*Chain{
			{Name: "FORWARD", Type: "filter", Hook: HookForward, Policy: "drop", Rules: rules},
		}}
	}
	pkt := tcpTo("10.0.0.1", 8080)

	// FORWARD lets the SYN to docker0 through, nothing lets the SYN-ACK
	// back: the port is unreachable.
	d := walked(t, NewEvaluator(&Ruleset{Tables: []*Table{nat, forward()}}, server), pkt)
	if d.Verdict != Drop || d.Hook != HookForward || d.Rule == nil || d.Rule.Chain != "FORWARD" || d.Rule.Policy != "drop" {
		t.Fatalf("no rule for the reply: %+v", d)
	}
	if !strings.Contains(d.Reason, "the reply (SYN-ACK) to 10.0.0.2 is dropped by ip filter FORWARD policy drop in forward") {
		t.Errorf("reason %q", d.Reason)
	}
	if d.DNATAddr != addr("172.17.0.2") || d.OIF != "docker0" || len(d.Trace) != 2 {
		t.Errorf("the original's facts and trace must stay: %+v", d)
	}
	r := d.Reply
	if r == nil || r.IIF != "docker0" || r.OIF != "eth0" || len(r.Trace) != 1 || r.Trace[0].Hook != HookForward {
		t.Fatalf("reply %+v, want from docker0 to eth0 through forward", r)
	}

	// Established accepted: reachable.
	est := &Rule{Text: "-A FORWARD -m conntrack --ctstate RELATED,ESTABLISHED -j ACCEPT", Matches: []Match{established}, Verdict: accept}
	if d := walked(t, NewEvaluator(&Ruleset{Tables: []*Table{nat, forward(est)}}, server), pkt); d.Verdict != Accept || d.Reply.Rule.Number != 2 {
		t.Fatalf("established accepted: %+v, reply %+v", d, d.Reply)
	}

	// Forward sees the container's address and port, not the published
	// ones; the ct original tuple is the published one.
	fromCtr := func(src string, port uint32) *Rule {
		return &Rule{Matches: []Match{{Field: FieldSaddr, Prefixes: []netip.Prefix{pfx(src)}}, sport(port)}, Verdict: accept}
	}
	if d := walked(t, NewEvaluator(&Ruleset{Tables: []*Table{nat, forward(fromCtr("10.0.0.1/32", 8080))}}, server), pkt); d.Verdict != Drop {
		t.Errorf("forward matched the published address: %+v", d.Reply)
	}
	if d := walked(t, NewEvaluator(&Ruleset{Tables: []*Table{nat, forward(fromCtr("172.17.0.2/32", 80))}}, server), pkt); d.Verdict != Accept {
		t.Errorf("forward did not match the container's address: %+v", d.Reply)
	}
	origPort := &Rule{Matches: []Match{{Field: FieldCTOrigDport, Ranges: ports(8080)}, {Field: FieldCTStatus, Names: []string{"dnat"}}}, Verdict: accept}
	if d := walked(t, NewEvaluator(&Ruleset{Tables: []*Table{nat, forward(origPort)}}, server), pkt); d.Verdict != Accept {
		t.Errorf("ct original proto-dst / ct status dnat in the reply: %+v", d.Reply)
	}

	// Postrouting: before srcnat the container's source, after it the
	// published one.
	post := func(prio int) *Table {
		return &Table{Backend: BackendNftables, Family: FamilyIP, Name: "post", Chains: []*Chain{
			{Name: "post", Type: "filter", Hook: HookPostrouting, Priority: prio, Policy: "accept", Rules: []*Rule{
				rule(1, drop, Match{Field: FieldSaddr, Prefixes: []netip.Prefix{pfx("172.17.0.2/32")}}, sport(80)),
			}},
		}}
	}
	if d := walked(t, NewEvaluator(&Ruleset{Tables: []*Table{nat, forward(est), post(50)}}, server), pkt); d.Verdict != Drop || d.Hook != HookPostrouting {
		t.Errorf("postrouting at 50 sees the container: %+v", d)
	}
	if d := walked(t, NewEvaluator(&Ruleset{Tables: []*Table{nat, forward(est), post(150)}}, server), pkt); d.Verdict != Accept {
		t.Errorf("postrouting at 150 sees the published address: %+v", d.Reply)
	}
	// At srcnat itself: registered after the NAT core (listed after the
	// first nat chain), it runs first.
	if d := walked(t, NewEvaluator(&Ruleset{Tables: []*Table{nat, forward(est), post(100)}}, server), pkt); d.Verdict != Drop {
		t.Errorf("postrouting at 100 registered after the NAT core: %+v", d.Reply)
	}
	if d := walked(t, NewEvaluator(&Ruleset{Tables: []*Table{post(100), nat, forward(est)}}, server), pkt); d.Verdict != Accept {
		t.Errorf("postrouting at 100 registered before the NAT core: %+v", d.Reply)
	}

	// A raw prerouting chain sees the reply before conntrack.
	raw := &Table{Backend: BackendIptablesNft, Family: FamilyIP, Name: "raw", Chains: []*Chain{
		{Name: "PREROUTING", Type: "filter", Hook: HookPrerouting, Priority: -300, Policy: "accept", Rules: []*Rule{
			{Number: 1, Matches: []Match{{Field: FieldIIF, Names: []string{"docker0"}}, {Field: FieldCTState, Names: []string{"invalid"}}}, Verdict: drop},
		}},
	}}
	if d := walked(t, NewEvaluator(&Ruleset{Tables: []*Table{nat, forward(est), raw}}, server), pkt); d.Verdict != Drop || d.Hook != HookPrerouting || d.Rule.Table != "raw" {
		t.Errorf("raw PREROUTING before conntrack: %+v", d)
	}
}

// A redirected (locally DNATed) connection: output sees the port the
// service listens on, postrouting after srcnat the one the client used.
func TestReplyRedirected(t *testing.T) {
	nat := &Table{Backend: BackendNftables, Family: FamilyIP, Name: "nat", Chains: []*Chain{
		{Name: "pre", Type: "nat", Hook: HookPrerouting, Priority: -100, Policy: "accept", Rules: []*Rule{
			rule(1, Verdict{Kind: VerdictRedirect, NATPort: 80}, dport(8080)),
		}},
	}}
	out := func(port uint32) *Table {
		return nftTable(outputChain(0, "drop", rule(2, accept, sport(port))))
	}
	if d := walked(t, NewEvaluator(&Ruleset{Tables: []*Table{nat, out(80)}}, server), tcpTo("10.0.0.1", 8080)); d.Verdict != Accept {
		t.Errorf("output sport 80: %+v, reply %+v", d, d.Reply)
	}
	if d := walked(t, NewEvaluator(&Ruleset{Tables: []*Table{nat, out(8080)}}, server), tcpTo("10.0.0.1", 8080)); d.Verdict != Drop {
		t.Errorf("output sport 8080: %+v, reply %+v", d, d.Reply)
	}
	post := &Table{Backend: BackendNftables, Family: FamilyIP, Name: "post", Chains: []*Chain{
		{Name: "post", Type: "filter", Hook: HookPostrouting, Priority: 200, Policy: "drop", Rules: []*Rule{rule(3, accept, sport(8080))}},
	}}
	if d := walked(t, NewEvaluator(&Ruleset{Tables: []*Table{nat, post}}, server), tcpTo("10.0.0.1", 8080)); d.Verdict != Accept {
		t.Errorf("postrouting at 200 sport 8080: %+v, reply %+v", d, d.Reply)
	}
}

// A reject's answer (the TCP reset or ICMP error) is a packet the host
// makes: it crosses output and postrouting, related to the connection
// even in chains before conntrack (the reject attaches it). When it is
// stopped the verdict stays reject but the client sees no answer.
func TestRejectAnswer(t *testing.T) {
	related := Match{Field: FieldCTState, Names: []string{"related"}}
	invalid := Match{Field: FieldCTState, Names: []string{"invalid"}}
	icmp := Match{Field: FieldL4Proto, Ranges: ports(uint32(ProtoICMP))}
	resetIn := inputChain("accept", rule(1, rejectReset, dport(8080)))
	unreachIn := inputChain("accept", rule(1, Verdict{Kind: VerdictReject, Reject: "icmp port-unreachable"}, dport(8080)))
	rawPre := func(rules ...*Rule) *Chain {
		return &Chain{Name: "raw", Type: "filter", Hook: HookPrerouting, Priority: -300, Policy: "accept", Rules: rules}
	}
	tests := []struct {
		name   string
		chains []*Chain
		seen   string
		reason string
	}{
		{"output drops the reset", []*Chain{resetIn, outputChain(0, "drop")}, Drop,
			"the tcp reset it answers with is dropped by inet filter output policy drop, so the client sees no answer"},
		{"output accepts related", []*Chain{resetIn, outputChain(0, "drop", rule(5, accept, related))}, Reject, ""},
		{"the reset leaves from the service's port", []*Chain{resetIn, outputChain(0, "drop", rule(5, accept, sport(8080)))}, Reject, ""},
		{"related even before conntrack", []*Chain{resetIn, outputChain(-300, "accept", rule(5, drop, related))}, Drop, "dropped by inet filter output handle 5"},
		{"the ICMP error", []*Chain{unreachIn, outputChain(0, "accept", rule(5, drop, sport(8080)), rule(6, drop, icmp))}, Drop,
			"the icmp port-unreachable it answers with is dropped by inet filter output handle 6"},
		{"rejected before conntrack: the answer has no connection", []*Chain{rawPre(rule(1, rejectReset, dport(8080))),
			outputChain(0, "accept", rule(5, drop, related), rule(6, drop, invalid))}, Drop, "handle 6"},
		{"rejected before conntrack, output lets invalid through", []*Chain{rawPre(rule(1, rejectReset, dport(8080))),
			outputChain(0, "accept", rule(5, drop, related))}, Reject, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			d := walked(t, NewEvaluator(&Ruleset{Tables: []*Table{nftTable(tt.chains...)}}, server), tcpTo("10.0.0.1", 8080))
			if d.Verdict != Reject || d.Rule == nil || d.Rule.Handle != 1 || d.Answer == nil || d.Reply != nil {
				t.Fatalf("decision %+v, answer %+v: want the reject of handle 1 with its answer judged", d, d.Answer)
			}
			if got := d.Seen(); got != tt.seen {
				t.Errorf("the client sees %s, want %s (answer %+v)", got, tt.seen, d.Answer)
			}
			if d.AnswerBlocked() != (tt.seen == Drop) {
				t.Errorf("AnswerBlocked() = %v", d.AnswerBlocked())
			}
			if !strings.Contains(d.Reason, tt.reason) {
				t.Errorf("reason %q, want it to contain %q", d.Reason, tt.reason)
			}
		})
	}

	// A forwarding host without a route answers ICMP net-unreachable,
	// through output too.
	h := *server
	h.Routes = []Route{{Dst: pfx("10.0.0.0/24"), Dev: "eth0"}}
	e := NewEvaluator(&Ruleset{Tables: []*Table{nftTable(outputChain(0, "drop"))}}, &h)
	if d := walked(t, e, tcpTo("192.0.2.1", 80)); d.Verdict != Reject || d.Hook != "routing" || d.Seen() != Drop ||
		!strings.Contains(d.Reason, "no route to 192.0.2.1; the icmp net-unreachable it answers with is dropped") {
		t.Errorf("no route, output drop: %+v (seen %s)", d, d.Seen())
	}
}

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
				&Rule{Handle: 1, SetMark: &mark},
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
			d := NewEvaluator(&Ruleset{Tables: tt.tables}, &h).Evaluate(tt.pkt)
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
		}},
		{Name: "DOCKER-USER", Rules: []*Rule{
			{Number: 1, Text: "-A DOCKER-USER -s 10.0.0.128/25 -j DROP", Matches: []Match{{Field: FieldSaddr, Prefixes: []netip.Prefix{pfx("10.0.0.128/25")}}}, Verdict: drop},
			{Number: 2, Verdict: Verdict{Kind: VerdictReturn}},
		}},
	}}
	e := NewEvaluator(&Ruleset{Tables: []*Table{nat, filter}}, server)

	d := e.Evaluate(tcpTo("10.0.0.1", 8080))
	if d.Verdict != Accept || d.Hook != HookForward || d.OIF != "docker0" || d.DNATAddr != addr("172.17.0.2") || d.DNATPort != 80 {
		t.Fatalf("published port: %+v", d)
	}
	if d.Rule == nil || d.Rule.Number != 2 || d.Rule.Chain != "FORWARD" {
		t.Errorf("deciding rule %+v, want FORWARD #2", d.Rule)
	}
	d = e.Evaluate(Packet{Src: addr("10.0.0.200"), Dst: addr("10.0.0.1"), Proto: ProtoTCP, DPort: 8080})
	if d.Verdict != Drop || d.Rule == nil || d.Rule.Chain != "DOCKER-USER" || d.Rule.Number != 1 {
		t.Fatalf("DOCKER-USER drop: %+v", d)
	}
	// Not published: INPUT's policy decides.
	d = e.Evaluate(tcpTo("10.0.0.1", 9090))
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
	if d := e.Evaluate(tcpTo("10.0.0.1", 80)); d.Verdict != Drop || d.Rule.Handle != 2 {
		t.Fatalf("got %+v, want the earlier saddr drop", d)
	}
	if d := e.Evaluate(tcpTo("10.0.0.1", 5)); d.Verdict != Accept || d.Rule.Handle != 1 {
		t.Fatalf("got %+v, want the earlier dport accept", d)
	}
}

func TestSourceSamples(t *testing.T) {
	tbl := nftTable(inputChain("drop",
		rule(1, accept, Match{Field: FieldSaddr, Prefixes: []netip.Prefix{pfx("10.1.2.0/24")}})))
	e := NewEvaluator(&Ruleset{Tables: []*Table{tbl}}, server)
	got, trunc := e.SourceSamples(pfx("10.1.0.0/16"), 0)
	want := []netip.Addr{addr("10.1.0.0"), addr("10.1.2.0"), addr("10.1.3.0")}
	if trunc || len(got) != len(want) {
		t.Fatalf("samples %v, want %v", got, want)
	}
	for i := range want {
		if got[i] != want[i] {
			t.Fatalf("samples %v, want %v", got, want)
		}
	}
	if _, trunc := e.SourceSamples(pfx("10.1.0.0/16"), 2); !trunc {
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
	if d := e.Evaluate(tcpTo("10.0.0.1", 8080)); d.Verdict != Accept || d.Rule.Handle != 2 || d.DNATPort != 80 {
		t.Errorf("redirected packet: %+v, want accepted by ct status dnat", d)
	}
	if d := e.Evaluate(tcpTo("10.0.0.1", 9090)); d.Verdict != Drop {
		t.Errorf("packet without nat: %+v, want the policy's drop", d)
	}
}

// A source with no route back has an unknown ingress interface: rules on
// other interfaces cannot be decided, "iif lo" still can.
func TestUnknownIngress(t *testing.T) {
	h := &Host{Interfaces: server.Interfaces, Routes: []Route{{Dst: pfx("10.0.0.0/24"), Dev: "eth0"}}}
	lo := nftTable(inputChain("drop", rule(1, accept, Match{Field: FieldIIF, Names: []string{"lo"}}), rule(2, accept, dport(80))))
	if d := NewEvaluator(&Ruleset{Tables: []*Table{lo}}, h).Evaluate(tcpTo("10.0.0.1", 80)); d.Verdict != Accept {
		t.Errorf("routed source: %+v", d)
	}
	far := Packet{Src: addr("192.0.2.9"), Dst: addr("10.0.0.1"), Proto: ProtoTCP, DPort: 80}
	if d := NewEvaluator(&Ruleset{Tables: []*Table{lo}}, h).Evaluate(far); d.Verdict != Accept || d.Rule.Handle != 2 {
		t.Errorf("unrouted source past iif lo: %+v", d)
	}
	eth := nftTable(inputChain("drop", rule(1, accept, Match{Field: FieldIIF, Names: []string{"eth0"}})))
	if d := NewEvaluator(&Ruleset{Tables: []*Table{eth}}, h).Evaluate(far); d.Verdict != Indeterminate || !strings.Contains(d.Reason, "no route back to 192.0.2.9") {
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
	if d := NewEvaluator(rs, server).Evaluate(tcpTo("10.0.0.1", 8080)); d.Verdict != Drop || d.Hook != "routing" {
		t.Errorf("route_localnet off: %+v, want a martian drop", d)
	}
	h := *server
	h.RouteLocalnet = []string{"eth0"}
	if d := NewEvaluator(rs, &h).Evaluate(tcpTo("10.0.0.1", 8080)); d.Verdict != Accept {
		t.Errorf("route_localnet on eth0: %+v, want accepted", d)
	}
}

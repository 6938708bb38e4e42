package runner

import (
	"fmt"
	"net/netip"
	"strings"
	"testing"

	"github.com/portcheck/portcheck/config"
	"github.com/portcheck/portcheck/providers"
	"github.com/portcheck/portcheck/providers/firewall"
	"github.com/portcheck/portcheck/providers/firewall/netfilter"
)

// A host with eth0 10.0.0.1/24 and a docker0 bridge, forwarding on.
var replyHost = &firewall.Host{
	Interfaces: []firewall.Interface{
		{Name: "lo", Addrs: []netip.Prefix{netip.MustParsePrefix("127.0.0.1/8")}},
		{Name: "eth0", Addrs: []netip.Prefix{netip.MustParsePrefix("10.0.0.1/24")}},
		{Name: "docker0", Addrs: []netip.Prefix{netip.MustParsePrefix("172.17.0.1/16")}},
	},
	Routes: []firewall.Route{
		{Dst: netip.MustParsePrefix("10.0.0.0/24"), Dev: "eth0"},
		{Dst: netip.MustParsePrefix("172.17.0.0/16"), Dev: "docker0"},
	},
	Forwarding4: true,
}

func fwRule(n int, text string, v string, ms ...firewall.Match) *firewall.Rule {
	return &firewall.Rule{Handle: n, Text: text, Matches: ms, Verdict: firewall.Verdict{Kind: v}}
}

func iptRule(n int, text string, v firewall.Verdict, ms ...firewall.Match) *firewall.Rule {
	return &firewall.Rule{Number: n, Text: text, Matches: ms, Verdict: v}
}

var (
	tcp8080     = firewall.Match{Field: firewall.FieldDport, Proto: firewall.ProtoTCP, Ranges: []firewall.Range{{From: 8080, To: 8080}}}
	established = firewall.Match{Field: firewall.FieldCTState, Names: []string{"established", "related"}}
	fromDocker0 = firewall.Match{Field: firewall.FieldIIF, Names: []string{"docker0"}}
	toDocker0   = firewall.Match{Field: firewall.FieldOIF, Names: []string{"docker0"}}
	acceptV     = firewall.Verdict{Kind: firewall.VerdictAccept}
	dropV       = firewall.Verdict{Kind: firewall.VerdictDrop}
)

func nftFilter(chains ...*firewall.Chain) *firewall.Table {
	return &firewall.Table{Backend: firewall.BackendNftables, Family: firewall.FamilyInet, Name: "filter", Chains: chains}
}

// dockerTables publish 8080 -> 172.17.0.2:80 the way dockerd does (cut
// down): DNAT in nat PREROUTING, FORWARD policy DROP with DOCKER-USER
// first and an accept for traffic to docker0.
func dockerTables(user []*firewall.Rule, egress bool) []*firewall.Table {
	fwd := []*firewall.Rule{
		iptRule(1, "-A FORWARD -j DOCKER-USER", firewall.Verdict{Kind: firewall.VerdictJump, Chain: "DOCKER-USER"}),
		iptRule(2, "-A FORWARD -o docker0 -j ACCEPT", acceptV, toDocker0),
	}
	if egress {
		fwd = append(fwd, iptRule(3, "-A FORWARD -i docker0 ! -o docker0 -j ACCEPT", acceptV, fromDocker0,
			firewall.Match{Field: firewall.FieldOIF, Negate: true, Names: []string{"docker0"}}))
	}
	return []*firewall.Table{
		{Backend: firewall.BackendIptablesNft, Family: firewall.FamilyIP, Name: "nat", Chains: []*firewall.Chain{
			{Name: "PREROUTING", Type: "nat", Hook: firewall.HookPrerouting, Priority: -100, Policy: "accept", Rules: []*firewall.Rule{
				iptRule(1, "-A PREROUTING -p tcp --dport 8080 -j DNAT --to-destination 172.17.0.2:80",
					firewall.Verdict{Kind: firewall.VerdictDNAT, NATAddr: netip.MustParseAddr("172.17.0.2"), NATPort: 80}, tcp8080),
			}},
		}},
		{Backend: firewall.BackendIptablesNft, Family: firewall.FamilyIP, Name: "filter", Chains: []*firewall.Chain{
			{Name: "INPUT", Type: "filter", Hook: firewall.HookInput, Policy: "drop"},
			{Name: "FORWARD", Type: "filter", Hook: firewall.HookForward, Policy: "drop", Rules: fwd},
			{Name: "DOCKER-USER", Rules: append(user, iptRule(len(user)+1, "-A DOCKER-USER -j RETURN", firewall.Verdict{Kind: firewall.VerdictReturn}))},
		}},
	}
}

// The reply path in L2 results: an accepted SYN whose SYN-ACK is stopped
// fails as firewall_blocked, says that it is the reply, and hints at
// accepting established traffic where it is stopped, in the tool that
// owns that chain.
func TestEvalFirewallReply(t *testing.T) {
	input := &firewall.Chain{Name: "input", Type: "filter", Hook: firewall.HookInput, Policy: "drop",
		Rules: []*firewall.Rule{fwRule(3, "tcp dport 8080 accept", firewall.VerdictAccept, tcp8080)}}
	output := func(policy string, rules ...*firewall.Rule) *firewall.Chain {
		return &firewall.Chain{Name: "output", Type: "filter", Hook: firewall.HookOutput, Policy: policy, Rules: rules}
	}
	iptOutput := func(table string, prio int, policy string, rules ...*firewall.Rule) *firewall.Table {
		return &firewall.Table{Backend: firewall.BackendIptablesNft, Family: firewall.FamilyIP, Name: table, Chains: []*firewall.Chain{
			{Name: "OUTPUT", Type: "filter", Hook: firewall.HookOutput, Priority: prio, Policy: policy, Rules: rules},
		}}
	}
	tests := []struct {
		name    string
		tables  []*firewall.Table
		status  Status
		summary string
		hint    string
	}{
		{
			name:    "nft output policy drop",
			tables:  []*firewall.Table{nftFilter(input, output("drop"))},
			status:  StatusFail,
			summary: "tcp/8080 from 10.0.0.2 is accepted, but the reply is dropped by inet filter output policy drop",
			hint:    "nft insert rule inet filter output ct state established,related accept",
		},
		{
			name:    "nft output drop rule",
			tables:  []*firewall.Table{nftFilter(input, output("accept", fwRule(7, "ip daddr 10.0.0.0/24 drop", firewall.VerdictDrop)))},
			status:  StatusFail,
			summary: "but the reply is dropped by inet filter output handle 7: ip daddr 10.0.0.0/24 drop",
			hint:    "nft insert rule inet filter output position 7 ct state established,related accept",
		},
		{
			name:    "nft output accepts established",
			tables:  []*firewall.Table{nftFilter(input, output("drop", fwRule(5, "ct state established,related accept", firewall.VerdictAccept, established)))},
			status:  StatusPass,
			summary: "tcp/8080 from 10.0.0.2 is accepted by inet filter input handle 3",
		},
		{
			name:    "iptables OUTPUT policy DROP",
			tables:  []*firewall.Table{nftFilter(input), iptOutput("filter", 0, "drop")},
			status:  StatusFail,
			summary: "but the reply is dropped by ip filter OUTPUT policy drop",
			hint:    "iptables -I OUTPUT 1 -m conntrack --ctstate ESTABLISHED,RELATED -j ACCEPT",
		},
		{
			name: "iptables raw OUTPUT runs before conntrack",
			tables: []*firewall.Table{nftFilter(input), iptOutput("raw", -300, "accept",
				iptRule(1, "-A OUTPUT -m conntrack --ctstate INVALID -j DROP", dropV, firewall.Match{Field: firewall.FieldCTState, Names: []string{"invalid"}}))},
			status:  StatusFail,
			summary: "but the reply is dropped by ip raw OUTPUT #1",
			hint:    "iptables -t raw -I OUTPUT 1 -p tcp --sport 8080 -j ACCEPT",
		},
		{
			name:    "Docker FORWARD without a rule for the container's replies",
			tables:  dockerTables(nil, false),
			status:  StatusFail,
			summary: "but the reply is dropped by ip filter FORWARD policy drop",
			hint:    "iptables -I FORWARD 1 -m conntrack --ctstate ESTABLISHED,RELATED -j ACCEPT",
		},
		{
			name:    "Docker: the reply stopped in DOCKER-USER",
			tables:  dockerTables([]*firewall.Rule{iptRule(1, "-A DOCKER-USER -i docker0 -j DROP", dropV, fromDocker0)}, true),
			status:  StatusFail,
			summary: "but the reply is dropped by ip filter DOCKER-USER #1: -A DOCKER-USER -i docker0 -j DROP in forward",
			hint:    "iptables -I DOCKER-USER 1 -m conntrack --ctstate ESTABLISHED,RELATED -j ACCEPT",
		},
		{
			name:   "Docker published port",
			tables: dockerTables(nil, true),
			status: StatusPass,
		},
		{
			name: "a reject whose reset output drops",
			tables: []*firewall.Table{nftFilter(
				&firewall.Chain{Name: "input", Type: "filter", Hook: firewall.HookInput, Policy: "accept",
					Rules: []*firewall.Rule{{Handle: 3, Text: "tcp dport 8080 reject with tcp reset", Matches: []firewall.Match{tcp8080},
						Verdict: firewall.Verdict{Kind: firewall.VerdictReject, Reject: "tcp reset"}}}},
				output("drop"))},
			status:  StatusFail,
			summary: "is rejected (tcp reset) by inet filter input handle 3: tcp dport 8080 reject with tcp reset; the tcp reset it answers with is dropped by inet filter output policy drop, so the client sees no answer (a timeout)",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			snap := &netfilter.Snapshot{Manager: "nftables", Ruleset: firewall.Ruleset{Tables: tt.tables}, Host: replyHost}
			c := &Check{Layer: providers.LayerFirewall, Name: "firewall", Target: providers.Target{Address: netip.MustParseAddr("10.0.0.1"), Port: 8080, Protocol: "tcp"}}
			p := firewall.Packet{Src: netip.MustParseAddr("10.0.0.2"), Dst: netip.MustParseAddr("10.0.0.1"), Proto: firewall.ProtoTCP, SPort: ephemeralPort, DPort: 8080}
			r := evalFirewall(c, &config.Endpoint{}, snap, []JudgedPacket{{Packet: p, Decision: snap.Evaluator().Evaluate(p)}})
			t.Logf("%s: %s\nhint: %s", r.Status, r.Summary, r.Hint)
			if r.Status != tt.status {
				t.Fatalf("status %s (%s), want %s", r.Status, r.Summary, tt.status)
			}
			if tt.status == StatusFail && r.Cause != CauseFirewallBlocked {
				t.Errorf("cause %s, want %s", r.Cause, CauseFirewallBlocked)
			}
			if !strings.Contains(r.Summary, tt.summary) {
				t.Errorf("summary %q\nwant it to contain %q", r.Summary, tt.summary)
			}
			if !strings.Contains(r.Hint, tt.hint) {
				t.Errorf("hint %q\nwant it to contain %q", r.Hint, tt.hint)
			}
		})
	}
}

// Fix hints name the table and chain that decide on this host and run as
// printed in the host's namespace (issue 9, item 12; issue 10).
func TestFirewallHintsRunInTheHostsNamespace(t *testing.T) {
	input := func(policy string, rules ...*firewall.Rule) *firewall.Chain {
		return &firewall.Chain{Name: "INPUT", Type: "filter", Hook: firewall.HookInput, Policy: policy, Rules: rules}
	}
	ipt := &firewall.Table{Backend: firewall.BackendIptablesNft, Family: firewall.FamilyIP, Name: "filter", Chains: []*firewall.Chain{
		input("drop", iptRule(1, "-A INPUT -p tcp --dport 22 -j ACCEPT", acceptV,
			firewall.Match{Field: firewall.FieldDport, Proto: firewall.ProtoTCP, Ranges: []firewall.Range{{From: 22, To: 22}}}))}}
	fw4 := &firewall.Table{Backend: firewall.BackendNftables, Family: firewall.FamilyInet, Name: "fw4", Chains: []*firewall.Chain{
		{Name: "input", Type: "filter", Hook: firewall.HookInput, Policy: "accept", Rules: []*firewall.Rule{
			fwRule(12, "jump input_wan", firewall.VerdictJump)}},
		{Name: "input_wan", Rules: []*firewall.Rule{fwRule(40, "jump reject_from_wan", firewall.VerdictJump)}},
		{Name: "reject_from_wan", Rules: []*firewall.Rule{{Handle: 90, Text: `counter reject`, Verdict: firewall.Verdict{Kind: firewall.VerdictReject, Reject: "icmpx port-unreachable"}}}},
	}}
	fw4.Chains[0].Rules[0].Verdict.Chain = "input_wan"
	fw4.Chains[1].Rules[0].Verdict.Chain = "reject_from_wan"
	tests := []struct {
		name, netns, hint string
		tables            []*firewall.Table
	}{
		{"iptables policy, named namespace", "/run/netns/web", "ip netns exec web iptables -A INPUT -p tcp --dport 8080 -j ACCEPT", []*firewall.Table{ipt}},
		{"nft rule in a jumped-to chain, namespace by path", "/proc/1234/ns/net",
			"nsenter --net=/proc/1234/ns/net nft insert rule inet fw4 reject_from_wan position 90 tcp dport 8080 accept", []*firewall.Table{fw4}},
		{"this machine", "", "iptables -A INPUT -p tcp --dport 8080 -j ACCEPT", []*firewall.Table{ipt}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			snap := &netfilter.Snapshot{Manager: "nftables", Ruleset: firewall.Ruleset{Tables: tt.tables}, Host: replyHost}
			c := &Check{Layer: providers.LayerFirewall, Name: "firewall", Exec: providers.Exec{Netns: tt.netns},
				Target: providers.Target{Address: netip.MustParseAddr("10.0.0.1"), Port: 8080, Protocol: "tcp"}}
			p := firewall.Packet{Src: netip.MustParseAddr("10.0.0.2"), Dst: netip.MustParseAddr("10.0.0.1"), Proto: firewall.ProtoTCP, SPort: ephemeralPort, DPort: 8080}
			r := evalFirewall(c, &config.Endpoint{}, snap, []JudgedPacket{{Packet: p, Decision: snap.Evaluator().Evaluate(p)}})
			if r.Status != StatusFail || !strings.HasPrefix(r.Hint, tt.hint) {
				t.Errorf("status %s, hint %q\nwant it to start with %q", r.Status, r.Hint, tt.hint)
			}
		})
	}
}

// On an iptables host the INPUT hook also runs nat INPUT (policy accept):
// an accepted packet is credited to the filter chain that accepted it.
func TestFirewallAcceptedByTheFilterChain(t *testing.T) {
	tables := []*firewall.Table{
		{Backend: firewall.BackendIptablesNft, Family: firewall.FamilyIP, Name: "filter", Chains: []*firewall.Chain{
			{Name: "INPUT", Type: "filter", Hook: firewall.HookInput, Policy: "accept"}}},
		{Backend: firewall.BackendIptablesNft, Family: firewall.FamilyIP, Name: "nat", Chains: []*firewall.Chain{
			{Name: "INPUT", Type: "nat", Hook: firewall.HookInput, Priority: 100, Policy: "accept"}}},
	}
	snap := &netfilter.Snapshot{Manager: "iptables-nft", Ruleset: firewall.Ruleset{Tables: tables}, Host: replyHost}
	c := &Check{Layer: providers.LayerFirewall, Name: "firewall", Target: providers.Target{Address: netip.MustParseAddr("10.0.0.1"), Port: 8080, Protocol: "tcp"}}
	p := firewall.Packet{Src: netip.MustParseAddr("10.0.0.2"), Dst: netip.MustParseAddr("10.0.0.1"), Proto: firewall.ProtoTCP, SPort: ephemeralPort, DPort: 8080}
	r := evalFirewall(c, &config.Endpoint{}, snap, []JudgedPacket{{Packet: p, Decision: snap.Evaluator().Evaluate(p)}})
	if r.Status != StatusPass || !strings.Contains(r.Summary, "accepted by ip filter INPUT policy accept") {
		t.Errorf("%s: %s; want it accepted by ip filter INPUT policy accept", r.Status, r.Summary)
	}
}

// A declared 0.0.0.0/0 on a kube-proxy node splits only where rules that
// can see the endpoint's protocol and port draw lines: thousands of
// per-service rules do not cut the range for tcp/22.
func TestFirewallPacketsFilterBeforeSplitting(t *testing.T) {
	var svc, sep []*firewall.Rule
	chains := []*firewall.Chain{}
	for i := range 6000 {
		name := fmt.Sprintf("KUBE-SVC-%d", i)
		ip := netip.AddrFrom4([4]byte{172, 20, byte(i / 256), byte(i % 256)})
		svc = append(svc, iptRule(i+1, "-A KUBE-SERVICES -d "+ip.String()+"/32 -p tcp --dport 80 -j "+name, firewall.Verdict{Kind: firewall.VerdictJump, Chain: name},
			firewall.Match{Field: firewall.FieldDaddr, Prefixes: []netip.Prefix{netip.PrefixFrom(ip, 32)}},
			firewall.Match{Field: firewall.FieldDport, Proto: firewall.ProtoTCP, Ranges: []firewall.Range{{From: 80, To: 80}}}))
		pod := netip.AddrFrom4([4]byte{10, 244, byte(i / 256), byte(i % 256)})
		sep = []*firewall.Rule{iptRule(1, "-A "+name+" -s "+pod.String()+"/32 -j KUBE-MARK-MASQ", firewall.Verdict{Kind: firewall.VerdictJump, Chain: "KUBE-MARK-MASQ"},
			firewall.Match{Field: firewall.FieldSaddr, Prefixes: []netip.Prefix{netip.PrefixFrom(pod, 32)}})}
		chains = append(chains, &firewall.Chain{Name: name, Rules: sep})
	}
	chains = append(chains,
		&firewall.Chain{Name: "PREROUTING", Type: "nat", Hook: firewall.HookPrerouting, Priority: -100, Policy: "accept",
			Rules: []*firewall.Rule{iptRule(1, "-A PREROUTING -j KUBE-SERVICES", firewall.Verdict{Kind: firewall.VerdictJump, Chain: "KUBE-SERVICES"})}},
		&firewall.Chain{Name: "KUBE-SERVICES", Rules: svc},
		&firewall.Chain{Name: "KUBE-MARK-MASQ", Rules: []*firewall.Rule{{Number: 1, Text: "-A KUBE-MARK-MASQ -j MARK --set-xmark 0x4000/0x4000",
			MarkSet: &firewall.MarkOp{And: ^uint32(0x4000), Xor: 0x4000}}}})
	snap := &netfilter.Snapshot{Manager: "iptables-nft", Host: replyHost, Ruleset: firewall.Ruleset{Tables: []*firewall.Table{
		{Backend: firewall.BackendIptablesNft, Family: firewall.FamilyIP, Name: "nat", Chains: chains}}}}
	for _, tt := range []struct {
		port      int
		wantError bool
	}{{22, false}, {80, true}} {
		c := &Check{Layer: providers.LayerFirewall, Name: "firewall", Sources: netip.MustParsePrefix("0.0.0.0/0"),
			Target: providers.Target{Address: netip.MustParseAddr("10.0.0.1"), Port: tt.port, Protocol: "tcp"}}
		pkts, err := firewallPackets(nil, c, nil, snap.Evaluator())
		if (err != nil) != tt.wantError {
			t.Errorf("tcp/%d: %d packets, error %v; want an error: %v", tt.port, len(pkts), err, tt.wantError)
		}
		if err == nil && len(pkts) > 64 {
			t.Errorf("tcp/%d: %d stretches; the per-service rules should not split 0.0.0.0/0", tt.port, len(pkts))
		}
	}
}

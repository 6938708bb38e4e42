package report_test

import (
	"bytes"
	"encoding/json"
	"net/netip"
	"path/filepath"
	"testing"

	"github.com/portcheck/portcheck/internal/golden"
	"github.com/portcheck/portcheck/providers"
	"github.com/portcheck/portcheck/providers/firewall"
	"github.com/portcheck/portcheck/runner"
	"github.com/portcheck/portcheck/runner/report"
)

// explainHost has eth0 10.0.0.1/24, a container bridge docker0 and lo.
var explainHost = &firewall.Host{
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

func explainRuleset() *firewall.Ruleset {
	dport := func(p uint32) firewall.Match {
		return firewall.Match{Field: firewall.FieldDport, Proto: firewall.ProtoTCP, Ranges: []firewall.Range{{From: p, To: p}}}
	}
	ipt := func(n int, text string, v firewall.Verdict, ms ...firewall.Match) *firewall.Rule {
		return &firewall.Rule{Number: n, Text: text, Matches: ms, Verdict: v}
	}
	nft := func(h int, text string, v firewall.Verdict, ms ...firewall.Match) *firewall.Rule {
		return &firewall.Rule{Handle: h, Text: text, Matches: ms, Verdict: v}
	}
	accept, drop := firewall.Verdict{Kind: firewall.VerdictAccept}, firewall.Verdict{Kind: firewall.VerdictDrop}
	return &firewall.Ruleset{Tables: []*firewall.Table{
		{Backend: firewall.BackendIptablesNft, Family: firewall.FamilyIP, Name: "nat", Chains: []*firewall.Chain{
			{Name: "PREROUTING", Type: "nat", Hook: firewall.HookPrerouting, Priority: -100, Policy: "accept", Rules: []*firewall.Rule{
				ipt(1, "-A PREROUTING -m addrtype --dst-type LOCAL -j DOCKER", firewall.Verdict{Kind: firewall.VerdictJump, Chain: "DOCKER"},
					firewall.Match{Field: firewall.FieldDaddrType, Names: []string{"local"}}),
			}},
			{Name: "DOCKER", Rules: []*firewall.Rule{
				ipt(1, "-A DOCKER -i docker0 -j RETURN", firewall.Verdict{Kind: firewall.VerdictReturn}, firewall.Match{Field: firewall.FieldIIF, Names: []string{"docker0"}}),
				ipt(2, "-A DOCKER ! -i docker0 -p tcp -m tcp --dport 8080 -j DNAT --to-destination 172.17.0.2:80",
					firewall.Verdict{Kind: firewall.VerdictDNAT, NATAddr: netip.MustParseAddr("172.17.0.2"), NATPort: 80},
					firewall.Match{Field: firewall.FieldIIF, Negate: true, Names: []string{"docker0"}}, dport(8080)),
			}},
		}},
		{Backend: firewall.BackendIptablesNft, Family: firewall.FamilyIP, Name: "filter", Chains: []*firewall.Chain{
			{Name: "FORWARD", Type: "filter", Hook: firewall.HookForward, Policy: "drop", Rules: []*firewall.Rule{
				ipt(1, "-A FORWARD -j DOCKER-USER", firewall.Verdict{Kind: firewall.VerdictJump, Chain: "DOCKER-USER"}),
				ipt(2, "-A FORWARD -o docker0 -j ACCEPT", accept, firewall.Match{Field: firewall.FieldOIF, Names: []string{"docker0"}}),
				ipt(3, "-A FORWARD -i docker0 ! -o docker0 -j ACCEPT", accept, firewall.Match{Field: firewall.FieldIIF, Names: []string{"docker0"}},
					firewall.Match{Field: firewall.FieldOIF, Negate: true, Names: []string{"docker0"}}),
			}},
			{Name: "DOCKER-USER", Rules: []*firewall.Rule{
				ipt(1, "-A DOCKER-USER -s 10.0.0.128/25 -j DROP", drop, firewall.Match{Field: firewall.FieldSaddr, Prefixes: []netip.Prefix{netip.MustParsePrefix("10.0.0.128/25")}}),
				ipt(2, "-A DOCKER-USER -j RETURN", firewall.Verdict{Kind: firewall.VerdictReturn}),
			}},
		}},
		{Backend: firewall.BackendNftables, Family: firewall.FamilyInet, Name: "filter", Chains: []*firewall.Chain{
			{Name: "input", Type: "filter", Hook: firewall.HookInput, Policy: "drop", Rules: []*firewall.Rule{
				nft(4, "ct state established,related accept", accept, firewall.Match{Field: firewall.FieldCTState, Names: []string{"established", "related"}}),
				nft(5, "tcp dport { 22, 443 } accept", accept, firewall.Match{Field: firewall.FieldDport, Proto: firewall.ProtoTCP, Ranges: []firewall.Range{{From: 22, To: 22}, {From: 443, To: 443}}}),
				nft(6, "tcp dport 9090 reject with tcp reset", firewall.Verdict{Kind: firewall.VerdictReject, Reject: "tcp reset"}, dport(9090)),
				nft(7, "tcp dport 7070 numgen random mod 2 0 accept", accept, dport(7070), firewall.Match{Field: firewall.FieldRandom}),
				{Handle: 8, Text: "tcp dport 6060 ip ttl 64 accept", Matches: []firewall.Match{dport(6060)}, Unsupported: `match "ip ttl"`, Verdict: accept},
			}},
			{Name: "output", Type: "filter", Hook: firewall.HookOutput, Policy: "accept"},
		}},
	}}
}

// The text and JSON of explain on fixed walks (no lab): Docker's published
// port (DNAT, routing to forward, a jump and return, the reply with the
// NAT core's reverse translation), a reject and its answer, a random
// choice walked both ways, a construct not modelled, and a vantage host
// that could not be explained.
func TestExplainOutput(t *testing.T) {
	ev := firewall.NewEvaluator(explainRuleset(), explainHost)
	client, server := netip.MustParseAddr("10.0.0.2"), netip.MustParseAddr("10.0.0.1")
	var xs []runner.Explanation
	for _, port := range []int{8080, 9090, 7070, 6060} {
		p := firewall.Packet{Src: client, Dst: server, Proto: firewall.ProtoTCP, SPort: 40000, DPort: uint16(port)}
		var w firewall.Walk
		d := ev.Evaluate(p, firewall.RecordWalk(&w))
		xs = append(xs, runner.Explanation{Endpoint: "endpoint.web", From: "client", Server: "web", Executor: "netns:web",
			Target: providers.Target{Address: server, Port: port, Protocol: "tcp"}, Packet: &p, Decision: &d, Walk: &w, Manager: "iptables-nft"})
	}
	xs = append(xs, runner.Explanation{Endpoint: "endpoint.web", From: "v6client", Server: "web", Executor: "netns:web",
		Target: providers.Target{Address: server, Port: 8080, Protocol: "tcp"}, Error: "v6client: no IPv4 address to send from (remote host); give one with -source"})

	var text bytes.Buffer
	report.WriteExplain(&text, xs, report.Style{})
	golden.Compare(t, filepath.Join("testdata", "explain.txt"), text.Bytes())

	var js bytes.Buffer
	if err := report.WriteExplainJSON(&js, xs, 1); err != nil {
		t.Fatal(err)
	}
	golden.Compare(t, filepath.Join("testdata", "explain.json"), js.Bytes())
	var back report.ExplainReport
	if err := json.Unmarshal(js.Bytes(), &back); err != nil || len(back.Explanations) != len(xs) || back.Version != 1 {
		t.Fatalf("explain JSON does not read back: %v", err)
	}
	for i, x := range back.Explanations {
		if x.Walk == nil {
			continue
		}
		if v, _ := x.Walk.Seen(); v != xs[i].Decision.Seen() {
			t.Errorf("explanation %d: the walk read back ends in %s, the decision is %s", i, v, xs[i].Decision.Seen())
		}
	}
}

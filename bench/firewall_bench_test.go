package bench

import (
	"context"
	"fmt"
	"math/rand/v2"
	"net/netip"
	"runtime"
	"strings"
	"testing"

	"github.com/portcheck/portcheck/internal/lab"
	"github.com/portcheck/portcheck/providers/firewall"
	"github.com/portcheck/portcheck/providers/firewall/netfilter"
)

// bigRuleset builds a ruleset of n rules shaped like large real ones: a
// blocklist of single addresses (fail2ban, abuse feeds), per-network
// service rules, plain port openings, rules on a named set of sources, and
// 1% that fit no index (interface and ct state only) spread through, across an inet and an ip
// table with jumps into per-service chains.
func bigRuleset(n int, rng *rand.Rand) *firewall.Ruleset {
	addr := func() netip.Addr {
		return netip.AddrFrom4([4]byte{10, byte(rng.IntN(256)), byte(rng.IntN(256)), byte(rng.IntN(256))})
	}
	port := func() uint32 { return uint32(1 + rng.IntN(65535)) }
	set := &firewall.Set{Name: "admins", Type: "ipv4_addr"}
	for range 500 {
		set.Prefixes = append(set.Prefixes, netip.PrefixFrom(addr(), 24).Masked())
	}
	input := &firewall.Chain{Name: "input", Type: "filter", Hook: firewall.HookInput, Policy: "drop"}
	svc := &firewall.Chain{Name: "services"}
	tables := []*firewall.Table{
		{Backend: firewall.BackendNftables, Family: firewall.FamilyInet, Name: "filter", Chains: []*firewall.Chain{input, svc},
			Sets: map[string]*firewall.Set{"admins": set}},
	}
	legacy := &firewall.Chain{Name: "INPUT", Type: "filter", Hook: firewall.HookInput, Policy: "accept"}
	tables = append(tables, &firewall.Table{Backend: firewall.BackendIptablesLegacy, Family: firewall.FamilyIP, Name: "filter", Chains: []*firewall.Chain{legacy}})

	input.Rules = append(input.Rules,
		&firewall.Rule{Handle: 1, Matches: []firewall.Match{{Field: firewall.FieldCTState, Names: []string{"established", "related"}}}, Verdict: firewall.Verdict{Kind: firewall.VerdictAccept}},
		&firewall.Rule{Handle: 2, Matches: []firewall.Match{{Field: firewall.FieldIIF, Names: []string{"lo"}}}, Verdict: firewall.Verdict{Kind: firewall.VerdictAccept}},
		&firewall.Rule{Handle: 3, Verdict: firewall.Verdict{Kind: firewall.VerdictJump, Chain: "services"}},
	)
	for i := range n {
		var r *firewall.Rule
		switch k := rng.IntN(100); {
		case k < 40: // blocklist
			r = &firewall.Rule{Matches: []firewall.Match{{Field: firewall.FieldSaddr, Prefixes: []netip.Prefix{netip.PrefixFrom(addr(), 32)}}},
				Verdict: firewall.Verdict{Kind: firewall.VerdictDrop}}
		case k < 80: // service open to one network
			p := port()
			r = &firewall.Rule{Matches: []firewall.Match{
				{Field: firewall.FieldSaddr, Prefixes: []netip.Prefix{netip.PrefixFrom(addr(), 24).Masked()}},
				{Field: firewall.FieldDport, Proto: firewall.ProtoTCP, Ranges: []firewall.Range{{From: p, To: p}}},
			}, Verdict: firewall.Verdict{Kind: firewall.VerdictAccept}}
		case k < 94: // plain port
			p := port()
			r = &firewall.Rule{Matches: []firewall.Match{{Field: firewall.FieldDport, Proto: firewall.ProtoTCP, Ranges: []firewall.Range{{From: p, To: p}}}},
				Verdict: firewall.Verdict{Kind: firewall.VerdictAccept}}
		case k < 95: // no index fits: interface and conntrack state only
			r = &firewall.Rule{Matches: []firewall.Match{
				{Field: firewall.FieldIIF, Names: []string{"eth1"}},
				{Field: firewall.FieldCTState, Names: []string{"new"}},
			}, Verdict: firewall.Verdict{Kind: firewall.VerdictAccept}}
		case i%3 == 2: // iptables has no nft sets: a network on one interface
			r = &firewall.Rule{Matches: []firewall.Match{
				{Field: firewall.FieldSaddr, Prefixes: []netip.Prefix{netip.PrefixFrom(addr(), 16).Masked()}},
				{Field: firewall.FieldIIF, Names: []string{"eth1"}},
			}, Verdict: firewall.Verdict{Kind: firewall.VerdictAccept}}
		default: // sources from a named set, on one interface
			r = &firewall.Rule{Matches: []firewall.Match{
				{Field: firewall.FieldSaddr, Set: "admins"},
				{Field: firewall.FieldIIF, Names: []string{"eth1"}},
			}, Verdict: firewall.Verdict{Kind: firewall.VerdictAccept}}
		}
		switch i % 3 {
		case 0:
			r.Handle = 10 + i
			input.Rules = append(input.Rules, r)
		case 1:
			r.Handle = 10 + i
			svc.Rules = append(svc.Rules, r)
		default:
			r.Number = len(legacy.Rules) + 1
			legacy.Rules = append(legacy.Rules, r)
		}
	}
	return &firewall.Ruleset{Tables: tables}
}

var benchHost = &firewall.Host{
	Interfaces: []firewall.Interface{
		{Name: "lo", Addrs: []netip.Prefix{netip.MustParsePrefix("127.0.0.1/8")}},
		{Name: "eth0", Addrs: []netip.Prefix{netip.MustParsePrefix("10.255.255.1/8")}},
	},
	Routes: []firewall.Route{{Dst: netip.MustParsePrefix("10.0.0.0/8"), Dev: "eth0"}},
}

func benchPackets(n int, rng *rand.Rand) []firewall.Packet {
	out := make([]firewall.Packet, n)
	for i := range out {
		out[i] = firewall.Packet{
			Src:   netip.AddrFrom4([4]byte{10, byte(rng.IntN(256)), byte(rng.IntN(256)), byte(rng.IntN(256))}),
			Dst:   netip.MustParseAddr("10.255.255.1"),
			Proto: firewall.ProtoTCP, SPort: 40000, DPort: uint16(1 + rng.IntN(65535)),
		}
	}
	return out
}

// Target: 10,000 packet tuples against a 50,000-rule ruleset in under a
// second, compile included. Reports the heap the compiled evaluator holds.
func BenchmarkFirewallEvaluate10kPackets50kRules(b *testing.B) {
	rng := rand.New(rand.NewPCG(1, 2))
	rs := bigRuleset(50000, rng)
	pkts := benchPackets(10000, rng)
	var before, after runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&before)
	ev := firewall.NewEvaluator(rs, benchHost)
	runtime.GC()
	runtime.ReadMemStats(&after)
	compiled := float64(after.HeapAlloc-before.HeapAlloc) / (1 << 20)
	verdicts := map[string]int{}
	for _, p := range pkts {
		verdicts[ev.Evaluate(p).Verdict]++
	}
	if verdicts[firewall.Indeterminate] > 0 || verdicts[firewall.Accept] == 0 || verdicts[firewall.Drop] == 0 {
		b.Fatalf("implausible verdicts %v", verdicts)
	}
	b.ResetTimer()
	for b.Loop() {
		ev := firewall.NewEvaluator(rs, benchHost)
		for _, p := range pkts {
			ev.Evaluate(p)
		}
	}
	b.ReportMetric(compiled, "MB-compiled")
	runtime.KeepAlive(ev)
}

// Reading a host's filter end to end: nft -j and nft -a -s of a 50,000-rule
// ruleset in a lab namespace, parsed into the model, plus the routes.
// Needs root (it skips without), like the lab tests.
func BenchmarkFirewallRead50kRules(b *testing.B) {
	lab.Require(b, "ip", "nft")
	h := lab.New(b).Host("server")
	var rs strings.Builder
	rs.WriteString("table inet filter {\n  set admins {\n    type ipv4_addr\n    flags interval\n    elements = { 10.9.0.0/16, 192.168.0.0/24 }\n  }\n  chain input {\n    type filter hook input priority 0; policy drop;\n")
	rng := rand.New(rand.NewPCG(3, 4))
	for i := range 50000 {
		a := fmt.Sprintf("10.%d.%d.%d", rng.IntN(256), rng.IntN(256), rng.IntN(256))
		switch i % 3 {
		case 0:
			fmt.Fprintf(&rs, "    ip saddr %s drop\n", a)
		case 1:
			fmt.Fprintf(&rs, "    ip saddr %s/24 tcp dport %d accept\n", netip.PrefixFrom(netip.MustParseAddr(a), 24).Masked().Addr(), 1+rng.IntN(65535))
		default:
			fmt.Fprintf(&rs, "    ip saddr @admins tcp dport %d accept\n", 1024+rng.IntN(60000))
		}
	}
	rs.WriteString("  }\n}\n")
	h.NFT(rs.String())
	for b.Loop() {
		snap, err := netfilter.Read(context.Background(), h.Path())
		if err != nil {
			b.Fatal(err)
		}
		if n := len(snap.Ruleset.Tables[0].Chains[0].Rules); n != 50000 {
			b.Fatalf("read %d rules, want 50000", n)
		}
	}
}

// What explain costs: one packet's full walk (every rule of every chain it
// goes through tried and recorded, no index) against the 50,000-rule
// ruleset, compiled once. Evaluate without RecordWalk is the benchmark
// above, whose cost the option must not change.
func BenchmarkFirewallExplain50kRules(b *testing.B) {
	rng := rand.New(rand.NewPCG(1, 2))
	ev := firewall.NewEvaluator(bigRuleset(50000, rng), benchHost)
	pkts := benchPackets(100, rng)
	steps := 0
	b.ResetTimer()
	for i := 0; b.Loop(); i++ {
		var w firewall.Walk
		ev.Evaluate(pkts[i%len(pkts)], firewall.RecordWalk(&w))
		steps = len(w.Ways[0].Legs[0].Steps)
	}
	b.ReportMetric(float64(steps), "steps/walk")
}

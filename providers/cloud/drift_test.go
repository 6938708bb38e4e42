package cloud

import (
	"net/netip"
	"testing"

	"github.com/google/go-cmp/cmp"
)

func at(dir, proto string, ports PortRange, peer, policy string, prio int) *AtomicRule {
	return &AtomicRule{Direction: dir, Protocol: proto, Ports: ports, Peer: peer, Policy: policy, Priority: prio}
}

func TestAtomize(t *testing.T) {
	rules := []Rule{
		cidrRule("a", "sg", Ingress, ProtoTCP, p1(81), "10.0.0.0/8"),
		cidrRule("b", "sg", Ingress, ProtoTCP, p1(80), "10.0.0.0/8"),
		cidrRule("c", "sg", Ingress, ProtoTCP, p1(80), "10.0.0.0/8"), // duplicate
		cidrRule("d", "sg", Ingress, ProtoTCP, PortRange{85, 90}, "10.1.2.3/8"),
		cidrRule("e", "sg", Ingress, "-1", PortRange{-1, -1}, "::/0"),
		groupRule("f", "sg", Ingress, "6", PortRange{-1, -1}, "sg-2"),
		plRule("g", "sg", Egress, ProtoICMP, PortRange{8, -1}, "pl-1"),
	}
	got := Atomize(rules)
	want := []AtomicRule{
		*at(Egress, ProtoICMP, PortRange{8, -1}, "pl:pl-1", Accept, 0),
		*at(Ingress, ProtoAll, AllPorts, "cidr:::/0", Accept, 0),
		*at(Ingress, ProtoTCP, PortRange{80, 81}, "cidr:10.0.0.0/8", Accept, 0),
		*at(Ingress, ProtoTCP, PortRange{85, 90}, "cidr:10.0.0.0/8", Accept, 0),
		*at(Ingress, ProtoTCP, AllPorts, "sg:sg-2", Accept, 0),
	}
	if d := cmp.Diff(want, got); d != "" {
		t.Errorf("Atomize (-want +got):\n%s", d)
	}
	// Idempotent: rules rebuilt from the atoms atomize to the same.
	var again []Rule
	for _, a := range append(got, got...) {
		r := Rule{Direction: a.Direction, Protocol: a.Protocol, Ports: a.Ports, Policy: a.Policy, Priority: a.Priority}
		switch a.Peer[:3] {
		case "cid":
			r.Peer.CIDR = netip.MustParsePrefix(a.Peer[5:])
		case "pl:":
			r.Peer.PrefixList = a.Peer[3:]
		case "sg:":
			r.Peer.Group = a.Peer[3:]
		}
		again = append(again, r)
	}
	if d := cmp.Diff(got, Atomize(again)); d != "" {
		t.Errorf("Atomize not idempotent (-first +second):\n%s", d)
	}

	decl := AtomizeDeclared([]DeclaredRule{{
		Direction: Ingress, Protocol: ProtoTCP, Ports: PortRange{80, 81},
		CIDRs: []netip.Prefix{pfx("10.0.0.0/8"), pfx("192.168.0.0/16")}, PrefixLists: []string{"pl-1"}, Groups: []string{"sg-2"},
	}})
	wantDecl := []AtomicRule{
		*at(Ingress, ProtoTCP, PortRange{80, 81}, "cidr:10.0.0.0/8", Accept, 0),
		*at(Ingress, ProtoTCP, PortRange{80, 81}, "cidr:192.168.0.0/16", Accept, 0),
		*at(Ingress, ProtoTCP, PortRange{80, 81}, "pl:pl-1", Accept, 0),
		*at(Ingress, ProtoTCP, PortRange{80, 81}, "sg:sg-2", Accept, 0),
	}
	if d := cmp.Diff(wantDecl, decl); d != "" {
		t.Errorf("AtomizeDeclared (-want +got):\n%s", d)
	}
}

func awsGroup(rules ...Rule) *SecurityGroup {
	return &SecurityGroup{Provider: AWS, ID: "sg-1", Rules: rules}
}

func aliGroup(rules ...Rule) *SecurityGroup {
	return &SecurityGroup{Provider: Aliyun, ID: "sg-1", Type: "normal", Rules: rules}
}

func declTCP(ports PortRange, cidrs ...string) DeclaredRule {
	d := DeclaredRule{Direction: Ingress, Protocol: ProtoTCP, Ports: ports}
	for _, c := range cidrs {
		d.CIDRs = append(d.CIDRs, pfx(c))
	}
	return d
}

func defaultEgress() []Rule {
	return []Rule{
		cidrRule("sgr-e4", "sg-1", Egress, "-1", PortRange{-1, -1}, "0.0.0.0/0"),
		cidrRule("sgr-e6", "sg-1", Egress, "-1", PortRange{-1, -1}, "::/0"),
	}
}

func TestDiff(t *testing.T) {
	withPrio := func(d DeclaredRule, p int, policy string) DeclaredRule {
		d.Priority, d.Policy = p, policy
		return d
	}
	cases := []struct {
		name string
		g    *SecurityGroup
		d    DeclaredGroup
		want []Drift
	}{
		{
			name: "in sync",
			g:    awsGroup(cidrRule("r1", "sg-1", Ingress, ProtoTCP, p1(443), "0.0.0.0/0")),
			d:    DeclaredGroup{Provider: AWS, Rules: []DeclaredRule{declTCP(p1(443), "0.0.0.0/0")}},
		},
		{
			name: "grouped declaration equals the split actual rules",
			g: awsGroup(
				cidrRule("r1", "sg-1", Ingress, ProtoTCP, p1(80), "10.0.0.0/8"),
				cidrRule("r2", "sg-1", Ingress, ProtoTCP, p1(81), "10.0.0.0/8"),
				cidrRule("r3", "sg-1", Ingress, ProtoTCP, p1(80), "192.168.0.0/16"),
				cidrRule("r4", "sg-1", Ingress, ProtoTCP, p1(81), "192.168.0.0/16"),
				groupRule("r5", "sg-1", Ingress, ProtoTCP, PortRange{80, 81}, "sg-2"),
			),
			d: DeclaredGroup{Provider: AWS, Rules: []DeclaredRule{{
				Direction: Ingress, Protocol: ProtoTCP, Ports: PortRange{80, 81},
				CIDRs: []netip.Prefix{pfx("10.0.0.0/8"), pfx("192.168.0.0/16")}, Groups: []string{"sg-2"},
			}}},
		},
		{
			name: "missing",
			g:    awsGroup(),
			d:    DeclaredGroup{Provider: AWS, ID: "sg-1", Rules: []DeclaredRule{declTCP(p1(443), "0.0.0.0/0")}},
			want: []Drift{{Kind: DriftMissing, Direction: Ingress,
				Declared: at(Ingress, ProtoTCP, p1(443), "cidr:0.0.0.0/0", Accept, 0),
				Detail:   "declared rule ingress tcp 443 from cidr:0.0.0.0/0 accept is not in sg-1"}},
		},
		{
			name: "unexpected",
			g: awsGroup(
				cidrRule("r1", "sg-1", Ingress, ProtoTCP, p1(443), "0.0.0.0/0"),
				cidrRule("r2", "sg-1", Ingress, ProtoTCP, p1(22), "0.0.0.0/0"),
			),
			d: DeclaredGroup{Provider: AWS, Rules: []DeclaredRule{declTCP(p1(443), "0.0.0.0/0")}},
			want: []Drift{{Kind: DriftUnexpected, Direction: Ingress,
				Actual: at(Ingress, ProtoTCP, p1(22), "cidr:0.0.0.0/0", Accept, 0), RuleIDs: []string{"r2"},
				Detail: "rule ingress tcp 22 from cidr:0.0.0.0/0 accept (r2) is in sg-1 but not declared"}},
		},
		{
			name: "changed ports (set comparison: 80+81 actual vs 80-82 declared)",
			g: awsGroup(
				cidrRule("r1", "sg-1", Ingress, ProtoTCP, p1(80), "10.0.0.0/8"),
				cidrRule("r2", "sg-1", Ingress, ProtoTCP, p1(81), "10.0.0.0/8"),
			),
			d: DeclaredGroup{Provider: AWS, Rules: []DeclaredRule{declTCP(PortRange{80, 82}, "10.0.0.0/8")}},
			want: []Drift{{Kind: DriftChanged, Direction: Ingress,
				Declared: at(Ingress, ProtoTCP, PortRange{80, 82}, "cidr:10.0.0.0/8", Accept, 0),
				Actual:   at(Ingress, ProtoTCP, PortRange{80, 81}, "cidr:10.0.0.0/8", Accept, 0),
				RuleIDs:  []string{"r1", "r2"},
				Detail:   "ingress tcp cidr:10.0.0.0/8: ports 80-82 declared, 80-81 actual"}},
		},
		{
			name: "changed policy (Alibaba)",
			g:    aliGroup(prio(cidrRule("r1", "sg-1", Ingress, ProtoTCP, p1(22), "0.0.0.0/0"), 1, Drop)),
			d:    DeclaredGroup{Provider: Aliyun, Rules: []DeclaredRule{withPrio(declTCP(p1(22), "0.0.0.0/0"), 1, "")}},
			want: []Drift{{Kind: DriftChanged, Direction: Ingress,
				Declared: at(Ingress, ProtoTCP, p1(22), "cidr:0.0.0.0/0", Accept, 1),
				Actual:   at(Ingress, ProtoTCP, p1(22), "cidr:0.0.0.0/0", Drop, 1),
				RuleIDs:  []string{"r1"},
				Detail:   "ingress tcp cidr:0.0.0.0/0: policy accept declared, drop actual"}},
		},
		{
			name: "changed priority (Alibaba)",
			g:    aliGroup(prio(cidrRule("r1", "sg-1", Ingress, ProtoTCP, p1(22), "10.0.0.0/8"), 5, Accept)),
			d:    DeclaredGroup{Provider: Aliyun, Rules: []DeclaredRule{withPrio(declTCP(p1(22), "10.0.0.0/8"), 1, Accept)}},
			want: []Drift{{Kind: DriftChanged, Direction: Ingress,
				Declared: at(Ingress, ProtoTCP, p1(22), "cidr:10.0.0.0/8", Accept, 1),
				Actual:   at(Ingress, ProtoTCP, p1(22), "cidr:10.0.0.0/8", Accept, 5),
				RuleIDs:  []string{"r1"},
				Detail:   "ingress tcp cidr:10.0.0.0/8: priority 1 declared, 5 actual"}},
		},
		{
			name: "declared priority 0 is any priority (Alibaba)",
			g: aliGroup(
				prio(cidrRule("r1", "sg-1", Ingress, ProtoTCP, p1(80), "10.0.0.0/8"), 5, Accept),
				prio(cidrRule("r2", "sg-1", Ingress, ProtoTCP, p1(81), "10.0.0.0/8"), 7, Accept),
			),
			d: DeclaredGroup{Provider: Aliyun, Rules: []DeclaredRule{declTCP(PortRange{80, 81}, "10.0.0.0/8")}},
		},
		{
			name: "changed pairs one-to-one, preferring equal ports; leftovers missing/unexpected",
			g: awsGroup(
				cidrRule("r1", "sg-1", Ingress, ProtoTCP, p1(22), "10.0.0.0/8"),
				cidrRule("r2", "sg-1", Ingress, ProtoTCP, PortRange{8000, 8100}, "10.0.0.0/8"),
				cidrRule("r3", "sg-1", Ingress, ProtoUDP, p1(53), "10.0.0.0/8"),
			),
			d: DeclaredGroup{Provider: AWS, Rules: []DeclaredRule{
				declTCP(PortRange{8000, 8080}, "10.0.0.0/8"),
				{Direction: Ingress, Protocol: ProtoICMP, Ports: PortRange{8, -1}, CIDRs: []netip.Prefix{pfx("10.0.0.0/8")}},
			}},
			want: []Drift{
				{Kind: DriftMissing, Direction: Ingress,
					Declared: at(Ingress, ProtoICMP, PortRange{8, -1}, "cidr:10.0.0.0/8", Accept, 0),
					Detail:   "declared rule ingress icmp type 8 code any from cidr:10.0.0.0/8 accept is not in sg-1"},
				{Kind: DriftUnexpected, Direction: Ingress,
					Actual: at(Ingress, ProtoTCP, p1(22), "cidr:10.0.0.0/8", Accept, 0), RuleIDs: []string{"r1"},
					Detail: "rule ingress tcp 22 from cidr:10.0.0.0/8 accept (r1) is in sg-1 but not declared"},
				{Kind: DriftChanged, Direction: Ingress,
					Declared: at(Ingress, ProtoTCP, PortRange{8000, 8080}, "cidr:10.0.0.0/8", Accept, 0),
					Actual:   at(Ingress, ProtoTCP, PortRange{8000, 8100}, "cidr:10.0.0.0/8", Accept, 0),
					RuleIDs:  []string{"r2"},
					Detail:   "ingress tcp cidr:10.0.0.0/8: ports 8000-8080 declared, 8000-8100 actual"},
				{Kind: DriftUnexpected, Direction: Ingress,
					Actual: at(Ingress, ProtoUDP, p1(53), "cidr:10.0.0.0/8", Accept, 0), RuleIDs: []string{"r3"},
					Detail: "rule ingress udp 53 from cidr:10.0.0.0/8 accept (r3) is in sg-1 but not declared"},
			},
		},
		{
			name: "ManageEgress false: egress not compared, default egress ignored",
			g: awsGroup(append(defaultEgress(),
				cidrRule("r1", "sg-1", Ingress, ProtoTCP, p1(443), "0.0.0.0/0"),
				cidrRule("r2", "sg-1", Egress, ProtoTCP, p1(5432), "10.0.0.0/8"))...),
			d: DeclaredGroup{Provider: AWS, Rules: []DeclaredRule{
				declTCP(p1(443), "0.0.0.0/0"),
				{Direction: Egress, Protocol: ProtoTCP, Ports: p1(3306), CIDRs: []netip.Prefix{pfx("10.0.0.0/8")}},
			}},
		},
		{
			name: "ManageEgress true: undeclared default egress is unexpected and says so",
			g: awsGroup(append(defaultEgress(),
				cidrRule("r1", "sg-1", Ingress, ProtoTCP, p1(443), "0.0.0.0/0"))...),
			d: DeclaredGroup{Provider: AWS, ManageEgress: true, Rules: []DeclaredRule{declTCP(p1(443), "0.0.0.0/0")}},
			want: []Drift{
				{Kind: DriftUnexpected, Direction: Egress,
					Actual: at(Egress, ProtoAll, AllPorts, "cidr:0.0.0.0/0", Accept, 0), RuleIDs: []string{"sgr-e4"},
					Detail: "default egress rule (allow all traffic to 0.0.0.0/0, which the cloud adds to every new group) is present in sg-1 but not declared: declare it or revoke it"},
				{Kind: DriftUnexpected, Direction: Egress,
					Actual: at(Egress, ProtoAll, AllPorts, "cidr:::/0", Accept, 0), RuleIDs: []string{"sgr-e6"},
					Detail: "default egress rule (allow all traffic to ::/0, which the cloud adds to every new group) is present in sg-1 but not declared: declare it or revoke it"},
			},
		},
		{
			name: "ManageEgress true: declared default egress matches",
			g:    awsGroup(defaultEgress()...),
			d: DeclaredGroup{Provider: AWS, ManageEgress: true, Rules: []DeclaredRule{{
				Direction: Egress, Protocol: ProtoAll, CIDRs: []netip.Prefix{pfx("0.0.0.0/0"), pfx("::/0")},
			}}},
		},
		{
			name: "ManageEgress true: default egress never pairs as changed",
			g:    awsGroup(defaultEgress()[0]),
			d: DeclaredGroup{Provider: AWS, ManageEgress: true, Rules: []DeclaredRule{{
				Direction: Egress, Protocol: ProtoTCP, Ports: p1(443), CIDRs: []netip.Prefix{pfx("0.0.0.0/0")},
			}}},
			want: []Drift{
				{Kind: DriftUnexpected, Direction: Egress,
					Actual: at(Egress, ProtoAll, AllPorts, "cidr:0.0.0.0/0", Accept, 0), RuleIDs: []string{"sgr-e4"},
					Detail: "default egress rule (allow all traffic to 0.0.0.0/0, which the cloud adds to every new group) is present in sg-1 but not declared: declare it or revoke it"},
				{Kind: DriftMissing, Direction: Egress,
					Declared: at(Egress, ProtoTCP, p1(443), "cidr:0.0.0.0/0", Accept, 0),
					Detail:   "declared rule egress tcp 443 to cidr:0.0.0.0/0 accept is not in sg-1"},
			},
		},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			got := Diff(tc.g, tc.d)
			if d := cmp.Diff(tc.want, got); d != "" {
				t.Errorf("Diff (-want +got):\n%s", d)
			}
		})
	}
}

// A quintuple rule (Alibaba Cloud: a destination, source ports) is never
// the plain rule a declaration can write: it pairs as changed, saying what
// it narrows (issue 9, item 5).
func TestDiffQuintuple(t *testing.T) {
	r := prio(cidrRule("r1", "sg-1", Ingress, ProtoTCP, p1(443), "0.0.0.0/0"), 1, Accept)
	r.Local = pfx("10.0.0.5/32")
	r.SourcePorts = PortRange{1024, 65535}
	got := Diff(aliGroup(r), DeclaredGroup{Provider: Aliyun, Rules: []DeclaredRule{declTCP(p1(443), "0.0.0.0/0")}})
	want := []Drift{{Kind: DriftChanged, Direction: Ingress,
		Declared: at(Ingress, ProtoTCP, p1(443), "cidr:0.0.0.0/0", Accept, 0),
		Actual:   &AtomicRule{Direction: Ingress, Protocol: ProtoTCP, Ports: p1(443), Peer: "cidr:0.0.0.0/0", Policy: Accept, Local: "10.0.0.5/32", SourcePorts: PortRange{1024, 65535}},
		RuleIDs:  []string{"r1"},
		Detail:   "ingress tcp cidr:0.0.0.0/0: destination any declared, 10.0.0.5/32 actual; source ports any declared, 1024-65535 actual"}}
	if d := cmp.Diff(want, got); d != "" {
		t.Errorf("Diff (-want +got):\n%s", d)
	}
	if s := got[0].Actual.String(); s != "ingress tcp 443 from cidr:0.0.0.0/0 to 10.0.0.5/32 source ports 1024-65535 accept" {
		t.Errorf("String() = %q", s)
	}
	// Two rules differing only in their destination stay two atoms.
	r2 := r
	r2.ID, r2.Local = "r2", pfx("10.0.0.6/32")
	if n := len(Atomize([]Rule{r, r2})); n != 2 {
		t.Errorf("Atomize merged quintuple rules of different destinations: %d atoms", n)
	}
}

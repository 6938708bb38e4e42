package cloud

import (
	"encoding/json"
	"net/netip"
	"slices"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

func pfx(s string) netip.Prefix { return netip.MustParsePrefix(s) }
func ip(s string) netip.Addr    { return netip.MustParseAddr(s) }

func ips(ss ...string) []netip.Addr {
	out := make([]netip.Addr, len(ss))
	for i, s := range ss {
		out[i] = ip(s)
	}
	return out
}

func cidrRule(id, gid, dir, proto string, ports PortRange, cidr string) Rule {
	return Rule{ID: id, Group: gid, Direction: dir, Protocol: proto, Ports: ports, Peer: Peer{CIDR: pfx(cidr)}, Policy: Accept}
}

func groupRule(id, gid, dir, proto string, ports PortRange, src string) Rule {
	return Rule{ID: id, Group: gid, Direction: dir, Protocol: proto, Ports: ports, Peer: Peer{Group: src}, Policy: Accept}
}

func plRule(id, gid, dir, proto string, ports PortRange, pl string) Rule {
	return Rule{ID: id, Group: gid, Direction: dir, Protocol: proto, Ports: ports, Peer: Peer{PrefixList: pl}, Policy: Accept}
}

func entry(n int, egress bool, proto string, ports PortRange, cidr, policy string) ACLEntry {
	return ACLEntry{Number: n, Egress: egress, Protocol: proto, Ports: ports, CIDR: pfx(cidr), Policy: policy}
}

func p1(p int) PortRange { return PortRange{p, p} }

// clone deep-copies a snapshot through JSON (the model is JSON-serialisable).
func clone(t testing.TB, s *Snapshot) *Snapshot {
	t.Helper()
	b, err := json.Marshal(s)
	if err != nil {
		t.Fatal(err)
	}
	var out Snapshot
	if err := json.Unmarshal(b, &out); err != nil {
		t.Fatal(err)
	}
	return &out
}

// awsSnap: eni-web (sg-web + sg-ssh) in subnet-a behind acl-a; eni-app
// (sg-app) in subnet-b behind acl-b; eni-bastion (sg-bastion) in subnet-c.
func awsSnap() *Snapshot {
	return &Snapshot{
		Provider: AWS, Account: "111111111111", Region: "eu-west-1",
		Interfaces: []Interface{
			{ID: "eni-web", PrivateIPs: ips("10.0.1.10", "2001:db8:1::10"), Groups: []string{"sg-web", "sg-ssh"}, Subnet: "subnet-a"},
			{ID: "eni-web2", PrivateIPs: ips("10.0.1.11"), Groups: []string{"sg-web"}, Subnet: "subnet-a"},
			{ID: "eni-app", PrivateIPs: ips("10.0.2.20"), Groups: []string{"sg-app"}, Subnet: "subnet-b"},
			{ID: "eni-bastion", PrivateIPs: ips("10.0.3.5"), Groups: []string{"sg-bastion"}, Subnet: "subnet-c"},
		},
		Groups: map[string]*SecurityGroup{
			"sg-web": {Provider: AWS, ID: "sg-web", Rules: []Rule{
				groupRule("sgr-lb", "sg-web", Ingress, ProtoTCP, p1(443), "sg-lb"),
				cidrRule("sgr-1", "sg-web", Ingress, ProtoTCP, p1(443), "0.0.0.0/0"),
				cidrRule("sgr-2", "sg-web", Ingress, ProtoTCP, p1(443), "::/0"),
				plRule("sgr-3", "sg-web", Ingress, ProtoTCP, p1(8080), "pl-corp"),
				cidrRule("sgr-4", "sg-web", Ingress, ProtoICMP, PortRange{8, -1}, "10.0.0.0/8"),
				cidrRule("sgr-5", "sg-web", Ingress, ProtoICMPv6, PortRange{128, -1}, "::/0"),
				cidrRule("sgr-6", "sg-web", Ingress, ProtoICMP, PortRange{3, 4}, "10.0.0.0/8"),
				cidrRule("sgr-e", "sg-web", Egress, ProtoAll, PortRange{}, "0.0.0.0/0"),
			}},
			"sg-ssh": {Provider: AWS, ID: "sg-ssh", Rules: []Rule{
				groupRule("sgr-10", "sg-ssh", Ingress, ProtoTCP, p1(22), "sg-bastion"),
			}},
			"sg-app": {Provider: AWS, ID: "sg-app", Rules: []Rule{
				groupRule("sgr-20", "sg-app", Ingress, ProtoAll, PortRange{-1, -1}, "sg-web"),
			}},
			"sg-bastion": {Provider: AWS, ID: "sg-bastion", Rules: []Rule{
				cidrRule("sgr-30", "sg-bastion", Ingress, ProtoTCP, p1(22), "203.0.113.0/24"),
			}},
		},
		ACLs: []*NetworkACL{
			{Provider: AWS, ID: "acl-a", Subnets: []string{"subnet-a"}, Entries: []ACLEntry{
				// API order is not number order.
				entry(100, false, ProtoTCP, AllPorts, "0.0.0.0/0", Accept),
				entry(90, false, ProtoAll, AllPorts, "192.0.2.0/24", Drop),
				entry(101, false, ProtoAll, AllPorts, "::/0", Accept),
				entry(110, false, ProtoICMP, AllPorts, "10.0.0.0/8", Accept),
				entry(32767, false, ProtoAll, AllPorts, "0.0.0.0/0", Drop),
				entry(32768, false, ProtoAll, AllPorts, "::/0", Drop),
				entry(100, true, ProtoTCP, PortRange{1024, 65535}, "0.0.0.0/0", Accept),
				entry(101, true, ProtoAll, AllPorts, "::/0", Accept),
				entry(110, true, ProtoICMP, AllPorts, "10.0.0.0/8", Accept),
				entry(32767, true, ProtoAll, AllPorts, "0.0.0.0/0", Drop),
				entry(32768, true, ProtoAll, AllPorts, "::/0", Drop),
			}},
			{Provider: AWS, ID: "acl-b", Subnets: []string{"subnet-b", "subnet-c"}, Entries: []ACLEntry{
				entry(100, false, "-1", AllPorts, "0.0.0.0/0", Accept),
				entry(32767, false, "-1", AllPorts, "0.0.0.0/0", Drop),
				entry(100, true, "-1", AllPorts, "0.0.0.0/0", Accept),
				entry(32767, true, "-1", AllPorts, "0.0.0.0/0", Drop),
			}},
		},
		PrefixLists: map[string]*PrefixList{
			"pl-corp": {ID: "pl-corp", CIDRs: []netip.Prefix{pfx("192.168.0.0/16"), pfx("172.31.0.0/16")}},
		},
	}
}

func tcp(src string, port int) Flow {
	return Flow{Src: ip(src), Protocol: ProtoTCP, Port: port, Ephemeral: EphemeralIANA}
}

// verdictSummary is what the table tests compare: the whole verdict except
// the free-text Reason/Indeterminate, which are checked by substring.
type verdictSummary struct {
	Allowed       bool
	Indeterminate bool
	Stage         string
	Rule          string
	Allowing      []string
}

func refKey(r RuleRef) string {
	s := r.ID
	if r.RuleID != "" {
		s += "/" + r.RuleID
	}
	if r.Number != 0 {
		s += "#" + itoa(r.Number)
	}
	if r.Default != "" {
		s += " default"
	}
	return s
}

func itoa(n int) string {
	b, _ := json.Marshal(n)
	return string(b)
}

func summarize(v Verdict) verdictSummary {
	s := verdictSummary{Allowed: v.Allowed, Indeterminate: v.Indeterminate != "", Stage: v.Stage}
	if v.Rule != nil {
		s.Rule = refKey(*v.Rule)
	}
	for _, r := range v.Allowing {
		s.Allowing = append(s.Allowing, refKey(r))
	}
	return s
}

type evalCase struct {
	name   string
	mod    func(*Snapshot)
	iface  string
	flow   Flow
	want   verdictSummary
	reason string // substring of Reason, or of Indeterminate when Indeterminate
	// assume is a substring of one of the verdict's Assumptions; "-" means
	// the verdict states none.
	assume string
}

func runEvalCases(t *testing.T, base func() *Snapshot, eval func(*Snapshot, *Interface, Flow) Verdict, cases []evalCase) {
	t.Helper()
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			s := clone(t, base())
			if tc.mod != nil {
				tc.mod(s)
			}
			var iface *Interface
			for i := range s.Interfaces {
				if s.Interfaces[i].ID == tc.iface {
					iface = &s.Interfaces[i]
				}
			}
			if iface == nil {
				t.Fatalf("no interface %s", tc.iface)
			}
			v := eval(s, iface, tc.flow)
			if d := cmp.Diff(tc.want, summarize(v)); d != "" {
				t.Errorf("verdict (-want +got):\n%s\nfull: %+v", d, v)
			}
			text := v.Reason
			if v.Indeterminate != "" {
				text = v.Indeterminate
			}
			if !strings.Contains(text, tc.reason) {
				t.Errorf("reason %q does not contain %q", text, tc.reason)
			}
			switch {
			case tc.assume == "-" && len(v.Assumptions) > 0:
				t.Errorf("assumptions %q, want none", v.Assumptions)
			case tc.assume != "" && tc.assume != "-" && !slices.ContainsFunc(v.Assumptions, func(a string) bool { return strings.Contains(a, tc.assume) }):
				t.Errorf("assumptions %q lack %q", v.Assumptions, tc.assume)
			}
		})
	}
}

func TestEvaluateAWS(t *testing.T) {
	sgDefault := "sg-web,sg-ssh default"
	cases := []evalCase{
		{
			name: "https from the internet", iface: "eni-web", flow: tcp("198.51.100.7", 443),
			want: verdictSummary{Allowed: true, Stage: StageSecurityGroup, Rule: "sg-web/sgr-1",
				Allowing: []string{"acl-a#100", "sg-web/sgr-1", "acl-a#100"}},
			reason: "allowed by",
		},
		{
			name: "multi-group union: ssh from the bastion via the second group", iface: "eni-web", flow: tcp("10.0.3.5", 22),
			want: verdictSummary{Allowed: true, Stage: StageSecurityGroup, Rule: "sg-ssh/sgr-10",
				Allowing: []string{"acl-a#100", "sg-ssh/sgr-10", "acl-a#100"}},
		},
		{
			name: "group source not in an incomplete snapshot is indeterminate", iface: "eni-web", flow: tcp("10.0.3.99", 22),
			want:   verdictSummary{Indeterminate: true, Stage: StageSecurityGroup},
			reason: "source is a group: membership of sg-bastion not resolved",
		},
		{
			name: "group source absent from a complete snapshot is not a member", iface: "eni-web", flow: tcp("10.0.3.99", 22),
			mod:  func(s *Snapshot) { s.Complete = true },
			want: verdictSummary{Stage: StageSecurityGroup, Rule: sgDefault}, reason: "no rule of security group(s) sg-web,sg-ssh allows tcp 22 from 10.0.3.99",
		},
		{
			name: "group source in the snapshot without the group is not a member", iface: "eni-web", flow: tcp("10.0.2.20", 22),
			want: verdictSummary{Stage: StageSecurityGroup, Rule: sgDefault},
		},
		{
			name: "cross-account group stays unresolved in a complete snapshot", iface: "eni-web", flow: tcp("10.0.3.99", 22),
			mod: func(s *Snapshot) {
				s.Complete = true
				s.Groups["sg-ssh"].Rules[0].Peer.GroupOwner = "222222222222"
			},
			want: verdictSummary{Indeterminate: true, Stage: StageSecurityGroup}, reason: "account 222222222222",
		},
		{
			name: "unresolved group rule does not matter when another rule allows", iface: "eni-web", flow: tcp("198.51.100.8", 443),
			want: verdictSummary{Allowed: true, Stage: StageSecurityGroup, Rule: "sg-web/sgr-1",
				Allowing: []string{"acl-a#100", "sg-web/sgr-1", "acl-a#100"}},
		},
		{
			name: "prefix list entry allows", iface: "eni-web", flow: tcp("172.31.4.4", 8080),
			want: verdictSummary{Allowed: true, Stage: StageSecurityGroup, Rule: "sg-web/sgr-3",
				Allowing: []string{"acl-a#100", "sg-web/sgr-3", "acl-a#100"}},
		},
		{
			name: "address outside the prefix list is denied", iface: "eni-web", flow: tcp("8.8.8.8", 8080),
			mod:  func(s *Snapshot) { s.Complete = true },
			want: verdictSummary{Stage: StageSecurityGroup, Rule: sgDefault},
		},
		{
			name: "unknown prefix list is indeterminate", iface: "eni-web", flow: tcp("172.31.4.4", 8080),
			mod:    func(s *Snapshot) { s.PrefixLists = nil },
			want:   verdictSummary{Indeterminate: true, Stage: StageSecurityGroup},
			reason: "prefix list pl-corp not resolved",
		},
		{
			name: "nacl deny before allow (rule 90 before 100, whatever the API order)", iface: "eni-web", flow: tcp("192.0.2.50", 443),
			want:   verdictSummary{Stage: StageACLIngress, Rule: "acl-a#90"},
			reason: "inbound tcp 443 from 192.0.2.50 denied by network ACL acl-a rule 90 (#90 deny all from 192.0.2.0/24)",
		},
		{
			name: "nacl deny wins over an unresolved security group", iface: "eni-web", flow: tcp("192.0.2.50", 22),
			want: verdictSummary{Stage: StageACLIngress, Rule: "acl-a#90"},
		},
		{
			name: "nacl 32767 catch-all denies udp", iface: "eni-web", flow: Flow{Src: ip("198.51.100.7"), Protocol: ProtoUDP, Port: 53, Ephemeral: EphemeralIANA},
			want:   verdictSummary{Stage: StageACLIngress, Rule: "acl-a#32767"},
			reason: "rule * (#* deny all from 0.0.0.0/0)",
		},
		{
			name: "no catch-all entry: implicit deny", iface: "eni-web", flow: Flow{Src: ip("198.51.100.7"), Protocol: ProtoUDP, Port: 53, Ephemeral: EphemeralIANA},
			mod: func(s *Snapshot) {
				a := s.ACLs[0]
				var keep []ACLEntry
				for _, e := range a.Entries {
					if e.Number < 32767 {
						keep = append(keep, e)
					}
				}
				a.Entries = keep
			},
			want:   verdictSummary{Stage: StageACLIngress, Rule: "acl-a default"},
			reason: "implicit deny",
		},
		{
			name: "egress denies part of the ephemeral range", iface: "eni-web", flow: tcp("10.0.0.9", 443),
			mod: func(s *Snapshot) {
				s.ACLs[0].ID = "acl-1"
				s.ACLs[0].Entries = append(s.ACLs[0].Entries, entry(50, true, ProtoTCP, PortRange{40000, 50000}, "10.0.0.0/8", Drop))
			},
			want:   verdictSummary{Stage: StageACLEgress, Rule: "acl-1#50"},
			reason: "reply to 10.0.0.9:49152-65535 denied by acl-1 rule 50 for ports 49152-50000",
		},
		{
			name: "egress: the lowest denied port is reported, even from a later rule", iface: "eni-web", flow: tcp("10.0.0.9", 443),
			mod: func(s *Snapshot) {
				s.ACLs[0].Entries = append(s.ACLs[0].Entries,
					entry(10, true, ProtoTCP, PortRange{60000, 65535}, "0.0.0.0/0", Drop),
					entry(20, true, ProtoTCP, PortRange{49000, 50000}, "0.0.0.0/0", Drop))
			},
			want:   verdictSummary{Stage: StageACLEgress, Rule: "acl-a#20"},
			reason: "for ports 49152-50000",
		},
		{
			name: "egress allowing only the Linux range leaves the top of the IANA range to the catch-all", iface: "eni-web", flow: tcp("198.51.100.7", 443),
			mod: func(s *Snapshot) {
				for i, e := range s.ACLs[0].Entries {
					if e.Egress && e.Number == 100 {
						s.ACLs[0].Entries[i].Ports = EphemeralLinux
					}
				}
			},
			want:   verdictSummary{Stage: StageACLEgress, Rule: "acl-a#32767"},
			reason: "reply to 198.51.100.7:49152-65535 denied by acl-a rule * for ports 61000-65535",
		},
		{
			name: "egress allowing the Linux range suffices for a Linux client", iface: "eni-web",
			flow: Flow{Src: ip("198.51.100.7"), Protocol: ProtoTCP, Port: 443, Ephemeral: EphemeralLinux},
			mod: func(s *Snapshot) {
				for i, e := range s.ACLs[0].Entries {
					if e.Egress && e.Number == 100 {
						s.ACLs[0].Entries[i].Ports = EphemeralLinux
					}
				}
			},
			want: verdictSummary{Allowed: true, Stage: StageSecurityGroup, Rule: "sg-web/sgr-1",
				Allowing: []string{"acl-a#100", "sg-web/sgr-1", "acl-a#100"}},
		},
		{
			name: "egress range covered piecewise by two entries", iface: "eni-web", flow: tcp("198.51.100.7", 443),
			mod: func(s *Snapshot) {
				s.ACLs[0].Entries = append(s.ACLs[0].Entries,
					entry(10, true, ProtoTCP, PortRange{49152, 55000}, "0.0.0.0/0", Accept),
					entry(20, true, ProtoTCP, PortRange{55001, 65535}, "0.0.0.0/0", Accept),
					entry(30, true, ProtoTCP, AllPorts, "0.0.0.0/0", Drop))
			},
			want: verdictSummary{Allowed: true, Stage: StageSecurityGroup, Rule: "sg-web/sgr-1",
				Allowing: []string{"acl-a#100", "sg-web/sgr-1", "acl-a#10", "acl-a#20"}},
		},
		{
			name: "unset ephemeral range is 1024-65535", iface: "eni-web", flow: Flow{Src: ip("198.51.100.7"), Protocol: ProtoTCP, Port: 443},
			mod: func(s *Snapshot) {
				s.ACLs[0].Entries = append(s.ACLs[0].Entries, entry(10, true, ProtoTCP, PortRange{1024, 2048}, "0.0.0.0/0", Drop))
			},
			want: verdictSummary{Stage: StageACLEgress, Rule: "acl-a#10"}, reason: "198.51.100.7:1024-65535 denied by acl-a rule 10 for ports 1024-2048",
		},
		{
			name: "ipv6 https allowed by ::/0 entries and rule", iface: "eni-web", flow: tcp("2001:db8:ffff::1", 443),
			want: verdictSummary{Allowed: true, Stage: StageSecurityGroup, Rule: "sg-web/sgr-2",
				Allowing: []string{"acl-a#101", "sg-web/sgr-2", "acl-a#101"}},
		},
		{
			name: "ipv6 source never matches an ipv4 rule", iface: "eni-web", flow: tcp("2001:db8:ffff::1", 443),
			mod: func(s *Snapshot) {
				g := s.Groups["sg-web"]
				g.Rules = append(g.Rules[:2], g.Rules[3:]...) // drop sgr-2 (::/0)
				s.Complete = true
			},
			want: verdictSummary{Stage: StageSecurityGroup, Rule: sgDefault},
		},
		{
			name: "ipv6 ::/0 catch-all", iface: "eni-web", flow: tcp("2001:db8:ffff::1", 443),
			mod: func(s *Snapshot) {
				var keep []ACLEntry
				for _, e := range s.ACLs[0].Entries {
					if e.Number != 101 {
						keep = append(keep, e)
					}
				}
				s.ACLs[0].Entries = keep
			},
			want: verdictSummary{Stage: StageACLIngress, Rule: "acl-a#32768"}, reason: "#* deny all from ::/0",
		},
		{
			name: "ipv6 reply denied by the ::/0 egress catch-all", iface: "eni-web", flow: tcp("2001:db8:ffff::1", 443),
			mod: func(s *Snapshot) {
				for i, e := range s.ACLs[0].Entries {
					if e.Egress && e.Number == 101 {
						s.ACLs[0].Entries[i].Protocol = ProtoTCP
						s.ACLs[0].Entries[i].Ports = PortRange{1024, 50000}
					}
				}
			},
			want: verdictSummary{Stage: StageACLEgress, Rule: "acl-a#32768"}, reason: "reply to [2001:db8:ffff::1]:49152-65535 denied by acl-a rule * for ports 50001-65535",
		},
		{
			name: "protocol all (-1) rule from a group and -1 nacl entries", iface: "eni-app",
			flow: Flow{Src: ip("10.0.1.11"), Protocol: ProtoUDP, Port: 5353, Ephemeral: EphemeralLinux},
			want: verdictSummary{Allowed: true, Stage: StageSecurityGroup, Rule: "sg-app/sgr-20",
				Allowing: []string{"acl-b#100", "sg-app/sgr-20", "acl-b#100"}},
		},
		{
			name: "flow protocol given as a number", iface: "eni-app",
			flow: Flow{Src: ip("10.0.1.11"), Protocol: "6", Port: 5432, Ephemeral: EphemeralLinux},
			want: verdictSummary{Allowed: true, Stage: StageSecurityGroup, Rule: "sg-app/sgr-20",
				Allowing: []string{"acl-b#100", "sg-app/sgr-20", "acl-b#100"}},
		},
		{
			name: "icmp echo request (type 8) allowed by type 8 code -1", iface: "eni-web",
			flow: Flow{Src: ip("10.7.7.7"), Protocol: ProtoICMP, Port: 8},
			want: verdictSummary{Allowed: true, Stage: StageSecurityGroup, Rule: "sg-web/sgr-4",
				Allowing: []string{"acl-a#110", "sg-web/sgr-4", "acl-a#110"}},
		},
		{
			name: "icmp timestamp (type 13) not covered by type 8", iface: "eni-web",
			flow: Flow{Src: ip("10.7.7.7"), Protocol: ProtoICMP, Port: 13},
			mod:  func(s *Snapshot) { s.Complete = true },
			want: verdictSummary{Stage: StageSecurityGroup, Rule: sgDefault},
		},
		{
			name: "icmp type 3 flow (code 0) not covered by a type 3 code 4 rule", iface: "eni-web",
			flow: Flow{Src: ip("10.7.7.7"), Protocol: ProtoICMP, Port: 3},
			mod:  func(s *Snapshot) { s.Complete = true },
			want: verdictSummary{Stage: StageSecurityGroup, Rule: sgDefault},
		},
		{
			name: "icmpv6 echo request", iface: "eni-web",
			flow: Flow{Src: ip("2001:db8:9::9"), Protocol: ProtoICMPv6, Port: 128},
			want: verdictSummary{Allowed: true, Stage: StageSecurityGroup, Rule: "sg-web/sgr-5",
				Allowing: []string{"acl-a#101", "sg-web/sgr-5", "acl-a#101"}},
		},
		{
			name: "icmp from outside 10/8 stopped by the nacl", iface: "eni-web",
			flow: Flow{Src: ip("198.51.100.7"), Protocol: ProtoICMP, Port: 8},
			want: verdictSummary{Stage: StageACLIngress, Rule: "acl-a#32767"},
		},
		{
			name: "no acl known for the subnet is indeterminate", iface: "eni-web", flow: tcp("198.51.100.7", 443),
			mod:  func(s *Snapshot) { s.ACLs = s.ACLs[1:] },
			want: verdictSummary{Indeterminate: true, Stage: StageACLIngress}, reason: "no network ACL known for subnet subnet-a",
		},
		{
			name: "no acl known, but the security group denies for sure", iface: "eni-web", flow: tcp("198.51.100.7", 3306),
			mod:  func(s *Snapshot) { s.ACLs = s.ACLs[1:] },
			want: verdictSummary{Stage: StageSecurityGroup, Rule: sgDefault},
		},
		{
			name: "traffic within the subnet skips the nacl", iface: "eni-web", flow: tcp("10.0.1.11", 443),
			mod: func(s *Snapshot) {
				s.ACLs[0].Entries = []ACLEntry{entry(1, false, ProtoAll, AllPorts, "0.0.0.0/0", Drop)}
			},
			want:   verdictSummary{Allowed: true, Stage: StageSecurityGroup, Rule: "sg-web/sgr-1", Allowing: []string{"sg-web/sgr-1"}},
			reason: "network ACLs do not filter traffic within subnet subnet-a",
		},
		{
			name: "group of the interface missing from the snapshot", iface: "eni-web", flow: tcp("198.51.100.7", 22),
			mod:  func(s *Snapshot) { delete(s.Groups, "sg-ssh"); s.Complete = true },
			want: verdictSummary{Indeterminate: true, Stage: StageSecurityGroup}, reason: "security group sg-ssh of interface eni-web is not in the snapshot",
		},
		{
			name: "group missing, but another group allows", iface: "eni-web", flow: tcp("198.51.100.7", 443),
			mod: func(s *Snapshot) { delete(s.Groups, "sg-ssh") },
			want: verdictSummary{Allowed: true, Stage: StageSecurityGroup, Rule: "sg-web/sgr-1",
				Allowing: []string{"acl-a#100", "sg-web/sgr-1", "acl-a#100"}},
		},
	}
	runEvalCases(t, awsSnap, EvaluateAWS, cases)
}

// The readers list the members of every group they read (MembersListed):
// an address no listed interface holds is then not a member, and the
// verdict says what that rests on (issue 9, item 5).
func TestEvaluateAWSListedMembers(t *testing.T) {
	listed := func(s *Snapshot) {
		for _, g := range s.Groups {
			g.MembersListed = true
		}
	}
	sgDefault := "sg-web,sg-ssh default"
	cases := []evalCase{
		{
			name: "referenced group's members listed: an unlisted client is no member", iface: "eni-web", flow: tcp("10.0.3.99", 22),
			mod:  listed,
			want: verdictSummary{Stage: StageSecurityGroup, Rule: sgDefault}, reason: "no rule of security group(s) sg-web,sg-ssh allows tcp 22 from 10.0.3.99",
			assume: "10.0.3.99 is no member of sg-bastion (no interface among the group's members the read listed holds it)",
		},
		{
			name: "only the referenced group's listing counts", iface: "eni-web", flow: tcp("10.0.3.99", 22),
			mod:  func(s *Snapshot) { listed(s); s.Groups["sg-bastion"].MembersListed = false },
			want: verdictSummary{Indeterminate: true, Stage: StageSecurityGroup}, reason: "membership of sg-bastion not resolved",
		},
		{
			name: "a listed member is a member", iface: "eni-web", flow: tcp("10.0.3.5", 22),
			mod: listed,
			want: verdictSummary{Allowed: true, Stage: StageSecurityGroup, Rule: "sg-ssh/sgr-10",
				Allowing: []string{"acl-a#100", "sg-ssh/sgr-10", "acl-a#100"}},
			assume: "-",
		},
		{
			name: "an allowed flow states no assumption about other rules' groups", iface: "eni-web", flow: tcp("198.51.100.8", 443),
			mod: listed,
			want: verdictSummary{Allowed: true, Stage: StageSecurityGroup, Rule: "sg-web/sgr-1",
				Allowing: []string{"acl-a#100", "sg-web/sgr-1", "acl-a#100"}},
			assume: "-",
		},
		{
			name: "udp with an all-protocol group rule: denied", iface: "eni-app",
			flow: Flow{Src: ip("10.9.9.9"), Protocol: ProtoUDP, Port: 53, Ephemeral: EphemeralLinux},
			mod:  listed,
			want: verdictSummary{Stage: StageSecurityGroup, Rule: "sg-app default"}, assume: "no member of sg-web",
		},
		{
			name: "another account's group stays unresolved however the read listed", iface: "eni-web", flow: tcp("10.0.3.99", 22),
			mod: func(s *Snapshot) {
				listed(s)
				s.Groups["sg-ssh"].Rules[0].Peer.GroupOwner = "222222222222"
			},
			want: verdictSummary{Indeterminate: true, Stage: StageSecurityGroup}, reason: "account 222222222222",
		},
		{
			name: "a rule naming a deleted group matches no one", iface: "eni-web", flow: tcp("10.0.3.99", 22),
			mod: func(s *Snapshot) {
				s.Groups["sg-ssh"].Rules[0].Peer.Group = "sg-gone"
				s.MissingGroups = []string{"sg-gone"}
			},
			want: verdictSummary{Stage: StageSecurityGroup, Rule: sgDefault}, assume: "-",
		},
		{
			name: "a complete snapshot states the assumption too", iface: "eni-web", flow: tcp("10.0.3.99", 22),
			mod:  func(s *Snapshot) { s.Complete = true },
			want: verdictSummary{Stage: StageSecurityGroup, Rule: sgDefault}, assume: "no interface of the region the read listed holds it",
		},
		{
			name: "a client in the subnet's CIDR block is not filtered by the ACL", iface: "eni-web", flow: tcp("10.0.1.99", 443),
			mod: func(s *Snapshot) {
				s.Subnets = []Subnet{{ID: "subnet-a", CIDRs: []netip.Prefix{pfx("10.0.1.0/24"), pfx("2001:db8:1::/64")}}}
				s.ACLs[0].Entries = []ACLEntry{entry(1, false, ProtoAll, AllPorts, "0.0.0.0/0", Drop)}
			},
			want:   verdictSummary{Allowed: true, Stage: StageSecurityGroup, Rule: "sg-web/sgr-1", Allowing: []string{"sg-web/sgr-1"}},
			reason: "network ACLs do not filter traffic within subnet subnet-a (10.0.1.99 is in its CIDR block 10.0.1.0/24)",
		},
		{
			name: "a client outside the subnet's CIDR blocks is", iface: "eni-web", flow: tcp("10.0.9.99", 443),
			mod: func(s *Snapshot) {
				s.Subnets = []Subnet{{ID: "subnet-a", CIDRs: []netip.Prefix{pfx("10.0.1.0/24")}}}
				s.ACLs[0].Entries = []ACLEntry{entry(1, false, ProtoAll, AllPorts, "0.0.0.0/0", Drop)}
			},
			want: verdictSummary{Stage: StageACLIngress, Rule: "acl-a#1"},
		},
	}
	runEvalCases(t, awsSnap, EvaluateAWS, cases)
}

// TestEvaluateAWSFullVerdict pins one verdict entirely, texts included.
func TestEvaluateAWSFullVerdict(t *testing.T) {
	s := awsSnap()
	got := EvaluateAWS(s, &s.Interfaces[0], tcp("198.51.100.7", 443))
	acl100in := RuleRef{Kind: "network_acl", ID: "acl-a", Number: 100, Text: "#100 allow tcp 0-65535 from 0.0.0.0/0"}
	sg := RuleRef{Kind: "security_group", ID: "sg-web", RuleID: "sgr-1", Text: "tcp 443 from 0.0.0.0/0 accept"}
	acl100out := RuleRef{Kind: "network_acl", ID: "acl-a", Number: 100, Text: "#100 allow tcp 1024-65535 to 0.0.0.0/0"}
	want := Verdict{
		Allowed:  true,
		Stage:    StageSecurityGroup,
		Rule:     &sg,
		Allowing: []RuleRef{acl100in, sg, acl100out},
		Reason: "allowed by nacl_ingress: acl-a (#100 allow tcp 0-65535 from 0.0.0.0/0), " +
			"security_group: sg-web sgr-1 (tcp 443 from 0.0.0.0/0 accept), " +
			"nacl_egress: acl-a (#100 allow tcp 1024-65535 to 0.0.0.0/0)",
	}
	if d := cmp.Diff(want, got); d != "" {
		t.Errorf("(-want +got):\n%s", d)
	}

	s.ACLs[0].ID = "acl-1"
	s.ACLs[0].Entries = append(s.ACLs[0].Entries, entry(100, true, ProtoTCP, PortRange{49152, 50000}, "0.0.0.0/0", Drop))
	// Two egress entries numbered 100 cannot exist in AWS; make it the only one.
	var keep []ACLEntry
	for _, e := range s.ACLs[0].Entries {
		if !(e.Egress && e.Number == 100 && e.Policy == Accept) {
			keep = append(keep, e)
		}
	}
	s.ACLs[0].Entries = keep
	got = EvaluateAWS(s, &s.Interfaces[0], tcp("10.0.0.9", 443))
	deny := RuleRef{Kind: "network_acl", ID: "acl-1", Number: 100, Text: "#100 deny tcp 49152-50000 to 0.0.0.0/0"}
	want = Verdict{Stage: StageACLEgress, Rule: &deny,
		Reason: "reply to 10.0.0.9:49152-65535 denied by acl-1 rule 100 for ports 49152-50000"}
	if d := cmp.Diff(want, got); d != "" {
		t.Errorf("(-want +got):\n%s", d)
	}
}

func TestEvaluateInvalidFlow(t *testing.T) {
	s := awsSnap()
	for _, f := range []Flow{
		{Protocol: ProtoTCP, Port: 1},
		{Src: ip("1.2.3.4"), Protocol: ProtoAll},
		{Src: ip("1.2.3.4"), Protocol: ProtoTCP, Port: 70000},
		{Src: ip("1.2.3.4"), Protocol: ProtoTCP, Port: 1, Ephemeral: PortRange{5, 1}},
	} {
		if v := EvaluateAWS(s, &s.Interfaces[0], f); v.Indeterminate == "" || v.Allowed {
			t.Errorf("%+v: got %+v, want indeterminate", f, v)
		}
		if v := EvaluateAliyun(s, &s.Interfaces[0], f); v.Indeterminate == "" || v.Allowed {
			t.Errorf("aliyun %+v: got %+v, want indeterminate", f, v)
		}
	}
}

package runner

import (
	"net/netip"
	"strings"
	"testing"

	"github.com/portcheck/portcheck/providers/cloud"
)

func hintAddr(s string) netip.Addr { return netip.MustParseAddr(s) }

func hintACL(id string, entries ...cloud.ACLEntry) *cloud.NetworkACL {
	return &cloud.NetworkACL{ID: id, Subnets: []string{"subnet-1"}, Entries: entries}
}

func hintEntry(n int, egress bool, cidr, policy string, system bool) cloud.ACLEntry {
	return cloud.ACLEntry{Number: n, Egress: egress, Protocol: cloud.ProtoAll, Ports: cloud.AllPorts,
		CIDR: netip.MustParsePrefix(cidr), Policy: policy, System: system}
}

// stretch is a denied stretch lo-hi of a flow, with its verdict.
func stretch(lo, hi string, f cloud.Flow, stage string, rule cloud.RuleRef) cloudStretch {
	f.Src = hintAddr(lo)
	return cloudStretch{lo: hintAddr(lo), hi: hintAddr(hi), flow: f, verdict: cloud.Verdict{Stage: stage, Rule: &rule}}
}

// The fixes of denied L6 checks (issue 9, item 5): real free AWS rule
// numbers below the denying entry (the catch-all when none matched), the
// Alibaba Cloud list position, and every denied part of a range admitted.
func TestCloudHint(t *testing.T) {
	tcp443 := cloud.Flow{Protocol: cloud.ProtoTCP, Port: 443, Ephemeral: cloud.PortRange{From: 1024, To: 65535}}
	icmp8 := cloud.Flow{Protocol: cloud.ProtoICMP, Port: 8}
	iface := &cloud.Interface{ID: "eni-1", Groups: []string{"sg-1", "sg-2"}, Subnet: "subnet-1"}
	awsSnap := &cloud.Snapshot{Provider: cloud.AWS, Region: "eu-west-1", ACLs: []*cloud.NetworkACL{hintACL("acl-1",
		hintEntry(1, false, "203.0.113.0/24", cloud.Drop, false),
		hintEntry(90, false, "192.0.2.0/24", cloud.Drop, false),
		hintEntry(89, false, "10.0.0.0/8", cloud.Accept, false),
		hintEntry(32766, false, "10.0.0.0/8", cloud.Accept, false),
		hintEntry(32767, false, "0.0.0.0/0", cloud.Drop, false),
		hintEntry(50, true, "0.0.0.0/0", cloud.Drop, false),
		hintEntry(32767, true, "0.0.0.0/0", cloud.Drop, false),
	)}}
	aclRule := func(n int) cloud.RuleRef { return cloud.RuleRef{Kind: "network_acl", ID: "acl-1", Number: n} }
	implicit := cloud.RuleRef{Kind: "network_acl", ID: "acl-1", Default: "implicit deny"}
	aliSnap := &cloud.Snapshot{Provider: cloud.Aliyun, Region: "cn-hangzhou",
		Groups: map[string]*cloud.SecurityGroup{"sg-1": {ID: "sg-1", Rules: []cloud.Rule{
			{ID: "sgr-top", Group: "sg-1", Direction: cloud.Ingress, Protocol: cloud.ProtoTCP, Ports: cloud.PortRange{From: 443, To: 443},
				Peer: cloud.Peer{CIDR: netip.MustParsePrefix("0.0.0.0/0")}, Policy: cloud.Drop, Priority: 1},
			{ID: "sgr-low", Group: "sg-1", Direction: cloud.Ingress, Protocol: cloud.ProtoTCP, Ports: cloud.AllPorts,
				Peer: cloud.Peer{CIDR: netip.MustParsePrefix("0.0.0.0/0")}, Policy: cloud.Drop, Priority: 50},
		}}},
		ACLs: []*cloud.NetworkACL{hintACL("nacl-1",
			hintEntry(1, false, "203.0.113.0/24", cloud.Accept, false),
			hintEntry(2, false, "192.0.2.0/24", cloud.Drop, false),
			hintEntry(3, false, "0.0.0.0/0", cloud.Drop, true),
			hintEntry(1, true, "0.0.0.0/0", cloud.Drop, true),
		)}}
	sgRule := func(id string) cloud.RuleRef {
		return cloud.RuleRef{Kind: "security_group", ID: "sg-1", RuleID: id}
	}
	for _, tc := range []struct {
		name   string
		s      *cloud.Snapshot
		denied []cloudStretch
		want   []string
	}{
		{
			name:   "aws: two parts denied by entry 90 get the free numbers 88 and 87 (89 is taken)",
			s:      awsSnap,
			denied: []cloudStretch{stretch("192.0.2.0", "192.0.2.127", tcp443, cloud.StageACLIngress, aclRule(90)), stretch("192.0.2.200", "192.0.2.200", tcp443, cloud.StageACLIngress, aclRule(90))},
			want: []string{
				"aws ec2 create-network-acl-entry --network-acl-id acl-1 --ingress --rule-number 88 --protocol tcp --port-range From=443,To=443 --cidr-block 192.0.2.0/25 --rule-action allow",
				"aws ec2 create-network-acl-entry --network-acl-id acl-1 --ingress --rule-number 87 --protocol tcp --port-range From=443,To=443 --cidr-block 192.0.2.200/32 --rule-action allow",
			},
		},
		{
			name:   "aws: implicit deny, below the catch-all (32766 is taken)",
			s:      awsSnap,
			denied: []cloudStretch{stretch("198.51.100.7", "198.51.100.7", tcp443, cloud.StageACLIngress, implicit)},
			want:   []string{"aws ec2 create-network-acl-entry --network-acl-id acl-1 --ingress --rule-number 32765 --protocol tcp --port-range From=443,To=443 --cidr-block 198.51.100.7/32 --rule-action allow"},
		},
		{
			name:   "aws: nothing free below entry 1",
			s:      awsSnap,
			denied: []cloudStretch{stretch("203.0.113.9", "203.0.113.9", tcp443, cloud.StageACLIngress, aclRule(1))},
			want:   []string{"no free rule number left below entry 1 in ingress of acl-1 for 203.0.113.9/32: renumber entries (aws ec2 replace-network-acl-entry) to make room"},
		},
		{
			name:   "aws: the reply, to the client's ephemeral ports",
			s:      awsSnap,
			denied: []cloudStretch{stretch("198.51.100.0", "198.51.100.255", tcp443, cloud.StageACLEgress, aclRule(50))},
			want:   []string{"aws ec2 create-network-acl-entry --network-acl-id acl-1 --egress --rule-number 49 --protocol tcp --port-range From=1024,To=65535 --cidr-block 198.51.100.0/24 --rule-action allow"},
		},
		{
			name:   "aws: icmp echo request inbound",
			s:      awsSnap,
			denied: []cloudStretch{stretch("198.51.100.7", "198.51.100.7", icmp8, cloud.StageACLIngress, implicit)},
			want:   []string{"aws ec2 create-network-acl-entry --network-acl-id acl-1 --ingress --rule-number 32765 --protocol icmp --icmp-type-code Type=8,Code=-1 --cidr-block 198.51.100.7/32 --rule-action allow"},
		},
		{
			name: "aws: security group, IPv6, adjacent parts merged, two prefixes in one rule",
			s:    awsSnap,
			denied: []cloudStretch{stretch("2001:db8::", "2001:db8::ffff:ffff:ffff:ffff", tcp443, cloud.StageSecurityGroup, sgRule("")),
				stretch("2001:db8:0:1::", "2001:db8:0:1::1", tcp443, cloud.StageSecurityGroup, sgRule(""))},
			want: []string{"aws ec2 authorize-security-group-ingress --group-id sg-1 --ip-permissions 'IpProtocol=tcp,FromPort=443,ToPort=443,Ipv6Ranges=[{CidrIpv6=2001:db8::/64},{CidrIpv6=2001:db8:0:1::/127}]'"},
		},
		{
			name:   "aliyun: a priority 50 drop is outranked by an accept at priority 1",
			s:      aliSnap,
			denied: []cloudStretch{stretch("2001:db8::1", "2001:db8::1", tcp443, cloud.StageSecurityGroup, sgRule("sgr-low"))},
			want:   []string{"aliyun ecs AuthorizeSecurityGroup --RegionId cn-hangzhou --SecurityGroupId sg-1 --IpProtocol tcp --PortRange 443/443 --Ipv6SourceCidrIp 2001:db8::1/128 --Policy accept --Priority 1"},
		},
		{
			name:   "aliyun: a priority 1 drop cannot be outranked",
			s:      aliSnap,
			denied: []cloudStretch{stretch("198.51.100.7", "198.51.100.7", tcp443, cloud.StageSecurityGroup, sgRule("sgr-top"))},
			want:   []string{"rule sgr-top of sg-1 drops it at the highest priority (1), which no accept rule can outrank: narrow or remove it (aliyun ecs RevokeSecurityGroup --RegionId cn-hangzhou --SecurityGroupId sg-1 --SecurityGroupRuleId.1 sgr-top)"},
		},
		{
			name: "aliyun: before the custom entry that drops, every part",
			s:    aliSnap,
			denied: []cloudStretch{stretch("192.0.2.0", "192.0.2.63", tcp443, cloud.StageACLIngress, cloud.RuleRef{ID: "nacl-1", Number: 2}),
				stretch("192.0.2.64", "192.0.2.64", tcp443, cloud.StageACLIngress, cloud.RuleRef{ID: "nacl-1", Number: 2})},
			want: []string{"aliyun vpc UpdateNetworkAclEntries --RegionId cn-hangzhou --NetworkAclId nacl-1 --UpdateIngressAclEntries true" +
				" --IngressAclEntries.2.Policy accept --IngressAclEntries.2.Protocol tcp --IngressAclEntries.2.Port 443/443 --IngressAclEntries.2.SourceCidrIp 192.0.2.0/26" +
				" --IngressAclEntries.3.Policy accept --IngressAclEntries.3.Protocol tcp --IngressAclEntries.3.Port 443/443 --IngressAclEntries.3.SourceCidrIp 192.0.2.64/32" +
				" (the call replaces every custom inbound entry: pass the current entries too, entry 1 at its position and entry 2 after the new ones)"},
		},
		{
			name:   "aliyun: dropped by the system entry: after the custom entries",
			s:      aliSnap,
			denied: []cloudStretch{stretch("198.51.100.7", "198.51.100.7", tcp443, cloud.StageACLIngress, cloud.RuleRef{ID: "nacl-1", Number: 3})},
			want: []string{"aliyun vpc UpdateNetworkAclEntries --RegionId cn-hangzhou --NetworkAclId nacl-1 --UpdateIngressAclEntries true" +
				" --IngressAclEntries.3.Policy accept --IngressAclEntries.3.Protocol tcp --IngressAclEntries.3.Port 443/443 --IngressAclEntries.3.SourceCidrIp 198.51.100.7/32" +
				" (the call replaces every custom inbound entry: pass the current entries 1-2 too, at their positions)"},
		},
		{
			name:   "aliyun: the reply, no custom outbound entry",
			s:      aliSnap,
			denied: []cloudStretch{stretch("198.51.100.7", "198.51.100.7", tcp443, cloud.StageACLEgress, cloud.RuleRef{ID: "nacl-1", Number: 1})},
			want: []string{"aliyun vpc UpdateNetworkAclEntries --RegionId cn-hangzhou --NetworkAclId nacl-1 --UpdateEgressAclEntries true" +
				" --EgressAclEntries.1.Policy accept --EgressAclEntries.1.Protocol tcp --EgressAclEntries.1.Port 1024/65535 --EgressAclEntries.1.DestinationCidrIp 198.51.100.7/32"},
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			b, ok := cloud.Lookup(tc.s.Provider)
			if !ok {
				t.Fatalf("no backend registered for %q", tc.s.Provider)
			}
			got := strings.Split(cloudHint(b, tc.s, iface, tc.denied), hintIndent)
			if strings.Join(got, "\n") != strings.Join(tc.want, "\n") {
				t.Errorf("fix\n%s\nwant\n%s", strings.Join(got, "\n"), strings.Join(tc.want, "\n"))
			}
		})
	}
}

// Denied stretches group by the rule that denies them, adjacent ones merge,
// and each group becomes the fewest prefixes.
func TestDeniedFixes(t *testing.T) {
	f := cloud.Flow{Protocol: cloud.ProtoTCP, Port: 22}
	a := cloud.RuleRef{ID: "acl-1", Number: 90}
	b := cloud.RuleRef{ID: "sg-1", Default: "no security group rule allows it"}
	got := deniedFixes([]cloudStretch{
		stretch("10.0.0.0", "10.0.0.127", f, cloud.StageACLIngress, a),
		stretch("10.0.0.128", "10.0.0.191", f, cloud.StageACLIngress, a),
		stretch("10.0.0.192", "10.0.0.192", f, cloud.StageSecurityGroup, b),
		stretch("10.0.0.193", "10.0.0.255", f, cloud.StageACLIngress, a),
	})
	var lines []string
	for _, d := range got {
		lines = append(lines, d.Stage+" "+prefixesText(d.Prefixes, 99))
	}
	want := []string{
		"nacl_ingress 10.0.0.0/25, 10.0.0.128/26, 10.0.0.193/32, 10.0.0.194/31, 10.0.0.196/30, 10.0.0.200/29, 10.0.0.208/28, 10.0.0.224/27",
		"security_group 10.0.0.192/32",
	}
	if strings.Join(lines, "\n") != strings.Join(want, "\n") {
		t.Errorf("fixes\n%s\nwant\n%s", strings.Join(lines, "\n"), strings.Join(want, "\n"))
	}
}

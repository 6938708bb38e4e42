package aws

import (
	"fmt"
	"net/netip"
	"slices"
	"strconv"
	"strings"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/ec2/types"

	"github.com/portcheck/portcheck/providers/cloud"
)

// normProtocol normalises an EC2 protocol: "-1" is cloud.ProtoAll, the
// numbers and names of tcp, udp, icmp and icmpv6 their names, any other
// protocol its decimal number.
func normProtocol(p string) string {
	switch strings.ToLower(strings.TrimSpace(p)) {
	case "-1", "all":
		return cloud.ProtoAll
	case "6", "tcp":
		return cloud.ProtoTCP
	case "17", "udp":
		return cloud.ProtoUDP
	case "1", "icmp":
		return cloud.ProtoICMP
	case "58", "icmpv6":
		return cloud.ProtoICMPv6
	}
	if n, err := strconv.Atoi(strings.TrimSpace(p)); err == nil {
		return strconv.Itoa(n)
	}
	return strings.ToLower(strings.TrimSpace(p))
}

// rulePorts is the port range of a security group rule: tcp and udp keep
// their range (none, or -1, is every port); icmp and icmpv6 keep type and
// code, -1 meaning any; every other protocol gets AllPorts.
func rulePorts(proto string, from, to *int32) cloud.PortRange {
	switch proto {
	case cloud.ProtoTCP, cloud.ProtoUDP:
		if from == nil || to == nil || *from < 0 || *to < 0 {
			return cloud.AllPorts
		}
		return cloud.PortRange{From: int(*from), To: int(*to)}
	case cloud.ProtoICMP, cloud.ProtoICMPv6:
		return cloud.PortRange{From: int(aws.ToInt32(orMinusOne(from))), To: int(aws.ToInt32(orMinusOne(to)))}
	}
	return cloud.AllPorts
}

func orMinusOne(p *int32) *int32 {
	if p == nil {
		return aws.Int32(-1)
	}
	return p
}

func parsePrefix(s string) (netip.Prefix, error) {
	p, err := netip.ParsePrefix(strings.TrimSpace(s))
	if err != nil {
		return netip.Prefix{}, fmt.Errorf("bad CIDR %q: %w", s, err)
	}
	return p.Masked(), nil
}

// convertRule turns one DescribeSecurityGroupRules item into a cloud.Rule.
func convertRule(r types.SecurityGroupRule) (cloud.Rule, error) {
	proto := normProtocol(aws.ToString(r.IpProtocol))
	rule := cloud.Rule{
		ID:          aws.ToString(r.SecurityGroupRuleId),
		Group:       aws.ToString(r.GroupId),
		Direction:   cloud.Ingress,
		Protocol:    proto,
		Ports:       rulePorts(proto, r.FromPort, r.ToPort),
		Policy:      cloud.Accept,
		Description: aws.ToString(r.Description),
	}
	if aws.ToBool(r.IsEgress) {
		rule.Direction = cloud.Egress
	}
	var err error
	switch {
	case r.CidrIpv4 != nil:
		rule.Peer.CIDR, err = parsePrefix(*r.CidrIpv4)
	case r.CidrIpv6 != nil:
		rule.Peer.CIDR, err = parsePrefix(*r.CidrIpv6)
	case r.PrefixListId != nil:
		rule.Peer.PrefixList = *r.PrefixListId
	case r.ReferencedGroupInfo != nil:
		rule.Peer.Group = aws.ToString(r.ReferencedGroupInfo.GroupId)
		if user := aws.ToString(r.ReferencedGroupInfo.UserId); user != "" && user != aws.ToString(r.GroupOwnerId) {
			rule.Peer.GroupOwner = user
		}
	default:
		err = fmt.Errorf("no peer")
	}
	if err != nil {
		return rule, fmt.Errorf("aws: security group rule %s of %s: %w", rule.ID, rule.Group, err)
	}
	return rule, nil
}

// convertInterface turns a DescribeNetworkInterfaces item into a
// cloud.Interface. PrivateIPs holds the primary private IPv4 address first,
// then the secondary ones, then the IPv6 addresses (an interface's own
// addresses); PublicIPs the public IPv4 addresses associated with them.
func convertInterface(n types.NetworkInterface) (cloud.Interface, error) {
	ifc := cloud.Interface{
		ID:         aws.ToString(n.NetworkInterfaceId),
		PrivateIPs: []netip.Addr{},
		Groups:     []string{},
		Subnet:     aws.ToString(n.SubnetId),
		VPC:        aws.ToString(n.VpcId),
	}
	if n.Attachment != nil {
		ifc.Instance = aws.ToString(n.Attachment.InstanceId)
	}
	var bad error
	add := func(list *[]netip.Addr, s *string) {
		if s == nil || *s == "" {
			return
		}
		a, err := netip.ParseAddr(*s)
		if err != nil {
			bad = fmt.Errorf("aws: network interface %s: bad address %q", ifc.ID, *s)
			return
		}
		if a = a.Unmap(); !slices.Contains(*list, a) {
			*list = append(*list, a)
		}
	}
	add(&ifc.PrivateIPs, n.PrivateIpAddress)
	for _, p := range n.PrivateIpAddresses {
		add(&ifc.PrivateIPs, p.PrivateIpAddress)
	}
	add(&ifc.PrivateIPs, n.Ipv6Address)
	for _, a := range n.Ipv6Addresses {
		add(&ifc.PrivateIPs, a.Ipv6Address)
	}
	if n.Association != nil {
		add(&ifc.PublicIPs, n.Association.PublicIp)
	}
	for _, p := range n.PrivateIpAddresses {
		if p.Association != nil {
			add(&ifc.PublicIPs, p.Association.PublicIp)
		}
	}
	for _, g := range n.Groups {
		if id := aws.ToString(g.GroupId); id != "" {
			ifc.Groups = append(ifc.Groups, id)
		}
	}
	return ifc, bad
}

// convertACL turns a DescribeNetworkAcls item into a cloud.NetworkACL,
// entries in the API's order, the default (32767, 32768) entries included.
func convertACL(a types.NetworkAcl, region string) (*cloud.NetworkACL, error) {
	acl := &cloud.NetworkACL{
		Provider: cloud.AWS,
		Account:  aws.ToString(a.OwnerId),
		Region:   region,
		ID:       aws.ToString(a.NetworkAclId),
		VPC:      aws.ToString(a.VpcId),
		Subnets:  []string{},
		Entries:  []cloud.ACLEntry{},
	}
	for _, as := range a.Associations {
		if s := aws.ToString(as.SubnetId); s != "" && !slices.Contains(acl.Subnets, s) {
			acl.Subnets = append(acl.Subnets, s)
		}
	}
	for _, e := range a.Entries {
		entry, err := convertACLEntry(e)
		if err != nil {
			return nil, fmt.Errorf("aws: network ACL %s: %w", acl.ID, err)
		}
		acl.Entries = append(acl.Entries, entry)
	}
	return acl, nil
}

func convertACLEntry(e types.NetworkAclEntry) (cloud.ACLEntry, error) {
	entry := cloud.ACLEntry{
		Number:   int(aws.ToInt32(e.RuleNumber)),
		Egress:   aws.ToBool(e.Egress),
		Protocol: normProtocol(aws.ToString(e.Protocol)),
		Ports:    cloud.AllPorts,
	}
	// The model keeps ports for tcp and udp only (ICMP type and code of an
	// ACL entry are not kept).
	if (entry.Protocol == cloud.ProtoTCP || entry.Protocol == cloud.ProtoUDP) && e.PortRange != nil &&
		e.PortRange.From != nil && e.PortRange.To != nil {
		entry.Ports = cloud.PortRange{From: int(*e.PortRange.From), To: int(*e.PortRange.To)}
	}
	var err error
	switch {
	case e.CidrBlock != nil:
		entry.CIDR, err = parsePrefix(*e.CidrBlock)
	case e.Ipv6CidrBlock != nil:
		entry.CIDR, err = parsePrefix(*e.Ipv6CidrBlock)
	default:
		err = fmt.Errorf("no CIDR")
	}
	if err != nil {
		return entry, fmt.Errorf("entry %d: %w", entry.Number, err)
	}
	switch e.RuleAction {
	case types.RuleActionAllow:
		entry.Policy = cloud.Accept
	case types.RuleActionDeny:
		entry.Policy = cloud.Drop
	default:
		return entry, fmt.Errorf("entry %d: unknown rule action %q", entry.Number, e.RuleAction)
	}
	return entry, nil
}

// convertSubnet turns a DescribeSubnets item into a cloud.Subnet: its IPv4
// block and the IPv6 blocks associated with it.
func convertSubnet(sn types.Subnet) (*cloud.Subnet, error) {
	out := &cloud.Subnet{ID: aws.ToString(sn.SubnetId), VPC: aws.ToString(sn.VpcId), CIDRs: []netip.Prefix{}}
	add := func(s string) error {
		p, err := parsePrefix(s)
		if err != nil {
			return fmt.Errorf("aws: subnet %s: %w", out.ID, err)
		}
		out.CIDRs = append(out.CIDRs, p)
		return nil
	}
	if c := aws.ToString(sn.CidrBlock); c != "" {
		if err := add(c); err != nil {
			return nil, err
		}
	}
	for _, a := range sn.Ipv6CidrBlockAssociationSet {
		if a.Ipv6CidrBlockState == nil || a.Ipv6CidrBlockState.State != types.SubnetCidrBlockStateCodeAssociated {
			continue
		}
		if err := add(aws.ToString(a.Ipv6CidrBlock)); err != nil {
			return nil, err
		}
	}
	return out, nil
}

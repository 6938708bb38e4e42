package aliyun

import (
	"fmt"
	"net/netip"
	"strconv"
	"strings"

	ecs "github.com/alibabacloud-go/ecs-20140526/v7/client"
	"github.com/alibabacloud-go/tea/tea"
	vpc "github.com/alibabacloud-go/vpc-20160428/v6/client"

	"github.com/portcheck/portcheck/providers/cloud"
)

// sv is a trimmed string field of an API answer ("" when absent). Some
// answers carry stray whitespace ("10.0.0.0/24\t" in the VPC samples).
func sv(p *string) string { return strings.TrimSpace(tea.StringValue(p)) }

// normProtocol: Alibaba "ALL" is cloud.ProtoAll, TCP/UDP/ICMP/ICMPv6 the
// lower-case names, GRE and any other protocol its decimal number.
func normProtocol(p string) (string, error) {
	s := strings.ToLower(strings.TrimSpace(p))
	switch s {
	case "all", "-1":
		return cloud.ProtoAll, nil
	case "tcp", "6":
		return cloud.ProtoTCP, nil
	case "udp", "17":
		return cloud.ProtoUDP, nil
	case "icmp", "1":
		return cloud.ProtoICMP, nil
	case "icmpv6", "58":
		return cloud.ProtoICMPv6, nil
	case "gre":
		return "47", nil
	}
	if n, err := strconv.Atoi(s); err == nil && n >= 0 && n <= 255 {
		return strconv.Itoa(n), nil
	}
	return "", fmt.Errorf("unknown protocol %q", p)
}

// parseRange parses Alibaba's "from/to" ("80/80", "1/65535", "-1/-1").
func parseRange(s string) (int, int, error) {
	a, b, ok := strings.Cut(strings.TrimSpace(s), "/")
	if !ok {
		return 0, 0, fmt.Errorf("port range %q: want from/to", s)
	}
	from, err1 := strconv.Atoi(strings.TrimSpace(a))
	to, err2 := strconv.Atoi(strings.TrimSpace(b))
	if err1 != nil || err2 != nil {
		return 0, 0, fmt.Errorf("port range %q: want from/to", s)
	}
	return from, to, nil
}

// rulePorts normalises a security group rule's PortRange for a normalised
// protocol: tcp/udp "-1/-1" is cloud.AllPorts, other ranges as given;
// icmp/icmpv6 keep the API's numbers ("-1/-1" = any type, any code);
// other protocols have no ports: cloud.AllPorts.
func rulePorts(proto, s string) (cloud.PortRange, error) {
	switch proto {
	case cloud.ProtoTCP, cloud.ProtoUDP:
		if strings.TrimSpace(s) == "" {
			return cloud.AllPorts, nil
		}
		from, to, err := parseRange(s)
		if err != nil {
			return cloud.PortRange{}, err
		}
		if from == -1 && to == -1 {
			return cloud.AllPorts, nil
		}
		if from < 0 || to > 65535 || from > to {
			return cloud.PortRange{}, fmt.Errorf("port range %q out of range", s)
		}
		return cloud.PortRange{From: from, To: to}, nil
	case cloud.ProtoICMP, cloud.ProtoICMPv6:
		if strings.TrimSpace(s) == "" {
			return cloud.PortRange{From: -1, To: -1}, nil
		}
		from, to, err := parseRange(s)
		if err != nil {
			return cloud.PortRange{}, err
		}
		return cloud.PortRange{From: from, To: to}, nil
	}
	return cloud.AllPorts, nil
}

// aclPorts normalises a network ACL entry's Port: tcp/udp ranges, all
// ports (cloud.AllPorts) for "-1/-1" and for every other protocol.
func aclPorts(proto, s string) (cloud.PortRange, error) {
	if proto != cloud.ProtoTCP && proto != cloud.ProtoUDP {
		return cloud.AllPorts, nil
	}
	return rulePorts(proto, s)
}

// parseCIDR parses a CIDR block or a bare address (rules may authorise
// "119.110.100.86"), kept as the API wrote it (not masked).
func parseCIDR(s string) (netip.Prefix, error) {
	s = strings.TrimSpace(s)
	if strings.Contains(s, "/") {
		p, err := netip.ParsePrefix(s)
		if err != nil {
			return netip.Prefix{}, err
		}
		return p, nil
	}
	a, err := netip.ParseAddr(s)
	if err != nil {
		return netip.Prefix{}, fmt.Errorf("CIDR %q: %w", s, err)
	}
	a = a.WithZone("")
	return netip.PrefixFrom(a, a.BitLen()), nil
}

func normPolicy(p string) (string, error) {
	switch strings.ToLower(strings.TrimSpace(p)) {
	case "accept":
		return cloud.Accept, nil
	case "drop":
		return cloud.Drop, nil
	}
	return "", fmt.Errorf("unknown policy %q", p)
}

// normInnerAccess spells a basic group's InnerAccessPolicy "Accept" or
// "Drop" (older answers write it in lower case).
func normInnerAccess(p string) string {
	switch strings.ToLower(strings.TrimSpace(p)) {
	case "accept":
		return "Accept"
	case "drop":
		return "Drop"
	}
	return strings.TrimSpace(p)
}

// normPriority: "1" … "100"; absent is the API's default, 1.
func normPriority(p string) (int, error) {
	p = strings.TrimSpace(p)
	if p == "" {
		return 1, nil
	}
	n, err := strconv.Atoi(p)
	if err != nil {
		return 0, fmt.Errorf("priority %q: %w", p, err)
	}
	return n, nil
}

type permission = ecs.DescribeSecurityGroupAttributeResponseBodyPermissionsPermission

// convertPermission turns one rule of DescribeSecurityGroupAttribute into
// cloud rules: one, or one per entry of its port list (ports: the
// entries of PortRangeListId, when the rule uses one).
func convertPermission(group string, p *permission, ports func(id string) ([]string, error)) ([]cloud.Rule, error) {
	id := sv(p.SecurityGroupRuleId)
	fail := func(err error) ([]cloud.Rule, error) {
		return nil, fmt.Errorf("security group %s rule %q: %w", group, id, err)
	}
	r := cloud.Rule{ID: id, Group: group, Description: sv(p.Description)}
	switch d := strings.ToLower(sv(p.Direction)); d {
	case cloud.Ingress, cloud.Egress:
		r.Direction = d
	default:
		return fail(fmt.Errorf("unknown direction %q", sv(p.Direction)))
	}
	var err error
	if r.Protocol, err = normProtocol(sv(p.IpProtocol)); err != nil {
		return fail(err)
	}
	if r.Policy, err = normPolicy(sv(p.Policy)); err != nil {
		return fail(err)
	}
	if r.Priority, err = normPriority(sv(p.Priority)); err != nil {
		return fail(err)
	}
	if r.Peer, err = rulePeer(r.Direction, p); err != nil {
		return fail(err)
	}
	if r.Local, err = ruleLocal(r.Direction, p); err != nil {
		return fail(err)
	}
	if r.SourcePorts, err = sourcePorts(sv(p.SourcePortRange)); err != nil {
		return fail(err)
	}
	if list := sv(p.PortRangeListId); list != "" {
		ranges, err := ports(list)
		if err != nil {
			return nil, err
		}
		out := make([]cloud.Rule, 0, len(ranges))
		for _, s := range ranges {
			x := r
			if x.Ports, err = rulePorts(r.Protocol, s); err != nil {
				return fail(fmt.Errorf("port list %s: %w", list, err))
			}
			out = append(out, x)
		}
		return out, nil
	}
	if r.Ports, err = rulePorts(r.Protocol, sv(p.PortRange)); err != nil {
		return fail(err)
	}
	return []cloud.Rule{r}, nil
}

// rulePeer: the Source* fields of an ingress rule, the Dest* fields of an
// egress rule; exactly one of the IPv4 CIDR, the IPv6 CIDR, the prefix
// list and the group is set.
func rulePeer(direction string, p *permission) (cloud.Peer, error) {
	v4, v6, pl, group, owner := sv(p.SourceCidrIp), sv(p.Ipv6SourceCidrIp), sv(p.SourcePrefixListId), sv(p.SourceGroupId), sv(p.SourceGroupOwnerAccount)
	if direction == cloud.Egress {
		v4, v6, pl, group, owner = sv(p.DestCidrIp), sv(p.Ipv6DestCidrIp), sv(p.DestPrefixListId), sv(p.DestGroupId), sv(p.DestGroupOwnerAccount)
	}
	n := 0
	for _, s := range []string{v4, v6, pl, group} {
		if s != "" {
			n++
		}
	}
	if n != 1 {
		return cloud.Peer{}, fmt.Errorf("want exactly one peer (CIDR, IPv6 CIDR, prefix list or group), got %d", n)
	}
	switch {
	case v4 != "" || v6 != "":
		c, err := parseCIDR(v4 + v6)
		if err != nil {
			return cloud.Peer{}, err
		}
		return cloud.Peer{CIDR: c}, nil
	case pl != "":
		return cloud.Peer{PrefixList: pl}, nil
	}
	return cloud.Peer{Group: group, GroupOwner: owner}, nil
}

// ruleLocal is the group-side address of a quintuple rule: the Dest*
// CIDR of an inbound rule, the Source* CIDR of an outbound one; invalid
// when the rule names none (any address).
func ruleLocal(direction string, p *permission) (netip.Prefix, error) {
	v4, v6 := sv(p.DestCidrIp), sv(p.Ipv6DestCidrIp)
	if direction == cloud.Egress {
		v4, v6 = sv(p.SourceCidrIp), sv(p.Ipv6SourceCidrIp)
	}
	switch {
	case v4 != "" && v6 != "":
		return netip.Prefix{}, fmt.Errorf("both an IPv4 (%s) and an IPv6 (%s) destination", v4, v6)
	case v4 == "" && v6 == "":
		return netip.Prefix{}, nil
	}
	return parseCIDR(v4 + v6)
}

// sourcePorts parses a quintuple rule's SourcePortRange ("1024/65535");
// "" and "-1/-1" are any port (the zero range).
func sourcePorts(s string) (cloud.PortRange, error) {
	if s == "" {
		return cloud.PortRange{}, nil
	}
	from, to, err := parseRange(s)
	if err != nil {
		return cloud.PortRange{}, fmt.Errorf("source %w", err)
	}
	switch {
	case from == -1 && to == -1:
		return cloud.PortRange{}, nil
	case from < 0 || to > 65535 || from > to:
		return cloud.PortRange{}, fmt.Errorf("source port range %q out of range", s)
	}
	return cloud.PortRange{From: from, To: to}, nil
}

type naclBody = vpc.DescribeNetworkAclsResponseBodyNetworkAclsNetworkAcl

// convertACL turns a DescribeNetworkAcls entry into a cloud.NetworkACL:
// the entries of each direction in the API's order (their priority
// order), numbered from 1, system entries included and marked System
// (EntryType "system": they come after the custom ones); Subnets are the
// vSwitches it is bound to (or being bound to).
func convertACL(region string, a *naclBody) (*cloud.NetworkACL, error) {
	out := &cloud.NetworkACL{
		Provider: cloud.Aliyun,
		Region:   region,
		ID:       sv(a.NetworkAclId),
		VPC:      sv(a.VpcId),
		Subnets:  []string{},
		Entries:  []cloud.ACLEntry{},
	}
	if a.OwnerId != nil && *a.OwnerId != 0 {
		out.Account = strconv.FormatInt(*a.OwnerId, 10)
	}
	if a.Resources != nil {
		for _, r := range a.Resources.Resource {
			if r == nil || !strings.EqualFold(sv(r.ResourceType), "VSwitch") || strings.EqualFold(sv(r.Status), "UNBINDING") {
				continue
			}
			out.Subnets = append(out.Subnets, sv(r.ResourceId))
		}
	}
	entry := func(n int, egress bool, id, typ, proto, port, cidr, policy string) error {
		e := cloud.ACLEntry{Number: n, ID: id, Egress: egress, System: strings.EqualFold(typ, "system")}
		var err error
		if e.Protocol, err = normProtocol(proto); err == nil {
			if e.Ports, err = aclPorts(e.Protocol, port); err == nil {
				if e.CIDR, err = parseCIDR(cidr); err == nil {
					e.Policy, err = normPolicy(policy)
				}
			}
		}
		if err != nil {
			return fmt.Errorf("network ACL %s entry %q: %w", out.ID, id, err)
		}
		out.Entries = append(out.Entries, e)
		return nil
	}
	if a.IngressAclEntries != nil {
		n := 0
		for _, e := range a.IngressAclEntries.IngressAclEntry {
			if e == nil {
				continue
			}
			n++
			if err := entry(n, false, sv(e.NetworkAclEntryId), sv(e.EntryType), sv(e.Protocol), sv(e.Port), sv(e.SourceCidrIp), sv(e.Policy)); err != nil {
				return nil, err
			}
		}
	}
	if a.EgressAclEntries != nil {
		n := 0
		for _, e := range a.EgressAclEntries.EgressAclEntry {
			if e == nil {
				continue
			}
			n++
			if err := entry(n, true, sv(e.NetworkAclEntryId), sv(e.EntryType), sv(e.Protocol), sv(e.Port), sv(e.DestinationCidrIp), sv(e.Policy)); err != nil {
				return nil, err
			}
		}
	}
	return out, nil
}

package aws

import (
	"fmt"
	"net/netip"
	"strconv"
	"strings"

	"github.com/portcheck/portcheck/providers/cloud"
)

// Fix returns the aws CLI commands that admit every denial: a security
// group rule admitting its prefixes, or a network ACL entry per prefix at a
// free rule number below the entry that denies (numbers handed out to one
// denial are not handed out again to the next).
func Fix(s *cloud.Snapshot, iface *cloud.Interface, denials []cloud.Denial) []string {
	taken := map[string]map[int]bool{} // rule numbers handed out, per ACL and direction
	var lines []string
	for _, d := range denials {
		lines = append(lines, fix(s, iface, d, taken)...)
	}
	return lines
}

func fix(s *cloud.Snapshot, iface *cloud.Interface, d cloud.Denial, taken map[string]map[int]bool) []string {
	f := d.Flow
	v6 := f.Src.Is6()
	switch d.Stage {
	case cloud.StageSecurityGroup:
		g := firstGroup(iface)
		if len(d.Prefixes) == 1 && !v6 && (f.Protocol == cloud.ProtoTCP || f.Protocol == cloud.ProtoUDP) {
			return []string{fmt.Sprintf("aws ec2 authorize-security-group-ingress --group-id %s --protocol %s --port %d --cidr %s", g, f.Protocol, f.Port, d.Prefixes[0])}
		}
		return []string{fmt.Sprintf("aws ec2 authorize-security-group-ingress --group-id %s --ip-permissions '%s'", g, permission(f, d.Prefixes))}
	case cloud.StageACLIngress, cloud.StageACLEgress:
		if d.Rule == nil {
			break
		}
		egress := d.Stage == cloud.StageACLEgress
		key := fmt.Sprintf("%s %v", d.Rule.ID, egress)
		if taken[key] == nil {
			taken[key] = map[int]bool{}
		}
		numbers := cloud.FreeRuleNumbers(s.ACL(d.Rule.ID), egress, d.Rule.Number, len(d.Prefixes), taken[key])
		dir, ports := "--ingress", aclTraffic(f, false)
		if egress {
			dir, ports = "--egress", aclTraffic(f, true)
		}
		cidrFlag := "--cidr-block"
		if v6 {
			cidrFlag = "--ipv6-cidr-block"
		}
		var lines []string
		for i, p := range d.Prefixes {
			if i >= len(numbers) {
				lines = append(lines, fmt.Sprintf("no free rule number left below %s in %s of %s for %s: renumber entries (aws ec2 replace-network-acl-entry) to make room",
					entryName(d.Rule.Number), dir[2:], d.Rule.ID, p))
				continue
			}
			lines = append(lines, fmt.Sprintf("aws ec2 create-network-acl-entry --network-acl-id %s %s --rule-number %d %s %s %s --rule-action allow",
				d.Rule.ID, dir, numbers[i], ports, cidrFlag, p))
		}
		return lines
	}
	return nil
}

// firstGroup is the group a fix adds a rule to: the interface's first.
func firstGroup(iface *cloud.Interface) string {
	if len(iface.Groups) > 0 {
		return iface.Groups[0]
	}
	return "SECURITY_GROUP_ID"
}

// entryName: "entry 90", or the catch-all "*" for the implicit deny.
func entryName(n int) string {
	if n <= 0 || n > cloud.MaxAWSRuleNumber {
		return "the catch-all entry *"
	}
	return "entry " + strconv.Itoa(n)
}

// permission is an --ip-permissions value (shorthand syntax) for the
// flow's protocol and port from the prefixes.
func permission(f cloud.Flow, prefixes []netip.Prefix) string {
	var b strings.Builder
	switch f.Protocol {
	case cloud.ProtoTCP, cloud.ProtoUDP:
		fmt.Fprintf(&b, "IpProtocol=%s,FromPort=%d,ToPort=%d,", f.Protocol, f.Port, f.Port)
	case cloud.ProtoICMP, cloud.ProtoICMPv6:
		fmt.Fprintf(&b, "IpProtocol=%s,FromPort=%d,ToPort=-1,", f.Protocol, f.Port) // the type, any code
	default:
		fmt.Fprintf(&b, "IpProtocol=%s,", f.Protocol)
	}
	ranges, field := "IpRanges", "CidrIp"
	if f.Src.Is6() {
		ranges, field = "Ipv6Ranges", "CidrIpv6"
	}
	b.WriteString(ranges + "=[")
	for i, p := range prefixes {
		if i > 0 {
			b.WriteString(",")
		}
		fmt.Fprintf(&b, "{%s=%s}", field, p)
	}
	b.WriteString("]")
	return b.String()
}

// aclTraffic is the protocol and ports of an ACL entry for the flow: its
// port inbound; the client's ephemeral range for the reply.
func aclTraffic(f cloud.Flow, reply bool) string {
	switch f.Protocol {
	case cloud.ProtoTCP, cloud.ProtoUDP:
		from, to := f.Port, f.Port
		if reply {
			from, to = f.Ephemeral.From, f.Ephemeral.To
		}
		return fmt.Sprintf("--protocol %s --port-range From=%d,To=%d", f.Protocol, from, to)
	case cloud.ProtoICMP, cloud.ProtoICMPv6:
		proto := "icmp"
		if f.Protocol == cloud.ProtoICMPv6 {
			proto = "58"
		}
		typ := strconv.Itoa(f.Port)
		if reply {
			typ = "-1" // the reply's type differs from the request's
		}
		return fmt.Sprintf("--protocol %s --icmp-type-code Type=%s,Code=-1", proto, typ)
	}
	return "--protocol " + f.Protocol
}

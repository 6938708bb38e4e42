package aliyun

import (
	"fmt"
	"slices"
	"strconv"
	"strings"

	"github.com/portcheck/portcheck/providers/cloud"
)

// Fix returns the aliyun CLI commands that admit every denial: a security
// group rule per prefix (at priority 1, unless a priority 1 drop decides:
// then the rule to narrow or remove), or the network ACL entries to
// insert before the one that denies.
func Fix(s *cloud.Snapshot, iface *cloud.Interface, denials []cloud.Denial) []string {
	var lines []string
	for _, d := range denials {
		lines = append(lines, fix(s, iface, d)...)
	}
	return lines
}

func fix(s *cloud.Snapshot, iface *cloud.Interface, d cloud.Denial) []string {
	f := d.Flow
	switch d.Stage {
	case cloud.StageSecurityGroup:
		if r := ruleOf(s, d.Rule); r != nil && r.Policy == cloud.Drop && r.Priority <= 1 {
			// At equal priority a drop wins over an accept: nothing can be
			// added above a priority 1 drop.
			return []string{fmt.Sprintf("rule %s of %s drops it at the highest priority (1), which no accept rule can outrank: narrow or remove it (aliyun ecs RevokeSecurityGroup --RegionId %s --SecurityGroupId %s --SecurityGroupRuleId.1 %s)",
				r.ID, d.Rule.ID, s.Region, d.Rule.ID, r.ID)}
		}
		srcFlag := "--SourceCidrIp"
		if f.Src.Is6() {
			srcFlag = "--Ipv6SourceCidrIp"
		}
		var lines []string
		for _, p := range d.Prefixes {
			lines = append(lines, fmt.Sprintf("aliyun ecs AuthorizeSecurityGroup --RegionId %s --SecurityGroupId %s --IpProtocol %s --PortRange %s %s %s --Policy accept --Priority 1",
				s.Region, firstGroup(iface), protoName(f.Protocol), portsArg(f, false), srcFlag, p))
		}
		return lines
	case cloud.StageACLIngress, cloud.StageACLEgress:
		if d.Rule == nil {
			break
		}
		acl := s.ACL(d.Rule.ID)
		if acl == nil {
			break
		}
		egress := d.Stage == cloud.StageACLEgress
		pos := cloud.InsertPosition(acl, egress, d.Rule.Number)
		list, peer, dir, reply := "IngressAclEntries", "SourceCidrIp", "inbound", false
		if egress {
			list, peer, dir, reply = "EgressAclEntries", "DestinationCidrIp", "outbound", true
		}
		var b strings.Builder
		fmt.Fprintf(&b, "aliyun vpc UpdateNetworkAclEntries --RegionId %s --NetworkAclId %s --Update%s true", s.Region, acl.ID, list)
		for i, p := range d.Prefixes {
			n := pos + i
			fmt.Fprintf(&b, " --%s.%d.Policy accept --%s.%d.Protocol %s --%s.%d.Port %s --%s.%d.%s %s",
				list, n, list, n, protoName(f.Protocol), list, n, portsArg(f, reply), list, n, peer, p)
		}
		// The list is ordered by N and replaced whole: say where the
		// current custom entries go.
		switch custom := customEntries(acl, egress); {
		case custom == 0:
		case pos > custom:
			fmt.Fprintf(&b, " (the call replaces every custom %s entry: pass the current %s too, %s)", dir, entryRange(1, custom), atPositions(1, custom))
		case pos == 1:
			fmt.Fprintf(&b, " (the call replaces every custom %s entry: pass the current %s too, after the new ones)", dir, entryRange(1, custom))
		default:
			fmt.Fprintf(&b, " (the call replaces every custom %s entry: pass the current entries too, %s %s and %s after the new ones)",
				dir, entryRange(1, pos-1), atPositions(1, pos-1), entryRange(pos, custom))
		}
		return []string{b.String()}
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

// entryRange: "entry 2", "entries 2-5".
func entryRange(from, to int) string {
	if from == to {
		return "entry " + strconv.Itoa(from)
	}
	return fmt.Sprintf("entries %d-%d", from, to)
}

func atPositions(from, to int) string {
	if from == to {
		return "at its position"
	}
	return "at their positions"
}

func customEntries(acl *cloud.NetworkACL, egress bool) int {
	n := 0
	for _, e := range acl.Entries {
		if e.Egress == egress && !e.System {
			n++
		}
	}
	return n
}

// ruleOf finds the security group rule a verdict names.
func ruleOf(s *cloud.Snapshot, ref *cloud.RuleRef) *cloud.Rule {
	if ref == nil || ref.RuleID == "" {
		return nil
	}
	g := s.Groups[ref.ID]
	if g == nil {
		return nil
	}
	i := slices.IndexFunc(g.Rules, func(r cloud.Rule) bool { return r.ID == ref.RuleID })
	if i < 0 {
		return nil
	}
	return &g.Rules[i]
}

// protoName names a protocol as Alibaba Cloud's APIs take it.
func protoName(p string) string {
	switch p {
	case cloud.ProtoTCP, cloud.ProtoUDP, cloud.ProtoICMP, cloud.ProtoICMPv6:
		return p
	case "47":
		return "gre"
	}
	return "all"
}

// portsArg: "443/443" (the client's range for a reply), "-1/-1" for
// protocols without ports.
func portsArg(f cloud.Flow, reply bool) string {
	if f.Protocol != cloud.ProtoTCP && f.Protocol != cloud.ProtoUDP {
		return "-1/-1"
	}
	if reply {
		return fmt.Sprintf("%d/%d", f.Ephemeral.From, f.Ephemeral.To)
	}
	return fmt.Sprintf("%d/%d", f.Port, f.Port)
}

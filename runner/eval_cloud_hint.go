package runner

import (
	"fmt"
	"net/netip"
	"slices"
	"strconv"
	"strings"

	"github.com/portcheck/portcheck/internal/addrrange"
	"github.com/portcheck/portcheck/providers/cloud"
)

// This file writes the fix of a denied L6 check: the cloud's CLI commands
// that let every denied part of the declared sources in, at the stage and
// before the rule that denies each part.

// hintIndent starts each further command of a hint, under the first one
// in the text report ("  Fix: ").
const hintIndent = "\n       "

// deniedFix is what one fix must admit: the addresses denied at one stage
// by one rule (or default), as the fewest CIDR prefixes.
type deniedFix struct {
	stage    string
	rule     *cloud.RuleRef
	flow     cloud.Flow // the flow of the first denied address
	prefixes []netip.Prefix
}

// ruleKey tells the rules (or defaults) that deny apart.
func ruleKey(stage string, r *cloud.RuleRef) string {
	if r == nil {
		return stage
	}
	return fmt.Sprintf("%s %s %s %s %d %s", stage, r.Kind, r.ID, r.RuleID, r.Number, r.Default)
}

// deniedFixes groups the denied stretches by the stage and rule that deny
// them, in address order of their first stretch, each group's addresses
// as the fewest prefixes that cover them and nothing else.
func deniedFixes(denied []cloudStretch) []deniedFix {
	var out []deniedFix
	index := map[string]int{}
	ranges := map[string][][2]netip.Addr{}
	for _, st := range denied {
		k := ruleKey(st.verdict.Stage, st.verdict.Rule)
		if _, ok := index[k]; !ok {
			index[k] = len(out)
			out = append(out, deniedFix{stage: st.verdict.Stage, rule: st.verdict.Rule, flow: st.flow})
		}
		rs := ranges[k]
		if n := len(rs); n > 0 && rs[n-1][1].Next() == st.lo {
			rs[n-1][1] = st.hi // adjacent stretches merge
		} else {
			rs = append(rs, [2]netip.Addr{st.lo, st.hi})
		}
		ranges[k] = rs
	}
	for k, i := range index {
		for _, r := range ranges[k] {
			out[i].prefixes = append(out[i].prefixes, addrrange.Prefixes(r[0], r[1])...)
		}
	}
	return out
}

// deniedPrefixes are all the denied addresses as the fewest prefixes.
func deniedPrefixes(denied []cloudStretch) []netip.Prefix {
	var out []netip.Prefix
	var lo, hi netip.Addr
	flush := func() {
		if lo.IsValid() {
			out = append(out, addrrange.Prefixes(lo, hi)...)
		}
	}
	for _, st := range denied {
		if lo.IsValid() && hi.Next() == st.lo {
			hi = st.hi
			continue
		}
		flush()
		lo, hi = st.lo, st.hi
	}
	flush()
	return out
}

// prefixesText lists prefixes, at most max of them and how many more.
func prefixesText(ps []netip.Prefix, max int) string {
	var parts []string
	for i, p := range ps {
		if i == max {
			parts = append(parts, fmt.Sprintf("and %d more", len(ps)-max))
			break
		}
		parts = append(parts, p.String())
	}
	return strings.Join(parts, ", ")
}

// cloudHint is the cloud's CLI commands that let every denied part in,
// one per line (further lines indented under the first).
func cloudHint(s *cloud.Snapshot, iface *cloud.Interface, denied []cloudStretch) string {
	taken := map[string]map[int]bool{} // AWS rule numbers handed out, per ACL and direction
	var lines []string
	for _, d := range deniedFixes(denied) {
		if s.Provider == cloud.Aliyun {
			lines = append(lines, aliyunFix(s, iface, d)...)
		} else {
			lines = append(lines, awsFix(s, iface, d, taken)...)
		}
	}
	if len(lines) == 0 {
		return "check the security groups and network ACLs of " + iface.ID
	}
	return strings.Join(lines, hintIndent)
}

func aclByID(s *cloud.Snapshot, id string) *cloud.NetworkACL {
	for _, a := range s.ACLs {
		if a != nil && a.ID == id {
			return a
		}
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

// awsFix: a security group rule admitting the prefixes, or a network ACL
// entry per prefix at a free rule number below the entry that denies.
func awsFix(s *cloud.Snapshot, iface *cloud.Interface, d deniedFix, taken map[string]map[int]bool) []string {
	f := d.flow
	v6 := f.Src.Is6()
	switch d.stage {
	case cloud.StageSecurityGroup:
		g := firstGroup(iface)
		if len(d.prefixes) == 1 && !v6 && (f.Protocol == cloud.ProtoTCP || f.Protocol == cloud.ProtoUDP) {
			return []string{fmt.Sprintf("aws ec2 authorize-security-group-ingress --group-id %s --protocol %s --port %d --cidr %s", g, f.Protocol, f.Port, d.prefixes[0])}
		}
		return []string{fmt.Sprintf("aws ec2 authorize-security-group-ingress --group-id %s --ip-permissions '%s'", g, awsPermission(f, d.prefixes))}
	case cloud.StageACLIngress, cloud.StageACLEgress:
		if d.rule == nil {
			break
		}
		egress := d.stage == cloud.StageACLEgress
		acl := aclByID(s, d.rule.ID)
		key := fmt.Sprintf("%s %v", d.rule.ID, egress)
		if taken[key] == nil {
			taken[key] = map[int]bool{}
		}
		numbers := cloud.FreeRuleNumbers(acl, egress, d.rule.Number, len(d.prefixes), taken[key])
		dir, ports := "--ingress", awsACLTraffic(f, false)
		if egress {
			dir, ports = "--egress", awsACLTraffic(f, true)
		}
		cidrFlag := "--cidr-block"
		if v6 {
			cidrFlag = "--ipv6-cidr-block"
		}
		var lines []string
		for i, p := range d.prefixes {
			if i >= len(numbers) {
				lines = append(lines, fmt.Sprintf("no free rule number left below %s in %s of %s for %s: renumber entries (aws ec2 replace-network-acl-entry) to make room",
					awsEntryName(d.rule.Number), dir[2:], d.rule.ID, p))
				continue
			}
			lines = append(lines, fmt.Sprintf("aws ec2 create-network-acl-entry --network-acl-id %s %s --rule-number %d %s %s %s --rule-action allow",
				d.rule.ID, dir, numbers[i], ports, cidrFlag, p))
		}
		return lines
	}
	return nil
}

// awsEntryName: "entry 90", or the catch-all "*" for the implicit deny.
func awsEntryName(n int) string {
	if n <= 0 || n > cloud.MaxAWSRuleNumber {
		return "the catch-all entry *"
	}
	return "entry " + strconv.Itoa(n)
}

// awsPermission is an --ip-permissions value (shorthand syntax) for the
// flow's protocol and port from the prefixes.
func awsPermission(f cloud.Flow, prefixes []netip.Prefix) string {
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

// awsACLTraffic is the protocol and ports of an ACL entry for the flow:
// its port inbound; the client's ephemeral range for the reply.
func awsACLTraffic(f cloud.Flow, reply bool) string {
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

// aliyunFix: a security group rule per prefix, or the network ACL entries
// to insert before the one that denies.
func aliyunFix(s *cloud.Snapshot, iface *cloud.Interface, d deniedFix) []string {
	f := d.flow
	switch d.stage {
	case cloud.StageSecurityGroup:
		if r := aliyunRule(s, d.rule); r != nil && r.Policy == cloud.Drop && r.Priority <= 1 {
			// At equal priority a drop wins over an accept: nothing can be
			// added above a priority 1 drop.
			return []string{fmt.Sprintf("rule %s of %s drops it at the highest priority (1), which no accept rule can outrank: narrow or remove it (aliyun ecs RevokeSecurityGroup --RegionId %s --SecurityGroupId %s --SecurityGroupRuleId.1 %s)",
				r.ID, d.rule.ID, s.Region, d.rule.ID, r.ID)}
		}
		srcFlag := "--SourceCidrIp"
		if f.Src.Is6() {
			srcFlag = "--Ipv6SourceCidrIp"
		}
		var lines []string
		for _, p := range d.prefixes {
			lines = append(lines, fmt.Sprintf("aliyun ecs AuthorizeSecurityGroup --RegionId %s --SecurityGroupId %s --IpProtocol %s --PortRange %s %s %s --Policy accept --Priority 1",
				s.Region, firstGroup(iface), aliyunProto(f.Protocol), aliyunPorts(f, false), srcFlag, p))
		}
		return lines
	case cloud.StageACLIngress, cloud.StageACLEgress:
		if d.rule == nil {
			break
		}
		acl := aclByID(s, d.rule.ID)
		if acl == nil {
			break
		}
		egress := d.stage == cloud.StageACLEgress
		pos := cloud.InsertPosition(acl, egress, d.rule.Number)
		list, peer, dir, reply := "IngressAclEntries", "SourceCidrIp", "inbound", false
		if egress {
			list, peer, dir, reply = "EgressAclEntries", "DestinationCidrIp", "outbound", true
		}
		var b strings.Builder
		fmt.Fprintf(&b, "aliyun vpc UpdateNetworkAclEntries --RegionId %s --NetworkAclId %s --Update%s true", s.Region, acl.ID, list)
		for i, p := range d.prefixes {
			n := pos + i
			fmt.Fprintf(&b, " --%s.%d.Policy accept --%s.%d.Protocol %s --%s.%d.Port %s --%s.%d.%s %s",
				list, n, list, n, aliyunProto(f.Protocol), list, n, aliyunPorts(f, reply), list, n, peer, p)
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

// aliyunRule finds the security group rule a verdict names.
func aliyunRule(s *cloud.Snapshot, ref *cloud.RuleRef) *cloud.Rule {
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

// aliyunProto names a protocol as Alibaba Cloud's APIs take it.
func aliyunProto(p string) string {
	switch p {
	case cloud.ProtoTCP, cloud.ProtoUDP, cloud.ProtoICMP, cloud.ProtoICMPv6:
		return p
	case "47":
		return "gre"
	}
	return "all"
}

// aliyunPorts: "443/443" (the client's range for a reply), "-1/-1" for
// protocols without ports.
func aliyunPorts(f cloud.Flow, reply bool) string {
	if f.Protocol != cloud.ProtoTCP && f.Protocol != cloud.ProtoUDP {
		return "-1/-1"
	}
	if reply {
		return fmt.Sprintf("%d/%d", f.Ephemeral.From, f.Ephemeral.To)
	}
	return fmt.Sprintf("%d/%d", f.Port, f.Port)
}

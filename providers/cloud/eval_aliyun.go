package cloud

import (
	"fmt"
	"slices"
	"strings"
)

// EvaluateAliyun judges an inbound flow to iface the way Alibaba Cloud
// does:
//
//	verdict = [network ACL ingress] ∧ security groups ∧ [network ACL egress (the reply)]
//
// Security groups — ECS documentation, "Security group rules"
// (https://www.alibabacloud.com/help/en/ecs/user-guide/security-group-rules),
// AuthorizeSecurityGroup API reference and "Basic security groups and
// enterprise security groups":
//   - security groups are stateful: once an inbound packet is allowed, the
//     corresponding outbound packets are too, so only inbound rules are
//     judged;
//   - the rules of all the groups of the ENI are pooled and sorted by
//     Priority, 1 to 100, a smaller value first ("A smaller value indicates
//     a higher priority"); "When multiple security group rules have the
//     same priority, drop rules take precedence"; the first matching rule
//     decides (accept or drop); Priority 0 (unset) is read as the API's
//     default, 1;
//   - a basic ("normal") group whose internal communication policy
//     (InnerAccessPolicy) is Accept, the default, admits its own members
//     before any custom rule is looked at: ModifySecurityGroupPolicy
//     (https://www.alibabacloud.com/help/en/ecs/developer-reference/api-ecs-2014-05-26-modifysecuritygrouppolicy):
//     "When InnerAccessPolicy is set to Accept for a security group, the
//     instances in the security group can communicate with each other. In
//     this case, the Accept internal access control policy takes precedence
//     over user-created security group rules" (later revisions: "other
//     custom access rules are ignored"). With Drop, custom rules decide
//     between members like for anyone else;
//   - no rule matched: the group type's implicit default, a deny (basic
//     groups admit their members as above; an enterprise group's members
//     do not reach each other);
//   - protocols tcp/udp/icmp/icmpv6/all; "-1/-1" ports are all ports; peers
//     are an IPv4 or IPv6 CIDR, a prefix list or a source group, resolved
//     as in EvaluateAWS (membership via the private addresses of
//     s.Interfaces; a group whose members the read listed has no other
//     members, an assumption the verdict states; unknown → Indeterminate).
//     An unresolved rule only makes the verdict Indeterminate when it could
//     change it: when every unresolved rule met before the decision has the
//     decision's policy, the decision stands either way;
//   - quintuple rules ("Security group quintuple rules") also name the
//     destination address (Rule.Local: DestCidrIp, Ipv6DestCidrIp) and the
//     source port range (Rule.SourcePorts: SourcePortRange) and match only
//     traffic within both. The client may use any port of its ephemeral
//     range, so when rules name source ports the range is judged piece by
//     piece, and the flow is allowed only if every piece is (like the
//     network ACL reply below); the reason names the first piece denied.
//
// Network ACLs — VPC documentation, "Network ACL overview"
// (https://www.alibabacloud.com/help/en/vpc/network-acl-overview): a
// vSwitch may have a network ACL or none (unlike AWS where every subnet
// has one): with none there is no ACL stage. With one: entries in order
// (Number), first match decides, stateless, so the reply must pass the
// egress entries for the client's whole ephemeral range, exactly as in
// EvaluateAWS; the port range of both directions is the packet's
// destination port. ACLs "do not control traffic between ECS instances
// that are in the same vSwitch": skipped when the source is an interface
// of the snapshot in the same vSwitch or an address in the vSwitch's CIDR
// blocks (s.Subnets, from DescribeVSwitches).
func EvaluateAliyun(s *Snapshot, iface *Interface, f Flow) Verdict {
	c := newEvalCtx(s, iface, f)
	if why := c.checkFlow(); why != "" {
		return Verdict{Indeterminate: why}
	}
	sg := c.withAssumptions(c.aliyunSecurityGroupsByClientPort())
	acl := aclFor(s, iface.Subnet)
	if acl == nil {
		return c.combine([]stageResult{sg})
	}
	if same, why := c.sameSubnetSource(); same {
		return c.combine([]stageResult{sg}, joinWithin("network ACLs do not filter traffic within vSwitch "+iface.Subnet, why))
	}
	return c.combine([]stageResult{c.aclIngress(acl, Aliyun), sg, c.aclEgressReply(acl, Aliyun)})
}

// clientPortPieces splits the flow's ephemeral range at the source port
// ranges of the interface's inbound rules: within one piece every rule's
// source ports match all the ports or none. Flows without ports, and
// interfaces without such rules, have one piece (nil).
func (c *evalCtx) clientPortPieces() []PortRange {
	if !isPortProto(c.f.Protocol) {
		return nil
	}
	eph := c.f.Ephemeral
	cuts := []int{eph.From}
	for _, gid := range c.iface.Groups {
		g := c.s.Groups[gid]
		if g == nil {
			continue
		}
		for i := range g.Rules {
			r := &g.Rules[i]
			if r.Direction != Ingress || anyPorts(r.SourcePorts) {
				continue
			}
			for _, p := range []int{r.SourcePorts.From, r.SourcePorts.To + 1} {
				if eph.From < p && p <= eph.To {
					cuts = append(cuts, p)
				}
			}
		}
	}
	if len(cuts) == 1 {
		return nil
	}
	slices.Sort(cuts)
	cuts = slices.Compact(cuts)
	out := make([]PortRange, len(cuts))
	for i, from := range cuts {
		to := eph.To
		if i+1 < len(cuts) {
			to = cuts[i+1] - 1
		}
		out[i] = PortRange{from, to}
	}
	return out
}

// aliyunSecurityGroupsByClientPort judges the security groups for every
// piece of the client's port range (clientPortPieces): the first piece
// denied decides, else the first undecidable one, else the flow is allowed
// (by the rules of every piece).
func (c *evalCtx) aliyunSecurityGroupsByClientPort() stageResult {
	pieces := c.clientPortPieces()
	if pieces == nil {
		return c.aliyunSecurityGroups()
	}
	var allowed, unknownAt *stageResult
	var allowing []RuleRef
	for i, p := range pieces {
		c.srcPorts, c.srcPortsSet = p, true
		st := c.aliyunSecurityGroups()
		ports := fmt.Sprintf("client ports %d-%d", p.From, p.To)
		switch st.state {
		case stDeny:
			// Name the ports the same rule denies from here on.
			hi := p.To
			for _, q := range pieces[i+1:] {
				c.srcPorts = q
				if next := c.aliyunSecurityGroups(); next.state != stDeny || *next.rule != *st.rule {
					break
				}
				hi = q.To
			}
			if eph := c.f.Ephemeral; p.From != eph.From || hi != eph.To {
				st.reason = joinReason(st.reason, fmt.Sprintf("for client ports %d-%d of %s", p.From, hi, portsText(eph)))
			}
			return st
		case stUnknown:
			if unknownAt == nil {
				st.reason += " (" + ports + ")"
				unknownAt = &st
			}
		default:
			if allowed == nil {
				allowed = &st
			}
			for _, r := range st.allowing {
				if !slices.Contains(allowing, r) {
					allowing = append(allowing, r)
				}
			}
		}
	}
	if unknownAt != nil {
		return *unknownAt
	}
	allowed.allowing = allowing
	return *allowed
}

// poolKey orders the pooled rules: priority (1 first), drop before
// accept at equal priority, then the interface's group order and the
// API's rule order.
type poolKey struct {
	prio, drop, group, rule int
}

func (a poolKey) less(b poolKey) bool {
	switch {
	case a.prio != b.prio:
		return a.prio < b.prio
	case a.drop != b.drop:
		return a.drop < b.drop
	case a.group != b.group:
		return a.group < b.group
	}
	return a.rule < b.rule
}

func aliyunPriority(p int) int {
	if p <= 0 {
		return 1
	}
	return p
}

// pending is an unresolved rule.
type pending struct {
	key    poolKey
	policy string
	why    string
}

// aliyunSecurityGroups judges the groups of the interface: a basic
// group's internal communication Accept first, then the first matching
// rule of the pooled rules in priority order — found in a single pass, the
// matching rule with the least sort key, instead of sorting the pool:
// linear time, nothing copied — then the groups' default.
func (c *evalCtx) aliyunSecurityGroups() stageResult {
	groups := make([]*SecurityGroup, 0, len(c.iface.Groups))
	for _, gid := range c.iface.Groups {
		g := c.s.Groups[gid]
		if g == nil {
			// Its rules could sit at any priority with either policy:
			// nothing can be decided without them.
			return stageResult{stage: StageSecurityGroup, state: stUnknown,
				reason: fmt.Sprintf("security group %s of interface %s is not in the snapshot", gid, c.iface.ID)}
		}
		groups = append(groups, g)
	}

	// Internal communication Accept takes precedence over custom rules
	// (see EvaluateAliyun).
	var innerWhy string
	for _, g := range groups {
		if !basicGroup(g) || !innerAccept(g) {
			continue
		}
		switch m, w := c.memberOf(g.ID, ""); m {
		case yes:
			ref := RuleRef{Kind: "security_group", ID: g.ID,
				Default: fmt.Sprintf("basic group %s: internal communication policy Accept admits its members, before any custom rule", g.ID)}
			return stageResult{stage: StageSecurityGroup, state: stAllow, rule: &ref, allowing: []RuleRef{ref}}
		case unknown:
			if innerWhy == "" {
				innerWhy = w + " (internal communication policy Accept of a basic group comes before its rules)"
			}
		}
	}

	var (
		found    bool
		best     poolKey
		bestRule *Rule
		bestGID  string
		unres    []pending
	)
	for gi, g := range groups {
		for i := range g.Rules {
			r := &g.Rules[i]
			if r.Direction != Ingress {
				continue
			}
			k := poolKey{prio: aliyunPriority(r.Priority), drop: 1, group: gi, rule: i}
			if policyOf(r.Policy) == Drop {
				k.drop = 0
			}
			if found && !k.less(best) {
				continue // cannot come first
			}
			if !ruleTraffic(r.Protocol, r.Ports, &c.f) {
				continue
			}
			switch m, why := c.matchRule(r); m {
			case yes:
				found, best, bestRule, bestGID = true, k, r, g.ID
			case unknown:
				unres = append(unres, pending{k, keyPolicy(k), why})
			}
		}
	}
	// Unresolved rules sorting before the decision matter only if their
	// policy differs from it; report the first such.
	conflict := func(policy string) *pending {
		var first *pending
		for i := range unres {
			p := &unres[i]
			if found && !p.key.less(best) {
				continue
			}
			if p.policy != policy && (first == nil || p.key.less(first.key)) {
				first = p
			}
		}
		return first
	}
	decide := func(policy string, ref RuleRef, reason string) stageResult {
		if p := conflict(policy); p != nil {
			return stageResult{stage: StageSecurityGroup, state: stUnknown,
				reason: p.why + fmt.Sprintf(" (an unresolved %s rule precedes the one that decides %s)", p.policy, policy)}
		}
		if policy == Drop {
			if innerWhy != "" {
				return stageResult{stage: StageSecurityGroup, state: stUnknown, reason: innerWhy}
			}
			return stageResult{stage: StageSecurityGroup, state: stDeny, rule: &ref, reason: reason}
		}
		return stageResult{stage: StageSecurityGroup, state: stAllow, rule: &ref, allowing: []RuleRef{ref}}
	}
	if found {
		ref := sgRef(bestGID, bestRule)
		return decide(keyPolicy(best), ref, fmt.Sprintf("%s dropped by security group %s rule %s (%s)", c.flowText(), ref.ID, ref.RuleID, ref.Text))
	}

	// No rule matched: the group types' default, a deny (an ENI's groups
	// are all of one type: Alibaba does not mix basic and enterprise
	// groups on an instance).
	ids := strings.Join(c.iface.Groups, ",")
	ref := RuleRef{Kind: "security_group", ID: ids, Default: aliyunDefaultText(groups)}
	return decide(Drop, ref, fmt.Sprintf("no rule of security group(s) %s matches %s: %s", ids, c.flowText(), ref.Default))
}

func basicGroup(g *SecurityGroup) bool {
	return g.Type == "" || strings.EqualFold(g.Type, "normal") || strings.EqualFold(g.Type, "basic")
}

// innerAccept: the internal communication policy of a basic group,
// Accept by default.
func innerAccept(g *SecurityGroup) bool {
	return g.InnerAccessPolicy == "" || strings.EqualFold(g.InnerAccessPolicy, Accept)
}

func aliyunDefaultText(groups []*SecurityGroup) string {
	for _, g := range groups {
		if !basicGroup(g) {
			return "enterprise group: inbound denied by default, members do not reach each other"
		}
	}
	for _, g := range groups {
		if innerAccept(g) {
			return "basic group: inbound denied by default except from members of the same group"
		}
	}
	return "basic group: inbound denied by default (internal communication policy Drop)"
}

func keyPolicy(k poolKey) string {
	if k.drop == 0 {
		return Drop
	}
	return Accept
}

package cloud

import (
	"fmt"
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
//   - no rule matched: the group type's implicit default. A basic
//     ("normal") group denies inbound traffic except from instances of the
//     same group when its internal communication policy
//     (InnerAccessPolicy) is Accept, the default; an enterprise group
//     denies inbound traffic and its members do not reach each other;
//   - protocols tcp/udp/icmp/icmpv6/all; "-1/-1" ports are all ports; peers
//     are an IPv4 or IPv6 CIDR, a prefix list or a source group, resolved
//     as in EvaluateAWS (membership via the private addresses of
//     s.Interfaces; unknown → Indeterminate). An unresolved rule only makes
//     the verdict Indeterminate when it could change it: when every
//     unresolved rule met before the decision has the decision's policy,
//     the decision stands either way.
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
// of the snapshot in the same vSwitch.
func EvaluateAliyun(s *Snapshot, iface *Interface, f Flow) Verdict {
	c := newEvalCtx(s, iface, f)
	if why := c.checkFlow(); why != "" {
		return Verdict{Indeterminate: why}
	}
	sg := c.aliyunSecurityGroups()
	acl := aclFor(s, iface.Subnet)
	switch {
	case acl == nil:
		return combine([]stageResult{sg})
	case c.sameSubnetSource():
		return combine([]stageResult{sg}, fmt.Sprintf("network ACLs do not filter traffic within vSwitch %s", iface.Subnet))
	}
	return combine([]stageResult{c.aclIngress(acl, Aliyun), sg, c.aclEgressReply(acl, Aliyun)})
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

// aliyunSecurityGroups finds the first matching rule of the pooled,
// sorted rules in a single pass — the matching rule with the least sort
// key — instead of sorting the pool: linear time, nothing copied.
func (c *evalCtx) aliyunSecurityGroups() stageResult {
	groups := make([]*SecurityGroup, 0, len(c.iface.Groups))
	var (
		found    bool
		best     poolKey
		bestRule *Rule
		bestGID  string
		unres    []pending
	)
	for gi, gid := range c.iface.Groups {
		g := c.s.Groups[gid]
		if g == nil {
			// Its rules could sit at any priority with either policy:
			// nothing can be decided without them.
			return stageResult{stage: StageSecurityGroup, state: stUnknown,
				reason: fmt.Sprintf("security group %s of interface %s is not in the snapshot", gid, c.iface.ID)}
		}
		groups = append(groups, g)
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
			switch m, why := c.matchPeer(r.Peer); m {
			case yes:
				found, best, bestRule, bestGID = true, k, r, gid
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
			return stageResult{stage: StageSecurityGroup, state: stDeny, rule: &ref, reason: reason}
		}
		return stageResult{stage: StageSecurityGroup, state: stAllow, rule: &ref, allowing: []RuleRef{ref}}
	}
	if found {
		ref := sgRef(bestGID, bestRule)
		return decide(keyPolicy(best), ref, fmt.Sprintf("%s dropped by security group %s rule %s (%s)", c.flowText(), ref.ID, ref.RuleID, ref.Text))
	}

	// No rule matched: the group types' defaults. An ENI's groups are all
	// of one type (Alibaba does not mix basic and enterprise groups on an
	// instance); a basic group with inner access Accept admits its members.
	ids := strings.Join(c.iface.Groups, ",")
	var why string
	for _, g := range groups {
		if !basicGroup(g) || !innerAccept(g) {
			continue
		}
		switch m, w := c.memberOf(g.ID, ""); m {
		case yes:
			ref := RuleRef{Kind: "security_group", ID: g.ID,
				Default: fmt.Sprintf("basic group %s: internal communication policy Accept admits its members", g.ID)}
			return decide(Accept, ref, "")
		case unknown:
			if why == "" {
				why = w
			}
		}
	}
	if why != "" {
		// The default itself is unknown: report the first unresolved rule
		// met on the way, if any, else the membership.
		if len(unres) > 0 {
			first := &unres[0]
			for i := range unres {
				if unres[i].key.less(first.key) {
					first = &unres[i]
				}
			}
			why = first.why
		} else {
			why += " (basic group internal communication)"
		}
		return stageResult{stage: StageSecurityGroup, state: stUnknown, reason: why}
	}
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

package cloud

import (
	"fmt"
	"strings"
)

// EvaluateAWS judges an inbound flow to iface the way AWS does:
//
//	verdict = network ACL ingress ∧ security groups ∧ network ACL egress (the reply)
//
// Security groups — Amazon VPC User Guide, "Security group rules"
// (https://docs.aws.amazon.com/vpc/latest/userguide/security-group-rules.html):
//   - rules are allow-only ("You can specify allow rules, but not deny
//     rules"); a rule with policy drop, which AWS cannot express, is ignored;
//   - security groups are stateful: the response to an allowed inbound
//     request is allowed whatever the outbound rules, so only ingress rules
//     are judged;
//   - with several groups on an interface "the rules from each security
//     group are effectively aggregated to create one set of rules", so any
//     rule of any group allowing the flow allows it;
//   - protocol -1 (all) matches every protocol and port; tcp/udp rules
//     cover a port range; icmp/icmpv6 rules give a type and code (-1 = any);
//   - a source is a CIDR (of the flow's family), a prefix list (its
//     entries), or a security group: "allows traffic based on the private
//     IP addresses of the network interfaces that are associated with the
//     source security group" — resolved against s.Interfaces. When no
//     interface of the snapshot owns the source address, it is no member
//     if the read covered the group's members (a Complete snapshot, or a
//     group whose members the reader listed, MembersListed), with that
//     assumption in Verdict.Assumptions; otherwise (or for another
//     account's group) membership is unknown and the verdict
//     Indeterminate, unless another rule allows.
//
// Network ACLs — Amazon VPC User Guide, "Network ACL rules"
// (https://docs.aws.amazon.com/vpc/latest/userguide/nacl-rules.html) and
// "Control subnet traffic with network access control lists":
//   - every subnet is associated with exactly one network ACL; if the
//     snapshot has none for iface.Subnet the ACL stages are Indeterminate
//     (never guessed);
//   - "Rules are evaluated starting with the lowest numbered rule. As soon
//     as a rule matches traffic, it's applied regardless of any
//     higher-numbered rule that might contradict it"; the last rule, "*",
//     denies what no numbered rule matched — DescribeNetworkAcls returns it
//     as number 32767 (0.0.0.0/0, and ::/0 when the VPC has IPv6) and it
//     is honoured as an ordinary entry; absent, the same implicit deny
//     applies;
//   - port ranges apply to tcp (6) and udp (17) only; protocol -1 matches
//     all;
//   - network ACLs are stateless: the reply must be allowed by the egress
//     entries, towards the client's ephemeral ports (f.Ephemeral). Choice:
//     a client may use any port of its range, so the reply is allowed only
//     if the whole range is; the Reason names the first denied port's rule
//     and ports;
//   - ACLs filter traffic entering and leaving the subnet, not traffic
//     within it: when the source is an interface of the snapshot in the
//     same subnet, or an address in the subnet's CIDR blocks
//     (s.Subnets), the ACL stages are skipped.
//
// A definite deny at any stage is the answer even if another stage is
// unknown; the first denying stage (in the order above) is reported.
func EvaluateAWS(s *Snapshot, iface *Interface, f Flow) Verdict {
	c := newEvalCtx(s, iface, f)
	if why := c.checkFlow(); why != "" {
		return Verdict{Indeterminate: why}
	}
	v := c.evaluateAWS()
	if v.Allowed {
		// An allowed flow rests on the rule that allows it, never on
		// another rule's source group not containing the client.
		v.Assumptions = nil
	}
	return v
}

func (c *evalCtx) evaluateAWS() Verdict {
	s, iface := c.s, c.iface
	var stages []stageResult
	if same, why := c.sameSubnetSource(); same {
		stages = append(stages, c.withAssumptions(c.awsSecurityGroups()))
		return c.combine(stages, joinWithin("network ACLs do not filter traffic within subnet "+iface.Subnet, why))
	}
	acl := aclFor(s, iface.Subnet)
	if acl == nil {
		why := fmt.Sprintf("no network ACL known for subnet %s", iface.Subnet)
		if iface.Subnet == "" {
			why = fmt.Sprintf("no network ACL known: interface %s has no subnet", iface.ID)
		}
		stages = append(stages,
			stageResult{stage: StageACLIngress, state: stUnknown, reason: why},
			c.withAssumptions(c.awsSecurityGroups()),
			stageResult{stage: StageACLEgress, state: stUnknown, reason: why})
		return c.combine(stages)
	}
	in, out := c.aclIngress(acl, AWS), c.aclEgressReply(acl, AWS)
	stages = append(stages, in, c.withAssumptions(c.awsSecurityGroups()), out)
	return c.combine(stages)
}

// awsSecurityGroups judges the union of the ingress rules of every group
// on the interface: the first allowing rule (groups in interface order,
// rules in API order) is reported.
func (c *evalCtx) awsSecurityGroups() stageResult {
	var firstUnknown string
	for _, gid := range c.iface.Groups {
		g := c.s.Groups[gid]
		if g == nil {
			if firstUnknown == "" {
				firstUnknown = fmt.Sprintf("security group %s of interface %s is not in the snapshot", gid, c.iface.ID)
			}
			continue
		}
		for i := range g.Rules {
			r := &g.Rules[i]
			if r.Direction != Ingress || policyOf(r.Policy) == Drop {
				continue
			}
			if !ruleTraffic(r.Protocol, r.Ports, &c.f) {
				continue
			}
			switch m, why := c.matchPeer(r.Peer); m {
			case yes:
				ref := sgRef(gid, r)
				return stageResult{stage: StageSecurityGroup, state: stAllow, rule: &ref, allowing: []RuleRef{ref}}
			case unknown:
				if firstUnknown == "" {
					firstUnknown = why
				}
			}
		}
	}
	if firstUnknown != "" {
		return stageResult{stage: StageSecurityGroup, state: stUnknown, reason: firstUnknown}
	}
	ids := strings.Join(c.iface.Groups, ",")
	ref := RuleRef{Kind: "security_group", ID: ids, Default: "no security group rule allows it"}
	return stageResult{stage: StageSecurityGroup, state: stDeny, rule: &ref,
		reason: fmt.Sprintf("no rule of security group(s) %s allows %s", ids, c.flowText())}
}

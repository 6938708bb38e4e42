package cloud

import (
	"cmp"
	"fmt"
	"net/netip"
	"slices"
	"strconv"
	"strings"
)

// This file holds what EvaluateAWS and EvaluateAliyun share: matching a
// flow against a rule's protocol, ports and peer (with group membership
// and prefix list resolution), the stateless network ACL walk (ingress
// first match, egress reply over the whole ephemeral range), and the
// combination of stages into a Verdict.

// tri is a three-valued match: a rule whose peer cannot be resolved
// (unknown prefix list, unresolved group membership) neither matches nor
// fails to match.
type tri uint8

const (
	no tri = iota
	yes
	unknown
)

// evalCtx is one evaluation: the snapshot, the destination interface and
// the flow, normalised, plus lazily computed facts about the source.
type evalCtx struct {
	s     *Snapshot
	iface *Interface
	f     Flow

	srcLooked bool
	srcIfaces []*Interface // interfaces of the snapshot with f.Src as a private address

	// srcPorts is the part of the client's ephemeral range being judged
	// (Alibaba Cloud quintuple rules match on the source port); valid when
	// srcPortsSet.
	srcPorts    PortRange
	srcPortsSet bool

	// nonMembers are the groups the source was taken to be no member of
	// (Verdict.Assumptions), in the order met; worded only for a verdict.
	nonMembers []nonMember
}

// nonMember: the source is no member of group because no interface the
// read listed — every one of the region (complete), or the group's
// members — holds its address.
type nonMember struct {
	group    string
	complete bool
}

// assumeNonMember records an assumption the verdict rests on (once).
func (c *evalCtx) assumeNonMember(group string, complete bool) {
	if nm := (nonMember{group, complete}); !slices.Contains(c.nonMembers, nm) {
		c.nonMembers = append(c.nonMembers, nm)
	}
}

// assumptions words the assumptions met: each non-membership, then what
// the cloud's listings cannot show.
func (c *evalCtx) assumptions() []string {
	if len(c.nonMembers) == 0 {
		return nil
	}
	out := make([]string, 0, len(c.nonMembers)+1)
	for _, nm := range c.nonMembers {
		if nm.complete {
			out = append(out, fmt.Sprintf("%s is no member of %s (no interface of the region the read listed holds it)", c.f.Src, nm.group))
		} else {
			out = append(out, fmt.Sprintf("%s is no member of %s (no interface among the group's members the read listed holds it)", c.f.Src, nm.group))
		}
	}
	return append(out, listingGap(c.s.Provider))
}

func newEvalCtx(s *Snapshot, iface *Interface, f Flow) *evalCtx {
	f.Src = f.Src.Unmap()
	f.Dst = f.Dst.Unmap()
	f.Protocol = normProto(f.Protocol)
	return &evalCtx{s: s, iface: iface, f: f}
}

// normProto maps protocol spellings that may reach us unnormalised (the
// readers normalise, but flows and declarations come from users) to the
// model's names.
func normProto(p string) string {
	switch p {
	case ProtoTCP, ProtoUDP, ProtoICMP, ProtoICMPv6, ProtoAll:
		return p
	}
	switch strings.ToLower(p) {
	case "-1", "all":
		return ProtoAll
	case "6", "tcp":
		return ProtoTCP
	case "17", "udp":
		return ProtoUDP
	case "1", "icmp":
		return ProtoICMP
	case "58", "icmpv6", "ipv6-icmp":
		return ProtoICMPv6
	}
	return strings.ToLower(p)
}

// isPortProto says whether ports are meaningful for the protocol.
func isPortProto(p string) bool { return p == ProtoTCP || p == ProtoUDP }

func isICMP(p string) bool { return p == ProtoICMP || p == ProtoICMPv6 }

// inRange: a port range with a negative From (AWS and Alibaba "-1") is
// every port.
func inRange(r PortRange, p int) bool {
	if r.From < 0 {
		return true
	}
	return r.From <= p && p <= r.To
}

// ruleTraffic says whether a security group rule's protocol and ports
// cover the flow. Protocol "all" matches everything whatever its ports.
// For icmp/icmpv6 Ports.From is the type and Ports.To the code, -1 = any;
// a Flow carries the ICMP type only (in Port) and its code is taken to be
// 0 — the only code of echo request, which is what a reachability probe
// sends. Any other protocol number has no ports and matches on the number.
func ruleTraffic(proto string, ports PortRange, f *Flow) bool {
	proto = normProto(proto)
	if proto == ProtoAll {
		return true
	}
	if proto != f.Protocol {
		return false
	}
	switch {
	case isPortProto(proto):
		return inRange(ports, f.Port)
	case isICMP(proto):
		if ports.From >= 0 && ports.From != f.Port {
			return false
		}
		return ports.To < 0 || ports.To == 0
	}
	return true
}

// sourceInterfaces are the interfaces in the snapshot that own the source
// address as a private address (AWS and Alibaba resolve a group peer
// against the private addresses of its members' interfaces only).
func (c *evalCtx) sourceInterfaces() []*Interface {
	if c.srcLooked {
		return c.srcIfaces
	}
	c.srcLooked = true
	for i := range c.s.Interfaces {
		in := &c.s.Interfaces[i]
		for _, a := range in.PrivateIPs {
			if a.Unmap() == c.f.Src {
				c.srcIfaces = append(c.srcIfaces, in)
				break
			}
		}
	}
	return c.srcIfaces
}

// memberOf resolves whether the flow's source is a member of group: an
// interface of the snapshot with the source as a private address uses the
// group. When no interface of the snapshot has the address, the answer is
// "no" when the read covered the group's members — the snapshot lists
// every interface of the region (Complete), or the reader listed the
// group's members (MembersListed) — and the group is not owned by another
// account (whose interfaces this account's read does not list); the
// verdict then states that assumption. Otherwise it is unknown.
func (c *evalCtx) memberOf(group, owner string) (tri, string) {
	ifs := c.sourceInterfaces()
	if len(ifs) > 0 {
		for _, in := range ifs {
			if slices.Contains(in.Groups, group) {
				return yes, ""
			}
		}
		return no, ""
	}
	if owner != "" && c.s.Account != "" && owner != c.s.Account {
		return unknown, fmt.Sprintf("source is a group: membership of %s (account %s) not resolved (the snapshot covers account %s only)", group, owner, c.s.Account)
	}
	g := c.s.Groups[group]
	switch {
	case g == nil && slices.Contains(c.s.MissingGroups, group):
		// The API said the group does not exist: the rule is stale and
		// matches no one.
		return no, ""
	case c.s.Complete:
		c.assumeNonMember(group, true)
		return no, ""
	case g != nil && g.MembersListed:
		c.assumeNonMember(group, false)
		return no, ""
	}
	return unknown, fmt.Sprintf("source is a group: membership of %s not resolved (%s is not an interface of the snapshot, and the read did not list the group's members)", group, c.f.Src)
}

// listingGap says which interfaces a cloud's listings do not show.
func listingGap(provider string) string {
	switch provider {
	case AWS:
		return "the listing (DescribeNetworkInterfaces) shows this account's interfaces only: an interface of another account that uses the group (a security group shared with the participants of a shared VPC) is not in it"
	case Aliyun:
		return "the listings (DescribeInstances, DescribeNetworkInterfaces) show this account's ECS instances and ENIs only: an ENI that another Alibaba Cloud service manages may be missing, and other accounts' interfaces are"
	}
	return "interfaces the cloud's listings do not show are taken to be absent"
}

// matchPeer says whether the flow's source is the rule's peer.
func (c *evalCtx) matchPeer(p Peer) (tri, string) {
	switch {
	case p.CIDR.IsValid():
		// Contains is false across families: an IPv4 CIDR never matches
		// an IPv6 source and vice versa.
		if p.CIDR.Contains(c.f.Src) {
			return yes, ""
		}
		return no, ""
	case p.PrefixList != "":
		pl := c.s.PrefixLists[p.PrefixList]
		if pl == nil {
			return unknown, fmt.Sprintf("prefix list %s not resolved", p.PrefixList)
		}
		for _, pr := range pl.CIDRs {
			if pr.Contains(c.f.Src) {
				return yes, ""
			}
		}
		return no, ""
	case p.Group != "":
		return c.memberOf(p.Group, p.GroupOwner)
	}
	return no, ""
}

// matchLocal says whether the flow's destination lies in a quintuple
// rule's Local block (invalid: any). The destination is the flow's when it
// is a private address of the interface; otherwise (a public address, or
// none given) it is one of the interface's private addresses of the flow's
// family, and only an answer they all share is given.
func (c *evalCtx) matchLocal(p netip.Prefix) (tri, string) {
	if !p.IsValid() {
		return yes, ""
	}
	dsts := []netip.Addr{c.f.Dst}
	if !c.f.Dst.IsValid() || !slices.ContainsFunc(c.iface.PrivateIPs, func(a netip.Addr) bool { return a.Unmap() == c.f.Dst }) {
		dsts = dsts[:0]
		for _, a := range c.iface.PrivateIPs {
			if a = a.Unmap(); a.Is4() == c.f.Src.Is4() {
				dsts = append(dsts, a)
			}
		}
	}
	in := 0
	for _, d := range dsts {
		if p.Contains(d) {
			in++
		}
	}
	switch {
	case len(dsts) > 0 && in == len(dsts):
		return yes, ""
	case in == 0:
		return no, ""
	}
	return unknown, fmt.Sprintf("a rule limited to destination %s: which private address of %s the flow reaches is not known", p, c.iface.ID)
}

// matchSourcePorts says whether a quintuple rule's source port range
// covers the client's port (the part of its ephemeral range being judged;
// see EvaluateAliyun). A packet without ports never matches a rule that
// names source ports.
func (c *evalCtx) matchSourcePorts(r PortRange) (tri, string) {
	if anyPorts(r) {
		return yes, ""
	}
	if !isPortProto(c.f.Protocol) || !c.srcPortsSet {
		return no, ""
	}
	seg := c.srcPorts
	switch {
	case r.From <= seg.From && seg.To <= r.To:
		return yes, ""
	case seg.To < r.From || r.To < seg.From:
		return no, ""
	}
	return unknown, fmt.Sprintf("client ports %d-%d only partly in a rule's source ports %d-%d", seg.From, seg.To, r.From, r.To)
}

// anyPorts: an unset (zero) or negative source port range is every port.
func anyPorts(r PortRange) bool { return r == (PortRange{}) || r.From < 0 || r.To < 0 }

// matchRule says whether a rule's source ports, destination (quintuple
// rules) and peer match the flow: the three-valued AND, with the reason of
// the first unknown. The peer is resolved last, only when the rest can
// match, so that no assumption is made about a group the rule cannot
// apply to anyway.
func (c *evalCtx) matchRule(r *Rule) (tri, string) {
	out, why := c.matchSourcePorts(r.SourcePorts)
	if out == no {
		return no, ""
	}
	switch m, w := c.matchLocal(r.Local); {
	case m == no:
		return no, ""
	case m == unknown && out == yes:
		out, why = unknown, w
	}
	switch m, w := c.matchPeer(r.Peer); {
	case m == no:
		return no, ""
	case m == unknown && out == yes:
		out, why = unknown, w
	}
	return out, why
}

// sameSubnetSource says whether the source is in the destination's
// subnet: an interface of the snapshot in that subnet, or an address in
// one of the subnet's CIDR blocks (a client the read did not list).
// Network ACLs filter traffic entering and leaving a subnet, not traffic
// within it (AWS: "Control subnet traffic with network access control
// lists"; Alibaba: "Network ACLs do not control traffic between ECS
// instances in the same vSwitch"). The second result says why, for the
// verdict's reason.
func (c *evalCtx) sameSubnetSource() (bool, string) {
	if c.iface.Subnet == "" {
		return false, ""
	}
	for _, in := range c.sourceInterfaces() {
		if in.Subnet == c.iface.Subnet {
			return true, ""
		}
	}
	for i := range c.s.Subnets {
		sn := &c.s.Subnets[i]
		if sn.ID != c.iface.Subnet {
			continue
		}
		for _, p := range sn.CIDRs {
			if p.Contains(c.f.Src) {
				return true, fmt.Sprintf("%s is in its CIDR block %s", c.f.Src, p)
			}
		}
	}
	return false, ""
}

// aclFor is the network ACL associated with a subnet, nil if none. A
// subnet has at most one ACL in both clouds; should a snapshot list two,
// the first wins.
func aclFor(s *Snapshot, subnet string) *NetworkACL {
	if subnet == "" {
		return nil
	}
	for _, a := range s.ACLs {
		if a != nil && slices.Contains(a.Subnets, subnet) {
			return a
		}
	}
	return nil
}

// aclEntries are the entries of one direction in ascending Number order
// (stable: equal numbers keep the API's order).
func aclEntries(acl *NetworkACL, egress bool) []*ACLEntry {
	out := make([]*ACLEntry, 0, len(acl.Entries))
	for i := range acl.Entries {
		if acl.Entries[i].Egress == egress {
			out = append(out, &acl.Entries[i])
		}
	}
	if !slices.IsSortedFunc(out, cmpEntry) {
		slices.SortStableFunc(out, cmpEntry)
	}
	return out
}

func cmpEntry(a, b *ACLEntry) int { return cmp.Compare(a.Number, b.Number) }

// aclProto says whether an entry's protocol covers the flow's.
func aclProto(e *ACLEntry, proto string) bool {
	p := normProto(e.Protocol)
	return p == ProtoAll || p == proto
}

// aclEntryPorts is the port range of an entry for the flow's protocol:
// ports apply to tcp and udp entries only; any other entry (protocol all
// included) covers every port.
func aclEntryPorts(e *ACLEntry) PortRange {
	if isPortProto(normProto(e.Protocol)) {
		if e.Ports.From < 0 {
			return AllPorts
		}
		return e.Ports
	}
	return AllPorts
}

// stage states.
const (
	stAllow = iota
	stDeny
	stUnknown
)

type stageResult struct {
	stage    string
	state    int
	rule     *RuleRef  // deciding rule (allow or deny)
	allowing []RuleRef // allowing rules (more than one for an egress reply covered piecewise)
	reason   string
	// assumptions the stage's answer rests on (Verdict.Assumptions).
	assumptions []string
}

// withAssumptions hands the assumptions met while judging a stage to its
// result, and starts afresh for the next stage.
func (c *evalCtx) withAssumptions(st stageResult) stageResult {
	st.assumptions = c.assumptions()
	c.nonMembers = c.nonMembers[:0]
	return st
}

// aclIngress walks the ingress entries by number: the first entry whose
// protocol, source CIDR and (tcp/udp) destination port match decides. No
// match is a deny (AWS returns the "*" entry as number 32767 and it is
// honoured as an entry; when absent the same implicit deny applies).
func (c *evalCtx) aclIngress(acl *NetworkACL, provider string) stageResult {
	f := &c.f
	for _, e := range aclEntries(acl, false) {
		if !aclProto(e, f.Protocol) || !e.CIDR.Contains(f.Src) {
			continue
		}
		if isPortProto(f.Protocol) && !inRange(aclEntryPorts(e), f.Port) {
			continue
		}
		ref := aclRef(acl, e, provider)
		if policyOf(e.Policy) == Drop {
			return stageResult{stage: StageACLIngress, state: stDeny, rule: &ref,
				reason: fmt.Sprintf("inbound %s denied by network ACL %s rule %s (%s)", c.flowText(), acl.ID, entryNum(e, provider), ref.Text)}
		}
		return stageResult{stage: StageACLIngress, state: stAllow, rule: &ref, allowing: []RuleRef{ref}}
	}
	ref := RuleRef{Kind: "network_acl", ID: acl.ID, Default: "implicit deny"}
	return stageResult{stage: StageACLIngress, state: stDeny, rule: &ref,
		reason: fmt.Sprintf("inbound %s denied by network ACL %s: no entry matches (implicit deny)", c.flowText(), acl.ID)}
}

// aclSegment is a part of the ephemeral range and the entry that decides
// it (nil: no entry, implicit deny).
type aclSegment struct {
	r PortRange
	e *ACLEntry
}

// aclEgressReply judges the reply from the server to the client through
// the egress entries. Network ACLs are stateless, so the reply — from the
// server's port to the client's ephemeral port — must match an egress
// entry allowing it (for both inbound and outbound entries the port range
// is the packet's destination port, here the client's port).
//
// Choice: the client may pick any port of its ephemeral range, so the
// reply is allowed only if EVERY port of f.Ephemeral is allowed. Entries
// are walked by number; an entry decides the part of the (still
// undecided) range it covers; what no entry covers is implicitly denied.
// When part of the range is denied, the reason names the lowest denied
// port's entry and the contiguous ports it denies there.
//
// For protocols without ports (icmp: the echo reply) the first egress
// entry matching protocol and the client's address decides.
func (c *evalCtx) aclEgressReply(acl *NetworkACL, provider string) stageResult {
	f := &c.f
	entries := aclEntries(acl, true)
	if !isPortProto(f.Protocol) {
		for _, e := range entries {
			if !aclProto(e, f.Protocol) || !e.CIDR.Contains(f.Src) {
				continue
			}
			ref := aclRef(acl, e, provider)
			if policyOf(e.Policy) == Drop {
				return stageResult{stage: StageACLEgress, state: stDeny, rule: &ref,
					reason: fmt.Sprintf("reply to %s denied by network ACL %s rule %s (%s)", f.Src, acl.ID, entryNum(e, provider), ref.Text)}
			}
			return stageResult{stage: StageACLEgress, state: stAllow, rule: &ref, allowing: []RuleRef{ref}}
		}
		ref := RuleRef{Kind: "network_acl", ID: acl.ID, Default: "implicit deny"}
		return stageResult{stage: StageACLEgress, state: stDeny, rule: &ref,
			reason: fmt.Sprintf("reply to %s denied by network ACL %s: no egress entry matches (implicit deny)", f.Src, acl.ID)}
	}

	eph := f.Ephemeral
	var segs []aclSegment
	remaining := []PortRange{eph}
	var next []PortRange
	for _, e := range entries {
		if len(remaining) == 0 {
			break
		}
		if !aclProto(e, f.Protocol) || !e.CIDR.Contains(f.Src) {
			continue
		}
		er := aclEntryPorts(e)
		next = next[:0]
		for _, r := range remaining {
			lo, hi := max(r.From, er.From), min(r.To, er.To)
			if lo > hi {
				next = append(next, r)
				continue
			}
			segs = append(segs, aclSegment{PortRange{lo, hi}, e})
			if r.From < lo {
				next = append(next, PortRange{r.From, lo - 1})
			}
			if hi < r.To {
				next = append(next, PortRange{hi + 1, r.To})
			}
		}
		remaining, next = next, remaining
	}
	for _, r := range remaining {
		segs = append(segs, aclSegment{r, nil})
	}
	slices.SortFunc(segs, func(a, b aclSegment) int { return cmp.Compare(a.r.From, b.r.From) })

	target := fmt.Sprintf("%s:%d-%d", addrText(f.Src), eph.From, eph.To)
	for i, sg := range segs {
		if sg.e != nil && policyOf(sg.e.Policy) != Drop {
			continue
		}
		// Extend over the following segments decided the same way.
		hi := sg.r.To
		for j := i + 1; j < len(segs) && segs[j].e == sg.e && segs[j].r.From == hi+1; j++ {
			hi = segs[j].r.To
		}
		if sg.e == nil {
			ref := RuleRef{Kind: "network_acl", ID: acl.ID, Default: "implicit deny"}
			return stageResult{stage: StageACLEgress, state: stDeny, rule: &ref,
				reason: fmt.Sprintf("reply to %s denied by %s implicit deny for ports %d-%d (no egress entry allows them)", target, acl.ID, sg.r.From, hi)}
		}
		ref := aclRef(acl, sg.e, provider)
		return stageResult{stage: StageACLEgress, state: stDeny, rule: &ref,
			reason: fmt.Sprintf("reply to %s denied by %s rule %s for ports %d-%d", target, acl.ID, entryNum(sg.e, provider), sg.r.From, hi)}
	}
	var allowing []RuleRef
	var seen []*ACLEntry
	for _, sg := range segs {
		if !slices.Contains(seen, sg.e) {
			seen = append(seen, sg.e)
			allowing = append(allowing, aclRef(acl, sg.e, provider))
		}
	}
	return stageResult{stage: StageACLEgress, state: stAllow, rule: &allowing[0], allowing: allowing}
}

// aclStages evaluates the ingress entries and the reply through the
// egress entries of acl.
func (c *evalCtx) aclStages(acl *NetworkACL, provider string) []stageResult {
	return []stageResult{c.aclIngress(acl, provider), c.aclEgressReply(acl, provider)}
}

// checkFlow validates and completes the flow: an unset ephemeral range
// (zero value) is EphemeralAWS, 1024-65535, the range both clouds tell
// network ACL authors to open for replies because it covers every common
// client OS — the strictest assumption, which never hides a blocked reply.
func (c *evalCtx) checkFlow() string {
	if c.s == nil {
		return "no snapshot"
	}
	f := &c.f
	if !f.Src.IsValid() {
		return "flow has no source address"
	}
	if f.Protocol == "" || f.Protocol == ProtoAll {
		return fmt.Sprintf("flow protocol %q is not a single protocol", f.Protocol)
	}
	if isPortProto(f.Protocol) {
		if f.Port < 0 || f.Port > 65535 {
			return fmt.Sprintf("flow port %d out of range", f.Port)
		}
		if f.Ephemeral == (PortRange{}) {
			f.Ephemeral = EphemeralAWS
		}
		if e := f.Ephemeral; e.From < 0 || e.To > 65535 || e.From > e.To {
			return fmt.Sprintf("flow ephemeral range %d-%d is invalid", e.From, e.To)
		}
		c.srcPorts, c.srcPortsSet = f.Ephemeral, true
	}
	if c.iface == nil {
		return "no interface"
	}
	return ""
}

// combine ANDs the stages: the first stage that denies decides (a definite
// deny is an answer even when another stage is unknown); else the first
// unknown stage makes the verdict Indeterminate; else the flow is allowed,
// with Stage/Rule naming the security group rule and Allowing the rule of
// every stage in order.
//
// Assumptions are those of the denying stage, or of every stage of an
// allowed flow.
func (c *evalCtx) combine(stages []stageResult, notes ...string) Verdict {
	note := strings.Join(notes, "; ")
	for _, st := range stages {
		if st.state == stDeny {
			return Verdict{Stage: st.stage, Rule: st.rule, Reason: joinReason(st.reason, note), Assumptions: st.assumptions}
		}
	}
	for _, st := range stages {
		if st.state == stUnknown {
			return Verdict{Indeterminate: st.reason, Stage: st.stage, Rule: st.rule, Reason: note}
		}
	}
	v := Verdict{Allowed: true}
	var parts []string
	for _, st := range stages {
		v.Allowing = append(v.Allowing, st.allowing...)
		if st.stage == StageSecurityGroup || v.Rule == nil {
			v.Stage, v.Rule = st.stage, st.rule
		}
		for _, r := range st.allowing {
			parts = append(parts, st.stage+": "+refText(r))
		}
		for _, a := range st.assumptions {
			if !slices.Contains(v.Assumptions, a) {
				v.Assumptions = append(v.Assumptions, a)
			}
		}
	}
	v.Reason = joinReason("allowed by "+strings.Join(parts, ", "), note)
	return v
}

// joinWithin adds a parenthesised detail to a note, when there is one.
func joinWithin(note, detail string) string {
	if detail == "" {
		return note
	}
	return note + " (" + detail + ")"
}

func joinReason(a, b string) string {
	if b == "" {
		return a
	}
	if a == "" {
		return b
	}
	return a + "; " + b
}

func refText(r RuleRef) string {
	id := r.ID
	if r.RuleID != "" {
		id += " " + r.RuleID
	}
	switch {
	case r.Text != "":
		return id + " (" + r.Text + ")"
	case r.Default != "":
		return id + " (" + r.Default + ")"
	}
	return id
}

func (c *evalCtx) flowText() string {
	f := &c.f
	switch {
	case isPortProto(f.Protocol):
		return fmt.Sprintf("%s %d from %s", f.Protocol, f.Port, f.Src)
	case isICMP(f.Protocol):
		return fmt.Sprintf("%s type %d from %s", f.Protocol, f.Port, f.Src)
	}
	return fmt.Sprintf("%s from %s", f.Protocol, f.Src)
}

func addrText(a netip.Addr) string {
	if a.Is6() {
		return "[" + a.String() + "]"
	}
	return a.String()
}

// entryNum is how the cloud shows an entry's number: AWS's catch-all
// entries ("*": 32767, and 32768 for ::/0 in some API answers; user rules
// are 1-32766) are "*".
func entryNum(e *ACLEntry, provider string) string {
	if provider == AWS && e.Number >= 32767 {
		return "*"
	}
	return strconv.Itoa(e.Number)
}

func aclRef(acl *NetworkACL, e *ACLEntry, provider string) RuleRef {
	return RuleRef{Kind: "network_acl", ID: acl.ID, RuleID: e.ID, Number: e.Number, Text: aclText(e, provider)}
}

// aclText is an entry in one line: "#100 allow tcp 0-65535 from 0.0.0.0/0"
// (AWS words: allow/deny) or "#1 accept tcp 22 from 10.0.0.0/8" (Alibaba
// words: accept/drop).
func aclText(e *ACLEntry, provider string) string {
	var b strings.Builder
	b.WriteString("#")
	b.WriteString(entryNum(e, provider))
	b.WriteString(" ")
	switch {
	case provider == AWS && policyOf(e.Policy) == Drop:
		b.WriteString("deny")
	case provider == AWS:
		b.WriteString("allow")
	default:
		b.WriteString(policyOf(e.Policy))
	}
	b.WriteString(" ")
	p := normProto(e.Protocol)
	b.WriteString(p)
	if isPortProto(p) {
		b.WriteString(" ")
		b.WriteString(portsText(aclEntryPorts(e)))
	}
	if e.Egress {
		b.WriteString(" to ")
	} else {
		b.WriteString(" from ")
	}
	b.WriteString(e.CIDR.String())
	return b.String()
}

func portsText(r PortRange) string {
	if r.From < 0 {
		return "0-65535"
	}
	if r.From == r.To {
		return strconv.Itoa(r.From)
	}
	return strconv.Itoa(r.From) + "-" + strconv.Itoa(r.To)
}

func icmpText(r PortRange) string {
	t, c := "any", "any"
	if r.From >= 0 {
		t = strconv.Itoa(r.From)
	}
	if r.To >= 0 {
		c = strconv.Itoa(r.To)
	}
	return "type " + t + " code " + c
}

func peerText(p Peer) string {
	switch {
	case p.CIDR.IsValid():
		return p.CIDR.String()
	case p.PrefixList != "":
		return p.PrefixList
	case p.Group != "":
		if p.GroupOwner != "" {
			return p.GroupOwner + "/" + p.Group
		}
		return p.Group
	}
	return "?"
}

// ruleText is a security group rule in one line: "tcp 443 from 0.0.0.0/0
// accept", "all from sg-1 accept", "icmp type 8 code any from ::/0
// accept"; Alibaba rules add "priority N".
func ruleText(r *Rule) string {
	return ruleLine(r.Direction, normProto(r.Protocol), r.Ports, peerText(r.Peer)+quintupleText(r.Direction, r.Local, r.SourcePorts), policyOf(r.Policy), r.Priority)
}

// quintupleText writes the parts of a quintuple rule after its peer: the
// group-side address ("to" it for an inbound rule, "from" it for an
// outbound one) and the source ports: " to 10.0.0.5/32 source ports 1-1023".
func quintupleText(direction string, local netip.Prefix, sourcePorts PortRange) string {
	var b strings.Builder
	if local.IsValid() {
		if direction == Egress {
			b.WriteString(" from ")
		} else {
			b.WriteString(" to ")
		}
		b.WriteString(local.String())
	}
	if !anyPorts(sourcePorts) {
		b.WriteString(" source ports ")
		b.WriteString(portsText(sourcePorts))
	}
	return b.String()
}

// ruleLine writes a rule's parts in one line: protocol, ports or ICMP
// type/code, "from" or "to" the peer, policy and priority when set.
func ruleLine(direction, proto string, ports PortRange, peer, policy string, priority int) string {
	var b strings.Builder
	b.WriteString(proto)
	switch {
	case isPortProto(proto):
		b.WriteString(" ")
		b.WriteString(portsText(ports))
	case isICMP(proto):
		b.WriteString(" ")
		b.WriteString(icmpText(ports))
	}
	if direction == Egress {
		b.WriteString(" to ")
	} else {
		b.WriteString(" from ")
	}
	b.WriteString(peer)
	b.WriteString(" ")
	b.WriteString(policy)
	if priority != 0 {
		b.WriteString(" priority ")
		b.WriteString(strconv.Itoa(priority))
	}
	return b.String()
}

// policyOf normalises a policy: "" is accept (AWS rules; declarations).
func policyOf(p string) string {
	switch strings.ToLower(p) {
	case "", Accept, "allow":
		return Accept
	case Drop, "deny":
		return Drop
	}
	return strings.ToLower(p)
}

func sgRef(gid string, r *Rule) RuleRef {
	if r.Group != "" {
		gid = r.Group
	}
	return RuleRef{Kind: "security_group", ID: gid, RuleID: r.ID, Text: ruleText(r)}
}

package runner

import (
	"context"
	"fmt"
	"net/netip"
	"slices"
	"strings"
	"sync"

	"github.com/portcheck/portcheck/config"
	"github.com/portcheck/portcheck/internal/addrrange"
	"github.com/portcheck/portcheck/providers/cloud"
	"github.com/portcheck/portcheck/providers/cloud/aliyun"
	"github.com/portcheck/portcheck/providers/cloud/aws"
)

type cloudSnapshot struct {
	once sync.Once
	snap *cloud.Snapshot
	err  error
}

// CloudEvidence is what an L6 result was judged on.
type CloudEvidence struct {
	Provider  string          `json:"provider"`
	Account   string          `json:"account,omitempty"`
	Region    string          `json:"region"`
	Interface cloud.Interface `json:"interface"`
	Flow      cloud.Flow      `json:"flow"`
	Verdict   cloud.Verdict   `json:"verdict"`
	// Drift of the declared security groups on the interface.
	Drift []GroupDrift `json:"drift,omitempty"`
}

// GroupDrift is the drift of one declared group.
type GroupDrift struct {
	Group    string        `json:"group"`
	Declared string        `json:"declared"` // file:line of the security_group block
	Drift    []cloud.Drift `json:"drift"`
}

type cloudExpected struct {
	Verdict   string          `json:"verdict"` // "allow"
	Target    string          `json:"target"`
	Ephemeral cloud.PortRange `json:"ephemeral"`
}

// cloudKey identifies one read: a provider and a target.
type cloudKey struct{ provider, target string }

// readCloud reads what a target needs from its cloud, once per run.
func (v *verifier) readCloud(ctx context.Context, p *config.CloudProvider, target string, groups []string) *cloudSnapshot {
	k := cloudKey{p.Type, target}
	v.mu.Lock()
	s, ok := v.clouds[k]
	if !ok {
		s = &cloudSnapshot{}
		v.clouds[k] = s
	}
	v.mu.Unlock()
	s.once.Do(func() { s.snap, s.err = v.opts.CloudRead(ctx, p, []string{target}, groups, false) })
	return s
}

// CloudReader reads a cloud snapshot: the interfaces of targets (or every
// interface of the region with all), the groups they use and the named
// groups, the network ACLs and prefix lists.
type CloudReader func(ctx context.Context, p *config.CloudProvider, targets, groups []string, all bool) (*cloud.Snapshot, error)

// ReadCloud reads a snapshot through the provider's SDK: the interfaces of
// targets (or, with all, every interface of the region) and the groups,
// network ACLs and prefix lists they use, plus the named groups.
func ReadCloud(ctx context.Context, p *config.CloudProvider, targets, groups []string, all bool) (*cloud.Snapshot, error) {
	switch p.Type {
	case cloud.AWS:
		return aws.Read(ctx, aws.Config{Region: p.Region, Profile: p.Profile, AssumeRoleARN: p.AssumeRoleARN, Endpoint: p.Endpoint},
			aws.Scope{Targets: targets, All: all, Groups: groups})
	case cloud.Aliyun:
		return aliyun.Read(ctx, aliyun.Config{Region: p.Region, Endpoint: p.Endpoint, VPCEndpoint: p.VPCEndpoint},
			aliyun.Scope{Targets: targets, All: all, Groups: groups})
	}
	return nil, fmt.Errorf("unknown cloud provider %q", p.Type)
}

func resolveTarget(s *cloud.Snapshot, provider, target string) ([]cloud.Interface, error) {
	if provider == cloud.Aliyun {
		return aliyun.Resolve(s, target)
	}
	return aws.Resolve(s, target)
}

// declaredGroups returns the declared security groups of a provider.
func declaredGroups(cfg []*config.SecurityGroup, p *config.CloudProvider) []*config.SecurityGroup {
	var out []*config.SecurityGroup
	for _, g := range cfg {
		if g.Provider == p {
			out = append(out, g)
		}
	}
	return out
}

func (v *verifier) runCloud(ctx context.Context, ep *config.Endpoint, c *Check) *Result {
	x := ep.Expect.Cloud
	target := x.Target
	if target == "" {
		target = c.Target.Address
	}
	var groupIDs []string
	for _, g := range declaredGroups(v.groups, x.Provider) {
		groupIDs = append(groupIDs, g.ID)
	}
	cs := v.readCloud(ctx, x.Provider, target, groupIDs)
	if cs.err != nil {
		return errorResult(c, "reading "+x.Provider.Type, cs.err)
	}
	ifaces, err := resolveTarget(cs.snap, x.Provider.Type, target)
	if err != nil {
		return errorResult(c, "finding "+target, err)
	}
	src, err := cloudSource(c)
	if err != nil {
		return errorResult(c, "building the flow", err)
	}
	dst, _ := netip.ParseAddr(c.Target.Address)
	iface := pickInterface(ifaces, dst)
	if iface == nil {
		return errorResult(c, "finding "+target, fmt.Errorf("no network interface found for %s", target))
	}
	if !slices.Contains(iface.PrivateIPs, dst) && !slices.Contains(iface.PublicIPs, dst) && len(iface.PrivateIPs) > 0 {
		dst = iface.PrivateIPs[0] // the endpoint address is a NAT or load balancer address: judge the interface's own
	}
	evaluate := cloud.EvaluateAWS
	if x.Provider.Type == cloud.Aliyun {
		evaluate = cloud.EvaluateAliyun
	}
	flow := func(src netip.Addr) cloud.Flow {
		return cloud.Flow{Src: src, Dst: dst, Protocol: c.Target.Protocol, Port: c.Target.Port,
			Ephemeral: cloud.PortRange{From: x.Ephemeral.From, To: x.Ephemeral.To}}
	}
	// A declared source range is judged at every address where a rule,
	// ACL entry, prefix list or member interface could change the answer;
	// the first one not allowed (or undecidable) settles the check.
	f := flow(src)
	verdict := evaluate(cs.snap, iface, f)
	if c.Sources.IsValid() {
		for _, a := range cloudSamples(cs.snap, c.Sources) {
			ff := flow(a)
			vv := evaluate(cs.snap, iface, ff)
			if !vv.Allowed || vv.Indeterminate != "" {
				f, verdict = ff, vv
				break
			}
		}
	}
	return judgeCloud(c, cs.snap, iface, f, verdict, v.groups, x.Provider)
}

// cloudSamples returns one address per stretch of p that the snapshot's
// CIDRs (rule peers, prefix lists, ACL entries) and member interfaces
// cannot tell apart.
func cloudSamples(s *cloud.Snapshot, p netip.Prefix) []netip.Addr {
	cuts := addrrange.Within(p)
	for _, g := range s.Groups {
		for _, r := range g.Rules {
			if r.Peer.CIDR.IsValid() {
				cuts.Prefix(r.Peer.CIDR)
			}
		}
	}
	for _, pl := range s.PrefixLists {
		for _, q := range pl.CIDRs {
			cuts.Prefix(q)
		}
	}
	for _, acl := range s.ACLs {
		for _, e := range acl.Entries {
			if e.CIDR.IsValid() {
				cuts.Prefix(e.CIDR)
			}
		}
	}
	for _, ifc := range s.Interfaces {
		for _, a := range ifc.PrivateIPs {
			cuts.Range(a, a)
		}
	}
	return cuts.Addrs()
}

// cloudSource is the client address of a check: the declared source (its
// first address) or the vantage host's declared address of the family.
func cloudSource(c *Check) (netip.Addr, error) {
	dst, err := netip.ParseAddr(c.Target.Address)
	if err != nil {
		return netip.Addr{}, err
	}
	if c.Sources.IsValid() {
		return c.Sources.Addr(), nil
	}
	if a, ok := sameFamily(c.FromAddrs, dst); ok {
		return a, nil
	}
	return netip.Addr{}, fmt.Errorf("vantage host %s has no %s address", c.From, family(dst))
}

// pickInterface prefers the interface that holds the endpoint's address.
func pickInterface(ifaces []cloud.Interface, dst netip.Addr) *cloud.Interface {
	for i := range ifaces {
		if slices.Contains(ifaces[i].PrivateIPs, dst) || slices.Contains(ifaces[i].PublicIPs, dst) {
			return &ifaces[i]
		}
	}
	if len(ifaces) > 0 {
		return &ifaces[0]
	}
	return nil
}

func judgeCloud(c *Check, s *cloud.Snapshot, iface *cloud.Interface, f cloud.Flow, verdict cloud.Verdict, groups []*config.SecurityGroup, p *config.CloudProvider) *Result {
	ev := CloudEvidence{Provider: s.Provider, Account: s.Account, Region: s.Region, Interface: *iface, Flow: f, Verdict: verdict}
	r := &Result{Check: c, Evidence: &ev, Expected: cloudExpected{Verdict: "allow", Target: iface.ID, Ephemeral: f.Ephemeral}}
	what := fmt.Sprintf("%s/%d from %s to %s (%s)", f.Protocol, f.Port, f.Src, f.Dst, iface.ID)
	switch {
	case verdict.Indeterminate != "":
		r.Status = StatusError
		r.Summary = fmt.Sprintf("cannot decide %s: %s", what, verdict.Indeterminate)
		return r
	case !verdict.Allowed:
		r.Status, r.Cause = StatusFail, CauseCloudBlocked
		r.Summary = fmt.Sprintf("%s is denied at %s by %s", what, verdict.Stage, cloudRuleText(verdict.Rule))
		if verdict.Reason != "" {
			r.Summary += ": " + verdict.Reason
		}
		r.Hint = cloudHint(s, iface, f, verdict)
		return r
	}
	r.Status = StatusPass
	var by []string
	for _, a := range verdict.Allowing {
		by = append(by, cloudRuleText(&a))
	}
	r.Summary = fmt.Sprintf("%s is allowed (%s)", what, strings.Join(by, "; "))

	// Declared groups on this interface must hold exactly their rules.
	for _, g := range declaredGroups(groups, p) {
		if !slices.Contains(iface.Groups, g.ID) {
			continue
		}
		actual, ok := s.Groups[g.ID]
		if !ok {
			continue
		}
		if d := cloud.Diff(actual, DeclaredGroup(g)); len(d) > 0 {
			ev.Drift = append(ev.Drift, GroupDrift{Group: g.ID, Declared: config.SourceOf(g.DeclRange), Drift: d})
		}
	}
	if len(ev.Drift) > 0 {
		n := 0
		for _, g := range ev.Drift {
			n += len(g.Drift)
		}
		r.Status, r.Cause = StatusDrift, CauseCloudBlocked
		r.Summary = fmt.Sprintf("%s; but %d rule(s) of %s differ from the declaration (%s)", r.Summary, n, ev.Drift[0].Group, ev.Drift[0].Declared)
		r.Hint = "run portcheck audit for the rule-by-rule drift, then change the group or its declaration"
	}
	return r
}

// DeclaredGroup converts a security_group block to the cloud package's form.
func DeclaredGroup(g *config.SecurityGroup) cloud.DeclaredGroup {
	d := cloud.DeclaredGroup{ID: g.ID, ManageEgress: g.ManageEgress}
	if g.Provider != nil {
		d.Provider = g.Provider.Type
	}
	for _, r := range g.Rules {
		d.Rules = append(d.Rules, cloud.DeclaredRule{
			Direction: r.Direction, Protocol: r.Protocol, Ports: cloud.PortRange{From: r.Ports.From, To: r.Ports.To},
			CIDRs: r.CIDRs, PrefixLists: r.PrefixLists, Groups: r.SecurityGroups,
			Policy: r.Policy, Priority: r.Priority, Description: r.Description,
		})
	}
	return d
}

func cloudRuleText(r *cloud.RuleRef) string {
	if r == nil {
		return "no rule"
	}
	s := r.ID
	switch {
	case r.RuleID != "":
		s += " " + r.RuleID
	case r.Number != 0:
		s += fmt.Sprintf(" rule %d", r.Number)
	}
	if r.Default != "" {
		s += " (" + r.Default + ")"
	}
	if r.Text != "" {
		s += ": " + r.Text
	}
	return s
}

// cloudHint is the exact CLI command that lets the flow in.
func cloudHint(s *cloud.Snapshot, iface *cloud.Interface, f cloud.Flow, v cloud.Verdict) string {
	src := netip.PrefixFrom(f.Src, f.Src.BitLen()).String()
	group := ""
	if len(iface.Groups) > 0 {
		group = iface.Groups[0]
	}
	aclID, number := "", 0
	if v.Rule != nil {
		aclID, number = v.Rule.ID, v.Rule.Number
	}
	if s.Provider == cloud.Aliyun {
		switch v.Stage {
		case cloud.StageSecurityGroup:
			return fmt.Sprintf("aliyun ecs AuthorizeSecurityGroup --RegionId %s --SecurityGroupId %s --IpProtocol %s --PortRange %d/%d --SourceCidrIp %s --Policy accept --Priority 1",
				s.Region, group, f.Protocol, f.Port, f.Port, src)
		default:
			return fmt.Sprintf("network ACL %s stops it at entry %d: add an entry allowing %s before it (aliyun vpc UpdateNetworkAclEntries --NetworkAclId %s …)", aclID, number, src, aclID)
		}
	}
	cidrFlag := "--cidr-block"
	if f.Src.Is6() {
		cidrFlag = "--ipv6-cidr-block"
	}
	switch v.Stage {
	case cloud.StageSecurityGroup:
		flag := "--cidr"
		if f.Src.Is6() {
			return fmt.Sprintf("aws ec2 authorize-security-group-ingress --group-id %s --ip-permissions IpProtocol=%s,FromPort=%d,ToPort=%d,Ipv6Ranges=[{CidrIpv6=%s}]", group, f.Protocol, f.Port, f.Port, src)
		}
		return fmt.Sprintf("aws ec2 authorize-security-group-ingress --group-id %s --protocol %s --port %d %s %s", group, f.Protocol, f.Port, flag, src)
	case cloud.StageACLIngress:
		return fmt.Sprintf("aws ec2 create-network-acl-entry --network-acl-id %s --ingress --rule-number %d --protocol %s --port-range From=%d,To=%d %s %s --rule-action allow (a free number below %d)",
			aclID, max(number-1, 1), f.Protocol, f.Port, f.Port, cidrFlag, src, number)
	case cloud.StageACLEgress:
		return fmt.Sprintf("aws ec2 create-network-acl-entry --network-acl-id %s --egress --rule-number %d --protocol %s --port-range From=%d,To=%d %s %s --rule-action allow (the reply to the client's ephemeral ports; a free number below %d)",
			aclID, max(number-1, 1), f.Protocol, f.Ephemeral.From, f.Ephemeral.To, cidrFlag, src, number)
	}
	return "check the security groups and network ACLs of " + iface.ID
}

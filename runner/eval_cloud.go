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

// ReadCloud reads a snapshot through the backend of the provider's type
// (its cloud's SDK): the interfaces of targets (or, with all, every
// interface of the region) and the groups, network ACLs and prefix lists
// they use, plus the named groups.
func ReadCloud(ctx context.Context, p *config.CloudProvider, targets, groups []string, all bool) (*cloud.Snapshot, error) {
	r, err := cloudReader(p)
	if err != nil {
		return nil, err
	}
	return r.Read(ctx, cloud.Scope{Targets: targets, Groups: groups, All: all})
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
	b, diags := cloudBackend(x.Provider)
	if diags.HasErrors() {
		return errorResult(c, "finding the cloud backend", diags)
	}
	target := x.Target
	if target == "" {
		target = c.Target.Address.String()
	}
	var groupIDs []string
	for _, g := range declaredGroups(v.groups, x.Provider) {
		groupIDs = append(groupIDs, g.ID)
	}
	cs := v.readCloud(ctx, x.Provider, target, groupIDs)
	if cs.err != nil {
		return errorResult(c, "reading "+x.Provider.Type, cs.err)
	}
	ifaces, err := b.Resolve(cs.snap, target)
	if err != nil {
		return errorResult(c, "finding "+target, err)
	}
	src, err := cloudSource(c)
	if err != nil {
		return errorResult(c, "building the flow", err)
	}
	dst := c.Target.Address
	iface := pickInterface(ifaces, dst)
	if iface == nil {
		return errorResult(c, "finding "+target, fmt.Errorf("no network interface found for %s", target))
	}
	if !slices.Contains(iface.PrivateIPs, dst) && !slices.Contains(iface.PublicIPs, dst) && len(iface.PrivateIPs) > 0 {
		dst = iface.PrivateIPs[0] // the endpoint address is a NAT or load balancer address: judge the interface's own
	}
	evaluate := b.Evaluate
	flow := func(src netip.Addr) cloud.Flow {
		return cloud.Flow{Src: src, Dst: dst, Protocol: string(c.Target.Protocol), Port: c.Target.Port,
			Ephemeral: cloud.PortRange{From: x.Ephemeral.From, To: x.Ephemeral.To}}
	}
	// A declared source range is judged at every address where a rule,
	// ACL entry, prefix list, subnet or member interface could change the
	// answer. Any part denied fails the check (the first is reported, and
	// the fix covers every denied part); else any part undecidable makes it
	// an error; else it passes.
	f := flow(src)
	verdict := evaluate(cs.snap, iface, f)
	var denied []cloudStretch
	switch {
	case c.Sources.IsValid():
		var undecided *cloudStretch
		samples := cloudSamples(cs.snap, c.Sources)
		for i, a := range samples {
			hi := addrrange.Last(c.Sources)
			if i+1 < len(samples) {
				hi = samples[i+1].Prev()
			}
			st := cloudStretch{lo: a, hi: hi, flow: flow(a)}
			st.verdict = evaluate(cs.snap, iface, st.flow)
			switch {
			case st.verdict.Indeterminate != "":
				if undecided == nil {
					undecided = &st
				}
			case !st.verdict.Allowed:
				denied = append(denied, st)
			}
		}
		switch {
		case len(denied) > 0:
			f, verdict = denied[0].flow, denied[0].verdict
		case undecided != nil:
			f, verdict = undecided.flow, undecided.verdict
		}
	case !verdict.Allowed && verdict.Indeterminate == "":
		denied = []cloudStretch{{lo: src, hi: src, flow: f, verdict: verdict}}
	}
	return judgeCloud(c, b, cs.snap, iface, f, verdict, denied, v.groups, x.Provider)
}

// cloudStretch is a stretch of a declared source range that the snapshot
// cannot tell apart, judged at its first address.
type cloudStretch struct {
	lo, hi  netip.Addr
	flow    cloud.Flow
	verdict cloud.Verdict
}

// cloudSamples returns one address per stretch of p that the snapshot's
// CIDRs (rule peers, prefix lists, ACL entries, subnets) and member
// interfaces cannot tell apart.
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
	for _, sn := range s.Subnets {
		for _, q := range sn.CIDRs {
			cuts.Prefix(q)
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
	dst := c.Target.Address
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

func judgeCloud(c *Check, b cloud.Backend, s *cloud.Snapshot, iface *cloud.Interface, f cloud.Flow, verdict cloud.Verdict, denied []cloudStretch, groups []*config.SecurityGroup, p *config.CloudProvider) *Result {
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
		if c.Sources.IsValid() && c.Sources.Bits() < c.Sources.Addr().BitLen() {
			if ps := deniedPrefixes(denied); len(ps) == 1 && ps[0] == c.Sources.Masked() {
				r.Summary += "; all of " + c.Sources.String() + " is denied"
			} else {
				r.Summary += "; denied parts of " + c.Sources.String() + ": " + prefixesText(ps, 8)
			}
		}
		if len(verdict.Assumptions) > 0 {
			r.Summary += "; assuming " + strings.Join(verdict.Assumptions, "; ")
		}
		r.Hint = cloudHint(b, s, iface, denied)
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
		d.Rules = append(d.Rules, declaredRule(r))
	}
	return d
}

func declaredRule(r config.SecurityGroupRule) cloud.DeclaredRule {
	return cloud.DeclaredRule{
		Direction: r.Direction, Protocol: r.Protocol, Ports: cloud.PortRange{From: r.Ports.From, To: r.Ports.To},
		CIDRs: r.CIDRs, PrefixLists: r.PrefixLists, Groups: r.SecurityGroups,
		Policy: r.Policy, Priority: r.Priority, Description: r.Description,
	}
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

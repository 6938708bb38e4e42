package config

import (
	"net/netip"
	"strconv"
	"strings"

	"github.com/hashicorp/hcl/v2"
	"github.com/zclconf/go-cty/cty"
)

// CloudProvider is a `provider "TYPE" {}` block: how to reach one cloud's
// API. Like Terraform's configs.Provider it keeps the body undecoded: the
// cloud backend registered for Type (providers/cloud) decodes it against
// its own arguments, so config knows no cloud and links no SDK. Until
// then, even the type is unchecked; runner.DecodeProviders reports an
// unknown type, or an argument the backend does not take, with its range.
// One block per type in this version.
type CloudProvider struct {
	Type string
	// Body is the block's body, for the backend to decode.
	Body hcl.Body
	// EvalContext evaluates the body's expressions: var.*, local.* and
	// the functions, nothing else (providers are declared before hosts).
	EvalContext *hcl.EvalContext
	// TypeRange is the label's range, where an unknown type is reported.
	TypeRange hcl.Range
	DeclRange hcl.Range
}

// SecurityGroup is a declared `security_group "name" {}`: the rules the
// group must hold, exactly.
type SecurityGroup struct {
	Name     string
	Provider *CloudProvider
	ID       string
	Rules    []SecurityGroupRule
	// ManageEgress is set when the block has egress rules: only then are
	// the group's egress rules compared (a group declared with ingress
	// only leaves its default egress alone).
	ManageEgress bool
	DeclRange    hcl.Range
}

// SecurityGroupRule is one ingress or egress block.
type SecurityGroupRule struct {
	Direction string // "ingress" or "egress"
	Protocol  string // tcp, udp, icmp, icmpv6, all
	// Ports for tcp/udp (From 0 To 65535 = all); for icmp From is the type
	// and To the code, -1 = any.
	Ports          PortRange
	CIDRs          []netip.Prefix
	PrefixLists    []string
	SecurityGroups []string
	// Policy is "accept" (default) or "drop", Priority 1-100 or 0 when
	// not declared; whether the rule's cloud can express them is its
	// backend's check (AWS: neither).
	Policy      string
	Priority    int
	Description string
	// AttrRanges are the ranges of the attributes given, by name: checks
	// made after loading (what a cloud cannot express) point at them.
	AttrRanges map[string]hcl.Range
	DeclRange  hcl.Range
}

// ExpectCloud asks L6: do the cloud's security groups and network ACLs
// let the endpoint's vantage hosts (or the declared sources) reach it?
type ExpectCloud struct {
	Provider *CloudProvider
	// Target is an instance id, network interface id or private IP; ""
	// uses the endpoint's address.
	Target string
	// Sources are the client addresses judged; empty = the vantage hosts'
	// addresses.
	Sources []netip.Prefix
	// Ephemeral is the clients' source port range, which stateless network
	// ACLs must let the reply reach (default 1024-65535, as AWS advises).
	Ephemeral PortRange
	DeclRange hcl.Range
}

var securityGroupSchema = &hcl.BodySchema{
	Attributes: []hcl.AttributeSchema{{Name: "provider", Required: true}, {Name: "id", Required: true}},
	Blocks:     []hcl.BlockHeaderSchema{{Type: "ingress"}, {Type: "egress"}},
}

type sgRuleSpec struct {
	Protocol       hcl.Expression `hcl:"protocol,optional"`
	Ports          hcl.Expression `hcl:"ports,optional"`
	ICMPType       hcl.Expression `hcl:"icmp_type,optional"`
	ICMPCode       hcl.Expression `hcl:"icmp_code,optional"`
	CIDRBlocks     hcl.Expression `hcl:"cidr_blocks,optional"`
	PrefixLists    hcl.Expression `hcl:"prefix_lists,optional"`
	SecurityGroups hcl.Expression `hcl:"security_groups,optional"`
	Policy         hcl.Expression `hcl:"policy,optional"`
	Priority       hcl.Expression `hcl:"priority,optional"`
	Description    hcl.Expression `hcl:"description,optional"`
}

type cloudSpec struct {
	Provider       hcl.Expression `hcl:"provider,optional"`
	Target         hcl.Expression `hcl:"target,optional"`
	Sources        hcl.Expression `hcl:"sources,optional"`
	EphemeralPorts hcl.Expression `hcl:"ephemeral_ports,optional"`
}

// declareProviders records provider blocks by type, bodies undecoded
// (see CloudProvider).
func (l *loader) declareProviders(blocks hcl.Blocks) hcl.Diagnostics {
	var diags hcl.Diagnostics
	ctx := l.scope(rootVar, rootLocal).ctx
	for _, b := range blocks {
		typ := b.Labels[0]
		if first, dup := l.providers[typ]; dup {
			diags = diags.Append(duplicateDiag("provider", typ, first.DeclRange, b.DefRange))
			continue
		}
		p := &CloudProvider{Type: typ, Body: b.Body, EvalContext: ctx, TypeRange: b.LabelRanges[0], DeclRange: b.DefRange}
		l.providers[typ] = p
		l.cfg.Providers = append(l.cfg.Providers, p)
	}
	return diags
}

// providerRef resolves a static provider.TYPE reference.
func (l *loader) providerRef(expr hcl.Expression) (*CloudProvider, hcl.Diagnostics) {
	tr, d := hcl.AbsTraversalForExpr(expr)
	name := traversalName(tr)
	if d.HasErrors() || len(tr) != 2 || tr.RootName() != "provider" || name == "" {
		return nil, hcl.Diagnostics{errorf(expr.Range(), "Invalid provider reference",
			"Expected a reference to a provider block, like provider.aws (in JSON syntax, the string \"provider.aws\").")}
	}
	p, ok := l.providers[name]
	if !ok {
		return nil, hcl.Diagnostics{errorf(expr.Range(), "Reference to undeclared provider",
			"No provider %q block is declared; add provider %q { region = … }.", name, name)}
	}
	return p, nil
}

func (l *loader) declareSecurityGroups(blocks hcl.Blocks) hcl.Diagnostics {
	var diags hcl.Diagnostics
	s := l.scope(rootVar, rootLocal)
	s.denied = "A security_group block can only refer to var.* and local.*."
	seen := map[string]hcl.Range{}
	ids := map[string]hcl.Range{}
	for _, b := range blocks {
		name := b.Labels[0]
		diags = append(diags, checkName("security_group", b)...)
		if first, dup := seen[name]; dup {
			diags = diags.Append(duplicateDiag("security_group", name, first, b.DefRange))
			continue
		}
		seen[name] = b.DefRange
		g, d := l.decodeSecurityGroup(b, s)
		diags = append(diags, d...)
		if g == nil {
			continue
		}
		if g.ID != "" {
			if first, dup := ids[g.ID]; dup {
				diags = diags.Append(errorf(b.DefRange, "Duplicate security group id", "Group %s is already declared at %s; declare each group once.", g.ID, SourceOf(first)))
				continue
			}
			ids[g.ID] = b.DefRange
		}
		l.cfg.SecurityGroups = append(l.cfg.SecurityGroups, g)
	}
	return diags
}

func (l *loader) decodeSecurityGroup(b *hcl.Block, s *scope) (*SecurityGroup, hcl.Diagnostics) {
	content, diags := b.Body.Content(securityGroupSchema)
	if content == nil {
		return nil, diags
	}
	g := &SecurityGroup{Name: b.Labels[0], DeclRange: b.DefRange}
	if a, ok := content.Attributes["provider"]; ok {
		p, d := l.providerRef(a.Expr)
		diags = append(diags, d...)
		g.Provider = p
	}
	if a, ok := content.Attributes["id"]; ok {
		into(&g.ID, &diags)(s.str(a.Expr, "id"))
		if g.ID == "" && !diags.HasErrors() {
			diags = diags.Append(errorf(a.Expr.Range(), "Invalid security group id", "id must name the group, like \"sg-0123456789abcdef0\"."))
		}
	}
	for _, rb := range content.Blocks {
		g.ManageEgress = g.ManageEgress || rb.Type == "egress"
		r, d := decodeSGRule(rb, s)
		diags = append(diags, d...)
		if r != nil {
			g.Rules = append(g.Rules, *r)
		}
	}
	return g, diags
}

var sgProtocols = map[string]string{"tcp": "tcp", "udp": "udp", "icmp": "icmp", "icmpv6": "icmpv6", "all": "all", "-1": "all"}

func decodeSGRule(b *hcl.Block, s *scope) (*SecurityGroupRule, hcl.Diagnostics) {
	r := &SecurityGroupRule{Direction: b.Type, Policy: "accept", DeclRange: b.DefRange, AttrRanges: map[string]hcl.Range{}}
	var spec sgRuleSpec
	diags := decodeSpec(b.Body, &spec)
	for name, expr := range map[string]hcl.Expression{
		"protocol": spec.Protocol, "ports": spec.Ports, "icmp_type": spec.ICMPType, "icmp_code": spec.ICMPCode,
		"cidr_blocks": spec.CIDRBlocks, "prefix_lists": spec.PrefixLists, "security_groups": spec.SecurityGroups,
		"policy": spec.Policy, "priority": spec.Priority, "description": spec.Description,
	} {
		if !isNullExpr(expr) {
			r.AttrRanges[name] = expr.Range()
		}
	}

	proto, st, d := s.str(spec.Protocol, "protocol")
	diags = append(diags, d...)
	switch {
	case st == absent:
		diags = diags.Append(errorf(b.DefRange, "Missing protocol", "Each %s rule needs protocol = \"tcp\", \"udp\", \"icmp\", \"icmpv6\" or \"all\".", b.Type))
	case st != valid:
	case sgProtocols[strings.ToLower(proto)] == "":
		diags = diags.Append(errorf(spec.Protocol.Range(), "Invalid protocol", "protocol must be \"tcp\", \"udp\", \"icmp\", \"icmpv6\" or \"all\"; got %q.", proto))
	default:
		r.Protocol = sgProtocols[strings.ToLower(proto)]
	}

	ports, portsSt, d := s.ruleports(spec.Ports, "ports")
	diags = append(diags, d...)
	switch r.Protocol {
	case "tcp", "udp":
		r.Ports = PortRange{From: 0, To: 65535}
		if portsSt == valid {
			r.Ports = ports
		}
	case "icmp", "icmpv6":
		r.Ports = PortRange{From: -1, To: -1}
		t, st, d := s.integer(spec.ICMPType, "icmp_type", -1, 255)
		diags = append(diags, d...)
		if st == valid {
			r.Ports.From = t
		}
		c, st, d := s.integer(spec.ICMPCode, "icmp_code", -1, 255)
		diags = append(diags, d...)
		if st == valid {
			r.Ports.To = c
		}
	case "all":
		r.Ports = PortRange{From: 0, To: 65535}
	}
	if r.Protocol != "tcp" && r.Protocol != "udp" && portsSt == valid && r.Protocol != "" {
		diags = diags.Append(errorf(spec.Ports.Range(), "Ports not allowed", "ports applies to tcp and udp; for %s use icmp_type/icmp_code or leave it out.", r.Protocol))
	}

	into(&r.CIDRs, &diags)(s.cidrList(spec.CIDRBlocks, "cidr_blocks"))
	pls, _, st, d := s.stringList(spec.PrefixLists, "prefix_lists")
	diags = append(diags, d...)
	if st == valid {
		r.PrefixLists = pls
	}
	sgs, _, st, d := s.stringList(spec.SecurityGroups, "security_groups")
	diags = append(diags, d...)
	if st == valid {
		r.SecurityGroups = sgs
	}
	if len(r.CIDRs)+len(r.PrefixLists)+len(r.SecurityGroups) == 0 && !diags.HasErrors() {
		diags = diags.Append(errorf(b.DefRange, "Missing peer", "A %s rule needs cidr_blocks, prefix_lists or security_groups.", b.Type))
	}

	pol, st, d := s.str(spec.Policy, "policy")
	diags = append(diags, d...)
	if st == valid {
		if pol != "accept" && pol != "drop" {
			diags = diags.Append(errorf(spec.Policy.Range(), "Invalid policy", "policy must be \"accept\" or \"drop\"; got %q.", pol))
		} else {
			r.Policy = pol
		}
	}
	prio, st, d := s.integer(spec.Priority, "priority", 1, 100)
	diags = append(diags, d...)
	if st == valid {
		r.Priority = prio
	}
	into(&r.Description, &diags)(s.str(spec.Description, "description"))
	return r, diags
}

func (l *loader) decodeCloudBlock(b *hcl.Block, s *scope) (*ExpectCloud, hcl.Diagnostics) {
	x := &ExpectCloud{Ephemeral: PortRange{From: DefaultEphemeralFrom, To: DefaultEphemeralTo}, DeclRange: b.DefRange}
	var spec cloudSpec
	diags := decodeSpec(b.Body, &spec)
	if isNullExpr(spec.Provider) {
		diags = diags.Append(errorf(b.DefRange, "Missing provider", "A cloud block needs provider = provider.TYPE, a reference to a provider block such as provider.aws."))
	} else {
		p, d := l.providerRef(spec.Provider)
		diags = append(diags, d...)
		x.Provider = p
	}
	into(&x.Target, &diags)(s.str(spec.Target, "target"))
	into(&x.Sources, &diags)(s.cidrList(spec.Sources, "sources"))
	into(&x.Ephemeral, &diags)(s.ruleports(spec.EphemeralPorts, "ephemeral_ports"))
	return x, diags
}

// isNullExpr reports an attribute that was left out (decodeSpec gives a
// null literal for it). Values say so through their decoded state; this is
// for provider references, which are resolved statically, not evaluated.
func isNullExpr(expr hcl.Expression) bool {
	if expr == nil {
		return true
	}
	v, d := expr.Value(nil)
	return !d.HasErrors() && v.IsNull()
}

// ruleports decodes a cloud rule's port or port range: a number or
// "FROM-TO", 0-65535, any width (cloud rules often span every port).
func (s *scope) ruleports(expr hcl.Expression, attr string) (PortRange, state, hcl.Diagnostics) {
	v, st, diags := s.eval(expr)
	if st != valid {
		return PortRange{}, st, diags
	}
	var text string
	switch v.Type() {
	case cty.Number:
		text = v.AsBigFloat().Text('f', -1)
	case cty.String:
		text = v.AsString()
	default:
		return PortRange{}, invalid, diags.Append(typeDiag(expr, attr, "number or string range like \"1024-65535\""))
	}
	fromS, toS, isRange := strings.Cut(text, "-")
	if !isRange {
		toS = fromS
	}
	from, err1 := strconv.Atoi(strings.TrimSpace(fromS))
	to, err2 := strconv.Atoi(strings.TrimSpace(toS))
	if err1 != nil || err2 != nil || from < 0 || to > 65535 || from > to {
		return PortRange{}, invalid, diags.Append(errorf(expr.Range(), "Invalid port range",
			"%s must be a port from 0 to 65535 or a range like \"1024-65535\" (low end first); got %q.", attr, text))
	}
	return PortRange{From: from, To: to}, valid, diags
}

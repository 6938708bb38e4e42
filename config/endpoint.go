package config

import (
	"fmt"
	"net/netip"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/hashicorp/hcl/v2"
	"github.com/zclconf/go-cty/cty"
)

// Endpoint defaults, applied here so the runner sees concrete values.
const (
	defaultProtocol = "tcp"
	defaultState    = "open"
	maxRetries      = 10
	// maxRangePorts bounds one endpoint's port range, so a typo such as
	// "1-65535" does not turn into 65535 probes per layer.
	maxRangePorts = 1024
)

func (l *loader) decodeEndpointBlock(block *hcl.Block, s *scope) (*Endpoint, hcl.Diagnostics) {
	e := &Endpoint{
		Name:       block.Labels[0],
		Protocol:   defaultProtocol,
		State:      defaultState,
		Timeout:    DefaultTimeout,
		Retries:    DefaultRetries,
		DeclRange:  block.DefRange,
		StateRange: block.DefRange, // until state is given explicitly
		PortsRange: block.DefRange,
	}
	content, diags := block.Body.Content(endpointSchema)
	if content == nil {
		return e, diags
	}
	attr := func(name string) hcl.Expression {
		if a, ok := content.Attributes[name]; ok {
			return a.Expr
		}
		return hcl.StaticExpr(cty.NullVal(cty.DynamicPseudoType), block.Body.MissingItemRange())
	}

	// hostOK: the host exists and decoded cleanly, so its addresses can be
	// checked against.
	hostOK := false
	if a, ok := content.Attributes["host"]; ok {
		h, d := l.hostRef(a.Expr)
		diags = append(diags, d...)
		if h != nil {
			e.Host = h
			hostOK = l.hostOK[h.Name]
		}
	}

	if a, ok := content.Attributes["port"]; ok {
		e.PortsRange = a.Expr.Range()
		pr, st, d := s.ports(a.Expr)
		diags = append(diags, d...)
		switch st {
		case valid:
			e.Ports = pr
		case absent:
			diags = diags.Append(errorf(a.Expr.Range(), "Invalid port", "port must not be null."))
		}
	}

	protoExpr := attr("protocol")
	p, st, d := s.str(protoExpr, "protocol")
	diags = append(diags, d...)
	switch {
	case st == valid && p != "tcp" && p != "udp":
		diags = diags.Append(errorf(protoExpr.Range(), "Invalid protocol", "protocol must be \"tcp\" or \"udp\"; got %q.", p))
	case st == valid:
		e.Protocol = p
	}

	addrExpr := attr("address")
	a, st, d := s.ipAddr(addrExpr, "address")
	diags = append(diags, d...)
	if st == valid {
		if hostOK && !slices.Contains(e.Host.Addresses, a) {
			diags = diags.Append(errorf(addrExpr.Range(), "Address not on host",
				"%s is not an address of host %q (declared at %s), which has %s.",
				a, e.Host.Name, SourceOf(e.Host.DeclRange), joinAddrs(e.Host.Addresses)))
		} else {
			e.Address = a
		}
	}

	if a, ok := content.Attributes["from"]; ok {
		from, d := l.hostRefs(a.Expr)
		diags = append(diags, d...)
		e.From = from
	}

	stateExpr := attr("state")
	state, st, d := s.str(stateExpr, "state")
	diags = append(diags, d...)
	if st == valid {
		if state != "open" && state != "closed" {
			diags = diags.Append(errorf(stateExpr.Range(), "Invalid state", "state must be \"open\" or \"closed\"; got %q.", state))
		} else {
			e.State = state
			e.StateRange = stateExpr.Range()
		}
	}

	// A declared timeout also bounds the L7 checks; the default (per probe
	// attempt) is too short for them, so they keep DefaultAppTimeout.
	var appTimeout time.Duration
	t, st, d := s.duration(attr("timeout"), "timeout")
	diags = append(diags, d...)
	if st == valid {
		e.Timeout, appTimeout = t, t
	}
	into(&e.Retries, &diags)(s.integer(attr("retries"), "retries", 0, maxRetries))

	diags = append(diags, l.decodeExpect(content.Blocks, s, e, appTimeout)...)
	return e, diags
}

// ports decodes port: a number, or a string with one port or a range.
func (s *scope) ports(expr hcl.Expression) (PortRange, state, hcl.Diagnostics) {
	v, st, diags := s.eval(expr)
	if st != valid {
		return PortRange{}, st, diags
	}
	rng := expr.Range()
	switch v.Type() {
	case cty.Number:
		bf := v.AsBigFloat()
		p, acc := bf.Int64()
		if !bf.IsInt() || acc != 0 || p < 1 || p > 65535 {
			return PortRange{}, invalid, diags.Append(errorf(rng, "Invalid port", "A port is a whole number from 1 to 65535; got %s.", bf.Text('g', 10)))
		}
		return PortRange{From: int(p), To: int(p)}, valid, diags
	case cty.String:
		pr, d := parsePortRange(v.AsString(), rng)
		if d != nil {
			return PortRange{}, invalid, diags.Append(d)
		}
		return pr, valid, diags
	}
	return PortRange{}, invalid, diags.Append(typeDiag(expr, "port", "number or string range like \"8000-8010\""))
}

func parsePortRange(s string, rng hcl.Range) (PortRange, *hcl.Diagnostic) {
	fromS, toS, isRange := strings.Cut(s, "-")
	if !isRange {
		toS = fromS
	}
	from, err1 := strconv.Atoi(strings.TrimSpace(fromS))
	to, err2 := strconv.Atoi(strings.TrimSpace(toS))
	switch {
	case err1 != nil || err2 != nil:
		if !isRange {
			return PortRange{}, errorf(rng, "Invalid port", "%q is not a port: use a number from 1 to 65535, or a range like \"8000-8010\".", s)
		}
		return PortRange{}, errorf(rng, "Invalid port range", "%q is not a port range: use two ports like \"8000-8010\".", s)
	case from < 1 || from > 65535 || to < 1 || to > 65535:
		if !isRange {
			return PortRange{}, errorf(rng, "Invalid port", "A port is a whole number from 1 to 65535; got %s.", s)
		}
		return PortRange{}, errorf(rng, "Invalid port range", "Both ends of %q must be ports from 1 to 65535.", s)
	case from > to:
		return PortRange{}, errorf(rng, "Invalid port range", "The range %q runs backwards; write it as \"%d-%d\".", s, to, from)
	case to-from+1 > maxRangePorts:
		return PortRange{}, errorf(rng, "Invalid port range", "The range %q holds %d ports; a range may hold at most %d.", s, to-from+1, maxRangePorts)
	}
	return PortRange{From: from, To: to}, nil
}

// hostRef resolves a static host.NAME traversal (in JSON, the string
// "host.NAME"); endpoints name hosts, they do not compute them.
func (l *loader) hostRef(expr hcl.Expression) (*Host, hcl.Diagnostics) {
	tr, d := hcl.AbsTraversalForExpr(expr)
	name := traversalName(tr)
	if d.HasErrors() || len(tr) != 2 || tr.RootName() != rootHost || name == "" {
		return nil, hcl.Diagnostics{errorf(expr.Range(), "Invalid host reference",
			"Expected a reference to a host, like host.web (in JSON syntax, the string \"host.web\").")}
	}
	h, ok := l.hosts[name]
	if !ok {
		return nil, hcl.Diagnostics{undeclaredDiag(rootHost, name, expr.Range())}
	}
	return h, nil
}

// hostRefs resolves a literal list of host references.
func (l *loader) hostRefs(expr hcl.Expression) ([]*Host, hcl.Diagnostics) {
	exprs, d := hcl.ExprList(expr)
	if d.HasErrors() {
		return nil, hcl.Diagnostics{errorf(expr.Range(), "Invalid host reference",
			"Expected a list of host references, like [host.client] (in JSON syntax, [\"host.client\"]).")}
	}
	var diags hcl.Diagnostics
	var out []*Host
	first := map[string]hcl.Range{}
	for _, ex := range exprs {
		h, d := l.hostRef(ex)
		for _, diag := range d {
			inContext(diag, expr.Range())
		}
		diags = append(diags, d...)
		if h == nil {
			continue
		}
		if r, dup := first[h.Name]; dup {
			diags = diags.Append(inContext(errorf(ex.Range(), "Duplicate vantage host", "host.%s is already listed at %s.", h.Name, SourceOf(r)), expr.Range()))
			continue
		}
		first[h.Name] = ex.Range()
		out = append(out, h)
	}
	return out, diags
}

func joinAddrs(addrs []netip.Addr) string {
	parts := make([]string, len(addrs))
	for i, a := range addrs {
		parts[i] = a.String()
	}
	if len(parts) <= 1 {
		return strings.Join(parts, "")
	}
	return fmt.Sprintf("%s and %s", strings.Join(parts[:len(parts)-1], ", "), parts[len(parts)-1])
}

package config

import (
	"fmt"
	"net/netip"
	"slices"
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
	maxSet := false
	maxRng := block.DefRange
	if a, ok := content.Attributes["max_ports"]; ok {
		maxRng = a.Expr.Range()
		n, st, d := s.integer(a.Expr, "max_ports", 1, 65535)
		diags = append(diags, d...)
		if st == valid {
			e.MaxPorts, maxSet = n, true
		}
	}
	if d := checkPortCount(e, e.PortsRange, maxRng, maxSet); d != nil {
		diags = diags.Append(d)
		e.Ports = nil
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

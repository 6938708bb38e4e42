package config

import (
	"net/netip"
	"slices"
	"strconv"
	"strings"

	"github.com/hashicorp/hcl/v2"
)

// SELinux modes a selinux block may declare.
var selinuxModes = []string{"enforcing", "permissive", "disabled"}

// Path trace modes.
var pathModes = []string{"tcp", "udp", "icmp"}

// ExpectSELinux is the declared L3 state of the port on the server.
type ExpectSELinux struct {
	Type      string // port type the port must have, e.g. http_port_t
	Domain    string // process domain that must be allowed to bind it, e.g. httpd_t
	Mode      string // enforcing | permissive | disabled; "" = not declared
	DeclRange hcl.Range
}

// ExpectPath asks L5 to trace the path from each vantage host.
type ExpectPath struct {
	MaxHops   int
	Via       []netip.Addr // hops the path must go through
	Mode      string       // tcp (default) | udp | icmp
	DeclRange hcl.Range
}

type selinuxSpec struct {
	Type   hcl.Expression `hcl:"type,optional"`
	Domain hcl.Expression `hcl:"domain,optional"`
	Mode   hcl.Expression `hcl:"mode,optional"`
}

type pathSpec struct {
	MaxHops hcl.Expression `hcl:"max_hops,optional"`
	Via     hcl.Expression `hcl:"via,optional"`
	Mode    hcl.Expression `hcl:"mode,optional"`
}

func decodeSELinuxBlock(b *hcl.Block, s *scope) (*ExpectSELinux, hcl.Diagnostics) {
	x := &ExpectSELinux{DeclRange: b.DefRange}
	var spec selinuxSpec
	diags := decodeSpec(b.Body, &spec)
	into(&x.Type, &diags)(s.selinuxName(spec.Type, "type", "_t"))
	into(&x.Domain, &diags)(s.selinuxName(spec.Domain, "domain", "_t"))
	into(&x.Mode, &diags)(s.oneOf(spec.Mode, "mode", "Invalid SELinux mode", selinuxModes))
	return x, diags
}

// selinuxName decodes an SELinux type name (letters, digits, underscores),
// which by convention ends in _t.
func (s *scope) selinuxName(expr hcl.Expression, attr, suffix string) (string, state, hcl.Diagnostics) {
	v, st, diags := s.str(expr, attr)
	if st != valid {
		return "", st, diags
	}
	ok := v != ""
	for _, r := range v {
		if !(r == '_' || r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9') {
			ok = false
		}
	}
	if !ok {
		return "", invalid, diags.Append(errorf(expr.Range(), "Invalid SELinux type", "%s must be an SELinux type like \"http_port_t\"; got %q.", attr, v))
	}
	if len(v) < len(suffix) || v[len(v)-len(suffix):] != suffix {
		diags = diags.Append(warningf(expr.Range(), "Unusual SELinux type", "SELinux types end in %q by convention; %q may be a typo.", suffix, v))
	}
	return v, valid, diags
}

func decodePathBlock(b *hcl.Block, s *scope) (*ExpectPath, hcl.Diagnostics) {
	x := &ExpectPath{MaxHops: 30, Mode: "tcp", DeclRange: b.DefRange}
	var spec pathSpec
	diags := decodeSpec(b.Body, &spec)
	n, st, d := s.integer(spec.MaxHops, "max_hops", 1, 64)
	diags = append(diags, d...)
	if st == valid {
		x.MaxHops = n
	}
	into(&x.Via, &diags)(s.ipList(spec.Via, "via"))
	into(&x.Mode, &diags)(s.oneOf(spec.Mode, "mode", "Invalid path mode", pathModes))
	return x, diags
}

// oneOf decodes a string that must be one of allowed; summary heads the
// error that lists them.
func (s *scope) oneOf(expr hcl.Expression, attr, summary string, allowed []string) (string, state, hcl.Diagnostics) {
	v, st, diags := s.str(expr, attr)
	if st != valid || slices.Contains(allowed, v) {
		return v, st, diags
	}
	quoted := make([]string, len(allowed))
	for i, a := range allowed {
		quoted[i] = strconv.Quote(a)
	}
	list := strings.Join(quoted[:len(quoted)-1], ", ") + " or " + quoted[len(quoted)-1]
	return "", invalid, diags.Append(errorf(expr.Range(), summary, "%s must be %s; got %q.", attr, list, v))
}

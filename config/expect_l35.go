package config

import (
	"net/netip"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/hashicorp/hcl/v2"
	"github.com/zclconf/go-cty/cty"
	"github.com/zclconf/go-cty/cty/convert"
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

// maxPathRounds bounds a path block's rounds.
const maxPathRounds = 100

// ExpectPath asks L5 to trace the path from each vantage host.
type ExpectPath struct {
	MaxHops int
	Via     []netip.Addr // hops the path must go through
	// Mode is tcp, udp or icmp; default the endpoint's protocol, so a UDP
	// service is traced with UDP probes.
	Mode    string
	Rounds  int           // probes per TTL, mtr-style
	Timeout time.Duration // per probe
	// MaxLoss is the most loss (percent) allowed end to end, at the target;
	// MaxHopLoss the most at any hop whose loss carries on to the hops
	// after it (loss that does not is ICMP rate limiting at that router).
	// nil = not declared.
	MaxLoss    *float64
	MaxHopLoss *float64
	DeclRange  hcl.Range
}

// NewExpectPath is a path block with every default applied, for an
// endpoint of the given protocol.
func NewExpectPath(protocol string, decl hcl.Range) *ExpectPath {
	mode := "tcp"
	if protocol == "udp" {
		mode = "udp"
	}
	return &ExpectPath{MaxHops: DefaultPathMaxHops, Mode: mode, Rounds: DefaultPathRounds, Timeout: DefaultPathTimeout, DeclRange: decl}
}

type selinuxSpec struct {
	Type   hcl.Expression `hcl:"type,optional"`
	Domain hcl.Expression `hcl:"domain,optional"`
	Mode   hcl.Expression `hcl:"mode,optional"`
}

type pathSpec struct {
	MaxHops    hcl.Expression `hcl:"max_hops,optional"`
	Via        hcl.Expression `hcl:"via,optional"`
	Mode       hcl.Expression `hcl:"mode,optional"`
	Rounds     hcl.Expression `hcl:"rounds,optional"`
	Timeout    hcl.Expression `hcl:"timeout,optional"`
	MaxLoss    hcl.Expression `hcl:"max_loss,optional"`
	MaxHopLoss hcl.Expression `hcl:"max_hop_loss,optional"`
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

func decodePathBlock(b *hcl.Block, s *scope, protocol string) (*ExpectPath, hcl.Diagnostics) {
	x := NewExpectPath(protocol, b.DefRange)
	var spec pathSpec
	diags := decodeSpec(b.Body, &spec)
	into(&x.MaxHops, &diags)(s.integer(spec.MaxHops, "max_hops", 1, 64))
	into(&x.Via, &diags)(s.ipList(spec.Via, "via"))
	into(&x.Mode, &diags)(s.oneOf(spec.Mode, "mode", "Invalid path mode", pathModes))
	into(&x.Rounds, &diags)(s.integer(spec.Rounds, "rounds", 1, maxPathRounds))
	into(&x.Timeout, &diags)(s.duration(spec.Timeout, "timeout"))
	into(&x.MaxLoss, &diags)(s.percent(spec.MaxLoss, "max_loss"))
	into(&x.MaxHopLoss, &diags)(s.percent(spec.MaxHopLoss, "max_hop_loss"))
	return x, diags
}

// percent decodes a loss percentage from 0 to 100 (fractions allowed).
func (s *scope) percent(expr hcl.Expression, attr string) (*float64, state, hcl.Diagnostics) {
	v, st, diags := s.eval(expr)
	if st != valid {
		return nil, st, diags
	}
	nv, err := convert.Convert(v, cty.Number)
	if err != nil || hugeNumber(nv) {
		return nil, invalid, append(diags, typeDiag(expr, attr, "number (percent)"))
	}
	f, _ := nv.AsBigFloat().Float64()
	if f < 0 || f > 100 {
		return nil, invalid, append(diags, errorf(expr.Range(), "Value out of range", "%s is a loss in percent, from 0 to 100; got %s.", attr, nv.AsBigFloat().Text('g', 10)))
	}
	return &f, valid, diags
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

package config

import (
	"fmt"
	"net/netip"
	"slices"
	"strings"

	"github.com/hashicorp/hcl/v2"
)

func decodeFirewallBlock(b *hcl.Block, s *scope) (*ExpectFirewall, hcl.Diagnostics) {
	x := &ExpectFirewall{Backend: "auto", Permanent: true, DeclRange: b.DefRange}
	var spec firewallSpec
	diags := decodeSpec(b.Body, &spec)
	into(&x.AllowFrom, &diags)(s.cidrList(spec.AllowFrom, "allow_from"))
	into(&x.DenyFrom, &diags)(s.cidrList(spec.DenyFrom, "deny_from"))
	x.AllowRange, x.DenyRange = spec.AllowFrom.Range(), spec.DenyFrom.Range()
	into(&x.Backend, &diags)(s.oneOf(spec.Backend, "backend", "Invalid firewall backend", FirewallBackends))
	p, st, d := s.boolean(spec.Permanent, "permanent")
	diags = append(diags, d...)
	if st == valid {
		x.Permanent = p
	}
	// Overlaps are fine (the most specific prefix decides: allow 10.0.0.0/8,
	// deny 0.0.0.0/0 means "only 10/8"); the same prefix on both sides is not.
	for _, dn := range x.DenyFrom {
		if slices.Contains(x.AllowFrom, dn) {
			diags = diags.Append(errorf(spec.DenyFrom.Range(), "Contradictory firewall sources",
				"%s is in both allow_from and deny_from.", dn))
		}
	}
	return x, diags
}

// cidrList decodes a list of distinct prefixes; a bare address is a /32 or
// /128. Host bits set in a prefix are an error, as ip(8) would not guess.
func (s *scope) cidrList(expr hcl.Expression, attr string) ([]netip.Prefix, state, hcl.Diagnostics) {
	strs, ranges, st, diags := s.stringList(expr, attr)
	if st != valid {
		return nil, st, diags
	}
	var out []netip.Prefix
	for i, str := range strs {
		p, err := parseCIDR(str)
		if err != nil {
			diags = diags.Append(inContext(errorDiag(ranges[i], "Invalid CIDR", err.Error()), expr.Range()))
			st = invalid
			continue
		}
		if j := slices.Index(out, p); j >= 0 {
			diags = diags.Append(inContext(errorf(ranges[i], "Duplicate CIDR", "%s is already listed in %s.", p, attr), expr.Range()))
			st = invalid
			continue
		}
		out = append(out, p)
	}
	if st != valid {
		return nil, st, diags
	}
	return out, valid, diags
}

func parseCIDR(s string) (netip.Prefix, error) {
	if !strings.Contains(s, "/") {
		a, err := parseIP(s)
		if err != nil {
			return netip.Prefix{}, err
		}
		return netip.PrefixFrom(a, a.BitLen()), nil
	}
	p, err := netip.ParsePrefix(s)
	if err != nil {
		return netip.Prefix{}, fmt.Errorf("%q is not a CIDR such as 10.0.0.0/8 or 2001:db8::/32", s)
	}
	if p.Masked() != p {
		return netip.Prefix{}, fmt.Errorf("%s has host bits set; did you mean %s?", s, p.Masked())
	}
	if p.Addr().Is4In6() {
		return netip.Prefix{}, fmt.Errorf("%s is an IPv4-mapped IPv6 prefix; write it as IPv4", s)
	}
	return p, nil
}

package config

import (
	"fmt"
	"net/netip"
	"path/filepath"
	"reflect"
	"strings"
	"sync"

	"github.com/hashicorp/hcl/v2"
	"github.com/hashicorp/hcl/v2/gohcl"
	"github.com/portcheck/portcheck/providers"
	"github.com/zclconf/go-cty/cty"
)

func decodeHostBlock(block *hcl.Block, s *scope) (*Host, *pendingBastion, hcl.Diagnostics) {
	h := &Host{Name: block.Labels[0], DeclRange: block.DefRange}
	var spec hostSpec
	connBlock, rest, diags := splitConnection(block.Body)
	diags = append(diags, decodeSpec(rest, &spec)...)

	addr, addrSt, d := s.ipAddr(spec.Address, "address")
	diags = append(diags, d...)
	addrs, addrsSt, d := s.ipList(spec.Addresses, "addresses")
	diags = append(diags, d...)
	switch {
	case addrSt != absent && addrsSt != absent:
		diags = diags.Append(inContext(errorf(spec.Addresses.Range(), "Conflicting attributes",
			"Host %q sets both address and addresses: use address for one address, addresses for several.", h.Name),
			spec.Address.Range()))
	case addrSt == valid:
		h.Addresses = []netip.Addr{addr}
	case addrsSt == valid:
		if len(addrs) == 0 {
			diags = diags.Append(errorf(spec.Addresses.Range(), "Missing host address", "addresses must list at least one address."))
		}
		h.Addresses = addrs
	case addrSt == absent && addrsSt == absent:
		diags = diags.Append(errorf(block.DefRange, "Missing host address",
			"Host %q needs address = \"10.0.0.5\" or addresses = [\"10.0.0.5\", \"fd00::5\"].", h.Name))
	}

	netns, nsSt, d := s.str(spec.Netns, "netns")
	diags = append(diags, d...)
	if nsSt == valid && netns != "" {
		// A name is what `ip netns` lists; anything with a slash is a path.
		if strings.ContainsRune(netns, '/') && !filepath.IsAbs(netns) || netns == "." || netns == ".." || strings.ContainsRune(netns, 0) {
			diags = diags.Append(errorf(spec.Netns.Range(), "Invalid netns",
				"%q is neither a namespace name (as `ip netns` lists, like \"srv\") nor an absolute path (like \"/proc/1234/ns/net\").", netns))
		} else {
			h.Netns = providers.NetnsPath(netns)
		}
	}

	local, localSt, d := s.boolean(spec.Local, "local")
	diags = append(diags, d...)
	if localSt == valid {
		if !local && h.Netns != "" {
			diags = diags.Append(inContext(errorf(spec.Local.Range(), "Conflicting attributes",
				"Host %q has a netns, so its local checks run in that namespace on this machine; local = false contradicts that.", h.Name),
				spec.Netns.Range()))
		}
		h.Local = &local
	}

	var pending *pendingBastion
	if connBlock != nil {
		var d hcl.Diagnostics
		h.Connection, pending, d = decodeConnection(connBlock, h, s)
		diags = append(diags, d...)
		if localSt == valid && local {
			diags = diags.Append(inContext(errorf(spec.Local.Range(), "Conflicting attributes",
				"Host %q has a connection block, so its checks run on it over SSH; local = true contradicts that.", h.Name),
				connBlock.DefRange))
		}
		// With a connection, netns names a namespace on that machine, not
		// on this one: the collector enters it there.
		if h.Netns != "" {
			h.Connection.Netns, h.Netns = netns, ""
		}
	}
	return h, pending, diags
}

func (s *scope) ipAddr(expr hcl.Expression, attr string) (netip.Addr, state, hcl.Diagnostics) {
	str, st, diags := s.str(expr, attr)
	if st != valid {
		return netip.Addr{}, st, diags
	}
	a, err := parseIP(str)
	if err != nil {
		return netip.Addr{}, invalid, append(diags, errorDiag(expr.Range(), "Invalid IP address", err.Error()))
	}
	return a, valid, diags
}

// ipList decodes a list of distinct addresses.
func (s *scope) ipList(expr hcl.Expression, attr string) ([]netip.Addr, state, hcl.Diagnostics) {
	strs, ranges, st, diags := s.stringList(expr, attr)
	if st != valid {
		return nil, st, diags
	}
	out := make([]netip.Addr, 0, len(strs))
	first := map[netip.Addr]hcl.Range{}
	for i, str := range strs {
		a, err := parseIP(str)
		if err != nil {
			diags = diags.Append(inContext(errorDiag(ranges[i], "Invalid IP address", err.Error()), expr.Range()))
			st = invalid
			continue
		}
		if r, dup := first[a]; dup {
			diags = diags.Append(inContext(errorf(ranges[i], "Duplicate address", "%s is already listed at %s.", a, SourceOf(r)), expr.Range()))
			st = invalid
			continue
		}
		first[a] = ranges[i]
		out = append(out, a)
	}
	if st != valid {
		return nil, st, diags
	}
	return out, valid, diags
}

func parseIP(s string) (netip.Addr, error) {
	a, err := netip.ParseAddr(s)
	if err != nil {
		return netip.Addr{}, fmt.Errorf("%q is not an IPv4 or IPv6 address.", s)
	}
	return a, nil
}

// hostObject is `host` in the EvalContext: host.NAME.{name, address,
// addresses}. A host with errors has unknown addresses, so expressions that
// use them are skipped rather than reported twice.
func (l *loader) hostObject() cty.Value {
	vals := make(map[string]cty.Value, len(l.hosts))
	for name, h := range l.hosts {
		addr, addrs := cty.UnknownVal(cty.String), cty.UnknownVal(cty.List(cty.String))
		if l.hostOK[name] && len(h.Addresses) > 0 {
			list := make([]cty.Value, len(h.Addresses))
			for i, a := range h.Addresses {
				list[i] = cty.StringVal(a.String())
			}
			addr, addrs = list[0], cty.ListVal(list)
		}
		vals[name] = cty.ObjectVal(map[string]cty.Value{
			"name":      cty.StringVal(name),
			"address":   addr,
			"addresses": addrs,
		})
	}
	return cty.ObjectVal(vals)
}

// specInfo is what decodeSpec needs of a spec type, derived once with gohcl.
type specInfo struct {
	schema *hcl.BodySchema
	fields []specField
}

type specField struct {
	name  string
	index int
}

var specInfos sync.Map // reflect.Type -> *specInfo

// decodeSpec decodes a leaf block into a spec whose fields are all
// hcl.Expression, as gohcl.DecodeBody would (absent = a null expression),
// but with the schema gohcl implies from the tags computed once per type:
// re-deriving it by reflection for each of 10,000 blocks was a tenth of
// the load time.
func decodeSpec(body hcl.Body, spec any) hcl.Diagnostics {
	v := reflect.ValueOf(spec).Elem()
	info := specInfoFor(v)
	content, diags := body.Content(info.schema)
	var null hcl.Expression
	for _, f := range info.fields {
		var expr hcl.Expression
		if content != nil {
			if a, ok := content.Attributes[f.name]; ok {
				expr = a.Expr
			}
		}
		if expr == nil {
			if null == nil {
				null = hcl.StaticExpr(cty.NullVal(cty.DynamicPseudoType), body.MissingItemRange())
			}
			expr = null
		}
		v.Field(f.index).Set(reflect.ValueOf(&expr).Elem())
	}
	return diags
}

func specInfoFor(v reflect.Value) *specInfo {
	t := v.Type()
	if info, ok := specInfos.Load(t); ok {
		return info.(*specInfo)
	}
	schema, _ := gohcl.ImpliedBodySchema(v.Addr().Interface())
	info := &specInfo{schema: schema}
	for i := range t.NumField() {
		name, _, _ := strings.Cut(t.Field(i).Tag.Get("hcl"), ",")
		info.fields = append(info.fields, specField{name: name, index: i})
	}
	specInfos.Store(t, info)
	return info
}

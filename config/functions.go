package config

import (
	"fmt"
	"math/big"
	"net/netip"
	"strings"
	"sync"

	"github.com/hashicorp/hcl/v2/ext/tryfunc"
	"github.com/zclconf/go-cty/cty"
	"github.com/zclconf/go-cty/cty/function"
	"github.com/zclconf/go-cty/cty/function/stdlib"
)

// functions is the function table of every EvalContext: cty's stdlib under
// Terraform's names, try/can, and the cidr* functions. Built once; the map
// is only read afterwards.
var functions = sync.OnceValue(func() map[string]function.Function {
	return map[string]function.Function{
		"abs":             stdlib.AbsoluteFunc,
		"can":             tryfunc.CanFunc,
		"ceil":            stdlib.CeilFunc,
		"chomp":           stdlib.ChompFunc,
		"chunklist":       stdlib.ChunklistFunc,
		"cidrhost":        cidrHostFunc,
		"cidrnetmask":     cidrNetmaskFunc,
		"cidrsubnet":      cidrSubnetFunc,
		"cidrsubnets":     cidrSubnetsFunc,
		"coalesce":        stdlib.CoalesceFunc,
		"coalescelist":    stdlib.CoalesceListFunc,
		"compact":         stdlib.CompactFunc,
		"concat":          stdlib.ConcatFunc,
		"contains":        stdlib.ContainsFunc,
		"csvdecode":       stdlib.CSVDecodeFunc,
		"distinct":        stdlib.DistinctFunc,
		"element":         stdlib.ElementFunc,
		"flatten":         stdlib.FlattenFunc,
		"floor":           stdlib.FloorFunc,
		"format":          stdlib.FormatFunc,
		"formatdate":      stdlib.FormatDateFunc,
		"formatlist":      stdlib.FormatListFunc,
		"indent":          stdlib.IndentFunc,
		"join":            stdlib.JoinFunc,
		"jsondecode":      stdlib.JSONDecodeFunc,
		"jsonencode":      stdlib.JSONEncodeFunc,
		"keys":            stdlib.KeysFunc,
		"length":          stdlib.LengthFunc,
		"log":             stdlib.LogFunc,
		"lookup":          stdlib.LookupFunc,
		"lower":           stdlib.LowerFunc,
		"max":             stdlib.MaxFunc,
		"merge":           stdlib.MergeFunc,
		"min":             stdlib.MinFunc,
		"parseint":        stdlib.ParseIntFunc,
		"pow":             stdlib.PowFunc,
		"range":           stdlib.RangeFunc,
		"regex":           stdlib.RegexFunc,
		"regexall":        stdlib.RegexAllFunc,
		"regex_replace":   stdlib.RegexReplaceFunc,
		"replace":         stdlib.ReplaceFunc,
		"reverse":         stdlib.ReverseListFunc,
		"setintersection": stdlib.SetIntersectionFunc,
		"setproduct":      stdlib.SetProductFunc,
		"setsubtract":     stdlib.SetSubtractFunc,
		"setunion":        stdlib.SetUnionFunc,
		"signum":          stdlib.SignumFunc,
		"slice":           stdlib.SliceFunc,
		"sort":            stdlib.SortFunc,
		"split":           stdlib.SplitFunc,
		"strlen":          stdlib.StrlenFunc,
		"strrev":          stdlib.ReverseFunc,
		"substr":          stdlib.SubstrFunc,
		"timeadd":         stdlib.TimeAddFunc,
		"title":           stdlib.TitleFunc,
		"tobool":          stdlib.MakeToFunc(cty.Bool),
		"tolist":          stdlib.MakeToFunc(cty.List(cty.DynamicPseudoType)),
		"tomap":           stdlib.MakeToFunc(cty.Map(cty.DynamicPseudoType)),
		"tonumber":        stdlib.MakeToFunc(cty.Number),
		"toset":           stdlib.MakeToFunc(cty.Set(cty.DynamicPseudoType)),
		"tostring":        stdlib.MakeToFunc(cty.String),
		"trim":            stdlib.TrimFunc,
		"trimprefix":      stdlib.TrimPrefixFunc,
		"trimspace":       stdlib.TrimSpaceFunc,
		"trimsuffix":      stdlib.TrimSuffixFunc,
		"try":             tryfunc.TryFunc,
		"upper":           stdlib.UpperFunc,
		"values":          stdlib.ValuesFunc,
		"zipmap":          stdlib.ZipmapFunc,
	}
})

// The cidr functions follow Terraform's semantics, on net/netip and
// math/big so IPv6 works and nothing can overflow. Every bad input is an
// error (HCL turns it into a diagnostic on the call), never a panic.

var cidrHostFunc = function.New(&function.Spec{
	Description: "Returns the address of host number hostnum within prefix; negative numbers count from the end.",
	Params: []function.Parameter{
		{Name: "prefix", Type: cty.String},
		{Name: "hostnum", Type: cty.Number},
	},
	Type: function.StaticReturnType(cty.String),
	Impl: func(args []cty.Value, _ cty.Type) (cty.Value, error) {
		p, err := parsePrefix(args[0])
		if err != nil {
			return cty.UnknownVal(cty.String), function.NewArgError(0, err)
		}
		n, err := bigWhole(args[1])
		if err != nil {
			return cty.UnknownVal(cty.String), function.NewArgError(1, err)
		}
		bits := p.Addr().BitLen()
		size := new(big.Int).Lsh(big.NewInt(1), uint(bits-p.Bits()))
		if n.Sign() < 0 {
			n.Add(n, size)
		}
		if n.Sign() < 0 || n.Cmp(size) >= 0 {
			return cty.UnknownVal(cty.String), function.NewArgErrorf(1, "prefix %s has no host number %s", p, args[1].AsBigFloat().Text('f', -1))
		}
		return cty.StringVal(addrFromInt(n.Add(n, addrToInt(p.Addr())), bits).String()), nil
	},
})

var cidrNetmaskFunc = function.New(&function.Spec{
	Description: "Returns the dotted netmask of an IPv4 prefix.",
	Params:      []function.Parameter{{Name: "prefix", Type: cty.String}},
	Type:        function.StaticReturnType(cty.String),
	Impl: func(args []cty.Value, _ cty.Type) (cty.Value, error) {
		p, err := parsePrefix(args[0])
		if err != nil {
			return cty.UnknownVal(cty.String), function.NewArgError(0, err)
		}
		if !p.Addr().Is4() {
			return cty.UnknownVal(cty.String), function.NewArgErrorf(0, "only IPv4 prefixes have a netmask; %s is IPv6", p)
		}
		mask := ^uint32(0) << (32 - p.Bits())
		if p.Bits() == 0 {
			mask = 0
		}
		return cty.StringVal(netip.AddrFrom4([4]byte{byte(mask >> 24), byte(mask >> 16), byte(mask >> 8), byte(mask)}).String()), nil
	},
})

var cidrSubnetFunc = function.New(&function.Spec{
	Description: "Returns subnet number netnum of prefix extended by newbits bits.",
	Params: []function.Parameter{
		{Name: "prefix", Type: cty.String},
		{Name: "newbits", Type: cty.Number},
		{Name: "netnum", Type: cty.Number},
	},
	Type: function.StaticReturnType(cty.String),
	Impl: func(args []cty.Value, _ cty.Type) (cty.Value, error) {
		p, err := parsePrefix(args[0])
		if err != nil {
			return cty.UnknownVal(cty.String), function.NewArgError(0, err)
		}
		newbits, err := smallWhole(args[1])
		if err != nil {
			return cty.UnknownVal(cty.String), function.NewArgError(1, err)
		}
		bits := p.Addr().BitLen()
		if newbits < 0 || p.Bits()+newbits > bits {
			return cty.UnknownVal(cty.String), function.NewArgErrorf(1, "cannot extend the /%d prefix %s by %d bits", p.Bits(), p, newbits)
		}
		netnum, err := bigWhole(args[2])
		if err != nil {
			return cty.UnknownVal(cty.String), function.NewArgError(2, err)
		}
		limit := new(big.Int).Lsh(big.NewInt(1), uint(newbits))
		if netnum.Sign() < 0 || netnum.Cmp(limit) >= 0 {
			return cty.UnknownVal(cty.String), function.NewArgErrorf(2, "%d new bits number subnets 0 to %s; %s is out of range", newbits, new(big.Int).Sub(limit, big.NewInt(1)), netnum)
		}
		newLen := p.Bits() + newbits
		base := addrToInt(p.Addr())
		base.Add(base, netnum.Lsh(netnum, uint(bits-newLen)))
		return cty.StringVal(netip.PrefixFrom(addrFromInt(base, bits), newLen).String()), nil
	},
})

var cidrSubnetsFunc = function.New(&function.Spec{
	Description: "Allocates consecutive subnets of prefix, one per newbits argument, each aligned after the previous.",
	Params:      []function.Parameter{{Name: "prefix", Type: cty.String}},
	VarParam:    &function.Parameter{Name: "newbits", Type: cty.Number},
	Type:        function.StaticReturnType(cty.List(cty.String)),
	Impl: func(args []cty.Value, _ cty.Type) (cty.Value, error) {
		p, err := parsePrefix(args[0])
		if err != nil {
			return cty.UnknownVal(cty.List(cty.String)), function.NewArgError(0, err)
		}
		if len(args) == 1 {
			return cty.ListValEmpty(cty.String), nil
		}
		bits := p.Addr().BitLen()
		start := addrToInt(p.Addr())
		end := new(big.Int).Add(start, new(big.Int).Lsh(big.NewInt(1), uint(bits-p.Bits())))
		cursor := new(big.Int).Set(start)
		out := make([]cty.Value, 0, len(args)-1)
		for i, a := range args[1:] {
			newbits, err := smallWhole(a)
			if err != nil {
				return cty.UnknownVal(cty.List(cty.String)), function.NewArgError(i+1, err)
			}
			if newbits < 1 || p.Bits()+newbits > bits {
				return cty.UnknownVal(cty.List(cty.String)), function.NewArgErrorf(i+1, "cannot extend the /%d prefix %s by %d bits", p.Bits(), p, newbits)
			}
			newLen := p.Bits() + newbits
			size := new(big.Int).Lsh(big.NewInt(1), uint(bits-newLen))
			// Align the cursor up to a multiple of this subnet's size.
			rem := new(big.Int).Mod(cursor, size)
			if rem.Sign() != 0 {
				cursor.Add(cursor, new(big.Int).Sub(size, rem))
			}
			next := new(big.Int).Add(cursor, size)
			if next.Cmp(end) > 0 {
				return cty.UnknownVal(cty.List(cty.String)), function.NewArgErrorf(i+1, "not enough address space left in %s for a /%d subnet", p, newLen)
			}
			out = append(out, cty.StringVal(netip.PrefixFrom(addrFromInt(cursor, bits), newLen).String()))
			cursor = next
		}
		return cty.ListVal(out), nil
	},
})

// parsePrefix accepts a CIDR prefix with host bits set ("10.1.2.3/8"), as
// Terraform does, and returns it masked.
func parsePrefix(v cty.Value) (netip.Prefix, error) {
	s := v.AsString()
	p, err := netip.ParsePrefix(s)
	if err != nil {
		return netip.Prefix{}, fmt.Errorf("invalid CIDR prefix %q: %s", s, strings.TrimPrefix(err.Error(), "netip.ParsePrefix("+fmt.Sprintf("%q", s)+"): "))
	}
	if p.Addr().Zone() != "" {
		return netip.Prefix{}, fmt.Errorf("invalid CIDR prefix %q: zones are not allowed", s)
	}
	return p.Masked(), nil
}

// bigWhole converts a number argument that may be as large as an IPv6
// address space; beyond 2^130 it cannot be meaningful and is refused
// before big.Float.Int could allocate a huge integer.
func bigWhole(v cty.Value) (*big.Int, error) {
	bf := v.AsBigFloat()
	if bf.IsInf() || !bf.IsInt() {
		return nil, fmt.Errorf("%s is not a whole number", bf.Text('g', 10))
	}
	if bf.MantExp(nil) > 130 {
		return nil, fmt.Errorf("%s is too large", bf.Text('g', 10))
	}
	i, _ := bf.Int(nil)
	return i, nil
}

func smallWhole(v cty.Value) (int, error) {
	bf := v.AsBigFloat()
	if bf.IsInf() || !bf.IsInt() {
		return 0, fmt.Errorf("%s is not a whole number", bf.Text('g', 10))
	}
	i, acc := bf.Int64()
	if acc != big.Exact || i < -1<<16 || i > 1<<16 {
		return 0, fmt.Errorf("%s is out of range", bf.Text('g', 10))
	}
	return int(i), nil
}

func addrToInt(a netip.Addr) *big.Int {
	return new(big.Int).SetBytes(a.AsSlice())
}

// addrFromInt builds an address of the given bit length; callers keep n
// within the prefix, so it always fits.
func addrFromInt(n *big.Int, bits int) netip.Addr {
	buf := make([]byte, bits/8)
	n.FillBytes(buf)
	a, _ := netip.AddrFromSlice(buf)
	return a
}

package firewall

import (
	"net/netip"
	"slices"
	"strings"

	"github.com/portcheck/portcheck/internal/addrrange"
)

// valueSet is a compiled set of values of one kind: address intervals,
// numeric ranges or names. Lookups are binary searches so that sets with
// thousands of elements (and rulesets with 50k rules) stay fast.
type valueSet struct {
	addrs  []addrInterval // sorted by lo, merged
	ranges []Range        // sorted by From, merged
	names  []string       // exact names and wildcard prefixes ("eth+", "eth*")
}

type addrInterval struct{ lo, hi netip.Addr }

func compileValues(prefixes []netip.Prefix, ranges []Range, names []string) *valueSet {
	vs := &valueSet{names: names}
	for _, p := range prefixes {
		p = p.Masked()
		vs.addrs = append(vs.addrs, addrInterval{p.Addr(), addrrange.Last(p)})
	}
	slices.SortFunc(vs.addrs, func(a, b addrInterval) int { return a.lo.Compare(b.lo) })
	vs.addrs = mergeAddrs(vs.addrs)
	vs.ranges = slices.Clone(ranges)
	slices.SortFunc(vs.ranges, func(a, b Range) int { return cmpU32(a.From, b.From) })
	vs.ranges = mergeRanges(vs.ranges)
	return vs
}

func cmpU32(a, b uint32) int {
	switch {
	case a < b:
		return -1
	case a > b:
		return 1
	}
	return 0
}

func mergeAddrs(in []addrInterval) []addrInterval {
	out := in[:0]
	for _, iv := range in {
		if n := len(out); n > 0 && out[n-1].hi.BitLen() == iv.lo.BitLen() && (!out[n-1].hi.Less(iv.lo) || out[n-1].hi.Next() == iv.lo) {
			if out[n-1].hi.Less(iv.hi) {
				out[n-1].hi = iv.hi
			}
			continue
		}
		out = append(out, iv)
	}
	return out
}

func mergeRanges(in []Range) []Range {
	out := in[:0]
	for _, r := range in {
		if n := len(out); n > 0 && (out[n-1].To == ^uint32(0) || r.From <= out[n-1].To+1) {
			out[n-1].To = max(out[n-1].To, r.To)
			continue
		}
		out = append(out, r)
	}
	return out
}

func (vs *valueSet) hasAddr(a netip.Addr) bool {
	i, _ := slices.BinarySearchFunc(vs.addrs, a, func(iv addrInterval, a netip.Addr) int {
		if iv.hi.Less(a) {
			return -1
		}
		if a.Less(iv.lo) {
			return 1
		}
		return 0
	})
	return i < len(vs.addrs) && !a.Less(vs.addrs[i].lo) && !vs.addrs[i].hi.Less(a)
}

func (vs *valueSet) hasNum(v uint32) bool {
	_, found := slices.BinarySearchFunc(vs.ranges, v, func(r Range, v uint32) int {
		if r.To < v {
			return -1
		}
		if v < r.From {
			return 1
		}
		return 0
	})
	return found
}

func (vs *valueSet) hasName(n string) bool {
	for _, pat := range vs.names {
		if nameMatches(pat, n) {
			return true
		}
	}
	return false
}

// nameMatches compares an interface or state name; iptables writes a
// prefix wildcard as "eth+", nft as "eth*".
func nameMatches(pat, n string) bool {
	if p, ok := strings.CutSuffix(pat, "+"); ok {
		return strings.HasPrefix(n, p)
	}
	if p, ok := strings.CutSuffix(pat, "*"); ok && !strings.HasSuffix(p, `\`) {
		return strings.HasPrefix(n, p)
	}
	return pat == n
}

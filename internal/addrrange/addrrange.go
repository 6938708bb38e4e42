// Package addrrange splits an address range at the boundaries that
// filters draw inside it: rules, sets, routes, cloud CIDRs. A filter's
// answer cannot change between two cuts, so judging one address per
// stretch covers every address of the range. L2 and L6 both judge declared
// source ranges this way.
package addrrange

import (
	"net/netip"
	"slices"
)

// Last is the highest address of a prefix.
func Last(p netip.Prefix) netip.Addr {
	a := p.Masked().Addr().AsSlice()
	bits := p.Bits()
	for i := range a {
		for b := 7; b >= 0; b-- {
			if i*8+(7-b) >= bits {
				a[i] |= 1 << b
			}
		}
	}
	out, _ := netip.AddrFromSlice(a)
	return out
}

// Cuts collects the first address of each stretch of a range.
type Cuts struct {
	within netip.Prefix
	seen   map[netip.Addr]bool
}

// Within starts the cuts of p; p's first address always starts a stretch.
func Within(p netip.Prefix) *Cuts {
	p = p.Masked()
	return &Cuts{within: p, seen: map[netip.Addr]bool{p.Addr(): true}}
}

func (c *Cuts) cut(a netip.Addr) {
	if a.IsValid() && c.within.Contains(a) {
		c.seen[a] = true
	}
}

// Range cuts before lo and after hi: [lo, hi] is one filter's interval.
func (c *Cuts) Range(lo, hi netip.Addr) {
	c.cut(lo)
	c.cut(hi.Next())
}

// Prefix cuts around p.
func (c *Cuts) Prefix(p netip.Prefix) {
	p = p.Masked()
	c.Range(p.Addr(), Last(p))
}

// Addrs returns the stretches' first addresses, ascending.
func (c *Cuts) Addrs() []netip.Addr {
	out := make([]netip.Addr, 0, len(c.seen))
	for a := range c.seen {
		out = append(out, a)
	}
	slices.SortFunc(out, netip.Addr.Compare)
	return out
}

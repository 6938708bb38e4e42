package addrrange

import "net/netip"

// Prefixes returns the fewest CIDR prefixes that cover exactly the
// addresses lo to hi (both of one family, lo ≤ hi), in ascending order: a
// fix that must admit a stretch of addresses and nothing else names these.
// Nil when the arguments are not such a range.
func Prefixes(lo, hi netip.Addr) []netip.Prefix {
	lo, hi = lo.Unmap(), hi.Unmap()
	if !lo.IsValid() || !hi.IsValid() || lo.Is4() != hi.Is4() || hi.Less(lo) {
		return nil
	}
	var out []netip.Prefix
	for start := lo; ; {
		// The largest block that starts at start and ends by hi.
		for bits := 0; bits <= start.BitLen(); bits++ {
			p := netip.PrefixFrom(start, bits)
			if p.Masked().Addr() != start || hi.Less(Last(p)) {
				continue
			}
			out = append(out, p)
			start = Last(p).Next()
			break
		}
		if !start.IsValid() || hi.Less(start) {
			return out
		}
	}
}

package firewall

import (
	"net/netip"
	"slices"
)

// Limits for filing a rule in an index rather than checking it for every
// packet: the widest destination-port match filed under each of its ports,
// and the most inline source prefixes filed one by one.
const (
	indexablePorts    = 64
	indexablePrefixes = 8
)

// ruleIndex finds the rules of a chain that may match a packet without
// testing all of them: big rulesets are mostly per-port openings and
// per-source blocklists, which a port or an address lookup rules out.
// Every rule is in exactly one list; lists hold ascending rule indexes.
type ruleIndex struct {
	always []int32
	byPort map[uint16][]int32
	// bySrc holds rules limited to a few inline source prefixes, by prefix
	// length and masked prefix.
	bySrc map[netip.Prefix][]int32
	bits  []int // distinct prefix lengths in bySrc, IPv4 and IPv6 mixed
	// bySet holds rules limited to the sources in a named set.
	bySet map[*valueSet][]int32
}

func buildIndex(rules []*crule, updated map[string]bool) ruleIndex {
	ix := ruleIndex{byPort: map[uint16][]int32{}, bySrc: map[netip.Prefix][]int32{}, bySet: map[*valueSet][]int32{}}
	bits := map[int]bool{}
	for i, r := range rules {
		i := int32(i)
		if r.inert {
			continue // changes nothing: never a candidate
		}
		switch kind, m := indexKind(r, updated); kind {
		case byPort:
			for _, rg := range m.vals.ranges {
				for p := rg.From; p <= rg.To; p++ {
					ix.byPort[uint16(p)] = append(ix.byPort[uint16(p)], i)
				}
			}
		case bySrc:
			for _, p := range m.m.Prefixes {
				p = p.Masked()
				if list := ix.bySrc[p]; len(list) == 0 || list[len(list)-1] != i {
					ix.bySrc[p] = append(list, i)
				}
				bits[p.Bits()] = true
			}
		case bySet:
			ix.bySet[m.vals] = append(ix.bySet[m.vals], i)
		default:
			ix.always = append(ix.always, i)
		}
	}
	for b := range bits {
		ix.bits = append(ix.bits, b)
	}
	slices.Sort(ix.bits)
	return ix
}

const (
	unindexed = iota
	byPort
	bySrc
	bySet
)

// indexKind picks the index a rule goes in: a match every matching packet
// must satisfy (not negated, evaluable) that a lookup can answer.
func indexKind(r *crule, updated map[string]bool) (int, *cmatch) {
	if r.r.Unsupported != "" {
		return unindexed, nil // must be reached to be reported
	}
	for i := range r.matches {
		m := &r.matches[i]
		if m.m.Negate || m.broken != "" || m.vals == nil {
			continue
		}
		if m.m.Field == FieldDport && len(m.vals.ranges) > 0 && portCount(m.vals.ranges) <= indexablePorts {
			return byPort, m
		}
	}
	for i := range r.matches {
		m := &r.matches[i]
		if m.m.Negate || m.broken != "" || m.vals == nil || m.m.Field != FieldSaddr {
			continue
		}
		if m.m.Set != "" {
			if updated[m.m.Set] {
				continue // its contents change on the way
			}
			return bySet, m
		}
		if n := len(m.m.Prefixes); n > 0 && n <= indexablePrefixes {
			return bySrc, m
		}
	}
	return unindexed, nil
}

func portCount(rs []Range) uint32 {
	var n uint32
	for _, r := range rs {
		if r.To > 65535 {
			return indexablePorts + 1
		}
		n += r.To - r.From + 1
	}
	return n
}

// candidates merges the lists that may hold rules matching src and dport.
func (ix *ruleIndex) candidates(src netip.Addr, dport uint16) []int32 {
	lists := [][]int32{ix.always}
	if l := ix.byPort[dport]; len(l) > 0 {
		lists = append(lists, l)
	}
	for _, b := range ix.bits {
		if b > src.BitLen() {
			break
		}
		if l := ix.bySrc[netip.PrefixFrom(src, b).Masked()]; len(l) > 0 {
			lists = append(lists, l)
		}
	}
	for vs, l := range ix.bySet {
		if vs.hasAddr(src) {
			lists = append(lists, l)
		}
	}
	if len(lists) == 1 {
		return ix.always
	}
	var out []int32
	for _, l := range lists {
		out = mergeSorted(out, l)
	}
	return out
}

func mergeSorted(a, b []int32) []int32 {
	out := make([]int32, 0, len(a)+len(b))
	i, j := 0, 0
	for i < len(a) && j < len(b) {
		if a[i] < b[j] {
			out = append(out, a[i])
			i++
		} else {
			out = append(out, b[j])
			j++
		}
	}
	out = append(out, a[i:]...)
	return append(out, b[j:]...)
}

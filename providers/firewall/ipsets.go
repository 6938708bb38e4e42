package firewall

import (
	"fmt"
	"net/netip"
	"slices"

	"github.com/portcheck/portcheck/internal/addrrange"
)

// ipsetDims are the dimensions of the ipset types the model holds: 'a'
// an address, 'p' a protocol and port, 'i' an interface.
var ipsetDims = map[string]string{
	"hash:ip": "a", "hash:net": "a", "bitmap:ip": "a",
	"hash:ip,port": "ap", "hash:net,port": "ap",
	"hash:ip,port,ip": "apa", "hash:ip,port,net": "apa", "hash:net,port,net": "apa",
	"hash:net,net": "aa", "hash:net,iface": "ai",
	"bitmap:port": "p",
}

// resolveIPSet turns -m set --match-set NAME DIRS into the match it is
// for the set's type: an address match for hash:ip and hash:net, a port
// match for bitmap:port, a concatenated lookup for the others.
func (ct *ctable) resolveIPSet(m *Match) (*Match, string) {
	s := ct.ipsets[m.Set]
	if s == nil {
		return nil, fmt.Sprintf("ipset %s was not read (is the ipset tool installed?)", m.Set)
	}
	typ, entries := s.Type, s.Entries
	if s.Type == "list:set" {
		// A list matches when one of its members does, with the same
		// directions: the members' entries together, when alike.
		typ = ""
		for _, name := range s.Members {
			ms := ct.ipsets[name]
			if ms == nil || ms.Type == "list:set" || (typ != "" && ms.Type != typ) {
				return nil, fmt.Sprintf("ipset %s lists sets of different or unknown types", m.Set)
			}
			typ = ms.Type
			entries = append(slices.Clone(entries), ms.Entries...)
		}
	}
	dims, ok := ipsetDims[typ]
	if !ok {
		return nil, fmt.Sprintf("ipset %s of type %s", m.Set, typ)
	}
	if len(m.Names) < len(dims) {
		// Fewer directions than dimensions: the kernel never matches.
		return &Match{Field: FieldFragment, Negate: m.Negate}, ""
	}
	nomatch := slices.ContainsFunc(entries, func(e IPSetEntry) bool { return e.Nomatch })
	switch dims {
	case "a":
		field := FieldSaddr
		if m.Names[0] == "dst" {
			field = FieldDaddr
		}
		out := &Match{Field: field, Negate: m.Negate, Prefixes: paintPrefixes(entries)}
		if len(out.Prefixes) == 0 {
			// An empty set: nothing is in it (negated, everything of
			// the family is, which a prefix of the whole family says).
			out.Prefixes = []netip.Prefix{netip.MustParsePrefix("0.0.0.0/0"), netip.MustParsePrefix("::/0")}
			out.Negate = !m.Negate
		}
		return out, ""
	case "p":
		field := FieldSport
		if m.Names[0] == "dst" {
			field = FieldDport
		}
		out := &Match{Field: field, Negate: m.Negate}
		for _, e := range entries {
			out.Ranges = append(out.Ranges, *e.Values[0].Range)
		}
		if len(out.Ranges) == 0 {
			out.Ranges, out.Negate = []Range{{From: 0, To: 65535}}, !m.Negate
		}
		return out, ""
	}
	if nomatch {
		return nil, fmt.Sprintf("ipset %s of type %s with nomatch entries", m.Set, typ)
	}
	out := &Match{Field: FieldConcat, Negate: m.Negate}
	for i, d := range dims {
		src := m.Names[i] != "dst"
		switch d {
		case 'a':
			out.Concat = append(out.Concat, KeyField{Field: map[bool]Field{true: FieldSaddr, false: FieldDaddr}[src]})
		case 'p':
			out.Concat = append(out.Concat, KeyField{Field: FieldL4Proto}, KeyField{Field: map[bool]Field{true: FieldSport, false: FieldDport}[src]})
		case 'i':
			out.Concat = append(out.Concat, KeyField{Field: map[bool]Field{true: FieldIIF, false: FieldOIF}[src]})
		}
	}
	for _, e := range entries {
		var t []Value
		for i, d := range dims {
			v := e.Values[i]
			if d == 'p' {
				t = append(t, Value{Range: &Range{From: uint32(v.Proto), To: uint32(v.Proto)}}, Value{Range: v.Range})
				continue
			}
			t = append(t, v)
		}
		out.Tuples = append(out.Tuples, t)
	}
	return out, ""
}

// paintPrefixes is what a one-address-dimension set holds: each address
// in the set when its most specific entry is not a nomatch one.
func paintPrefixes(entries []IPSetEntry) []netip.Prefix {
	type span struct {
		lo, hi netip.Addr
		in     bool
	}
	sorted := slices.Clone(entries)
	slices.SortStableFunc(sorted, func(a, b IPSetEntry) int { return a.Values[0].Prefix.Bits() - b.Values[0].Prefix.Bits() })
	var spans []span
	for _, e := range sorted {
		p := *e.Values[0].Prefix
		lo, hi := p.Addr(), addrrange.Last(p)
		var next []span
		for _, s := range spans {
			// Keep what of s lies outside [lo, hi].
			if s.hi.Less(lo) || hi.Less(s.lo) {
				next = append(next, s)
				continue
			}
			if s.lo.Less(lo) {
				next = append(next, span{s.lo, lo.Prev(), s.in})
			}
			if hi.Less(s.hi) {
				next = append(next, span{hi.Next(), s.hi, s.in})
			}
		}
		spans = append(next, span{lo, hi, !e.Nomatch})
	}
	var out []netip.Prefix
	for _, s := range spans {
		if s.in {
			out = append(out, rangeToPrefixes(s.lo, s.hi)...)
		}
	}
	return out
}

// rangeToPrefixes covers lo..hi exactly with prefixes.
func rangeToPrefixes(lo, hi netip.Addr) []netip.Prefix {
	var out []netip.Prefix
	for lo.IsValid() && !hi.Less(lo) {
		bits := lo.BitLen()
		for bits > 0 {
			p := netip.PrefixFrom(lo, bits-1).Masked()
			if p.Addr() != lo || hi.Less(addrrange.Last(p)) {
				break
			}
			bits--
		}
		p := netip.PrefixFrom(lo, bits)
		out = append(out, p)
		lo = addrrange.Last(p).Next()
	}
	return out
}

// IPSetDimensions returns the kinds of an ipset type's dimensions ('a' an
// address, 'p' a protocol and port, 'i' an interface), or false for a
// type the model cannot hold (hash:mac, hash:ip,mark, …).
func IPSetDimensions(typ string) (string, bool) {
	d, ok := ipsetDims[typ]
	return d, ok
}

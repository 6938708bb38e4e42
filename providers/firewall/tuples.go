package firewall

import (
	"net/netip"
	"strconv"
	"strings"
)

// tupleSet holds the keys of a set or verdict map with a concatenated key
// (nft's "ip daddr . meta l4proto . th dport"): exact keys in a hash map,
// so that kube-proxy's maps with one element per service port are one
// lookup, and the keys with prefixes, ranges or wildcards in a list.
type tupleSet struct {
	tuples [][]Value
	exact  map[string]int32
	ranged []int32
}

func compileTuples(ts [][]Value) *tupleSet {
	s := &tupleSet{tuples: ts, exact: make(map[string]int32, len(ts))}
	for i, t := range ts {
		k, ok := exactTupleKey(t)
		if !ok {
			s.ranged = append(s.ranged, int32(i))
			continue
		}
		if _, dup := s.exact[k]; !dup {
			s.exact[k] = int32(i)
		}
	}
	return s
}

// keyPart is the value one part of a concatenated key has for a packet.
type keyPart struct {
	kind byte // 'a' address, 'n' number, 's' name
	addr netip.Addr
	num  uint32
	name string
}

func (p keyPart) text(b *strings.Builder) {
	b.WriteByte(p.kind)
	switch p.kind {
	case 'a':
		b.WriteString(p.addr.String())
	case 'n':
		b.WriteString(strconv.FormatUint(uint64(p.num), 10))
	default:
		b.WriteString(p.name)
	}
	b.WriteByte(0)
}

// exactTupleKey is the hash key of a tuple of single values; ok is false
// when a part is a prefix, a range or a wildcard name.
func exactTupleKey(t []Value) (string, bool) {
	var b strings.Builder
	for _, v := range t {
		var p keyPart
		switch {
		case v.Prefix != nil:
			if v.Prefix.Bits() != v.Prefix.Addr().BitLen() {
				return "", false
			}
			p = keyPart{kind: 'a', addr: v.Prefix.Addr().Unmap()}
		case v.Range != nil:
			if v.Range.From != v.Range.To {
				return "", false
			}
			p = keyPart{kind: 'n', num: v.Range.From}
		default:
			if strings.HasSuffix(v.Name, "*") || strings.HasSuffix(v.Name, "+") {
				return "", false
			}
			p = keyPart{kind: 's', name: v.Name}
		}
		p.text(&b)
	}
	return b.String(), true
}

// lookup returns the index of the first tuple that holds the packet's key,
// or -1.
func (s *tupleSet) lookup(key []keyPart) int {
	var b strings.Builder
	for _, p := range key {
		p.text(&b)
	}
	best := -1
	if i, ok := s.exact[b.String()]; ok {
		best = int(i)
	}
	for _, i := range s.ranged {
		if best >= 0 && int(i) > best {
			break
		}
		if tupleHolds(s.tuples[i], key) {
			return int(i)
		}
	}
	return best
}

func tupleHolds(t []Value, key []keyPart) bool {
	if len(t) != len(key) {
		return false
	}
	for i, v := range t {
		if !valueHolds(v, key[i]) {
			return false
		}
	}
	return true
}

func valueHolds(v Value, p keyPart) bool {
	switch {
	case v.Prefix != nil:
		return p.kind == 'a' && v.Prefix.Contains(p.addr)
	case v.Range != nil:
		return p.kind == 'n' && p.num >= v.Range.From && p.num <= v.Range.To
	}
	return p.kind == 's' && nameMatches(v.Name, p.name)
}

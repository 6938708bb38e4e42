package config

import (
	"fmt"
	"iter"
	"math/big"
	"slices"
	"strconv"
	"strings"

	"github.com/hashicorp/hcl/v2"
	"github.com/zclconf/go-cty/cty"
)

// PortSet is an endpoint's ports: sorted, disjoint ranges, adjacent ones
// merged ([80, 81] is 80-81). A list of 10,000 ports in one range is one
// element, never one value per port. A single port is one range with
// From == To; the zero value holds no port.
type PortSet []PortRange

// SinglePort is the set of one port.
func SinglePort(p int) PortSet { return PortSet{{From: p, To: p}} }

// PortSpan is the set of the ports from..to (from <= to).
func PortSpan(from, to int) PortSet { return PortSet{{From: from, To: to}} }

// Len is how many ports the set holds.
func (s PortSet) Len() int {
	n := 0
	for _, r := range s {
		n += r.To - r.From + 1
	}
	return n
}

// First is the lowest port (0 for an empty set).
func (s PortSet) First() int {
	if len(s) == 0 {
		return 0
	}
	return s[0].From
}

// Last is the highest port (0 for an empty set).
func (s PortSet) Last() int {
	if len(s) == 0 {
		return 0
	}
	return s[len(s)-1].To
}

// Single reports whether the set is one port.
func (s PortSet) Single() bool { return len(s) == 1 && s[0].From == s[0].To }

// Contiguous reports whether the set is one range (a single port included).
func (s PortSet) Contiguous() bool { return len(s) == 1 }

// Contains reports whether p is in the set.
func (s PortSet) Contains(p int) bool {
	i, found := slices.BinarySearchFunc(s, p, func(r PortRange, p int) int {
		switch {
		case r.To < p:
			return -1
		case r.From > p:
			return 1
		}
		return 0
	})
	_ = i
	return found
}

// All yields every port in ascending order.
func (s PortSet) All() iter.Seq[int] {
	return func(yield func(int) bool) {
		for _, r := range s {
			for p := r.From; p <= r.To; p++ {
				if !yield(p) {
					return
				}
			}
		}
	}
}

// String is "80", "8000-8010" or "80,443,8000-8010".
func (s PortSet) String() string {
	parts := make([]string, len(s))
	for i, r := range s {
		parts[i] = r.String()
	}
	return strings.Join(parts, ",")
}

// String is "80" or "8000-8010".
func (r PortRange) String() string {
	if r.To > r.From {
		return strconv.Itoa(r.From) + "-" + strconv.Itoa(r.To)
	}
	return strconv.Itoa(r.From)
}

// maxPortsDefault is how many ports an endpoint may hold without an
// explicit max_ports: a typo such as "1-65535" must not turn into a
// 65,535-port scan unnoticed.
const maxPortsDefault = 1024

// portElem is one element of a port attribute: its range and where it was
// written.
type portElem struct {
	r   PortRange
	rng hcl.Range
	src string // as written, for messages: 443 or "8000-8010"
}

// ports decodes port: a number, a string with one port or a range, or a
// list of those.
func (s *scope) ports(expr hcl.Expression) (PortSet, state, hcl.Diagnostics) {
	v, st, diags := s.eval(expr)
	if st != valid {
		return nil, st, diags
	}
	rng := expr.Range()
	ty := v.Type()
	if !ty.IsTupleType() && !ty.IsListType() && !ty.IsSetType() {
		if ty != cty.Number && ty != cty.String {
			return nil, invalid, diags.Append(typeDiag(expr, "port", "number, string range like \"8000-8010\", or a list of those"))
		}
		e, d := portElement(v, rng)
		if d != nil {
			return nil, invalid, diags.Append(d)
		}
		return PortSet{e.r}, valid, diags
	}
	if v.LengthInt() == 0 {
		return nil, invalid, diags.Append(errorf(rng, "Invalid port list", "port = [] lists no ports: give at least one port or range."))
	}
	// Element ranges when the list is written out; else the attribute's.
	var exprs []hcl.Expression
	if es, d := hcl.ExprList(expr); !d.HasErrors() && len(es) == v.LengthInt() {
		exprs = es
	}
	var elems []portElem
	bad := false
	i := 0
	for it := v.ElementIterator(); it.Next(); i++ {
		_, ev := it.Element()
		erng := rng
		if exprs != nil {
			erng = exprs[i].Range()
		}
		e, d := portElement(ev, erng)
		if d != nil {
			if exprs == nil {
				d.Detail = fmt.Sprintf("Element %d of the list: %s", i, d.Detail)
			}
			inContext(d, rng)
			diags = diags.Append(d)
			bad = true
			continue
		}
		elems = append(elems, e)
	}
	if bad {
		return nil, invalid, diags
	}
	set, d := buildPortSet(elems)
	if d != nil {
		return nil, invalid, diags.Append(inContext(d, rng))
	}
	return set, valid, diags
}

// portElement decodes one port or range value.
func portElement(v cty.Value, rng hcl.Range) (portElem, *hcl.Diagnostic) {
	if v.IsNull() {
		return portElem{}, errorf(rng, "Invalid port", "port must not be null.")
	}
	if !v.IsKnown() {
		return portElem{}, errorf(rng, "Invalid port", "The port is not known.")
	}
	switch v.Type() {
	case cty.Number:
		bf := v.AsBigFloat()
		p, acc := bf.Int64()
		if !bf.IsInt() || acc != big.Exact || p < 1 || p > 65535 {
			return portElem{}, errorf(rng, "Invalid port", "A port is a whole number from 1 to 65535; got %s.", bf.Text('g', 10))
		}
		return portElem{r: PortRange{From: int(p), To: int(p)}, rng: rng, src: strconv.Itoa(int(p))}, nil
	case cty.String:
		r, err := ParsePortRange(v.AsString())
		if err != nil {
			return portElem{}, errorf(rng, err.summary, "%s", err.detail)
		}
		return portElem{r: r, rng: rng, src: strconv.Quote(v.AsString())}, nil
	}
	return portElem{}, errorf(rng, "Invalid port", "A port is a number, a string range like \"8000-8010\", or a list of those; got %s.", v.Type().FriendlyName())
}

// PortError is why a port string is not a port or range.
type PortError struct{ summary, detail string }

func (e *PortError) Error() string { return e.summary + ": " + e.detail }

// ParsePortRange parses "8080" or "8000-8010" (spaces around the numbers
// allowed), any range within 1-65535.
func ParsePortRange(s string) (PortRange, *PortError) {
	fromS, toS, isRange := strings.Cut(s, "-")
	if !isRange {
		toS = fromS
	}
	from, err1 := strconv.Atoi(strings.TrimSpace(fromS))
	to, err2 := strconv.Atoi(strings.TrimSpace(toS))
	bad := func(summary, format string, args ...any) (PortRange, *PortError) {
		return PortRange{}, &PortError{summary, fmt.Sprintf(format, args...)}
	}
	switch {
	case err1 != nil || err2 != nil:
		if !isRange {
			return bad("Invalid port", "%q is not a port: use a number from 1 to 65535, or a range like \"8000-8010\".", s)
		}
		return bad("Invalid port range", "%q is not a port range: use two ports like \"8000-8010\".", s)
	case from < 1 || from > 65535 || to < 1 || to > 65535:
		if !isRange {
			return bad("Invalid port", "A port is a whole number from 1 to 65535; got %s.", strings.TrimSpace(s))
		}
		return bad("Invalid port range", "Both ends of %q must be ports from 1 to 65535.", s)
	case from > to:
		return bad("Invalid port range", "The range %q runs backwards; write it as \"%d-%d\".", s, to, from)
	}
	return PortRange{From: from, To: to}, nil
}

// buildPortSet sorts the elements into a set; a port given twice (a
// duplicate, or ranges that overlap) is an error on the later element,
// naming the earlier one.
func buildPortSet(elems []portElem) (PortSet, *hcl.Diagnostic) {
	order := make([]int, len(elems))
	for i := range order {
		order[i] = i
	}
	slices.SortStableFunc(order, func(a, b int) int { return elems[a].r.From - elems[b].r.From })
	var set PortSet
	prev := -1 // index in elems of the element reaching highest so far
	for _, i := range order {
		e := elems[i]
		if prev >= 0 && e.r.From <= elems[prev].r.To {
			first, second := elems[prev], e
			if i < prev { // report on the one written later
				first, second = e, elems[prev]
			}
			lo := max(first.r.From, second.r.From)
			hi := min(first.r.To, second.r.To)
			if second.r.From == second.r.To {
				return nil, errorf(second.rng, "Duplicate port", "Port %d is already listed at %s (as %s): list each port once.",
					lo, SourceOf(first.rng), first.src)
			}
			what := fmt.Sprintf("port %d", lo)
			if hi > lo {
				what = fmt.Sprintf("ports %d-%d", lo, hi)
			}
			return nil, errorf(second.rng, "Duplicate port", "The range %s repeats %s, already listed at %s (as %s): list each port once.",
				second.src, what, SourceOf(first.rng), first.src)
		}
		if n := len(set); n > 0 && set[n-1].To+1 == e.r.From {
			set[n-1].To = e.r.To
		} else {
			set = append(set, e.r)
		}
		if prev < 0 || e.r.To > elems[prev].r.To {
			prev = i
		}
	}
	return set, nil
}

// checkPortCount enforces max_ports: more than maxPortsDefault ports need
// it, and it bounds the set.
func checkPortCount(e *Endpoint, portRng, maxRng hcl.Range, maxSet bool) *hcl.Diagnostic {
	n := e.Ports.Len()
	switch {
	case n == 0:
		return nil
	case maxSet && n > e.MaxPorts:
		return errorf(portRng, "Too many ports",
			"port holds %s ports, more than max_ports = %d (%s): raise max_ports if the scan is meant, or check the range for a typo.", thousands(n), e.MaxPorts, SourceOf(maxRng))
	case !maxSet && n > maxPortsDefault:
		return errorf(portRng, "Too many ports",
			"port holds %s ports; an endpoint of more than %s ports needs an explicit max_ports = %d on the endpoint, so that a typo does not become a %s-port scan.", thousands(n), thousands(maxPortsDefault), n, thousands(n))
	}
	return nil
}

// thousands writes 65535 as "65,535".
func thousands(n int) string {
	s := strconv.Itoa(n)
	for i := len(s) - 3; i > 0; i -= 3 {
		s = s[:i] + "," + s[i:]
	}
	return s
}

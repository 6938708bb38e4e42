package dns

import (
	"fmt"
	"net/netip"
	"slices"
	"strconv"
	"strings"
)

// Resolved reports whether the resolver answered NOERROR with records of
// the type asked for (at the end of the CNAME chain).
func (f *Facts) Resolved() bool {
	if !f.Answered || f.Rcode != "NOERROR" {
		return false
	}
	switch f.Type {
	case TypeA, TypeAAAA:
		return len(f.Addresses) > 0
	case TypeSRV:
		return len(f.SRV) > 0
	case TypeCNAME:
		return len(f.CNAMEs) > 0
	}
	return false
}

// IPs are the addresses the name resolved to, sorted, each once.
func (f *Facts) IPs() []netip.Addr {
	var out []netip.Addr
	for _, a := range f.Addresses {
		out = append(out, a.IP)
	}
	slices.SortFunc(out, netip.Addr.Compare)
	return slices.Compact(out)
}

// AddressCheck compares the resolved addresses with declared ones.
type AddressCheck struct {
	// OK: every declared address is there and, when exact, nothing else.
	OK         bool         `json:"ok"`
	Missing    []netip.Addr `json:"missing,omitempty"`
	Unexpected []netip.Addr `json:"unexpected,omitempty"`
	Evidence   string       `json:"evidence"`
}

// CheckAddresses answers "does the name resolve to these addresses"; with
// exact, also "and to no other". A name that did not resolve (no answer,
// NXDOMAIN, SERVFAIL, no records) misses every declared address.
func CheckAddresses(f *Facts, want []netip.Addr, exact bool) AddressCheck {
	got := f.IPs()
	var c AddressCheck
	for _, w := range want {
		if !slices.Contains(got, w.Unmap()) {
			c.Missing = append(c.Missing, w.Unmap())
		}
	}
	if exact {
		for _, g := range got {
			if !slices.ContainsFunc(want, func(w netip.Addr) bool { return w.Unmap() == g }) {
				c.Unexpected = append(c.Unexpected, g)
			}
		}
	}
	c.OK = f.Resolved() && len(c.Missing) == 0 && len(c.Unexpected) == 0
	c.Evidence = f.Evidence()
	if len(c.Missing) > 0 {
		c.Evidence += "; missing " + addrList(c.Missing)
	}
	if len(c.Unexpected) > 0 {
		c.Evidence += "; not declared " + addrList(c.Unexpected)
	}
	return c
}

// SRVCheck answers whether SRV records carry a port.
type SRVCheck struct {
	// OK: at least one record has the port (and the target, when given).
	OK       bool  `json:"ok"`
	Matching []SRV `json:"matching,omitempty"`
	// Ports are every port the records carry, sorted.
	Ports    []uint16 `json:"ports"`
	Evidence string   `json:"evidence"`
}

// CheckSRV answers "do the SRV records carry port (for target, when not
// empty)". For the old port, OK false is the wanted answer: Ports shows
// what the records carry instead.
func CheckSRV(f *Facts, port uint16, target string) SRVCheck {
	c := SRVCheck{Ports: []uint16{}}
	for _, s := range f.SRV {
		if !slices.Contains(c.Ports, s.Port) {
			c.Ports = append(c.Ports, s.Port)
		}
		if s.Port == port && (target == "" || strings.EqualFold(strings.TrimSuffix(s.Target, "."), strings.TrimSuffix(target, "."))) {
			c.Matching = append(c.Matching, s)
		}
	}
	slices.Sort(c.Ports)
	c.OK = f.Resolved() && len(c.Matching) > 0
	c.Evidence = f.Evidence()
	return c
}

// Evidence is one line for a report: who was asked, how, and what came
// back.
func (f *Facts) Evidence() string {
	var b strings.Builder
	fmt.Fprintf(&b, "%s %s asked of %s", f.Name, f.Type, f.Resolver)
	if f.NetNS != "" {
		fmt.Fprintf(&b, " from %s", f.NetNS)
	}
	if !f.Answered {
		fmt.Fprintf(&b, " over %s: %s", f.Transport, f.Error)
		return b.String()
	}
	fmt.Fprintf(&b, " over %s", f.Transport)
	if f.Truncated {
		b.WriteString(" (UDP answer truncated)")
	}
	fmt.Fprintf(&b, ": %s", f.Rcode)
	if f.Authoritative {
		b.WriteString(", authoritative")
	}
	for _, c := range f.CNAMEs {
		fmt.Fprintf(&b, ", %s → %s (TTL %d)", c.Name, c.Target, c.TTL)
	}
	switch {
	case len(f.Addresses) > 0:
		var as []string
		for _, a := range f.Addresses {
			as = append(as, a.IP.String()+" (TTL "+strconv.Itoa(int(a.TTL))+")")
		}
		b.WriteString(", " + strings.Join(as, ", "))
	case len(f.SRV) > 0:
		var ss []string
		for _, s := range f.SRV {
			ss = append(ss, fmt.Sprintf("%d %d %d %s (TTL %d)", s.Priority, s.Weight, s.Port, s.Target, s.TTL))
		}
		b.WriteString(", SRV " + strings.Join(ss, ", "))
	case f.Rcode == "NOERROR" && len(f.CNAMEs) == 0:
		b.WriteString(", no records")
	}
	if f.Error != "" {
		b.WriteString("; " + f.Error)
	}
	return b.String()
}

func addrList(as []netip.Addr) string {
	var s []string
	for _, a := range as {
		s = append(s, a.String())
	}
	return strings.Join(s, ", ")
}

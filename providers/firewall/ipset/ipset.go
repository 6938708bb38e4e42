// Package ipset reads a namespace's ipsets (`ipset save`) into the
// firewall model, for the iptables rules that look them up with -m set
// (fail2ban's ipset actions, Calico, kube-proxy's ipvs mode).
package ipset

import (
	"context"
	"errors"
	"fmt"
	"net/netip"
	"os/exec"
	"strconv"
	"strings"

	"github.com/portcheck/portcheck/internal/netns"
	"github.com/portcheck/portcheck/providers/firewall"
)

// Read runs `ipset save` in the namespace at netnsPath and parses it.
func Read(ctx context.Context, netnsPath string) (map[string]*firewall.IPSet, error) {
	if _, err := exec.LookPath("ipset"); err != nil {
		return nil, errors.New("ipset is not installed, so the sets -m set looks up cannot be read")
	}
	out, err := netns.Output(ctx, netnsPath, nil, "ipset", "save")
	if err != nil {
		return nil, fmt.Errorf("ipset save: %w", err)
	}
	return Parse(out)
}

// Parse reads `ipset save` output: "create NAME TYPE OPTIONS…" and "add
// NAME ENTRY [OPTIONS…]" lines. Sets of types the model cannot hold keep
// their name and type without entries; a lookup in them is undecidable.
func Parse(save []byte) (map[string]*firewall.IPSet, error) {
	sets := map[string]*firewall.IPSet{}
	for i, line := range strings.Split(string(save), "\n") {
		f := strings.Fields(line)
		if len(f) == 0 || strings.HasPrefix(f[0], "#") {
			continue
		}
		switch {
		case f[0] == "create" && len(f) >= 3:
			s := &firewall.IPSet{Name: f[1], Type: f[2], Family: "inet"}
			for j := 3; j+1 < len(f); j++ {
				if f[j] == "family" {
					s.Family = f[j+1]
				}
			}
			if sets[s.Name] != nil {
				return nil, fmt.Errorf("line %d: set %s created twice", i+1, s.Name)
			}
			sets[s.Name] = s
		case f[0] == "add" && len(f) >= 3:
			s := sets[f[1]]
			if s == nil {
				return nil, fmt.Errorf("line %d: add to set %s before it is created", i+1, f[1])
			}
			if s.Type == "list:set" {
				s.Members = append(s.Members, f[2])
				continue
			}
			dims, ok := firewall.IPSetDimensions(s.Type)
			if !ok {
				continue
			}
			e, err := entry(f[2], dims, s.Family)
			if err != nil {
				return nil, fmt.Errorf("line %d: set %s: %w", i+1, s.Name, err)
			}
			for _, opt := range f[3:] {
				if opt == "nomatch" {
					e.Nomatch = true
				}
			}
			s.Entries = append(s.Entries, e)
		default:
			return nil, fmt.Errorf("line %d: unexpected %q", i+1, line)
		}
	}
	return sets, nil
}

// entry parses one element: its dimensions separated by commas.
func entry(s, dims, family string) (firewall.IPSetEntry, error) {
	parts := strings.Split(s, ",")
	if len(parts) != len(dims) {
		return firewall.IPSetEntry{}, fmt.Errorf("entry %q has %d parts, the type %d", s, len(parts), len(dims))
	}
	var e firewall.IPSetEntry
	for i, p := range parts {
		var v firewall.Value
		switch dims[i] {
		case 'a':
			pr, err := prefix(p, family)
			if err != nil {
				return firewall.IPSetEntry{}, err
			}
			v.Prefix = &pr
		case 'p':
			proto, port := "tcp", p
			if a, b, ok := strings.Cut(p, ":"); ok {
				proto, port = a, b
			}
			n, ok := map[string]uint8{"tcp": firewall.ProtoTCP, "udp": firewall.ProtoUDP, "sctp": 132, "udplite": 136}[proto]
			if !ok {
				return firewall.IPSetEntry{}, fmt.Errorf("port %q of protocol %s", p, proto)
			}
			lo, hi, _ := strings.Cut(port, "-")
			from, err1 := strconv.ParseUint(lo, 10, 16)
			to := from
			var err2 error
			if hi != "" {
				to, err2 = strconv.ParseUint(hi, 10, 16)
			}
			if err1 != nil || err2 != nil || to < from {
				return firewall.IPSetEntry{}, fmt.Errorf("port %q", p)
			}
			v.Range, v.Proto = &firewall.Range{From: uint32(from), To: uint32(to)}, n
		case 'i':
			v.Name = strings.TrimPrefix(p, "physdev:")
		}
		e.Values = append(e.Values, v)
	}
	return e, nil
}

// prefix reads an address or network of the set's family.
func prefix(s, family string) (netip.Prefix, error) {
	if a, b, ok := strings.Cut(s, "-"); ok && !strings.Contains(a, ":") {
		return netip.Prefix{}, fmt.Errorf("address range %s-%s (ipset save prints networks)", a, b)
	}
	var p netip.Prefix
	var err error
	if strings.Contains(s, "/") {
		p, err = netip.ParsePrefix(s)
	} else {
		var a netip.Addr
		a, err = netip.ParseAddr(s)
		p = netip.PrefixFrom(a, a.BitLen())
	}
	if err != nil || p.Addr().Is6() != (family == "inet6") {
		return netip.Prefix{}, fmt.Errorf("address %q in a set of family %s", s, family)
	}
	return p.Masked(), nil
}

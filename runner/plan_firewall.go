package runner

import (
	"net/netip"

	"github.com/portcheck/portcheck/config"
	"github.com/portcheck/portcheck/providers"
)

// firewallChecks plans L2: the server's packet filter judges the packet
// each vantage host would send, and a sample of every declared source
// range. Without a firewall block an open endpoint still gets the vantage
// checks (that is the layer's question: does the filter let them in?); a
// closed one is judged at L4.
func firewallChecks(ep *config.Endpoint, vantages []vantage, addrs []netip.Addr, serverExec providers.Exec, server unavailable, env Environment) []*Check {
	fw := ep.Expect.Firewall
	closed := ep.State == "closed"
	var out []*Check
	add := func(c *Check) {
		c.Layer, c.Name, c.Provider, c.Exec = providers.LayerFirewall, "firewall", "netfilter", serverExec
		c.Source = ep.DeclRange
		if fw != nil {
			c.Source, c.Declared = fw.DeclRange, true
		}
		if server.reason != "" {
			c.cannotRun(server.reason, server.hard)
		} else {
			c.cannotRun(providerSkip(c.Provider, serverExec, env), false)
		}
		out = append(out, c)
	}
	for _, a := range addrs {
		for port := range ep.Ports.All() {
			t := providers.Target{Address: a, Port: port, Protocol: providers.Protocol(ep.Protocol)}
			if !closed {
				for _, v := range vantages {
					c := &Check{From: v.name, Target: t, FromAddrs: v.addrs}
					// Offline, or a vantage reached over ssh: only its declared
					// addresses (its routes are not looked up here).
					if v.unusable == "" && !env.Offline && v.exec.Remote == "" {
						ex := v.exec
						c.FromExec = &ex
					}
					add(c)
					if why := v.loopbackElsewhere(t.Address); why != "" && c.Skip == "" && c.Error == "" {
						c.cannotRun(why, true)
					}
					if c.Skip == "" && c.Error == "" && c.FromExec == nil && !hasFamily(v.addrs, a) {
						// The vantage host was declared: judging it is asked for.
						why := v.unusable + "; and it has no declared " + family(a) + " address to judge its packets by"
						if v.unusable == "" {
							why = "vantage host " + v.name + " has no declared " + family(a) + " address to judge its packets by (-offline does not look one up)"
						}
						c.cannotRun(why, true)
					}
				}
			}
			if fw == nil {
				continue
			}
			for _, p := range fw.AllowFrom {
				if p.Addr().Is4() == a.Is4() {
					add(&Check{From: p.String(), Target: t, Sources: p})
				}
			}
			for _, p := range fw.DenyFrom {
				if p.Addr().Is4() == a.Is4() {
					add(&Check{From: p.String(), Target: t, Sources: p, Deny: true})
				}
			}
		}
	}
	return out
}

func hasFamily(list []netip.Addr, a netip.Addr) bool {
	_, ok := sameFamily(list, a)
	return ok
}

// sameFamily returns the first address of list in a's family (IPv4 or
// IPv6): the one a host declared with several addresses sends from.
func sameFamily(list []netip.Addr, a netip.Addr) (netip.Addr, bool) {
	for _, b := range list {
		if b.Unmap().Is4() == a.Unmap().Is4() {
			return b.Unmap(), true
		}
	}
	return netip.Addr{}, false
}

func family(a netip.Addr) string {
	if a.Unmap().Is4() {
		return "IPv4"
	}
	return "IPv6"
}

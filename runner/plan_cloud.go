package runner

import (
	"net/netip"

	"github.com/portcheck/portcheck/config"
	"github.com/portcheck/portcheck/providers"
)

// cloudChecks plans L6 for an endpoint with a cloud block: one check per
// client (each vantage host's address of the target's family, or each
// declared source) per target address and port. The cloud's API is asked
// from this machine; the clients' packets are judged, not sent.
func cloudChecks(ep *config.Endpoint, vantages []vantage, addrs []netip.Addr) []*Check {
	x := ep.Expect.Cloud
	if x == nil || ep.State == "closed" {
		return nil
	}
	// A provider type no backend serves cannot be checked: an error on
	// every check, never another cloud's semantics. (Commands report it
	// before planning, through DecodeProviders.)
	var noBackend string
	if _, diags := cloudBackend(x.Provider); diags.HasErrors() {
		noBackend = diags[0].Detail
	}
	var out []*Check
	add := func(c *Check) {
		c.Layer, c.Name, c.Exec = providers.LayerCloud, "cloud", providers.Exec{}
		c.Source, c.Declared = x.DeclRange, true
		if x.Provider != nil {
			c.Provider = x.Provider.Type
		}
		c.cannotRun(noBackend, true)
		out = append(out, c)
	}
	for _, a := range addrs {
		for port := range ep.Ports.All() {
			t := providers.Target{Address: a, Port: port, Protocol: providers.Protocol(ep.Protocol)}
			if len(x.Sources) > 0 {
				for _, p := range x.Sources {
					if p.Addr().Is4() == a.Is4() {
						add(&Check{From: p.String(), Target: t, Sources: p})
					}
				}
				continue
			}
			for _, v := range vantages {
				c := &Check{From: v.name, Target: t, FromAddrs: v.addrs}
				add(c)
				if !hasFamily(v.addrs, a) && c.Error == "" {
					c.Error = "vantage host " + v.name + " has no declared " + family(a) + " address for the cloud to judge; declare sources in the cloud block"
				}
			}
		}
	}
	return out
}

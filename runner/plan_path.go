package runner

import (
	"net/netip"

	"github.com/portcheck/portcheck/config"
	"github.com/portcheck/portcheck/providers"
)

// pathChecks plans L5 where a path block asks for it: a trace from each
// vantage host to each address and port. Traces send probes with rising
// TTL, so they run only when declared.
func pathChecks(ep *config.Endpoint, vantages []vantage, addrs []netip.Addr, env Environment) []*Check {
	x := ep.Expect.Path
	if x == nil {
		return nil
	}
	var out []*Check
	for _, v := range vantages {
		for _, a := range addrs {
			for port := range ep.Ports.All() {
				c := &Check{
					Layer: providers.LayerPath, Name: "path", Provider: "traceroute",
					Exec: v.exec, From: v.name, Source: x.DeclRange, Declared: true,
					Target: providers.Target{Address: a, Port: port, Protocol: providers.Protocol(ep.Protocol)},
				}
				v.plan(c, env)
				out = append(out, c)
			}
		}
	}
	return out
}

package runner

import (
	"net/netip"

	"github.com/portcheck/portcheck/config"
	"github.com/portcheck/portcheck/providers"
)

// selinuxChecks plans L3 where a selinux block asks for it: one check per
// port on the server (SELinux labels a port, whatever the address).
func selinuxChecks(ep *config.Endpoint, addrs []netip.Addr, serverExec providers.Exec, server unavailable, env Environment) []*Check {
	x := ep.Expect.SELinux
	if x == nil || len(addrs) == 0 {
		return nil
	}
	var out []*Check
	for port := range ep.Ports.All() {
		c := &Check{
			Layer: providers.LayerSELinux, Name: "selinux", Provider: "selinux", Exec: serverExec,
			Source: x.DeclRange, Declared: true,
			Target: providers.Target{Address: addrs[0], Port: port, Protocol: providers.Protocol(ep.Protocol)},
		}
		if server.reason != "" {
			c.cannotRun(server.reason, server.hard)
		} else {
			c.cannotRun(providerSkip(c.Provider, serverExec, env), false)
		}
		out = append(out, c)
	}
	return out
}

package runner

import (
	"slices"

	"github.com/portcheck/portcheck/config"
	"github.com/portcheck/portcheck/providers"
	"github.com/portcheck/portcheck/providers/facts"
)

// RemoteServer is a server host of the plan judged over ssh, and what its
// checks need collected there.
type RemoteServer struct {
	Host *config.Host
	// Observers are the facts observers to run: sockets and firewall
	// always (L1 follows DNAT through the ruleset, L4's fix reads it),
	// selinux only when an L3 check will run (it is the slow one).
	Observers []string
	// SELinuxDomains are the declared domains whose rules to read.
	SELinuxDomains []string
}

// RemoteServers lists the plan's servers judged over ssh, in plan order.
func (p *Plan) RemoteServers() []RemoteServer {
	var out []RemoteServer
	index := map[string]int{}
	for _, e := range p.Endpoints {
		if e.Server.Remote == "" {
			continue
		}
		h := e.Endpoint.Host
		i, ok := index[h.Name]
		if !ok {
			i = len(out)
			index[h.Name] = i
			out = append(out, RemoteServer{Host: h, Observers: []string{facts.ObserverSockets, facts.ObserverFirewall}})
		}
		rs := &out[i]
		for _, c := range e.Checks {
			if c.Layer == providers.LayerSELinux && c.Skip == "" && c.Error == "" && !slices.Contains(rs.Observers, facts.ObserverSELinux) {
				rs.Observers = append(rs.Observers, facts.ObserverSELinux)
			}
		}
		if s := e.Endpoint.Expect.SELinux; s != nil && s.Domain != "" && !slices.Contains(rs.SELinuxDomains, s.Domain) {
			rs.SELinuxDomains = append(rs.SELinuxDomains, s.Domain)
		}
	}
	return out
}

// RemoteVantages lists the vantage hosts reached over ssh whose probes
// will run (L4 from them), in plan order.
func (p *Plan) RemoteVantages() []*config.Host {
	var out []*config.Host
	seen := map[string]bool{}
	for _, e := range p.Endpoints {
		for _, h := range e.Endpoint.From {
			if h.Connection == nil || seen[h.Name] {
				continue
			}
			for _, c := range e.Checks {
				if c.From == h.Name && c.Layer == providers.LayerConnectivity && c.Skip == "" && c.Error == "" {
					seen[h.Name] = true
					out = append(out, h)
					break
				}
			}
		}
	}
	return out
}

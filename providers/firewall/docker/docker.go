// Package docker reads what Docker's iptables chains say about published
// ports: a published port is rewritten by DNAT in nat PREROUTING (chain
// DOCKER) and then decided in filter FORWARD (DOCKER-USER first), never in
// INPUT, which is why host firewall rules for such a port seem to have no
// effect (the seed's case 3). Docker writes these chains through iptables
// (legacy or nft), so they arrive here as ordinary tables of the model.
package docker

import (
	"github.com/portcheck/portcheck/providers/firewall"
)

// Published is one port Docker publishes on the host (the model's type,
// which the runner sees through firewall.View).
type Published = firewall.Published

// Present reports whether the ruleset has Docker's chains.
func Present(rs *firewall.Ruleset) bool {
	for _, t := range rs.Tables {
		if t.Name != "filter" || (t.Family != firewall.FamilyIP && t.Family != firewall.FamilyIP6) {
			continue
		}
		for _, c := range t.Chains {
			if c.Name == "DOCKER-USER" || c.Name == "DOCKER" {
				return true
			}
		}
	}
	return false
}

// PublishedPorts lists the DNAT rules of the nat DOCKER chains.
func PublishedPorts(rs *firewall.Ruleset) []Published {
	var out []Published
	for _, t := range rs.Tables {
		if t.Name != "nat" {
			continue
		}
		for _, c := range t.Chains {
			if c.Name != "DOCKER" {
				continue
			}
			for _, r := range c.Rules {
				if p, ok := published(t, c, r); ok {
					out = append(out, p)
				}
			}
		}
	}
	return out
}

func published(t *firewall.Table, c *firewall.Chain, r *firewall.Rule) (Published, bool) {
	v := r.Verdict
	if v.Kind != firewall.VerdictDNAT || !v.NATAddr.IsValid() || r.Unsupported != "" {
		return Published{}, false
	}
	p := Published{ContainerAddr: v.NATAddr, ContainerPort: v.NATPort,
		Rule: firewall.RuleRef{Backend: t.Backend, Family: t.Family, Table: t.Name, Chain: c.Name, Handle: r.Handle, Number: r.Number, Text: r.Text}}
	for _, m := range r.Matches {
		switch {
		case m.Field == firewall.FieldDport && !m.Negate && len(m.Ranges) == 1 && m.Ranges[0].From == m.Ranges[0].To:
			p.HostPort, p.Proto = uint16(m.Ranges[0].From), m.Proto
		case m.Field == firewall.FieldDaddr && !m.Negate && len(m.Prefixes) == 1 && m.Prefixes[0].IsSingleIP():
			p.HostAddr = m.Prefixes[0].Addr()
		}
	}
	if p.HostPort == 0 {
		return Published{}, false
	}
	if p.ContainerPort == 0 {
		p.ContainerPort = p.HostPort
	}
	return p, true
}

// For returns the published port a decision's DNAT came from, if any.
func For(ports []Published, d firewall.Decision) (Published, bool) {
	for _, p := range ports {
		if d.DNATAddr == p.ContainerAddr && d.DNATPort == p.ContainerPort {
			return p, true
		}
	}
	return Published{}, false
}

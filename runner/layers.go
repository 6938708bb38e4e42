package runner

import (
	"context"
	"net/netip"

	"github.com/portcheck/portcheck/config"
	"github.com/portcheck/portcheck/providers"
)

// layerImpl is one layer's side of the seam in the runner: how its checks
// are planned for an endpoint, and how one check is observed (through the
// layer's typed observer) and judged. plan and verify loop over the table;
// neither switches on layers, provider names or clouds.
type layerImpl struct {
	layer providers.Layer
	plan  func(p *endpointPlanner) []*Check
	run   func(v *verifier, ctx context.Context, e *EndpointPlan, c *Check) *Result
}

var layerTable = []layerImpl{
	{providers.LayerListening, planListening, runListening},
	{providers.LayerFirewall, func(p *endpointPlanner) []*Check {
		return firewallChecks(p.ep, p.vantages, p.addrs, p.serverExec, p.server, p.env)
	}, func(v *verifier, ctx context.Context, e *EndpointPlan, c *Check) *Result {
		return v.origin(c.Exec, v.runFirewall(ctx, e.Endpoint, c))
	}},
	{providers.LayerSELinux, func(p *endpointPlanner) []*Check {
		return selinuxChecks(p.ep, p.addrs, p.serverExec, p.server, p.env)
	}, func(v *verifier, ctx context.Context, e *EndpointPlan, c *Check) *Result {
		return v.runSELinux(ctx, e, c)
	}},
	{providers.LayerConnectivity, planConnectivity, runConnectivity},
	{providers.LayerPath, func(p *endpointPlanner) []*Check {
		return pathChecks(p.ep, p.vantages, p.addrs, p.env)
	}, (*verifier).runPathCheck},
	{providers.LayerCloud, func(p *endpointPlanner) []*Check {
		return cloudChecks(p.ep, p.vantages, p.addrs)
	}, func(v *verifier, ctx context.Context, e *EndpointPlan, c *Check) *Result {
		return v.runCloud(ctx, e.Endpoint, c)
	}},
	{providers.LayerApplication, planApp, runApp},
}

// layerOf returns the table entry of a layer.
func layerOf(l providers.Layer) (layerImpl, bool) {
	for _, li := range layerTable {
		if li.layer == l {
			return li, true
		}
	}
	return layerImpl{}, false
}

// endpointPlanner is what every layer's planner knows of an endpoint.
type endpointPlanner struct {
	ep         *config.Endpoint
	addrs      []netip.Addr
	vantages   []vantage
	serverExec providers.Exec
	server     unavailable
	env        Environment
}

func (v *verifier) runPathCheck(ctx context.Context, e *EndpointPlan, c *Check) *Result {
	return v.runPath(ctx, e, c)
}

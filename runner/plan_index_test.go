package runner

import (
	"fmt"
	"net/netip"
	"slices"
	"testing"

	"github.com/portcheck/portcheck/providers"
)

// TestFirewallChecksIndex: the L2 checks of a target are the same whether
// the endpoint is small enough to scan or indexed, in plan order.
func TestFirewallChecksIndex(t *testing.T) {
	a := netip.MustParseAddr("10.0.0.5")
	for _, ports := range []int{1, 3, indexFirewallAbove / 3, indexFirewallAbove, 200} {
		t.Run(fmt.Sprint(ports, " ports"), func(t *testing.T) {
			e := &EndpointPlan{}
			for p := range ports {
				tg := providers.Target{Address: a, Port: 8000 + p, Protocol: "tcp"}
				e.Checks = append(e.Checks,
					&Check{Layer: providers.LayerListening, Target: tg},
					&Check{Layer: providers.LayerFirewall, Target: tg, From: "a"},
					&Check{Layer: providers.LayerFirewall, Target: tg, From: "b"},
					&Check{Layer: providers.LayerConnectivity, Target: tg})
			}
			for p := range ports + 1 { // the last port has no checks
				tg := providers.Target{Address: a, Port: 8000 + p, Protocol: "tcp"}
				var want []*Check
				for _, c := range e.Checks {
					if c.Layer == providers.LayerFirewall && c.Target == tg {
						want = append(want, c)
					}
				}
				if got := e.firewallChecks(tg); !slices.Equal(got, want) {
					t.Fatalf("port %d: %d checks, want %d (in plan order)", tg.Port, len(got), len(want))
				}
			}
		})
	}
}

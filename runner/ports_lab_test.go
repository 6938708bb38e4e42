package runner_test

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/portcheck/portcheck/config"
	"github.com/portcheck/portcheck/internal/lab"
	"github.com/portcheck/portcheck/providers"
	"github.com/portcheck/portcheck/providers/probe"
	"github.com/portcheck/portcheck/runner"
)

// TestVerifyPortListEndpoint: one endpoint of a list and ranges, port =
// [41000, "41010-41049", "41100-41109"], over a lab pair: ports ≡ 0, 1, 2
// (mod 5) listen, ≡ 3 are closed (RST), ≡ 4 listen behind an nft drop.
// Every port gets its own result on each layer, judged against the lab's
// truth: with -all-layers L4 reads open / refused / filtered per port; in
// plain verify a closed port fails L1 (not_listening) and a dropped one L2
// (firewall_blocked), each blocking only its own port's L4. The L4 probes
// of the endpoint run side by side: their durations add up to well over
// the layer's wall time.
func TestVerifyPortListEndpoint(t *testing.T) {
	l := lab.New(t)
	client, server := l.Pair()
	ports := config.PortSet{{From: 41000, To: 41000}, {From: 41010, To: 41049}, {From: 41100, To: 41109}}
	truth := map[int]string{}
	var dropped []string
	for p := range ports.All() {
		switch p % 5 {
		case 3:
			truth[p] = probe.StateRefused
			continue
		case 4:
			truth[p] = probe.StateFiltered
			dropped = append(dropped, fmt.Sprint(p))
		default:
			truth[p] = probe.StateOpen
		}
		server.ListenTCP("tcp4", fmt.Sprintf("0.0.0.0:%d", p))
	}
	server.NFT(nftInput(fmt.Sprintf("tcp dport { %s } drop", joinComma(dropped))))
	src := pairHosts(client, server) + `
endpoint "scan" {
  host = host.server
  port = [41000, "41010-41049", "41100-41109"]
  from = [host.client]
}
`
	cfg, diags := config.LoadSources(map[string][]byte{"lab.pc.hcl": []byte(src)}, config.Options{})
	if diags.HasErrors() {
		t.Fatal(diags)
	}
	plan, err := runner.BuildPlan(cfg, runner.PlanOptions{Env: runner.CurrentEnvironment()})
	if err != nil {
		t.Fatal(err)
	}
	if n := len(plan.Endpoints[0].Checks); n != 3*ports.Len() {
		t.Fatalf("%d checks planned, want %d (L1, L2, L4 per port)", n, 3*ports.Len())
	}
	for _, allLayers := range []bool{true, false} {
		t.Run(fmt.Sprintf("all-layers=%v", allLayers), func(t *testing.T) {
			var er *runner.EndpointResult
			runner.Verify(context.Background(), plan, runner.Options{AllLayers: allLayers}, func(r *runner.EndpointResult) { er = r })
			if er == nil {
				t.Fatal("no result")
			}
			seen := map[string]int{}
			var l4sum time.Duration
			for _, r := range er.Results {
				c := r.Check
				p := c.Target.Port
				want, ok := truth[p]
				if !ok {
					t.Fatalf("result for port %d, not a declared port", p)
				}
				seen[fmt.Sprintf("L%d", c.Layer)]++
				switch c.Layer {
				case providers.LayerListening:
					if wantFail := want == probe.StateRefused; (r.Status == runner.StatusFail) != wantFail || (wantFail && r.Cause != runner.CauseNotListening) {
						t.Errorf("port %d L1: %s %s (%s)", p, r.Status, r.Cause, r.Summary)
					}
				case providers.LayerFirewall:
					if wantFail := want == probe.StateFiltered; (r.Status == runner.StatusFail) != wantFail || (wantFail && r.Cause != runner.CauseFirewallBlocked) {
						t.Errorf("port %d L2: %s %s (%s)", p, r.Status, r.Cause, r.Summary)
					}
				case providers.LayerConnectivity:
					l4sum += r.Duration
					if !allLayers && want != probe.StateOpen {
						if r.Status != runner.StatusSkip {
							t.Errorf("port %d L4: %s (%s), want blocked by its own L1 or L2", p, r.Status, r.Summary)
						}
						continue
					}
					o, ok := r.Evidence.(probe.Outcome)
					if !ok {
						t.Fatalf("port %d: L4 evidence %T (%s %s)", p, r.Evidence, r.Status, r.Summary)
					}
					if o.State != want {
						t.Errorf("port %d L4: %s (%s), want %s", p, o.State, r.Summary, want)
					}
					if (r.Status == runner.StatusPass) != (want == probe.StateOpen) {
						t.Errorf("port %d L4 status %s for %s", p, r.Status, o.State)
					}
				}
			}
			for _, layer := range []string{"L1", "L2", "L4"} {
				if seen[layer] != ports.Len() {
					t.Errorf("%s: %d results, want one per port (%d)", layer, seen[layer], ports.Len())
				}
			}
			// One after another, the probes' durations would add up to no
			// more than the endpoint's time; side by side, to well over it.
			if allLayers && l4sum < 2*er.Duration {
				t.Errorf("L4 probes took %v in all over the endpoint's %v: not run side by side", l4sum, er.Duration)
			}
			t.Logf("endpoint %v, L4 probes %v in all", er.Duration, l4sum)
		})
	}
}

func joinComma(ss []string) string {
	out := ""
	for i, s := range ss {
		if i > 0 {
			out += ", "
		}
		out += s
	}
	return out
}

// TestVerifyRangeEndpointsShareWorkers: three range endpoints at once with
// a tight budget (-max-probes 4, -parallelism 2), so their layers' workers
// compete for few helpers: every endpoint still finishes with one result
// per port and layer, each L4 state the lab's (even ports listen, odd ones
// are closed).
func TestVerifyRangeEndpointsShareWorkers(t *testing.T) {
	l := lab.New(t)
	client, server := l.Pair()
	for p := 42000; p < 42060; p += 2 {
		server.ListenTCP("tcp4", fmt.Sprintf("0.0.0.0:%d", p))
	}
	src := pairHosts(client, server)
	for i := range 3 {
		src += fmt.Sprintf("endpoint \"r%d\" {\n  host = host.server\n  port = \"%d-%d\"\n  from = [host.client]\n}\n", i, 42000+20*i, 42019+20*i)
	}
	cfg, diags := config.LoadSources(map[string][]byte{"lab.pc.hcl": []byte(src)}, config.Options{})
	if diags.HasErrors() {
		t.Fatal(diags)
	}
	plan, err := runner.BuildPlan(cfg, runner.PlanOptions{Env: runner.CurrentEnvironment()})
	if err != nil {
		t.Fatal(err)
	}
	got := 0
	sum := runner.Verify(context.Background(), plan, runner.Options{AllLayers: true, MaxProbes: 4, Parallelism: 2}, func(er *runner.EndpointResult) {
		got++
		if len(er.Results) != 3*20 {
			t.Errorf("%s: %d results, want 60", er.Plan.Name(), len(er.Results))
		}
		for _, r := range er.Results {
			if r.Check.Layer != providers.LayerConnectivity {
				continue
			}
			want := probe.StateOpen
			if r.Check.Target.Port%2 == 1 {
				want = probe.StateRefused
			}
			if o, ok := r.Evidence.(probe.Outcome); !ok || o.State != want {
				t.Errorf("%s port %d: L4 %v (%s), want %s", er.Plan.Name(), r.Check.Target.Port, r.Evidence, r.Summary, want)
			}
		}
	})
	if got != 3 || sum.Finished != 3 || sum.Errors != 0 {
		t.Errorf("%d endpoints reported, summary %+v", got, sum)
	}
}

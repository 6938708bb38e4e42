package runner_test

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/portcheck/portcheck/config"
	"github.com/portcheck/portcheck/internal/lab"
	"github.com/portcheck/portcheck/providers/probe"
	"github.com/portcheck/portcheck/runner"
)

// TestVerifyAdaptiveL4: verify -all-layers over 40 ports of one host (20
// listening, 10 closed, 10 behind a drop rule), through the default probe
// scheduler. Every L4 verdict is the lab's truth; each dropped port is
// decided in well under the declared 2 s × 2 attempts, and its summary and
// evidence state the assumption its short wait rests on.
func TestVerifyAdaptiveL4(t *testing.T) {
	l := lab.New(t)
	client, server := l.Pair()
	for p := 40000; p < 40020; p++ {
		server.ListenTCP("tcp4", fmt.Sprintf("0.0.0.0:%d", p))
	}
	for p := 40030; p < 40040; p++ {
		server.ListenTCP("tcp4", fmt.Sprintf("0.0.0.0:%d", p))
	}
	server.NFT(nftInput("tcp dport 40030-40039 drop"))
	src := pairHosts(client, server)
	for p := 40000; p < 40040; p++ {
		src += fmt.Sprintf("endpoint \"p%d\" {\n  host = host.server\n  port = %d\n  from = [host.client]\n}\n", p, p)
	}
	cfg, diags := config.LoadSources(map[string][]byte{"lab.pc.hcl": []byte(src)}, config.Options{})
	if diags.HasErrors() {
		t.Fatal(diags)
	}
	plan, err := runner.BuildPlan(cfg, runner.PlanOptions{Env: runner.CurrentEnvironment()})
	if err != nil {
		t.Fatal(err)
	}
	start := time.Now()
	var results []*runner.EndpointResult
	runner.Verify(context.Background(), plan, runner.Options{AllLayers: true}, func(er *runner.EndpointResult) { results = append(results, er) })
	took := time.Since(start)
	if len(results) != 40 {
		t.Fatalf("%d endpoint results, want 40", len(results))
	}
	for _, er := range results {
		port := er.Plan.Endpoint.Ports.First()
		want := probe.StateOpen
		switch {
		case port >= 40030:
			want = probe.StateFiltered
		case port >= 40020:
			want = probe.StateRefused
		}
		r := resultOf(er, "L4 connectivity")
		o, ok := r.Evidence.(probe.Outcome)
		if !ok {
			t.Fatalf("port %d: L4 evidence %T, want probe.Outcome", port, r.Evidence)
		}
		if o.State != want {
			t.Errorf("port %d: L4 %s (%s), want %s", port, o.State, r.Summary, want)
		}
		if want == probe.StateFiltered && (o.Timing == nil || !o.Timing.Adaptive || !strings.Contains(r.Summary, "assuming the port answers as fast")) {
			t.Errorf("port %d: a filtered verdict on the adaptive wait must state its assumption: %s (timing %+v)", port, r.Summary, o.Timing)
		}
	}
	// Fixed waits, ten endpoints at a time: 10 dropped ports × 4 s = 4 s at
	// least; the adaptive wait decides them in a fraction of that.
	if took > 3*time.Second {
		t.Errorf("verify -all-layers of 40 ports took %v", took)
	}
}

package report_test

import (
	"bytes"
	"net/netip"
	"testing"

	"github.com/hashicorp/hcl/v2"

	"github.com/portcheck/portcheck/config"
	"github.com/portcheck/portcheck/internal/golden"
	"github.com/portcheck/portcheck/providers"
	pathtrace "github.com/portcheck/portcheck/providers/path"
	"github.com/portcheck/portcheck/runner"
	"github.com/portcheck/portcheck/runner/report"
)

// Issue 11.5: the L5 hop table under the L5 line, as mtr shows it: always
// when L5 does not pass, and with -v.
func TestTextHopTable(t *testing.T) {
	host := &config.Host{Name: "server", Addresses: []netip.Addr{netip.MustParseAddr("10.0.3.2")}}
	ep := &config.Endpoint{Name: "app", Host: host, Ports: config.SinglePort(8080), Protocol: "tcp", State: "open"}
	c := &runner.Check{Layer: providers.LayerPath, Name: "path", Provider: "traceroute", From: "client",
		Target: providers.Target{Address: netip.MustParseAddr("10.0.3.2"), Port: 8080, Protocol: "tcp"},
		Source: hcl.Range{Filename: "app.pc.hcl", Start: hcl.Pos{Line: 9, Column: 5}}}
	plan := &runner.EndpointPlan{Endpoint: ep, Checks: []*runner.Check{c}}
	broken := &pathtrace.Facts{Mode: "tcp", Target: "10.0.3.2:8080", MaxHops: 30, Rounds: 3, StopsAfter: "10.0.2.1", StopsAfterTTL: 2,
		Hops: []pathtrace.Hop{
			{TTL: 1, Addr: "10.0.1.1", Sent: 3, Received: 3, MinMs: 0.05, AvgMs: 0.071, MaxMs: 0.102},
			{TTL: 2, Addr: "10.0.2.1", Sent: 3, Received: 3, MinMs: 0.081, AvgMs: 0.09, MaxMs: 0.11},
			{TTL: 3, Sent: 3, LossPct: 100},
		},
		Ping:  &pathtrace.PingFacts{Sent: 3, Received: 3, AvgMs: 0.1},
		Notes: []string{"tcp probes to 10.0.3.2:8080 get no answer beyond TTL 2 (10.0.2.1): its forward chain drops them"}}
	healthy := &pathtrace.Facts{Mode: "tcp", Target: "10.0.3.2:8080", MaxHops: 30, Rounds: 10, Reached: true,
		Hops: []pathtrace.Hop{
			{TTL: 1, Addr: "10.0.1.1", Sent: 10, Received: 7, LossPct: 30, MinMs: 0.05, AvgMs: 0.07, MaxMs: 0.1, LossNotCarried: true},
			{TTL: 2, Addr: "10.0.3.2", Sent: 10, Received: 10, MinMs: 0.06, AvgMs: 0.08, MaxMs: 0.12, Final: true},
		}}
	for _, tc := range []struct {
		name    string
		r       *runner.Result
		verbose bool
	}{
		{"broken", &runner.Result{Check: c, Status: runner.StatusFail, Cause: runner.CausePathBroken, Summary: "tcp trace from client stops after 10.0.2.1 (hop 2): 10.0.1.1 → 10.0.2.1 → *", Evidence: broken}, false},
		{"healthy_verbose", &runner.Result{Check: c, Status: runner.StatusPass, Summary: "reached in 2 hops: 10.0.1.1 → 10.0.3.2", Evidence: healthy}, true},
		{"healthy", &runner.Result{Check: c, Status: runner.StatusPass, Summary: "reached in 2 hops: 10.0.1.1 → 10.0.3.2", Evidence: healthy}, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var b bytes.Buffer
			tr := &report.Text{W: &b, Verbose: tc.verbose}
			tr.Start(&runner.Plan{Endpoints: []*runner.EndpointPlan{plan}})
			er := &runner.EndpointResult{Plan: plan, Results: []*runner.Result{tc.r}}
			er.Diagnosis = runner.Diagnose(er.Results)
			tr.Endpoint(er)
			golden.Compare(t, "testdata/hop_table_"+tc.name+".txt", b.Bytes())
		})
	}
}

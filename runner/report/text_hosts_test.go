package report_test

import (
	"bytes"
	"net/netip"
	"testing"

	"github.com/portcheck/portcheck/config"
	"github.com/portcheck/portcheck/internal/golden"
	"github.com/portcheck/portcheck/runner"
	"github.com/portcheck/portcheck/runner/report"
)

// TestTextByHost: a run over three or more server hosts ends with a line
// per host, the hosts with trouble first, naming why checks could not run
// there (an unreachable sshd makes each of its checks an error with the
// same reason). Fewer hosts print no such section (the other goldens).
func TestTextByHost(t *testing.T) {
	cfg, diags := config.Load("testdata/byhost/fleet.pc.hcl", config.Options{})
	if diags.HasErrors() {
		t.Fatal(diags)
	}
	plan, err := runner.BuildPlan(cfg, runner.PlanOptions{Env: runner.Environment{GOOS: "linux", LocalAddrs: []netip.Addr{netip.MustParseAddr("127.0.0.1")}}})
	if err != nil {
		t.Fatal(err)
	}
	const down = "ssh:root@10.0.0.12:22: dial tcp 10.0.0.12:22: connect: connection refused"
	for _, verbose := range []bool{false, true} {
		var buf bytes.Buffer
		rep := &report.Text{W: &buf, Verbose: verbose}
		rep.Start(plan)
		var sum runner.Summary
		sum.Planned = len(plan.Endpoints)
		for _, e := range plan.Endpoints {
			er := &runner.EndpointResult{Plan: e}
			for _, c := range e.Checks {
				r := &runner.Result{Check: c, Status: runner.StatusPass, Summary: "as declared"}
				switch {
				case e.Endpoint.Host.Name == "web2":
					r.Status, r.Summary = runner.StatusError, down
				case e.Endpoint.Host.Name == "db" && c.Name == "listening":
					r.Status, r.Cause, r.Summary = runner.StatusFail, runner.CauseNotListening, "nothing listens on 5432/tcp"
				case e.Endpoint.Host.Name == "db":
					r.Status, r.Summary = runner.StatusSkip, "blocked by L1"
				}
				er.Results = append(er.Results, r)
			}
			er.Diagnosis = runner.Diagnose(er.Results)
			sum.Add(er)
			rep.Endpoint(er)
		}
		if _, err := rep.Finish(sum); err != nil {
			t.Fatal(err)
		}
		name := "testdata/byhost/out.txt"
		if verbose {
			name = "testdata/byhost/out.v.txt"
		}
		golden.Compare(t, name, stripDurations(buf.Bytes()))
	}
}

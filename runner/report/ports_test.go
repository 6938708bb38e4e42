package report_test

import (
	"bytes"
	"encoding/json"
	"fmt"
	"net/netip"
	"testing"
	"time"

	"github.com/portcheck/portcheck/config"
	"github.com/portcheck/portcheck/internal/golden"
	"github.com/portcheck/portcheck/providers/probe"
	"github.com/portcheck/portcheck/runner"
	"github.com/portcheck/portcheck/runner/report"
)

// portsOutcome is a lab-like mix: of 20000-20018, ports ≡ 1 (mod 4) are
// not listening (refused at L4), ports ≡ 2 (mod 5) are dropped by the
// firewall (filtered), the rest open; 22, 80, 443 and 8443 are open.
func portsOutcome(c *runner.Check) *runner.Result {
	port := c.Target.Port
	r := &runner.Result{Check: c, Status: runner.StatusPass, Duration: time.Millisecond}
	closed := port >= 20000 && port%4 == 1
	dropped := port >= 20000 && port%5 == 2 && !closed
	switch c.Name {
	case "listening":
		r.Summary = fmt.Sprintf("sshd (pid 7) on 0.0.0.0:%d", port)
		if closed {
			r.Status, r.Cause, r.Summary = runner.StatusFail, runner.CauseNotListening, fmt.Sprintf("nothing listens on port %d/tcp", port)
			r.Hint = "start the service"
		}
	case "firewall":
		r.Summary = fmt.Sprintf("tcp/%d from 10.20.0.9 is accepted by inet filter input handle 4", port)
		if dropped {
			r.Status, r.Cause = runner.StatusFail, runner.CauseFirewallBlocked
			r.Summary = fmt.Sprintf("tcp/%d from 10.20.0.9 is dropped by inet filter input handle 9: tcp dport %d drop", port, port)
		}
	case "connectivity":
		switch {
		case closed:
			r.Status, r.Cause = runner.StatusFail, runner.CauseRefused
			r.Summary = fmt.Sprintf("%s refused from client (TCP RST)", c.Target)
			r.Evidence = probe.Outcome{State: probe.StateRefused, Attempts: 1}
		case dropped:
			r.Status, r.Cause = runner.StatusFail, runner.CauseFiltered
			r.Summary = fmt.Sprintf("%s filtered from client: no answer to 2 SYNs", c.Target)
			r.Evidence = probe.Outcome{State: probe.StateFiltered, Attempts: 2}
		default:
			r.Summary = "open from client in 0.1 ms"
			r.Evidence = probe.Outcome{State: probe.StateOpen, RTTms: 0.1, Attempts: 1}
		}
	}
	return r
}

// TestPortListReports: an endpoint of more than GroupPorts ports is
// grouped in the text report (counts, then a line per failing port with
// its cause); JSON gains `ports` for a list; JUnit has one case per check.
func TestPortListReports(t *testing.T) {
	cfg, diags := config.Load("testdata/ports/scan.pc.hcl", config.Options{})
	if diags.HasErrors() {
		t.Fatal(diags)
	}
	env := runner.Environment{GOOS: "linux", LocalAddrs: []netip.Addr{netip.MustParseAddr("127.0.0.1")}}
	plan, err := runner.BuildPlan(cfg, runner.PlanOptions{Env: env})
	if err != nil {
		t.Fatal(err)
	}
	var pb bytes.Buffer
	report.WritePlan(&pb, plan, report.Style{})
	golden.Compare(t, "testdata/ports/plan.txt", pb.Bytes())

	var results []*runner.EndpointResult
	for _, e := range plan.Endpoints {
		er := &runner.EndpointResult{Plan: e}
		for _, c := range e.Checks {
			er.Results = append(er.Results, portsOutcome(c))
		}
		er.Diagnosis = runner.Diagnose(er.Results)
		results = append(results, er)
	}
	for _, format := range []string{"txt", "v.txt", "json", "xml"} {
		var buf bytes.Buffer
		var rep report.Reporter
		switch format {
		case "txt":
			rep = &report.Text{W: &buf}
		case "v.txt":
			rep = &report.Text{W: &buf, Verbose: true}
		case "json":
			rep = &report.JSON{W: &buf}
		case "xml":
			rep = &report.JUnit{W: &buf}
		}
		rep.Start(plan)
		sum := runner.Summary{Planned: len(results)}
		for _, er := range results {
			sum.Add(er)
			rep.Endpoint(er)
		}
		code, err := rep.Finish(sum)
		if err != nil {
			t.Fatal(err)
		}
		golden.Compare(t, fmt.Sprintf("testdata/ports/out_ports.%d.%s", code, format), stripDurations(buf.Bytes()))
		if format == "json" {
			var doc struct {
				Endpoints []struct {
					Name    string                 `json:"name"`
					Port    int                    `json:"port"`
					PortEnd int                    `json:"port_end"`
					Ports   []report.JSONPortRange `json:"ports"`
					Checks  []json.RawMessage      `json:"checks"`
				} `json:"endpoints"`
			}
			if err := json.Unmarshal(buf.Bytes(), &doc); err != nil {
				t.Fatal(err)
			}
			scan := doc.Endpoints[0]
			want := []report.JSONPortRange{{From: 22, To: 22}, {From: 20000, To: 20018}}
			if scan.Port != 22 || scan.PortEnd != 20018 || fmt.Sprint(scan.Ports) != fmt.Sprint(want) || len(scan.Checks) != 3*20 {
				t.Errorf("scan: port %d port_end %d ports %v, %d checks", scan.Port, scan.PortEnd, scan.Ports, len(scan.Checks))
			}
		}
	}
}

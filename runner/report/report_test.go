package report_test

import (
	"bytes"
	"encoding/json"
	"encoding/xml"
	"fmt"
	"net/netip"
	"path/filepath"
	"regexp"
	"testing"
	"time"

	"github.com/portcheck/portcheck/config"
	"github.com/portcheck/portcheck/internal/golden"
	"github.com/portcheck/portcheck/providers/firewall"
	"github.com/portcheck/portcheck/providers/probe"
	"github.com/portcheck/portcheck/runner"
	"github.com/portcheck/portcheck/runner/report"

	_ "github.com/portcheck/portcheck/providers/all"
)

// outcome assigns a recorded result to every check of a plan: the
// reporters are tested on fixed results, the runner elsewhere.
type outcome func(c *runner.Check) *runner.Result

var outcomes = map[string]outcome{
	"healthy": func(c *runner.Check) *runner.Result {
		r := &runner.Result{Check: c, Status: runner.StatusPass, Duration: 1500 * time.Microsecond}
		switch {
		case c.Skip != "":
			r.Status, r.Summary = runner.StatusSkip, c.Skip
		case c.Name == "listening":
			r.Summary = "nginx (pid 412) on 0.0.0.0:8080"
		case c.Name == "connectivity" && c.Target.Port == 6379:
			r.Summary = "refused from client (TCP RST from 10.20.0.5:6379)"
			r.Evidence = probe.Outcome{State: probe.StateRefused, Detail: "TCP RST from 10.20.0.5:6379", Attempts: 1}
		case c.Name == "connectivity":
			r.Summary = "open from client in 0.3 ms"
			r.Evidence = probe.Outcome{State: probe.StateOpen, RTTms: 0.3, Attempts: 1}
		case c.Name == "http":
			r.Summary = "http://10.20.0.5:8080/healthz answered 200 OK"
		case c.Name == "firewall":
			r.Summary = "tcp/8080 from 10.20.0.9 is accepted by inet filter input handle 4: tcp dport 8080 accept"
			r.Evidence = runner.FirewallEvidence{Manager: "nftables", Judged: []runner.JudgedPacket{{
				Packet:   firewall.Packet{Src: netip.MustParseAddr("10.20.0.9"), Dst: netip.MustParseAddr("10.20.0.5"), Proto: firewall.ProtoTCP, SPort: 40000, DPort: 8080},
				Decision: firewall.Decision{Verdict: firewall.Accept, Hook: "input", IIF: "eth0", Rule: &firewall.RuleRef{Backend: "nftables", Family: "inet", Table: "filter", Chain: "input", Handle: 4, Text: "tcp dport 8080 accept"}},
			}}}
		}
		return r
	},
	"broken": func(c *runner.Check) *runner.Result {
		r := &runner.Result{Check: c, Status: runner.StatusPass, Duration: 2 * time.Second}
		switch {
		case c.Skip != "":
			r.Status, r.Summary = runner.StatusSkip, c.Skip
		case c.Name == "listening":
			r.Summary = "nginx (pid 412) on 0.0.0.0:8080"
		case c.Name == "connectivity" && c.Target.Port == 6379:
			r.Status, r.Cause = runner.StatusFail, runner.CauseUnexpectedlyOpen
			r.Summary = "10.20.0.5:6379/tcp is open from client, but it is declared closed"
			r.Hint = "stop the service on port 6379 or block it"
			r.Evidence = probe.Outcome{State: probe.StateOpen, RTTms: 0.2, Attempts: 1}
			r.Expected = map[string]string{"state": "closed"}
		case c.Name == "firewall":
			r.Status, r.Cause = runner.StatusFail, runner.CauseFirewallBlocked
			r.Summary = "tcp/8080 from 10.20.0.9 is dropped by inet filter input policy drop"
			r.Hint = "nft add rule inet filter input tcp dport 8080 accept (and add it to /etc/nftables.conf)"
			r.Evidence = runner.FirewallEvidence{Manager: "nftables", Judged: []runner.JudgedPacket{{
				Packet:   firewall.Packet{Src: netip.MustParseAddr("10.20.0.9"), Dst: netip.MustParseAddr("10.20.0.5"), Proto: firewall.ProtoTCP, SPort: 40000, DPort: 8080},
				Decision: firewall.Decision{Verdict: firewall.Drop, Hook: "input", IIF: "eth0", Rule: &firewall.RuleRef{Backend: "nftables", Family: "inet", Table: "filter", Chain: "input", Policy: "drop"}},
			}}}
			r.Expected = map[string]any{"verdict": "accept", "permanent": true}
		case c.Name == "connectivity", c.Name == "http":
			r.Status, r.Summary = runner.StatusSkip, "blocked by L2 firewall"
		}
		return r
	},
}

func TestReportGoldens(t *testing.T) {
	fixtures, _ := filepath.Glob("testdata/fixtures/*.pc.hcl")
	for _, f := range fixtures {
		cfg, diags := config.Load(f, config.Options{})
		if diags.HasErrors() {
			t.Fatalf("%s: %v", f, diags)
		}
		env := runner.Environment{GOOS: "linux", LocalAddrs: []netip.Addr{netip.MustParseAddr("127.0.0.1")}}
		plan, err := runner.BuildPlan(cfg, runner.PlanOptions{Env: env})
		if err != nil {
			t.Fatal(err)
		}
		for name, oc := range outcomes {
			t.Run(name, func(t *testing.T) {
				var results []*runner.EndpointResult
				for _, e := range plan.Endpoints {
					er := &runner.EndpointResult{Plan: e}
					for _, c := range e.Checks {
						er.Results = append(er.Results, oc(c))
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
					var sum runner.Summary
					sum.Planned = len(results)
					// Deliver out of order: reporters must restore plan order.
					for i := len(results) - 1; i >= 0; i-- {
						sum.Add(results[i])
						rep.Endpoint(results[i])
					}
					code, err := rep.Finish(sum)
					if err != nil {
						t.Fatal(err)
					}
					out := stripDurations(buf.Bytes())
					goldenPath := fmt.Sprintf("testdata/out_%s.%d.%s", name, code, format)
					golden.Compare(t, goldenPath, out)
					switch format {
					case "json":
						var doc map[string]any
						if err := json.Unmarshal(buf.Bytes(), &doc); err != nil {
							t.Errorf("invalid JSON: %v", err)
						}
						if doc["version"] != float64(1) {
							t.Errorf("JSON version = %v, want 1", doc["version"])
						}
					case "xml":
						var v any
						if err := xml.Unmarshal(buf.Bytes(), &v); err != nil {
							t.Errorf("invalid XML: %v", err)
						}
					}
				}
			})
		}
	}
}

var durationRe = regexp.MustCompile(`("duration_ms": )[0-9.]+|( time=")[0-9.]+`)

func stripDurations(b []byte) []byte {
	return durationRe.ReplaceAll(b, []byte("${1}${2}0"))
}

// With colour on, marks and the diagnosis carry ANSI codes; off, none.
func TestTextColour(t *testing.T) {
	cfg, diags := config.Load("testdata/fixtures/shop.pc.hcl", config.Options{})
	if diags.HasErrors() {
		t.Fatal(diags)
	}
	plan, err := runner.BuildPlan(cfg, runner.PlanOptions{Env: runner.Environment{GOOS: "linux"}})
	if err != nil {
		t.Fatal(err)
	}
	for _, colour := range []bool{true, false} {
		var buf bytes.Buffer
		rep := &report.Text{W: &buf, Style: report.Style{Color: colour}}
		rep.Start(plan)
		var sum runner.Summary
		for _, e := range plan.Endpoints {
			er := &runner.EndpointResult{Plan: e}
			for _, c := range e.Checks {
				er.Results = append(er.Results, outcomes["broken"](c))
			}
			er.Diagnosis = runner.Diagnose(er.Results)
			sum.Add(er)
			rep.Endpoint(er)
		}
		rep.Finish(sum)
		hasANSI := bytes.Contains(buf.Bytes(), []byte("\x1b[31m✗\x1b[0m"))
		if hasANSI != colour {
			t.Errorf("colour=%v: red ✗ present=%v\n%s", colour, hasANSI, buf.String())
		}
	}
}

// TestInterruptedReports pins issue 9.7: after Ctrl-C only some endpoints
// finished; every reporter must make the interruption visible, and JUnit
// must count the unfinished endpoints' checks as errors (a CI reading only
// JUnit must not see a green tests="0" failures="0").
func TestInterruptedReports(t *testing.T) {
	cfg, diags := config.Load("testdata/fixtures/shop.pc.hcl", config.Options{})
	if diags.HasErrors() {
		t.Fatal(diags)
	}
	env := runner.Environment{GOOS: "linux", LocalAddrs: []netip.Addr{netip.MustParseAddr("127.0.0.1")}}
	plan, err := runner.BuildPlan(cfg, runner.PlanOptions{Env: env})
	if err != nil {
		t.Fatal(err)
	}
	if len(plan.Endpoints) < 2 {
		t.Fatal("fixture needs two endpoints")
	}
	first := &runner.EndpointResult{Plan: plan.Endpoints[0]}
	for _, c := range first.Plan.Checks {
		first.Results = append(first.Results, outcomes["healthy"](c))
	}
	first.Diagnosis = runner.Diagnose(first.Results)
	unfinishedChecks := 0 // that would have run
	for _, e := range plan.Endpoints[1:] {
		for _, c := range e.Checks {
			if c.Skip == "" {
				unfinishedChecks++
			}
		}
	}
	for _, format := range []string{"txt", "json", "xml"} {
		var buf bytes.Buffer
		var rep report.Reporter
		switch format {
		case "txt":
			rep = &report.Text{W: &buf}
		case "json":
			rep = &report.JSON{W: &buf}
		case "xml":
			rep = &report.JUnit{W: &buf}
		}
		rep.Start(plan)
		sum := runner.Summary{Planned: len(plan.Endpoints), Endpoints: len(plan.Endpoints)}
		sum.Add(first)
		rep.Endpoint(first)
		sum.Interrupted = true
		code, err := rep.Finish(sum)
		if err != nil || code != 1 {
			t.Fatalf("%s: exit %d, %v; want 1", format, code, err)
		}
		golden.Compare(t, fmt.Sprintf("testdata/out_interrupted.%d.%s", code, format), stripDurations(buf.Bytes()))
		if format == "xml" {
			var doc struct {
				Tests  int    `xml:"tests,attr"`
				Errors int    `xml:"errors,attr"`
				Name   string `xml:"name,attr"`
			}
			if err := xml.Unmarshal(buf.Bytes(), &doc); err != nil {
				t.Fatal(err)
			}
			if doc.Errors < unfinishedChecks || doc.Tests < len(first.Results)+unfinishedChecks {
				t.Errorf("JUnit tests=%d errors=%d; want every one of the %d unfinished checks as an error", doc.Tests, doc.Errors, unfinishedChecks)
			}
		}
	}
}

package report

import (
	"bytes"
	"encoding/json"
	"encoding/xml"
	"errors"
	"io"
	"math"
	"net/netip"
	"strings"
	"testing"
	"time"

	"github.com/portcheck/portcheck/config"
	"github.com/portcheck/portcheck/providers/probe"
	"github.com/portcheck/portcheck/runner"
)

// wholeJSON and wholeJUnit are the reporters as they were before they
// streamed: the document built in memory and encoded at once. The
// streamed output must be byte for byte the same (the JSON is a
// versioned contract).
func wholeJSON(w io.Writer, results []*runner.EndpointResult, sum runner.Summary) {
	doc := JSONReport{Version: JSONVersion, Endpoints: []JSONEndpoint{}}
	for _, er := range results {
		doc.Endpoints = append(doc.Endpoints, EndpointJSON(er))
	}
	doc.Summary = JSONSummary{Endpoints: sum.Finished, Passed: sum.Passed, Drifted: sum.Drifted, Failed: sum.Failed,
		Skipped: sum.Skipped, Errors: sum.Errors, Unchecked: sum.Unchecked, Checks: sum.Checks,
		EndpointsOK: sum.EndpointsOK, EndpointsDrifted: sum.EndpointsDrifted, EndpointsFailed: sum.EndpointsFailed, EndpointsIncomplete: sum.EndpointsIncomplete}
	doc.ExitCode = sum.ExitCode()
	doc.Interrupted = sum.Interrupted
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	enc.SetEscapeHTML(false)
	enc.Encode(doc)
}

func wholeJUnit(w io.Writer, plan *runner.Plan, results []*runner.EndpointResult, sum runner.Summary) {
	var suites []junitSuite
	for _, er := range results {
		suites = append(suites, junitEndpoint(er))
	}
	if sum.Interrupted {
		done := map[*runner.EndpointPlan]bool{}
		for _, er := range results {
			done[er.Plan] = true
		}
		for _, e := range plan.Endpoints {
			if !done[e] {
				suites = append(suites, junitInterrupted(e))
			}
		}
	}
	doc := junitSuites{Name: "portcheck verify", Suites: suites}
	if sum.Interrupted {
		doc.Name = "portcheck verify (interrupted)"
	}
	var total float64
	for _, s := range suites {
		doc.Tests += s.Tests
		doc.Failures += s.Failures
		doc.Errors += s.Errors
		doc.Skipped += s.Skipped
		total += s.seconds
	}
	doc.Time = seconds(total)
	io.WriteString(w, xml.Header)
	enc := xml.NewEncoder(w)
	enc.Indent("", "  ")
	enc.Encode(doc)
	io.WriteString(w, "\n")
}

func TestStreamedReportsMatchWholeDocument(t *testing.T) {
	src := []byte(`
host "web" {
  address = "10.20.0.5"
  netns   = "web"
}
endpoint "a" {
  host = host.web
  port = "8000-8002"
}
endpoint "b" {
  host  = host.web
  port  = 9000
  state = "closed"
}
endpoint "c" {
  host = host.web
  port = 22
}
`)
	cfg, diags := config.LoadSources(map[string][]byte{"s.pc.hcl": src}, config.Options{})
	if diags.HasErrors() {
		t.Fatal(diags)
	}
	plan, err := runner.BuildPlan(cfg, runner.PlanOptions{Env: runner.Environment{GOOS: "linux", LocalAddrs: []netip.Addr{netip.MustParseAddr("127.0.0.1")}}})
	if err != nil {
		t.Fatal(err)
	}
	var all []*runner.EndpointResult
	for i, e := range plan.Endpoints {
		er := &runner.EndpointResult{Plan: e}
		for _, c := range e.Checks {
			r := &runner.Result{Check: c, Status: runner.StatusPass, Summary: "ok <&> \"quoted\"", Duration: time.Duration(i+1) * 1234567 * time.Nanosecond}
			if c.Name == "connectivity" && i == 2 {
				r.Status, r.Cause, r.Summary = runner.StatusFail, runner.CauseFiltered, "no answer"
				r.Evidence = probe.Outcome{State: probe.StateFiltered, Attempts: 2}
			}
			er.Results = append(er.Results, r)
		}
		er.Diagnosis = runner.Diagnose(er.Results)
		all = append(all, er)
	}
	cases := []struct {
		name        string
		results     []*runner.EndpointResult // delivered in this order
		interrupted bool
	}{
		{"none", nil, false},
		{"in order", all, false},
		{"reversed", []*runner.EndpointResult{all[2], all[1], all[0]}, false},
		{"interrupted, first missing", []*runner.EndpointResult{all[2], all[1]}, true},
		{"interrupted, nothing finished", nil, true},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			var sum runner.Summary
			sum.Planned = len(plan.Endpoints)
			var js, ju bytes.Buffer
			jr, xr := &JSON{W: &js}, &JUnit{W: &ju}
			jr.Start(plan)
			xr.Start(plan)
			for _, er := range tc.results {
				sum.Add(er)
				jr.Endpoint(er)
				xr.Endpoint(er)
			}
			sum.Interrupted = tc.interrupted
			if _, err := jr.Finish(sum); err != nil {
				t.Fatal(err)
			}
			if _, err := xr.Finish(sum); err != nil {
				t.Fatal(err)
			}
			// The whole document lists what finished in plan order.
			var ordered []*runner.EndpointResult
			for _, e := range plan.Endpoints {
				for _, er := range tc.results {
					if er.Plan == e {
						ordered = append(ordered, er)
					}
				}
			}
			var wantJS, wantJU bytes.Buffer
			wholeJSON(&wantJS, ordered, sum)
			wholeJUnit(&wantJU, plan, ordered, sum)
			if !bytes.Equal(js.Bytes(), wantJS.Bytes()) {
				t.Errorf("JSON differs from the whole document:\n--- streamed\n%s\n--- whole\n%s", js.String(), wantJS.String())
			}
			if !bytes.Equal(ju.Bytes(), wantJU.Bytes()) {
				t.Errorf("JUnit differs from the whole document:\n--- streamed\n%s\n--- whole\n%s", ju.String(), wantJU.String())
			}
		})
	}
}

// TestUnencodableCheckStaysInTheDocument: a value encoding/json refuses
// (a NaN in evidence is a bug somewhere) takes the check's place as an
// object naming it and the error; the document stays valid JSON, held or
// written at once, and the other checks are all there.
func TestUnencodableCheckStaysInTheDocument(t *testing.T) {
	plan, results := twoEndpoints(t, func(r *runner.Result) {
		if r.Check.Name == "connectivity" {
			r.Evidence = map[string]float64{"rtt_ms": math.NaN()}
		}
	})
	var out bytes.Buffer
	jr := &JSON{W: &out}
	jr.Start(plan)
	var sum runner.Summary
	for _, er := range []*runner.EndpointResult{results[1], results[0]} { // b is held, a written at once
		sum.Add(er)
		jr.Endpoint(er)
	}
	if _, err := jr.Finish(sum); err != nil {
		t.Fatal(err)
	}
	var doc struct {
		Endpoints []struct {
			Name   string
			Checks []map[string]any
		}
	}
	if err := json.Unmarshal(out.Bytes(), &doc); err != nil {
		t.Fatalf("not JSON: %v\n%s", err, out.String())
	}
	if len(doc.Endpoints) != 2 {
		t.Fatalf("%d endpoints, want 2:\n%s", len(doc.Endpoints), out.String())
	}
	for _, e := range doc.Endpoints {
		if len(e.Checks) != len(plan.Endpoints[0].Checks) {
			t.Errorf("endpoint %s: %d checks, want %d", e.Name, len(e.Checks), len(plan.Endpoints[0].Checks))
		}
		found := false
		for _, c := range e.Checks {
			if c["check"] == "connectivity" {
				msg, _ := c["error"].(string)
				found = strings.Contains(msg, "NaN")
			}
		}
		if !found {
			t.Errorf("endpoint %s: no error object for the connectivity check:\n%s", e.Name, out.String())
		}
	}
}

// failAfter accepts n bytes, fails the write that goes past them, and
// accepts the writes after it again: an error that is not kept where it
// happened is lost.
type failAfter struct {
	n      int
	failed bool
}

var errDiskFull = errors.New("no space left on device")

func (w *failAfter) Write(b []byte) (int, error) {
	if !w.failed && len(b) > w.n {
		w.failed = true
		return 0, errDiskFull
	}
	w.n -= len(b)
	return len(b), nil
}

// TestJSONWriteErrorReturned: a write that fails anywhere in the document
// (the head, an endpoint written at once or one held for its turn, the
// summary) is returned by Finish, so verify's exit code says so.
func TestJSONWriteErrorReturned(t *testing.T) {
	plan, results := twoEndpoints(t, func(*runner.Result) {})
	var whole bytes.Buffer
	report := func(w io.Writer) error {
		jr := &JSON{W: w}
		jr.Start(plan)
		var sum runner.Summary
		for _, er := range []*runner.EndpointResult{results[1], results[0]} { // b held, a at once
			sum.Add(er)
			jr.Endpoint(er)
		}
		_, err := jr.Finish(sum)
		return err
	}
	if err := report(&whole); err != nil {
		t.Fatal(err)
	}
	for n := 0; n < whole.Len(); n += max(1, whole.Len()/40) {
		if err := report(&failAfter{n: n}); !errors.Is(err, errDiskFull) {
			t.Fatalf("the write failing after %d of %d bytes: Finish returned %v", n, whole.Len(), err)
		}
	}
}

// twoEndpoints plans endpoints a and b (ports 80 and 81 of one host) and
// gives every check a passing result, which edit may change.
func twoEndpoints(t *testing.T, edit func(*runner.Result)) (*runner.Plan, []*runner.EndpointResult) {
	t.Helper()
	cfg, diags := config.LoadSources(map[string][]byte{"s.pc.hcl": []byte(`
host "web" {
  address = "10.20.0.5"
  netns   = "web"
}
endpoint "a" {
  host = host.web
  port = 80
}
endpoint "b" {
  host = host.web
  port = 81
}
`)}, config.Options{})
	if diags.HasErrors() {
		t.Fatal(diags)
	}
	plan, err := runner.BuildPlan(cfg, runner.PlanOptions{Env: runner.Environment{GOOS: "linux"}})
	if err != nil {
		t.Fatal(err)
	}
	var results []*runner.EndpointResult
	for _, e := range plan.Endpoints {
		er := &runner.EndpointResult{Plan: e}
		for _, c := range e.Checks {
			r := &runner.Result{Check: c, Status: runner.StatusPass, Summary: "ok"}
			edit(r)
			er.Results = append(er.Results, r)
		}
		er.Diagnosis = runner.Diagnose(er.Results)
		results = append(results, er)
	}
	return plan, results
}

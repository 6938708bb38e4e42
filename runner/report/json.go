package report

import (
	"encoding/json"
	"io"
	"math"

	"github.com/portcheck/portcheck/config"
	"github.com/portcheck/portcheck/runner"
)

// JSONVersion is the version of the verify -json contract. Later versions
// may add fields; they never remove or change the meaning of one.
const JSONVersion = 1

// JSONReport is the document `verify -json` writes.
type JSONReport struct {
	Version     int            `json:"version"`
	Endpoints   []JSONEndpoint `json:"endpoints"`
	Summary     JSONSummary    `json:"summary"`
	ExitCode    int            `json:"exit_code"`
	Interrupted bool           `json:"interrupted,omitempty"`
	// Phase and Changes (added in v1) are set by a change run (verify
	// -phase): the changes' steps in that phase.
	Phase   string       `json:"phase,omitempty"`
	Changes []JSONChange `json:"changes,omitempty"`
}

type JSONEndpoint struct {
	Name      string        `json:"name"`    // HCL label, "web"
	Address   string        `json:"address"` // "endpoint.web", as -target takes it
	Host      string        `json:"host"`
	Port      int           `json:"port"`
	PortEnd   int           `json:"port_end,omitempty"` // set for a port range
	Protocol  string        `json:"protocol"`
	State     string        `json:"state"` // declared: open | closed
	Source    string        `json:"source"`
	Diagnosis JSONDiagnosis `json:"diagnosis"`
	Checks    []JSONCheck   `json:"checks"`
}

type JSONDiagnosis struct {
	Layer      int    `json:"layer"` // 0 when the cause is ok
	Cause      string `json:"cause"`
	Summary    string `json:"summary"`
	Hint       string `json:"hint,omitempty"`
	Incomplete bool   `json:"incomplete,omitempty"`
}

type JSONCheck struct {
	Layer      int     `json:"layer"`
	Check      string  `json:"check"`
	Status     string  `json:"status"`
	Cause      string  `json:"cause,omitempty"`
	Summary    string  `json:"summary"`
	From       string  `json:"from"`     // vantage host, or the host a server-side check ran on
	Executor   string  `json:"executor"` // local | netns:NAME
	Provider   string  `json:"provider,omitempty"`
	Target     string  `json:"target,omitempty"` // address:port probed
	Evidence   any     `json:"evidence"`
	Expected   any     `json:"expected"`
	Source     string  `json:"source"`
	Hint       string  `json:"hint,omitempty"`
	DurationMs float64 `json:"duration_ms"`
	// Facts (added in v1) names the facts document a server-side check was
	// judged from (verify -facts); absent when observed live.
	Facts string `json:"facts,omitempty"`
}

type JSONSummary struct {
	Endpoints int `json:"endpoints"`
	Passed    int `json:"passed"`
	Drifted   int `json:"drifted"`
	Failed    int `json:"failed"`
	Skipped   int `json:"skipped"`
	Errors    int `json:"errors"`
	Unchecked int `json:"unchecked,omitempty"`
	// Added in v1 without changing the fields above (whose passed…errors
	// count checks): the number of checks, and endpoints by diagnosis.
	Checks              int `json:"checks"`
	EndpointsOK         int `json:"endpoints_ok"`
	EndpointsDrifted    int `json:"endpoints_drifted"`
	EndpointsFailed     int `json:"endpoints_failed"`
	EndpointsIncomplete int `json:"endpoints_incomplete"`
}

// JSON collects results and writes the report at Finish.
type JSON struct {
	W     io.Writer
	order *inPlanOrder
	doc   JSONReport
}

func (j *JSON) Start(p *runner.Plan) {
	j.order = newInPlanOrder(p)
	j.doc = JSONReport{Version: JSONVersion, Endpoints: []JSONEndpoint{}}
}

func (j *JSON) Endpoint(er *runner.EndpointResult) {
	for _, r := range j.order.add(er) {
		j.doc.Endpoints = append(j.doc.Endpoints, EndpointJSON(r))
	}
}

// EndpointJSON converts one endpoint's results to the contract's shape.
func EndpointJSON(er *runner.EndpointResult) JSONEndpoint {
	ep := er.Plan.Endpoint
	e := JSONEndpoint{
		Name: ep.Name, Address: er.Plan.Name(), Port: ep.Ports.From, Protocol: ep.Protocol,
		State: ep.State, Source: config.SourceOf(ep.DeclRange), Checks: []JSONCheck{},
	}
	if e.State == "" {
		e.State = "open"
	}
	if ep.Host != nil {
		e.Host = ep.Host.Name
	}
	if ep.Ports.To > ep.Ports.From {
		e.PortEnd = ep.Ports.To
	}
	d := er.Diagnosis
	e.Diagnosis = JSONDiagnosis{Layer: int(d.Layer), Cause: d.Cause, Summary: d.Summary, Hint: d.Hint, Incomplete: d.Incomplete}
	for _, r := range er.Results {
		c := r.Check
		jc := JSONCheck{
			Layer: int(c.Layer), Check: c.Name, Status: string(r.Status), Cause: r.Cause, Summary: r.Summary,
			From: c.From, Executor: c.Exec.String(), Provider: c.Provider, Evidence: r.Evidence, Expected: r.Expected,
			Source: config.SourceOf(c.Source), Hint: r.Hint, Facts: r.FactsOrigin,
			DurationMs: math.Round(float64(r.Duration.Microseconds())) / 1000,
		}
		if jc.From == "" {
			jc.From = c.Exec.Host
		}
		if c.Target.Address.IsValid() {
			jc.Target = hostPort(c.Target)
		}
		e.Checks = append(e.Checks, jc)
	}
	return e
}

func (j *JSON) Finish(sum runner.Summary) (int, error) {
	for _, r := range j.order.rest() {
		j.doc.Endpoints = append(j.doc.Endpoints, EndpointJSON(r))
	}
	j.doc.Summary = JSONSummary{Endpoints: sum.Finished, Passed: sum.Passed, Drifted: sum.Drifted, Failed: sum.Failed,
		Skipped: sum.Skipped, Errors: sum.Errors, Unchecked: sum.Unchecked, Checks: sum.Checks,
		EndpointsOK: sum.EndpointsOK, EndpointsDrifted: sum.EndpointsDrifted, EndpointsFailed: sum.EndpointsFailed, EndpointsIncomplete: sum.EndpointsIncomplete}
	j.doc.ExitCode = sum.ExitCode()
	j.doc.Interrupted = sum.Interrupted
	enc := json.NewEncoder(j.W)
	enc.SetIndent("", "  ")
	enc.SetEscapeHTML(false)
	return sum.ExitCode(), enc.Encode(j.doc)
}

package report

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"math"

	"github.com/klauspost/compress/s2"

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
	Name    string `json:"name"`    // HCL label, "web"
	Address string `json:"address"` // "endpoint.web", as -target takes it
	Host    string `json:"host"`
	Port    int    `json:"port"`
	PortEnd int    `json:"port_end,omitempty"` // set for a port range, and the last port of a list
	// Ports (added in v1) are a port list's ranges, sorted and disjoint;
	// set only when the ports are not one range (port..port_end then
	// bounds them, with gaps).
	Ports     []JSONPortRange `json:"ports,omitempty"`
	Protocol  string          `json:"protocol"`
	State     string          `json:"state"` // declared: open | closed
	Source    string          `json:"source"`
	Diagnosis JSONDiagnosis   `json:"diagnosis"`
	Checks    []JSONCheck     `json:"checks"`
}

// JSONPortRange is one range of a port list; a single port has from == to.
type JSONPortRange struct {
	From int `json:"from"`
	To   int `json:"to"`
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

// JSON writes the report as it goes: the head at Start, each endpoint as
// soon as it and every endpoint before it have finished, the summary at
// Finish. The bytes are those of JSONReport encoded whole (indented by two
// spaces, HTML not escaped), but no endpoint's results or evidence are
// held after it is written: at fleet scale the whole document was most of
// the memory a run took.
type JSON struct {
	W     io.Writer
	order *inPlanOrder[[]byte]
	enc   *endpointEncoder
	// unheld is the buffer a held endpoint is decompressed into.
	unheld []byte
	// out is W, keeping its first write error (returned by Finish): the
	// encoder and the indenter write to it in many pieces.
	out    *errWriter
	indent *indenter // into out
	// wrote counts the endpoints written.
	wrote int
}

// jsonHead is JSONReport's encoding up to its endpoints array.
var jsonHead = fmt.Sprintf("{\n  \"version\": %d,\n  \"endpoints\": [", JSONVersion)

// jsonTail is what follows the endpoints: JSONReport's fields after them.
type jsonTail struct {
	Summary     JSONSummary `json:"summary"`
	ExitCode    int         `json:"exit_code"`
	Interrupted bool        `json:"interrupted,omitempty"`
}

func (j *JSON) Start(p *runner.Plan) {
	j.order = newInPlanOrder[[]byte](p)
	j.out = &errWriter{w: j.W}
	j.out.Write([]byte(jsonHead))
}

func (j *JSON) Endpoint(er *runner.EndpointResult) {
	var ready [][]byte
	if j.order.isNext(er) && j.out.err == nil {
		// Next in plan order: written straight out, never held (one
		// endpoint of 10,000 ports is tens of MB of JSON).
		j.separator()
		j.encoder().encode(j.indented(), er)
		ready = j.order.add(er, nil)[1:]
	} else {
		// Held until the endpoints before it finish (a filtered port
		// waits out its timeouts meanwhile, and thousands finish behind
		// it): compact and compressed (s2, ~1 GB/s), a tenth of what the
		// indented bytes took.
		e := j.encoder()
		e.held.Reset()
		e.encode(&e.held, er)
		// s2 writes into a buffer of its worst-case size: kept for the
		// next, and the result copied out at its own size.
		e.packed = s2.Encode(e.packed[:cap(e.packed)], e.held.Bytes())
		ready = j.order.add(er, bytes.Clone(e.packed))
		if cap(e.packed) > 1<<20 {
			e.packed = nil
		}
		if e.held.Cap() > 1<<20 {
			e.held = bytes.Buffer{} // one endpoint of many ports: not kept
		}
	}
	for _, b := range ready {
		j.writeEndpoint(b)
	}
}

// indented is the writer of an endpoint's compact JSON into the document:
// indented as it sits inside the endpoints array.
func (j *JSON) indented() io.Writer {
	if j.indent == nil {
		j.indent = newIndenter(j.out, "    ", "  ")
	}
	return j.indent
}

func (j *JSON) encoder() *endpointEncoder {
	if j.enc == nil {
		j.enc = &endpointEncoder{}
		j.enc.enc = json.NewEncoder(&j.enc.buf)
		j.enc.enc.SetEscapeHTML(false)
	}
	return j.enc
}

// endpointEncoder encodes endpoints into buffers it keeps: a fresh buffer
// per endpoint, grown from nothing each time, was a third of the report's
// CPU at 10,000 endpoints.
type endpointEncoder struct {
	buf    bytes.Buffer // one value at a time
	enc    *json.Encoder
	held   bytes.Buffer // an endpoint to be held, before it is packed
	packed []byte       // held, compressed, before it is copied out
}

// encode writes one element of the endpoints array to w as compact JSON.
// The checks are encoded one at a time: an endpoint of 10,000 ports has
// 30,000, and encoding them as one value held all of them at once. A
// value JSON cannot encode is a bug, reported in the document in the
// place of what held it, never dropped.
func (e *endpointEncoder) encode(w io.Writer, er *runner.EndpointResult) {
	buf, enc := &e.buf, e.enc
	buf.Reset()
	encoded := func() []byte { return bytes.TrimSuffix(buf.Bytes(), []byte("\n")) }
	head := endpointHead(er)
	head.Checks = []JSONCheck{}
	if err := enc.Encode(head); err != nil {
		writeEncodeError(w, "name", er.Plan.Endpoint.Name, err)
		return
	}
	// The head ends `"checks":[]}`: open the array instead.
	whole := encoded()
	out := bytes.TrimSuffix(whole, []byte("[]}"))
	if len(er.Results) == 0 || len(out) == len(whole) {
		w.Write(whole)
		return
	}
	w.Write(out)
	for i, r := range er.Results {
		if i == 0 {
			io.WriteString(w, "[")
		} else {
			io.WriteString(w, ",")
		}
		buf.Reset()
		if err := enc.Encode(checkJSON(r)); err != nil {
			writeEncodeError(w, "check", r.Check.Name, err)
			continue
		}
		w.Write(encoded())
	}
	io.WriteString(w, "]}")
}

// writeEncodeError writes, in the place of a value that could not be
// encoded, an object naming it and the error.
func writeEncodeError(w io.Writer, key, name string, err error) {
	n, _ := json.Marshal(name)
	e, _ := json.Marshal(err.Error())
	fmt.Fprintf(w, "{\"%s\":%s,\"error\":%s}", key, n, e)
}

func (j *JSON) separator() {
	if j.wrote > 0 {
		j.out.Write([]byte(","))
	}
	j.out.Write([]byte("\n    "))
	j.wrote++
}

// writeEndpoint writes a held endpoint's compact JSON, indented.
func (j *JSON) writeEndpoint(held []byte) {
	j.separator()
	if j.out.err != nil {
		return
	}
	b, err := s2.Decode(j.unheld[:0], held)
	if err != nil { // our own bytes: a bug, said in the document
		writeEncodeError(j.indented(), "name", "(a held endpoint)", err)
		return
	}
	if cap(b) <= 1<<20 {
		j.unheld = b
	}
	j.indented().Write(b)
}

// EndpointJSON converts one endpoint's results to the contract's shape.
func EndpointJSON(er *runner.EndpointResult) JSONEndpoint {
	e := endpointHead(er)
	for _, r := range er.Results {
		e.Checks = append(e.Checks, checkJSON(r))
	}
	return e
}

// endpointHead is an endpoint's fields without its checks.
func endpointHead(er *runner.EndpointResult) JSONEndpoint {
	ep := er.Plan.Endpoint
	e := JSONEndpoint{
		Name: ep.Name, Address: er.Plan.Name(), Port: ep.Ports.First(), Protocol: ep.Protocol,
		State: ep.State, Source: config.SourceOf(ep.DeclRange), Checks: []JSONCheck{},
	}
	if e.State == "" {
		e.State = "open"
	}
	if ep.Host != nil {
		e.Host = ep.Host.Name
	}
	if ep.Ports.Last() > ep.Ports.First() {
		e.PortEnd = ep.Ports.Last()
	}
	if len(ep.Ports) > 1 {
		e.Ports = make([]JSONPortRange, len(ep.Ports))
		for i, r := range ep.Ports {
			e.Ports[i] = JSONPortRange{From: r.From, To: r.To}
		}
	}
	d := er.Diagnosis
	e.Diagnosis = JSONDiagnosis{Layer: int(d.Layer), Cause: d.Cause, Summary: d.Summary, Hint: d.Hint, Incomplete: d.Incomplete}
	return e
}

// checkJSON is one check of an endpoint.
func checkJSON(r *runner.Result) JSONCheck {
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
	return jc
}

func (j *JSON) Finish(sum runner.Summary) (int, error) {
	for _, b := range j.order.rest() {
		j.writeEndpoint(b)
	}
	if j.wrote > 0 {
		j.out.Write([]byte("\n  "))
	}
	tail := jsonTail{
		Summary: JSONSummary{Endpoints: sum.Finished, Passed: sum.Passed, Drifted: sum.Drifted, Failed: sum.Failed,
			Skipped: sum.Skipped, Errors: sum.Errors, Unchecked: sum.Unchecked, Checks: sum.Checks,
			EndpointsOK: sum.EndpointsOK, EndpointsDrifted: sum.EndpointsDrifted, EndpointsFailed: sum.EndpointsFailed, EndpointsIncomplete: sum.EndpointsIncomplete},
		ExitCode:    sum.ExitCode(),
		Interrupted: sum.Interrupted,
	}
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetIndent("", "  ")
	enc.SetEscapeHTML(false)
	if err := enc.Encode(tail); err != nil && j.out.err == nil {
		j.out.err = err
	}
	// "{\n  \"summary\": …" continues the document after "],".
	j.out.Write([]byte("],\n"))
	j.out.Write(bytes.TrimPrefix(buf.Bytes(), []byte("{\n")))
	return sum.ExitCode(), j.out.err
}

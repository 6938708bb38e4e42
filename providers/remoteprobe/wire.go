// Package remoteprobe runs L4 probes on another machine: a prober there
// (`portcheck probe -stdio`, started over whatever carries its standard
// input and output, such as an SSH session) reads probe requests as JSON
// lines and answers each with the outcome its own probes saw. One stream
// carries every probe of a run from that vantage point, so a fleet's
// checks cost one process per vantage host, not one per probe, and the
// RTT-adaptive timing is learnt where the probes leave.
//
// The stream (schema "portcheck/probe-stream", version 1):
//
//	prober → {"schema":"portcheck/probe-stream","version":1,"netns":"…","hostname":"…"}   (hello, first line)
//	client → {"id":7,"target":{"address":"10.0.0.5","port":443,"protocol":"tcp"},"timeout_ms":2000,"retries":1}
//	client → {"id":7,"cancel":true}                       (the client no longer waits for 7)
//	client → {"id":8,"kind":"http","target":{…},"params":{…HTTPWire…}}    (also trace, tls, grpc, banner)
//	prober → {"id":7,"outcome":{…probe.Outcome…}}  or  {"id":7,"error":"…"}
//	prober → {"id":8,"facts":{…app.HTTPFacts…}}
//	prober → {"error":"line 3: …"}                       (a line it could not read; the stream ends)
//
// Answers come in completion order. Later versions only add fields; a
// client refuses a prober of a newer version rather than misread it.
package remoteprobe

import (
	"bytes"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"time"

	"github.com/portcheck/portcheck/providers"
	"github.com/portcheck/portcheck/providers/probe"
)

const (
	// Schema names the stream in its hello line.
	Schema = "portcheck/probe-stream"
	// Version is the stream version this package speaks.
	Version = 1
	// MaxLine bounds one line in either direction: a request is a few
	// hundred bytes, an outcome a few KB; anything longer is not ours.
	MaxLine = 1 << 20
	// maxTimeout bounds a request's timeout: the prober holds a socket
	// that long per attempt, and no declared timeout needs more.
	maxTimeout = 10 * time.Minute
	// maxRetries bounds a request's extra attempts.
	maxRetries = 100
	// maxPayload bounds a UDP payload (one datagram).
	maxPayload = 65507
)

// Hello is the prober's first line.
type Hello struct {
	Schema   string `json:"schema"`
	Version  int    `json:"version"`
	Netns    string `json:"netns,omitempty"`
	Hostname string `json:"hostname,omitempty"`
}

// Request is one probe, or the cancellation of one.
type Request struct {
	ID         uint64            `json:"id"`
	Target     *providers.Target `json:"target,omitempty"`
	TimeoutMs  float64           `json:"timeout_ms,omitempty"`
	Retries    int               `json:"retries,omitempty"`
	PayloadHex string            `json:"payload_hex,omitempty"`
	Cancel     bool              `json:"cancel,omitempty"`
	// Kind is "" for an L4 probe (the fields above), else one of the
	// Kind* constants with its Params (L5 traces, L7 checks).
	Kind   string          `json:"kind,omitempty"`
	Params json.RawMessage `json:"params,omitempty"`
}

// Response is the answer to one request; a response without an id is the
// prober's last word on a stream it could not read.
type Response struct {
	ID      uint64          `json:"id,omitempty"`
	Outcome *probe.Outcome  `json:"outcome,omitempty"`
	Facts   json.RawMessage `json:"facts,omitempty"` // the facts of a request of another kind
	Error   string          `json:"error,omitempty"`
}

// newRequest encodes a probe for the stream.
func newRequest(id uint64, t providers.Target, p probe.Params) Request {
	r := Request{ID: id, Target: &t, TimeoutMs: float64(p.Timeout) / float64(time.Millisecond), Retries: p.Retries}
	if len(p.Payload) > 0 {
		r.PayloadHex = hex.EncodeToString(p.Payload)
	}
	return r
}

// params decodes and bounds a request's probe parameters.
func (r Request) params() (probe.Params, error) {
	var p probe.Params
	switch {
	case r.TimeoutMs < 0 || r.TimeoutMs > float64(maxTimeout/time.Millisecond):
		return p, fmt.Errorf("timeout_ms %v is outside 0..%d", r.TimeoutMs, maxTimeout/time.Millisecond)
	case r.Retries < 0 || r.Retries > maxRetries:
		return p, fmt.Errorf("retries %d is outside 0..%d", r.Retries, maxRetries)
	case len(r.PayloadHex) > 2*maxPayload:
		return p, fmt.Errorf("payload of %d bytes is more than one datagram (%d)", len(r.PayloadHex)/2, maxPayload)
	}
	p.Timeout = time.Duration(r.TimeoutMs * float64(time.Millisecond))
	p.Retries = r.Retries
	if r.PayloadHex != "" {
		b, err := hex.DecodeString(r.PayloadHex)
		if err != nil {
			return p, fmt.Errorf("payload_hex: %v", err)
		}
		p.Payload = b
	}
	return p, nil
}

// decodeRequest reads one request line strictly: unknown fields are
// refused, so a newer client's request is never half understood.
func decodeRequest(line []byte) (Request, error) {
	var r Request
	// A line that is not exactly one request ends the stream (the zero
	// Request says so); a request with an id but bad values is answered.
	if err := decodeStrict(line, &r); err != nil {
		return Request{}, err
	}
	if r.ID == 0 {
		return r, fmt.Errorf("request without an id")
	}
	if !r.Cancel {
		if r.Target == nil {
			return r, fmt.Errorf("request %d has no target", r.ID)
		}
		if !r.Target.Address.IsValid() {
			return r, fmt.Errorf("request %d: target has no address", r.ID)
		}
		if r.Target.Port < 1 || r.Target.Port > 65535 {
			return r, fmt.Errorf("request %d: port %d is outside 1..65535", r.ID, r.Target.Port)
		}
	}
	return r, nil
}

// decodeStrict decodes exactly one JSON value into v, refusing fields v
// does not have: a newer peer's message is never half understood.
func decodeStrict(b []byte, v any) error {
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		return err
	}
	if dec.More() {
		return fmt.Errorf("more than one JSON value on the line")
	}
	return nil
}

package remoteprobe

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"regexp"
	"time"

	"github.com/portcheck/portcheck/providers"
	"github.com/portcheck/portcheck/providers/app"
	pathtrace "github.com/portcheck/portcheck/providers/path"
)

// Kinds of request besides an L4 probe (kind ""): the vantage-side
// observers of L5 and L7. Their parameters travel as the wire types below
// and their facts as the observers' own JSON.
const (
	KindTrace  = "trace"
	KindHTTP   = "http"
	KindTLS    = "tls"
	KindGRPC   = "grpc"
	KindBanner = "banner"
)

// Observers are what a prober runs; a nil one answers that this prober
// does not serve that kind.
type Observers struct {
	Probe  ProbeFunc
	Trace  func(context.Context, providers.Exec, providers.Target, pathtrace.Params) (*pathtrace.Facts, error)
	HTTP   func(context.Context, providers.Exec, providers.Target, app.HTTPParams) (*app.HTTPFacts, error)
	TLS    func(context.Context, providers.Exec, providers.Target, app.TLSParams) (*app.TLSFacts, error)
	GRPC   func(context.Context, providers.Exec, providers.Target, app.GRPCParams) (*app.GRPCFacts, error)
	Banner func(context.Context, providers.Exec, providers.Target, app.BannerParams) (*app.BannerFacts, error)
}

// DefaultObservers are the live observers of this machine, probes paced
// by probeFn (a scheduler's).
func DefaultObservers(probeFn ProbeFunc) Observers {
	return Observers{Probe: probeFn, Trace: pathtrace.Trace, HTTP: app.HTTP, TLS: app.TLS, GRPC: app.GRPC, Banner: app.Banner}
}

// errFilesStayHere refuses TLS settings that name files: they are files on
// the machine verify runs on. A client key never leaves it, and a CA
// bundle is not shipped in this version.
var errFilesStayHere = errors.New("ca_file, client_cert and client_key name files on the machine verify runs on: a client key never leaves it and CA bundles are not shipped to a vantage host reached over ssh in this version; check TLS with files from this machine or a local namespace")

// TLSWire is app.TLSParams on the stream: no files, no clock.
type TLSWire struct {
	ServerName  string        `json:"server_name,omitempty"`
	Timeout     time.Duration `json:"timeout,omitempty"`
	RefuseBelow uint16        `json:"refuse_below,omitempty"`
}

func tlsWire(p app.TLSParams) (TLSWire, error) {
	if p.CAFile != "" || p.ClientCert != "" || p.ClientKey != "" {
		return TLSWire{}, errFilesStayHere
	}
	return TLSWire{ServerName: p.ServerName, Timeout: p.Timeout, RefuseBelow: p.RefuseBelow}, nil
}

func (w TLSWire) params() app.TLSParams {
	return app.TLSParams{ServerName: w.ServerName, Timeout: w.Timeout, RefuseBelow: w.RefuseBelow}
}

// HTTPWire is app.HTTPParams on the stream: the body pattern as its text.
type HTTPWire struct {
	Scheme      string            `json:"scheme,omitempty"`
	Method      string            `json:"method,omitempty"`
	Path        string            `json:"path,omitempty"`
	HostHeader  string            `json:"host_header,omitempty"`
	Headers     map[string]string `json:"headers,omitempty"`
	TLS         TLSWire           `json:"tls"`
	Insecure    bool              `json:"insecure,omitempty"`
	Timeout     time.Duration     `json:"timeout,omitempty"`
	MaxBody     int               `json:"max_body,omitempty"`
	BodyPattern string            `json:"body_pattern,omitempty"`
}

// GRPCWire is app.GRPCParams on the stream.
type GRPCWire struct {
	Service string        `json:"service,omitempty"`
	TLS     bool          `json:"tls,omitempty"`
	TLSWire TLSWire       `json:"tls_params"`
	Timeout time.Duration `json:"timeout,omitempty"`
}

// encodeParams turns a kind's parameters into their wire JSON.
func encodeParams(kind string, p any) (json.RawMessage, error) {
	var v any
	switch kind {
	case KindTrace:
		v = p.(pathtrace.Params)
	case KindBanner:
		v = p.(app.BannerParams)
	case KindTLS:
		w, err := tlsWire(p.(app.TLSParams))
		if err != nil {
			return nil, err
		}
		v = w
	case KindHTTP:
		hp := p.(app.HTTPParams)
		tw, err := tlsWire(hp.TLS)
		if err != nil {
			return nil, err
		}
		w := HTTPWire{Scheme: hp.Scheme, Method: hp.Method, Path: hp.Path, HostHeader: hp.HostHeader, Headers: hp.Headers, TLS: tw, Insecure: hp.Insecure, Timeout: hp.Timeout, MaxBody: hp.MaxBody}
		if hp.BodyPattern != nil {
			w.BodyPattern = hp.BodyPattern.String()
		}
		v = w
	case KindGRPC:
		gp := p.(app.GRPCParams)
		tw, err := tlsWire(gp.TLSParams)
		if err != nil {
			return nil, err
		}
		v = GRPCWire{Service: gp.Service, TLS: gp.TLS, TLSWire: tw, Timeout: gp.Timeout}
	default:
		return nil, fmt.Errorf("unknown kind %q", kind)
	}
	return json.Marshal(v)
}

// maxWireTimeout bounds a request's timeouts, as maxTimeout does a probe's.
func checkTimeout(d time.Duration) error {
	if d < 0 || d > maxTimeout {
		return fmt.Errorf("timeout %v is outside 0..%v", d, maxTimeout)
	}
	return nil
}

// runKind decodes a request of another kind than an L4 probe, runs its
// observer and returns the facts as JSON.
func runKind(ctx context.Context, obs Observers, exec providers.Exec, r Request) (json.RawMessage, error) {
	strict := func(v any) error {
		if len(r.Params) == 0 {
			return fmt.Errorf("request %d (%s) has no params", r.ID, r.Kind)
		}
		if err := decodeStrict(r.Params, v); err != nil {
			return fmt.Errorf("request %d (%s): params: %v", r.ID, r.Kind, err)
		}
		return nil
	}
	notServed := fmt.Errorf("this prober does not run %s checks", r.Kind)
	t := *r.Target
	var facts any
	var err error
	switch r.Kind {
	case KindTrace:
		var p pathtrace.Params
		if err := strict(&p); err != nil {
			return nil, err
		}
		if p.MaxHops < 0 || p.MaxHops > 255 || p.Rounds < 0 || p.Rounds > 1000 {
			return nil, fmt.Errorf("request %d: max_hops %d or rounds %d out of bounds", r.ID, p.MaxHops, p.Rounds)
		}
		if err := checkTimeout(p.Timeout); err != nil {
			return nil, err
		}
		if obs.Trace == nil {
			return nil, notServed
		}
		facts, err = obs.Trace(ctx, exec, t, p)
	case KindBanner:
		var p app.BannerParams
		if err := strict(&p); err != nil {
			return nil, err
		}
		if err := checkTimeout(p.Timeout); err != nil {
			return nil, err
		}
		if p.MaxBytes < 0 || p.MaxBytes > 1<<20 {
			return nil, fmt.Errorf("request %d: max_bytes %d out of bounds", r.ID, p.MaxBytes)
		}
		if obs.Banner == nil {
			return nil, notServed
		}
		facts, err = obs.Banner(ctx, exec, t, p)
	case KindTLS:
		var w TLSWire
		if err := strict(&w); err != nil {
			return nil, err
		}
		if err := checkTimeout(w.Timeout); err != nil {
			return nil, err
		}
		if obs.TLS == nil {
			return nil, notServed
		}
		facts, err = obs.TLS(ctx, exec, t, w.params())
	case KindHTTP:
		var w HTTPWire
		if err := strict(&w); err != nil {
			return nil, err
		}
		if err := checkTimeout(w.Timeout); err != nil {
			return nil, err
		}
		if w.MaxBody < 0 || w.MaxBody > 64<<20 {
			return nil, fmt.Errorf("request %d: max_body %d out of bounds", r.ID, w.MaxBody)
		}
		p := app.HTTPParams{Scheme: w.Scheme, Method: w.Method, Path: w.Path, HostHeader: w.HostHeader, Headers: w.Headers, TLS: w.TLS.params(), Insecure: w.Insecure, Timeout: w.Timeout, MaxBody: w.MaxBody}
		if w.BodyPattern != "" {
			re, err := regexp.Compile(w.BodyPattern)
			if err != nil {
				return nil, fmt.Errorf("request %d: body_pattern: %v", r.ID, err)
			}
			p.BodyPattern = re
		}
		if obs.HTTP == nil {
			return nil, notServed
		}
		facts, err = obs.HTTP(ctx, exec, t, p)
	case KindGRPC:
		var w GRPCWire
		if err := strict(&w); err != nil {
			return nil, err
		}
		if err := checkTimeout(w.Timeout); err != nil {
			return nil, err
		}
		if obs.GRPC == nil {
			return nil, notServed
		}
		facts, err = obs.GRPC(ctx, exec, t, app.GRPCParams{Service: w.Service, TLS: w.TLS, TLSParams: w.TLSWire.params(), Timeout: w.Timeout})
	default:
		return nil, fmt.Errorf("request %d: unknown kind %q (this prober speaks %s version %d)", r.ID, r.Kind, Schema, Version)
	}
	if err != nil {
		return nil, err
	}
	return json.Marshal(facts)
}

// call runs a request of another kind on the prober and decodes its facts
// into out.
func (c *Client) call(ctx context.Context, kind string, t providers.Target, params any, out any) error {
	raw, err := encodeParams(kind, params)
	if err != nil {
		return err
	}
	r, err := c.roundTrip(ctx, Request{Kind: kind, Target: &t, Params: raw})
	if err != nil {
		return err
	}
	if len(r.Facts) == 0 {
		return fmt.Errorf("prober on %s answered a %s request without facts", c.Name, kind)
	}
	if err := json.Unmarshal(r.Facts, out); err != nil {
		return fmt.Errorf("prober on %s: %s facts: %v", c.Name, kind, err)
	}
	return nil
}

// Trace runs an L5 trace from the prober's machine.
func (c *Client) Trace(ctx context.Context, _ providers.Exec, t providers.Target, p pathtrace.Params) (*pathtrace.Facts, error) {
	var f pathtrace.Facts
	if err := c.call(ctx, KindTrace, t, p, &f); err != nil {
		return nil, err
	}
	return &f, nil
}

// HTTP runs an L7 HTTP check from the prober's machine.
func (c *Client) HTTP(ctx context.Context, _ providers.Exec, t providers.Target, p app.HTTPParams) (*app.HTTPFacts, error) {
	var f app.HTTPFacts
	if err := c.call(ctx, KindHTTP, t, p, &f); err != nil {
		return nil, err
	}
	return &f, nil
}

// TLS runs an L7 TLS handshake from the prober's machine.
func (c *Client) TLS(ctx context.Context, _ providers.Exec, t providers.Target, p app.TLSParams) (*app.TLSFacts, error) {
	var f app.TLSFacts
	if err := c.call(ctx, KindTLS, t, p, &f); err != nil {
		return nil, err
	}
	return &f, nil
}

// GRPC runs an L7 gRPC health check from the prober's machine.
func (c *Client) GRPC(ctx context.Context, _ providers.Exec, t providers.Target, p app.GRPCParams) (*app.GRPCFacts, error) {
	var f app.GRPCFacts
	if err := c.call(ctx, KindGRPC, t, p, &f); err != nil {
		return nil, err
	}
	return &f, nil
}

// Banner reads a banner from the prober's machine.
func (c *Client) Banner(ctx context.Context, _ providers.Exec, t providers.Target, p app.BannerParams) (*app.BannerFacts, error) {
	var f app.BannerFacts
	if err := c.call(ctx, KindBanner, t, p, &f); err != nil {
		return nil, err
	}
	return &f, nil
}

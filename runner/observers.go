package runner

import (
	"context"

	"github.com/portcheck/portcheck/providers"
	"github.com/portcheck/portcheck/providers/app"
	"github.com/portcheck/portcheck/providers/facts"
	pathtrace "github.com/portcheck/portcheck/providers/path"
	"github.com/portcheck/portcheck/providers/probe"
)

// Observers are the typed observers a run calls: the server-side layers'
// facts (L1–L3, and what lies behind a DNAT) from a facts source, the
// vantage-side layers' (L4, L5, L7) from their probes. Each evaluator
// meets its observer through its own facts type; nothing crosses as any.
// Zero fields take the built-in observers; tests and other front ends may
// replace any of them.
type Observers struct {
	// Facts gives each host's server-side facts: observed live (the
	// default the front end passes: collect.Live) or read from documents
	// (facts.Recorded, for verify -facts).
	Facts facts.Source
	Probe func(context.Context, providers.Exec, providers.Target, probe.Params) (probe.Outcome, error)
	// RemoteProbe runs L4 probes from vantage hosts reached over ssh
	// (exec.Remote set); without it such probes are errors, never run
	// from here in their place.
	RemoteProbe func(context.Context, providers.Exec, providers.Target, probe.Params) (probe.Outcome, error)
	Trace       func(context.Context, providers.Exec, providers.Target, pathtrace.Params) (*pathtrace.Facts, error)
	HTTP        func(context.Context, providers.Exec, providers.Target, app.HTTPParams) (*app.HTTPFacts, error)
	TLS         func(context.Context, providers.Exec, providers.Target, app.TLSParams) (*app.TLSFacts, error)
	GRPC        func(context.Context, providers.Exec, providers.Target, app.GRPCParams) (*app.GRPCFacts, error)
	Banner      func(context.Context, providers.Exec, providers.Target, app.BannerParams) (*app.BannerFacts, error)
}

// withDefaults fills what is not set: the live facts source the linked
// observers registered (facts.Live; the runner imports no backend) and
// the vantage-side probes.
func (o Observers) withDefaults() Observers {
	if o.Facts == nil {
		o.Facts = facts.Live()
	}
	if o.Probe == nil {
		o.Probe = probe.Probe
	}
	if o.Trace == nil {
		o.Trace = pathtrace.Trace
	}
	if o.HTTP == nil {
		o.HTTP = app.HTTP
	}
	if o.TLS == nil {
		o.TLS = app.TLS
	}
	if o.GRPC == nil {
		o.GRPC = app.GRPC
	}
	if o.Banner == nil {
		o.Banner = app.Banner
	}
	return o
}

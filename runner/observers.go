package runner

import (
	"context"
	"fmt"

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
	// Remote runs the vantage-side checks (L4, L5, L7) of vantage hosts
	// reached over ssh (exec.Remote set) on those hosts; without it such
	// checks are errors, never run from here in their place.
	Remote RemoteVantages
	Trace  func(context.Context, providers.Exec, providers.Target, pathtrace.Params) (*pathtrace.Facts, error)
	HTTP   func(context.Context, providers.Exec, providers.Target, app.HTTPParams) (*app.HTTPFacts, error)
	TLS    func(context.Context, providers.Exec, providers.Target, app.TLSParams) (*app.TLSFacts, error)
	GRPC   func(context.Context, providers.Exec, providers.Target, app.GRPCParams) (*app.GRPCFacts, error)
	Banner func(context.Context, providers.Exec, providers.Target, app.BannerParams) (*app.BannerFacts, error)
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

// RemoteVantages runs vantage-side observers on hosts reached over ssh,
// picked by exec.Host (providers/remote.Source).
type RemoteVantages interface {
	Probe(context.Context, providers.Exec, providers.Target, probe.Params) (probe.Outcome, error)
	Trace(context.Context, providers.Exec, providers.Target, pathtrace.Params) (*pathtrace.Facts, error)
	HTTP(context.Context, providers.Exec, providers.Target, app.HTTPParams) (*app.HTTPFacts, error)
	TLS(context.Context, providers.Exec, providers.Target, app.TLSParams) (*app.TLSFacts, error)
	GRPC(context.Context, providers.Exec, providers.Target, app.GRPCParams) (*app.GRPCFacts, error)
	Banner(context.Context, providers.Exec, providers.Target, app.BannerParams) (*app.BannerFacts, error)
}

// routeRemote sends the observations of vantage hosts reached over ssh to
// method m of remote (nil remote: they are errors), the others to local.
func routeRemote[P, F any](local func(context.Context, providers.Exec, providers.Target, P) (F, error), remote RemoteVantages, m func(RemoteVantages, context.Context, providers.Exec, providers.Target, P) (F, error)) func(context.Context, providers.Exec, providers.Target, P) (F, error) {
	return func(ctx context.Context, exec providers.Exec, t providers.Target, p P) (F, error) {
		if exec.Remote == "" {
			return local(ctx, exec, t, p)
		}
		if remote == nil {
			var zero F
			return zero, fmt.Errorf("vantage host %s is reached over ssh (%s): this command does not run checks over ssh", exec.Host, exec.Remote)
		}
		return m(remote, ctx, exec, t, p)
	}
}

// withRemote routes every vantage-side observer through routeRemote.
func (o Observers) withRemote() Observers {
	o.Probe = routeRemote(o.Probe, o.Remote, RemoteVantages.Probe)
	o.Trace = routeRemote(o.Trace, o.Remote, RemoteVantages.Trace)
	o.HTTP = routeRemote(o.HTTP, o.Remote, RemoteVantages.HTTP)
	o.TLS = routeRemote(o.TLS, o.Remote, RemoteVantages.TLS)
	o.GRPC = routeRemote(o.GRPC, o.Remote, RemoteVantages.GRPC)
	o.Banner = routeRemote(o.Banner, o.Remote, RemoteVantages.Banner)
	return o
}

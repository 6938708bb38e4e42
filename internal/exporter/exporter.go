// Package exporter serves verify's results as Prometheus metrics: every
// endpoint re-verified on an interval (/metrics), and one endpoint
// verified per scrape in blackbox_exporter's multi-target style
// (/probe?target=endpoint.web). It only runs verify: it never changes a
// host. The configuration is reloaded on request (SIGHUP in `portcheck
// serve`); a reload that fails keeps the last good configuration.
package exporter

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	dto "github.com/prometheus/client_model/go"

	"github.com/portcheck/portcheck/runner"
)

// Loader reads the configuration and plans it; an error carries the
// configuration's diagnostics as text.
type Loader func() (*runner.Plan, error)

// Options configure an Exporter.
type Options struct {
	Load Loader
	// Verify is passed to every run (parallelism, observers).
	Verify runner.Options
	// Interval re-verifies every endpoint this often for /metrics (each
	// run bounded by the interval); 0 verifies only per /probe scrape.
	Interval time.Duration
	// MaxTimeout bounds one /probe run; a scrape's
	// X-Prometheus-Scrape-Timeout-Seconds header can only shorten it
	// (default 30 s).
	MaxTimeout time.Duration
	// MaxConcurrent bounds the /probe runs of different targets at once
	// (default 4); scrapes of one target share one run anyway.
	MaxConcurrent int
	Logger        *slog.Logger
}

// Exporter holds the serving configuration, the last interval run and the
// runs in flight.
type Exporter struct {
	opts Options
	log  *slog.Logger

	cur      atomic.Pointer[loaded] // the configuration being served
	reloadMu sync.Mutex             // one reload at a time
	kick     chan struct{}          // a reload asks the interval loop for a run

	mu          sync.Mutex
	reloadOK    bool
	reloadOKAt  time.Time
	reloads     int
	reloadFails int
	last        *runResult // the last finished interval run

	flights   flights
	sem       chan struct{}
	inFlight  atomic.Int64
	probeRuns atomic.Int64
}

// loaded is one good configuration, planned.
type loaded struct {
	plan   *runner.Plan
	byName map[string]*runner.EndpointPlan
	gen    int64
	at     time.Time
}

// runResult is one interval run over every endpoint.
type runResult struct {
	cfg        *loaded
	results    map[string]*runner.EndpointResult // by endpoint address, endpoint.NAME
	start, end time.Time
	complete   bool // every endpoint finished before the run's deadline
	// families are the results' series, gathered once when the run ended
	// (a scrape then costs encoding only); results are dropped then.
	families []*dto.MetricFamily
}

// New loads the configuration once; a configuration that does not load is
// an error (nothing to serve yet).
func New(opts Options) (*Exporter, error) {
	if opts.Load == nil {
		return nil, errors.New("exporter: no loader")
	}
	if opts.MaxTimeout <= 0 {
		opts.MaxTimeout = 30 * time.Second
	}
	if opts.MaxConcurrent <= 0 {
		opts.MaxConcurrent = 4
	}
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.DiscardHandler)
	}
	x := &Exporter{opts: opts, log: opts.Logger, kick: make(chan struct{}, 1), sem: make(chan struct{}, opts.MaxConcurrent)}
	plan, err := opts.Load()
	if err != nil {
		return nil, err
	}
	x.cur.Store(newLoaded(plan, 1))
	x.reloadOK, x.reloadOKAt = true, time.Now()
	return x, nil
}

func newLoaded(plan *runner.Plan, gen int64) *loaded {
	l := &loaded{plan: plan, byName: map[string]*runner.EndpointPlan{}, gen: gen, at: time.Now()}
	for _, e := range plan.Endpoints {
		l.byName[e.Name()] = e
	}
	return l
}

// Reload reads the configuration again. On an error the last good
// configuration stays in service, the error is logged and
// portcheck_config_last_reload_successful turns 0 until a reload works.
// Scrapes during a reload are served from the configuration in service
// when they started.
func (x *Exporter) Reload() error {
	x.reloadMu.Lock()
	defer x.reloadMu.Unlock()
	plan, err := x.opts.Load()
	x.mu.Lock()
	defer x.mu.Unlock()
	x.reloads++
	if err != nil {
		x.reloadFails++
		x.reloadOK = false
		old := x.cur.Load()
		x.log.Error("configuration reload failed; still serving the last good configuration",
			"loaded_at", old.at.UTC().Format(time.RFC3339), "endpoints", len(old.plan.Endpoints), "err", err)
		return err
	}
	next := newLoaded(plan, x.cur.Load().gen+1)
	x.cur.Store(next)
	x.reloadOK, x.reloadOKAt = true, next.at
	x.log.Info("configuration reloaded", "endpoints", len(plan.Endpoints))
	select {
	case x.kick <- struct{}{}:
	default:
	}
	return nil
}

// Run re-verifies every endpoint on the interval until ctx ends; it
// returns at once when the interval is 0. Runs never overlap: each is
// bounded by the interval.
func (x *Exporter) Run(ctx context.Context) {
	if x.opts.Interval <= 0 {
		return
	}
	t := time.NewTicker(x.opts.Interval)
	defer t.Stop()
	for {
		x.runAll(ctx)
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		case <-x.kick:
		}
	}
}

// runAll verifies every endpoint of the configuration in service.
func (x *Exporter) runAll(parent context.Context) {
	cfg := x.cur.Load()
	ctx, cancel := context.WithTimeout(parent, x.opts.Interval)
	defer cancel()
	x.inFlight.Add(1)
	defer x.inFlight.Add(-1)
	rr := &runResult{cfg: cfg, results: map[string]*runner.EndpointResult{}, start: time.Now()}
	sum := runner.Verify(ctx, cfg.plan, x.opts.Verify, func(er *runner.EndpointResult) {
		rr.results[er.Plan.Name()] = er
	})
	rr.end = time.Now()
	rr.complete = !sum.Interrupted && sum.Finished == sum.Planned
	if parent.Err() != nil {
		return // shutting down: not a run's result
	}
	if !rr.complete {
		x.log.Warn("run did not finish within the interval; unfinished endpoints show portcheck_endpoint_finished 0",
			"finished", sum.Finished, "planned", sum.Planned, "interval", x.opts.Interval)
	}
	fams, err := gatherRun(rr)
	if err != nil {
		// Series that cannot be exposed are a bug in this package; say
		// so instead of serving a partial run as if it were whole.
		x.log.Error("rendering the run's metrics", "err", err)
		rr.complete, fams = false, nil
	}
	// Scrapes serve the rendered series; the results are not kept twice.
	rr.families, rr.results = fams, nil
	x.mu.Lock()
	x.last = rr
	x.mu.Unlock()
}

// probeOutcome is one /probe run of one endpoint.
type probeOutcome struct {
	result   *runner.EndpointResult // nil when the run ended before it finished
	duration time.Duration
	busy     bool // no run slot freed up before the deadline
}

// ErrUnknownTarget is a /probe target that names no endpoint of the
// configuration in service.
type ErrUnknownTarget struct {
	Target string
	Known  int
}

func (e ErrUnknownTarget) Error() string {
	return fmt.Sprintf("unknown target %q: no such endpoint in the configuration (targets look like endpoint.NAME; %d declared)", e.Target, e.Known)
}

// lookup finds a target in the configuration in service; "endpoint.web"
// and "web" both name endpoint "web".
func (x *Exporter) lookup(target string) (*loaded, *runner.EndpointPlan, error) {
	cfg := x.cur.Load()
	name := target
	if !strings.HasPrefix(name, "endpoint.") {
		name = "endpoint." + name
	}
	e, ok := cfg.byName[name]
	if !ok {
		return cfg, nil, ErrUnknownTarget{Target: target, Known: len(cfg.byName)}
	}
	return cfg, e, nil
}

// probe verifies one endpoint, sharing the run with concurrent scrapes of
// the same target and configuration. The run's deadline is timeout from
// when it starts, whoever waits for it; a waiter leaves when ctx ends.
func (x *Exporter) probe(ctx context.Context, cfg *loaded, e *runner.EndpointPlan, timeout time.Duration) (*probeOutcome, error) {
	key := fmt.Sprintf("%d/%s", cfg.gen, e.Name())
	out, _, err := x.flights.do(ctx, key, func() *probeOutcome {
		rctx, cancel := context.WithTimeout(context.Background(), timeout)
		defer cancel()
		select {
		case x.sem <- struct{}{}:
		case <-rctx.Done():
			return &probeOutcome{busy: true}
		}
		defer func() { <-x.sem }()
		x.inFlight.Add(1)
		defer x.inFlight.Add(-1)
		x.probeRuns.Add(1)
		start := time.Now()
		out := &probeOutcome{}
		plan := &runner.Plan{Endpoints: []*runner.EndpointPlan{e}, SecurityGroups: cfg.plan.SecurityGroups}
		runner.Verify(rctx, plan, x.opts.Verify, func(er *runner.EndpointResult) { out.result = er })
		out.duration = time.Since(start)
		if out.result == nil {
			x.log.Warn("probe did not finish within its timeout", "target", e.Name(), "timeout", timeout)
		}
		return out
	})
	return out, err
}

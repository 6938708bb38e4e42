package runner

import (
	"context"
	"fmt"
	"sync"
	"time"

	"github.com/portcheck/portcheck/config"
	"github.com/portcheck/portcheck/providers"
	"github.com/portcheck/portcheck/providers/probe"
)

// Options tune a verify run.
type Options struct {
	// Parallelism bounds how many checks other than L4 probes run at once
	// (default 10). L4 probes are scheduled apart (see MaxProbes).
	Parallelism int
	// MaxProbes caps the L4 probes in flight (default probe.DefaultMaxProbes,
	// never more than RLIMIT_NOFILE leaves room for). Within it each target
	// host's congestion window and RTT estimate set the pace and the waits.
	// Unused when Observers.Probe is set.
	MaxProbes int
	// AllLayers runs layers above a failed one instead of marking them
	// "blocked by L<n>".
	AllLayers bool
	// CloudRead reads a cloud snapshot for L6 (default ReadCloud through
	// the provider's SDK).
	CloudRead CloudReader
	// Observers are the typed observers of every layer; Facts (the
	// server-side layers' source) must be set by the front end.
	Observers Observers
}

// Verify runs the plan. Endpoints run concurrently, the checks of one
// endpoint in layer order. emit is called once per finished endpoint, from
// one goroutine at a time, in completion order. On cancellation it stops
// starting work, lets running observations end (they honour ctx), and
// returns a summary marked interrupted.
func Verify(ctx context.Context, plan *Plan, opts Options, emit func(*EndpointResult)) Summary {
	if opts.Parallelism <= 0 {
		opts.Parallelism = 10
	}
	if opts.CloudRead == nil {
		opts.CloudRead = ReadCloud
	}
	// Endpoints wait on their L4 probes in the probe scheduler's windows, so
	// enough of them run at once to fill those; everything else they do
	// waits for one of Parallelism slots.
	workers := opts.Parallelism
	if opts.Observers.Probe == nil {
		s := probe.NewScheduler(opts.MaxProbes)
		opts.Observers.Probe = s.Probe
		workers = max(workers, s.Max())
	}
	opts.Observers = opts.Observers.withDefaults()
	opts.Observers.Probe = routeRemote(opts.Observers.Probe, opts.Observers.RemoteProbe)
	v := &verifier{opts: opts, slots: make(chan struct{}, opts.Parallelism), obs: opts.Observers, hosts: map[string]*hostFacts{}, servers: map[string]*config.Host{}, snapshots: map[string]*snapshot{}, filters: map[string]*filterSnapshot{}, clouds: map[cloudKey]*cloudSnapshot{}, groups: plan.SecurityGroups}
	for _, e := range plan.Endpoints {
		v.servers[hostKey(e.Server)] = e.Endpoint.Host
	}
	sum := Summary{Planned: len(plan.Endpoints)}
	sum.Endpoints = len(plan.Endpoints)

	jobs := make(chan *EndpointPlan)
	results := make(chan *EndpointResult)
	var wg sync.WaitGroup
	for range min(workers, len(plan.Endpoints)) {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for e := range jobs {
				results <- v.endpoint(ctx, e)
			}
		}()
	}
	go func() {
		defer close(jobs)
		for _, e := range plan.Endpoints {
			select {
			case jobs <- e:
			case <-ctx.Done():
				return
			}
		}
	}()
	go func() { wg.Wait(); close(results) }()

	for er := range results {
		if er == nil {
			continue // cancelled before it finished
		}
		sum.Add(er)
		if emit != nil {
			emit(er)
		}
	}
	if ended(ctx) && sum.Finished < sum.Planned {
		sum.Interrupted = true
	}
	return sum
}

// routeRemote sends probes from vantage hosts reached over ssh to remote,
// the others to local.
func routeRemote(local, remote func(context.Context, providers.Exec, providers.Target, probe.Params) (probe.Outcome, error)) func(context.Context, providers.Exec, providers.Target, probe.Params) (probe.Outcome, error) {
	return func(ctx context.Context, exec providers.Exec, t providers.Target, p probe.Params) (probe.Outcome, error) {
		if exec.Remote == "" {
			return local(ctx, exec, t, p)
		}
		if remote == nil {
			return probe.Outcome{Target: t}, fmt.Errorf("vantage host %s is reached over ssh (%s): this command does not probe over ssh", exec.Host, exec.Remote)
		}
		return remote(ctx, exec, t, p)
	}
}

type verifier struct {
	opts      Options
	slots     chan struct{} // Parallelism: checks other than L4 probes at once
	obs       Observers
	hosts     map[string]*hostFacts   // server-side facts, one source per host
	servers   map[string]*config.Host // the server hosts, by hostKey
	mu        sync.Mutex
	snapshots map[string]*snapshot        // L1 socket tables, one per host namespace per run
	filters   map[string]*filterSnapshot  // L2 packet filters, likewise
	clouds    map[cloudKey]*cloudSnapshot // L6 reads, one per provider and target
	routes    sync.Map                    // routeKey -> *route: sources, one lookup per run
	groups    []*config.SecurityGroup     // declared security groups (L6 drift)
}

// endpoint runs one endpoint's checks in order; nil when cancelled midway.
func (v *verifier) endpoint(ctx context.Context, e *EndpointPlan) *EndpointResult {
	start := time.Now()
	er := &EndpointResult{Plan: e}
	for _, c := range e.Checks {
		if ctx.Err() != nil {
			return nil
		}
		var r *Result
		if c.Error != "" {
			r = &Result{Check: c, Status: StatusError, Summary: c.Error}
		} else if c.Skip != "" {
			r = &Result{Check: c, Status: StatusSkip, Summary: c.Skip}
		} else if b := blocker(er.Results, c); b != nil && !v.opts.AllLayers {
			r = &Result{Check: c, Status: StatusSkip, Summary: fmt.Sprintf("blocked by L%d %s", int(b.Check.Layer), b.Check.Name)}
		} else {
			t0 := time.Now()
			r = v.runSlot(ctx, e, c)
			if ended(ctx) {
				return nil // an observation cut short by Ctrl-C is no result
			}
			r.Duration = time.Since(t0)
		}
		er.Results = append(er.Results, r)
	}
	er.Diagnosis = Diagnose(er.Results)
	er.Duration = time.Since(start)
	return er
}

// blocker returns the failed lower-layer result that c depends on: a
// server-side failure blocks every check of the same port; a failure seen
// from a vantage point blocks the checks above it from that same point.
func blocker(done []*Result, c *Check) *Result {
	for _, r := range done {
		if r.Status != StatusFail || r.Check.Layer >= c.Layer || r.Check.Sources.IsValid() {
			continue // a declared source range is not a vantage point: it blocks nothing
		}
		if c.Layer == providers.LayerPath && r.Check.Layer == providers.LayerConnectivity {
			continue // a trace is what explains a connection that fails
		}
		rc := r.Check
		if rc.From == "" && rc.Target.Port == c.Target.Port {
			return r
		}
		if rc.From != "" && rc.From == c.From && rc.Target == c.Target {
			return r
		}
	}
	return nil
}

// runSlot runs a check; all but L4 probes (which the probe scheduler
// paces) first take one of the Parallelism slots.
func (v *verifier) runSlot(ctx context.Context, e *EndpointPlan, c *Check) *Result {
	if c.Layer != providers.LayerConnectivity {
		select {
		case v.slots <- struct{}{}:
			defer func() { <-v.slots }()
		case <-ctx.Done():
			return &Result{Check: c, Status: StatusError, Summary: ctx.Err().Error()}
		}
	}
	return v.run(ctx, e, c)
}

// run observes and evaluates one check through its layer's entry.
func (v *verifier) run(ctx context.Context, e *EndpointPlan, c *Check) *Result {
	l, ok := layerOf(c.Layer)
	if !ok {
		return &Result{Check: c, Status: StatusError, Summary: fmt.Sprintf("no evaluator for layer %d", c.Layer)}
	}
	return l.run(v, ctx, e, c)
}

// runListening is L1: the host's socket table, and a DNAT the port may be
// delivered through.
func runListening(v *verifier, ctx context.Context, e *EndpointPlan, c *Check) *Result {
	snap := v.snapshot(ctx, c.Exec)
	if snap.err != nil {
		return v.origin(c.Exec, errorResult(c, "reading the socket table", snap.err))
	}
	r := evalListening(c, e.Endpoint, snap)
	if r.Status == StatusFail && r.Cause == CauseNotListening && len(snap.byKey[sockKey{string(c.Target.Protocol), c.Target.Port}]) == 0 {
		// Nothing on the host's port: a DNAT may deliver it elsewhere.
		r = v.followDNAT(ctx, e, c, r)
	}
	return v.origin(c.Exec, r)
}

// runConnectivity is L4: a probe from the vantage point.
func runConnectivity(v *verifier, ctx context.Context, e *EndpointPlan, c *Check) *Result {
	o, err := v.obs.Probe(ctx, c.Exec, c.Target, probeParams(e.Endpoint))
	if err != nil {
		return errorResult(c, "probing", err)
	}
	r := evalConnectivity(c, e.Endpoint, o)
	if r.Status == StatusFail {
		v.serverFirewallHint(ctx, e, c, r)
	}
	return r
}

// ended reports whether ctx is done or its deadline has passed; a provider's
// derived context can time out a moment before its parent reports it.
func ended(ctx context.Context) bool {
	if ctx.Err() != nil {
		return true
	}
	d, ok := ctx.Deadline()
	return ok && !time.Now().Before(d)
}

func errorResult(c *Check, doing string, err error) *Result {
	return &Result{Check: c, Status: StatusError, Summary: doing + ": " + err.Error()}
}

// snapshot returns the endpoint host's socket table, from its facts, once
// per run.
func (v *verifier) snapshot(ctx context.Context, exec providers.Exec) *snapshot {
	key := hostKey(exec)
	v.mu.Lock()
	s, ok := v.snapshots[key]
	if !ok {
		s = &snapshot{}
		v.snapshots[key] = s
	}
	v.mu.Unlock()
	s.once.Do(func() {
		hf, err := v.hostFactsOf(exec)
		if err != nil {
			s.err = err
			return
		}
		s.index(hf.Sockets(ctx))
	})
	return s
}

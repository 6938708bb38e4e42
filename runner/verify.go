package runner

import (
	"context"
	"fmt"
	"slices"
	"sync"
	"sync/atomic"
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
	probeWorkers := opts.Parallelism
	if opts.Observers.Probe == nil {
		s := probe.NewScheduler(opts.MaxProbes)
		opts.Observers.Probe = s.Probe
		workers = max(workers, s.Max())
		probeWorkers = s.Max()
	}
	opts.Observers = opts.Observers.withDefaults()
	opts.Observers = opts.Observers.withRemote()
	v := &verifier{opts: opts, helpers: make(chan struct{}, opts.Parallelism), probeHelpers: make(chan struct{}, probeWorkers), slots: make(chan slotJob), obs: opts.Observers, hosts: map[string]*hostFacts{}, servers: map[string]*config.Host{}, snapshots: map[string]*snapshot{}, filters: map[string]*filterSnapshot{}, clouds: map[cloudKey]*cloudSnapshot{}, groups: plan.SecurityGroups}
	for _, e := range plan.Endpoints {
		v.servers[hostKey(e.Server)] = e.Endpoint.Host
	}
	sum := Summary{Planned: len(plan.Endpoints)}
	sum.Endpoints = len(plan.Endpoints)
	if opts.AllLayers {
		defer v.prefetch(ctx, plan)()
	}

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
	stopSlots := v.startSlots()
	go func() { wg.Wait(); stopSlots(); close(results) }()

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

type verifier struct {
	opts Options
	// helpers and probeHelpers are the run's budgets of extra workers for
	// the checks of one layer of an endpoint of several ports (runLayer):
	// Parallelism, and for L4 the probe scheduler's cap.
	helpers, probeHelpers chan struct{}
	slots                 chan slotJob // to the Parallelism goroutines that run all checks but L4 probes
	obs                   Observers
	hosts                 map[string]*hostFacts   // server-side facts, one source per host
	servers               map[string]*config.Host // the server hosts, by hostKey
	mu                    sync.Mutex
	snapshots             map[string]*snapshot        // L1 socket tables, one per host namespace per run
	filters               map[string]*filterSnapshot  // L2 packet filters, likewise
	clouds                map[cloudKey]*cloudSnapshot // L6 reads, one per provider and target
	routes                sync.Map                    // routeKey -> *route: sources, one lookup per run
	groups                []*config.SecurityGroup     // declared security groups (L6 drift)
}

// endpoint runs one endpoint's checks a layer at a time; nil when
// cancelled midway. The checks of one layer do not depend on each other
// (a check is blocked only by a lower layer), so an endpoint of many ports
// runs each layer's checks side by side: its L4 probes all go to the probe
// scheduler at once, whose windows pace them, and the server-side layers
// read the host's facts once (the snapshots are per run) and judge each
// port from them. Results keep the plan's order.
func (v *verifier) endpoint(ctx context.Context, e *EndpointPlan) *EndpointResult {
	start := time.Now()
	er := &EndpointResult{Plan: e, Results: make([]*Result, 0, len(e.Checks))}
	layers := layersOf(e.Checks)
	if v.opts.AllLayers {
		// Nothing blocks with -all-layers, so the layers need not wait for
		// each other either: the probes leave while L1 and L2 read and judge.
		if !v.layersAtOnce(ctx, e, layers, er) {
			return nil
		}
	} else {
		for _, layer := range layers {
			// The lower layers' results: what may block this one.
			results, ok := v.runChecks(ctx, e, layer, blockersOf(er.Results))
			if !ok {
				return nil
			}
			er.Results = append(er.Results, results...)
		}
	}
	er.Diagnosis = Diagnose(er.Results)
	er.Duration = time.Since(start)
	return er
}

// layersOf cuts checks in plan order into runs of one layer each.
func layersOf(checks []*Check) [][]*Check {
	var layers [][]*Check
	for i := 0; i < len(checks); {
		j := i + 1
		for j < len(checks) && checks[j].Layer == checks[i].Layer {
			j++
		}
		layers = append(layers, checks[i:j])
		i = j
	}
	return layers
}

// runChecks runs the checks of one layer side by side (runLayer) against
// the lower layers' blockers done; their results in order, false when
// cancelled midway.
func (v *verifier) runChecks(ctx context.Context, e *EndpointPlan, layer []*Check, done *blockIndex) ([]*Result, bool) {
	results := make([]*Result, len(layer))
	ok := v.runLayer(len(layer), layer[0].Layer, func(k int) bool {
		if ctx.Err() != nil {
			return false
		}
		r := v.check(ctx, e, layer[k], done)
		if r == nil {
			return false
		}
		results[k] = r
		return true
	})
	return results, ok
}

// layersAtOnce runs every layer of the endpoint side by side, nothing
// blocking, and appends the results in plan order; false when cancelled
// midway. The layers that wait on the network (probes, traces, clouds,
// L7) each get a goroutine and leave first; the server-side layers, which
// judge the host's facts read once per run (prefetched with -all-layers),
// then run one after another on this goroutine. A goroutine per layer
// cost each endpoint fresh stacks to grow: at 10,000 endpoints a tenth of
// the run's CPU went to copying stacks.
func (v *verifier) layersAtOnce(ctx context.Context, e *EndpointPlan, layers [][]*Check, er *EndpointResult) bool {
	results := make([][]*Result, len(layers))
	ok := make([]bool, len(layers))
	none := blockersOf(nil)
	var wg sync.WaitGroup
	for g, layer := range layers {
		if !serverSide(layer[0].Layer) {
			wg.Go(func() { results[g], ok[g] = v.runChecks(ctx, e, layer, none) })
		}
	}
	for g, layer := range layers {
		if serverSide(layer[0].Layer) {
			results[g], ok[g] = v.runChecks(ctx, e, layer, none)
		}
	}
	wg.Wait()
	for g := range layers {
		if !ok[g] {
			return false
		}
		er.Results = append(er.Results, results[g]...)
	}
	return true
}

// serverSide reports whether a layer's checks are judged from the server
// host's facts alone (read once per run), with no wait of their own.
func serverSide(l providers.Layer) bool {
	return l == providers.LayerListening || l == providers.LayerFirewall || l == providers.LayerSELinux
}

// prefetch starts reading the facts the server-side checks of the plan
// will judge (socket tables and packet filters, once per host), so that
// -all-layers' endpoints, which run those layers one after another, do
// not wait for one read before the next starts. The reads are the ones
// the checks make anyway (cached per run, errors kept for them); a host
// whose checks are all skipped or in error is not read. wait returns when
// they are done.
func (v *verifier) prefetch(ctx context.Context, plan *Plan) (wait func()) {
	type read struct {
		layer providers.Layer
		host  string
	}
	seen := map[read]bool{}
	var wg sync.WaitGroup
	for _, e := range plan.Endpoints {
		for _, c := range e.Checks {
			if c.Skip != "" || c.Error != "" {
				continue
			}
			k := read{c.Layer, hostKey(c.Exec)}
			if seen[k] {
				continue
			}
			switch exec := c.Exec; c.Layer {
			case providers.LayerListening:
				seen[k] = true
				wg.Go(func() { v.snapshot(ctx, exec) })
			case providers.LayerFirewall:
				seen[k] = true
				wg.Go(func() { v.filter(ctx, exec) })
			}
		}
	}
	return wg.Wait
}

// check decides one check against the lower layers' results: an error or
// skip known ahead, blocked, or run. nil when cancelled.
func (v *verifier) check(ctx context.Context, e *EndpointPlan, c *Check, done *blockIndex) *Result {
	switch {
	case c.Error != "":
		return &Result{Check: c, Status: StatusError, Summary: c.Error}
	case c.Skip != "":
		return &Result{Check: c, Status: StatusSkip, Summary: c.Skip}
	}
	if b := done.blocker(c); b != nil && !v.opts.AllLayers {
		return &Result{Check: c, Status: StatusSkip, Summary: fmt.Sprintf("blocked by L%d %s", int(b.Check.Layer), b.Check.Name)}
	}
	t0 := time.Now()
	r := v.runSlot(ctx, e, c)
	if ended(ctx) {
		return nil // an observation cut short by Ctrl-C is no result
	}
	r.Duration = time.Since(t0)
	return r
}

// runLayer calls one(k) for k in [0, n): inline for a single check, else
// from an elastic pool of workers. Every endpoint's pool has one worker of
// its own; more join while helpers are free in the run's shared budget
// (helpers: for L4 the probe scheduler's cap, which then paces the probes;
// for the other layers Parallelism, whose slots bound them anyway), so
// ten endpoints of 1,000 ports hold about as many goroutines as one of
// 10,000, and an endpoint that starts while others hold the budget gains
// workers as they finish. false when any call was cancelled.
func (v *verifier) runLayer(n int, l providers.Layer, one func(k int) bool) bool {
	if n == 1 {
		return one(0)
	}
	helpers := v.helpers
	if l == providers.LayerConnectivity {
		helpers = v.probeHelpers
	}
	var next, active atomic.Int64
	var cancelled atomic.Bool
	var wg sync.WaitGroup
	var work func(helper bool)
	work = func(helper bool) {
		defer wg.Done()
		defer active.Add(-1)
		if helper {
			defer func() { <-helpers }()
		}
		for {
			k := int(next.Add(1) - 1)
			if k >= n || cancelled.Load() {
				return
			}
			// Another worker while items wait and a helper is free.
			if int64(n-k-1) > active.Load() {
				select {
				case helpers <- struct{}{}:
					active.Add(1)
					wg.Add(1)
					go work(true)
				default:
				}
			}
			if !one(k) {
				cancelled.Store(true)
				return
			}
		}
	}
	active.Add(1)
	wg.Add(1)
	work(false)
	wg.Wait()
	return !cancelled.Load()
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

// blockIndex holds the failed results that may block a check, by port
// (server-side) and by vantage host and target, so that each of an
// endpoint's many ports looks up only its own: blocker over every result
// was quadratic in the ports.
type blockIndex struct {
	byPort   map[int][]*Result
	byTarget map[vantageTarget][]*Result
	pos      map[*Result]int // order in the results: the first blocker wins
}

type vantageTarget struct {
	from   string
	target providers.Target
}

// blockersOf indexes the failed results of done that can block anything.
func blockersOf(done []*Result) *blockIndex {
	x := &blockIndex{}
	for i, r := range done {
		if r.Status != StatusFail || r.Check.Sources.IsValid() {
			continue
		}
		if x.pos == nil {
			x.byPort, x.byTarget, x.pos = map[int][]*Result{}, map[vantageTarget][]*Result{}, map[*Result]int{}
		}
		x.pos[r] = i
		if r.Check.From == "" {
			x.byPort[r.Check.Target.Port] = append(x.byPort[r.Check.Target.Port], r)
		} else {
			k := vantageTarget{r.Check.From, r.Check.Target}
			x.byTarget[k] = append(x.byTarget[k], r)
		}
	}
	return x
}

// blocker is blocker(done, c) over the indexed results.
func (x *blockIndex) blocker(c *Check) *Result {
	if x.pos == nil {
		return nil
	}
	var cand []*Result
	cand = append(cand, x.byPort[c.Target.Port]...)
	if c.From != "" {
		cand = append(cand, x.byTarget[vantageTarget{c.From, c.Target}]...)
	}
	slices.SortFunc(cand, func(a, b *Result) int { return x.pos[a] - x.pos[b] })
	return blocker(cand, c)
}

// runSlot runs a check; all but L4 probes (which the probe scheduler
// paces) run on one of the Parallelism slot goroutines. Those goroutines
// live for the run: judging a packet against a ruleset runs deep, and
// when each of the endpoints' workers (a thousand, to fill the probe
// windows) did it on its own stack, their stacks held 17-22 MB at 10,000
// endpoints; now ten stacks grow, and the workers', which mostly wait on
// probes, stay small.
func (v *verifier) runSlot(ctx context.Context, e *EndpointPlan, c *Check) *Result {
	if c.Layer == providers.LayerConnectivity {
		return v.run(ctx, e, c)
	}
	var r *Result
	if !v.inSlot(ctx, func() { r = v.run(ctx, e, c) }) {
		return &Result{Check: c, Status: StatusError, Summary: ctx.Err().Error()}
	}
	return r
}

// inSlot runs fn on a slot goroutine and waits for it; false when ctx
// ended before a slot was free (fn did not run). fn must not call inSlot
// itself: with every slot busy waiting on another, the run would stall.
func (v *verifier) inSlot(ctx context.Context, fn func()) bool {
	job := slotJob{fn: fn, done: make(chan struct{})}
	select {
	case v.slots <- job:
	case <-ctx.Done():
		return false
	}
	<-job.done
	return true
}

// slotJob is work handed to a slot goroutine.
type slotJob struct {
	fn   func()
	done chan struct{}
}

// startSlots starts the Parallelism slot goroutines; stop ends them once
// no check is left to hand them.
func (v *verifier) startSlots() (stop func()) {
	var wg sync.WaitGroup
	for range v.opts.Parallelism {
		wg.Go(func() {
			for job := range v.slots {
				job.fn()
				close(job.done)
			}
		})
	}
	return func() { close(v.slots); wg.Wait() }
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
		// The fix judges the server's ruleset: deep work, on a slot.
		v.inSlot(ctx, func() { v.serverFirewallHint(ctx, e, c, r) })
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

package runner_test

import (
	"context"
	"encoding/json"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/portcheck/portcheck/config"
	"github.com/portcheck/portcheck/providers"
	"github.com/portcheck/portcheck/providers/app"
	"github.com/portcheck/portcheck/providers/collect"
	"github.com/portcheck/portcheck/providers/facts"
	pathtrace "github.com/portcheck/portcheck/providers/path"
	"github.com/portcheck/portcheck/providers/probe"
	"github.com/portcheck/portcheck/runner"
)

// tape records what the vantage-side observers saw in a live run and plays
// it back in a run judged from facts documents: then both runs rest on
// facts "collected at the same moment", and any difference between them
// is the server-side seam's (live observers vs documents), not the
// network's (a path with random loss answers differently twice).
type tape struct {
	mu  sync.Mutex
	rec map[string]any
}

func tapeKey(kind string, exec providers.Exec, t providers.Target) string {
	return kind + "|" + exec.Netns + "|" + t.String() + "/" + string(t.Protocol)
}

type tapeErr struct{ err error }

func record[P, F any](tp *tape, kind string, obs func(context.Context, providers.Exec, providers.Target, P) (F, error)) func(context.Context, providers.Exec, providers.Target, P) (F, error) {
	return func(ctx context.Context, exec providers.Exec, t providers.Target, p P) (F, error) {
		f, err := obs(ctx, exec, t, p)
		tp.mu.Lock()
		defer tp.mu.Unlock()
		if err != nil {
			tp.rec[tapeKey(kind, exec, t)] = tapeErr{err}
		} else {
			tp.rec[tapeKey(kind, exec, t)] = f
		}
		return f, err
	}
}

func replay[P, F any](tp *tape, kind string) func(context.Context, providers.Exec, providers.Target, P) (F, error) {
	return func(_ context.Context, exec providers.Exec, t providers.Target, _ P) (F, error) {
		tp.mu.Lock()
		defer tp.mu.Unlock()
		var zero F
		switch v := tp.rec[tapeKey(kind, exec, t)].(type) {
		case F:
			return v, nil
		case tapeErr:
			return zero, v.err
		}
		return zero, fmt.Errorf("not observed in the live run: %s", tapeKey(kind, exec, t))
	}
}

func (tp *tape) recording() runner.Observers {
	return runner.Observers{
		Probe:  record(tp, "probe", probe.Probe),
		Trace:  record(tp, "trace", pathtrace.Trace),
		HTTP:   record(tp, "http", app.HTTP),
		TLS:    record(tp, "tls", app.TLS),
		GRPC:   record(tp, "grpc", app.GRPC),
		Banner: record(tp, "banner", app.Banner),
	}
}

func (tp *tape) replaying(src facts.Source) runner.Observers {
	return runner.Observers{
		Facts:  src,
		Probe:  replay[probe.Params, probe.Outcome](tp, "probe"),
		Trace:  replay[pathtrace.Params, *pathtrace.Facts](tp, "trace"),
		HTTP:   replay[app.HTTPParams, *app.HTTPFacts](tp, "http"),
		TLS:    replay[app.TLSParams, *app.TLSFacts](tp, "tls"),
		GRPC:   replay[app.GRPCParams, *app.GRPCFacts](tp, "grpc"),
		Banner: replay[app.BannerParams, *app.BannerFacts](tp, "banner"),
	}
}

// verifyLiveAndFacts pins issue 12's seam on every lab scenario that goes
// through it: the plan is verified live, the servers' facts are collected
// (as `portcheck collect` would, then encoded and decoded as a file
// would be), and the plan is verified again from those documents. Both
// runs must give the same diagnosis and the same checks, durations aside.
// It returns the live results.
func verifyLiveAndFacts(t *testing.T, cfg *config.Config, targets []string, allLayers bool) []*runner.EndpointResult {
	t.Helper()
	plan, err := runner.BuildPlan(cfg, runner.PlanOptions{Env: runner.CurrentEnvironment(), Targets: targets})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	tp := &tape{rec: map[string]any{}}
	var live []*runner.EndpointResult
	runner.Verify(ctx, plan, runner.Options{AllLayers: allLayers, Observers: tp.recording()}, func(er *runner.EndpointResult) { live = append(live, er) })

	// The documents, one per server host, through JSON as files carry them.
	var docs []facts.Loaded
	seen := map[string]bool{}
	var domains []string
	for _, e := range plan.Endpoints {
		if x := e.Endpoint.Expect.SELinux; x != nil && x.Domain != "" {
			domains = append(domains, x.Domain)
		}
	}
	for _, e := range plan.Endpoints {
		if !e.ServerReadable || seen[e.Server.Host+e.Server.Netns] {
			continue
		}
		seen[e.Server.Host+e.Server.Netns] = true
		d, err := collect.Collect(ctx, collect.Options{Exec: e.Server, SELinuxDomains: domains, Version: "test"})
		if err != nil {
			t.Fatal(err)
		}
		b, err := json.Marshal(d)
		if err != nil {
			t.Fatal(err)
		}
		var back facts.Document
		if err := json.Unmarshal(b, &back); err != nil {
			t.Fatal(err)
		}
		docs = append(docs, facts.Loaded{Doc: &back, File: e.Server.Host + ".json"})
	}
	src := facts.Recorded(docs)
	env := runner.CurrentEnvironment()
	env.Facts = func(h *config.Host) error {
		_, err := src.For(h.Name, h.Addresses, providers.Exec{})
		return err
	}
	rplan, err := runner.BuildPlan(cfg, runner.PlanOptions{Env: env, Targets: targets})
	if err != nil {
		t.Fatal(err)
	}
	var recorded []*runner.EndpointResult
	runner.Verify(ctx, rplan, runner.Options{AllLayers: allLayers, Observers: tp.replaying(src)}, func(er *runner.EndpointResult) { recorded = append(recorded, er) })
	compareRuns(t, live, recorded)
	return live
}

func compareRuns(t *testing.T, live, recorded []*runner.EndpointResult) {
	t.Helper()
	byName := map[string]*runner.EndpointResult{}
	for _, er := range recorded {
		byName[er.Plan.Name()] = er
	}
	for _, l := range live {
		r := byName[l.Plan.Name()]
		if r == nil {
			t.Errorf("%s: no result judged from facts", l.Plan.Name())
			continue
		}
		if l.Diagnosis != r.Diagnosis {
			t.Errorf("%s: diagnosis live %+v, from facts %+v", l.Plan.Name(), l.Diagnosis, r.Diagnosis)
		}
		if len(l.Results) != len(r.Results) {
			t.Errorf("%s: %d checks live, %d from facts", l.Plan.Name(), len(l.Results), len(r.Results))
			continue
		}
		for i := range l.Results {
			a, b := l.Results[i], r.Results[i]
			if a.Status != b.Status || a.Cause != b.Cause || a.Summary != b.Summary || a.Hint != b.Hint {
				t.Errorf("%s L%d %s from %q: live %s/%s %q (hint %q); from facts %s/%s %q (hint %q)",
					l.Plan.Name(), int(a.Check.Layer), a.Check.Name, a.Check.From, a.Status, a.Cause, a.Summary, a.Hint, b.Status, b.Cause, b.Summary, b.Hint)
			}
			if a.Check.Layer <= providers.LayerSELinux && a.Check.From == "" && b.FactsOrigin == "" && b.Status != runner.StatusSkip {
				t.Errorf("%s L%d %s: judged from facts but names no document", l.Plan.Name(), int(a.Check.Layer), a.Check.Name)
			}
		}
	}
}

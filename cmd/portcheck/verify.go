package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/portcheck/portcheck/config"
	"github.com/portcheck/portcheck/internal/memlimit"
	"github.com/portcheck/portcheck/internal/spool"
	"github.com/portcheck/portcheck/providers/probe"
	"github.com/portcheck/portcheck/runner"
	"github.com/portcheck/portcheck/runner/report"
)

// outputFlags are the reporting flags of verify and diagnose.
type outputFlags struct {
	json        bool
	junit       string
	parallelism int
	maxProbes   int
	allLayers   bool
	verbose     bool
	ladder      bool // text: passing endpoints as a ladder too (diagnose)
	observers   runner.Observers
	remote      remoteFlags
}

func (o *outputFlags) register(fs *flag.FlagSet) {
	fs.BoolVar(&o.json, "json", false, "write the versioned JSON report (see README) on stdout instead of text")
	fs.StringVar(&o.junit, "junit", "", "also write a JUnit XML report to this file")
	fs.IntVar(&o.parallelism, "parallelism", 10, "checks other than L4 probes run at once")
	fs.IntVar(&o.maxProbes, "max-probes", probe.DefaultMaxProbes, "L4 probes in flight at most (each host's congestion window grows up to it; capped by the open-file limit)")
	fs.BoolVar(&o.allLayers, "all-layers", false, "run layers above a failed one instead of marking them blocked")
	fs.BoolVar(&o.verbose, "v", false, "also show where passing checks were declared")
	o.remote.register(fs)
}

func cmdVerify(args []string, stdout, stderr io.Writer) int {
	fs := newFlagSet("verify", "[flags] PATH", stderr)
	var cf configFlags
	cf.register(fs)
	var of outputFlags
	of.register(fs)
	var targets listFlag
	fs.Var(&targets, "target", "verify only this endpoint, e.g. -target endpoint.web (repeatable)")
	var ff factsFlags
	ff.register(fs)
	var pf phaseFlags
	pf.register(fs)
	path, code, ok := parsePath(fs, args, stderr)
	if !ok {
		return code
	}
	if of.parallelism < 1 {
		fmt.Fprintln(stderr, "portcheck verify: -parallelism must be at least 1")
		return exitUsage
	}
	if of.maxProbes < 1 {
		fmt.Fprintln(stderr, "portcheck verify: -max-probes must be at least 1")
		return exitUsage
	}
	cfg := cf.load(path, stderr)
	if cfg == nil {
		return exitUsage
	}
	env := runner.CurrentEnvironment()
	if !ff.apply("verify", &env, &of.observers, stderr) {
		return exitUsage
	}
	if pf.phase != "" {
		return verifyChanges(cfg, pf, env, of, cf.noColor, stdout, stderr)
	}
	return verifyConfig(cfg, env, targets, of, cf.noColor, stdout, stderr)
}

// verifyConfig plans, runs and reports; shared by verify and diagnose.
func verifyConfig(cfg *config.Config, env runner.Environment, targets []string, of outputFlags, noColor bool, stdout, stderr io.Writer) int {
	plan, err := runner.BuildPlan(cfg, runner.PlanOptions{Targets: targets, Env: env})
	if err != nil {
		fmt.Fprintln(stderr, "portcheck:", err)
		return exitUsage
	}
	// The run's memory is held near what it needs (README "Scale").
	defer memlimit.Hold()()
	// A report to a pipe or file is written in chunks by a goroutine of
	// its own: 10,000 endpoints are tens of thousands of lines (a write(2)
	// each otherwise), and a reader slower than the run must not hold the
	// probes back. On a terminal each line shows as it is ready.
	out := io.Writer(stdout)
	var spooled *spool.Writer
	if !isTerminal(stdout) {
		spooled = spool.New(stdout)
		out = spooled
	}
	var reps report.Multi
	if of.json {
		reps = append(reps, &report.JSON{W: out})
	} else {
		reps = append(reps, &report.Text{W: out, Style: style(stdout, noColor), Verbose: of.verbose, Ladder: of.ladder})
	}
	var junitFile *os.File
	if of.junit != "" {
		junitFile, err = os.Create(of.junit)
		if err != nil {
			fmt.Fprintln(stderr, "portcheck: -junit:", err)
			return exitUsage
		}
		defer junitFile.Close()
		reps = append(reps, &report.JUnit{W: junitFile})
	}

	// Ctrl-C or SIGTERM: stop starting work, print what finished.
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	// Hosts with a connection block: collected over ssh, all at once
	// within -parallelism, while the rest of the run starts.
	obs, remoteSrc := withRemote(plan, of.observers, of.remote, of.parallelism)
	if remoteSrc != nil {
		remoteSrc.Prefetch(ctx)
		defer remoteSrc.Close()
	}

	var done atomic.Int64
	stopProgress := progress(stderr, len(plan.Endpoints), &done)
	reps.Start(plan)
	sum := runner.Verify(ctx, plan, runner.Options{Parallelism: of.parallelism, MaxProbes: of.maxProbes, AllLayers: of.allLayers, Observers: obs}, func(er *runner.EndpointResult) {
		done.Add(1)
		reps.Endpoint(er)
	})
	stopProgress()
	if sum.Interrupted {
		fmt.Fprintln(stderr, "portcheck: interrupted; reporting the endpoints that finished")
	}
	code, err := reps.Finish(sum)
	if spooled != nil {
		if cerr := spooled.Close(); err == nil {
			err = cerr
		}
	}
	if err != nil {
		fmt.Fprintln(stderr, "portcheck: writing the report:", err)
		if code == 0 {
			code = exitFailed
		}
	}
	return code
}

// progress shows a status line on stderr for runs longer than ~2 s, only
// when stderr is a terminal; the returned func clears it.
func progress(stderr io.Writer, total int, done *atomic.Int64) func() {
	if !isTerminal(stderr) {
		return func() {}
	}
	quit := make(chan struct{})
	finished := make(chan struct{})
	go func() {
		defer close(finished)
		start := time.Now()
		tick := time.NewTicker(250 * time.Millisecond)
		defer tick.Stop()
		shown := false
		for {
			select {
			case <-quit:
				if shown {
					fmt.Fprint(stderr, "\r\x1b[K")
				}
				return
			case <-tick.C:
				if time.Since(start) < 2*time.Second {
					continue
				}
				shown = true
				fmt.Fprintf(stderr, "\r\x1b[Kverifying: %d/%d endpoints done (%s)", done.Load(), total, time.Since(start).Truncate(time.Second))
			}
		}
	}()
	return func() { close(quit); <-finished }
}

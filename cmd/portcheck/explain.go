package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/netip"
	"os"
	"os/signal"
	"syscall"

	"github.com/portcheck/portcheck/providers/facts"
	"github.com/portcheck/portcheck/runner"
	"github.com/portcheck/portcheck/runner/report"
)

// cmdExplain prints the full L2 walk of an endpoint's client packets
// through the server's packet filter.
func cmdExplain(args []string, stdout, stderr io.Writer) int {
	fs := newFlagSet("explain", "[flags] endpoint.NAME PATH", stderr)
	var cf configFlags
	cf.register(fs)
	from := fs.String("from", "", "walk the packet of this vantage host only (default: every vantage host of the endpoint)")
	source := fs.String("source", "", "walk a packet from this address instead of a vantage host's (any client)")
	port := fs.Int("port", 0, "the port to walk, for an endpoint with a port range")
	asJSON := fs.Bool("json", false, "write the walks as JSON (version 1)")
	factsPath := fs.String("facts", "", "walk the packet through the server's packet filter as its facts document records it (a file or a directory of portcheck collect documents)")
	pos, err := parseArgs(fs, args)
	if err != nil {
		return flagErr(err)
	}
	if len(pos) != 2 {
		fmt.Fprintf(stderr, "portcheck explain: want endpoint.NAME and PATH, got %d argument(s): %v\n", len(pos), pos)
		fs.Usage()
		return exitUsage
	}
	target, path := pos[0], pos[1]
	opts := runner.ExplainOptions{From: *from, Port: *port, Env: runner.CurrentEnvironment()}
	if *source != "" {
		if *from != "" {
			fmt.Fprintln(stderr, "portcheck explain: -from and -source exclude each other: -source walks a packet from any address, -from a vantage host's")
			return exitUsage
		}
		a, err := netip.ParseAddr(*source)
		if err != nil {
			fmt.Fprintf(stderr, "portcheck explain: -source %q is not an IP address\n", *source)
			return exitUsage
		}
		opts.Source = a
	}
	if *port < 0 || *port > 65535 {
		fmt.Fprintf(stderr, "portcheck explain: -port %d is not a port\n", *port)
		return exitUsage
	}
	if *factsPath != "" {
		docs, err := facts.Load(*factsPath)
		if err != nil {
			fmt.Fprintln(stderr, "portcheck explain: -facts:", err)
			return exitUsage
		}
		opts.Facts = facts.Recorded(docs)
	}
	cfg := cf.load(path, stderr)
	if cfg == nil {
		return exitUsage
	}
	plan, err := runner.BuildPlan(cfg, runner.PlanOptions{Targets: []string{target}, Env: opts.Env})
	if err != nil {
		fmt.Fprintln(stderr, "portcheck explain:", err)
		return exitUsage
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	xs, err := runner.Explain(ctx, plan.Endpoints[0], opts)
	var usageErr *runner.ExplainUsageError
	switch {
	case errors.As(err, &usageErr):
		fmt.Fprintln(stderr, "portcheck explain:", err)
		return exitUsage
	case err != nil:
		fmt.Fprintln(stderr, "portcheck explain:", err)
		return exitFailed
	}
	code := exitOK
	for _, x := range xs {
		if x.Error != "" {
			code = exitFailed // declared means explained: a vantage host that could not be is an error
		}
	}
	if *asJSON {
		if err := report.WriteExplainJSON(stdout, xs, code); err != nil {
			fmt.Fprintln(stderr, "portcheck explain:", err)
			return exitFailed
		}
		return code
	}
	report.WriteExplain(stdout, xs, style(stdout, cf.noColor))
	return code
}

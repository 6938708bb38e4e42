package main

import (
	"context"
	"fmt"
	"io"
	"os"
	"os/signal"
	"syscall"

	"github.com/portcheck/portcheck/internal/netns"
	"github.com/portcheck/portcheck/providers"
	"github.com/portcheck/portcheck/providers/probe"
	"github.com/portcheck/portcheck/providers/remoteprobe"
)

// cmdProbe is the prober of a remote vantage point: verify on another
// machine starts it (over SSH) and streams L4 probes to it on stdin; the
// outcomes come back on stdout, one JSON line each (README: "Remote
// vantage points"). It only connects; it changes nothing.
func cmdProbe(args []string, stdin io.Reader, stdout, stderr io.Writer) int {
	fs := newFlagSet("probe", "-stdio [flags]", stderr)
	stdio := fs.Bool("stdio", false, "read probe requests on stdin and write outcomes on stdout (schema portcheck/probe-stream v1)")
	ns := fs.String("netns", "", "probe from this network namespace: a name under /run/netns, or a path (default: this machine)")
	maxProbes := fs.Int("max-probes", 0, "probes in flight at most (default 1024, capped by the open-file limit)")
	pos, err := parseArgs(fs, args)
	if err != nil {
		return flagErr(err)
	}
	if len(pos) > 0 || !*stdio {
		fmt.Fprintln(stderr, "portcheck probe: only -stdio is supported (a stream of requests from verify); for one port use `portcheck diagnose ADDR:PORT`")
		fs.Usage()
		return exitUsage
	}
	path := providers.NetnsPath(*ns)
	if err := netns.Check(path); err != nil {
		fmt.Fprintf(stderr, "portcheck probe: -netns: %v\n", err)
		return exitUsage
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM, syscall.SIGHUP)
	defer stop()
	s := probe.NewScheduler(*maxProbes)
	if err := remoteprobe.Serve(ctx, stdin, stdout, providers.Exec{Netns: path}, s.Probe); err != nil {
		fmt.Fprintln(stderr, "portcheck probe:", err)
		return exitFailed
	}
	return exitOK
}

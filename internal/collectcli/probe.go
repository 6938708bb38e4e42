package collectcli

import (
	"context"
	"encoding/hex"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"net/netip"
	"os"
	"os/signal"
	"syscall"
	"time"

	"github.com/portcheck/portcheck/internal/netns"
	"github.com/portcheck/portcheck/providers"
	"github.com/portcheck/portcheck/providers/probe"
	"github.com/portcheck/portcheck/providers/remoteprobe"
)

// Probe is the prober of a vantage point. With -stdio (what portcheck
// runs on a vantage host it reaches over SSH) it answers a stream of L4
// probe requests read on stdin, one JSON line each, through its own
// RTT-adaptive scheduler (providers/remoteprobe); with -target it runs one
// probe and writes its outcome as JSON. Exit 0 whatever the ports' states;
// 1 when a probe could not be made or the stream broke; 2 on usage errors.
func Probe(prog string, args []string, stdin io.Reader, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("probe", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.Usage = func() {
		fmt.Fprintf(stderr, "Usage: %s probe -stdio [-netns NS] | -target ADDR:PORT [flags]\n\nFlags:\n", prog)
		fs.PrintDefaults()
	}
	stdio := fs.Bool("stdio", false, "answer a stream of probe requests on stdin with outcomes on stdout (schema portcheck/probe-stream v1)")
	maxProbes := fs.Int("max-probes", 0, "with -stdio: probes in flight at most (default 1024, capped by the open-file limit)")
	target := fs.String("target", "", "address:port to probe ([v6]:port for IPv6)")
	proto := fs.String("proto", "tcp", "tcp or udp")
	ns := fs.String("netns", "", "probe from this network namespace (a name under /run/netns or a path)")
	timeout := fs.Duration("timeout", 2*time.Second, "per attempt")
	retries := fs.Int("retries", 0, "extra attempts after a timeout")
	payload := fs.String("payload-hex", "", "UDP datagram, hex-encoded")
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return ExitOK
		}
		return ExitUsage
	}
	var t providers.Target
	p := probe.Params{Timeout: *timeout, Retries: *retries}
	if *stdio {
		if *target != "" || len(fs.Args()) > 0 {
			fmt.Fprintf(stderr, "%s probe: -stdio reads its targets from stdin: no -target or arguments\n", prog)
			return ExitUsage
		}
	} else {
		ap, err := netip.ParseAddrPort(*target)
		if err != nil || len(fs.Args()) > 0 || (*proto != "tcp" && *proto != "udp") || *timeout <= 0 || *retries < 0 {
			fmt.Fprintf(stderr, "%s probe: want -target ADDR:PORT, -proto tcp|udp, a positive -timeout (got target %q: %v)\n", prog, *target, err)
			return ExitUsage
		}
		if *payload != "" {
			if p.Payload, err = hex.DecodeString(*payload); err != nil {
				fmt.Fprintf(stderr, "%s probe: -payload-hex: %v\n", prog, err)
				return ExitUsage
			}
		}
		t = providers.Target{Address: ap.Addr(), Port: int(ap.Port()), Protocol: providers.Protocol(*proto)}
	}
	path := providers.NetnsPath(*ns)
	if err := netns.Check(path); err != nil {
		fmt.Fprintf(stderr, "%s probe: -netns: %v\n", prog, err)
		return ExitUsage
	}
	// SIGHUP too: a prober started over ssh with a terminal gets it when
	// the session goes.
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM, syscall.SIGHUP)
	defer stop()
	exec := providers.Exec{Netns: path}
	if *stdio {
		s := probe.NewScheduler(*maxProbes)
		if err := remoteprobe.Serve(ctx, stdin, stdout, exec, remoteprobe.DefaultObservers(s.Probe)); err != nil {
			fmt.Fprintf(stderr, "%s probe: %v\n", prog, err)
			return ExitFailed
		}
		return ExitOK
	}
	out, err := probe.Probe(ctx, exec, t, p)
	if err != nil {
		fmt.Fprintf(stderr, "%s probe: %v\n", prog, err)
		return ExitFailed
	}
	if err := json.NewEncoder(stdout).Encode(out); err != nil {
		fmt.Fprintf(stderr, "%s probe: %v\n", prog, err)
		return ExitFailed
	}
	return ExitOK
}

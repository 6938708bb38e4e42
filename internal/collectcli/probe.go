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
)

// Probe runs one L4 probe from this machine (or a namespace of it) and
// writes its outcome as JSON: what portcheck runs on a vantage host it
// reaches over SSH. Exit 0 whatever the port's state; 1 when the probe
// could not be made; 2 on usage errors.
func Probe(prog string, args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("probe", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.Usage = func() {
		fmt.Fprintf(stderr, "Usage: %s probe -target ADDR:PORT [flags]\n\nFlags:\n", prog)
		fs.PrintDefaults()
	}
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
	ap, err := netip.ParseAddrPort(*target)
	if err != nil || len(fs.Args()) > 0 || (*proto != "tcp" && *proto != "udp") || *timeout <= 0 || *retries < 0 {
		fmt.Fprintf(stderr, "%s probe: want -target ADDR:PORT, -proto tcp|udp, a positive -timeout (got target %q: %v)\n", prog, *target, err)
		return ExitUsage
	}
	p := probe.Params{Timeout: *timeout, Retries: *retries}
	if *payload != "" {
		if p.Payload, err = hex.DecodeString(*payload); err != nil {
			fmt.Fprintf(stderr, "%s probe: -payload-hex: %v\n", prog, err)
			return ExitUsage
		}
	}
	path := providers.NetnsPath(*ns)
	if err := netns.Check(path); err != nil {
		fmt.Fprintf(stderr, "%s probe: -netns: %v\n", prog, err)
		return ExitUsage
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	t := providers.Target{Address: ap.Addr(), Port: int(ap.Port()), Protocol: providers.Protocol(*proto)}
	out, err := probe.Probe(ctx, providers.Exec{Netns: path}, t, p)
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

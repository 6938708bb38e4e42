// Command portcheck-collector is the small binary portcheck puts on a
// remote host to observe its server-side layers: `collect` writes the same
// facts document as `portcheck collect`, and `probe` runs one L4 probe
// from the host (a vantage point). It links the observers and the L4
// prober only (no HCL, no cloud SDKs), so the upload stays small.
package main

import (
	"fmt"
	"io"
	"os"

	"github.com/portcheck/portcheck/internal/collectcli"
)

// version is set like portcheck's (-ldflags -X main.version=…).
var version = "0.1.0-dev"

const usage = `Usage: portcheck-collector <command> [flags]

Commands:
  collect   write this host's facts (sockets, firewall, SELinux) as a versioned JSON document
  probe     L4 probes from this host: -stdio answers portcheck's stream of requests
            (portcheck/probe-stream v1); -target ADDR:PORT runs one, its outcome as JSON
  version   print the version

It is what portcheck runs on hosts declared with a connection block; the
flags of collect are those of 'portcheck collect'.
`

func main() { os.Exit(run(os.Args[1:], os.Stdout, os.Stderr)) }

func run(args []string, stdout, stderr io.Writer) int {
	if len(args) == 0 {
		fmt.Fprint(stderr, usage)
		return collectcli.ExitUsage
	}
	switch args[0] {
	case "collect":
		return collectcli.Collect("portcheck-collector", version, args[1:], stdout, stderr)
	case "probe":
		return collectcli.Probe("portcheck-collector", args[1:], os.Stdin, stdout, stderr)
	case "version", "-version", "--version":
		fmt.Fprintln(stdout, "portcheck-collector", version)
		return collectcli.ExitOK
	case "help", "-h", "-help", "--help":
		fmt.Fprint(stdout, usage)
		return collectcli.ExitOK
	}
	fmt.Fprintf(stderr, "portcheck-collector: unknown command %q\n\n%s", args[0], usage)
	return collectcli.ExitUsage
}

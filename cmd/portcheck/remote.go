package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"syscall"

	"github.com/portcheck/portcheck/config"
	"github.com/portcheck/portcheck/providers/facts"
	"github.com/portcheck/portcheck/providers/remote"
	"github.com/portcheck/portcheck/providers/remote/collector"
	"github.com/portcheck/portcheck/providers/remote/sshconn"
	"github.com/portcheck/portcheck/runner"
)

// sshOptions are the transport's options; tests dial from a lab namespace.
var sshOptions sshconn.Options

// remoteFlags are the flags of commands that reach hosts over ssh.
type remoteFlags struct {
	collector string
}

func (r *remoteFlags) register(fs *flag.FlagSet) {
	fs.StringVar(&r.collector, "collector", "", "the portcheck-collector binary to put on hosts with a connection block (default: $"+collector.EnvCollector+", else "+collector.BinaryName+"-linux-ARCH next to portcheck, else built with the Go toolchain)")
}

// withRemote makes the plan's hosts with a connection block collected over
// ssh, beside the live or recorded facts of the others, and L4 probes from
// such vantage hosts run there. It returns the
// remote source (nil when no host is remote) so the run can start
// collecting at once.
func withRemote(plan *runner.Plan, obs runner.Observers, rf remoteFlags, parallelism int) (runner.Observers, *remote.Source) {
	servers, vantages := plan.RemoteServers(), plan.RemoteVantages()
	if len(servers) == 0 && len(vantages) == 0 {
		return obs, nil
	}
	var hosts []*config.Host
	domains, observers := map[string][]string{}, map[string][]string{}
	for _, s := range servers {
		hosts = append(hosts, s.Host)
		domains[s.Host.Name], observers[s.Host.Name] = s.SELinuxDomains, s.Observers
	}
	local := obs.Facts
	if local == nil {
		local = facts.Live()
	}
	src := remote.NewSource(hosts, remote.Options{SSH: sshOptions, Finder: &collector.Finder{Path: rf.collector}, Parallelism: parallelism, SELinuxDomains: domains, Observers: observers, Vantages: vantages})
	obs.Facts = remote.Compose(local, src)
	obs.Remote = src
	return obs, src
}

const remoteUsage = `Usage: portcheck remote clean [flags] PATH

  clean   remove the cached collectors (~/.cache/portcheck/collector-*) from
          every host of PATH's HCL that has a connection block

Flags:
  -target endpoint.NAME   only the hosts of these endpoints (repeatable)
`

// cmdRemote is `portcheck remote clean`: the one command that changes
// something on remote hosts, and only portcheck's own cache there.
func cmdRemote(args []string, stdout, stderr io.Writer) int {
	if code, ok := subcommand("remote", "a subcommand", "clean", remoteUsage, args, stdout, stderr); !ok {
		return code
	}
	fs := newFlagSet("remote clean", "[flags] PATH", stderr)
	var cf configFlags
	cf.register(fs)
	var targets listFlag
	fs.Var(&targets, "target", "only the hosts of this endpoint, e.g. -target endpoint.web (repeatable)")
	path, code, ok := parsePath(fs, args[1:], stderr)
	if !ok {
		return code
	}
	cfg := cf.load(path, stderr)
	if cfg == nil {
		return exitUsage
	}
	var hosts []*config.Host
	if len(targets) == 0 {
		for _, h := range cfg.Hosts {
			if h.Connection != nil {
				hosts = append(hosts, h)
			}
		}
	} else {
		plan, err := runner.BuildPlan(cfg, runner.PlanOptions{Targets: targets, Env: runner.CurrentEnvironment()})
		if err != nil {
			fmt.Fprintln(stderr, "portcheck remote clean:", err)
			return exitUsage
		}
		seen := map[string]bool{}
		for _, e := range plan.Endpoints {
			if h := e.Endpoint.Host; h.Connection != nil && !seen[h.Name] {
				seen[h.Name] = true
				hosts = append(hosts, h)
			}
		}
	}
	if len(hosts) == 0 {
		fmt.Fprintln(stderr, "portcheck remote clean: no host with a connection block")
		return exitUsage
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	code = exitOK
	for _, h := range hosts {
		removed, err := cleanHost(ctx, h)
		if err != nil {
			fmt.Fprintf(stdout, "host.%s (%s): error: %v\n", h.Name, sshconn.Origin(h.Connection), err)
			code = exitFailed
			continue
		}
		fmt.Fprintf(stdout, "host.%s (%s): removed %d file(s)\n", h.Name, sshconn.Origin(h.Connection), len(removed))
		for _, f := range removed {
			fmt.Fprintf(stdout, "  %s\n", f)
		}
	}
	return code
}

func cleanHost(ctx context.Context, h *config.Host) ([]string, error) {
	conn, err := sshconn.Dial(ctx, h.Connection, sshOptions)
	if err != nil {
		return nil, err
	}
	defer conn.Close()
	return (&collector.Remote{Conn: conn}).Clean(ctx)
}

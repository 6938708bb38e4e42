// Command portcheck answers "why is this port unreachable?": it plans and
// verifies the layers of a port's reachability as declared in HCL. This
// package only parses flags and wires packages together.
package main

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"strings"

	"golang.org/x/term"

	"github.com/portcheck/portcheck/internal/collectcli"

	"github.com/portcheck/portcheck/runner/report"

	_ "github.com/portcheck/portcheck/providers/all"
)

// Exit codes are a contract: 0 as declared, 1 a check failed or drifted,
// 2 usage or configuration error.
const (
	exitOK     = 0
	exitFailed = 1
	exitUsage  = 2
)

var version = "0.1.0-dev"

const usage = `Usage: portcheck <command> [flags] [args]

Commands:
  validate PATH     check HCL files (*.pc.hcl, *.pc.json) and report errors with file:line
  fmt PATH          rewrite *.pc.hcl files in canonical format
  plan PATH         show what will be checked, where, by which provider, and what is skipped
  verify PATH       run the checks layer by layer and diagnose the broken layer
  diagnose ADDR:PORT  ad-hoc check of one port without HCL
  explain endpoint.NAME PATH  the full firewall walk of the endpoint's client packets and their replies
  collect           write this host's facts (sockets, firewall, SELinux) as a versioned JSON document
  probe -stdio      the prober of a vantage point: L4 probes streamed on stdin/stdout (verify starts it over ssh)
  audit PATH        cloud security groups: drift from the declarations and findings (Markdown or -json)
  backup DIR        save the firewall (nftables, iptables, firewalld config) into DIR/<UTC time>/
  restore BACKUPDIR verify a backup and restore it (shows the plan; changes nothing without --yes)
  export blackbox PATH  blackbox.yml, a Prometheus scrape_configs fragment and alert rules from the endpoints
  import FILE...    HCL from an ip:port:service batch file, an nmap XML scan or a host:port list
  serve PATH        Prometheus exporter: every layer re-verified on an interval or per scrape (/probe?target=endpoint.NAME)
  change report PATH  the Markdown change record of change blocks (-phase pre|post)
  plan|verify -phase pre|post PATH  a port change's nine steps: the runbook, and the gate
  remote clean PATH remove the collectors portcheck cached on the hosts with a connection block
  version           print the version

Exit codes: 0 everything as declared; 1 a check failed or drifted; 2 usage or config error.
Run 'portcheck <command> -h' for the flags of a command.
`

func main() {
	os.Exit(run(os.Args[1:], os.Stdout, os.Stderr))
}

func run(args []string, stdout, stderr io.Writer) int {
	if len(args) == 0 {
		fmt.Fprint(stderr, usage)
		return exitUsage
	}
	cmd, rest := args[0], args[1:]
	switch cmd {
	case "validate":
		return cmdValidate(rest, stdout, stderr)
	case "fmt":
		return cmdFmt(rest, stdout, stderr)
	case "plan":
		return cmdPlan(rest, stdout, stderr)
	case "verify":
		return cmdVerify(rest, stdout, stderr)
	case "diagnose":
		return cmdDiagnose(rest, stdout, stderr)
	case "explain":
		return cmdExplain(rest, stdout, stderr)
	case "audit":
		return cmdAudit(rest, stdout, stderr)
	case "collect":
		return cmdCollect(rest, stdout, stderr)
	case "probe":
		return collectcli.Probe("portcheck", rest, os.Stdin, stdout, stderr)
	case "backup":
		return cmdBackup(rest, stdout, stderr)
	case "restore":
		return cmdRestore(rest, stdout, stderr)
	case "export":
		return cmdExport(rest, stdout, stderr)
	case "import":
		return cmdImport(rest, stdout, stderr)
	case "serve":
		return cmdServe(rest, stdout, stderr)
	case "change":
		return cmdChange(rest, stdout, stderr)
	case "remote":
		return cmdRemote(rest, stdout, stderr)
	case "version", "-version", "--version":
		fmt.Fprintln(stdout, "portcheck", version)
		return exitOK
	case "help", "-h", "-help", "--help":
		fmt.Fprint(stdout, usage)
		return exitOK
	}
	fmt.Fprintf(stderr, "portcheck: unknown command %q\n\n%s", cmd, usage)
	return exitUsage
}

// parseArgs parses flags that may stand before or after the positional
// arguments (`verify ./checks -json` and `verify -json ./checks` both work).
func parseArgs(fs *flag.FlagSet, args []string) ([]string, error) {
	var positional []string
	for {
		if err := fs.Parse(args); err != nil {
			return nil, err
		}
		args = fs.Args()
		if len(args) == 0 {
			return positional, nil
		}
		if args[0] == "--" {
			return append(positional, args[1:]...), nil
		}
		positional = append(positional, args[0])
		args = args[1:]
	}
}

func newFlagSet(name, argsUsage string, stderr io.Writer) *flag.FlagSet {
	fs := flag.NewFlagSet(name, flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.Usage = func() {
		fmt.Fprintf(stderr, "Usage: portcheck %s %s\n\nFlags:\n", name, argsUsage)
		fs.PrintDefaults()
	}
	return fs
}

// flagErr turns a flag parsing error into the usage exit code.
func flagErr(err error) int {
	if errors.Is(err, flag.ErrHelp) {
		return exitOK
	}
	return exitUsage
}

// listFlag collects a repeatable flag.
type listFlag []string

func (l *listFlag) String() string     { return strings.Join(*l, ",") }
func (l *listFlag) Set(v string) error { *l = append(*l, v); return nil }

// style decides colour: a terminal, no NO_COLOR, no -no-color.
func style(w io.Writer, noColor bool) report.Style {
	if noColor || os.Getenv("NO_COLOR") != "" {
		return report.Style{}
	}
	f, ok := w.(*os.File)
	return report.Style{Color: ok && term.IsTerminal(int(f.Fd()))}
}

// subcommand checks that a command's arguments start with its one
// subcommand, want (`export blackbox`, `remote clean`); -h prints the
// command's usage. When !ok the command exits with code.
func subcommand(command, what, want, usage string, args []string, stdout, stderr io.Writer) (code int, ok bool) {
	switch {
	case len(args) > 0 && args[0] == want:
		return exitOK, true
	case len(args) > 0 && (args[0] == "-h" || args[0] == "-help" || args[0] == "--help"):
		fmt.Fprint(stdout, usage)
		return exitOK, false
	}
	fmt.Fprintf(stderr, "portcheck %s: want %s: %s\n\n%s", command, what, want, usage)
	return exitUsage, false
}

func isTerminal(w io.Writer) bool {
	f, ok := w.(*os.File)
	return ok && term.IsTerminal(int(f.Fd()))
}

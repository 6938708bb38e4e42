// Package collectcli is the `collect` command line shared by portcheck and
// the small portcheck-collector binary that is put on remote hosts: the
// same flags, the same document, the same exit codes.
package collectcli

import (
	"bytes"
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"path/filepath"
	"slices"
	"strings"
	"syscall"

	"github.com/portcheck/portcheck/internal/netns"
	"github.com/portcheck/portcheck/providers"
	"github.com/portcheck/portcheck/providers/collect"
	"github.com/portcheck/portcheck/providers/facts"
)

// Exit codes, as portcheck's.
const (
	ExitOK     = 0
	ExitFailed = 1
	ExitUsage  = 2
)

// Collect runs the server-side observers and writes the facts document;
// prog is the program name shown in messages ("portcheck").
func Collect(prog, version string, args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("collect", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.Usage = func() {
		fmt.Fprintf(stderr, "Usage: %s collect [flags]\n\nFlags:\n", prog)
		fs.PrintDefaults()
	}
	ns := fs.String("netns", "", "observe this network namespace: a name under /run/netns, or a path such as /proc/PID/ns/net (default: this machine)")
	out := fs.String("o", "", "write the document to this file (default: standard output)")
	name := fs.String("name", "", "the HCL host name to record (verify -facts matches documents by it, else by address)")
	observers := fs.String("observers", "", "run only these observers, comma-separated: sockets, firewall, selinux (default: all); the others are recorded as not collected")
	var domains listFlag
	fs.Var(&domains, "selinux-domain", "also read name_bind rules of this SELinux domain (repeatable; the listening processes' domains are always read)")
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return ExitOK
		}
		return ExitUsage
	}
	if pos := fs.Args(); len(pos) > 0 {
		fmt.Fprintf(stderr, "%s collect: no arguments expected, got %v\n", prog, pos)
		fs.Usage()
		return ExitUsage
	}
	only, err := parseObservers(*observers)
	if err != nil {
		fmt.Fprintf(stderr, "%s collect: -observers: %v\n", prog, err)
		return ExitUsage
	}
	path := providers.NetnsPath(*ns)
	if err := netns.Check(path); err != nil {
		fmt.Fprintf(stderr, "%s collect: -netns: %v\n", prog, err)
		return ExitUsage
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	doc, err := collect.Collect(ctx, collect.Options{Exec: providers.Exec{Host: *name, Netns: path}, SELinuxDomains: domains, Version: version, Only: only})
	if err != nil {
		fmt.Fprintf(stderr, "%s collect: %v\n", prog, err)
		return ExitFailed
	}
	skipped := 0
	for _, obs := range allObservers {
		if only != nil && !slices.Contains(only, obs) {
			// A document never silently lacks a part: say it was not asked for.
			doc.Failures = append(doc.Failures, facts.Failure{Observer: obs, Error: NotCollected})
			skipped++
		}
	}
	var buf bytes.Buffer
	if err := doc.Encode(&buf); err != nil {
		fmt.Fprintf(stderr, "%s collect: encoding: %v\n", prog, err)
		return ExitFailed
	}
	if *out == "" {
		if _, err := stdout.Write(buf.Bytes()); err != nil {
			fmt.Fprintf(stderr, "%s collect: %v\n", prog, err)
			return ExitFailed
		}
	} else if err := WriteFileAtomic(*out, buf.Bytes()); err != nil {
		fmt.Fprintf(stderr, "%s collect: -o: %v\n", prog, err)
		return ExitFailed
	}
	for _, f := range doc.Failures {
		if f.Error != NotCollected {
			fmt.Fprintf(stderr, "%s collect: observer %s failed: %s\n", prog, f.Observer, f.Error)
		}
	}
	if len(doc.Failures) > skipped {
		return ExitFailed // the document is written, with its gaps named
	}
	return ExitOK
}

// NotCollected is the failure recorded for an observer -observers left out.
const NotCollected = "not collected: left out with -observers"

var allObservers = []string{facts.ObserverSockets, facts.ObserverFirewall, facts.ObserverSELinux}

func parseObservers(s string) ([]string, error) {
	if s == "" {
		return nil, nil
	}
	var out []string
	for _, o := range strings.Split(s, ",") {
		o = strings.TrimSpace(o)
		if !slices.Contains(allObservers, o) {
			return nil, fmt.Errorf("unknown observer %q (want sockets, firewall, selinux)", o)
		}
		out = append(out, o)
	}
	return out, nil
}

// listFlag collects a repeatable flag.
type listFlag []string

func (l *listFlag) String() string     { return strings.Join(*l, ",") }
func (l *listFlag) Set(v string) error { *l = append(*l, v); return nil }

// WriteFileAtomic writes through a temporary file and a rename, so a
// reader never sees half a document.
func WriteFileAtomic(path string, b []byte) error {
	tmp, err := os.CreateTemp(filepath.Dir(path), "."+filepath.Base(path)+".*")
	if err != nil {
		return err
	}
	if _, err := tmp.Write(b); err != nil {
		tmp.Close()
		os.Remove(tmp.Name())
		return err
	}
	if err := tmp.Close(); err != nil {
		os.Remove(tmp.Name())
		return err
	}
	if err := os.Chmod(tmp.Name(), 0o644); err != nil {
		os.Remove(tmp.Name())
		return err
	}
	return os.Rename(tmp.Name(), path)
}

package main

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"os"
	"os/signal"
	"path/filepath"
	"syscall"

	"github.com/portcheck/portcheck/internal/netns"
	"github.com/portcheck/portcheck/providers"
	"github.com/portcheck/portcheck/providers/collect"
)

// cmdCollect runs the server-side observers and writes the facts document.
func cmdCollect(args []string, stdout, stderr io.Writer) int {
	fs := newFlagSet("collect", "[flags]", stderr)
	ns := fs.String("netns", "", "observe this network namespace: a name under /run/netns, or a path such as /proc/PID/ns/net (default: this machine)")
	out := fs.String("o", "", "write the document to this file (default: standard output)")
	name := fs.String("name", "", "the HCL host name to record (verify -facts matches documents by it, else by address)")
	var domains listFlag
	fs.Var(&domains, "selinux-domain", "also read name_bind rules of this SELinux domain (repeatable; the listening processes' domains are always read)")
	pos, err := parseArgs(fs, args)
	if err != nil {
		return flagErr(err)
	}
	if len(pos) > 0 {
		fmt.Fprintf(stderr, "portcheck collect: no arguments expected, got %v\n", pos)
		fs.Usage()
		return exitUsage
	}
	path := providers.NetnsPath(*ns)
	if err := netns.Check(path); err != nil {
		fmt.Fprintf(stderr, "portcheck collect: -netns: %v\n", err)
		return exitUsage
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	doc, err := collect.Collect(ctx, collect.Options{Exec: providers.Exec{Host: *name, Netns: path}, SELinuxDomains: domains, Version: version})
	if err != nil {
		fmt.Fprintln(stderr, "portcheck collect:", err)
		return exitFailed
	}
	var buf bytes.Buffer
	if err := doc.Encode(&buf); err != nil {
		fmt.Fprintln(stderr, "portcheck collect: encoding:", err)
		return exitFailed
	}
	if *out == "" {
		if _, err := stdout.Write(buf.Bytes()); err != nil {
			fmt.Fprintln(stderr, "portcheck collect:", err)
			return exitFailed
		}
	} else if err := writeFileAtomic(*out, buf.Bytes()); err != nil {
		fmt.Fprintln(stderr, "portcheck collect: -o:", err)
		return exitFailed
	}
	for _, f := range doc.Failures {
		fmt.Fprintf(stderr, "portcheck collect: observer %s failed: %s\n", f.Observer, f.Error)
	}
	if len(doc.Failures) > 0 {
		return exitFailed // the document is written, with its gaps named
	}
	return exitOK
}

// writeFileAtomic writes through a temporary file and a rename, so a
// reader never sees half a document.
func writeFileAtomic(path string, b []byte) error {
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

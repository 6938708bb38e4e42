package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/portcheck/portcheck/internal/fwbackup"
	"github.com/portcheck/portcheck/internal/netns"
	"github.com/portcheck/portcheck/providers"
)

// firewallFlags are the flags backup and restore share.
type firewallFlags struct {
	netns, firewalld string
}

func (f *firewallFlags) register(fs *flag.FlagSet) {
	fs.StringVar(&f.netns, "netns", "", "the firewall of this network namespace: a name under /run/netns, or a path such as /proc/PID/ns/net (default: this machine)")
	fs.StringVar(&f.firewalld, "firewalld-config", fwbackup.DefaultFirewalldDir, "firewalld permanent configuration directory")
}

// options checks the namespace and returns the backup options.
func (f *firewallFlags) options(cmd string, stderr io.Writer) (fwbackup.Options, bool) {
	path := providers.NetnsPath(f.netns)
	if err := netns.Check(path); err != nil {
		fmt.Fprintf(stderr, "portcheck %s: -netns: %v\n", cmd, err)
		return fwbackup.Options{}, false
	}
	if f.firewalld == "" {
		fmt.Fprintf(stderr, "portcheck %s: -firewalld-config must not be empty\n", cmd)
		return fwbackup.Options{}, false
	}
	return fwbackup.Options{Netns: path, FirewalldDir: f.firewalld}, true
}

// oneArg parses flags and a single positional argument.
func oneArg(fs *flag.FlagSet, args []string, what string, stderr io.Writer) (string, int, bool) {
	pos, err := parseArgs(fs, args)
	if err != nil {
		return "", flagErr(err), false
	}
	switch len(pos) {
	case 1:
		return pos[0], exitOK, true
	case 0:
		fmt.Fprintf(stderr, "portcheck %s: missing %s\n", fs.Name(), what)
	default:
		fmt.Fprintf(stderr, "portcheck %s: one %s expected, got %d: %v\n", fs.Name(), what, len(pos), pos)
	}
	fs.Usage()
	return "", exitUsage, false
}

// cmdBackup saves the firewall into a new timestamped directory.
func cmdBackup(args []string, stdout, stderr io.Writer) int {
	fs := newFlagSet("backup", "[-netns NAME|PATH] [-firewalld-config DIR] DIR", stderr)
	var ff firewallFlags
	ff.register(fs)
	dir, code, ok := oneArg(fs, args, "DIR (the directory to write the backup under)", stderr)
	if !ok {
		return code
	}
	opts, ok := ff.options("backup", stderr)
	if !ok {
		return exitUsage
	}
	res, err := fwbackup.Create(context.Background(), opts, dir)
	if err != nil {
		fmt.Fprintln(stderr, "portcheck backup:", err)
		return exitFailed
	}
	fmt.Fprintln(stdout, res.Dir)
	width := 0
	for _, f := range res.Manifest.Files {
		width = max(width, len(f.Name))
	}
	for _, f := range res.Manifest.Files {
		fmt.Fprintf(stdout, "  %-*s %8d bytes  from %s\n", width, f.Name, f.Bytes, f.Source)
	}
	for _, n := range res.Manifest.Notes {
		fmt.Fprintf(stdout, "  note: %s\n", n)
	}
	fmt.Fprintf(stdout, "Check it with: cd %s && sha256sum -c %s\n", res.Dir, fwbackup.SumsName)
	return exitOK
}

// cmdRestore verifies a backup, shows the plan, and with -yes restores and
// verifies the result.
func cmdRestore(args []string, stdout, stderr io.Writer) int {
	fs := newFlagSet("restore", "[-netns NAME|PATH] [-firewalld-config DIR] [-yes] BACKUPDIR", stderr)
	var ff firewallFlags
	ff.register(fs)
	yes := fs.Bool("yes", false, "really change the firewall (without it, restore only shows what it would do)")
	dir, code, ok := oneArg(fs, args, "BACKUPDIR (one timestamped directory that `portcheck backup` made)", stderr)
	if !ok {
		return code
	}
	opts, ok := ff.options("restore", stderr)
	if !ok {
		return exitUsage
	}
	b, err := fwbackup.Open(dir)
	if err != nil {
		fmt.Fprintln(stderr, "portcheck restore:", err)
		var nb *fwbackup.NotBackupError
		if errors.As(err, &nb) {
			return exitUsage
		}
		return exitFailed
	}
	ctx := context.Background()
	plan, err := fwbackup.NewPlan(ctx, opts, b)
	if err != nil {
		fmt.Fprintln(stderr, "portcheck restore:", err)
		var mt *fwbackup.MissingToolError
		if errors.As(err, &mt) {
			return exitUsage
		}
		return exitFailed
	}
	if !*yes {
		plan.Print(stdout)
		fmt.Fprintln(stderr, "portcheck restore: restore changes the host's firewall; run again with --yes")
		return exitUsage
	}
	out, err := plan.Execute(ctx, stdout, time.Now())
	if err != nil {
		fmt.Fprintln(stderr, "portcheck restore:", err)
		switch {
		case out.Changed:
			fmt.Fprintf(stderr, "The firewall may be partly restored. The state before the restore is in %s; roll back with:\n  portcheck restore%s --yes %s\n", out.PreRestore, flagsAgain(ff), out.PreRestore)
		case out.PreRestore != "":
			fmt.Fprintf(stderr, "Nothing was changed. The state before the restore is also saved in %s\n", out.PreRestore)
		}
		return exitFailed
	}
	if len(out.Diffs) > 0 {
		fmt.Fprintf(stderr, "portcheck restore: the firewall differs from the backup after the restore (- backup, + now):\n")
		for _, d := range out.Diffs {
			fmt.Fprintf(stderr, "--- %s\n+++ now\n", d.Name)
			for _, l := range d.Lines {
				fmt.Fprintln(stderr, l)
			}
		}
		fmt.Fprintf(stderr, "The state before the restore is in %s; roll back with:\n  portcheck restore%s --yes %s\n", out.PreRestore, flagsAgain(ff), out.PreRestore)
		return exitFailed
	}
	fmt.Fprintln(stdout, "restored and verified")
	return exitOK
}

// flagsAgain renders the target flags for a suggested command line.
func flagsAgain(ff firewallFlags) string {
	var b strings.Builder
	if ff.netns != "" {
		fmt.Fprintf(&b, " -netns %s", ff.netns)
	}
	if ff.firewalld != fwbackup.DefaultFirewalldDir {
		fmt.Fprintf(&b, " -firewalld-config %s", ff.firewalld)
	}
	return b.String()
}

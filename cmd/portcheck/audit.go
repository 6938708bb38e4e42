package main

import (
	"context"
	"fmt"
	"io"
	"os"
	"os/signal"
	"strconv"
	"strings"

	"github.com/portcheck/portcheck/providers/cloud"
	"github.com/portcheck/portcheck/runner"
	"github.com/portcheck/portcheck/runner/report"
)

func cmdAudit(args []string, stdout, stderr io.Writer) int {
	fs := newFlagSet("audit", "[flags] PATH", stderr)
	var cf configFlags
	cf.register(fs)
	jsonOut := fs.Bool("json", false, "write the audit as JSON (contract version 1) instead of Markdown")
	mdFile := fs.String("md", "", "also write the Markdown report to this file (for change tickets)")
	ports := fs.String("sensitive-ports", "", "comma-separated ports that must not be open to 0.0.0.0/0 or ::/0 (default: 22,3389,3306,5432,6379,9200,27017,…)")
	path, code, ok := parsePath(fs, args, stderr)
	if !ok {
		return code
	}
	var opts runner.AuditOptions
	if *ports != "" {
		for _, p := range strings.Split(*ports, ",") {
			n, err := strconv.Atoi(strings.TrimSpace(p))
			if err != nil || n < 1 || n > 65535 {
				fmt.Fprintf(stderr, "portcheck audit: -sensitive-ports: %q is not a port\n", p)
				return exitUsage
			}
			opts.SensitivePorts = append(opts.SensitivePorts, n)
		}
	}
	cfg := cf.load(path, stderr)
	if cfg == nil {
		return exitUsage
	}
	if len(cfg.Providers) == 0 {
		var blocks []string
		for _, t := range cloud.Types() {
			blocks = append(blocks, fmt.Sprintf("provider %q", t))
		}
		fmt.Fprintf(stderr, "portcheck audit: %s declares no provider block (%s): nothing to audit\n", path, strings.Join(blocks, ", "))
		return exitUsage
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	defer stop()
	rep := runner.Audit(ctx, cfg, opts)
	if *mdFile != "" {
		f, err := os.Create(*mdFile)
		if err != nil {
			fmt.Fprintln(stderr, "portcheck audit:", err)
			return exitUsage
		}
		report.WriteAuditMarkdown(f, rep)
		if err := f.Close(); err != nil {
			fmt.Fprintln(stderr, "portcheck audit:", err)
			return exitFailed
		}
	}
	if *jsonOut {
		if err := report.WriteAuditJSON(stdout, rep); err != nil {
			fmt.Fprintln(stderr, "portcheck audit:", err)
			return exitFailed
		}
	} else {
		report.WriteAuditMarkdown(stdout, rep)
	}
	fmt.Fprintln(stderr, "audit:", rep.Summary)
	return rep.ExitCode()
}

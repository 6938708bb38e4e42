package main

import (
	"fmt"
	"io"
	"os"
	"path/filepath"

	"github.com/portcheck/portcheck/internal/blackbox"
)

const exportUsage = `Usage: portcheck export blackbox [flags] PATH

Writes blackbox.yml, scrape_configs.yml and rules.yml for blackbox_exporter
and Prometheus from the HCL endpoints. Exit 1 when something declared was not
exported (listed on stderr and in the files), unless -partial.
`

func cmdExport(args []string, stdout, stderr io.Writer) int {
	if code, ok := subcommand("export", "a format", "blackbox", exportUsage, args, stdout, stderr); !ok {
		return code
	}
	fs := newFlagSet("export blackbox", "[flags] PATH", stderr)
	var cf configFlags
	cf.register(fs)
	dir := fs.String("o", ".", "directory to write blackbox.yml, scrape_configs.yml and rules.yml into")
	exporter := fs.String("exporter", blackbox.DefaultExporter, "blackbox_exporter's host:port as Prometheus reaches it (the scrape's __address__)")
	from := fs.String("from", "", "the `HOST` (HCL host name) blackbox_exporter runs on; exports the endpoints whose from includes it (default: this machine, the endpoints declared without from)")
	job := fs.String("job", blackbox.DefaultJob, "Prometheus job name")
	interval := fs.Duration("scrape-interval", 0, "the job's scrape_interval (default: Prometheus's global)")
	timeout := fs.Duration("scrape-timeout", 0, "the job's scrape_timeout (default: Prometheus's global, at most the interval)")
	maxPorts := fs.Int("max-range-ports", blackbox.DefaultMaxRangePorts, "export port ranges of at most this many ports, one target per port")
	partial := fs.Bool("partial", false, "exit 0 even when something declared was not exported (still listed)")
	path, code, ok := parsePath(fs, args[1:], stderr)
	if !ok {
		return code
	}
	cfg := cf.load(path, stderr)
	if cfg == nil {
		return exitUsage
	}
	e, err := blackbox.Build(cfg, blackbox.Options{Exporter: *exporter, From: *from, Job: *job,
		ScrapeInterval: *interval, ScrapeTimeout: *timeout, MaxRangePorts: *maxPorts})
	if err != nil {
		fmt.Fprintf(stderr, "portcheck export blackbox: %v\n", err)
		return exitUsage
	}
	files, err := e.Files()
	if err != nil {
		fmt.Fprintf(stderr, "portcheck export blackbox: %v\n", err)
		return exitFailed
	}
	if err := os.MkdirAll(*dir, 0o755); err != nil {
		fmt.Fprintf(stderr, "portcheck export blackbox: %v\n", err)
		return exitFailed
	}
	for _, f := range files {
		if err := writeFileAtomic(filepath.Join(*dir, f.Name), f.Data); err != nil {
			fmt.Fprintf(stderr, "portcheck export blackbox: %v\n", err)
			return exitFailed
		}
	}
	fmt.Fprintf(stdout, "Wrote %s, %s, %s in %s: %d modules, %d probe targets, %d alerting rules.\n",
		blackbox.FileBlackbox, blackbox.FileScrape, blackbox.FileRules, *dir,
		len(e.Blackbox.Modules), e.Probes, len(e.Rules.Groups[0].Rules))
	for _, n := range e.NotExported {
		fmt.Fprintf(stderr, "not exported: %s\n", n)
	}
	if len(e.NotExported) > 0 && !*partial {
		fmt.Fprintf(stderr, "%d declared endpoints or checks were not exported (-partial accepts that).\n", len(e.NotExported))
		return exitFailed
	}
	return exitOK
}

package main

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"os/signal"
	"syscall"
	"time"

	"github.com/portcheck/portcheck/config"
	"github.com/portcheck/portcheck/internal/exporter"
	"github.com/portcheck/portcheck/runner"
)

func cmdServe(args []string, stdout, stderr io.Writer) int {
	fs := newFlagSet("serve", "[flags] PATH", stderr)
	var cf configFlags
	cf.register(fs)
	listen := fs.String("listen", ":9797", "address to serve /metrics, /probe?target=endpoint.NAME and /-/healthy on")
	interval := fs.Duration("interval", time.Minute, "re-verify every endpoint this often for /metrics (0: only per /probe scrape)")
	timeout := fs.Duration("timeout", 30*time.Second, "longest /probe run; a scrape's X-Prometheus-Scrape-Timeout-Seconds shortens it")
	parallelism := fs.Int("parallelism", 10, "endpoints verified at once in an interval run")
	maxConcurrent := fs.Int("max-concurrent", 4, "/probe runs of different targets at once")
	webConfig := fs.String("web.config.file", "", "exporter-toolkit web configuration (TLS, basic auth)")
	path, code, ok := parsePath(fs, args, stderr)
	if !ok {
		return code
	}
	switch {
	case *interval < 0:
		fmt.Fprintln(stderr, "portcheck serve: -interval must not be negative")
		return exitUsage
	case *timeout <= 0:
		fmt.Fprintln(stderr, "portcheck serve: -timeout must be positive")
		return exitUsage
	case *parallelism < 1 || *maxConcurrent < 1:
		fmt.Fprintln(stderr, "portcheck serve: -parallelism and -max-concurrent must be at least 1")
		return exitUsage
	}
	if err := exporter.ValidateWebConfig(*webConfig); err != nil {
		fmt.Fprintf(stderr, "portcheck serve: %v\n", err)
		return exitUsage
	}
	log := slog.New(slog.NewTextHandler(stderr, nil))

	load := exporter.HCLLoader(path, config.Options{Vars: cf.vars, VarFiles: cf.varFiles, Env: os.Environ()})
	x, err := exporter.New(exporter.Options{Load: load, Interval: *interval, MaxTimeout: *timeout, MaxConcurrent: *maxConcurrent,
		Verify: runner.Options{Parallelism: *parallelism}, Logger: log})
	if err != nil {
		fmt.Fprintf(stderr, "portcheck serve: %v\n", err)
		return exitUsage
	}
	ln, err := net.Listen("tcp", *listen)
	if err != nil {
		fmt.Fprintf(stderr, "portcheck serve: -listen: %v\n", err)
		return exitUsage
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	defer ln.Close()
	return serve(ctx, x, ln, *webConfig, log, stderr)
}

// serve runs the exporter until ctx ends (SIGINT or SIGTERM); SIGHUP
// reloads the configuration.
func serve(ctx context.Context, x *exporter.Exporter, ln net.Listener, webConfig string, log *slog.Logger, stderr io.Writer) int {
	hup := make(chan os.Signal, 1)
	signal.Notify(hup, syscall.SIGHUP)
	defer signal.Stop(hup)
	go func() {
		for {
			select {
			case <-ctx.Done():
				return
			case <-hup:
				log.Info("SIGHUP: reloading the configuration")
				x.Reload() // logs its own outcome
			}
		}
	}()
	go x.Run(ctx)

	srv := &http.Server{Handler: x.Handler(), ReadHeaderTimeout: 10 * time.Second}
	served := make(chan error, 1)
	go func() { served <- exporter.Serve(ln, srv, webConfig, log) }()
	select {
	case err := <-served:
		if err != nil {
			fmt.Fprintf(stderr, "portcheck serve: %v\n", err)
			return exitUsage
		}
		return exitOK
	case <-ctx.Done():
	}
	log.Info("shutting down")
	sctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	srv.Shutdown(sctx)
	<-served
	return exitOK
}

package exporter

import (
	"errors"
	"fmt"
	"html"
	"log/slog"
	"net"
	"net/http"
	"strconv"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"
	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/exporter-toolkit/web"

	"github.com/portcheck/portcheck/runner"
)

// timeoutOffset is kept from the scrape's timeout for writing the answer,
// as blackbox_exporter does.
const timeoutOffset = 500 * time.Millisecond

// Handler serves /metrics, /probe, /-/healthy and a landing page.
func (x *Exporter) Handler() http.Handler {
	reg := prometheus.NewRegistry()
	reg.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}),
		healthCollector{x})
	// The last run's series are gathered once per run, not per scrape.
	g := prometheus.Gatherers{reg, prometheus.GathererFunc(x.lastRunFamilies)}
	mux := http.NewServeMux()
	mux.Handle("GET /metrics", promhttp.HandlerFor(g, promhttp.HandlerOpts{ErrorLog: slog.NewLogLogger(x.log.Handler(), slog.LevelError)}))
	mux.HandleFunc("GET /probe", x.serveProbe)
	mux.HandleFunc("GET /-/healthy", func(w http.ResponseWriter, _ *http.Request) { fmt.Fprintln(w, "Healthy") })
	mux.HandleFunc("GET /{$}", x.serveLanding)
	return mux
}

// serveProbe verifies one endpoint and answers with its metrics.
func (x *Exporter) serveProbe(w http.ResponseWriter, r *http.Request) {
	target := r.URL.Query().Get("target")
	if target == "" {
		http.Error(w, "missing parameter target, e.g. /probe?target=endpoint.web", http.StatusBadRequest)
		return
	}
	timeout, err := scrapeTimeout(r, x.opts.MaxTimeout)
	if err != nil {
		http.Error(w, err.Error(), http.StatusBadRequest)
		return
	}
	cfg, e, err := x.lookup(target)
	if err != nil {
		http.Error(w, err.Error(), http.StatusBadRequest)
		return
	}
	out, err := x.probe(r.Context(), cfg, e, timeout)
	if err != nil {
		return // the scraper left; nobody reads an answer
	}
	if out.busy {
		msg := fmt.Sprintf("probe %s: no run slot freed up within %s (at most %d targets run at once)", e.Name(), timeout, x.opts.MaxConcurrent)
		x.log.Warn(msg)
		http.Error(w, msg, http.StatusServiceUnavailable)
		return
	}
	reg := prometheus.NewRegistry()
	reg.MustRegister(probeCollector{plan: e, out: out})
	promhttp.HandlerFor(reg, promhttp.HandlerOpts{}).ServeHTTP(w, r)
}

// scrapeTimeout is the scrape's own timeout less an offset, bounded by
// max; without the header (curl), max.
func scrapeTimeout(r *http.Request, max time.Duration) (time.Duration, error) {
	h := r.Header.Get("X-Prometheus-Scrape-Timeout-Seconds")
	if h == "" {
		return max, nil
	}
	s, err := strconv.ParseFloat(h, 64)
	if err != nil || !(s > 0 && s <= 1e6) { // also NaN
		return 0, fmt.Errorf("invalid X-Prometheus-Scrape-Timeout-Seconds %q: want a positive number of seconds", h)
	}
	t := time.Duration(s * float64(time.Second))
	if t > timeoutOffset*2 {
		t -= timeoutOffset
	}
	return min(t, max), nil
}

// serveLanding lists the endpoints with their probe links.
func (x *Exporter) serveLanding(w http.ResponseWriter, _ *http.Request) {
	cfg := x.cur.Load()
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	fmt.Fprint(w, "<!DOCTYPE html><html><head><title>portcheck serve</title></head><body><h1>portcheck serve</h1>\n")
	fmt.Fprint(w, `<p><a href="metrics">/metrics</a> (every endpoint, re-verified on the interval, and the exporter's health) · <a href="-/healthy">/-/healthy</a></p><ul>`+"\n")
	for _, e := range cfg.plan.Endpoints {
		n := html.EscapeString(e.Name())
		fmt.Fprintf(w, "<li><a href=\"probe?target=%s\">%s</a></li>\n", n, html.EscapeString(e.Title()))
	}
	fmt.Fprint(w, "</ul></body></html>\n")
}

// Serve answers on ln with TLS and basic auth from an exporter-toolkit
// web configuration file ("" = plain HTTP, no auth). It returns when the
// server is shut down (http.ErrServerClosed) or fails.
func Serve(ln net.Listener, srv *http.Server, webConfig string, log *slog.Logger) error {
	if err := ValidateWebConfig(webConfig); err != nil {
		return err
	}
	err := web.Serve(ln, srv, &web.FlagConfig{WebConfigFile: &webConfig}, log)
	if errors.Is(err, http.ErrServerClosed) {
		return nil
	}
	return err
}

// ValidateWebConfig checks an exporter-toolkit web configuration file
// (TLS files readable, basic-auth hashes valid); "" is plain HTTP.
func ValidateWebConfig(path string) error {
	if path == "" {
		return nil
	}
	if err := web.Validate(path); err != nil {
		return fmt.Errorf("-web.config.file %s: %w", path, err)
	}
	return nil
}

var (
	descReloadOK = prometheus.NewDesc("portcheck_config_last_reload_successful",
		"1 when the last configuration reload worked (or none was asked for), 0 when it failed and the last good configuration is still served.", nil, nil)
	descReloadOKAt = prometheus.NewDesc("portcheck_config_last_reload_success_timestamp_seconds",
		"When the configuration in service was loaded (Unix time).", nil, nil)
	descReloads = prometheus.NewDesc("portcheck_config_reloads_total",
		"Configuration reloads asked for (SIGHUP), successful or not.", nil, nil)
	descReloadFails = prometheus.NewDesc("portcheck_config_reload_failures_total",
		"Configuration reloads that failed.", nil, nil)
	descEndpoints = prometheus.NewDesc("portcheck_config_endpoints",
		"Endpoints in the configuration in service.", nil, nil)
	descInFlight = prometheus.NewDesc("portcheck_runs_in_flight",
		"Verify runs going on now (interval run and /probe runs).", nil, nil)
	descProbeRuns = prometheus.NewDesc("portcheck_probe_runs_total",
		"Verify runs started for /probe scrapes; concurrent scrapes of one target share a run.", nil, nil)
	descLastRunOK = prometheus.NewDesc("portcheck_last_run_success",
		"1 when the last interval run finished every endpoint within the interval, else 0 (absent before the first run, and with -interval 0).", nil, nil)
	descLastRunAt = prometheus.NewDesc("portcheck_last_run_timestamp_seconds",
		"When the last interval run ended (Unix time).", nil, nil)
	descLastRunDuration = prometheus.NewDesc("portcheck_last_run_duration_seconds",
		"How long the last interval run took, in seconds.", nil, nil)
	descProbeDuration = prometheus.NewDesc("portcheck_probe_duration_seconds",
		"How long this /probe run took, in seconds (a scrape that joined a run in flight waited less).", nil, nil)
)

// healthCollector is the exporter's own state.
type healthCollector struct{ x *Exporter }

func (c healthCollector) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range []*prometheus.Desc{descReloadOK, descReloadOKAt, descReloads, descReloadFails, descEndpoints, descInFlight, descProbeRuns, descLastRunOK, descLastRunAt, descLastRunDuration} {
		ch <- d
	}
}

func (c healthCollector) Collect(ch chan<- prometheus.Metric) {
	x := c.x
	x.mu.Lock()
	ok, at, reloads, fails := x.reloadOK, x.reloadOKAt, x.reloads, x.reloadFails
	x.mu.Unlock()
	ch <- gauge(descReloadOK, b2f(ok))
	ch <- gauge(descReloadOKAt, float64(at.UnixNano())/1e9)
	ch <- prometheus.MustNewConstMetric(descReloads, prometheus.CounterValue, float64(reloads))
	ch <- prometheus.MustNewConstMetric(descReloadFails, prometheus.CounterValue, float64(fails))
	ch <- gauge(descEndpoints, float64(len(x.cur.Load().plan.Endpoints)))
	ch <- gauge(descInFlight, float64(x.inFlight.Load()))
	ch <- prometheus.MustNewConstMetric(descProbeRuns, prometheus.CounterValue, float64(x.probeRuns.Load()))
	x.mu.Lock()
	rr := x.last
	x.mu.Unlock()
	if rr != nil {
		ch <- gauge(descLastRunOK, b2f(rr.complete))
		ch <- gauge(descLastRunAt, float64(rr.end.UnixNano())/1e9)
		ch <- gauge(descLastRunDuration, rr.end.Sub(rr.start).Seconds())
	}
}

// lastRunFamilies is what /metrics shows of the last interval run,
// gathered when the run ended.
func (x *Exporter) lastRunFamilies() ([]*dto.MetricFamily, error) {
	x.mu.Lock()
	defer x.mu.Unlock()
	if x.last == nil {
		return nil, nil
	}
	return x.last.families, nil
}

// gatherRun renders a run's series once.
func gatherRun(rr *runResult) ([]*dto.MetricFamily, error) {
	reg := prometheus.NewRegistry()
	reg.MustRegister(lastRunCollector{rr})
	return reg.Gather()
}

// lastRunCollector is an interval run's results. The endpoint series are unchecked (no Describe): which ones
// exist depends on the configuration and the run.
type lastRunCollector struct{ rr *runResult }

func (c lastRunCollector) Describe(chan<- *prometheus.Desc) {}

func (c lastRunCollector) Collect(ch chan<- prometheus.Metric) {
	rr := c.rr
	for _, e := range rr.cfg.plan.Endpoints {
		if er := rr.results[e.Name()]; er != nil {
			endpointMetrics(er, ch)
		} else {
			unfinishedMetrics(e, ch)
		}
	}
}

// probeCollector is one /probe answer.
type probeCollector struct {
	plan *runner.EndpointPlan
	out  *probeOutcome
}

// Describe sends nothing: an unchecked collector, as lastRunCollector.
func (c probeCollector) Describe(chan<- *prometheus.Desc) {}

func (c probeCollector) Collect(ch chan<- prometheus.Metric) {
	ch <- gauge(descProbeDuration, c.out.duration.Seconds())
	if c.out.result != nil {
		endpointMetrics(c.out.result, ch)
	} else {
		unfinishedMetrics(c.plan, ch)
	}
}

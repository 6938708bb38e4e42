package exporter

import (
	"fmt"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/portcheck/portcheck/providers/app"
	"github.com/portcheck/portcheck/runner"
)

// Label values are only names declared in HCL (endpoint and host names),
// layer numbers, check kinds and the fixed status and cause vocabularies:
// never addresses, ports, rule text or evidence, so the number of series
// is bounded by the configuration, not by what a run observes.
var (
	descEndpointOK = prometheus.NewDesc("portcheck_endpoint_ok",
		"1 when every declared check of the endpoint ran and holds (diagnosis ok and complete), else 0.",
		[]string{"endpoint"}, nil)
	descEndpointFinished = prometheus.NewDesc("portcheck_endpoint_finished",
		"1 when the endpoint's checks finished within the run's timeout; 0 when the run ended first (its other series are then absent).",
		[]string{"endpoint"}, nil)
	descDiagnosis = prometheus.NewDesc("portcheck_endpoint_diagnosis",
		"Always 1: the endpoint's diagnosis as labels, cause from the fixed vocabulary and the lowest broken layer (L1..L7; empty when ok).",
		[]string{"endpoint", "cause", "layer"}, nil)
	descEndpointDuration = prometheus.NewDesc("portcheck_endpoint_duration_seconds",
		"Time the endpoint's checks took, in seconds.",
		[]string{"endpoint"}, nil)
	descCheckStatus = prometheus.NewDesc("portcheck_check_status",
		"1 for the status the check has, 0 for the others (pass, fail, drift, skip, error). Checks of one endpoint, layer, kind and vantage host over several addresses, ports or source ranges are folded into one series with the worst status.",
		[]string{"endpoint", "layer", "check", "from", "status"}, nil)
	descCheckDuration = prometheus.NewDesc("portcheck_check_duration_seconds",
		"Time the check took (summed over folded checks), in seconds; 0 for checks that did not run.",
		[]string{"endpoint", "layer", "check", "from"}, nil)
	descCertExpiry = prometheus.NewDesc("portcheck_tls_cert_expiry_timestamp_seconds",
		"Earliest expiry (NotAfter, Unix time) in the certificate chain the server presented to a tls, https or gRPC-over-TLS check; kept when the certificate has expired or does not verify.",
		[]string{"endpoint", "check", "from"}, nil)
)

// statuses is the order in which portcheck_check_status lists them.
var statuses = []runner.Status{runner.StatusPass, runner.StatusFail, runner.StatusDrift, runner.StatusSkip, runner.StatusError}

// severity orders statuses when checks are folded: a failure is the most
// telling, then a check that could not run, then drift.
var severity = map[runner.Status]int{runner.StatusSkip: 0, runner.StatusPass: 1, runner.StatusDrift: 2, runner.StatusError: 3, runner.StatusFail: 4}

// checkKey is one portcheck_check_* series.
type checkKey struct{ layer, check, from string }

type checkAgg struct {
	status   runner.Status
	duration time.Duration
	expiry   time.Time // earliest certificate expiry seen; zero when none
}

// endpointMetrics turns one endpoint's result into const metrics.
func endpointMetrics(er *runner.EndpointResult, ch chan<- prometheus.Metric) {
	name := er.Plan.Endpoint.Name
	d := er.Diagnosis
	ch <- gauge(descEndpointFinished, 1, name)
	ch <- gauge(descEndpointOK, b2f(endpointOK(er)), name)
	layer := ""
	if d.Layer != 0 {
		layer = layerLabel(int(d.Layer))
	}
	ch <- gauge(descDiagnosis, 1, name, d.Cause, layer)
	ch <- gauge(descEndpointDuration, er.Duration.Seconds(), name)

	var order []checkKey
	aggs := map[checkKey]*checkAgg{}
	for _, r := range er.Results {
		k := checkKey{layerLabel(int(r.Check.Layer)), r.Check.Name, fromLabel(r.Check)}
		a, ok := aggs[k]
		if !ok {
			a = &checkAgg{status: r.Status}
			aggs[k] = a
			order = append(order, k)
		}
		if severity[r.Status] > severity[a.status] {
			a.status = r.Status
		}
		a.duration += r.Duration
		if t, ok := certExpiry(r); ok && (a.expiry.IsZero() || t.Before(a.expiry)) {
			a.expiry = t
		}
	}
	for _, k := range order {
		a := aggs[k]
		for _, s := range statuses {
			ch <- gauge(descCheckStatus, b2f(a.status == s), name, k.layer, k.check, k.from, string(s))
		}
		ch <- gauge(descCheckDuration, a.duration.Seconds(), name, k.layer, k.check, k.from)
		if !a.expiry.IsZero() {
			ch <- gauge(descCertExpiry, float64(a.expiry.Unix()), name, k.check, k.from)
		}
	}
}

// unfinishedMetrics is what an endpoint the run did not finish shows.
func unfinishedMetrics(e *runner.EndpointPlan, ch chan<- prometheus.Metric) {
	ch <- gauge(descEndpointFinished, 0, e.Endpoint.Name)
	ch <- gauge(descEndpointOK, 0, e.Endpoint.Name)
}

// endpointOK is the endpoint's share of verify's exit code 0: nothing
// failed, drifted or could not run, and something was checked.
func endpointOK(er *runner.EndpointResult) bool {
	if er.Diagnosis.Cause != runner.CauseOK || er.Diagnosis.Incomplete {
		return false
	}
	for _, r := range er.Results {
		if r.Status == runner.StatusPass {
			return true
		}
	}
	return false // every check skipped: nothing was verified
}

func layerLabel(l int) string { return fmt.Sprintf("L%d", l) }

// fromLabel is the vantage host's HCL name ("local" for this machine);
// "" for server-side checks; a declared source range (allow_from,
// deny_from) is named by its kind, not its address, so that ranges do not
// become label values. Parentheses cannot start an HCL name, so these
// never collide with a host's.
func fromLabel(c *runner.Check) string {
	switch {
	case c.Sources.IsValid() && c.Deny:
		return "(deny_from)"
	case c.Sources.IsValid():
		return "(allow_from)"
	}
	return c.From
}

// certExpiry is the earliest NotAfter of the chain a TLS-speaking check
// was presented, also when the chain is expired or does not verify (the
// L7 facts keep the chain then).
func certExpiry(r *runner.Result) (time.Time, bool) {
	var f *app.TLSFacts
	switch ev := r.Evidence.(type) {
	case *app.TLSFacts:
		f = ev
	case *app.HTTPFacts:
		if ev != nil {
			f = ev.TLS
		}
	case *app.GRPCFacts:
		if ev != nil {
			f = ev.TLS
		}
	}
	if f == nil || len(f.Chain) == 0 {
		return time.Time{}, false
	}
	earliest := f.Chain[0].NotAfter
	for _, c := range f.Chain[1:] {
		if c.NotAfter.Before(earliest) {
			earliest = c.NotAfter
		}
	}
	return earliest, true
}

func gauge(d *prometheus.Desc, v float64, labels ...string) prometheus.Metric {
	return prometheus.MustNewConstMetric(d, prometheus.GaugeValue, v, labels...)
}

func b2f(b bool) float64 {
	if b {
		return 1
	}
	return 0
}

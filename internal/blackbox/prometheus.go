package blackbox

import (
	"fmt"
	"regexp"
	"slices"
	"strconv"
	"strings"

	"github.com/portcheck/portcheck/config"
)

// scrapeFragment is one job in blackbox's multi-target pattern: each
// static group carries its module as the __param_module label (Prometheus
// sends every __param_* label as a URL parameter), the target becomes
// __param_target and instance, and __address__ the exporter.
func scrapeFragment(probes []probe, o Options) ScrapeFragment {
	job := ScrapeConfig{
		JobName:     o.Job,
		MetricsPath: "/probe",
		RelabelConfigs: []RelabelConfig{
			{SourceLabels: []string{"__address__"}, TargetLabel: "__param_target"},
			{SourceLabels: []string{"__param_target"}, TargetLabel: "instance"},
			{TargetLabel: "__address__", Replacement: o.Exporter},
		},
		StaticConfigs: []StaticConfig{},
	}
	if o.ScrapeInterval > 0 {
		job.ScrapeInterval = dur(o.ScrapeInterval)
		// Prometheus's global scrape_timeout (10s) must not exceed the
		// job's interval.
		if o.ScrapeTimeout == 0 && o.ScrapeInterval < 10e9 {
			o.ScrapeTimeout = o.ScrapeInterval
		}
	}
	if o.ScrapeTimeout > 0 {
		job.ScrapeTimeout = dur(o.ScrapeTimeout)
	}
	for _, p := range probes {
		job.StaticConfigs = append(job.StaticConfigs, StaticConfig{Targets: p.targets, Labels: map[string]string{
			"__param_module": p.module,
			LabelEndpoint:    p.endpoint,
			LabelHost:        p.host,
			LabelCheck:       p.check,
			LabelExpected:    p.expected,
		}})
	}
	return ScrapeFragment{ScrapeConfigs: []ScrapeConfig{job}}
}

// rules are the guide's two alerts (a probe failing for 2 minutes, slower
// than 1 s for 5 minutes), a closed port that answers, and certificate
// expiry by each TLS check's declared min_days_valid.
func rules(eps []*config.Endpoint, probes []probe, o Options) RuleFile {
	sel := func(extra string) string {
		s := fmt.Sprintf(`job=%q`, o.Job)
		if extra != "" {
			s += "," + extra
		}
		return "{" + s + "}"
	}
	verify := "portcheck verify -target endpoint.{{ $labels.endpoint }} names the layer that broke."
	g := RuleGroup{Name: o.Job, Rules: []Rule{
		{
			Alert:  "PortcheckProbeFailed",
			Expr:   "probe_success" + sel(`expected="open"`) + " == 0",
			For:    "2m",
			Labels: map[string]string{"severity": "critical"},
			Annotations: map[string]string{
				"summary":     "endpoint.{{ $labels.endpoint }}: the {{ $labels.check }} probe of {{ $labels.instance }} fails",
				"description": "blackbox_exporter's {{ $labels.check }} probe of {{ $labels.instance }} (endpoint.{{ $labels.endpoint }} on host.{{ $labels.host }}) has failed for 2 minutes. " + verify,
			},
		},
		{
			Alert:  "PortcheckProbeSlow",
			Expr:   "probe_duration_seconds" + sel("") + " > 1",
			For:    "5m",
			Labels: map[string]string{"severity": "warning"},
			Annotations: map[string]string{
				"summary":     "endpoint.{{ $labels.endpoint }}: the {{ $labels.check }} probe of {{ $labels.instance }} takes {{ $value | humanizeDuration }}",
				"description": "The {{ $labels.check }} probe of {{ $labels.instance }} has taken more than 1s for 5 minutes.",
			},
		},
		{
			Alert:  "PortcheckUnexpectedlyOpen",
			Expr:   "probe_success" + sel(`expected="closed"`) + " == 1",
			For:    "2m",
			Labels: map[string]string{"severity": "critical"},
			Annotations: map[string]string{
				"summary":     "endpoint.{{ $labels.endpoint }}: {{ $labels.instance }} is declared closed and answers",
				"description": "{{ $labels.instance }} (endpoint.{{ $labels.endpoint }}) must not be reachable and has answered for 2 minutes. " + verify,
			},
		},
	}}

	// Certificate expiry: one rule per distinct min_days_valid, over the
	// endpoints whose tls check was exported. blackbox's
	// probe_ssl_earliest_cert_expiry vanishes once the handshake fails (an
	// expired certificate): PortcheckProbeFailed fires then.
	exported := map[string]bool{}
	for _, p := range probes {
		if p.check == "tls" {
			exported[p.endpoint] = true
		}
	}
	byDays := map[int][]string{}
	for _, ep := range eps {
		if ep.Expect.TLS != nil && exported[ep.Name] {
			byDays[ep.Expect.TLS.MinDaysValid] = append(byDays[ep.Expect.TLS.MinDaysValid], ep.Name)
		}
	}
	days := make([]int, 0, len(byDays))
	for d := range byDays {
		days = append(days, d)
	}
	slices.Sort(days)
	for _, d := range days {
		names := byDays[d]
		quoted := make([]string, len(names))
		for i, n := range names {
			quoted[i] = regexp.QuoteMeta(n)
		}
		g.Rules = append(g.Rules, Rule{
			Alert:  "PortcheckCertificateExpiresSoon",
			Expr:   fmt.Sprintf("probe_ssl_earliest_cert_expiry%s - time() < %d * 86400", sel(fmt.Sprintf(`check="tls",endpoint=~%q`, strings.Join(quoted, "|"))), d),
			For:    "10m",
			Labels: map[string]string{"severity": "warning", "min_days_valid": strconv.Itoa(d)},
			Annotations: map[string]string{
				"summary":     "endpoint.{{ $labels.endpoint }}: the certificate of {{ $labels.instance }} expires in {{ $value | humanizeDuration }}",
				"description": fmt.Sprintf("endpoint.{{ $labels.endpoint }} declares min_days_valid = %d. Once the certificate has expired blackbox_exporter's handshake fails and this metric vanishes; PortcheckProbeFailed fires instead.", d),
			},
		})
	}
	return RuleFile{Groups: []RuleGroup{g}}
}

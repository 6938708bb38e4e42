// Package monitoring reads what a Prometheus setup monitors, for the
// port-change checklist's monitoring step: after the move, the new
// endpoint is a target and up (and the old one is not a target any more).
//
// Three sources, each observed as typed facts:
//   - a running server's /api/v1/targets (ReadTargets): active targets
//     with labels, discovered labels, scrape URL, health and last error,
//     and the dropped ones — what Prometheus really scrapes, after
//     relabeling;
//   - file_sd target files (ReadFileSD), JSON or YAML lists of
//     {targets, labels};
//   - a scrape configuration (ReadScrapeConfig): jobs with their
//     static_configs targets, params and file_sd files — including
//     blackbox-style jobs, whose targets are probe targets.
//
// The helpers (FindTarget, FindInGroups, FindInScrapeConfig) answer "is
// ADDR:PORT (or a blackbox target, a URL naming it) there, and up" from
// the facts alone.
package monitoring

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/url"
	"sort"
	"strings"
	"time"

	"github.com/prometheus/client_golang/api"
	v1 "github.com/prometheus/client_golang/api/prometheus/v1"

	"github.com/portcheck/portcheck/internal/netns"
)

// DefaultTimeout bounds a read of the targets API when Server.Timeout is 0.
const DefaultTimeout = 10 * time.Second

// Server is a Prometheus server to ask.
type Server struct {
	// URL is the server's base URL, "http://10.0.0.9:9090" (a path prefix,
	// as behind --web.route-prefix, is kept).
	URL string
	// NetNS is the network namespace the request leaves from ("" = this
	// process's).
	NetNS   string
	Timeout time.Duration
}

// Health of a target, as Prometheus reports it.
type Health string

// Healths.
const (
	HealthUp      Health = "up"
	HealthDown    Health = "down"
	HealthUnknown Health = "unknown" // not scraped yet
)

// TargetsFacts are a server's targets.
type TargetsFacts struct {
	Server  string          `json:"server"`
	NetNS   string          `json:"netns,omitempty"`
	Active  []Target        `json:"active"`
	Dropped []DroppedTarget `json:"dropped"`
}

// Target is one active target.
type Target struct {
	ScrapePool string `json:"scrape_pool"`
	ScrapeURL  string `json:"scrape_url"`
	// Labels are the target's labels after relabeling (job, instance, …).
	Labels map[string]string `json:"labels"`
	// DiscoveredLabels are the labels before relabeling (__address__,
	// __param_target, __meta_*).
	DiscoveredLabels   map[string]string `json:"discovered_labels"`
	Health             Health            `json:"health"`
	LastError          string            `json:"last_error,omitempty"`
	LastScrape         time.Time         `json:"last_scrape"`
	LastScrapeDuration float64           `json:"last_scrape_duration_seconds"`
}

// DroppedTarget is a discovered target that relabeling dropped: it is not
// scraped.
type DroppedTarget struct {
	DiscoveredLabels map[string]string `json:"discovered_labels"`
}

// ReadTargets reads the server's /api/v1/targets. An unreachable server
// or an error answer is an error: the monitoring step cannot be checked.
func ReadTargets(ctx context.Context, s Server) (*TargetsFacts, error) {
	u, err := url.Parse(strings.TrimSpace(s.URL))
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return nil, fmt.Errorf("prometheus: server URL %q: want http(s)://host:port", s.URL)
	}
	if err := netns.Check(s.NetNS); err != nil {
		return nil, fmt.Errorf("prometheus: %w", err)
	}
	timeout := s.Timeout
	if timeout <= 0 {
		timeout = DefaultTimeout
	}
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	// An own transport: the dial happens inside the vantage's namespace,
	// and no proxy from the environment is used (the server is asked
	// directly, as the checklist declares it).
	tr := &http.Transport{
		DialContext: func(ctx context.Context, network, addr string) (net.Conn, error) {
			return netns.DialContext(ctx, s.NetNS, &net.Dialer{}, network, addr)
		},
		TLSHandshakeTimeout: timeout,
	}
	defer tr.CloseIdleConnections()
	client, err := api.NewClient(api.Config{Address: u.String(), RoundTripper: tr})
	if err != nil {
		return nil, fmt.Errorf("prometheus: %w", err)
	}
	res, err := v1.NewAPI(client).Targets(ctx)
	if err != nil {
		var apiErr *v1.Error
		if errors.As(err, &apiErr) {
			return nil, fmt.Errorf("prometheus %s: /api/v1/targets: %s: %s", u.Redacted(), apiErr.Type, apiErr.Msg)
		}
		return nil, fmt.Errorf("prometheus %s: /api/v1/targets: %w", u.Redacted(), err)
	}
	f := &TargetsFacts{Server: u.Redacted(), NetNS: s.NetNS, Active: []Target{}, Dropped: []DroppedTarget{}}
	for _, a := range res.Active {
		labels := map[string]string{}
		for k, v := range a.Labels {
			labels[string(k)] = string(v)
		}
		f.Active = append(f.Active, Target{
			ScrapePool: a.ScrapePool, ScrapeURL: a.ScrapeURL, Labels: labels, DiscoveredLabels: a.DiscoveredLabels,
			Health: Health(a.Health), LastError: a.LastError, LastScrape: a.LastScrape, LastScrapeDuration: a.LastScrapeDuration,
		})
	}
	for _, d := range res.Dropped {
		f.Dropped = append(f.Dropped, DroppedTarget{DiscoveredLabels: d.DiscoveredLabels})
	}
	sort.SliceStable(f.Active, func(i, j int) bool {
		if f.Active[i].ScrapePool != f.Active[j].ScrapePool {
			return f.Active[i].ScrapePool < f.Active[j].ScrapePool
		}
		return f.Active[i].ScrapeURL < f.Active[j].ScrapeURL
	})
	return f, nil
}

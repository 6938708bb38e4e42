package monitoring

import (
	"fmt"
	"net"
	"net/netip"
	"net/url"
	"slices"
	"strconv"
	"strings"
)

// defaultPorts are the ports a URL without one means.
var defaultPorts = map[string]string{"http": "80", "https": "443", "ws": "80", "wss": "443", "grpc": "443"}

// EndpointOf reads a target as written — "host:port", "[v6]:port" or a
// URL "scheme://host[:port]/…" (a blackbox probe target; the port then
// defaults by scheme) — as a normalized "host:port" (IP addresses in their
// canonical spelling, host names lower-cased). ok is false when no port
// can be told (a bare host, as an ICMP probe target is).
func EndpointOf(s string) (string, bool) {
	s = strings.TrimSpace(s)
	var host, port string
	if strings.Contains(s, "://") {
		u, err := url.Parse(s)
		if err != nil || u.Host == "" {
			return "", false
		}
		host, port = u.Hostname(), u.Port()
		if port == "" {
			port = defaultPorts[strings.ToLower(u.Scheme)]
		}
	} else {
		var err error
		host, port, err = net.SplitHostPort(s)
		if err != nil {
			return "", false
		}
	}
	n, err := strconv.Atoi(port)
	if host == "" || err != nil || n < 1 || n > 65535 {
		return "", false
	}
	if a, err := netip.ParseAddr(host); err == nil {
		host = a.Unmap().WithZone("").String()
	} else {
		host = strings.ToLower(strings.TrimSuffix(host, "."))
	}
	return net.JoinHostPort(host, strconv.Itoa(n)), true
}

// Match is one place an endpoint was found.
type Match struct {
	// Job is the scrape pool or job name ("" for a file_sd file).
	Job string `json:"job,omitempty"`
	// Target is the text that named the endpoint, Via where it was:
	// "instance label", "__address__", "__param_target", "scrape URL",
	// "target parameter", "static_configs", "file_sd".
	Target    string `json:"target"`
	Via       string `json:"via"`
	Health    Health `json:"health,omitempty"`
	LastError string `json:"last_error,omitempty"`
}

// Presence answers "is the endpoint monitored (and up)".
type Presence struct {
	Endpoint string `json:"endpoint"`
	// Present: some target names the endpoint.
	Present bool `json:"present"`
	// Up: present, and every active target naming it was scraped
	// successfully at its last scrape (only a server's targets know).
	Up      bool    `json:"up"`
	Matches []Match `json:"matches"`
	// Dropped counts discovered targets naming the endpoint that
	// relabeling dropped (not scraped).
	Dropped  int      `json:"dropped,omitempty"`
	Evidence []string `json:"evidence"`
}

// FindTarget looks for endpoint (host:port, or a URL naming it) among the
// server's active targets of jobs (every job when none is given): by the
// instance label, the discovered __address__ and __param_target (a
// blackbox probe target), the scrape URL's address and its `target`
// parameter.
func FindTarget(f *TargetsFacts, endpoint string, jobs ...string) Presence {
	p := Presence{Endpoint: endpoint, Matches: []Match{}, Evidence: []string{}}
	want, ok := EndpointOf(endpoint)
	if !ok {
		p.Evidence = append(p.Evidence, fmt.Sprintf("%q names no host and port", endpoint))
		return p
	}
	p.Endpoint = want
	inJobs := func(job string) bool { return len(jobs) == 0 || slices.Contains(jobs, job) }
	allUp := true
	for _, t := range f.Active {
		if !inJobs(t.ScrapePool) {
			continue
		}
		target, via := matchTarget(t.Labels, t.DiscoveredLabels, t.ScrapeURL, want)
		if via == "" {
			continue
		}
		m := Match{Job: t.ScrapePool, Target: target, Via: via, Health: t.Health, LastError: t.LastError}
		p.Matches = append(p.Matches, m)
		if t.Health != HealthUp {
			allUp = false
		}
		s := fmt.Sprintf("job %s scrapes %s (%s %s): %s", t.ScrapePool, t.ScrapeURL, via, target, t.Health)
		switch {
		case t.LastError != "":
			s += " (" + t.LastError + ")"
		case t.Health == HealthUnknown:
			s += " (not scraped yet)"
		}
		p.Evidence = append(p.Evidence, s)
	}
	for _, d := range f.Dropped {
		if _, via := matchTarget(nil, d.DiscoveredLabels, "", want); via != "" && inJobs(d.DiscoveredLabels["job"]) {
			p.Dropped++
		}
	}
	p.Present = len(p.Matches) > 0
	p.Up = p.Present && allUp
	if !p.Present {
		scope := "any job"
		if len(jobs) > 0 {
			scope = "job " + strings.Join(jobs, ", ")
		}
		p.Evidence = append(p.Evidence, fmt.Sprintf("%s is no active target of %s on %s (%d active targets)", want, scope, f.Server, len(f.Active)))
	}
	if p.Dropped > 0 {
		p.Evidence = append(p.Evidence, fmt.Sprintf("%d discovered target(s) naming %s were dropped by relabeling", p.Dropped, want))
	}
	return p
}

// matchTarget returns the text naming want and where it was, or "".
func matchTarget(labels, discovered map[string]string, scrapeURL, want string) (string, string) {
	for _, c := range []struct{ text, via string }{
		{labels["instance"], "instance label"},
		{discovered["__address__"], "__address__"},
		{discovered["__param_target"], "__param_target"},
	} {
		if c.text != "" {
			if e, ok := EndpointOf(c.text); ok && e == want {
				return c.text, c.via
			}
		}
	}
	if u, err := url.Parse(scrapeURL); err == nil && u.Host != "" {
		if e, ok := EndpointOf(u.Scheme + "://" + u.Host); ok && e == want {
			return u.Host, "scrape URL"
		}
		if t := u.Query().Get("target"); t != "" {
			if e, ok := EndpointOf(t); ok && e == want {
				return t, "target parameter"
			}
		}
	}
	return "", ""
}

// FindInGroups returns the targets of groups that name endpoint.
func FindInGroups(groups []TargetGroup, endpoint, via string) []Match {
	want, ok := EndpointOf(endpoint)
	if !ok {
		return nil
	}
	var out []Match
	for _, g := range groups {
		for _, t := range g.Targets {
			if e, ok := EndpointOf(t); ok && e == want {
				out = append(out, Match{Job: g.Labels["job"], Target: t, Via: via})
			}
		}
	}
	return out
}

// FindInFileSD answers "does this file_sd file list the endpoint". Up is
// never known from a file.
func FindInFileSD(f *FileSDFacts, endpoint string) Presence {
	p := Presence{Endpoint: endpoint, Matches: []Match{}, Evidence: []string{}}
	if e, ok := EndpointOf(endpoint); ok {
		p.Endpoint = e
	}
	p.Matches = append(p.Matches, FindInGroups(f.Groups, endpoint, "file_sd")...)
	p.Present = len(p.Matches) > 0
	if p.Present {
		for _, m := range p.Matches {
			p.Evidence = append(p.Evidence, fmt.Sprintf("%s lists %s", f.Path, m.Target))
		}
	} else {
		p.Evidence = append(p.Evidence, fmt.Sprintf("%s does not list %s (%d groups)", f.Path, p.Endpoint, len(f.Groups)))
	}
	return p
}

// FindInScrapeConfig answers "does a job's static_configs list the
// endpoint" (jobs: every job when none is given). A job with relabeling
// may scrape something else than its targets as written, and a job's
// file_sd files are not part of these facts: the evidence says both.
func FindInScrapeConfig(f *ScrapeConfigFacts, endpoint string, jobs ...string) Presence {
	p := Presence{Endpoint: endpoint, Matches: []Match{}, Evidence: []string{}}
	if e, ok := EndpointOf(endpoint); ok {
		p.Endpoint = e
	}
	for _, j := range f.Jobs {
		if len(jobs) > 0 && !slices.Contains(jobs, j.Name) {
			continue
		}
		for _, m := range FindInGroups(j.Static, endpoint, "static_configs") {
			m.Job = j.Name
			p.Matches = append(p.Matches, m)
			s := fmt.Sprintf("job %s lists %s in static_configs", j.Name, m.Target)
			if j.Relabelings > 0 {
				s += fmt.Sprintf(" (%d relabel_configs: the address scraped may differ, a blackbox job probes it)", j.Relabelings)
			}
			p.Evidence = append(p.Evidence, s)
		}
		if len(j.FileSD) > 0 {
			p.Evidence = append(p.Evidence, fmt.Sprintf("job %s also takes targets from %s (read those with ReadFileSD)", j.Name, strings.Join(j.FileSD, ", ")))
		}
	}
	p.Present = len(p.Matches) > 0
	if !p.Present {
		p.Evidence = append(p.Evidence, fmt.Sprintf("%s is in no static_configs of %s", p.Endpoint, f.Path))
	}
	for _, u := range f.Unresolved {
		p.Evidence = append(p.Evidence, u)
	}
	return p
}

package monitoring

import (
	"context"
	"fmt"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/portcheck/portcheck/internal/lab"
	"github.com/portcheck/portcheck/internal/netns"
)

// promLab runs Debian's prometheus in a lab namespace, scraping every
// second: a metrics server of the test (up), an address where nothing
// listens (down), a blackbox-style job whose probe target is a URL
// (relabelled onto the metrics server), file_sd files (JSON and YAML) and
// a job whose only target relabeling drops. The targets API is read from
// another namespace, as a vantage would.
type promLab struct {
	client, server *lab.Host
	url            string
	up, down       string
	dir            string
	config         string
}

const probeTarget = "http://10.0.1.5:9090/health"

func newPromLab(t *testing.T) *promLab {
	t.Helper()
	lab.Require(t, "prometheus")
	l := lab.New(t)
	client, server := l.Pair()
	s := server.Addr().String()
	pl := &promLab{client: client, server: server, url: "http://" + net.JoinHostPort(s, "9090"),
		up: net.JoinHostPort(s, "9100"), down: net.JoinHostPort(s, "9101"), dir: t.TempDir()}

	ln, err := netns.Listen(server.Path(), "tcp", pl.up)
	if err != nil {
		t.Fatal(err)
	}
	metrics := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/plain; version=0.0.4")
		fmt.Fprint(w, "# TYPE lab_up gauge\nlab_up 1\n")
	})}
	go metrics.Serve(ln)
	t.Cleanup(func() { metrics.Close() })

	write := func(name, text string) string {
		p := filepath.Join(pl.dir, name)
		if err := os.WriteFile(p, []byte(text), 0o644); err != nil {
			t.Fatal(err)
		}
		return p
	}
	jsonSD := write("targets.json", fmt.Sprintf(`[{"targets": [%q], "labels": {"env": "lab"}}]`, pl.up))
	yamlSD := write("targets.yml", fmt.Sprintf("- targets:\n    - %s\n  labels:\n    env: lab-old\n", net.JoinHostPort(s, "9103")))
	pl.config = write("prometheus.yml", fmt.Sprintf(`global:
  scrape_interval: 1s
  scrape_timeout: 500ms
scrape_configs:
  - job_name: app
    static_configs:
      - targets: [%[1]q]
        labels:
          team: web
      - targets: [%[2]q]
  - job_name: blackbox
    metrics_path: /probe
    params:
      module: [http_2xx]
    static_configs:
      - targets: [%[3]q]
    relabel_configs:
      - source_labels: [__address__]
        target_label: __param_target
      - source_labels: [__param_target]
        target_label: instance
      - target_label: __address__
        replacement: %[1]s
  - job_name: files
    file_sd_configs:
      - files: [%[4]q, %[5]q]
  - job_name: dropped
    static_configs:
      - targets: [%[6]q]
    relabel_configs:
      - action: drop
        source_labels: [__address__]
        regex: '.*:9102'
`, pl.up, pl.down, probeTarget, jsonSD, yamlSD, net.JoinHostPort(s, "9102")))
	server.StartPrometheus(t, net.JoinHostPort(s, "9090"), readFile(t, pl.config))
	return pl
}

func readFile(t *testing.T, p string) string {
	b, err := os.ReadFile(p)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// waitScraped reads the targets until every one of want active targets
// has been scraped once (bounded: a first scrape comes within one 1 s
// interval of discovery).
func (pl *promLab) waitScraped(t *testing.T, want int) *TargetsFacts {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for {
		f, err := ReadTargets(context.Background(), Server{URL: pl.url, NetNS: pl.client.Path(), Timeout: 2 * time.Second})
		if err == nil && len(f.Active) == want && !hasUnknown(f) {
			return f
		}
		if time.Now().After(deadline) {
			t.Fatalf("prometheus did not scrape %d targets within 30s: %v %+v", want, err, f)
		}
		time.Sleep(200 * time.Millisecond)
	}
}

func hasUnknown(f *TargetsFacts) bool {
	for _, t := range f.Active {
		if t.Health == HealthUnknown {
			return true
		}
	}
	return false
}

func TestTargetsOfARealPrometheus(t *testing.T) {
	pl := newPromLab(t)
	f := pl.waitScraped(t, 5)
	if f.Server != pl.url || f.NetNS != pl.client.Path() || len(f.Dropped) != 1 {
		t.Errorf("server %q netns %q dropped %d", f.Server, f.NetNS, len(f.Dropped))
	}
	old9103 := strings.Replace(pl.up, ":9100", ":9103", 1)
	for _, tc := range []struct {
		name, endpoint string
		jobs           []string
		present, up    bool
		via, evidence  string
		dropped        int
	}{
		{"up target", pl.up, []string{"app"}, true, true, "instance label", "job app scrapes http://" + pl.up + "/metrics (instance label " + pl.up + "): up", 0},
		{"up in two jobs, all of them", pl.up, nil, true, true, "", "job files scrapes", 0},
		{"down target with its error", pl.down, nil, true, false, "instance label", "connection refused", 0},
		{"blackbox probe target by host:port", "10.0.1.5:9090", nil, true, true, "instance label", "job blackbox scrapes", 0},
		{"blackbox probe target by URL", probeTarget, []string{"blackbox"}, true, true, "instance label", "/probe?module=http_2xx&target=", 0},
		{"old port not monitored", "10.0.1.5:8080", nil, false, false, "", "10.0.1.5:8080 is no active target of any job", 0},
		{"file_sd YAML target, down", old9103, []string{"files"}, true, false, "instance label", "down", 0},
		{"dropped by relabeling", strings.Replace(pl.up, ":9100", ":9102", 1), nil, false, false, "", "dropped by relabeling", 1},
		{"job filter", pl.down, []string{"blackbox"}, false, false, "", "no active target of job blackbox", 0},
	} {
		p := FindTarget(f, tc.endpoint, tc.jobs...)
		ev := strings.Join(p.Evidence, "\n")
		if p.Present != tc.present || p.Up != tc.up || p.Dropped != tc.dropped {
			t.Errorf("%s: present %v up %v dropped %d; want %v %v %d\n%s", tc.name, p.Present, p.Up, p.Dropped, tc.present, tc.up, tc.dropped, ev)
		}
		if tc.via != "" && (len(p.Matches) == 0 || p.Matches[0].Via != tc.via) {
			t.Errorf("%s: matches %+v, want via %s", tc.name, p.Matches, tc.via)
		}
		if !strings.Contains(ev, tc.evidence) {
			t.Errorf("%s: evidence %q lacks %q", tc.name, ev, tc.evidence)
		}
	}
	// The blackbox target keeps what Prometheus discovered.
	p := FindTarget(f, probeTarget, "blackbox")
	if len(p.Matches) != 1 || p.Matches[0].Target != probeTarget {
		t.Errorf("blackbox match %+v", p.Matches)
	}

	// The same files, as the observers read them: what Prometheus
	// accepted is what the parsers accept.
	cfg, err := ReadScrapeConfig(context.Background(), pl.config)
	if err != nil {
		t.Fatal(err)
	}
	if len(cfg.Jobs) != 4 || cfg.Jobs[1].Name != "blackbox" || cfg.Jobs[1].Relabelings != 3 || cfg.Jobs[1].MetricsPath != "/probe" {
		t.Errorf("jobs %+v", cfg.Jobs)
	}
	if sp := FindInScrapeConfig(cfg, "10.0.1.5:9090"); !sp.Present || sp.Matches[0].Job != "blackbox" ||
		!strings.Contains(strings.Join(sp.Evidence, "\n"), "a blackbox job probes it") {
		t.Errorf("scrape config: %+v", sp)
	}
	for _, name := range []string{"targets.json", "targets.yml"} {
		sd, err := ReadFileSD(context.Background(), filepath.Join(pl.dir, name))
		if err != nil {
			t.Fatal(err)
		}
		if len(sd.Groups) != 1 || len(sd.Groups[0].Targets) != 1 {
			t.Errorf("%s: %+v", name, sd)
		}
	}
}

func TestReadTargetsErrors(t *testing.T) {
	for _, tc := range []struct {
		name string
		s    Server
		want string
	}{
		{"bad URL", Server{URL: "10.0.0.9:9090"}, "want http(s)://host:port"},
		{"missing namespace", Server{URL: "http://127.0.0.1:9", NetNS: "/run/netns/portcheck-no-such-ns"}, "does not exist"},
		{"nothing listening", Server{URL: "http://127.0.0.1:9", Timeout: time.Second}, "connection refused"},
	} {
		if _, err := ReadTargets(context.Background(), tc.s); err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: error %v, want %q", tc.name, err, tc.want)
		}
	}
}

package monitoring

import (
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

func TestParseFileSD(t *testing.T) {
	want := []TargetGroup{
		{Targets: []string{"10.0.1.5:9090", "10.0.1.6:9090"}, Labels: map[string]string{"env": "prod", "job": "web"}},
		{Targets: []string{"http://10.0.1.5:9090/health"}},
	}
	for _, tc := range []struct{ name, text string }{
		{"web.json", `[
  {"targets": ["10.0.1.5:9090", "10.0.1.6:9090"], "labels": {"env": "prod", "job": "web"}},
  {"targets": ["http://10.0.1.5:9090/health"]}
]`},
		{"web.yml", `# web targets
- targets: ['10.0.1.5:9090', "10.0.1.6:9090"]
  labels: {env: prod, job: web}
- targets:
    - http://10.0.1.5:9090/health
`},
		{"web.YAML", "- targets: [10.0.1.5:9090, 10.0.1.6:9090]\n  labels:\n    env: prod\n    job: web\n- targets: [\"http://10.0.1.5:9090/health\"]\n"},
	} {
		f, err := ParseFileSD(tc.name, []byte(tc.text))
		if err != nil {
			t.Errorf("%s: %v", tc.name, err)
			continue
		}
		if d := cmp.Diff(want, f.Groups); d != "" {
			t.Errorf("%s (-want +got):\n%s", tc.name, d)
		}
	}
	for _, name := range []string{"empty.yml", "empty.json"} {
		text := ""
		if strings.HasSuffix(name, ".json") {
			text = "[]"
		}
		if f, err := ParseFileSD(name, []byte(text)); err != nil || len(f.Groups) != 0 {
			t.Errorf("%s: %v %+v", name, err, f)
		}
	}
}

func TestParseFileSDErrors(t *testing.T) {
	for _, tc := range []struct{ name, text, want string }{
		{"t.txt", "[]", `extension ".txt": Prometheus reads .json, .yml and .yaml files`},
		{"t.json", `{"targets": ["a:1"]}`, "cannot unmarshal object"},
		{"t.json", `[{"targets": ["a:1"], "label": {}}]`, `unknown field "label"`},
		{"t.json", `[{"targets": [""]}]`, "group 1: an empty target"},
		{"t.json", `[{"targets": ["a:1"], "labels": {"bad-name": "x"}}]`, `"bad-name" is not a valid label name`},
		{"t.json", `[] []`, "text after the list"},
		{"t.yml", "- targets: [a:1]\n  lables: {}\n", "field lables not found"},
		{"t.yml", "targets: [a:1]\n", "cannot unmarshal"},
	} {
		if _, err := ParseFileSD(tc.name, []byte(tc.text)); err == nil || !strings.Contains(err.Error(), tc.want) || !strings.Contains(err.Error(), tc.name) {
			t.Errorf("%s %q: error %v, want %q naming the file", tc.name, tc.text, err, tc.want)
		}
	}
}

func TestParseScrapeConfig(t *testing.T) {
	cfg := `global: {scrape_interval: 15s}
scrape_config_files: [extra/*.yml]
scrape_configs:
  - job_name: web
    static_configs:
      - targets: [10.0.1.5:9090]
  - job_name: blackbox-http
    metrics_path: /probe
    params: {module: [http_2xx]}
    static_configs:
      - targets: ["https://web.example/healthz"]
    relabel_configs:
      - {source_labels: [__address__], target_label: __param_target}
      - {target_label: __address__, replacement: 127.0.0.1:9115}
  - job_name: nodes
    file_sd_configs: [{files: [nodes/*.json]}]
    consul_sd_configs: [{server: localhost:8500}]
`
	f, err := ParseScrapeConfig("p.yml", []byte(cfg))
	if err != nil {
		t.Fatal(err)
	}
	want := []Job{
		{Name: "web", Static: []TargetGroup{{Targets: []string{"10.0.1.5:9090"}}}},
		{Name: "blackbox-http", MetricsPath: "/probe", Params: map[string][]string{"module": {"http_2xx"}},
			Static: []TargetGroup{{Targets: []string{"https://web.example/healthz"}}}, Relabelings: 2},
		{Name: "nodes", FileSD: []string{"nodes/*.json"}},
	}
	if d := cmp.Diff(want, f.Jobs); d != "" {
		t.Errorf("jobs (-want +got):\n%s", d)
	}
	if d := cmp.Diff([]string{`job "nodes": consul_sd_configs not read (only static and file discovery)`, "scrape_config_files extra/*.yml not read"}, f.Unresolved); d != "" {
		t.Errorf("unresolved (-want +got):\n%s", d)
	}
	p := FindInScrapeConfig(f, "web.example:443")
	ev := strings.Join(p.Evidence, "\n")
	if !p.Present || p.Matches[0].Job != "blackbox-http" || !strings.Contains(ev, "2 relabel_configs") ||
		!strings.Contains(ev, "job nodes also takes targets from nodes/*.json") || !strings.Contains(ev, "consul_sd_configs not read") {
		t.Errorf("https default port, evidence: %+v", p)
	}
	if p := FindInScrapeConfig(f, "10.0.1.5:8080", "web"); p.Present {
		t.Errorf("old port found: %+v", p)
	}
	for _, bad := range []struct{ text, want string }{
		{"scrape_configs:\n  - static_configs: []\n", "scrape config 1 has no job_name"},
		{"scrape_configs:\n  - job_name: a\n  - job_name: a\n", `job "a" defined twice`},
		{"scrape_configs:\n  - job_name: a\n    static_configs: [{targets: ['']}]\n", "an empty target"},
		{"scrape_configs: {", "p.yml"},
	} {
		if _, err := ParseScrapeConfig("p.yml", []byte(bad.text)); err == nil || !strings.Contains(err.Error(), bad.want) {
			t.Errorf("%q: error %v, want %q", bad.text, err, bad.want)
		}
	}
}

func TestEndpointOf(t *testing.T) {
	for in, want := range map[string]string{
		"10.0.1.5:9090":               "10.0.1.5:9090",
		"[2001:db8::5]:9090":          "[2001:db8::5]:9090",
		"[::ffff:10.0.1.5]:9090":      "10.0.1.5:9090",
		"Web.Example.:8080":           "web.example:8080",
		"http://10.0.1.5:9090/health": "10.0.1.5:9090",
		"http://web.example/":         "web.example:80",
		"https://web.example/healthz": "web.example:443",
		"https://[2001:db8::5]/x?y=1": "[2001:db8::5]:443",
		"10.0.1.5":                    "",
		"ftp://10.0.1.5/":             "",
		"10.0.1.5:0":                  "",
		"10.0.1.5:http":               "",
		"tcp://10.0.1.5:5432":         "10.0.1.5:5432",
		"":                            "",
		"http://:9090":                "",
	} {
		got, ok := EndpointOf(in)
		if got != want || ok != (want != "") {
			t.Errorf("EndpointOf(%q) = %q, %v; want %q", in, got, ok, want)
		}
	}
}

func TestFindInFileSD(t *testing.T) {
	f := &FileSDFacts{Path: "/etc/prometheus/web.json", Format: "json", Groups: []TargetGroup{
		{Targets: []string{"10.0.1.5:9090"}, Labels: map[string]string{"job": "web"}},
		{Targets: []string{"http://10.0.1.6:9090/health"}},
	}}
	if p := FindInFileSD(f, "10.0.1.5:9090"); !p.Present || p.Up || p.Matches[0].Job != "web" || p.Evidence[0] != "/etc/prometheus/web.json lists 10.0.1.5:9090" {
		t.Errorf("listed: %+v", p)
	}
	if p := FindInFileSD(f, "10.0.1.6:9090"); !p.Present {
		t.Errorf("a URL target: %+v", p)
	}
	if p := FindInFileSD(f, "10.0.1.5:8080"); p.Present || !strings.Contains(p.Evidence[0], "does not list 10.0.1.5:8080 (2 groups)") {
		t.Errorf("not listed: %+v", p)
	}
}

// FindTarget works on recorded facts alone (no server), as an evaluator
// replaying a facts document does.
func TestFindTargetOnRecordedFacts(t *testing.T) {
	var f TargetsFacts
	if err := json.Unmarshal([]byte(`{"server": "http://10.0.0.9:9090", "active": [
	  {"scrape_pool": "web", "scrape_url": "http://10.0.1.5:9090/metrics", "labels": {"instance": "10.0.1.5:9090", "job": "web"},
	   "discovered_labels": {"__address__": "10.0.1.5:9090"}, "health": "unknown"}],
	  "dropped": []}`), &f); err != nil {
		t.Fatal(err)
	}
	p := FindTarget(&f, "10.0.1.5:9090")
	if !p.Present || p.Up || !strings.Contains(p.Evidence[0], "not scraped yet") {
		t.Errorf("unknown health: %+v", p)
	}
	if p := FindTarget(&f, "10.0.1.5"); p.Present || !strings.Contains(p.Evidence[0], "names no host and port") {
		t.Errorf("no port: %+v", p)
	}
}

func TestReadFileSDFromDisk(t *testing.T) {
	dir := t.TempDir()
	p := filepath.Join(dir, "t.json")
	os.WriteFile(p, []byte(`[{"targets": ["a:1"]}]`), 0o644)
	if f, err := ReadFileSD(context.Background(), p); err != nil || f.Format != "json" {
		t.Errorf("%v %+v", err, f)
	}
	if _, err := ReadFileSD(context.Background(), filepath.Join(dir, "nope.json")); err == nil {
		t.Error("a missing file was read")
	}
}

func FuzzParseFileSD(f *testing.F) {
	f.Add("t.json", []byte(`[{"targets": ["10.0.1.5:9090"], "labels": {"env": "prod"}}]`))
	f.Add("t.yml", []byte("- targets: [10.0.1.5:9090]\n  labels: {env: prod}\n"))
	f.Fuzz(func(t *testing.T, name string, data []byte) {
		ext := ".json"
		if strings.HasSuffix(name, "y") {
			ext = ".yml"
		}
		fs, err := ParseFileSD("fuzz"+ext, data)
		if err != nil {
			return
		}
		for _, g := range fs.Groups {
			for _, tg := range g.Targets {
				if strings.TrimSpace(tg) == "" {
					t.Errorf("empty target accepted")
				}
				EndpointOf(tg)
			}
		}
	})
}

func FuzzParseScrapeConfig(f *testing.F) {
	f.Add([]byte("scrape_configs:\n  - job_name: a\n    static_configs: [{targets: ['10.0.1.5:9090']}]\n"))
	f.Fuzz(func(t *testing.T, data []byte) {
		c, err := ParseScrapeConfig("fuzz.yml", data)
		if err != nil {
			return
		}
		FindInScrapeConfig(c, "10.0.1.5:9090")
	})
}

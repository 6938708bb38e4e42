package blackbox

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/portcheck/portcheck/config"
	"github.com/portcheck/portcheck/internal/golden"
)

func load(t *testing.T, path string) *config.Config {
	t.Helper()
	cfg, diags := config.Load(path, config.Options{})
	if diags.HasErrors() {
		t.Fatalf("load %s: %s", path, diags.Error())
	}
	return cfg
}

// exportCases are the golden exports: every file under testdata/<dir>/<out>/,
// plus not_exported.txt with the notes the command prints.
var exportCases = []struct {
	name, dir, out string
	opts           Options
	notExported    int
}{
	{"this machine", "testdata/full", "out", Options{}, 6},
	{"from a vantage host, 1s scrapes", "testdata/full", "out_from_client",
		Options{From: "client", Exporter: "blackbox.lab:9115", Job: "edge", ScrapeInterval: time.Second}, 17},
}

func TestExportGolden(t *testing.T) {
	for _, tc := range exportCases {
		t.Run(tc.name, func(t *testing.T) {
			e, err := Build(load(t, tc.dir), tc.opts)
			if err != nil {
				t.Fatal(err)
			}
			files, err := e.Files()
			if err != nil {
				t.Fatal(err)
			}
			dir := filepath.Join(tc.dir, tc.out)
			for _, f := range files {
				golden.Compare(t, filepath.Join(dir, f.Name), f.Data)
			}
			var notes strings.Builder
			for _, n := range e.NotExported {
				notes.WriteString(n.String() + "\n")
			}
			golden.Compare(t, filepath.Join(dir, "not_exported.txt"), []byte(notes.String()))
			if len(e.NotExported) != tc.notExported {
				t.Errorf("%d not exported, want %d", len(e.NotExported), tc.notExported)
			}
			// Deterministic: a second export is byte for byte the same.
			again, _ := Build(load(t, tc.dir), tc.opts)
			files2, _ := again.Files()
			for i := range files {
				if string(files[i].Data) != string(files2[i].Data) {
					t.Errorf("%s differs between two exports", files[i].Name)
				}
			}
		})
	}
}

// Every declared endpoint is either exported or named as not exported.
func TestNoEndpointDroppedSilently(t *testing.T) {
	for _, tc := range exportCases {
		cfg := load(t, tc.dir)
		e, err := Build(cfg, tc.opts)
		if err != nil {
			t.Fatal(err)
		}
		seen := map[string]bool{}
		for _, sc := range e.Scrape.ScrapeConfigs[0].StaticConfigs {
			seen[sc.Labels[LabelEndpoint]] = true
		}
		for _, n := range e.NotExported {
			seen[n.Endpoint] = true
		}
		for _, ep := range cfg.Endpoints {
			if !seen[ep.Name] {
				t.Errorf("%s: endpoint.%s is neither exported nor listed as not exported", tc.name, ep.Name)
			}
		}
	}
}

func TestBuildRefusesOptionsThatCannotWork(t *testing.T) {
	cfg := load(t, "testdata/full")
	for _, tc := range []struct {
		name string
		opts Options
		want string
	}{
		{"unknown vantage host", Options{From: "nowhere"}, `no host "nowhere" is declared`},
		{"exporter without port", Options{Exporter: "127.0.0.1"}, "want host:port"},
		{"job name with a space", Options{Job: "my job"}, "Prometheus job name"},
		{"timeout above interval", Options{ScrapeInterval: time.Second, ScrapeTimeout: 2 * time.Second}, "longer than the scrape interval"},
	} {
		_, err := Build(cfg, tc.opts)
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: err %v, want %q", tc.name, err, tc.want)
		}
	}
}

// requireTool skips without the binary, and fails in CI, where .ci/run
// installs it.
func requireTool(t *testing.T, bin string) {
	t.Helper()
	if _, err := exec.LookPath(bin); err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatalf("%s is not installed (CI must run this test)", bin)
		}
		t.Skipf("%s is not installed", bin)
	}
}

func runTool(t *testing.T, name string, args ...string) {
	t.Helper()
	out, err := exec.Command(name, args...).CombinedOutput()
	if err != nil {
		t.Errorf("%s %s: %v\n%s", name, strings.Join(args, " "), err, out)
	}
}

// writeExport writes a fresh export into a temp dir and returns the dir.
func writeExport(t *testing.T, e *Export) string {
	t.Helper()
	files, err := e.Files()
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	for _, f := range files {
		if err := os.WriteFile(filepath.Join(dir, f.Name), f.Data, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return dir
}

// prometheusYML embeds the exported fragment in a whole configuration.
func prometheusYML(t *testing.T, dir, global string) string {
	t.Helper()
	frag, err := os.ReadFile(filepath.Join(dir, FileScrape))
	if err != nil {
		t.Fatal(err)
	}
	p := filepath.Join(dir, "prometheus.yml")
	text := "global:\n" + global + "rule_files:\n  - " + filepath.Join(dir, FileRules) + "\n" + string(frag)
	if err := os.WriteFile(p, []byte(text), 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}

// The real tools accept what export writes: blackbox_exporter's own
// configuration check (strict: an unknown field fails), promtool check
// config on a prometheus.yml embedding the fragment, promtool check rules.
func TestExportedFilesPassTheRealTools(t *testing.T) {
	requireTool(t, "promtool")
	requireTool(t, "prometheus-blackbox-exporter")
	for _, tc := range exportCases {
		t.Run(tc.name, func(t *testing.T) {
			e, err := Build(load(t, tc.dir), tc.opts)
			if err != nil {
				t.Fatal(err)
			}
			dir := writeExport(t, e)
			runTool(t, "prometheus-blackbox-exporter", "--config.check", "--config.file="+filepath.Join(dir, FileBlackbox))
			runTool(t, "promtool", "check", "config", prometheusYML(t, dir, "  scrape_interval: 15s\n"))
			runTool(t, "promtool", "check", "rules", filepath.Join(dir, FileRules))
		})
	}
}

// The alert rules, unit-tested by promtool: each fires after its `for`
// and not before, only for its own job and expected state, and the
// certificate rule by each endpoint's min_days_valid. The test file reads
// the golden rules.yml, which TestExportGolden keeps equal to the export.
func TestAlertRulesUnderPromtool(t *testing.T) {
	requireTool(t, "promtool")
	runTool(t, "promtool", "test", "rules", "testdata/full/rules_test.yml")
}

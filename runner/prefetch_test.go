package runner_test

import (
	"context"
	"net/netip"
	"os"
	"path/filepath"
	"sync"
	"testing"

	"github.com/portcheck/portcheck/config"
	"github.com/portcheck/portcheck/providers"
	"github.com/portcheck/portcheck/providers/facts"
	"github.com/portcheck/portcheck/runner"
)

// countingSource counts the hosts whose facts were asked for.
type countingSource struct {
	facts.Source
	mu   sync.Mutex
	for_ map[string]int
}

func (s *countingSource) For(name string, addrs []netip.Addr, exec providers.Exec) (facts.HostFacts, error) {
	s.mu.Lock()
	s.for_[name]++
	s.mu.Unlock()
	return s.Source.For(name, addrs, exec)
}

// TestAllLayersPrefetchReadsOnlyCheckedHosts: -all-layers reads every
// server host's facts up front, but only of hosts whose checks will run:
// a host whose checks are errors known ahead (here, no facts document) is
// never read, and its checks stay errors, never skips.
func TestAllLayersPrefetchReadsOnlyCheckedHosts(t *testing.T) {
	src, err := os.ReadFile("testdata/facts/web.pc.hcl")
	if err != nil {
		t.Fatal(err)
	}
	src = append(src, []byte(`
host "ghost" {
  address = "10.102.68.9"
}

endpoint "ghostly" {
  host = host.ghost
  port = 8080
}
`)...)
	cfg, diags := config.LoadSources(map[string][]byte{"web.pc.hcl": src}, config.Options{})
	if diags.HasErrors() {
		t.Fatal(diags)
	}
	docs, err := facts.Load(filepath.Join("testdata/facts", "web.json"))
	if err != nil {
		t.Fatal(err)
	}
	recorded := facts.Recorded(docs)
	env := runner.Environment{GOOS: "linux", Offline: true, Facts: func(h *config.Host) error {
		_, err := recorded.For(h.Name, h.Addresses, providers.Exec{})
		return err
	}}
	plan, err := runner.BuildPlan(cfg, runner.PlanOptions{Env: env})
	if err != nil {
		t.Fatal(err)
	}
	counting := &countingSource{Source: recorded, for_: map[string]int{}}
	var ghostChecks, ghostErrors int
	runner.Verify(context.Background(), plan, runner.Options{AllLayers: true, Observers: runner.Observers{Facts: counting}}, func(er *runner.EndpointResult) {
		if er.Plan.Endpoint.Name != "ghostly" {
			return
		}
		for _, r := range er.Results {
			if r.Check.From == "" || r.Check.Layer < providers.LayerConnectivity {
				ghostChecks++
				if r.Status == runner.StatusError {
					ghostErrors++
				}
			}
		}
	})
	if counting.for_["web"] == 0 {
		t.Errorf("the facts of host web were never read")
	}
	if n := counting.for_["ghost"]; n != 0 {
		t.Errorf("the facts of host ghost, whose checks cannot run, were asked for %d times", n)
	}
	if ghostChecks == 0 || ghostErrors != ghostChecks {
		t.Errorf("host ghost's server-side checks: %d, of which %d errors; want all errors", ghostChecks, ghostErrors)
	}
}

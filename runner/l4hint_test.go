package runner_test

import (
	"strings"
	"testing"

	"github.com/portcheck/portcheck/config"
	"github.com/portcheck/portcheck/internal/lab"
	"github.com/portcheck/portcheck/runner"
)

// TestL4HintsUseTheHostsRules pins issue 9.12's L4 side: the fix for a
// filtered port and for a port open that is declared closed names the
// table and chain that exist on the server (not a fixed "inet filter
// input") and runs as printed in its namespace.
func TestL4HintsUseTheHostsRules(t *testing.T) {
	lab.Require(t, "ip", "nft")
	l := lab.New(t)
	client, server := l.Pair()
	server.ListenTCP("tcp4", "0.0.0.0:8080")
	server.ListenTCP("tcp4", "0.0.0.0:6379")
	server.NFT(`table inet edge {
  chain inbound {
    type filter hook input priority 0; policy accept;
    tcp dport 8080 drop
  }
}
`)
	src := pairHosts(client, server) + `
endpoint "web" {
  host    = host.server
  from    = [host.client]
  port    = 8080
  timeout = "300ms"
  retries = 0
}
endpoint "redis" {
  host    = host.server
  from    = [host.client]
  port    = 6379
  state   = "closed"
  timeout = "300ms"
  retries = 0
}
`
	want := "ip netns exec " + server.NS + " nft "
	for _, name := range []string{"web", "redis"} {
		er := verifyNamed(t, src, name, true)
		r := resultOf(er, "L4 connectivity")
		if r == nil || r.Status != runner.StatusFail {
			t.Fatalf("%s: L4 should fail:\n%s", name, dump(er))
		}
		t.Logf("%s: %s", name, r.Hint)
		if !strings.Contains(r.Hint, want) || !strings.Contains(r.Hint, "inet edge inbound") || strings.Contains(r.Hint, "inet filter input") {
			t.Errorf("%s: L4 hint %q, want a command in %q naming inet edge inbound", name, r.Hint, want)
		}
	}
}

// verifyNamed verifies src and returns the result of endpoint name.
func verifyNamed(t *testing.T, src, name string, allLayers bool) *runner.EndpointResult {
	t.Helper()
	cfg, diags := config.LoadSources(map[string][]byte{"lab.pc.hcl": []byte(src)}, config.Options{})
	if diags.HasErrors() {
		t.Fatalf("config: %v", diags)
	}
	got := verifyLiveAndFacts(t, cfg, []string{"endpoint." + name}, allLayers)
	if len(got) != 1 {
		t.Fatal("no result")
	}
	return got[0]
}

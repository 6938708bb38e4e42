package runner_test

import (
	"fmt"
	"strings"
	"testing"

	"github.com/portcheck/portcheck/internal/lab"
	"github.com/portcheck/portcheck/runner"
)

// client → r1 → r2 → server. The server listens and its own firewall lets
// the port in (L1, L2 pass); a drop in r2's forward chain times the
// connection out (L4 filtered), and the trace says where: the kernel still
// answers TTL 2 from r2 (TTL expiry is checked before the forward hook),
// so the path stops after r2. The diagnosis names the path, not L4.
func TestPathScenarios(t *testing.T) {
	lab.Require(t, "ip", "nft", "sysctl")
	for _, tc := range []struct {
		name      string
		dropAtR2  bool
		wantLayer int
		wantCause string
		summary   string
	}{
		{"healthy", false, 0, runner.CauseOK, ""},
		{"dropped at r2's forward chain", true, 5, runner.CausePathBroken, "stops after"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			l := lab.New(t)
			hosts := l.Chain("client", "r1", "r2", "server")
			client, r2, server := hosts[0], hosts[2], hosts[3]
			server.ListenTCP("tcp4", "0.0.0.0:8080")
			if tc.dropAtR2 {
				r2.NFT("table inet f {\n  chain forward {\n    type filter hook forward priority 0; policy accept;\n    tcp dport 8080 drop\n  }\n}\n")
			}
			src := pairHosts(client, server) + `
endpoint "app" {
  host    = host.server
  from    = [host.client]
  port    = 8080
  timeout = "300ms"
  retries = 0
  expect {
    path {
      max_hops = 6
    }
  }
}
`
			er := verifyOne(t, src, false)
			d := er.Diagnosis
			if int(d.Layer) != tc.wantLayer || d.Cause != tc.wantCause || !strings.Contains(d.Summary, tc.summary) {
				t.Fatalf("diagnosis L%d %s %q, want L%d %s with %q\n%s", d.Layer, d.Cause, d.Summary, tc.wantLayer, tc.wantCause, tc.summary, dump(er))
			}
			if tc.dropAtR2 {
				r2Addr := r2.Addrs[0].String()
				if !strings.Contains(d.Summary, "after "+r2Addr) && !strings.Contains(d.Summary, fmt.Sprintf("after %s", r2.Addrs[len(r2.Addrs)-1])) {
					t.Errorf("diagnosis %q does not name r2 (%v)", d.Summary, r2.Addrs)
				}
				if got := statusOf(er, "L4 connectivity"); got != runner.StatusFail {
					t.Errorf("L4 = %s, want fail (filtered)\n%s", got, dump(er))
				}
			}
		})
	}
}

package runner_test

import (
	"bytes"
	"fmt"
	"strings"
	"testing"

	"github.com/portcheck/portcheck/internal/lab"
	"github.com/portcheck/portcheck/providers"
	pathtrace "github.com/portcheck/portcheck/providers/path"
	"github.com/portcheck/portcheck/runner"
	"github.com/portcheck/portcheck/runner/report"
)

// pathLab is client → r1 → r2 → server with the endpoint body given.
type pathLab struct {
	client, r1, r2, server *lab.Host
}

func newPathLab(t *testing.T) pathLab {
	t.Helper()
	lab.Require(t, "ip", "nft", "sysctl")
	l := lab.New(t)
	hs := l.Chain("client", "r1", "r2", "server")
	return pathLab{hs[0], hs[1], hs[2], hs[3]}
}

func (p pathLab) verify(t *testing.T, body string) *runner.EndpointResult {
	t.Helper()
	src := pairHosts(p.client, p.server) + fmt.Sprintf(`
endpoint "app" {
  host    = host.server
  from    = [host.client]
  retries = 0
  %s
}
`, body)
	return verifyOne(t, src, false)
}

// text renders one endpoint result as `verify` prints it.
func text(t *testing.T, er *runner.EndpointResult, verbose bool) string {
	t.Helper()
	var b bytes.Buffer
	tr := &report.Text{W: &b, Verbose: verbose}
	tr.Start(&runner.Plan{Endpoints: []*runner.EndpointPlan{er.Plan}})
	tr.Endpoint(er)
	tr.Finish(runner.Summary{})
	return b.String()
}

func pathFacts(t *testing.T, er *runner.EndpointResult) (*runner.Result, *pathtrace.Facts) {
	t.Helper()
	r := resultOf(er, "L5 path")
	if r == nil {
		t.Fatalf("no L5 result\n%s", dump(er))
	}
	f, _ := r.Evidence.(*pathtrace.Facts)
	if f == nil {
		t.Fatalf("L5 %s %q: no trace facts", r.Status, r.Summary)
	}
	return r, f
}

// client → r1 → r2 → server. The server listens and its own firewall lets
// the port in (L1, L2 pass); a drop in r2's forward chain times the
// connection out (L4 filtered), and the trace says where: the kernel still
// answers TTL 2 from r2 (TTL expiry is checked before the forward hook),
// so the path stops after r2. The diagnosis names the path, not L4; the
// hint names r2's forward chain (issue 11.6), and the text report shows
// the hop table under the failing L5 line (issue 11.5).
func TestPathScenarios(t *testing.T) {
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
			p := newPathLab(t)
			p.server.ListenTCP("tcp4", "0.0.0.0:8080")
			if tc.dropAtR2 {
				p.r2.NFT("table inet f {\n  chain forward {\n    type filter hook forward priority 0; policy accept;\n    tcp dport 8080 drop\n  }\n}\n")
			}
			er := p.verify(t, `port = 8080
  timeout = "300ms"
  expect {
    path {
      max_hops = 6
      rounds   = 3
      timeout  = "300ms"
    }
  }`)
			d := er.Diagnosis
			if int(d.Layer) != tc.wantLayer || d.Cause != tc.wantCause || !strings.Contains(d.Summary, tc.summary) {
				t.Fatalf("diagnosis L%d %s %q, want L%d %s with %q\n%s", d.Layer, d.Cause, d.Summary, tc.wantLayer, tc.wantCause, tc.summary, dump(er))
			}
			out := text(t, er, false)
			if !tc.dropAtR2 {
				if strings.Contains(out, "LOSS%") {
					t.Errorf("hop table shown for a passing trace without -v:\n%s", out)
				}
				if out := text(t, er, true); !strings.Contains(out, "LOSS%") {
					t.Errorf("no hop table with -v:\n%s", out)
				}
				return
			}
			r2Addr := p.r2.Addrs[0].String()
			if !strings.Contains(d.Summary, "after "+r2Addr) {
				t.Errorf("diagnosis %q does not name r2 (%v)", d.Summary, p.r2.Addrs)
			}
			if want := "check " + r2Addr + "'s forward chain first"; !strings.Contains(d.Hint, want) {
				t.Errorf("hint %q does not send the user to r2's forward chain (%q)", d.Hint, want)
			}
			if got := statusOf(er, "L4 connectivity"); got != runner.StatusFail {
				t.Errorf("L4 = %s, want fail (filtered)\n%s", got, dump(er))
			}
			for _, want := range []string{"HOP  ADDRESS", "  2  " + r2Addr, "  3  *", "(the target was not reached)", "note: "} {
				if !strings.Contains(out, want) {
					t.Errorf("text report lacks %q:\n%s", want, out)
				}
			}
		})
	}
}

// Issue 11.1: a UDP service behind a router that drops only TCP to its
// port. The path block names no mode, so the trace uses UDP, like the
// service, and passes.
func TestPathUDPEndpointTracedWithUDP(t *testing.T) {
	p := newPathLab(t)
	p.server.ListenUDP("udp4", "0.0.0.0:5353")
	p.r2.NFT("table inet f {\n  chain forward {\n    type filter hook forward priority 0; policy accept;\n    tcp dport 5353 drop\n  }\n}\n")
	er := p.verify(t, `port = 5353
  protocol = "udp"
  timeout  = "300ms"
  expect {
    path {
      rounds  = 2
      timeout = "300ms"
    }
  }`)
	r, f := pathFacts(t, er)
	if r.Status != runner.StatusPass || f.Mode != "udp" || !f.Reached {
		t.Fatalf("L5 %s (%s), mode %s, reached %v; want a passing udp trace\n%s", r.Status, r.Summary, f.Mode, f.Reached, dump(er))
	}
	if d := er.Diagnosis; d.Cause != runner.CauseOK {
		t.Errorf("diagnosis %s %q, want ok", d.Cause, d.Summary)
	}
}

// Issue 11.2: max_hops shorter than the path: the last hop still forwards.
// That is an error (the trace cannot say whether the port is reachable),
// never path_broken.
func TestPathOutOfHops(t *testing.T) {
	p := newPathLab(t)
	p.server.ListenTCP("tcp4", "0.0.0.0:8080")
	er := p.verify(t, `port = 8080
  expect {
    path {
      max_hops = 2
      rounds   = 2
      timeout  = "300ms"
    }
  }`)
	r, f := pathFacts(t, er)
	if r.Status != runner.StatusError || r.Cause != "" || !f.OutOfHops {
		t.Fatalf("L5 %s %s %q (out_of_hops %v), want an error, not path_broken\n%s", r.Status, r.Cause, r.Summary, f.OutOfHops, dump(er))
	}
	if !strings.Contains(r.Summary, "longer than max_hops = 2") {
		t.Errorf("summary %q", r.Summary)
	}
	if d := er.Diagnosis; d.Cause == runner.CausePathBroken || !d.Incomplete {
		t.Errorf("diagnosis %s incomplete=%v %q, want ok but incomplete", d.Cause, d.Incomplete, d.Summary)
	}
	// An error shows the table too.
	if out := text(t, er, false); !strings.Contains(out, "LOSS%") {
		t.Errorf("no hop table for an L5 error:\n%s", out)
	}
}

// Issue 11.3: r1 forwards but sends no time-exceeded. A via on r1 can be
// neither confirmed nor denied: an error that says so, never "not through".
func TestPathViaSilentHop(t *testing.T) {
	p := newPathLab(t)
	p.server.ListenTCP("tcp4", "0.0.0.0:8080")
	p.r1.NFT("table inet f {\n  chain output {\n    type filter hook output priority 0; policy accept;\n    icmp type time-exceeded drop\n  }\n}\n")
	er := p.verify(t, fmt.Sprintf(`port = 8080
  expect {
    path {
      via     = [%q]
      rounds  = 2
      timeout = "300ms"
    }
  }`, p.r1.Addrs[0]))
	r, _ := pathFacts(t, er)
	if r.Status != runner.StatusError || !strings.Contains(r.Summary, "cannot confirm the path goes through "+p.r1.Addrs[0].String()) {
		t.Fatalf("L5 %s %q, want an error that cannot confirm the via\n%s", r.Status, r.Summary, dump(er))
	}
	if strings.Contains(r.Summary, "not through") {
		t.Errorf("confident \"not through\": %q", r.Summary)
	}
}

// Issue 11.4: 1 in 3 probes that would reach the server is dropped at r2
// (numgen inc: exactly, no chance involved). Rounds are declared, and the
// declared max_loss fails instead of "everything as declared".
func TestPathMaxLoss(t *testing.T) {
	p := newPathLab(t)
	p.server.ListenTCP("tcp4", "0.0.0.0:8080")
	// At r2's forward hook a probe sent with TTL 3 has TTL 1 left: it is
	// the probe that reaches the server as hop 3. Only SYNs count: the RST
	// that ends an answered probe leaves with the same TTL.
	p.r2.NFT("table inet f {\n  chain forward {\n    type filter hook forward priority 0; policy accept;\n    ip ttl 1 tcp dport 8080 tcp flags & (syn | ack) == syn numgen inc mod 3 == 0 drop\n  }\n}\n")
	er := p.verify(t, `port = 8080
  expect {
    path {
      rounds   = 6
      timeout  = "300ms"
      max_loss = 10
    }
  }`)
	r, f := pathFacts(t, er)
	if r.Status != runner.StatusFail || r.Cause != runner.CausePathBroken {
		t.Fatalf("L5 %s %q, want path_broken for loss\n%s", r.Status, r.Summary, dump(er))
	}
	if want := "33.33% of the probes to the target were lost (2 of 6), more than max_loss = 10%"; !strings.Contains(r.Summary, want) {
		t.Errorf("summary %q, want %q", r.Summary, want)
	}
	if f.Rounds != 6 {
		t.Errorf("%d rounds, want the declared 6", f.Rounds)
	}
	if d := er.Diagnosis; d.Layer != providers.LayerPath || d.Cause != runner.CausePathBroken {
		t.Errorf("diagnosis L%d %s, want L5 path_broken", d.Layer, d.Cause)
	}
}

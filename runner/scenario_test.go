package runner_test

import (
	"context"
	"crypto/tls"
	"fmt"
	"io"
	"log"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/health"
	healthpb "google.golang.org/grpc/health/grpc_health_v1"

	"github.com/portcheck/portcheck/config"
	"github.com/portcheck/portcheck/internal/lab"
	"github.com/portcheck/portcheck/internal/testcert"
	"github.com/portcheck/portcheck/providers"
	"github.com/portcheck/portcheck/runner"

	_ "github.com/portcheck/portcheck/providers/all"
)

// scenario is one lab setup and the diagnosis portcheck must reach.
type scenario struct {
	name string
	// setup starts listeners / loads rules on the server and returns the
	// endpoint body (HCL attributes and expect blocks after host/from).
	setup     func(t *testing.T, server *lab.Host) string
	allLayers bool
	wantLayer providers.Layer
	wantCause string
	// wantStatuses pins "L<n> check" -> status for checks that must have it.
	wantStatuses map[string]runner.Status
	// wantCauses pins "L<n> check" -> cause likewise.
	wantCauses map[string]string
	// wantSummary must appear in the diagnosis summary.
	wantSummary string
	// wantCheckSummary pins "L<n> check" -> text its summary holds.
	wantCheckSummary map[string]string
}

func serveHTTP(t *testing.T, ln net.Listener, status int, body string) {
	srv := &http.Server{ErrorLog: log.New(io.Discard, "", 0), Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.WriteHeader(status)
		fmt.Fprint(w, body)
	})}
	go srv.Serve(ln)
	t.Cleanup(func() { srv.Close() })
}

func TestScenarios(t *testing.T) {
	lab.Require(t, "ip", "nft")
	ca := testcert.NewCA(t, "portcheck test CA")
	caFile := ca.WriteCA(t)

	scenarios := []scenario{
		{
			name: "healthy",
			setup: func(t *testing.T, s *lab.Host) string {
				serveHTTP(t, s.Listener("tcp4", "0.0.0.0:8080"), 200, "ok")
				return `port = 8080
				expect {
				  http {
				    path = "/healthz"
				    body = "^ok$"
				  }
				}`
			},
			wantLayer: 0, wantCause: runner.CauseOK,
			wantStatuses: map[string]runner.Status{"L1 listening": runner.StatusPass, "L4 connectivity": runner.StatusPass, "L7 http": runner.StatusPass},
		},
		{
			name:      "not listening",
			setup:     func(t *testing.T, s *lab.Host) string { return `port = 8080` },
			wantLayer: 1, wantCause: runner.CauseNotListening,
			wantStatuses: map[string]runner.Status{"L4 connectivity": runner.StatusSkip},
		},
		{
			name: "bound to 127.0.0.1 only",
			setup: func(t *testing.T, s *lab.Host) string {
				s.ListenTCP("tcp4", "127.0.0.1:8080")
				return `port = 8080`
			},
			wantLayer: 1, wantCause: runner.CauseLoopbackOnly,
		},
		{
			name: "port-prefix trap: 808 listening, 8080 declared",
			setup: func(t *testing.T, s *lab.Host) string {
				s.ListenTCP("tcp4", "0.0.0.0:808")
				return `port = 8080`
			},
			wantLayer: 1, wantCause: runner.CauseNotListening,
		},
		{
			name: "dual-stack socket on :: serves IPv4",
			setup: func(t *testing.T, s *lab.Host) string {
				s.ListenTCP("tcp", ":8080") // Go clears IPV6_V6ONLY for "tcp" wildcard listeners
				return `port = 8080`
			},
			wantLayer: 0, wantCause: runner.CauseOK,
		},
		{
			name: "dropped by nft: filtered",
			setup: func(t *testing.T, s *lab.Host) string {
				s.ListenTCP("tcp4", "0.0.0.0:8080")
				s.NFT(nftInput("tcp dport 8080 drop"))
				return `port = 8080
				timeout = "300ms"
				retries = 0`
			},
			// L2 names the rule; L4, run anyway, sees what the client sees.
			allLayers: true,
			wantLayer: 2, wantCause: runner.CauseFirewallBlocked,
			wantCauses: map[string]string{"L4 connectivity": runner.CauseFiltered},
		},
		{
			name: "rejected with tcp reset",
			setup: func(t *testing.T, s *lab.Host) string {
				s.ListenTCP("tcp4", "0.0.0.0:8080")
				s.NFT(nftInput("tcp dport 8080 reject with tcp reset"))
				return `port = 8080`
			},
			allLayers: true,
			wantLayer: 2, wantCause: runner.CauseFirewallBlocked,
			wantCauses: map[string]string{"L4 connectivity": runner.CauseRefused},
		},
		{
			name: "rejected with icmp admin-prohibited",
			setup: func(t *testing.T, s *lab.Host) string {
				s.ListenTCP("tcp4", "0.0.0.0:8080")
				s.NFT(nftInput("tcp dport 8080 reject with icmp type admin-prohibited"))
				return `port = 8080`
			},
			allLayers: true,
			wantLayer: 2, wantCause: runner.CauseFirewallBlocked,
			wantCauses: map[string]string{"L4 connectivity": runner.CauseUnreachable},
		},
		{
			// The SYN is accepted, the SYN-ACK is not: output drops what
			// it does not accept, and nothing accepts established traffic.
			name: "reply dropped: output policy drop without established",
			setup: func(t *testing.T, s *lab.Host) string {
				s.ListenTCP("tcp4", "0.0.0.0:8080")
				s.NFT(nftOutput("drop", "udp dport 53 accept"))
				return `port = 8080
				timeout = "300ms"
				retries = 0`
			},
			allLayers: true,
			wantLayer: 2, wantCause: runner.CauseFirewallBlocked,
			wantSummary: "is accepted, but the reply is dropped by inet pc output policy drop",
			wantCauses:  map[string]string{"L4 connectivity": runner.CauseFiltered},
		},
		{
			name: "reply accepted: output policy drop with established accepted",
			setup: func(t *testing.T, s *lab.Host) string {
				s.ListenTCP("tcp4", "0.0.0.0:8080")
				s.NFT(nftOutput("drop", "ct state established,related accept"))
				return `port = 8080`
			},
			allLayers: true,
			wantLayer: 0, wantCause: runner.CauseOK,
			wantStatuses: map[string]runner.Status{"L2 firewall": runner.StatusPass, "L4 connectivity": runner.StatusPass},
		},
		{
			name: "HTTP 503 where 200 is declared",
			setup: func(t *testing.T, s *lab.Host) string {
				serveHTTP(t, s.Listener("tcp4", "0.0.0.0:8080"), 503, "down for maintenance")
				return `port = 8080
				expect {
				  http { path = "/" }
				}`
			},
			wantLayer: 7, wantCause: runner.CauseAppMismatch,
		},
		{
			name: "TLS expired certificate",
			setup: func(t *testing.T, s *lab.Host) string {
				cert := ca.Expired(t, "web.example")
				serveTLS(t, s, cert)
				return fmt.Sprintf(`port = 8443
				expect {
				  tls {
				    server_name = "web.example"
				    ca_file = %q
				  }
				}`, caFile)
			},
			wantLayer: 7, wantCause: runner.CauseTLSError,
		},
		{
			name: "TLS wrong SNI",
			setup: func(t *testing.T, s *lab.Host) string {
				serveTLS(t, s, ca.Valid(t, "web.example"))
				return fmt.Sprintf(`port = 8443
				expect {
				  tls {
				    server_name = "api.example"
				    ca_file = %q
				  }
				}`, caFile)
			},
			wantLayer: 7, wantCause: runner.CauseTLSError,
		},
		{
			name: "TLS valid",
			setup: func(t *testing.T, s *lab.Host) string {
				serveTLS(t, s, ca.Valid(t, "web.example"))
				return fmt.Sprintf(`port = 8443
				expect {
				  tls {
				    server_name = "web.example"
				    ca_file = %q
				    min_days_valid = 30
				  }
				}`, caFile)
			},
			wantLayer: 0, wantCause: runner.CauseOK,
		},
		{
			name: "gRPC NOT_SERVING",
			setup: func(t *testing.T, s *lab.Host) string {
				ln := s.Listener("tcp4", "0.0.0.0:9090")
				gs := grpc.NewServer()
				hs := health.NewServer()
				hs.SetServingStatus("shop.Cart", healthpb.HealthCheckResponse_NOT_SERVING)
				healthpb.RegisterHealthServer(gs, hs)
				go gs.Serve(ln)
				t.Cleanup(gs.Stop)
				return `port = 9090
				expect {
				  grpc { service = "shop.Cart" }
				}`
			},
			wantLayer: 7, wantCause: runner.CauseAppMismatch,
		},
		{
			name: "UDP closed port",
			setup: func(t *testing.T, s *lab.Host) string {
				return `port = 5353
			protocol = "udp"`
			},
			allLayers: true,
			wantLayer: 1, wantCause: runner.CauseNotListening,
			// With -all-layers the probe still runs: ICMP port unreachable.
			wantStatuses: map[string]runner.Status{"L4 connectivity": runner.StatusFail},
		},
		{
			name: "UDP open (echo)",
			setup: func(t *testing.T, s *lab.Host) string {
				s.ListenUDP("udp4", "0.0.0.0:5353")
				return `port = 5353
				protocol = "udp"`
			},
			wantLayer: 0, wantCause: runner.CauseOK,
		},
		{
			name: "declared closed but open",
			setup: func(t *testing.T, s *lab.Host) string {
				s.ListenTCP("tcp4", "0.0.0.0:6379")
				return `port = 6379
				state = "closed"`
			},
			wantLayer: 4, wantCause: runner.CauseUnexpectedlyOpen,
		},
		{
			name: "declared closed and closed",
			setup: func(t *testing.T, s *lab.Host) string {
				return `port = 6379
			state = "closed"`
			},
			wantLayer: 0, wantCause: runner.CauseOK,
		},
		{
			name: "allow_from blocked: only another network is accepted",
			setup: func(t *testing.T, s *lab.Host) string {
				s.ListenTCP("tcp4", "0.0.0.0:8080")
				s.NFT("table inet f {\n  chain input {\n    type filter hook input priority 0; policy drop;\n    ip saddr 192.0.2.0/24 tcp dport 8080 accept\n  }\n}\n")
				return `port = 8080
				timeout = "300ms"
				retries = 0
				expect {
				  firewall {
				    allow_from = [host.client.address]
				  }
				}`
			},
			wantLayer: 2, wantCause: runner.CauseFirewallBlocked,
		},
		{
			name: "deny_from violated: the port is open to everyone",
			setup: func(t *testing.T, s *lab.Host) string {
				s.ListenTCP("tcp4", "0.0.0.0:8080")
				s.NFT(nftInput("tcp dport 8080 accept"))
				return `port = 8080
				expect {
				  firewall {
				    allow_from = [host.client.address]
				    deny_from  = ["0.0.0.0/0"]
				  }
				}`
			},
			wantLayer: 2, wantCause: runner.CauseUnexpectedlyOpen,
		},
		{
			name: "deny_from honoured: only 10/8 is accepted",
			setup: func(t *testing.T, s *lab.Host) string {
				s.ListenTCP("tcp4", "0.0.0.0:8080")
				s.NFT("table ip f {\n  chain input {\n    type filter hook input priority 0; policy drop;\n    iif \"lo\" accept\n    ip saddr 10.0.0.0/8 tcp dport 8080 accept\n  }\n}\n")
				return `port = 8080
				expect {
				  firewall {
				    allow_from = ["10.0.0.0/8"]
				    deny_from  = ["0.0.0.0/0"]
				    backend    = "nftables"
				  }
				}`
			},
			wantLayer: 0, wantCause: runner.CauseOK,
		},
		{
			name: "iptables-nft: multiport and conntrack rule does not cover the port",
			setup: func(t *testing.T, s *lab.Host) string {
				lab.Require(t, "iptables-nft")
				s.ListenTCP("tcp4", "0.0.0.0:8080")
				s.Exec("iptables-nft", "-A", "INPUT", "-p", "tcp", "-m", "multiport", "--dports", "22,9000:9100", "-m", "conntrack", "--ctstate", "NEW", "-j", "ACCEPT")
				s.Exec("iptables-nft", "-P", "INPUT", "DROP")
				return `port = 8080
				timeout = "300ms"
				retries = 0`
			},
			wantLayer: 2, wantCause: runner.CauseFirewallBlocked,
			wantSummary: "ip filter INPUT policy drop",
		},
		{
			name: "iptables-legacy: REJECT rule",
			setup: func(t *testing.T, s *lab.Host) string {
				lab.Require(t, "iptables-legacy", "iptables-legacy-save")
				s.ListenTCP("tcp4", "0.0.0.0:8080")
				s.Exec("iptables-legacy", "-A", "INPUT", "-p", "tcp", "--dport", "8080", "-j", "REJECT", "--reject-with", "tcp-reset")
				return `port = 8080`
			},
			wantLayer: 2, wantCause: runner.CauseFirewallBlocked,
			wantSummary: "rejected (tcp reset) by ip filter INPUT #1",
		},
		{
			// The client's TTL is the client's business: no ruleset tells it.
			name: "unsupported match: L2 cannot decide, L4 still runs",
			setup: func(t *testing.T, s *lab.Host) string {
				s.ListenTCP("tcp4", "0.0.0.0:8080")
				s.NFT(nftInput("tcp dport 8080 ip ttl 64 accept"))
				return `port = 8080`
			},
			wantLayer: 0, wantCause: runner.CauseOK,
			wantStatuses: map[string]runner.Status{"L2 firewall": runner.StatusError, "L4 connectivity": runner.StatusPass},
		},
		{
			// A rate limit is judged for the one new connection, and the
			// summary says what that assumes.
			name: "rate limit: accepted under an assumption",
			setup: func(t *testing.T, s *lab.Host) string {
				s.ListenTCP("tcp4", "0.0.0.0:8080")
				s.NFT(nftInput("tcp dport 8080 limit rate 100/second accept"))
				return `port = 8080`
			},
			wantLayer: 0, wantCause: runner.CauseOK,
			wantStatuses:     map[string]runner.Status{"L2 firewall": runner.StatusPass, "L4 connectivity": runner.StatusPass},
			wantCheckSummary: map[string]string{"L2 firewall": "assuming fewer than 100/second reach the rule"},
		},
		{
			name: "declared backend differs",
			setup: func(t *testing.T, s *lab.Host) string {
				s.ListenTCP("tcp4", "0.0.0.0:8080")
				s.NFT(nftInput("tcp dport 8080 accept"))
				return `port = 8080
				expect {
				  firewall {
				    backend = "iptables"
				  }
				}`
			},
			wantLayer: 2, wantCause: runner.CauseDrift,
			wantStatuses: map[string]runner.Status{"L2 firewall": runner.StatusDrift},
		},
		{
			name: "wrong process",
			setup: func(t *testing.T, s *lab.Host) string {
				s.ListenTCP("tcp4", "0.0.0.0:8080") // held by the test binary itself
				return `port = 8080
				expect {
				  listening { process = "nginx" }
				}`
			},
			wantLayer: 1, wantCause: runner.CauseWrongProcess,
		},
	}

	for _, sc := range scenarios {
		t.Run(sc.name, func(t *testing.T) {
			l := lab.New(t)
			client, server := l.Pair()
			body := sc.setup(t, server)
			src := pairHosts(client, server) + fmt.Sprintf(`
endpoint "svc" {
  host = host.server
  from = [host.client]
  %s
}
`, body)
			er := verifyOne(t, src, sc.allLayers)
			d := er.Diagnosis
			if d.Layer != sc.wantLayer || d.Cause != sc.wantCause {
				t.Errorf("diagnosis = L%d %s (%s), want L%d %s\n%s", d.Layer, d.Cause, d.Summary, sc.wantLayer, sc.wantCause, dump(er))
			}
			for check, want := range sc.wantStatuses {
				got := statusOf(er, check)
				if got != want {
					t.Errorf("%s status = %q, want %q\n%s", check, got, want, dump(er))
				}
			}
			if !strings.Contains(d.Summary, sc.wantSummary) {
				t.Errorf("diagnosis summary %q does not contain %q", d.Summary, sc.wantSummary)
			}
			for check, want := range sc.wantCheckSummary {
				if got := resultOf(er, check); got == nil || !strings.Contains(got.Summary, want) {
					t.Errorf("%s summary does not contain %q\n%s", check, want, dump(er))
				}
			}
			for check, want := range sc.wantCauses {
				if got := resultOf(er, check); got == nil || got.Cause != want {
					t.Errorf("%s cause = %v, want %q\n%s", check, got, want, dump(er))
				}
			}
		})
	}
}

// pairHosts declares a lab pair as the hosts "server" and "client".
func pairHosts(client, server *lab.Host) string {
	return fmt.Sprintf(`
host "server" {
  address = %q
  netns   = %q
}
host "client" {
  address = %q
  netns   = %q
}
`, server.Addr(), server.Path(), client.Addr(), client.Path())
}

// nftInput is a ruleset whose input chain accepts all but the given rule.
func nftInput(rule string) string {
	return "table inet pc {\n  chain input {\n    type filter hook input priority 0; policy accept;\n    " + rule + "\n  }\n}\n"
}

// nftOutput is a ruleset whose output chain, with the given policy,
// holds the given rule; input accepts everything.
func nftOutput(policy, rule string) string {
	return "table inet pc {\n  chain output {\n    type filter hook output priority 0; policy " + policy + ";\n    " + rule + "\n  }\n}\n"
}

func serveTLS(t *testing.T, s *lab.Host, cert tls.Certificate) {
	ln := tls.NewListener(s.Listener("tcp4", "0.0.0.0:8443"), &tls.Config{Certificates: []tls.Certificate{cert}})
	serveHTTP(t, ln, 200, "secure")
}

func verifyOne(t *testing.T, src string, allLayers bool) *runner.EndpointResult {
	t.Helper()
	cfg, diags := config.LoadSources(map[string][]byte{"lab.pc.hcl": []byte(src)}, config.Options{})
	if diags.HasErrors() {
		t.Fatalf("config: %v\n%s", diags, src)
	}
	got := verifyLiveAndFacts(t, cfg, nil, allLayers)
	if len(got) != 1 {
		t.Fatalf("got %d endpoint results, want 1", len(got))
	}
	return got[0]
}

func statusOf(er *runner.EndpointResult, check string) runner.Status {
	if r := resultOf(er, check); r != nil {
		return r.Status
	}
	return ""
}

// resultOf is the first result of "L<n> check".
func resultOf(er *runner.EndpointResult, check string) *runner.Result {
	for _, r := range er.Results {
		if fmt.Sprintf("L%d %s", int(r.Check.Layer), r.Check.Name) == check {
			return r
		}
	}
	return nil
}

func dump(er *runner.EndpointResult) string {
	var b strings.Builder
	for _, r := range er.Results {
		fmt.Fprintf(&b, "  L%d %-12s %-5s %s\n", int(r.Check.Layer), r.Check.Name, r.Status, r.Summary)
	}
	return b.String()
}

// Ctrl-C: Verify stops promptly, reports nothing half-done, and marks the
// run interrupted.
func TestVerifyInterrupted(t *testing.T) {
	lab.Require(t, "ip", "nft")
	l := lab.New(t)
	client, server := l.Pair()
	server.NFT(nftInput("tcp dport 8080 drop"))
	src := pairHosts(client, server) + `
endpoint "a" {
  host    = host.server
  from    = [host.client]
  port    = 8080
  state   = "closed"
  timeout = "10s"
}
endpoint "b" {
  host    = host.server
  from    = [host.client]
  port    = 8080
  state   = "closed"
  timeout = "10s"
}
`
	cfg, diags := config.LoadSources(map[string][]byte{"lab.pc.hcl": []byte(src)}, config.Options{})
	if diags.HasErrors() {
		t.Fatal(diags)
	}
	plan, err := runner.BuildPlan(cfg, runner.PlanOptions{Env: runner.CurrentEnvironment()})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 300*time.Millisecond)
	defer cancel()
	start := time.Now()
	var emitted int
	sum := runner.Verify(ctx, plan, runner.Options{Parallelism: 1}, func(*runner.EndpointResult) { emitted++ })
	if took := time.Since(start); took > 3*time.Second {
		t.Errorf("Verify took %v after cancellation", took)
	}
	if !sum.Interrupted || emitted != 0 || sum.Finished != 0 || sum.ExitCode() != 1 {
		t.Errorf("summary %+v, emitted %d: want interrupted with nothing finished and exit 1", sum, emitted)
	}
}

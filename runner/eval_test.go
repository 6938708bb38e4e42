package runner

import (
	"fmt"
	"net/netip"
	"regexp"
	"testing"
	"time"

	"github.com/portcheck/portcheck/config"
	"github.com/portcheck/portcheck/providers"
	"github.com/portcheck/portcheck/providers/app"
	"github.com/portcheck/portcheck/providers/probe"
	"github.com/portcheck/portcheck/providers/sockets"
)

// Evaluators work on recorded facts alone: these tests need no lab.

func sock(proto, addr string, port int, v6only bool, procs ...string) sockets.Socket {
	s := sockets.Socket{Protocol: proto, Address: netip.MustParseAddr(addr), Port: port, V6Only: v6only, State: "LISTEN"}
	if s.Address.Is6() {
		s.Family = "inet6"
	} else {
		s.Family = "inet"
	}
	for i, p := range procs {
		s.Processes = append(s.Processes, sockets.Process{PID: 100 + i, Name: p})
	}
	return s
}

func snapOf(socks ...sockets.Socket) *snapshot {
	s := &snapshot{table: &sockets.Table{Sockets: socks}, byKey: map[sockKey][]sockets.Socket{}}
	for _, so := range socks {
		k := sockKey{so.Protocol, so.Port}
		s.byKey[k] = append(s.byKey[k], so)
	}
	return s
}

func l1Check(proto string, port int, addrs ...string) *Check {
	c := &Check{Layer: providers.LayerListening, Name: "listening", Provider: "sockdiag"}
	for _, a := range addrs {
		c.Targets = append(c.Targets, providers.Target{Address: netip.MustParseAddr(a), Port: port, Protocol: providers.Protocol(proto)})
	}
	c.Target = c.Targets[0]
	return c
}

func TestEvalListening(t *testing.T) {
	nginx := &config.ExpectListening{Process: "nginx"}
	tests := []struct {
		name      string
		socks     []sockets.Socket
		check     *Check
		expect    *config.ExpectListening
		status    Status
		cause     string
		hintMatch string
	}{
		{"nothing", nil, l1Check("tcp", 8080, "10.0.0.5"), nil, StatusFail, CauseNotListening, `ss -tlnp`},
		{"port prefix 808 is not 8080", []sockets.Socket{sock("tcp", "0.0.0.0", 808, false, "x")}, l1Check("tcp", 8080, "10.0.0.5"), nil, StatusFail, CauseNotListening, ""},
		{"udp socket does not serve tcp", []sockets.Socket{sock("udp", "0.0.0.0", 8080, false, "x")}, l1Check("tcp", 8080, "10.0.0.5"), nil, StatusFail, CauseNotListening, ""},
		{"wildcard v4", []sockets.Socket{sock("tcp", "0.0.0.0", 8080, false, "nginx")}, l1Check("tcp", 8080, "10.0.0.5"), nginx, StatusPass, "", ""},
		{"loopback only", []sockets.Socket{sock("tcp", "127.0.0.1", 8080, false, "nginx")}, l1Check("tcp", 8080, "10.0.0.5"), nil, StatusFail, CauseLoopbackOnly, `bind to 0\.0\.0\.0`},
		{"loopback probed on loopback", []sockets.Socket{sock("tcp", "127.0.0.1", 8080, false, "nginx")}, l1Check("tcp", 8080, "127.0.0.1"), nil, StatusPass, "", ""},
		{"v6 loopback only", []sockets.Socket{sock("tcp", "::1", 8080, true, "nginx")}, l1Check("tcp", 8080, "fd00::5"), nil, StatusFail, CauseLoopbackOnly, ""},
		{"dual stack :: serves v4", []sockets.Socket{sock("tcp", "::", 8080, false, "nginx")}, l1Check("tcp", 8080, "10.0.0.5"), nil, StatusPass, "", ""},
		{"v6only :: does not serve v4", []sockets.Socket{sock("tcp", "::", 8080, true, "nginx")}, l1Check("tcp", 8080, "10.0.0.5"), nil, StatusFail, CauseNotListening, `IPV6_V6ONLY`},
		{"other specific address", []sockets.Socket{sock("tcp", "10.0.0.6", 8080, false, "nginx")}, l1Check("tcp", 8080, "10.0.0.5"), nil, StatusFail, CauseNotListening, ""},
		{"every probed address must be served", []sockets.Socket{sock("tcp", "10.0.0.5", 8080, false, "nginx")}, l1Check("tcp", 8080, "10.0.0.5", "fd00::5"), nil, StatusFail, CauseNotListening, ""},
		{"wrong process", []sockets.Socket{sock("tcp", "0.0.0.0", 8080, false, "apache2")}, l1Check("tcp", 8080, "10.0.0.5"), nginx, StatusFail, CauseWrongProcess, `apache2`},
		{"owner invisible", []sockets.Socket{sock("tcp", "0.0.0.0", 8080, false)}, l1Check("tcp", 8080, "10.0.0.5"), nginx, StatusFail, CauseWrongProcess, `root`},
		{"bind address drift", []sockets.Socket{sock("tcp", "10.0.0.5", 8080, false, "nginx")}, l1Check("tcp", 8080, "10.0.0.5"),
			&config.ExpectListening{Addresses: []netip.Addr{netip.MustParseAddr("0.0.0.0")}}, StatusDrift, CauseNotListening, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ep := &config.Endpoint{Name: "web", Protocol: string(tt.check.Target.Protocol)}
			ep.Expect.Listening = tt.expect
			r := evalListening(tt.check, ep, snapOf(tt.socks...))
			if r.Status != tt.status || r.Cause != tt.cause {
				t.Fatalf("got %s/%s (%s), want %s/%s", r.Status, r.Cause, r.Summary, tt.status, tt.cause)
			}
			if tt.hintMatch != "" && !regexp.MustCompile(tt.hintMatch).MatchString(r.Hint+" "+r.Summary) {
				t.Errorf("hint %q / summary %q does not match %q", r.Hint, r.Summary, tt.hintMatch)
			}
		})
	}
}

func TestEvalConnectivity(t *testing.T) {
	c := &Check{Layer: providers.LayerConnectivity, Name: "connectivity", From: "client",
		Target: providers.Target{Address: netip.MustParseAddr("10.0.0.5"), Port: 8080, Protocol: "tcp"}}
	cu := &Check{Layer: providers.LayerConnectivity, Name: "connectivity", From: "client",
		Target: providers.Target{Address: netip.MustParseAddr("10.0.0.5"), Port: 53, Protocol: "udp"}}
	admin := &probe.ICMP{Type: 3, Code: 13, Name: "admin-prohibited", From: "10.0.0.5"}
	tests := []struct {
		name   string
		check  *Check
		state  string
		o      probe.Outcome
		status Status
		cause  string
	}{
		{"open", c, "open", probe.Outcome{State: probe.StateOpen}, StatusPass, ""},
		{"refused", c, "open", probe.Outcome{State: probe.StateRefused}, StatusFail, CauseRefused},
		{"filtered", c, "open", probe.Outcome{State: probe.StateFiltered}, StatusFail, CauseFiltered},
		{"admin prohibited", c, "open", probe.Outcome{State: probe.StateUnreachable, ICMP: admin}, StatusFail, CauseUnreachable},
		{"udp closed", cu, "open", probe.Outcome{State: probe.StateClosed}, StatusFail, CauseRefused},
		{"udp open|filtered cannot be confirmed", cu, "open", probe.Outcome{State: probe.StateOpenFiltered}, StatusError, ""},
		{"closed and refused", c, "closed", probe.Outcome{State: probe.StateRefused}, StatusPass, ""},
		{"closed and filtered", c, "closed", probe.Outcome{State: probe.StateFiltered}, StatusPass, ""},
		{"closed but open", c, "closed", probe.Outcome{State: probe.StateOpen}, StatusFail, CauseUnexpectedlyOpen},
		{"closed udp silence is not proof", cu, "closed", probe.Outcome{State: probe.StateOpenFiltered}, StatusError, ""},
		{"unknown state is an error, not a pass", c, "open", probe.Outcome{State: "weird"}, StatusError, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := evalConnectivity(tt.check, &config.Endpoint{State: tt.state}, tt.o)
			if r.Status != tt.status || r.Cause != tt.cause {
				t.Fatalf("got %s/%s (%s), want %s/%s", r.Status, r.Cause, r.Summary, tt.status, tt.cause)
			}
		})
	}
}

func TestEvalApp(t *testing.T) {
	now := time.Date(2026, 11, 27, 0, 0, 0, 0, time.UTC)
	c := &Check{Layer: providers.LayerApplication, Name: "http"}
	okRe := regexp.MustCompile("^ok")
	leaf := func(days int) []app.Cert {
		return []app.Cert{{Subject: "CN=web.example", NotAfter: now.Add(time.Duration(days) * 24 * time.Hour), DaysLeft: days}}
	}
	tests := []struct {
		name   string
		expect config.Expectations
		facts  any
		status Status
		cause  string
	}{
		{"http 200", config.Expectations{HTTP: &config.ExpectHTTP{}}, &app.HTTPFacts{Status: 200, Body: "ok"}, StatusPass, ""},
		{"http 503", config.Expectations{HTTP: &config.ExpectHTTP{}}, &app.HTTPFacts{Status: 503}, StatusFail, CauseAppMismatch},
		{"http 204 accepted", config.Expectations{HTTP: &config.ExpectHTTP{Status: []int{200, 204}}}, &app.HTTPFacts{Status: 204}, StatusPass, ""},
		{"http body mismatch", config.Expectations{HTTP: &config.ExpectHTTP{BodyRegexp: okRe}}, &app.HTTPFacts{Status: 200, Body: "error"}, StatusFail, CauseAppMismatch},
		{"http header mismatch", config.Expectations{HTTP: &config.ExpectHTTP{ResponseHeaders: map[string]*regexp.Regexp{"content-type": okRe}}},
			&app.HTTPFacts{Status: 200, Headers: map[string]string{"Content-Type": "text/html"}}, StatusFail, CauseAppMismatch},
		{"http tls phase", config.Expectations{HTTP: &config.ExpectHTTP{Scheme: "https"}}, &app.HTTPFacts{Error: "x509: expired", Phase: "tls"}, StatusFail, CauseTLSError},
		{"http connect error", config.Expectations{HTTP: &config.ExpectHTTP{}}, &app.HTTPFacts{Error: "EOF", Phase: "read"}, StatusFail, CauseAppMismatch},
		{"tls good", config.Expectations{TLS: &config.ExpectTLS{MinDaysValid: 14}}, &app.TLSFacts{Handshake: true, Verified: true, Version: "TLS1.3", Chain: leaf(90)}, StatusPass, ""},
		{"tls expiring soon", config.Expectations{TLS: &config.ExpectTLS{MinDaysValid: 14}}, &app.TLSFacts{Handshake: true, Verified: true, Version: "TLS1.3", Chain: leaf(5)}, StatusFail, CauseTLSError},
		{"tls unverified", config.Expectations{TLS: &config.ExpectTLS{}}, &app.TLSFacts{Handshake: true, VerifyError: "x509: certificate has expired", Chain: leaf(-3)}, StatusFail, CauseTLSError},
		{"tls version below minimum", config.Expectations{TLS: &config.ExpectTLS{MinVersion: 0x0304}}, &app.TLSFacts{Handshake: true, Verified: true, Version: "TLS1.2", Chain: leaf(90)}, StatusFail, CauseTLSError},
		{"tls handshake failed", config.Expectations{TLS: &config.ExpectTLS{}}, &app.TLSFacts{Error: "first record does not look like a TLS handshake", Phase: "tls"}, StatusFail, CauseTLSError},
		{"grpc serving", config.Expectations{GRPC: &config.ExpectGRPC{}}, &app.GRPCFacts{Status: "SERVING"}, StatusPass, ""},
		{"grpc not serving", config.Expectations{GRPC: &config.ExpectGRPC{}}, &app.GRPCFacts{Status: "NOT_SERVING"}, StatusFail, CauseAppMismatch},
		{"grpc unimplemented", config.Expectations{GRPC: &config.ExpectGRPC{}}, &app.GRPCFacts{Code: "Unimplemented", Error: "unknown service"}, StatusFail, CauseAppMismatch},
		{"banner match", config.Expectations{Banner: &config.ExpectBanner{Match: regexp.MustCompile("^SSH-2.0")}}, &app.BannerFacts{Banner: "SSH-2.0-OpenSSH_9.6\r\n", Bytes: 21}, StatusPass, ""},
		{"banner mismatch", config.Expectations{Banner: &config.ExpectBanner{Match: regexp.MustCompile("^SSH-2.0")}}, &app.BannerFacts{Banner: "220 smtp ready", Bytes: 14}, StatusFail, CauseAppMismatch},
		{"banner silent", config.Expectations{Banner: &config.ExpectBanner{}}, &app.BannerFacts{Error: "i/o timeout", Phase: "read"}, StatusFail, CauseAppMismatch},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ep := &config.Endpoint{Expect: tt.expect}
			r := evalApp(c, ep, tt.facts)
			if r.Status != tt.status || r.Cause != tt.cause {
				t.Fatalf("got %s/%s (%s), want %s/%s", r.Status, r.Cause, r.Summary, tt.status, tt.cause)
			}
		})
	}
}

func TestDiagnosePicksLowestFailure(t *testing.T) {
	mk := func(l providers.Layer, st Status, cause string) *Result {
		return &Result{Check: &Check{Layer: l, Name: l.String()}, Status: st, Cause: cause, Summary: cause}
	}
	tests := []struct {
		name       string
		results    []*Result
		layer      providers.Layer
		cause      string
		incomplete bool
	}{
		{"all pass", []*Result{mk(1, StatusPass, ""), mk(4, StatusPass, "")}, 0, CauseOK, false},
		{"lowest failure wins", []*Result{mk(1, StatusPass, ""), mk(4, StatusFail, CauseFiltered), mk(7, StatusFail, CauseAppMismatch)}, 4, CauseFiltered, false},
		{"failure beats lower drift", []*Result{mk(1, StatusDrift, CauseNotListening), mk(4, StatusFail, CauseRefused)}, 4, CauseRefused, false},
		{"drift alone is cause drift", []*Result{mk(1, StatusDrift, CauseNotListening), mk(4, StatusPass, "")}, 1, CauseDrift, false},
		{"lowest drift names the layer", []*Result{mk(2, StatusDrift, CauseFirewallBlocked), mk(3, StatusDrift, CauseSELinuxDenied), mk(4, StatusPass, "")}, 2, CauseDrift, false},
		{"error makes ok incomplete", []*Result{mk(1, StatusError, ""), mk(4, StatusPass, "")}, 0, CauseOK, true},
		{"all skipped is incomplete", []*Result{mk(1, StatusSkip, "")}, 0, CauseOK, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			d := Diagnose(tt.results)
			if d.Layer != tt.layer || d.Cause != tt.cause || d.Incomplete != tt.incomplete {
				t.Fatalf("got L%d %s incomplete=%v, want L%d %s incomplete=%v", d.Layer, d.Cause, d.Incomplete, tt.layer, tt.cause, tt.incomplete)
			}
		})
	}
}

func TestBlocker(t *testing.T) {
	tgt := providers.Target{Address: netip.MustParseAddr("10.0.0.5"), Port: 8080, Protocol: "tcp"}
	other := providers.Target{Address: netip.MustParseAddr("10.0.0.5"), Port: 8081, Protocol: "tcp"}
	l1 := &Result{Check: &Check{Layer: 1, Name: "listening", Target: tgt}, Status: StatusFail}
	l4a := &Result{Check: &Check{Layer: 4, Name: "connectivity", From: "a", Target: tgt}, Status: StatusFail}
	tests := []struct {
		name string
		done []*Result
		c    *Check
		want *Result
	}{
		{"server-side failure blocks every vantage", []*Result{l1}, &Check{Layer: 4, From: "b", Target: tgt}, l1},
		{"server-side failure on another port does not block", []*Result{l1}, &Check{Layer: 4, From: "b", Target: other}, nil},
		{"vantage failure blocks the same vantage", []*Result{l4a}, &Check{Layer: 7, From: "a", Target: tgt}, l4a},
		{"vantage failure does not block another vantage", []*Result{l4a}, &Check{Layer: 7, From: "b", Target: tgt}, nil},
		{"same layer is not blocked", []*Result{l4a}, &Check{Layer: 4, From: "a", Target: tgt}, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := blocker(tt.done, tt.c); got != tt.want {
				t.Fatalf("blocker = %v, want %v", got, tt.want)
			}
		})
	}
}

// evalApp judges recorded L7 facts of any kind, for the table above.
func evalApp(c *Check, ep *config.Endpoint, facts any) *Result {
	switch f := facts.(type) {
	case *app.HTTPFacts:
		return evalHTTP(c, ep.Expect.HTTP, f)
	case *app.TLSFacts:
		return evalTLS(c, ep.Expect.TLS, f)
	case *app.GRPCFacts:
		return evalGRPC(c, ep.Expect.GRPC, f)
	case *app.BannerFacts:
		return evalBanner(c, ep.Expect.Banner, f)
	}
	panic(fmt.Sprintf("no evaluator for %T", facts))
}

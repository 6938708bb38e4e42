package app

import (
	"context"
	"crypto/tls"
	"io"
	"log"
	"net"
	"net/http"
	"net/netip"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/portcheck/portcheck/internal/testcert"
	"github.com/portcheck/portcheck/providers"
)

// testNow is the clock the tests pass as TLSParams.Now; certificate
// lifetimes are set relative to it so DaysLeft is exact.
var testNow = time.Now().Truncate(time.Second)

const day = 24 * time.Hour

// testOrg is the O of the test roots, so their subjects have two parts.
var testOrg = testcert.Organization("portcheck test")

// leaf issues a server certificate for names (DNS names or IPs) valid
// from testNow+notBefore to testNow+notAfter.
func leaf(t testing.TB, ca *testcert.CA, notBefore, notAfter time.Duration, names ...string) tls.Certificate {
	t.Helper()
	return ca.Leaf(t, testNow.Add(notBefore), testNow.Add(notAfter), names...)
}

// serving is a server TLS config presenting cert.
func serving(cert tls.Certificate) *tls.Config {
	return &tls.Config{Certificates: []tls.Certificate{cert}}
}

// target turns a listener address into a Target.
func target(t testing.TB, addr string) providers.Target {
	t.Helper()
	host, port, err := net.SplitHostPort(addr)
	if err != nil {
		t.Fatal(err)
	}
	p, err := strconv.Atoi(port)
	if err != nil {
		t.Fatal(err)
	}
	return providers.Target{Address: netip.MustParseAddr(host), Port: p, Protocol: "tcp"}
}

// listenLoopback opens a TCP listener on a free loopback port; the
// serve helpers close it when the test ends.
func listenLoopback(t testing.TB) net.Listener {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	return ln
}

// closedPort is a loopback address nothing listens on.
func closedPort(t testing.TB) providers.Target {
	t.Helper()
	ln := listenLoopback(t)
	defer ln.Close()
	return target(t, ln.Addr().String())
}

var quietLog = log.New(io.Discard, "", 0)

// serveHTTP serves h on ln until the test ends, over TLS with cfg unless
// cfg is nil, and returns its address. As httptest does, TLS offers
// http/1.1 by ALPN unless cfg names protocols. Handshake failures are the
// point of some tests, so the server does not log them.
func serveHTTP(t testing.TB, ln net.Listener, cfg *tls.Config, h http.Handler) providers.Target {
	t.Helper()
	if cfg != nil {
		cfg = cfg.Clone()
		if cfg.NextProtos == nil {
			cfg.NextProtos = []string{"http/1.1"}
		}
		ln = tls.NewListener(ln, cfg)
	}
	s := &http.Server{Handler: h, ErrorLog: quietLog}
	go s.Serve(ln)
	t.Cleanup(func() { s.Close() })
	return target(t, ln.Addr().String())
}

// httpServer serves h on loopback.
func httpServer(t testing.TB, h http.Handler) providers.Target {
	t.Helper()
	return serveHTTP(t, listenLoopback(t), nil, h)
}

// httpsServer serves h over TLS with cfg (certificates set) on loopback.
func httpsServer(t testing.TB, cfg *tls.Config, h http.Handler) providers.Target {
	t.Helper()
	return serveHTTP(t, listenLoopback(t), cfg, h)
}

// tcpServer runs handle per connection accepted on loopback; see serveTCP.
func tcpServer(t testing.TB, handle func(net.Conn)) providers.Target {
	t.Helper()
	return serveTCP(t, listenLoopback(t), handle)
}

// serveTCP accepts on ln and runs handle per connection; handle owns the
// connection, which is closed when it returns or the test ends.
func serveTCP(t testing.TB, ln net.Listener, handle func(net.Conn)) providers.Target {
	t.Helper()
	done := make(chan struct{})
	t.Cleanup(func() { close(done); ln.Close() })
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			go func() {
				defer c.Close()
				go func() { <-done; c.Close() }()
				handle(c)
			}()
		}
	}()
	return target(t, ln.Addr().String())
}

func wantContains(t testing.TB, what, got, want string) {
	t.Helper()
	if want == "" {
		if got != "" {
			t.Errorf("%s = %q, want empty", what, got)
		}
		return
	}
	if !strings.Contains(got, want) {
		t.Errorf("%s = %q, want it to contain %q", what, got, want)
	}
}

// wantTLSFacts checks a probe's TLS facts: present exactly when check is
// set, and then passing it.
func wantTLSFacts(t *testing.T, got *TLSFacts, check func(t *testing.T, f *TLSFacts)) {
	t.Helper()
	if (got != nil) != (check != nil) {
		t.Errorf("TLS = %+v, want TLS facts: %v", got, check != nil)
	} else if check != nil {
		check(t, got)
	}
}

func wantDuration(t testing.TB, ms float64) {
	t.Helper()
	if ms <= 0 {
		t.Errorf("DurationMs = %v, want > 0", ms)
	}
}

// cannotAttempt is a call a probe must refuse with an error, without
// observing anything.
type cannotAttempt[P any] struct {
	name   string
	exec   providers.Exec
	target providers.Target
	params P
}

// testCannotAttempt runs probe (called name in messages) on each case and
// wants an error from every one.
func testCannotAttempt[P, F any](t *testing.T, name string, probe func(context.Context, providers.Exec, providers.Target, P) (F, error), cases []cannotAttempt[P]) {
	t.Helper()
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			if got, err := probe(t.Context(), tc.exec, tc.target, tc.params); err == nil {
				t.Errorf("%s = %+v, nil; want an error", name, got)
			}
		})
	}
}

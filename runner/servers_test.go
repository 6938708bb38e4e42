package runner_test

import (
	"fmt"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/portcheck/portcheck/internal/lab"
	"github.com/portcheck/portcheck/internal/testcert"
	"github.com/portcheck/portcheck/providers/app"
	"github.com/portcheck/portcheck/runner"
)

// L7 against real servers from Debian's packages (nginx, haproxy,
// redis-server) in a lab namespace, with a private PKI made here. Each
// test skips locally (fails in CI) when the server is not installed.

// appLab is a client and a server namespace, with a CA.
type appLab struct {
	client, server *lab.Host
	ca             *testcert.CA
	caFile         string
}

func newAppLab(t *testing.T) appLab {
	t.Helper()
	lab.Require(t, "ip", "nft")
	l := lab.New(t)
	client, server := l.Pair()
	ca := testcert.NewCA(t, "portcheck lab CA")
	return appLab{client: client, server: server, ca: ca, caFile: ca.WriteCA(t)}
}

func (a appLab) addr(port int) string {
	return net.JoinHostPort(a.server.Addr().String(), fmt.Sprint(port))
}

// check runs one endpoint with the given body and returns its L7 result.
func (a appLab) check(t *testing.T, body, l7 string) (*runner.Result, *runner.EndpointResult) {
	t.Helper()
	src := pairHosts(a.client, a.server) + fmt.Sprintf(`
endpoint "app" {
  host = host.server
  from = [host.client]
  %s
}
`, body)
	er := verifyOne(t, src, false)
	r := resultOf(er, "L7 "+l7)
	if r == nil {
		t.Fatalf("no L7 %s result\n%s", l7, dump(er))
	}
	t.Logf("L7 %s: %s %s %q hint %q", l7, r.Status, r.Cause, r.Summary, r.Hint)
	return r, er
}

func combined(t *testing.T, certFile, keyFile string) string {
	t.Helper()
	c, err := os.ReadFile(certFile)
	if err != nil {
		t.Fatal(err)
	}
	k, err := os.ReadFile(keyFile)
	if err != nil {
		t.Fatal(err)
	}
	p := filepath.Join(filepath.Dir(certFile), "combined.pem")
	if err := os.WriteFile(p, append(c, k...), 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

// Issue 11.9 and 11.15 with nginx: ssl_verify_client on answers a missing
// client certificate with a 400 page. The report names mTLS (tls_error,
// not "check that the service speaks HTTP"), the summary carries the
// page's text, and with client_cert/client_key the check passes.
func TestNginxMTLS(t *testing.T) {
	a := newAppLab(t)
	cert, key := testcert.WritePair(t, a.ca.Valid(t, "web.example"))
	a.server.StartNginx(t, a.addr(8443), fmt.Sprintf(`
  server {
    listen %s ssl;
    server_name web.example;
    ssl_certificate %s;
    ssl_certificate_key %s;
    ssl_client_certificate %s;
    ssl_verify_client on;
    location / { return 200 "hello client\n"; }
  }`, a.addr(8443), cert, key, a.caFile))
	body := `port = 8443
  expect {
    http {
      scheme      = "https"
      server_name = "web.example"
      ca_file     = %q
      %s
    }
  }`
	r, _ := a.check(t, fmt.Sprintf(body, a.caFile, ""), "http")
	if r.Status != runner.StatusFail || r.Cause != runner.CauseTLSError {
		t.Errorf("without a client certificate: %s %s, want tls_error", r.Status, r.Cause)
	}
	if !strings.Contains(r.Summary, "No required SSL certificate was sent") || !strings.Contains(r.Hint, "client_cert") {
		t.Errorf("summary %q / hint %q: want nginx's page text and the mTLS fix", r.Summary, r.Hint)
	}
	cc, ck := testcert.WritePair(t, a.ca.Client(t, "probe"))
	r, _ = a.check(t, fmt.Sprintf(body, a.caFile, fmt.Sprintf("client_cert = %q\n      client_key = %q", cc, ck)), "http")
	if r.Status != runner.StatusPass {
		t.Errorf("with a client certificate: %s %q, want pass", r.Status, r.Summary)
	}
}

// Issue 11.9 with haproxy: verify required rejects a missing client
// certificate with a TLS alert that, under TLS 1.3, arrives after the
// client's handshake completed. The tls check reads for it and fails
// naming mTLS; the http check reports a TLS error, not an HTTP one.
func TestHAProxyStrictMTLS(t *testing.T) {
	a := newAppLab(t)
	sc, sk := testcert.WritePair(t, a.ca.Valid(t, "web.example"))
	crt := combined(t, sc, sk)
	a.server.StartHAProxy(t, a.addr(8443), fmt.Sprintf(`
frontend web
  bind %s ssl crt %s ca-file %s verify required
  http-request return status 200 content-type text/plain string "hello"
`, a.addr(8443), crt, a.caFile))
	r, _ := a.check(t, fmt.Sprintf(`port = 8443
  expect {
    tls {
      server_name = "web.example"
      ca_file     = %q
    }
    http {
      scheme      = "https"
      server_name = "web.example"
      ca_file     = %q
    }
  }`, a.caFile, a.caFile), "tls")
	f := r.Evidence.(*app.TLSFacts)
	if r.Status != runner.StatusFail || r.Cause != runner.CauseTLSError || !strings.Contains(r.Summary, "requires a client certificate (mTLS)") || !f.ClientCertRequested {
		t.Errorf("tls: %s %s %q (requested %v), want tls_error naming mTLS", r.Status, r.Cause, r.Summary, f.ClientCertRequested)
	}
	if !strings.Contains(r.Hint, "client_cert") {
		t.Errorf("hint %q", r.Hint)
	}

	cc, ck := testcert.WritePair(t, a.ca.Client(t, "probe"))
	r, _ = a.check(t, fmt.Sprintf(`port = 8443
  expect {
    http {
      scheme      = "https"
      server_name = "web.example"
      ca_file     = %q
    }
  }`, a.caFile), "http")
	if r.Cause != runner.CauseTLSError || strings.Contains(r.Hint, "speaks HTTP") {
		t.Errorf("http without a client certificate: %s %q hint %q, want tls_error", r.Cause, r.Summary, r.Hint)
	}
	r, _ = a.check(t, fmt.Sprintf(`port = 8443
  expect {
    tls {
      server_name = "web.example"
      ca_file     = %q
      client_cert = %q
      client_key  = %q
    }
  }`, a.caFile, cc, ck), "tls")
	if r.Status != runner.StatusPass || !strings.Contains(r.Summary, "asks for a client certificate") {
		t.Errorf("tls with a client certificate: %s %q, want pass", r.Status, r.Summary)
	}
}

// Issue 11.10: a name-based virtual host. With server_name and no
// host_header, the Host header carries the name, nginx serves that site
// (not the default one) and the summary shows the name used.
func TestNginxNameBasedVirtualHost(t *testing.T) {
	a := newAppLab(t)
	cert, key := testcert.WritePair(t, a.ca.Valid(t, "web.example", "default.example"))
	a.server.StartNginx(t, a.addr(8443), fmt.Sprintf(`
  ssl_certificate %[2]s;
  ssl_certificate_key %[3]s;
  server {
    listen %[1]s ssl default_server;
    location / { return 200 "default site\n"; }
  }
  server {
    listen %[1]s ssl;
    server_name web.example;
    location / { return 200 "web site\n"; }
  }`, a.addr(8443), cert, key))
	r, _ := a.check(t, fmt.Sprintf(`port = 8443
  expect {
    http {
      scheme      = "https"
      server_name = "web.example"
      ca_file     = %q
      body        = "^web site"
    }
  }`, a.caFile), "http")
	if r.Status != runner.StatusPass || !strings.Contains(r.Summary, "https://web.example:8443/ ("+a.addr(8443)+")") {
		t.Errorf("%s %q: want the web.example site, its name in the URL", r.Status, r.Summary)
	}
}

// Issue 11.11: min_version = "1.2" means the server must refuse TLS 1.0
// and 1.1. An nginx that still accepts them fails although it negotiates
// TLS 1.3 with a modern client; one that refuses them passes.
func TestNginxMinVersion(t *testing.T) {
	a := newAppLab(t)
	cert, key := testcert.WritePair(t, a.ca.Valid(t, "web.example"))
	a.server.StartNginx(t, a.addr(8443), fmt.Sprintf(`
  ssl_certificate %[3]s;
  ssl_certificate_key %[4]s;
  server {
    listen %[1]s ssl;
    ssl_protocols TLSv1 TLSv1.1 TLSv1.2 TLSv1.3;
    ssl_ciphers DEFAULT:@SECLEVEL=0;
    location / { return 200 "old\n"; }
  }
  server {
    listen %[2]s ssl;
    ssl_protocols TLSv1.2 TLSv1.3;
    location / { return 200 "new\n"; }
  }`, a.addr(8443), a.addr(9443), cert, key))
	body := `port = %d
  expect {
    tls {
      server_name = "web.example"
      ca_file     = %q
      min_version = "1.2"
    }
  }`
	r, _ := a.check(t, fmt.Sprintf(body, 8443, a.caFile), "tls")
	if r.Status != runner.StatusFail || !strings.Contains(r.Summary, "still accepts TLS1.1 (offered only TLS1.0, TLS1.1)") || !strings.Contains(r.Hint, "ssl_protocols") {
		t.Errorf("old protocols on: %s %q hint %q, want a failure naming TLS1.1", r.Status, r.Summary, r.Hint)
	}
	if strings.Contains(r.Hint, "renew") {
		t.Errorf("hint %q sends the user to renew the certificate", r.Hint)
	}
	r, _ = a.check(t, fmt.Sprintf(body, 9443, a.caFile), "tls")
	if r.Status != runner.StatusPass || !strings.Contains(r.Summary, "TLS1.0 and TLS1.1 refused") {
		t.Errorf("old protocols off: %s %q, want pass", r.Status, r.Summary)
	}
}

// Issues 11.12, 11.13, 11.15: an RSA-1024 leaf, a self-signed leaf, a
// leaf sent without its intermediate, and a leaf not valid yet, each on
// its own nginx port; each fails with its own reason and hint.
func TestNginxCertificateFindings(t *testing.T) {
	a := newAppLab(t)
	inter := a.ca.Intermediate(t, "portcheck lab intermediate")
	type site struct {
		port    int
		cert    string
		key     string
		summary string
		hint    string
	}
	var sites []site
	mk := func(port int, certFile, keyFile, summary, hint string) {
		sites = append(sites, site{port, certFile, keyFile, summary, hint})
	}
	c, k := testcert.WritePair(t, a.ca.RSALeaf(t, 1024, "web.example"))
	mk(8441, c, k, "weak key: the leaf (CN=web.example) has a 1024-bit RSA key, less than 2048", "2048 bits")
	c, k = testcert.WritePair(t, testcert.SelfSigned(t, "web.example"))
	mk(8442, c, k, "self-signed certificate CN=web.example", "self-signed")
	c, k = testcert.WritePair(t, testcert.LeafOnly(inter.Valid(t, "web.example")))
	mk(8443, c, k, "missing intermediate: the server sends only CN=web.example, issued by CN=portcheck lab intermediate", "intermediate")
	c, k = testcert.WritePair(t, a.ca.Leaf(t, time.Now().Add(48*time.Hour), time.Now().Add(400*24*time.Hour), "web.example"))
	mk(8444, c, k, "certificate not trusted", "not valid yet")

	var conf strings.Builder
	for _, s := range sites {
		fmt.Fprintf(&conf, `
  server {
    listen %s ssl;
    ssl_certificate %s;
    ssl_certificate_key %s;
    ssl_ciphers DEFAULT:@SECLEVEL=0;
    location / { return 200 "ok\n"; }
  }`, a.addr(s.port), s.cert, s.key)
	}
	a.server.StartNginx(t, a.addr(sites[0].port), conf.String())
	for _, s := range sites {
		t.Run(fmt.Sprint(s.port), func(t *testing.T) {
			r, _ := a.check(t, fmt.Sprintf(`port = %d
  expect {
    tls {
      server_name = "web.example"
      ca_file     = %q
    }
  }`, s.port, a.caFile), "tls")
			if r.Status != runner.StatusFail || r.Cause != runner.CauseTLSError || !strings.Contains(r.Summary, s.summary) || !strings.Contains(r.Hint, s.hint) {
				t.Errorf("%s %s %q hint %q, want %q and a hint with %q", r.Status, r.Cause, r.Summary, r.Hint, s.summary, s.hint)
			}
			if s.port == 8444 && strings.Contains(r.Hint, "renew") {
				t.Errorf("not-yet-valid certificate: hint %q says renew", r.Hint)
			}
			f := r.Evidence.(*app.TLSFacts)
			if l := f.Chain[0]; l.KeyAlgorithm == "" || l.KeyBits == 0 || l.SignatureAlgorithm == "" {
				t.Errorf("leaf evidence lacks key facts: %+v", l)
			}
		})
	}
}

// Issue 11.14: the body regexp sees every byte read (up to 64 KiB), not
// only the first 4 KiB: nginx serves a 10 KiB page whose marker is last.
func TestNginxBodyBeyond4KiB(t *testing.T) {
	a := newAppLab(t)
	root := t.TempDir()
	os.Chmod(root, 0o755)
	if err := os.WriteFile(filepath.Join(root, "index.html"), []byte(strings.Repeat("x", 10<<10)+"\nstatus: healthy\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	a.server.StartNginx(t, a.addr(8080), fmt.Sprintf(`
  server {
    listen %s;
    root %s;
  }`, a.addr(8080), root))
	r, _ := a.check(t, `port = 8080
  expect {
    http { body = "status: healthy" }
  }`, "http")
	if r.Status != runner.StatusPass {
		t.Errorf("%s %q, want the marker at 10 KiB found", r.Status, r.Summary)
	}
}

// Issue 9.15: a gRPC check against nginx's plain HTTP/1 port says the
// port speaks HTTP/1, not "http2: frame too large".
func TestGRPCAgainstNginxHTTP1(t *testing.T) {
	a := newAppLab(t)
	a.server.StartNginx(t, a.addr(8080), fmt.Sprintf(`
  server {
    listen %s;
    location / { return 200 "plain\n"; }
  }`, a.addr(8080)))
	r, _ := a.check(t, `port = 8080
  expect {
    grpc {}
  }`, "grpc")
	if r.Cause != runner.CauseAppMismatch || !strings.Contains(r.Summary, `answers HTTP/1 ("HTTP/1.1 400 Bad Request")`) || strings.Contains(r.Summary, "frame too large") {
		t.Errorf("%s %q, want HTTP/1 named", r.Cause, r.Summary)
	}
}

// Issue 11.15: redis in protected mode answers non-loopback clients with
// -DENIED; the hint says so instead of "another service answers".
// Issue 11.16: send_hex carries bytes >= 0x80 (here inside a RESP ECHO).
func TestRedisBanner(t *testing.T) {
	a := newAppLab(t)
	a.server.StartRedis(t, a.addr(6379), "protected-mode yes")
	r, _ := a.check(t, `port = 6379
  expect {
    banner {
      send  = "PING\r\n"
      match = "^\\+PONG"
    }
  }`, "banner")
	if r.Status != runner.StatusFail || !strings.Contains(r.Summary, "-DENIED") || !strings.Contains(r.Hint, "protected mode") {
		t.Errorf("%s %q hint %q, want -DENIED explained as protected mode", r.Status, r.Summary, r.Hint)
	}

	b := newAppLab(t)
	b.server.StartRedis(t, b.addr(6379), "protected-mode no")
	// *2 $4 ECHO $2 0xc3 0xa9 ("é" in UTF-8) and 0xff: the reply echoes them.
	r, _ = b.check(t, `port = 6379
  expect {
    banner {
      send_hex = "2a320d0a24340d0a4543484f0d0a24330d0ac3a9ff0d0a"
      match    = "^\\$3\\r\\né\\x{FFFD}"
    }
  }`, "banner")
	if r.Status != runner.StatusPass {
		t.Errorf("%s %q, want the echoed bytes", r.Status, r.Summary)
	}
}

// Issue 9.13: L7 honours the endpoint's timeout, and a block's own.
func TestAppTimeoutHonoured(t *testing.T) {
	a := newAppLab(t)
	ln := a.server.Listener("tcp4", "0.0.0.0:8080") // accepts (kernel backlog), never answers
	_ = ln
	r, _ := a.check(t, `port = 8080
  timeout = "400ms"
  expect {
    http {}
    banner {
      timeout = "250ms"
    }
  }`, "http")
	if !strings.Contains(r.Summary, "timeout after 400ms") {
		t.Errorf("http: %q, want the endpoint's 400ms", r.Summary)
	}
}

package app

import (
	"crypto/tls"
	"crypto/x509"
	"fmt"
	"net/http"
	"net/netip"
	"regexp"
	"strings"
	"testing"

	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials"

	"github.com/portcheck/portcheck/internal/testcert"
	"github.com/portcheck/portcheck/providers"
)

// Issue 11.9: under TLS 1.3 a server that requires a client certificate
// completes the client's handshake and only then sends "certificate
// required". The TLS check reads after the handshake and records both the
// request and the alert; with a client certificate the alert is gone.
func TestTLSStrictMTLSAlert(t *testing.T) {
	ca := testcert.NewCA(t, "portcheck test CA")
	pool := x509.NewCertPool()
	pool.AddCert(ca.Cert)
	cfg := serving(ca.Valid(t, "web.example"))
	cfg.ClientAuth, cfg.ClientCAs = tls.RequireAndVerifyClientCert, pool
	tgt := httpsServer(t, cfg, http.NotFoundHandler())
	certFile, keyFile := testcert.WritePair(t, ca.Client(t, "probe"))
	base := TLSParams{ServerName: "web.example", CAFile: ca.WriteCA(t)}

	got, err := TLS(t.Context(), providers.Exec{}, tgt, base)
	if err != nil {
		t.Fatal(err)
	}
	if !got.Handshake || !got.ClientCertRequested || got.ClientCertSent || !strings.Contains(got.Alert, "certificate required") {
		t.Errorf("without a client certificate: %+v, want the request and the alert recorded", got)
	}

	withCert := base
	withCert.ClientCert, withCert.ClientKey = certFile, keyFile
	got, err = TLS(t.Context(), providers.Exec{}, tgt, withCert)
	if err != nil {
		t.Fatal(err)
	}
	if !got.ClientCertRequested || !got.ClientCertSent || got.Alert != "" {
		t.Errorf("with a client certificate: %+v, want it sent and no alert", got)
	}

	// The HTTP check sees the alert on its read: a TLS failure, not HTTP.
	hf, err := HTTP(t.Context(), providers.Exec{}, tgt, HTTPParams{Scheme: "https", TLS: base})
	if err != nil {
		t.Fatal(err)
	}
	if hf.Phase != PhaseTLS || hf.TLS == nil || !strings.Contains(hf.TLS.Alert, "certificate required") {
		t.Errorf("HTTP: phase %q error %q tls %+v, want phase tls with the alert", hf.Phase, hf.Error, hf.TLS)
	}
	hf, err = HTTP(t.Context(), providers.Exec{}, tgt, HTTPParams{Scheme: "https", TLS: withCert})
	if err != nil || hf.Status != 404 {
		t.Errorf("HTTP with a client certificate: %+v %v, want the server's 404", hf, err)
	}
}

// A client key that is not PEM is an error naming the file, never its bytes.
func TestTLSClientKeyNotPrinted(t *testing.T) {
	ca := testcert.NewCA(t, "portcheck test CA")
	certFile, keyFile := testcert.WritePair(t, ca.Client(t, "probe"))
	_, err := TLS(t.Context(), providers.Exec{}, providers.Target{Address: netip.MustParseAddr("127.0.0.1"), Port: 443, Protocol: "tcp"},
		TLSParams{ClientCert: keyFile, ClientKey: certFile})
	if err == nil || strings.Contains(err.Error(), "PRIVATE KEY") || strings.Contains(err.Error(), "MI") {
		t.Errorf("error %v: want one that names the files only", err)
	}
}

// Issue 11.10: with server_name set and no host_header, the Host header is
// the name (a name-based virtual host is picked by it), and the facts say
// which Host was sent.
func TestHTTPHostFromServerName(t *testing.T) {
	ca := testcert.NewCA(t, "portcheck test CA")
	tgt := httpsServer(t, serving(ca.Valid(t, "web.example")), http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		fmt.Fprint(w, "host="+r.Host)
	}))
	got, err := HTTP(t.Context(), providers.Exec{}, tgt, HTTPParams{Scheme: "https", TLS: TLSParams{ServerName: "web.example", CAFile: ca.WriteCA(t)}})
	if err != nil {
		t.Fatal(err)
	}
	want := fmt.Sprintf("web.example:%d", tgt.Port)
	if got.Host != want || got.Body != "host="+want {
		t.Errorf("Host %q, body %q; want %q sent and seen", got.Host, got.Body, want)
	}
}

// Issue 11.11: RefuseBelow makes a second handshake offering only the
// versions below it. A server that still takes TLS 1.0/1.1 accepts it.
func TestTLSRefuseBelow(t *testing.T) {
	ca := testcert.NewCA(t, "portcheck test CA")
	old := serving(ca.Valid(t, "web.example"))
	old.MinVersion = tls.VersionTLS10
	for _, tc := range []struct {
		name     string
		cfg      *tls.Config
		accepted bool
	}{
		{"server accepts TLS 1.0 and 1.1", old, true},
		{"server refuses them (Go's default)", serving(ca.Valid(t, "web.example")), false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			tgt := httpsServer(t, tc.cfg, http.NotFoundHandler())
			got, err := TLS(t.Context(), providers.Exec{}, tgt, TLSParams{ServerName: "web.example", CAFile: ca.WriteCA(t), RefuseBelow: tls.VersionTLS12})
			if err != nil {
				t.Fatal(err)
			}
			b := got.BelowMin
			if b == nil || b.Accepted != tc.accepted || strings.Join(b.Offered, ",") != "TLS1.0,TLS1.1" {
				t.Fatalf("below_min %+v, want accepted=%v offering TLS1.0,TLS1.1", b, tc.accepted)
			}
			if tc.accepted && b.Version != "TLS1.1" {
				t.Errorf("negotiated %q below the minimum, want TLS1.1", b.Version)
			}
			if !tc.accepted && b.Error == "" {
				t.Error("refused without an error")
			}
			if got.Version != "TLS1.3" {
				t.Errorf("first handshake %s, want TLS1.3 (the second must not change it)", got.Version)
			}
		})
	}
}

// Issue 11.12 and 11.13: the key's algorithm and size, the signature
// algorithm, and whether a certificate signs itself are in the evidence.
func TestTLSKeyAndSelfSignedFacts(t *testing.T) {
	ca := testcert.NewCA(t, "portcheck test CA")
	weak := httpsServer(t, serving(ca.RSALeaf(t, 1024, "web.example")), http.NotFoundHandler())
	got, err := TLS(t.Context(), providers.Exec{}, weak, TLSParams{ServerName: "web.example", CAFile: ca.WriteCA(t)})
	if err != nil {
		t.Fatal(err)
	}
	if l := got.Chain[0]; l.KeyAlgorithm != "RSA" || l.KeyBits != 1024 || l.SignatureAlgorithm != "ECDSA-SHA256" || l.SelfSigned {
		t.Errorf("RSA-1024 leaf: %+v", l)
	}
	self := httpsServer(t, serving(testcert.SelfSigned(t, "web.example")), http.NotFoundHandler())
	got, err = TLS(t.Context(), providers.Exec{}, self, TLSParams{ServerName: "web.example"})
	if err != nil {
		t.Fatal(err)
	}
	if !got.Chain[0].SelfSigned || got.Verified {
		t.Errorf("self-signed leaf: %+v verified=%v", got.Chain[0], got.Verified)
	}
}

// Issue 11.14: the body pattern is searched in every byte read, not only
// in the 4 KiB kept in the facts.
func TestHTTPBodyPatternBeyondKept(t *testing.T) {
	tgt := httpServer(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		fmt.Fprint(w, strings.Repeat("x", 8<<10)+"status: healthy")
	}))
	got, err := HTTP(t.Context(), providers.Exec{}, tgt, HTTPParams{BodyPattern: regexp.MustCompile("status: healthy")})
	if err != nil {
		t.Fatal(err)
	}
	if got.BodyMatch == nil || !got.BodyMatch.Matched || got.BodyMatch.Offset != 8<<10 || strings.Contains(got.Body, "healthy") {
		t.Errorf("body_match %+v (kept %d bytes), want a match at 8192 beyond the kept body", got.BodyMatch, len(got.Body))
	}
}

// Issue 9.15: gRPC against an HTTP/1 server names HTTP/1, not the frame
// error gRPC reports.
func TestGRPCAgainstHTTP1(t *testing.T) {
	tgt := httpServer(t, http.NotFoundHandler())
	got, err := GRPC(t.Context(), providers.Exec{}, tgt, GRPCParams{})
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(got.HTTP1, "HTTP/1.1 ") || !strings.Contains(got.Error, "answered in HTTP/1") {
		t.Errorf("facts %+v, want the HTTP/1 status line named", got)
	}
}

// Issue 11.9 for gRPC: a server requiring a client certificate, with and
// without one given.
func TestGRPCClientCertificate(t *testing.T) {
	ca := testcert.NewCA(t, "portcheck test CA")
	pool := x509.NewCertPool()
	pool.AddCert(ca.Cert)
	cfg := serving(ca.Valid(t, "grpc.example"))
	cfg.ClientAuth, cfg.ClientCAs = tls.RequireAndVerifyClientCert, pool
	tgt := grpcServer(t, true, grpc.Creds(credentials.NewTLS(cfg)))
	base := TLSParams{ServerName: "grpc.example", CAFile: ca.WriteCA(t)}

	got, err := GRPC(t.Context(), providers.Exec{}, tgt, GRPCParams{TLS: true, TLSParams: base})
	if err != nil {
		t.Fatal(err)
	}
	if got.Status != "" || got.TLS == nil || !got.TLS.ClientCertRequested || !strings.Contains(got.Error, "certificate required") {
		t.Errorf("without a client certificate: %+v (tls %+v), want the RPC refused for it", got, got.TLS)
	}
	certFile, keyFile := testcert.WritePair(t, ca.Client(t, "probe"))
	withCert := base
	withCert.ClientCert, withCert.ClientKey = certFile, keyFile
	got, err = GRPC(t.Context(), providers.Exec{}, tgt, GRPCParams{TLS: true, TLSParams: withCert})
	if err != nil || got.Status != "SERVING" || !got.TLS.ClientCertSent {
		t.Errorf("with a client certificate: %+v %v, want SERVING", got, err)
	}
}

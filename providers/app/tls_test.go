package app

import (
	"crypto/sha256"
	"crypto/tls"
	"encoding/hex"
	"net"
	"net/http"
	"net/netip"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/portcheck/portcheck/internal/testcert"
	"github.com/portcheck/portcheck/providers"
)

// stable drops what changes run to run (timings, serials, hashes, exact
// validity instants, the hardware-dependent suite) and the error texts,
// which tests check by substring.
func stable(f *TLSFacts) *TLSFacts {
	if f == nil {
		return nil
	}
	c := *f
	c.DurationMs, c.Error, c.VerifyError, c.CipherSuite = 0, "", "", ""
	c.Chain = nil
	for _, cert := range f.Chain {
		cert.NotBefore, cert.NotAfter, cert.SerialNumber, cert.SHA256 = time.Time{}, time.Time{}, "", ""
		c.Chain = append(c.Chain, cert)
	}
	return &c
}

func TestTLS(t *testing.T) {
	ca := testcert.NewCA(t, "portcheck test CA", testOrg)
	inter := ca.Intermediate(t, "portcheck test intermediate", testcert.Validity(testNow.Add(-time.Hour), testNow.Add(5*365*day)))
	otherCA := testcert.NewCA(t, "someone else's CA", testOrg)
	caFile := ca.WriteCA(t)

	good := leaf(t, ca, -day, 30*day+time.Hour, "web.example", "127.0.0.1")
	expired := leaf(t, ca, -60*day, -47*time.Hour, "web.example", "127.0.0.1")
	otherName := leaf(t, ca, -day, 30*day+time.Hour, "other.example")
	unknownCA := leaf(t, otherCA, -day, 30*day+time.Hour, "web.example", "127.0.0.1")
	chained := leaf(t, inter, -day, 30*day+time.Hour, "web.example")

	leafCert := func(issuer string, dns []string, ips []string, days int) Cert {
		return Cert{Subject: "CN=" + dns[0], Issuer: issuer, DNSNames: dns, IPAddresses: ips, DaysLeft: days,
			KeyAlgorithm: "ECDSA", KeyBits: 256, SignatureAlgorithm: "ECDSA-SHA256"}
	}
	caName := "CN=portcheck test CA,O=portcheck test"
	webLeaf := leafCert(caName, []string{"web.example"}, []string{"127.0.0.1"}, 30)
	trusted := TLSParams{ServerName: "web.example", CAFile: caFile, Now: func() time.Time { return testNow }}

	tests := []struct {
		name       string
		serve      tls.Certificate
		maxVersion uint16
		plain      bool // a plain HTTP server instead of TLS
		silent     bool // accepts and never answers
		refused    bool
		params     TLSParams
		want       TLSFacts
		wantErr    string
		wantVerify string
	}{
		{
			name:   "valid",
			serve:  good,
			params: trusted,
			want: TLSFacts{Handshake: true, Version: "TLS1.3", ServerName: "web.example", ALPN: "http/1.1",
				Chain: []Cert{webLeaf}, Verified: true},
		},
		{
			name:   "no SNI verifies the IP SAN",
			serve:  good,
			params: TLSParams{CAFile: caFile, Now: trusted.Now},
			want:   TLSFacts{Handshake: true, Version: "TLS1.3", ALPN: "http/1.1", Chain: []Cert{webLeaf}, Verified: true},
		},
		{
			name:       "expired leaf still reports the chain",
			serve:      expired,
			params:     trusted,
			want:       TLSFacts{Handshake: true, Version: "TLS1.3", ServerName: "web.example", ALPN: "http/1.1", Chain: []Cert{leafCert(caName, []string{"web.example"}, []string{"127.0.0.1"}, -2)}},
			wantVerify: "x509: certificate has expired",
		},
		{
			name:       "SNI not in the certificate",
			serve:      good,
			params:     TLSParams{ServerName: "other.example", CAFile: caFile, Now: trusted.Now},
			want:       TLSFacts{Handshake: true, Version: "TLS1.3", ServerName: "other.example", ALPN: "http/1.1", Chain: []Cert{webLeaf}},
			wantVerify: "x509: certificate is valid for web.example, not other.example",
		},
		{
			name:       "certificate for another name",
			serve:      otherName,
			params:     trusted,
			want:       TLSFacts{Handshake: true, Version: "TLS1.3", ServerName: "web.example", ALPN: "http/1.1", Chain: []Cert{leafCert(caName, []string{"other.example"}, nil, 30)}},
			wantVerify: "x509: certificate is valid for other.example, not web.example",
		},
		{
			name:       "unknown CA",
			serve:      unknownCA,
			params:     trusted,
			want:       TLSFacts{Handshake: true, Version: "TLS1.3", ServerName: "web.example", ALPN: "http/1.1", Chain: []Cert{leafCert("CN=someone else's CA,O=portcheck test", []string{"web.example"}, []string{"127.0.0.1"}, 30)}},
			wantVerify: "x509: certificate signed by unknown authority",
		},
		{
			name:   "intermediate presented after the leaf",
			serve:  chained,
			params: trusted,
			want: TLSFacts{Handshake: true, Version: "TLS1.3", ServerName: "web.example", ALPN: "http/1.1", Verified: true, Chain: []Cert{
				leafCert("CN=portcheck test intermediate", []string{"web.example"}, nil, 30),
				{Subject: "CN=portcheck test intermediate", Issuer: caName, DaysLeft: 5 * 365, IsCA: true,
					KeyAlgorithm: "ECDSA", KeyBits: 256, SignatureAlgorithm: "ECDSA-SHA256"},
			}},
		},
		{
			name:       "server limited to TLS 1.2",
			serve:      good,
			maxVersion: tls.VersionTLS12,
			params:     trusted,
			want:       TLSFacts{Handshake: true, Version: "TLS1.2", ServerName: "web.example", ALPN: "http/1.1", Chain: []Cert{webLeaf}, Verified: true},
		},
		{
			name:    "plain HTTP server",
			plain:   true,
			params:  trusted,
			want:    TLSFacts{ServerName: "web.example", Phase: "tls"},
			wantErr: "tls: first record does not look like a TLS handshake",
		},
		{
			name:    "handshake never answered",
			silent:  true,
			params:  TLSParams{ServerName: "web.example", Timeout: 300 * time.Millisecond},
			want:    TLSFacts{ServerName: "web.example", Phase: "tls"},
			wantErr: "timeout after 300ms",
		},
		{
			name:    "connection refused",
			refused: true,
			params:  trusted,
			want:    TLSFacts{Phase: "connect"},
			wantErr: "connection refused",
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			var tgt providers.Target
			switch {
			case tc.refused:
				tgt = closedPort(t)
			case tc.silent:
				tgt = tcpServer(t, silentServer)
			case tc.plain:
				tgt = httpServer(t, http.NotFoundHandler())
			default:
				cfg := serving(tc.serve)
				cfg.MaxVersion = tc.maxVersion
				tgt = httpsServer(t, cfg, http.NotFoundHandler())
			}
			got, err := TLS(t.Context(), providers.Exec{}, tgt, tc.params)
			if err != nil {
				t.Fatalf("TLS: %v", err)
			}
			if diff := cmp.Diff(&tc.want, stable(got)); diff != "" {
				t.Errorf("facts (-want +got):\n%s", diff)
			}
			wantContains(t, "Error", got.Error, tc.wantErr)
			wantContains(t, "VerifyError", got.VerifyError, tc.wantVerify)
			if got.Handshake && got.CipherSuite == "" {
				t.Error("CipherSuite empty after a handshake")
			}
			wantDuration(t, got.DurationMs)
			if len(got.Chain) > 0 {
				sum := sha256.Sum256(tc.serve.Certificate[0])
				if got.Chain[0].SHA256 != hex.EncodeToString(sum[:]) {
					t.Errorf("leaf SHA256 = %s, want the served leaf's %x", got.Chain[0].SHA256, sum)
				}
			}
		})
	}
}

// Verification failures are reported together, not just the first found.
func TestTLSReportsEveryVerifyProblem(t *testing.T) {
	ca := testcert.NewCA(t, "portcheck test CA")
	expired := leaf(t, ca, -60*day, -day, "web.example")
	tgt := httpsServer(t, serving(expired), http.NotFoundHandler())
	got, err := TLS(t.Context(), providers.Exec{}, tgt, TLSParams{ServerName: "b.example", CAFile: ca.WriteCA(t)})
	if err != nil {
		t.Fatal(err)
	}
	wantContains(t, "VerifyError", got.VerifyError, "certificate has expired")
	wantContains(t, "VerifyError", got.VerifyError, "certificate is valid for web.example, not b.example")
	if got.Verified || got.Chain[0].DaysLeft >= 0 {
		t.Errorf("Verified = %v, DaysLeft = %d; want false and negative", got.Verified, got.Chain[0].DaysLeft)
	}
}

func TestTLSCannotAttempt(t *testing.T) {
	ok := providers.Target{Address: netip.MustParseAddr("127.0.0.1"), Port: 443, Protocol: "tcp"}
	testCannotAttempt(t, "TLS", TLS, []cannotAttempt[TLSParams]{
		{"hostname instead of IP", providers.Exec{}, providers.Target{Address: netip.Addr{}, Port: 443}, TLSParams{}},
		{"udp", providers.Exec{}, providers.Target{Address: netip.MustParseAddr("127.0.0.1"), Port: 443, Protocol: "udp"}, TLSParams{}},
		{"port 0", providers.Exec{}, providers.Target{Address: netip.MustParseAddr("127.0.0.1")}, TLSParams{}},
		{"missing CA file", providers.Exec{}, ok, TLSParams{CAFile: "/nonexistent/ca.pem"}},
		{"missing namespace", providers.Exec{Netns: "/nonexistent/netns"}, ok, TLSParams{}},
	})
}

func TestCertFactsIPv6(t *testing.T) {
	ca := testcert.NewCA(t, "portcheck test CA")
	ln, err := net.Listen("tcp", "[::1]:0")
	if err != nil {
		t.Skip("no IPv6 loopback:", err)
	}
	tgt := serveHTTP(t, ln, serving(leaf(t, ca, -day, day, "::1")), http.NotFoundHandler())
	got, err := TLS(t.Context(), providers.Exec{}, tgt, TLSParams{CAFile: ca.WriteCA(t)})
	if err != nil {
		t.Fatal(err)
	}
	if !got.Verified || len(got.Chain) != 1 || cmp.Diff([]string{"::1"}, got.Chain[0].IPAddresses) != "" {
		t.Errorf("IPv6 target: %+v", got)
	}
}

package runner

import (
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/portcheck/portcheck/config"
	"github.com/portcheck/portcheck/providers"
	"github.com/portcheck/portcheck/providers/app"
)

// Evaluator cases of issue 11 on recorded facts; the lab tests in
// servers_test.go show the same against nginx, haproxy and redis.
func TestEvalTLSIssue11(t *testing.T) {
	c := &Check{Layer: providers.LayerApplication, Name: "tls"}
	now := time.Now()
	leaf := app.Cert{Subject: "CN=web.example", Issuer: "CN=Inter", NotBefore: now.Add(-time.Hour), NotAfter: now.Add(90 * 24 * time.Hour), DaysLeft: 90,
		KeyAlgorithm: "ECDSA", KeyBits: 256, SignatureAlgorithm: "ECDSA-SHA256"}
	with := func(mod func(*app.Cert)) []app.Cert { l := leaf; mod(&l); return []app.Cert{l} }
	ok := func(chain []app.Cert) *app.TLSFacts {
		return &app.TLSFacts{Handshake: true, Verified: true, Version: "TLS1.3", Chain: chain}
	}
	unknown := func(chain ...app.Cert) *app.TLSFacts {
		return &app.TLSFacts{Handshake: true, Version: "TLS1.3", VerifyError: "x509: certificate signed by unknown authority", Chain: chain}
	}
	root := app.Cert{Subject: "CN=Root", Issuer: "CN=Root", IsCA: true, SelfSigned: true, SignatureAlgorithm: "SHA1-RSA", KeyAlgorithm: "RSA", KeyBits: 4096}
	inter := app.Cert{Subject: "CN=Inter", Issuer: "CN=Root", IsCA: true, KeyAlgorithm: "RSA", KeyBits: 4096, SignatureAlgorithm: "SHA256-RSA"}
	tests := []struct {
		name    string
		x       config.ExpectTLS
		f       *app.TLSFacts
		status  Status
		summary string
		hint    string
	}{
		{"11.12 RSA-1024 leaf", config.ExpectTLS{}, ok(with(func(c *app.Cert) { c.KeyAlgorithm, c.KeyBits = "RSA", 1024 })), StatusFail,
			"1024-bit RSA key, less than 2048", "2048 bits or more"},
		{"11.12 SHA-1 signature on the leaf", config.ExpectTLS{}, ok(with(func(c *app.Cert) { c.SignatureAlgorithm = "SHA1-RSA" })), StatusFail,
			"weak signature: the leaf (CN=web.example) is signed with SHA1-RSA", "SHA-256"},
		{"11.12 a SHA-1 self-signature on a root does not count", config.ExpectTLS{}, ok([]app.Cert{leaf, inter, root}), StatusPass,
			"ECDSA-256, ECDSA-SHA256", ""},
		{"11.13 self-signed", config.ExpectTLS{}, unknown(with(func(c *app.Cert) { c.SelfSigned, c.Issuer = true, c.Subject })...), StatusFail,
			"self-signed certificate CN=web.example", "self-signed"},
		{"11.13 missing intermediate", config.ExpectTLS{}, unknown(leaf), StatusFail,
			"missing intermediate: the server sends only CN=web.example, issued by CN=Inter", "serve the full chain"},
		{"11.13 unknown root (root presented)", config.ExpectTLS{}, unknown(leaf, inter, root), StatusFail,
			"unknown root: the chain ends at CN=Root", "root this machine does not trust"},
		{"11.13 unknown root (root not presented)", config.ExpectTLS{}, unknown(leaf, inter), StatusFail,
			"unknown root: the chain ends at CN=Inter, issued by CN=Root", "ca_file"},
		{"11.15 not yet valid: no renew hint", config.ExpectTLS{}, &app.TLSFacts{Handshake: true, VerifyError: "x509: certificate has expired or is not yet valid",
			Chain: with(func(c *app.Cert) { c.NotBefore = now.Add(48 * time.Hour) })}, StatusFail, "certificate not trusted", "not valid yet"},
		{"11.11 old versions accepted", config.ExpectTLS{MinVersion: 0x0303}, &app.TLSFacts{Handshake: true, Verified: true, Version: "TLS1.3", Chain: []app.Cert{leaf},
			BelowMin: &app.BelowFacts{Offered: []string{"TLS1.0", "TLS1.1"}, Accepted: true, Version: "TLS1.0"}}, StatusFail,
			"still accepts TLS1.0", "ssl_protocols"},
		{"11.11 old versions refused", config.ExpectTLS{MinVersion: 0x0303}, &app.TLSFacts{Handshake: true, Verified: true, Version: "TLS1.3", Chain: []app.Cert{leaf},
			BelowMin: &app.BelowFacts{Offered: []string{"TLS1.0", "TLS1.1"}, Error: "remote error: tls: protocol version not supported"}}, StatusPass,
			"TLS1.0 and TLS1.1 refused", ""},
		{"11.11 second handshake missing is no pass", config.ExpectTLS{MinVersion: 0x0303}, ok([]app.Cert{leaf}), StatusError, "no handshake offering", ""},
		{"11.9 mTLS alert after the handshake", config.ExpectTLS{}, &app.TLSFacts{Handshake: true, Verified: true, Version: "TLS1.3", Chain: []app.Cert{leaf},
			ClientCertRequested: true, Alert: "tls: certificate required"}, StatusFail, "requires a client certificate (mTLS)", "client_cert"},
		{"11.9 client certificate rejected", config.ExpectTLS{}, &app.TLSFacts{Handshake: true, Verified: true, Version: "TLS1.3", Chain: []app.Cert{leaf},
			ClientCertRequested: true, ClientCertSent: true, Alert: "tls: unknown certificate authority"}, StatusFail, "rejected the client certificate", "does not accept the client certificate"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			x := tt.x
			r := evalTLS(c, &x, tt.f)
			if r.Status != tt.status || !strings.Contains(r.Summary, tt.summary) || !strings.Contains(r.Hint, tt.hint) {
				t.Errorf("%s %q hint %q; want %s with %q, hint with %q", r.Status, r.Summary, r.Hint, tt.status, tt.summary, tt.hint)
			}
			if strings.Contains(tt.name, "11.15") || strings.Contains(tt.name, "11.11") || strings.Contains(tt.name, "11.9") {
				if strings.Contains(r.Hint, "renew") {
					t.Errorf("hint %q says renew", r.Hint)
				}
			}
		})
	}
}

// Issue 11.15: with several response_headers failing, the one named is
// always the same (the first by name), not whichever map order gives.
func TestEvalHTTPResponseHeadersStable(t *testing.T) {
	c := &Check{Layer: providers.LayerApplication, Name: "http"}
	x := &config.ExpectHTTP{ResponseHeaders: map[string]*regexp.Regexp{}}
	for _, h := range []string{"X-Zeta", "X-Alpha", "X-Mid", "Content-Type", "X-Beta"} {
		x.ResponseHeaders[h] = regexp.MustCompile("^never$")
	}
	f := &app.HTTPFacts{URL: "http://10.0.0.5:80/", Status: 200}
	for i := 0; i < 50; i++ {
		if r := evalHTTP(c, x, f); !strings.Contains(r.Summary, "header Content-Type") {
			t.Fatalf("run %d names %q, want Content-Type (first by name)", i, r.Summary)
		}
	}
}

// Issue 11.14: a body_match from the provider (every byte read) decides;
// the kept 4 KiB is only the fallback.
func TestEvalHTTPBodyMatch(t *testing.T) {
	c := &Check{Layer: providers.LayerApplication, Name: "http"}
	re := regexp.MustCompile("healthy")
	x := &config.ExpectHTTP{BodyRegexp: re}
	f := &app.HTTPFacts{URL: "http://10.0.0.5:80/", Status: 200, Body: strings.Repeat("x", 4096), BodyBytes: 9000, BodyTruncated: true,
		BodyMatch: &app.BodyMatch{Pattern: "healthy", Matched: true, Offset: 8000}}
	if r := evalHTTP(c, x, f); r.Status != StatusPass {
		t.Errorf("%s %q, want pass from body_match", r.Status, r.Summary)
	}
	f.BodyMatch = &app.BodyMatch{Pattern: "healthy"}
	if r := evalHTTP(c, x, f); r.Status != StatusFail || !strings.Contains(r.Hint, "the first 9000 bytes") {
		t.Errorf("%s hint %q, want a failure naming the bytes searched", r.Status, r.Hint)
	}
}

// Issue 11.15: an error page's text is in the summary; redis refusals
// are named.
func TestEvalGistAndRedis(t *testing.T) {
	for _, tc := range []struct{ body, want string }{
		{"<html><head><title>400 No required SSL certificate was sent</title></head><body>…</body></html>", "400 No required SSL certificate was sent"},
		{"<h1>Service Unavailable</h1><p>later</p>", "Service Unavailable"},
		{"\n\n  upstream connect error  \nmore", "upstream connect error"},
	} {
		if got := bodyGist(tc.body); got != tc.want {
			t.Errorf("bodyGist(%q) = %q, want %q", tc.body, got, tc.want)
		}
	}
	for _, tc := range []struct{ banner, want string }{
		{"-DENIED Redis is running in protected mode", "protected mode"},
		{"-NOAUTH Authentication required.", "asks for authentication"},
		{"SSH-2.0-OpenSSH", "another service"},
	} {
		if got := bannerHint(tc.banner); !strings.Contains(got, tc.want) {
			t.Errorf("bannerHint(%q) = %q, want %q", tc.banner, got, tc.want)
		}
	}
}

// Issue 9.15: gRPC facts naming HTTP/1 are app_mismatch saying so.
func TestEvalGRPCHTTP1(t *testing.T) {
	c := &Check{Layer: providers.LayerApplication, Name: "grpc"}
	r := evalGRPC(c, &config.ExpectGRPC{}, &app.GRPCFacts{Code: "Unavailable", HTTP1: "HTTP/1.1 400 Bad Request", Error: "the server answered in HTTP/1"})
	if r.Cause != CauseAppMismatch || !strings.Contains(r.Summary, "answers HTTP/1") {
		t.Errorf("%s %q", r.Cause, r.Summary)
	}
}

package app

import (
	"bufio"
	"fmt"
	"net"
	"net/http"
	"net/netip"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/portcheck/portcheck/internal/testcert"
	"github.com/portcheck/portcheck/providers"
)

// webHandler is the application the HTTP tests probe.
func webHandler() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Add("X-Test", "a")
		w.Header().Add("X-Test", "b")
		w.Header().Set("Content-Type", "text/plain")
		fmt.Fprint(w, "hello")
	})
	mux.HandleFunc("/echo", func(w http.ResponseWriter, r *http.Request) {
		fmt.Fprintf(w, "%s %s host=%s x-req=%s q=%s", r.Method, r.URL.Path, r.Host, r.Header.Get("X-Req"), r.URL.Query().Get("q"))
	})
	mux.HandleFunc("/down", func(w http.ResponseWriter, r *http.Request) {
		http.Error(w, "maintenance", http.StatusServiceUnavailable)
	})
	mux.HandleFunc("/old", func(w http.ResponseWriter, r *http.Request) {
		http.Redirect(w, r, "/new", http.StatusMovedPermanently)
	})
	mux.HandleFunc("/big", func(w http.ResponseWriter, r *http.Request) {
		w.Write([]byte(strings.Repeat("x", 10<<10)))
	})
	mux.HandleFunc("/binary", func(w http.ResponseWriter, r *http.Request) {
		w.Write([]byte("ok\xff\xfe"))
	})
	mux.HandleFunc("/split-rune", func(w http.ResponseWriter, r *http.Request) {
		// 4095 bytes then a 3-byte rune across the 4 KiB boundary.
		w.Write([]byte(strings.Repeat("x", 4095) + "€tail"))
	})
	return mux
}

// hf keeps the facts compared exactly; the rest is checked apart.
func hf(f *HTTPFacts) *HTTPFacts {
	c := *f
	c.DurationMs, c.Error, c.URL, c.Host, c.TLS = 0, "", "", "", nil
	delete(c.Headers, "Date")
	if len(c.Body) > 64 {
		c.Body = fmt.Sprintf("%d bytes: %.16q…%q", len(c.Body), c.Body, c.Body[len(c.Body)-8:])
	}
	return &c
}

func TestHTTP(t *testing.T) {
	ca := testcert.NewCA(t, "portcheck test CA")
	caFile := ca.WriteCA(t)
	good := leaf(t, ca, -day, 30*day, "web.example", "127.0.0.1")
	expired := leaf(t, ca, -60*day, -day, "web.example", "127.0.0.1")

	plain := httpServer(t, webHandler())
	secure := httpsServer(t, serving(good), webHandler())
	stale := httpsServer(t, serving(expired), webHandler())
	// Reads the request, then hangs up without answering.
	hangup := tcpServer(t, func(c net.Conn) { http.ReadRequest(bufio.NewReader(c)) })
	// Reads the request and never answers.
	silent := tcpServer(t, func(c net.Conn) {
		http.ReadRequest(bufio.NewReader(c))
		time.Sleep(time.Minute)
	})
	trusted := TLSParams{ServerName: "web.example", CAFile: caFile}
	textHeaders := func(n string) map[string]string {
		return map[string]string{"Content-Length": n, "Content-Type": "text/plain; charset=utf-8"}
	}

	tests := []struct {
		name    string
		target  providers.Target
		params  HTTPParams
		want    HTTPFacts
		wantURL string
		wantErr string
		wantTLS func(t *testing.T, f *TLSFacts)
	}{
		{
			name:    "200 with body and headers",
			target:  plain,
			wantURL: "http://" + plain.String() + "/",
			want: HTTPFacts{Status: 200, StatusText: "OK", Proto: "HTTP/1.1", Body: "hello", BodyBytes: 5,
				Headers: map[string]string{"X-Test": "a, b", "Content-Type": "text/plain", "Content-Length": "5"}},
		},
		{
			name:   "method, path, query, Host and headers are sent",
			target: plain,
			params: HTTPParams{Method: "POST", Path: "echo?q=1", HostHeader: "web.example", Headers: map[string]string{"X-Req": "yes"}},
			want: HTTPFacts{Status: 200, StatusText: "OK", Proto: "HTTP/1.1", Body: "POST /echo host=web.example x-req=yes q=1", BodyBytes: 41,
				Headers: textHeaders("41")},
		},
		{
			name:   "HEAD has no body",
			target: plain,
			params: HTTPParams{Method: "HEAD"},
			want: HTTPFacts{Status: 200, StatusText: "OK", Proto: "HTTP/1.1",
				Headers: map[string]string{"X-Test": "a, b", "Content-Type": "text/plain", "Content-Length": "5"}},
		},
		{
			name:   "503",
			target: plain,
			params: HTTPParams{Path: "/down"},
			want: HTTPFacts{Status: 503, StatusText: "Service Unavailable", Proto: "HTTP/1.1", Body: "maintenance\n", BodyBytes: 12,
				Headers: map[string]string{"Content-Length": "12", "Content-Type": "text/plain; charset=utf-8", "X-Content-Type-Options": "nosniff"}},
		},
		{
			name:   "301 is reported, not followed",
			target: plain,
			params: HTTPParams{Path: "/old"},
			want: HTTPFacts{Status: 301, StatusText: "Moved Permanently", Proto: "HTTP/1.1", Body: "<a href=\"/new\">Moved Permanently</a>.\n\n", BodyBytes: 39,
				Headers: map[string]string{"Location": "/new", "Content-Length": "39", "Content-Type": "text/html; charset=utf-8"}},
		},
		{
			name:   "long body: 4 KiB kept",
			target: plain,
			params: HTTPParams{Path: "/big"},
			want: HTTPFacts{Status: 200, StatusText: "OK", Proto: "HTTP/1.1", Body: hf(&HTTPFacts{Body: strings.Repeat("x", 4096)}).Body, BodyBytes: 10 << 10, BodyTruncated: true,
				Headers: map[string]string{"Content-Type": "text/plain; charset=utf-8"}},
		},
		{
			name:   "MaxBody limits what is read",
			target: plain,
			params: HTTPParams{Path: "/big", MaxBody: 100},
			want: HTTPFacts{Status: 200, StatusText: "OK", Proto: "HTTP/1.1", Body: hf(&HTTPFacts{Body: strings.Repeat("x", 100)}).Body, BodyBytes: 100, BodyTruncated: true,
				Headers: map[string]string{"Content-Type": "text/plain; charset=utf-8"}},
		},
		{
			name:   "invalid UTF-8 replaced",
			target: plain,
			params: HTTPParams{Path: "/binary"},
			want: HTTPFacts{Status: 200, StatusText: "OK", Proto: "HTTP/1.1", Body: "ok\uFFFD", BodyBytes: 4,
				Headers: map[string]string{"Content-Length": "4", "Content-Type": "text/plain; charset=utf-8"}},
		},
		{
			name:   "a rune split by the 4 KiB cut is dropped",
			target: plain,
			params: HTTPParams{Path: "/split-rune"},
			want: HTTPFacts{Status: 200, StatusText: "OK", Proto: "HTTP/1.1", Body: hf(&HTTPFacts{Body: strings.Repeat("x", 4095)}).Body, BodyBytes: 4102, BodyTruncated: true,
				Headers: map[string]string{"Content-Type": "text/plain; charset=utf-8"}},
		},
		{
			name:    "https verified",
			target:  secure,
			params:  HTTPParams{Scheme: "https", TLS: trusted},
			wantURL: "https://" + secure.String() + "/",
			want: HTTPFacts{Status: 200, StatusText: "OK", Proto: "HTTP/1.1", Body: "hello", BodyBytes: 5,
				Headers: map[string]string{"X-Test": "a, b", "Content-Type": "text/plain", "Content-Length": "5"}},
			wantTLS: func(t *testing.T, f *TLSFacts) {
				if !f.Handshake || !f.Verified || f.ServerName != "web.example" || f.ALPN != "http/1.1" {
					t.Errorf("TLS facts: %+v", f)
				}
			},
		},
		{
			name:   "https takes SNI from the Host header",
			target: secure,
			params: HTTPParams{Scheme: "https", Path: "/echo", HostHeader: "web.example:443", TLS: TLSParams{CAFile: caFile}},
			want: HTTPFacts{Status: 200, StatusText: "OK", Proto: "HTTP/1.1", Body: "GET /echo host=web.example:443 x-req= q=", BodyBytes: 40,
				Headers: textHeaders("40")},
			wantTLS: func(t *testing.T, f *TLSFacts) {
				if !f.Verified || f.ServerName != "web.example" {
					t.Errorf("TLS facts: %+v", f)
				}
			},
		},
		{
			name:    "https expired: no request, TLS facts kept",
			target:  stale,
			params:  HTTPParams{Scheme: "https", TLS: trusted},
			want:    HTTPFacts{Phase: "tls"},
			wantErr: "certificate verification failed: x509: certificate has expired",
			wantTLS: func(t *testing.T, f *TLSFacts) {
				if !f.Handshake || f.Verified || len(f.Chain) != 1 || f.Chain[0].DaysLeft >= 0 {
					t.Errorf("TLS facts: %+v", f)
				}
			},
		},
		{
			name:   "https expired but insecure: request sent",
			target: stale,
			params: HTTPParams{Scheme: "https", TLS: trusted, Insecure: true},
			want: HTTPFacts{Status: 200, StatusText: "OK", Proto: "HTTP/1.1", Body: "hello", BodyBytes: 5,
				Headers: map[string]string{"X-Test": "a, b", "Content-Type": "text/plain", "Content-Length": "5"}},
			wantTLS: func(t *testing.T, f *TLSFacts) {
				if f.Verified || !strings.Contains(f.VerifyError, "expired") {
					t.Errorf("TLS facts: %+v", f)
				}
			},
		},
		{
			name:    "https to a plain HTTP server",
			target:  plain,
			params:  HTTPParams{Scheme: "https", TLS: trusted},
			want:    HTTPFacts{Phase: "tls"},
			wantErr: "tls: first record does not look like a TLS handshake",
			wantTLS: func(t *testing.T, f *TLSFacts) {
				if f.Handshake || f.Phase != "tls" {
					t.Errorf("TLS facts: %+v", f)
				}
			},
		},
		{
			name:    "connection refused",
			target:  closedPort(t),
			want:    HTTPFacts{Phase: "connect"},
			wantErr: "connection refused",
		},
		{
			name:    "server hangs up without answering",
			target:  hangup,
			want:    HTTPFacts{Phase: "read"},
			wantErr: "EOF",
		},
		{
			name:    "server never answers",
			target:  silent,
			params:  HTTPParams{Timeout: 300 * time.Millisecond},
			want:    HTTPFacts{Phase: "read"},
			wantErr: "timeout after 300ms",
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			got, err := HTTP(t.Context(), providers.Exec{}, tc.target, tc.params)
			if err != nil {
				t.Fatalf("HTTP: %v", err)
			}
			if diff := cmp.Diff(hf(&tc.want), hf(got)); diff != "" {
				t.Errorf("facts (-want +got):\n%s", diff)
			}
			wantContains(t, "Error", got.Error, tc.wantErr)
			if tc.wantURL != "" && got.URL != tc.wantURL {
				t.Errorf("URL = %q, want %q", got.URL, tc.wantURL)
			}
			wantTLSFacts(t, got.TLS, tc.wantTLS)
			wantDuration(t, got.DurationMs)
		})
	}
}

func TestHTTPCannotAttempt(t *testing.T) {
	ok := providers.Target{Address: netip.MustParseAddr("127.0.0.1"), Port: 80, Protocol: "tcp"}
	testCannotAttempt(t, "HTTP", HTTP, []cannotAttempt[HTTPParams]{
		{"hostname", providers.Exec{}, providers.Target{Address: netip.Addr{}, Port: 80}, HTTPParams{}},
		{"scheme", providers.Exec{}, ok, HTTPParams{Scheme: "ftp"}},
		{"method", providers.Exec{}, ok, HTTPParams{Method: "GE T"}},
		{"header", providers.Exec{}, ok, HTTPParams{Headers: map[string]string{"X-Bad": "a\r\nb"}}},
		{"host header", providers.Exec{}, ok, HTTPParams{HostHeader: "a b"}},
		{"CA file", providers.Exec{}, ok, HTTPParams{Scheme: "https", TLS: TLSParams{CAFile: "/nonexistent"}}},
		{"namespace", providers.Exec{Netns: "/nonexistent/netns"}, ok, HTTPParams{}},
	})
}

package exporter_test

import (
	"crypto/tls"
	"crypto/x509"
	"fmt"
	"io"
	"log"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"golang.org/x/crypto/bcrypt"

	"github.com/portcheck/portcheck/internal/exporter"
	"github.com/portcheck/portcheck/internal/testcert"
)

// TLS and basic auth come from an exporter-toolkit web configuration:
// without the password, or over plain HTTP, nothing is served.
func TestServeWebConfig(t *testing.T) {
	ls := newLocalServe(t, 0, exporter.Options{})
	ca := testcert.NewCA(t, "portcheck serve web CA")
	certFile, keyFile := testcert.WritePair(t, ca.Valid(t, "127.0.0.1"))
	hash, err := bcrypt.GenerateFromPassword([]byte("s3cret"), bcrypt.MinCost)
	if err != nil {
		t.Fatal(err)
	}
	webConfig := filepath.Join(t.TempDir(), "web.yml")
	writeFile(t, webConfig, fmt.Sprintf("tls_server_config:\n  cert_file: %s\n  key_file: %s\nbasic_auth_users:\n  prometheus: %s\n", certFile, keyFile, hash))

	ln, err := net.Listen("tcp4", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	srv := &http.Server{Handler: ls.exp.Handler(), ErrorLog: log.New(io.Discard, "", 0)}
	served := make(chan error, 1)
	go func() { served <- exporter.Serve(ln, srv, webConfig, testLogger()) }()
	t.Cleanup(func() {
		srv.Close()
		if err := <-served; err != nil {
			t.Errorf("Serve: %v", err)
		}
	})

	roots := x509.NewCertPool()
	roots.AppendCertsFromPEM(ca.PEM)
	c := &http.Client{Timeout: 10 * time.Second, Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: roots}}}
	base := "https://" + ln.Addr().String()
	tests := []struct {
		name, url, user, pass string
		code                  int
		body                  string
	}{
		{"no password", base + "/metrics", "", "", 401, "Unauthorized"},
		{"wrong password", base + "/metrics", "prometheus", "guess", 401, "Unauthorized"},
		{"metrics", base + "/metrics", "prometheus", "s3cret", 200, "portcheck_config_last_reload_successful 1"},
		{"probe", base + "/probe?target=endpoint.web", "prometheus", "s3cret", 200, `portcheck_endpoint_ok{endpoint="web"} 1`},
		{"probe without password", base + "/probe?target=endpoint.web", "", "", 401, "Unauthorized"},
		{"plain HTTP", "http://" + ln.Addr().String() + "/metrics", "prometheus", "s3cret", 400, "HTTP request to an HTTPS server"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			req, _ := http.NewRequest("GET", tc.url, nil)
			if tc.user != "" {
				req.SetBasicAuth(tc.user, tc.pass)
			}
			resp, err := c.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			b, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			if resp.StatusCode != tc.code || !strings.Contains(string(b), tc.body) {
				t.Errorf("%d %q, want %d with %q", resp.StatusCode, b, tc.code, tc.body)
			}
		})
	}
}

// A web configuration that does not load is an error before anything is
// served, naming the file.
func TestServeBadWebConfig(t *testing.T) {
	dir := t.TempDir()
	for name, text := range map[string]string{
		"missing cert": "tls_server_config:\n  cert_file: " + filepath.Join(dir, "nope.pem") + "\n  key_file: " + filepath.Join(dir, "nope.key") + "\n",
		"not yaml":     "tls_server_config: [\n",
		"unknown key":  "tls_server_cfg: {}\n",
	} {
		t.Run(name, func(t *testing.T) {
			p := filepath.Join(dir, strings.ReplaceAll(name, " ", "_")+".yml")
			writeFile(t, p, text)
			ln, err := net.Listen("tcp4", "127.0.0.1:0")
			if err != nil {
				t.Fatal(err)
			}
			defer ln.Close()
			err = exporter.Serve(ln, &http.Server{}, p, testLogger())
			if err == nil || !strings.Contains(err.Error(), "-web.config.file "+p) {
				t.Errorf("Serve with %s: %v", name, err)
			}
		})
	}
}

func writeFile(t *testing.T, p, text string) {
	t.Helper()
	if err := os.WriteFile(p, []byte(text), 0o600); err != nil {
		t.Fatal(err)
	}
}

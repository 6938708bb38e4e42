package exporter_test

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"fmt"
	"io"
	"log"
	"log/slog"
	"net"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/portcheck/portcheck/config"
	"github.com/portcheck/portcheck/internal/exporter"
	"github.com/portcheck/portcheck/internal/lab"
	"github.com/portcheck/portcheck/internal/netns"
	"github.com/portcheck/portcheck/internal/testcert"

	_ "github.com/portcheck/portcheck/providers/all"
)

// serveLab is a client and a server namespace: an HTTP server on 8080
// and a TLS server with an expired certificate on 8443 in the server, and
// `portcheck serve` (in-process, its listener inside the client's
// namespace) verifying them from the client every second.
type serveLab struct {
	client, server *lab.Host
	dir            string // the HCL directory
	exp            *exporter.Exporter
	url            string // the exporter, as seen from the client namespace
	expiry         time.Time
}

func newServeLab(t *testing.T, interval time.Duration) *serveLab {
	t.Helper()
	lab.Require(t, "ip", "nft")
	l := lab.New(t)
	client, server := l.Pair()
	sl := &serveLab{client: client, server: server, dir: t.TempDir()}

	serveHTTP(t, server.Listener("tcp4", "0.0.0.0:8080"), 0)
	ca := testcert.NewCA(t, "portcheck serve test CA")
	expired := ca.Expired(t, "web.lab")
	leaf, err := x509.ParseCertificate(expired.Certificate[0])
	if err != nil {
		t.Fatal(err)
	}
	sl.expiry = leaf.NotAfter
	serveHTTP(t, tls.NewListener(server.Listener("tcp4", "0.0.0.0:8443"), &tls.Config{Certificates: []tls.Certificate{expired}}), 0)

	writeHCL(t, sl.dir, fmt.Sprintf(`
host "server" {
  address = %q
  netns   = %q
}
host "client" {
  address = %q
  netns   = %q
}
endpoint "web" {
  host    = host.server
  from    = [host.client]
  port    = 8080
  timeout = "300ms"
  retries = 0
}
endpoint "secure" {
  host = host.server
  from = [host.client]
  port = 8443
  expect {
    tls {
      server_name = "web.lab"
      ca_file     = %q
    }
  }
}
`, server.Addr(), server.Path(), client.Addr(), client.Path(), ca.WriteCA(t)))

	x, err := exporter.New(exporter.Options{Load: exporter.HCLLoader(sl.dir, config.Options{}), Interval: interval,
		MaxTimeout: 5 * time.Second, Logger: testLogger()})
	if err != nil {
		t.Fatal(err)
	}
	sl.exp = x
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { x.Run(ctx); close(done) }()
	ln := client.Listener("tcp4", "127.0.0.1:0")
	srv := &http.Server{Handler: x.Handler(), ErrorLog: log.New(io.Discard, "", 0)}
	go exporter.Serve(ln, srv, "", slog.New(slog.DiscardHandler))
	t.Cleanup(func() { srv.Close(); cancel(); <-done })
	sl.url = "http://" + ln.Addr().String()
	return sl
}

// get fetches a URL from inside the client namespace.
func (sl *serveLab) get(t *testing.T, u string, header http.Header) (int, string) {
	t.Helper()
	c := &http.Client{Timeout: 10 * time.Second, Transport: &http.Transport{
		DialContext: func(ctx context.Context, network, addr string) (net.Conn, error) {
			return netns.DialContext(ctx, sl.client.Path(), &net.Dialer{}, network, addr)
		}}}
	req, err := http.NewRequest("GET", u, nil)
	if err != nil {
		t.Fatal(err)
	}
	for k, v := range header {
		req.Header[k] = v
	}
	resp, err := c.Do(req)
	if err != nil {
		t.Fatalf("GET %s: %v", u, err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

// The must-show: real Prometheus scrapes `portcheck serve` (the
// interval results on /metrics and blackbox-style /probe); an nft drop in
// the server's namespace shows up as the L2 cause firewall_blocked in the
// series read through Prometheus's HTTP API, and removing it clears it.
// The expired certificate's expiry is scraped too, and promtool accepts
// what serve exposes.
func TestPrometheusScrapesServe(t *testing.T) {
	lab.Require(t, "prometheus", "promtool")
	sl := newServeLab(t, time.Second)
	host := strings.TrimPrefix(sl.url, "http://")
	promAddr := "127.0.0.1:9090"
	sl.client.StartPrometheus(t, promAddr, fmt.Sprintf(`global:
  scrape_interval: 1s
  scrape_timeout: 900ms
scrape_configs:
  - job_name: portcheck
    static_configs:
      - targets: [%[1]q]
  - job_name: portcheck_probe
    metrics_path: /probe
    # A run reads the server's sockets and ruleset: leave it room on a
    # loaded machine under the race detector (1.5 s after the offset).
    scrape_interval: 2s
    scrape_timeout: 2s
    static_configs:
      - targets: [endpoint.web, endpoint.secure]
    relabel_configs:
      - source_labels: [__address__]
        target_label: __param_target
      - source_labels: [__param_target]
        target_label: instance
      - target_label: __address__
        replacement: %[1]s
`, host))
	prom := "http://" + promAddr

	// Healthy first: both jobs see endpoint web ok.
	sl.waitQuery(t, prom, `portcheck_endpoint_diagnosis{job="portcheck",endpoint="web",cause="ok"}`, "1")
	sl.waitQuery(t, prom, `portcheck_endpoint_ok{job="portcheck_probe",instance="endpoint.web"}`, "1")

	sl.server.NFT("table inet pcserve {\n  chain input {\n    type filter hook input priority 0; policy accept;\n    tcp dport 8080 drop\n  }\n}\n")
	for _, job := range []string{`job="portcheck"`, `job="portcheck_probe",instance="endpoint.web"`} {
		sl.waitQuery(t, prom, `portcheck_endpoint_diagnosis{`+job+`,endpoint="web",cause="firewall_blocked",layer="L2"}`, "1")
		sl.waitQuery(t, prom, `portcheck_check_status{`+job+`,endpoint="web",layer="L2",check="firewall",from="client",status="fail"}`, "1")
		sl.waitQuery(t, prom, `portcheck_endpoint_ok{`+job+`,endpoint="web"}`, "0")
	}

	sl.server.Exec("nft", "delete", "table", "inet", "pcserve")
	for _, job := range []string{`job="portcheck"`, `job="portcheck_probe",instance="endpoint.web"`} {
		sl.waitQuery(t, prom, `portcheck_endpoint_diagnosis{`+job+`,endpoint="web",cause="ok"}`, "1")
		sl.waitQuery(t, prom, `count(portcheck_endpoint_diagnosis{`+job+`,endpoint="web",cause="firewall_blocked"}) or vector(0)`, "0")
		sl.waitQuery(t, prom, `portcheck_check_status{`+job+`,endpoint="web",layer="L2",check="firewall",from="client",status="pass"}`, "1")
	}

	// The expired certificate fails L7 and its expiry is still exposed.
	sl.waitQuery(t, prom, `portcheck_endpoint_diagnosis{job="portcheck",endpoint="secure",cause="tls_error",layer="L7"}`, "1")
	sl.waitQuery(t, prom, `portcheck_tls_cert_expiry_timestamp_seconds{job="portcheck_probe",endpoint="secure",check="tls",from="client"}`, fmt.Sprint(sl.expiry.Unix()))
	sl.waitQuery(t, prom, `portcheck_last_run_success{job="portcheck"}`, "1")
	sl.waitQuery(t, prom, `count(up{job=~"portcheck.*"} == 0) or vector(0)`, "0")

	// promtool lints what serve exposes, on both paths.
	for _, path := range []string{"/metrics", "/probe?target=endpoint.web", "/probe?target=endpoint.secure"} {
		code, body := sl.get(t, sl.url+path, nil)
		if code != 200 {
			t.Fatalf("%s: %d %s", path, code, body)
		}
		cmd := exec.Command("promtool", "check", "metrics")
		cmd.Stdin = strings.NewReader(body)
		if out, err := cmd.CombinedOutput(); err != nil {
			t.Errorf("promtool check metrics %s: %v\n%s", path, err, out)
		}
	}
}

// waitQuery evaluates an instant PromQL query until it returns exactly one
// sample with the value want (bounded: many scrape intervals, for a loaded
// CI machine).
func (sl *serveLab) waitQuery(t *testing.T, prom, query, want string) {
	t.Helper()
	deadline := time.Now().Add(60 * time.Second)
	var last string
	for {
		code, body := sl.get(t, prom+"/api/v1/query?query="+url.QueryEscape(query), nil)
		var r struct {
			Status string
			Data   struct {
				Result []struct {
					Metric map[string]string
					Value  [2]any
				}
			}
		}
		if code == 200 && json.Unmarshal([]byte(body), &r) == nil && len(r.Data.Result) == 1 {
			if v, _ := r.Data.Result[0].Value[1].(string); v == want {
				return
			}
		}
		last = body
		if time.Now().After(deadline) {
			t.Fatalf("query %s did not return the single value %s within 60s; last answer: %s", query, want, last)
		}
		time.Sleep(250 * time.Millisecond)
	}
}

func serveHTTP(t testing.TB, ln net.Listener, delay time.Duration) {
	srv := &http.Server{ErrorLog: log.New(io.Discard, "", 0), Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		time.Sleep(delay)
		fmt.Fprint(w, "ok")
	})}
	go srv.Serve(ln)
	t.Cleanup(func() { srv.Close() })
}

func writeHCL(t testing.TB, dir, src string) {
	t.Helper()
	if err := os.WriteFile(filepath.Join(dir, "lab.pc.hcl"), []byte(src), 0o644); err != nil {
		t.Fatal(err)
	}
}

// testLogger shows the exporter's log with -v only (it may log after a
// test ended, when t.Log would panic).
func testLogger() *slog.Logger {
	if testing.Verbose() {
		return slog.New(slog.NewTextHandler(os.Stderr, nil))
	}
	return slog.New(slog.DiscardHandler)
}

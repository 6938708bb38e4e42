package exporter_test

import (
	"context"
	"fmt"
	"io"
	"log"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"runtime"
	"strings"
	"sync"
	"testing"
	"time"

	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"

	"github.com/portcheck/portcheck/config"
	"github.com/portcheck/portcheck/internal/exporter"
	"github.com/portcheck/portcheck/runner"
)

// localServe serves the exporter on loopback for a configuration of
// endpoints on this machine's loopback (read-only: serve never changes a
// host). slow delays the HTTP server's answers.
type localServe struct {
	dir  string
	exp  *exporter.Exporter
	url  string
	port int // the loopback HTTP server's port
}

func newLocalServe(t testing.TB, slow time.Duration, opts exporter.Options) *localServe {
	t.Helper()
	ln, err := net.Listen("tcp4", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	serveHTTP(t, ln, slow)
	ls := &localServe{dir: t.TempDir(), port: ln.Addr().(*net.TCPAddr).Port}
	ls.write(t, "web", "")
	opts.Load = exporter.HCLLoader(ls.dir, config.Options{})
	opts.Logger = testLogger()
	x, err := exporter.New(opts)
	if err != nil {
		t.Fatal(err)
	}
	ls.exp = x
	srv := httptest.NewServer(x.Handler())
	srv.Config.ErrorLog = log.New(io.Discard, "", 0)
	t.Cleanup(srv.Close)
	ls.url = srv.URL
	return ls
}

// write replaces the configuration: one endpoint, on the HTTP server's
// port, with an http check whose timeout outlasts a slow server; extra is
// appended verbatim (broken HCL for the reload tests).
func (ls *localServe) write(t testing.TB, name, extra string) {
	t.Helper()
	writeHCL(t, ls.dir, fmt.Sprintf(`
host "here" {
  address = "127.0.0.1"
}
endpoint %q {
  host = host.here
  port = %d
  expect {
    http {
      path    = "/"
      timeout = "10s"
    }
  }
}
%s`, name, ls.port, extra))
}

func get(t *testing.T, u string, header http.Header) (int, string) {
	t.Helper()
	code, body, err := fetch(u, header)
	if err != nil {
		t.Fatal(err)
	}
	return code, body
}

// fetch is get for goroutines other than the test's.
func fetch(u string, header http.Header) (int, string, error) {
	req, err := http.NewRequest("GET", u, nil)
	if err != nil {
		return 0, "", err
	}
	for k, v := range header {
		req.Header[k] = v
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return 0, "", fmt.Errorf("GET %s: %w", u, err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b), err
}

// families parses an exposition (and fails on one that does not parse).
func families(t *testing.T, body string) map[string]*dto.MetricFamily {
	t.Helper()
	p := expfmt.NewTextParser(model.UTF8Validation)
	fs, err := p.TextToMetricFamilies(strings.NewReader(body))
	if err != nil {
		t.Fatalf("exposition does not parse: %v\n%s", err, body)
	}
	return fs
}

// value is the single sample of name whose labels include want.
func value(t *testing.T, body, name string, want map[string]string) float64 {
	t.Helper()
	f, ok := families(t, body)[name]
	if !ok {
		t.Fatalf("no %s in\n%s", name, body)
	}
	var found []float64
	for _, m := range f.Metric {
		labels := map[string]string{}
		for _, l := range m.Label {
			labels[l.GetName()] = l.GetValue()
		}
		match := true
		for k, v := range want {
			if labels[k] != v {
				match = false
			}
		}
		if match {
			found = append(found, m.GetGauge().GetValue()+m.GetCounter().GetValue())
		}
	}
	if len(found) != 1 {
		t.Fatalf("%s%v: %d samples, want 1\n%s", name, want, len(found), body)
	}
	return found[0]
}

// Bad input gets a clear answer and changes nothing: an unknown or
// missing target and a malformed scrape timeout are HTTP 400 with a
// message; the exporter keeps serving.
func TestProbeBadInput(t *testing.T) {
	ls := newLocalServe(t, 0, exporter.Options{})
	tests := []struct {
		name, path string
		header     http.Header
		code       int
		body       string
	}{
		{"unknown target", "/probe?target=endpoint.nope", nil, 400, `unknown target "endpoint.nope": no such endpoint in the configuration (targets look like endpoint.NAME; 1 declared)`},
		{"missing target", "/probe", nil, 400, "missing parameter target, e.g. /probe?target=endpoint.web"},
		{"empty target", "/probe?target=", nil, 400, "missing parameter target"},
		{"bad timeout header", "/probe?target=endpoint.web", http.Header{"X-Prometheus-Scrape-Timeout-Seconds": {"soon"}}, 400, `invalid X-Prometheus-Scrape-Timeout-Seconds "soon"`},
		{"negative timeout header", "/probe?target=endpoint.web", http.Header{"X-Prometheus-Scrape-Timeout-Seconds": {"-1"}}, 400, "want a positive number of seconds"},
		{"NaN timeout header", "/probe?target=endpoint.web", http.Header{"X-Prometheus-Scrape-Timeout-Seconds": {"NaN"}}, 400, "want a positive number of seconds"},
		{"infinite timeout header", "/probe?target=endpoint.web", http.Header{"X-Prometheus-Scrape-Timeout-Seconds": {"+Inf"}}, 400, "want a positive number of seconds"},
		{"POST is not a scrape", "", nil, 405, ""},
		{"known target", "/probe?target=endpoint.web", nil, 200, `portcheck_endpoint_diagnosis{cause="ok",endpoint="web",layer=""} 1`},
		{"short name", "/probe?target=web", nil, 200, `portcheck_endpoint_ok{endpoint="web"} 1`},
		{"healthy", "/-/healthy", nil, 200, "Healthy"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var code int
			var body string
			if tc.path == "" {
				resp, err := http.Post(ls.url+"/probe?target=endpoint.web", "text/plain", nil)
				if err != nil {
					t.Fatal(err)
				}
				resp.Body.Close()
				code = resp.StatusCode
			} else {
				code, body = get(t, ls.url+tc.path, tc.header)
			}
			if code != tc.code || !strings.Contains(body, tc.body) {
				t.Errorf("%s: %d %q, want %d containing %q", tc.path, code, body, tc.code, tc.body)
			}
		})
	}
}

// A reload with broken HCL keeps the last good configuration in service
// and says so in portcheck_config_last_reload_successful (and the error);
// a good reload then serves the new configuration.
func TestReloadKeepsLastGoodConfig(t *testing.T) {
	ls := newLocalServe(t, 0, exporter.Options{})
	_, m := get(t, ls.url+"/metrics", nil)
	if v := value(t, m, "portcheck_config_last_reload_successful", nil); v != 1 {
		t.Fatalf("reload_successful %v at start", v)
	}
	okAt := value(t, m, "portcheck_config_last_reload_success_timestamp_seconds", nil)

	ls.write(t, "web", `endpoint "broken" { port = }`)
	err := ls.exp.Reload()
	if err == nil || !strings.Contains(err.Error(), "Invalid expression") || !strings.Contains(err.Error(), `endpoint "broken" { port = }`) {
		t.Fatalf("broken reload: %v; want the diagnostic with its source line", err)
	}
	_, m = get(t, ls.url+"/metrics", nil)
	for name, want := range map[string]float64{
		"portcheck_config_last_reload_successful":                0,
		"portcheck_config_last_reload_success_timestamp_seconds": okAt,
		"portcheck_config_reloads_total":                         1,
		"portcheck_config_reload_failures_total":                 1,
		"portcheck_config_endpoints":                             1,
	} {
		if v := value(t, m, name, nil); v != want {
			t.Errorf("after a broken reload %s = %v, want %v", name, v, want)
		}
	}
	if code, body := get(t, ls.url+"/probe?target=endpoint.web", nil); code != 200 || value(t, body, "portcheck_endpoint_ok", nil) != 1 {
		t.Errorf("the last good configuration is not served: %d\n%s", code, body)
	}

	ls.write(t, "renamed", "")
	if err := ls.exp.Reload(); err != nil {
		t.Fatal(err)
	}
	_, m = get(t, ls.url+"/metrics", nil)
	if v := value(t, m, "portcheck_config_last_reload_successful", nil); v != 1 {
		t.Errorf("reload_successful %v after a good reload", v)
	}
	if v := value(t, m, "portcheck_config_last_reload_success_timestamp_seconds", nil); v <= okAt {
		t.Errorf("success timestamp %v not after %v", v, okAt)
	}
	if code, _ := get(t, ls.url+"/probe?target=endpoint.web", nil); code != 400 {
		t.Errorf("endpoint.web after it was renamed: %d, want 400", code)
	}
	if code, body := get(t, ls.url+"/probe?target=endpoint.renamed", nil); code != 200 || value(t, body, "portcheck_endpoint_ok", nil) != 1 {
		t.Errorf("endpoint.renamed: %d\n%s", code, body)
	}
}

// Scrapes during reloads (good and broken, back to back) are each served
// from one whole configuration: every answer is 200 with the endpoint's
// series or 400 unknown target, never a 5xx or a torn exposition.
func TestScrapeDuringReload(t *testing.T) {
	ls := newLocalServe(t, 0, exporter.Options{})
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		for i := 0; ctx.Err() == nil; i++ {
			switch i % 3 {
			case 0:
				ls.write(t, "web", `endpoint "broken" { port = }`)
			case 1:
				ls.write(t, "other", "")
			case 2:
				ls.write(t, "web", "")
			}
			ls.exp.Reload()
		}
	}()
	errs := make(chan string, 10000)
	for range 4 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for ctx.Err() == nil {
				for _, target := range []string{"endpoint.web", "endpoint.other"} {
					code, body, err := fetch(ls.url+"/probe?target="+target, nil)
					p := expfmt.NewTextParser(model.UTF8Validation)
					switch {
					case err != nil:
						errs <- err.Error()
					case code == 200 && strings.Contains(body, "portcheck_endpoint_finished{endpoint="):
						if _, err := p.TextToMetricFamilies(strings.NewReader(body)); err != nil {
							errs <- fmt.Sprintf("%s: %v\n%s", target, err, body)
						}
					case code == 400 && strings.Contains(body, "unknown target"):
					default:
						errs <- fmt.Sprintf("%s: %d %q", target, code, body)
					}
				}
				if code, body, err := fetch(ls.url+"/metrics", nil); err != nil || code != 200 {
					errs <- fmt.Sprintf("/metrics: %d %q %v", code, body, err)
				}
			}
		}()
	}
	wg.Wait()
	close(errs)
	for e := range errs {
		t.Error(e)
	}
}

// Concurrent scrapes of one target share one run; scrapes of a target
// slower than their timeout do not pile up runs or goroutines: one run at
// a time, and the goroutines go when the scrapes do.
func TestConcurrentScrapesShareOneRun(t *testing.T) {
	ls := newLocalServe(t, 1500*time.Millisecond, exporter.Options{MaxTimeout: 5 * time.Second})
	const n = 20
	var wg sync.WaitGroup
	bodies := make([]string, n)
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			_, bodies[i], _ = fetch(ls.url+"/probe?target=endpoint.web", nil)
		}()
	}
	wg.Wait()
	_, m := get(t, ls.url+"/metrics", nil)
	if runs := value(t, m, "portcheck_probe_runs_total", nil); runs != 1 {
		t.Errorf("%d concurrent scrapes started %v runs, want 1", n, runs)
	}
	for i, b := range bodies {
		if value(t, b, "portcheck_endpoint_ok", nil) != 1 || value(t, b, "portcheck_probe_duration_seconds", nil) < 1.5 {
			t.Fatalf("scrape %d:\n%s", i, b)
		}
	}

	// A target slower than the scrape timeout, scraped hard: the run ends
	// at its deadline, and at most one is in flight.
	http.DefaultClient.CloseIdleConnections()
	base := runtime.NumGoroutine()
	hdr := http.Header{"X-Prometheus-Scrape-Timeout-Seconds": {"1"}} // 0.5 s after the offset
	stop := time.Now().Add(2 * time.Second)
	maxInFlight := 0.0
	answers := make(chan string, 1000)
	for time.Now().Before(stop) {
		for range 10 {
			wg.Add(1)
			go func() {
				defer wg.Done()
				code, body, err := fetch(ls.url+"/probe?target=endpoint.web", hdr)
				if err != nil {
					body = err.Error()
				}
				answers <- fmt.Sprint(code, "\n", body)
			}()
		}
		_, m := get(t, ls.url+"/metrics", nil)
		maxInFlight = max(maxInFlight, value(t, m, "portcheck_runs_in_flight", nil))
		time.Sleep(100 * time.Millisecond)
	}
	wg.Wait()
	close(answers)
	for a := range answers {
		code, body, _ := strings.Cut(a, "\n")
		if code != "200" || value(t, body, "portcheck_endpoint_finished", nil) != 0 {
			t.Fatalf("scrape of a slow target: %s\n%s", code, body)
		}
	}
	if maxInFlight > 1 {
		t.Errorf("%v runs in flight at once for one target, want at most 1", maxInFlight)
	}
	_, m = get(t, ls.url+"/metrics", nil)
	// About one run per 0.5 s window, not one per scrape (~200).
	if runs := value(t, m, "portcheck_probe_runs_total", nil); runs > 10 {
		t.Errorf("%v runs for ~200 scrapes of one target", runs)
	}
	deadline := time.Now().Add(5 * time.Second)
	for http.DefaultClient.CloseIdleConnections(); runtime.NumGoroutine() > base+5; http.DefaultClient.CloseIdleConnections() {
		if time.Now().After(deadline) {
			t.Fatalf("goroutines: %d, %d before the scrapes", runtime.NumGoroutine(), base)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// FuzzProbeRequest: any target and timeout header get 200 (a declared
// endpoint), 400 with a message, or 503; never a panic or a 500.
func FuzzProbeRequest(f *testing.F) {
	for _, seed := range [][2]string{{"endpoint.web", "10"}, {"web", ""}, {"endpoint.nope", "1"}, {"", "NaN"}, {"endpoint.", "-0"}, {"endpoint.web\x00", "1e400"}, {"%zz", "0x10"}} {
		f.Add(seed[0], seed[1])
	}
	ls := newLocalServe(f, 0, exporter.Options{MaxTimeout: 2 * time.Second})
	h := ls.exp.Handler()
	f.Fuzz(func(t *testing.T, target, timeout string) {
		req := httptest.NewRequest("GET", "/probe?target="+url.QueryEscape(target), nil)
		if timeout != "" {
			req.Header.Set("X-Prometheus-Scrape-Timeout-Seconds", timeout)
		}
		w := httptest.NewRecorder()
		h.ServeHTTP(w, req)
		switch w.Code {
		case 200, 503:
		case 400:
			if strings.TrimSpace(w.Body.String()) == "" {
				t.Errorf("400 without a message for target %q timeout %q", target, timeout)
			}
		default:
			t.Errorf("target %q timeout %q: %d %s", target, timeout, w.Code, w.Body.String())
		}
	})
}

// Labels stay bounded: checks over several addresses, and the L2 checks
// of declared source ranges, fold into one series each, with the worst
// status; no address becomes a label value.
func TestFoldedSeriesCarryNoAddresses(t *testing.T) {
	ln, err := net.Listen("tcp4", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	serveHTTP(t, ln, 0)
	port := ln.Addr().(*net.TCPAddr).Port
	dir := t.TempDir()
	// 127.0.0.2 is this machine's too, with nothing on the port: refused.
	writeHCL(t, dir, fmt.Sprintf(`
host "here" {
  addresses = ["127.0.0.1", "127.0.0.2"]
  local     = true
}
endpoint "two" {
  host = host.here
  port = %d
  expect {
    firewall {
      allow_from = ["10.9.0.0/24", "10.9.1.0/24"]
    }
  }
}
`, port))
	x, err := exporter.New(exporter.Options{Load: exporter.HCLLoader(dir, config.Options{}), Logger: testLogger(),
		Verify: runner.Options{AllLayers: true}})
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(x.Handler())
	defer srv.Close()
	code, body := get(t, srv.URL+"/probe?target=endpoint.two", nil)
	if code != 200 {
		t.Fatalf("%d %s", code, body)
	}
	if v := value(t, body, "portcheck_check_status", map[string]string{"check": "connectivity", "from": "local", "status": "fail"}); v != 1 {
		t.Errorf("folded L4 (one address open, one refused) is not fail:\n%s", body)
	}
	value(t, body, "portcheck_check_duration_seconds", map[string]string{"check": "firewall", "from": "(allow_from)"})
	for _, m := range families(t, body) {
		for _, s := range m.Metric {
			for _, l := range s.Label {
				if strings.Contains(l.GetValue(), "127.0.0") || strings.Contains(l.GetValue(), "10.9.") || strings.Contains(l.GetValue(), fmt.Sprint(port)) {
					t.Errorf("%s has an address as a label value: %s=%q", m.GetName(), l.GetName(), l.GetValue())
				}
			}
		}
	}
}

// A port list folds like addresses: /probe of an endpoint of two ports,
// one served and one refused, gives one L4 series per vantage host with
// the worst status, and no port becomes a label value.
func TestPortListFoldsIntoOneSeries(t *testing.T) {
	ln, err := net.Listen("tcp4", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	serveHTTP(t, ln, 0)
	open := ln.Addr().(*net.TCPAddr).Port
	free, err := net.Listen("tcp4", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	closed := free.Addr().(*net.TCPAddr).Port
	free.Close() // nothing on it now: refused
	dir := t.TempDir()
	writeHCL(t, dir, fmt.Sprintf(`
host "here" {
  address = "127.0.0.1"
  local   = true
}
endpoint "pair" {
  host = host.here
  port = [%d, %d]
}
`, open, closed))
	x, err := exporter.New(exporter.Options{Load: exporter.HCLLoader(dir, config.Options{}), Logger: testLogger(),
		Verify: runner.Options{AllLayers: true}})
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(x.Handler())
	defer srv.Close()
	code, body := get(t, srv.URL+"/probe?target=endpoint.pair", nil)
	if code != 200 {
		t.Fatalf("%d %s", code, body)
	}
	if v := value(t, body, "portcheck_check_status", map[string]string{"check": "connectivity", "from": "local", "status": "fail"}); v != 1 {
		t.Errorf("folded L4 (one port open, one refused) is not fail:\n%s", body)
	}
	if v := value(t, body, "portcheck_endpoint_ok", map[string]string{"endpoint": "pair"}); v != 0 {
		t.Errorf("endpoint with a refused port is ok:\n%s", body)
	}
	for _, m := range families(t, body) {
		for _, s := range m.Metric {
			for _, l := range s.Label {
				if strings.Contains(l.GetValue(), fmt.Sprint(open)) || strings.Contains(l.GetValue(), fmt.Sprint(closed)) {
					t.Errorf("%s has a port as a label value: %s=%q", m.GetName(), l.GetName(), l.GetValue())
				}
			}
		}
	}
}

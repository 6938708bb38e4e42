package bench

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"runtime"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/portcheck/portcheck/internal/exporter"
	"github.com/portcheck/portcheck/runner"
)

// Target (issue 16): scrape latency and memory of `portcheck serve` with
// 1,000 endpoints (loopback, half open, half declared closed; L1, L2, L4
// each). metrics: a Prometheus scrape of /metrics serving the last
// interval run (every endpoint's series); metrics-parallel: concurrent
// scrapes; probe: one /probe?target= scrape, which verifies that endpoint
// now. Reported besides ns/op: the exposition's size, the heap the
// exporter holds with one run's results (retained-MB), and how long the
// interval run of all 1,000 took (run-s).
func BenchmarkServe1000Endpoints(b *testing.B) {
	cfg := loopbackFleet(b, 1000)
	plan, err := runner.BuildPlan(cfg, runner.PlanOptions{Env: runner.Environment{GOOS: "linux"}})
	if err != nil {
		b.Fatal(err)
	}
	before := heapInUse()
	x, err := exporter.New(exporter.Options{Load: func() (*runner.Plan, error) { return plan, nil },
		Interval: time.Hour, Verify: runner.Options{Parallelism: 64}})
	if err != nil {
		b.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { x.Run(ctx); close(done) }()
	b.Cleanup(func() { cancel(); <-done })
	srv := httptest.NewServer(x.Handler())
	b.Cleanup(srv.Close)

	// The first interval run starts at once; wait for its results.
	var body string
	deadline := time.Now().Add(2 * time.Minute)
	for !strings.Contains(body, "portcheck_last_run_success 1") {
		if time.Now().After(deadline) {
			b.Fatalf("no complete interval run within 2 minutes:\n%.2000s", body)
		}
		time.Sleep(100 * time.Millisecond)
		body = scrape(b, srv.URL+"/metrics")
	}
	if n := strings.Count(body, "portcheck_endpoint_ok{"); n != 1000 {
		b.Fatalf("%d endpoints in /metrics", n)
	}
	if strings.Contains(body, `status="error"} 1`) || strings.Contains(body, `status="fail"} 1`) {
		b.Fatalf("a check failed or could not run; run as root (L2 reads this machine's firewall)")
	}
	retained := heapInUse() - before
	runSeconds := sample(body, "portcheck_last_run_duration_seconds")

	b.Run("metrics", func(b *testing.B) {
		b.ReportAllocs()
		var n int
		for b.Loop() {
			n = len(scrape(b, srv.URL+"/metrics"))
		}
		b.ReportMetric(float64(n)/1e6, "exposition-MB")
		b.ReportMetric(retained/1e6, "retained-MB")
		b.ReportMetric(runSeconds, "run-s")
	})
	b.Run("metrics-parallel", func(b *testing.B) {
		b.ReportAllocs()
		b.RunParallel(func(pb *testing.PB) {
			for pb.Next() {
				scrape(b, srv.URL+"/metrics")
			}
		})
	})
	b.Run("probe", func(b *testing.B) {
		b.ReportAllocs()
		i := 0
		for b.Loop() {
			body := scrape(b, fmt.Sprintf("%s/probe?target=endpoint.e%d", srv.URL, i%1000))
			if !strings.Contains(body, "} 1\nportcheck_endpoint_ok{") && !strings.Contains(body, "portcheck_endpoint_ok{endpoint=\"e"+strconv.Itoa(i%1000)+"\"} 1") {
				b.Fatalf("probe e%d:\n%s", i%1000, body)
			}
			i++
		}
	})
}

func scrape(b *testing.B, u string) string {
	resp, err := http.Get(u)
	if err != nil {
		b.Fatal(err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil || resp.StatusCode != 200 {
		b.Fatalf("GET %s: %d %v\n%.500s", u, resp.StatusCode, err, body)
	}
	return string(body)
}

// sample is the value of an unlabelled sample in an exposition.
func sample(body, name string) float64 {
	for _, l := range strings.Split(body, "\n") {
		if v, ok := strings.CutPrefix(l, name+" "); ok {
			f, _ := strconv.ParseFloat(v, 64)
			return f
		}
	}
	return 0
}

func heapInUse() float64 {
	runtime.GC()
	var m runtime.MemStats
	runtime.ReadMemStats(&m)
	return float64(m.HeapInuse)
}

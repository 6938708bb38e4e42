package bench

// Memory at fleet scale (issue 15.2). Targets: load + plan + verify of
// 10,000 endpoints within ~100 MB RSS for the whole process; load + plan
// of 100,000 endpoints runs on a 2-core, 24 GB machine.
//
//	go test -run '^$' -bench 'Fleet|Process' -benchtime 1x ./bench/
//
// The in-process benchmarks report the peak Go heap (sampled) beside
// allocations; the Process benchmarks build the portcheck binary and
// report the peak RSS of the whole process (getrusage of the child), which
// is what the target is about: the heap, the runtime, and the binary's
// own pages.

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/portcheck/portcheck/config"
	"github.com/portcheck/portcheck/runner"
	"github.com/portcheck/portcheck/runner/report"
)

// loopbackFleetDir starts n ports on 127.0.0.1 (six in ten listening,
// the rest bound without listening, so they refuse) and writes their HCL
// to a directory: listening ports declared open, refusing ones declared
// closed. Every check runs and holds: L1 and L2 on this machine, L4
// from it.
func loopbackFleetDir(b *testing.B, n int) string {
	b.Helper()
	var hcl strings.Builder
	hcl.WriteString("host \"lo\" {\n  address = \"127.0.0.1\"\n  local   = true\n}\n\n")
	for i := range n {
		var port int
		state := ""
		if i%10 >= 6 {
			port = boundNotListening(b)
			state = "  state = \"closed\"\n"
		} else {
			ln, err := net.Listen("tcp4", "127.0.0.1:0")
			if err != nil {
				b.Fatal(err)
			}
			b.Cleanup(func() { ln.Close() })
			go acceptAndClose(ln)
			port = ln.Addr().(*net.TCPAddr).Port
		}
		fmt.Fprintf(&hcl, "endpoint \"p%d\" {\n  host = host.lo\n  port = %d\n%s}\n\n", i, port, state)
	}
	dir := b.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "fleet.pc.hcl"), []byte(hcl.String()), 0o644); err != nil {
		b.Fatal(err)
	}
	return dir
}

// peakHeap runs fn while sampling the Go heap in use, and returns the
// highest value seen (a sample every 2 ms; a peak between samples can be
// missed, so this is a lower bound).
func peakHeap(fn func()) uint64 {
	runtime.GC()
	var peak atomic.Uint64
	stop := make(chan struct{})
	var wg sync.WaitGroup
	wg.Go(func() {
		var ms runtime.MemStats
		for {
			runtime.ReadMemStats(&ms)
			if ms.HeapInuse > peak.Load() {
				peak.Store(ms.HeapInuse)
			}
			select {
			case <-stop:
				return
			case <-time.After(2 * time.Millisecond):
			}
		}
	})
	fn()
	close(stop)
	wg.Wait()
	return peak.Load()
}

const mb = 1 << 20

// BenchmarkFleetLoadPlanVerify10k: the whole run in this process, JSON
// report streamed to nowhere; every one of the 10,000 endpoints must be
// ok.
func BenchmarkFleetLoadPlanVerify10k(b *testing.B) {
	dir := loopbackFleetDir(b, 10000)
	env := runner.CurrentEnvironment()
	b.ReportAllocs()
	var peak uint64
	for b.Loop() {
		peak = max(peak, peakHeap(func() {
			cfg, diags := config.Load(dir, config.Options{})
			if diags.HasErrors() {
				b.Fatal(diags)
			}
			plan, err := runner.BuildPlan(cfg, runner.PlanOptions{Env: env})
			if err != nil {
				b.Fatal(err)
			}
			rep := &report.JSON{W: io.Discard}
			rep.Start(plan)
			sum := runner.Verify(context.Background(), plan, runner.Options{Parallelism: 256}, rep.Endpoint)
			if _, err := rep.Finish(sum); err != nil {
				b.Fatal(err)
			}
			if sum.EndpointsOK != 10000 || sum.ExitCode() != 0 {
				b.Fatalf("%d of 10000 endpoints ok (%d failed, %d errors)", sum.EndpointsOK, sum.Failed, sum.Errors)
			}
		}))
	}
	b.ReportMetric(float64(peak)/mb, "peak-heap-MB")
}

// BenchmarkFleetLoadPlan100k: 100,000 endpoints with an expect block, over
// 100 hosts, loaded and planned in this process.
func BenchmarkFleetLoadPlan100k(b *testing.B) {
	src := map[string][]byte{"fleet.pc.hcl": genHCL(100000, 100)}
	env := runner.Environment{GOOS: "linux"}
	b.ReportAllocs()
	var peak uint64
	for b.Loop() {
		peak = max(peak, peakHeap(func() {
			cfg, diags := config.LoadSources(src, config.Options{})
			if diags.HasErrors() {
				b.Fatal(diags)
			}
			plan, err := runner.BuildPlan(cfg, runner.PlanOptions{Env: env})
			if err != nil {
				b.Fatal(err)
			}
			if len(plan.Endpoints) != 100000 {
				b.Fatalf("planned %d endpoints", len(plan.Endpoints))
			}
		}))
	}
	b.ReportMetric(float64(peak)/mb, "peak-heap-MB")
}

// buildPortcheck builds the binary once per benchmark.
func buildPortcheck(b *testing.B) string {
	b.Helper()
	bin := filepath.Join(b.TempDir(), "portcheck")
	cmd := exec.Command("go", "build", "-o", bin, "../cmd/portcheck")
	if out, err := cmd.CombinedOutput(); err != nil {
		b.Fatalf("go build: %v\n%s", err, out)
	}
	return bin
}

// Exit codes runTimed accepts: a run where every check holds, or one
// where checks failed as a lab intends.
var (
	allHold      = []int{0}
	checksFailed = []int{0, 1}
)

// runTimed runs portcheck under /usr/bin/time, its report read into
// memory as a reader of stdout would, and returns the report, the wall
// time and the process's peak RSS in bytes. /usr/bin/time measures the
// child alone: the rusage of a child of this process is no use, since
// Go starts children with vfork and Linux carries this process's
// high-water mark (thousands of lab listeners) into the child's. An exit
// code not in okExit is fatal.
func runTimed(b *testing.B, okExit []int, bin string, args ...string) ([]byte, time.Duration, int64) {
	b.Helper()
	if _, err := exec.LookPath("/usr/bin/time"); err != nil {
		b.Skip("needs /usr/bin/time to read the peak RSS (apt-get install time)")
	}
	var stdout, stderr bytes.Buffer
	cmd := exec.Command("/usr/bin/time", append([]string{"-f", "maxrss_kb=%M", bin}, args...)...)
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	start := time.Now()
	err := cmd.Run()
	d := time.Since(start)
	if ee, ok := err.(*exec.ExitError); err != nil && !(ok && slices.Contains(okExit, ee.ExitCode())) {
		b.Fatalf("portcheck %v: %v\n%s", args, err, stderr.String())
	}
	_, kb, ok := strings.Cut(stderr.String(), "maxrss_kb=")
	rssKB, err := strconv.ParseInt(strings.TrimSpace(kb), 10, 64)
	if !ok || err != nil {
		b.Fatalf("portcheck %v: no peak RSS from /usr/bin/time in %q", args, stderr.String())
	}
	return stdout.Bytes(), d, rssKB << 10
}

// BenchmarkProcessVerify10k: the portcheck binary verifies the 10,000
// loopback endpoints (text, and the JSON report), every one ok; the
// metric is the process's peak RSS against the 100 MB target.
func BenchmarkProcessVerify10k(b *testing.B) {
	bin := buildPortcheck(b)
	dir := loopbackFleetDir(b, 10000)
	for _, format := range []string{"text", "json"} {
		b.Run(format, func(b *testing.B) {
			args := []string{"verify", "-parallelism", "256", dir}
			if format == "json" {
				args = append([]string{"verify", "-json"}, args[1:]...)
			}
			var peak int64
			for b.Loop() {
				_, _, rss := runTimed(b, allHold, bin, args...)
				peak = max(peak, rss)
			}
			b.ReportMetric(float64(peak)/mb, "peak-RSS-MB")
		})
	}
}

// BenchmarkProcessPlan100k: portcheck plan of 100,000 endpoints (the
// hosts' namespaces do not exist here: those checks are planned as
// "cannot run", which costs the same).
func BenchmarkProcessPlan100k(b *testing.B) {
	bin := buildPortcheck(b)
	dir := b.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "fleet.pc.hcl"), genHCL(100000, 100), 0o644); err != nil {
		b.Fatal(err)
	}
	var peak int64
	for b.Loop() {
		_, _, rss := runTimed(b, allHold, bin, "plan", "-no-color", dir)
		peak = max(peak, rss)
	}
	b.ReportMetric(float64(peak)/mb, "peak-RSS-MB")
}

// BenchmarkFleetLoadPlanRange10k: the same 10,000 ports as ten endpoints
// of a 1,000-port range each, against BenchmarkFleetLoadPlan10kPorts (one
// endpoint per port): what a port of a range costs next to an endpoint.
func BenchmarkFleetLoadPlanRange10k(b *testing.B) {
	var hcl strings.Builder
	hcl.WriteString("host \"srv\" {\n  address = \"10.0.0.5\"\n  netns   = \"pc-bench\"\n}\n\n")
	for i := range 10 {
		fmt.Fprintf(&hcl, "endpoint \"r%d\" {\n  host = host.srv\n  port = \"%d-%d\"\n}\n\n", i, 20000+1000*i, 20999+1000*i)
	}
	benchLoadPlan(b, hcl.String(), 10, 30000)
}

func BenchmarkFleetLoadPlan10kPorts(b *testing.B) {
	var hcl strings.Builder
	hcl.WriteString("host \"srv\" {\n  address = \"10.0.0.5\"\n  netns   = \"pc-bench\"\n}\n\n")
	for i := range 10000 {
		fmt.Fprintf(&hcl, "endpoint \"p%d\" {\n  host = host.srv\n  port = %d\n}\n\n", i, 20000+i)
	}
	benchLoadPlan(b, hcl.String(), 10000, 30000)
}

func benchLoadPlan(b *testing.B, src string, endpoints, checks int) {
	files := map[string][]byte{"fleet.pc.hcl": []byte(src)}
	env := runner.Environment{GOOS: "linux"}
	b.ReportAllocs()
	var peak uint64
	var live uint64
	for b.Loop() {
		peak = max(peak, peakHeap(func() {
			cfg, diags := config.LoadSources(files, config.Options{})
			if diags.HasErrors() {
				b.Fatal(diags)
			}
			plan, err := runner.BuildPlan(cfg, runner.PlanOptions{Env: env})
			if err != nil {
				b.Fatal(err)
			}
			if n, _, _ := plan.Counts(); len(plan.Endpoints) != endpoints || n != checks {
				b.Fatalf("planned %d checks on %d endpoints", n, len(plan.Endpoints))
			}
			runtime.GC()
			var ms runtime.MemStats
			runtime.ReadMemStats(&ms)
			live = ms.HeapAlloc
			runtime.KeepAlive(plan)
		}))
	}
	b.ReportMetric(float64(peak)/mb, "peak-heap-MB")
	b.ReportMetric(float64(live)/mb, "plan-heap-MB")
}

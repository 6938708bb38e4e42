package bench

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/portcheck/portcheck/config"
	"github.com/portcheck/portcheck/internal/lab"
	"github.com/portcheck/portcheck/runner"
)

// BenchmarkL4VersusNmap is issue 15's comparison: a client namespace probes
// a server namespace over a veth, ports 20000..20000+N-1 of which 60%
// listen, 30% are closed (RST) and 10% listen behind an nft drop rule;
// every port is declared open. It times `nmap -sT -Pn -n`, `portcheck
// verify` and `portcheck verify -all-layers` (every port probed, as for a
// remote host) as processes, prints the times and ratios, and checks every
// port's L4 classification (and plain verify's diagnosis) against the lab.
//
//	sudo go test -run '^$' -bench L4VersusNmap -benchtime 1x ./bench/
//
// It is a benchmark only: it skips (also with CI=true) without root or nmap.
func BenchmarkL4VersusNmap(b *testing.B) {
	bin := nmapBenchBinary(b)
	for _, n := range []int{200, 10000} {
		b.Run(fmt.Sprint("N=", n), func(b *testing.B) {
			f := nmapLab(b, n)
			for b.Loop() {
				tn := f.nmap(b)
				tv, rv := f.verify(b, bin, false)
				ta, ra := f.verify(b, bin, true)
				pv, pa := f.verifyPhase(b, false), f.verifyPhase(b, true)
				b.Logf("N=%d: nmap -sT -Pn -n %.2fs | verify %.2fs (%.2f× nmap), peak RSS %d MB | verify -all-layers %.2fs (%.2f× nmap), peak RSS %d MB | the verify phase alone (no load, plan or report): %.2fs and %.2fs -all-layers",
					n, tn.Seconds(), tv.Seconds(), tv.Seconds()/tn.Seconds(), rv>>20, ta.Seconds(), ta.Seconds()/tn.Seconds(), ra>>20, pv.Seconds(), pa.Seconds())
				b.ReportMetric(float64(rv)/(1<<20), "verify-peak-RSS-MB")
				b.ReportMetric(float64(ra)/(1<<20), "all-layers-peak-RSS-MB")
				b.ReportMetric(pa.Seconds(), "all-layers-phase-s")
				b.ReportMetric(tn.Seconds(), "nmap-s")
				b.ReportMetric(tv.Seconds(), "verify-s")
				b.ReportMetric(ta.Seconds(), "all-layers-s")
				b.ReportMetric(ta.Seconds()/tn.Seconds(), "all-layers/nmap")
				b.ReportMetric(tv.Seconds()/tn.Seconds(), "verify/nmap")
			}
		})
	}
}

// nmapBenchBinary skips unless the nmap lab can be built and timed (root,
// nmap, nft, ip, /usr/bin/time) and returns a freshly built portcheck.
func nmapBenchBinary(b *testing.B) string {
	b.Helper()
	if os.Geteuid() != 0 {
		b.Skip("needs root: the lab is two network namespaces")
	}
	for _, bin := range []string{"nmap", "nft", "ip", "go", "/usr/bin/time"} {
		if _, err := exec.LookPath(bin); err != nil {
			b.Skipf("needs the %s binary (apt-get install nmap time)", bin)
		}
	}
	return buildPortcheck(b)
}

// portTruth is what the lab made of a port.
type portTruth int

const (
	portOpen    portTruth = iota // a listener
	portClosed                   // nothing bound: the kernel answers RST
	portDropped                  // a listener behind an nft drop rule
)

// truthOf spreads the kinds over the range: of every 10 ports, 6 open,
// 3 closed, 1 dropped.
func truthOf(i int) portTruth {
	switch r := i % 10; {
	case r < 6:
		return portOpen
	case r < 9:
		return portClosed
	}
	return portDropped
}

type nmapFixture struct {
	client, server *lab.Host
	n              int
	cfg            string
}

const basePort = 20000

func nmapLab(b *testing.B, n int) *nmapFixture {
	l := lab.New(b)
	client, server := l.Pair()
	f := &nmapFixture{client: client, server: server, n: n}
	var dropped []string
	for i := range n {
		port := basePort + i
		switch truthOf(i) {
		case portDropped:
			dropped = append(dropped, strconv.Itoa(port))
			fallthrough
		case portOpen:
			server.ListenTCP("tcp4", fmt.Sprintf("0.0.0.0:%d", port))
		}
	}
	server.NFT(fmt.Sprintf("table inet bench {\n  set dropped {\n    type inet_service\n    elements = { %s }\n  }\n  chain input {\n    type filter hook input priority 0; policy accept;\n    tcp dport @dropped drop\n  }\n}\n",
		strings.Join(dropped, ", ")))
	var src strings.Builder
	fmt.Fprintf(&src, "host \"server\" {\n  address = %q\n  netns   = %q\n}\nhost \"client\" {\n  address = %q\n  netns   = %q\n}\n",
		server.Addr(), server.Path(), client.Addr(), client.Path())
	for i := range n {
		fmt.Fprintf(&src, "endpoint \"p%d\" {\n  host = host.server\n  port = %d\n  from = [host.client]\n}\n", basePort+i, basePort+i)
	}
	f.cfg = filepath.Join(b.TempDir(), "lab.pc.hcl")
	if err := os.WriteFile(f.cfg, []byte(src.String()), 0o644); err != nil {
		b.Fatal(err)
	}
	return f
}

// nmap scans the range from the client and checks it saw the open ports.
func (f *nmapFixture) nmap(b *testing.B) time.Duration {
	b.Helper()
	start := time.Now()
	out, err := exec.Command("ip", "netns", "exec", f.client.NS, "nmap", "-sT", "-Pn", "-n", "-oG", "-",
		"-p", fmt.Sprintf("%d-%d", basePort, basePort+f.n-1), f.server.Addr().String()).CombinedOutput()
	d := time.Since(start)
	if err != nil {
		b.Fatalf("nmap: %v\n%s", err, out)
	}
	want := 0
	for i := range f.n {
		if truthOf(i) == portOpen {
			want++
		}
	}
	if got := bytes.Count(out, []byte("/open/tcp/")); got != want {
		b.Errorf("nmap saw %d open ports, the lab has %d", got, want)
	}
	return d
}

// verifyPhase times runner.Verify alone on the lab's plan, in this
// process: what the L4 scheduling costs without loading, planning and
// writing the report (which the process times above include).
func (f *nmapFixture) verifyPhase(b *testing.B, allLayers bool) time.Duration {
	b.Helper()
	src, err := os.ReadFile(f.cfg)
	if err != nil {
		b.Fatal(err)
	}
	cfg, diags := config.LoadSources(map[string][]byte{"lab.pc.hcl": src}, config.Options{})
	if diags.HasErrors() {
		b.Fatal(diags)
	}
	plan, err := runner.BuildPlan(cfg, runner.PlanOptions{Env: runner.CurrentEnvironment()})
	if err != nil {
		b.Fatal(err)
	}
	start := time.Now()
	sum := runner.Verify(context.Background(), plan, runner.Options{AllLayers: allLayers}, nil)
	d := time.Since(start)
	if sum.Errors > 0 || sum.Finished != f.n {
		b.Errorf("verify phase: %d errors, %d of %d endpoints finished", sum.Errors, sum.Finished, f.n)
	}
	return d
}

// verifyReport is the part of verify -json the harness checks.
type verifyReport struct {
	Endpoints []struct {
		Port      int `json:"port"`
		Diagnosis struct {
			Layer int    `json:"layer"`
			Cause string `json:"cause"`
		} `json:"diagnosis"`
		Checks []struct {
			Layer    int    `json:"layer"`
			Status   string `json:"status"`
			Evidence *struct {
				State string `json:"state"`
			} `json:"evidence"`
		} `json:"checks"`
	} `json:"endpoints"`
}

// verify runs portcheck and checks each port's classification: with
// -all-layers the L4 state of every port; without, L4 open on the open
// ports and the lower layer that blocks the others (L1 not listening, L2
// firewall).
func (f *nmapFixture) verify(b *testing.B, bin string, allLayers bool) (time.Duration, int64) {
	b.Helper()
	args := []string{"verify", "-json"}
	if allLayers {
		args = append(args, "-all-layers")
	}
	stdout, d, rss := runTimed(b, checksFailed, bin, append(args, f.cfg)...)
	var rep verifyReport
	if err := json.Unmarshal(stdout, &rep); err != nil {
		b.Fatalf("portcheck %v: JSON: %v", args, err)
	}
	if len(rep.Endpoints) != f.n {
		b.Fatalf("portcheck %v reported %d endpoints, want %d", args, len(rep.Endpoints), f.n)
	}
	wrong := 0
	for _, e := range rep.Endpoints {
		truth := truthOf(e.Port - basePort)
		l4 := ""
		for _, c := range e.Checks {
			if c.Layer == 4 && c.Evidence != nil {
				l4 = c.Evidence.State
			}
		}
		var ok bool
		switch {
		case allLayers:
			ok = l4 == [...]string{"open", "refused", "filtered"}[truth]
		case truth == portOpen:
			ok = l4 == "open" && e.Diagnosis.Cause == "ok"
		case truth == portClosed:
			ok = e.Diagnosis.Layer == 1 && e.Diagnosis.Cause == "not_listening"
		default:
			ok = e.Diagnosis.Layer == 2 && e.Diagnosis.Cause == "firewall_blocked"
		}
		if !ok {
			if wrong++; wrong <= 10 {
				b.Errorf("portcheck %v: port %d (lab: %s): L4 %q, diagnosis L%d %s", args, e.Port,
					[...]string{"open", "closed", "dropped"}[truth], l4, e.Diagnosis.Layer, e.Diagnosis.Cause)
			}
		}
	}
	if wrong > 0 {
		b.Errorf("portcheck %v: %d of %d ports classified wrong", args, wrong, f.n)
	}
	return d, rss
}

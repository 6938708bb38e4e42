package bench

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"
)

// BenchmarkRangeVersusNmap is issue 15's lab with the N ports declared as
// ONE endpoint, `port = "20000-(20000+N-1)"` with max_ports = N, instead of
// N endpoints: it times `nmap -sT -Pn -n`, `portcheck verify` and `portcheck
// verify -all-layers` as processes, reads each process's peak RSS
// (through /usr/bin/time: a child's own rusage carries this process's
// high-water mark, since Go starts children with vfork), and checks every port's result on L1, L2 and L4
// against the lab's truth.
//
//	sudo go test -run '^$' -bench RangeVersusNmap -benchtime 1x ./bench/
//
// It is a benchmark only: it skips (also with CI=true) without root or nmap.
func BenchmarkRangeVersusNmap(b *testing.B) {
	bin := nmapBenchBinary(b)
	for _, n := range []int{10000} {
		b.Run(fmt.Sprint("N=", n), func(b *testing.B) {
			f := nmapLab(b, n)
			f.cfg = rangeConfig(b, f)
			for b.Loop() {
				tn := f.nmap(b)
				tv, rv := f.verifyRange(b, bin, false)
				ta, ra := f.verifyRange(b, bin, true)
				b.Logf("N=%d ports as one endpoint: nmap -sT -Pn -n %.2fs | verify %.2fs (%.2f× nmap), peak RSS %d MB | verify -all-layers %.2fs (%.2f× nmap), peak RSS %d MB",
					n, tn.Seconds(), tv.Seconds(), tv.Seconds()/tn.Seconds(), rv>>20, ta.Seconds(), ta.Seconds()/tn.Seconds(), ra>>20)
				b.ReportMetric(tn.Seconds(), "nmap-s")
				b.ReportMetric(tv.Seconds(), "verify-s")
				b.ReportMetric(ta.Seconds(), "all-layers-s")
				b.ReportMetric(tv.Seconds()/tn.Seconds(), "verify/nmap")
				b.ReportMetric(ta.Seconds()/tn.Seconds(), "all-layers/nmap")
				b.ReportMetric(float64(rv>>20), "verify-MB")
				b.ReportMetric(float64(ra>>20), "all-layers-MB")
			}
		})
	}
}

// rangeConfig writes the lab's hosts and one endpoint of every port.
func rangeConfig(b *testing.B, f *nmapFixture) string {
	src := fmt.Sprintf("host \"server\" {\n  address = %q\n  netns   = %q\n}\nhost \"client\" {\n  address = %q\n  netns   = %q\n}\n"+
		"endpoint \"scan\" {\n  host      = host.server\n  port      = \"%d-%d\"\n  max_ports = %d\n  from      = [host.client]\n}\n",
		f.server.Addr(), f.server.Path(), f.client.Addr(), f.client.Path(), basePort, basePort+f.n-1, f.n)
	path := filepath.Join(b.TempDir(), "range.pc.hcl")
	if err := os.WriteFile(path, []byte(src), 0o644); err != nil {
		b.Fatal(err)
	}
	return path
}

// rangeReport is the part of verify -json the range harness checks.
type rangeReport struct {
	Endpoints []struct {
		Port    int `json:"port"`
		PortEnd int `json:"port_end"`
		Checks  []struct {
			Layer    int    `json:"layer"`
			Status   string `json:"status"`
			Cause    string `json:"cause"`
			Target   string `json:"target"`
			Evidence *struct {
				State string `json:"state"`
			} `json:"evidence"`
		} `json:"checks"`
	} `json:"endpoints"`
}

// verifyRange runs portcheck on the one-endpoint config and checks each
// port: L1 fails (not_listening) exactly on the closed ports, L2 fails
// (firewall_blocked) exactly on the dropped ones, and L4 reads open on the
// open ports (and, with -all-layers, refused and filtered on the others;
// without, the others are blocked by their own L1 or L2). It returns the
// wall time and the process's peak RSS in bytes.
func (f *nmapFixture) verifyRange(b *testing.B, bin string, allLayers bool) (time.Duration, int64) {
	b.Helper()
	args := []string{"verify", "-json"}
	if allLayers {
		args = append(args, "-all-layers")
	}
	stdout, d, rss := runTimed(b, checksFailed, bin, append(args, f.cfg)...)
	var rep rangeReport
	if err := json.Unmarshal(stdout, &rep); err != nil {
		b.Fatalf("portcheck %v: JSON: %v", args, err)
	}
	if len(rep.Endpoints) != 1 || rep.Endpoints[0].Port != basePort || rep.Endpoints[0].PortEnd != basePort+f.n-1 {
		b.Fatalf("portcheck %v: want one endpoint of ports %d-%d", args, basePort, basePort+f.n-1)
	}
	type seen struct{ l1, l2, l4 string }
	ports := map[int]*seen{}
	for _, c := range rep.Endpoints[0].Checks {
		_, ps, _ := strings.Cut(c.Target, ":")
		p, err := strconv.Atoi(ps)
		if err != nil {
			b.Fatalf("check target %q", c.Target)
		}
		s := ports[p]
		if s == nil {
			s = &seen{}
			ports[p] = s
		}
		v := c.Status
		if c.Cause != "" {
			v += " " + c.Cause
		}
		switch c.Layer {
		case 1:
			s.l1 = v
		case 2:
			s.l2 = v
		case 4:
			s.l4 = c.Status
			if c.Evidence != nil {
				s.l4 = c.Evidence.State
			}
		}
	}
	if len(ports) != f.n {
		b.Errorf("portcheck %v: results for %d ports, want %d", args, len(ports), f.n)
	}
	wrong := 0
	for i := range f.n {
		s := ports[basePort+i]
		if s == nil {
			continue
		}
		truth := truthOf(i)
		want := seen{"pass", "pass", "open"}
		switch truth {
		case portClosed:
			want = seen{"fail not_listening", "pass", "refused"}
			if !allLayers { // a server-side failure blocks the port's layers above
				want.l2, want.l4 = "skip", "skip"
			}
		case portDropped:
			want = seen{"pass", "fail firewall_blocked", "filtered"}
			if !allLayers {
				want.l4 = "skip"
			}
		}
		if *s != want {
			if wrong++; wrong <= 10 {
				b.Errorf("portcheck %v: port %d (lab: %s): L1 %q L2 %q L4 %q, want %+v", args, basePort+i,
					[...]string{"open", "closed", "dropped"}[truth], s.l1, s.l2, s.l4, want)
			}
		}
	}
	if wrong > 0 {
		b.Errorf("portcheck %v: %d of %d ports classified wrong", args, wrong, f.n)
	}
	return d, rss
}

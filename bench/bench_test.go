// Package bench holds the speed and memory targets of the issue tracker as
// Go benchmarks: go test -run=^$ -bench=. -benchmem ./bench/
package bench

import (
	"context"
	"fmt"
	"net"
	"net/netip"
	"strings"
	"sync"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"github.com/portcheck/portcheck/config"
	"github.com/portcheck/portcheck/runner"

	_ "github.com/portcheck/portcheck/providers/all"
)

// genHCL writes n endpoints over hosts hosts, each with an expect block.
func genHCL(n, hosts int) []byte {
	var b strings.Builder
	b.WriteString("variable \"base\" {\n  type = number\n  default = 10000\n}\n")
	for h := range hosts {
		fmt.Fprintf(&b, "host \"h%d\" {\n  address = \"10.%d.%d.5\"\n  netns = \"pc-bench-%d\"\n}\n", h, h/250, h%250, h)
	}
	for i := range n {
		fmt.Fprintf(&b, "endpoint \"e%d\" {\n  host = host.h%d\n  port = var.base + %d\n  from = [host.h%d]\n  expect {\n    http {\n      path = \"/healthz\"\n    }\n  }\n}\n",
			i, i%hosts, i%50000, (i+1)%hosts)
	}
	return []byte(b.String())
}

// Target: load + plan of 10,000 endpoints in under a second.
func BenchmarkLoadPlan10k(b *testing.B) {
	src := map[string][]byte{"bench.pc.hcl": genHCL(10000, 100)}
	env := runner.Environment{GOOS: "linux"}
	b.ReportAllocs()
	for b.Loop() {
		cfg, diags := config.LoadSources(src, config.Options{})
		if diags.HasErrors() {
			b.Fatal(diags)
		}
		plan, err := runner.BuildPlan(cfg, runner.PlanOptions{Env: env})
		if err != nil {
			b.Fatal(err)
		}
		if len(plan.Endpoints) != 10000 {
			b.Fatalf("planned %d endpoints", len(plan.Endpoints))
		}
	}
}

// loopbackFleet starts open listeners on 127.0.0.1 and reserves ports that
// refuse, returning endpoints: open ones declared open, refused ones
// declared closed, so every check runs (none is blocked) and passes.
func loopbackFleet(b *testing.B, n int) *config.Config {
	b.Helper()
	local := true
	h := &config.Host{Name: "lo", Addresses: []netip.Addr{netip.MustParseAddr("127.0.0.1")}, Local: &local}
	cfg := &config.Config{Hosts: []*config.Host{h}}
	for i := range n {
		ep := &config.Endpoint{Name: fmt.Sprint("e", i), Host: h, Protocol: "tcp", State: "open", Timeout: 2 * time.Second}
		var port int
		if i%2 == 1 {
			// A port closed by listen-then-close is soon handed to the next
			// listener; a bound socket that never listens keeps it refusing.
			port = boundNotListening(b)
			ep.State = "closed"
		} else {
			ln, err := net.Listen("tcp4", "127.0.0.1:0")
			if err != nil {
				b.Fatal(err)
			}
			port = ln.Addr().(*net.TCPAddr).Port
			b.Cleanup(func() { ln.Close() })
			go acceptAndClose(ln)
		}
		ep.Ports = config.SinglePort(port)
		cfg.Endpoints = append(cfg.Endpoints, ep)
	}
	return cfg
}

// boundNotListening reserves a loopback port that answers SYNs with RST.
func boundNotListening(b *testing.B) int {
	fd, err := unix.Socket(unix.AF_INET, unix.SOCK_STREAM|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { unix.Close(fd) })
	if err := unix.Bind(fd, &unix.SockaddrInet4{Addr: [4]byte{127, 0, 0, 1}}); err != nil {
		b.Fatal(err)
	}
	sa, err := unix.Getsockname(fd)
	if err != nil {
		b.Fatal(err)
	}
	return sa.(*unix.SockaddrInet4).Port
}

func acceptAndClose(ln net.Listener) {
	for {
		c, err := ln.Accept()
		if err != nil {
			return
		}
		c.Close()
	}
}

// Target: verify of 10,000 TCP endpoints on loopback is limited by
// parallelism, not by the runner: compare with BenchmarkRawDial10k.
func BenchmarkVerify10kLoopback(b *testing.B) {
	cfg := loopbackFleet(b, 10000)
	plan, err := runner.BuildPlan(cfg, runner.PlanOptions{Env: runner.Environment{GOOS: "linux"}})
	if err != nil {
		b.Fatal(err)
	}
	for _, par := range []int{256, 1024} {
		b.Run(fmt.Sprint("parallelism=", par), func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				sum := runner.Verify(context.Background(), plan, runner.Options{Parallelism: par}, nil)
				if sum.Failed+sum.Errors > 0 {
					b.Fatalf("%d failed, %d errors (of %d)", sum.Failed, sum.Errors, sum.Passed)
				}
			}
		})
	}
}

// BenchmarkRawDial10k is the floor: the same 10,000 connects with plain
// net.Dial and the same parallelism, no runner.
func BenchmarkRawDial10k(b *testing.B) {
	cfg := loopbackFleet(b, 10000)
	for _, par := range []int{256, 1024} {
		b.Run(fmt.Sprint("parallelism=", par), func(b *testing.B) {
			for b.Loop() {
				sem := make(chan struct{}, par)
				var wg sync.WaitGroup
				for _, ep := range cfg.Endpoints {
					sem <- struct{}{}
					wg.Add(1)
					go func(port int) {
						defer wg.Done()
						defer func() { <-sem }()
						if c, err := net.DialTimeout("tcp4", fmt.Sprint("127.0.0.1:", port), 2*time.Second); err == nil {
							c.Close()
						}
					}(ep.Ports.First())
				}
				wg.Wait()
			}
		})
	}
}

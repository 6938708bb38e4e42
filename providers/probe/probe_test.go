package probe

import (
	"context"
	"encoding/json"
	"errors"
	"net"
	"net/netip"
	"os"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"golang.org/x/sys/unix"

	"github.com/portcheck/portcheck/providers"
)

// These tests use loopback only and need no privileges.

// verdict is the part of an Outcome a test pins down exactly; Detail is
// checked by substring.
type verdict struct {
	State    string
	Errno    string
	Attempts int
	ICMP     *ICMP
}

func verdictOf(o Outcome) verdict {
	return verdict{State: o.State, Errno: o.Errno, Attempts: o.Attempts, ICMP: o.ICMP}
}

func tcpServer(t testing.TB, addr string) int {
	t.Helper()
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		t.Skipf("listen %s: %v", addr, err)
	}
	t.Cleanup(func() { ln.Close() })
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			c.Close()
		}
	}()
	return ln.Addr().(*net.TCPAddr).Port
}

// freePort returns a port nothing listens on (for "refused" / "closed").
func freePort(t testing.TB, network, addr string) int {
	t.Helper()
	if strings.HasPrefix(network, "udp") {
		pc, err := net.ListenPacket(network, addr)
		if err != nil {
			t.Skipf("listen %s: %v", addr, err)
		}
		defer pc.Close()
		return pc.LocalAddr().(*net.UDPAddr).Port
	}
	ln, err := net.Listen(network, addr)
	if err != nil {
		t.Skipf("listen %s: %v", addr, err)
	}
	defer ln.Close()
	return ln.Addr().(*net.TCPAddr).Port
}

// fullBacklog returns a loopback port whose listener drops every SYN: its
// accept queue (backlog 0) holds one never-accepted connection, and Linux
// drops SYNs to a listener with a full accept queue. That is a "filtered"
// port without touching any firewall.
func fullBacklog(t testing.TB) int {
	t.Helper()
	fd, err := unix.Socket(unix.AF_INET, unix.SOCK_STREAM|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { unix.Close(fd) })
	if err := unix.Bind(fd, &unix.SockaddrInet4{Addr: [4]byte{127, 0, 0, 1}}); err != nil {
		t.Fatal(err)
	}
	if err := unix.Listen(fd, 0); err != nil {
		t.Fatal(err)
	}
	sa, err := unix.Getsockname(fd)
	if err != nil {
		t.Fatal(err)
	}
	port := sa.(*unix.SockaddrInet4).Port
	filler, err := net.DialTimeout("tcp", net.JoinHostPort("127.0.0.1", strconv.Itoa(port)), 2*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { filler.Close() })
	return port
}

func udpServer(t testing.TB, addr string, echo bool) int {
	t.Helper()
	pc, err := net.ListenPacket("udp", addr)
	if err != nil {
		t.Skipf("listen %s: %v", addr, err)
	}
	t.Cleanup(func() { pc.Close() })
	if echo {
		go func() {
			buf := make([]byte, 2048)
			for {
				n, from, err := pc.ReadFrom(buf)
				if err != nil {
					return
				}
				pc.WriteTo(buf[:n], from)
			}
		}()
	}
	return pc.LocalAddr().(*net.UDPAddr).Port
}

func has6() bool {
	ln, err := net.Listen("tcp6", "[::1]:0")
	if err != nil {
		return false
	}
	ln.Close()
	return true
}

func TestTCPLoopback(t *testing.T) {
	open := tcpServer(t, "127.0.0.1:0")
	closed := freePort(t, "tcp4", "127.0.0.1:0")
	filtered := fullBacklog(t)
	short := Params{Timeout: 200 * time.Millisecond, Retries: 1}
	tests := []struct {
		name   string
		addr   string
		port   int
		p      Params
		want   verdict
		detail string
		v6     bool
	}{
		{name: "open", addr: "127.0.0.1", port: open, want: verdict{State: StateOpen, Attempts: 1}, detail: "TCP handshake with 127.0.0.1:"},
		{name: "refused", addr: "127.0.0.1", port: closed, want: verdict{State: StateRefused, Errno: "ECONNREFUSED", Attempts: 1}, detail: "TCP RST from 127.0.0.1:"},
		{name: "filtered (accept queue full)", addr: "127.0.0.1", port: filtered, p: short, want: verdict{State: StateFiltered, Attempts: 2}, detail: "no answer to 2 SYNs within 200ms each"},
		{name: "v4-mapped is probed over IPv4", addr: "::ffff:127.0.0.1", port: open, want: verdict{State: StateOpen, Attempts: 1}},
		{name: "ipv6 open", addr: "::1", port: 0, v6: true, want: verdict{State: StateOpen, Attempts: 1}, detail: "[::1]:"},
		{name: "ipv6 refused", addr: "::1", port: -1, v6: true, want: verdict{State: StateRefused, Errno: "ECONNREFUSED", Attempts: 1}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if tc.v6 {
				if !has6() {
					t.Skip("no IPv6 loopback")
				}
				switch tc.port {
				case 0:
					tc.port = tcpServer(t, "[::1]:0")
				case -1:
					tc.port = freePort(t, "tcp6", "[::1]:0")
				}
			}
			target := providers.Target{Address: netip.MustParseAddr(tc.addr), Port: tc.port, Protocol: "tcp"}
			o, err := TCP(t.Context(), providers.Exec{}, target, tc.p)
			if err != nil {
				t.Fatalf("TCP: %v", err)
			}
			if d := cmp.Diff(tc.want, verdictOf(o)); d != "" {
				t.Errorf("verdict (-want +got):\n%s\noutcome: %+v", d, o)
			}
			if !strings.Contains(o.Detail, tc.detail) {
				t.Errorf("Detail = %q, want it to contain %q", o.Detail, tc.detail)
			}
			if o.Target != target {
				t.Errorf("Target = %+v, want %+v", o.Target, target)
			}
			if o.State != StateFiltered && o.Source == "" {
				t.Errorf("Source empty: %+v", o)
			}
			if (o.State == StateOpen || o.State == StateRefused) && o.RTTms <= 0 {
				t.Errorf("RTTms = %v, want > 0", o.RTTms)
			}
		})
	}
}

func TestUDPLoopback(t *testing.T) {
	echo := udpServer(t, "127.0.0.1:0", true)
	silent := udpServer(t, "127.0.0.1:0", false)
	closed := freePort(t, "udp4", "127.0.0.1:0")
	short := Params{Timeout: 200 * time.Millisecond, Retries: 1}
	tests := []struct {
		name   string
		addr   string
		port   int
		p      Params
		want   verdict
		bytes  int
		detail string
		v6     bool
	}{
		{name: "open (default payload)", addr: "127.0.0.1", port: echo, want: verdict{State: StateOpen, Attempts: 1}, bytes: 1, detail: "UDP reply of 1 byte from 127.0.0.1:"},
		{name: "open (payload)", addr: "127.0.0.1", port: echo, p: Params{Payload: []byte("hello")}, want: verdict{State: StateOpen, Attempts: 1}, bytes: 5},
		{
			name: "closed (ICMP port unreachable)", addr: "127.0.0.1", port: closed,
			want:   verdict{State: StateClosed, Errno: "ECONNREFUSED", Attempts: 1, ICMP: &ICMP{Type: 3, Code: 3, Name: "port-unreachable", From: "127.0.0.1"}},
			detail: "ICMP port-unreachable (type 3 code 3) from the target 127.0.0.1",
		},
		{name: "silent", addr: "127.0.0.1", port: silent, p: short, want: verdict{State: StateOpenFiltered, Attempts: 2}, detail: "no reply and no ICMP error to 2 datagrams within 200ms each"},
		{
			name: "ipv6 closed", addr: "::1", port: -1, v6: true,
			want: verdict{State: StateClosed, Errno: "ECONNREFUSED", Attempts: 1, ICMP: &ICMP{Type: 1, Code: 4, Name: "port-unreachable", From: "::1", V6: true}},
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if tc.v6 {
				if !has6() {
					t.Skip("no IPv6 loopback")
				}
				tc.port = freePort(t, "udp6", "[::1]:0")
			}
			target := providers.Target{Address: netip.MustParseAddr(tc.addr), Port: tc.port, Protocol: "udp"}
			o, err := UDP(t.Context(), providers.Exec{}, target, tc.p)
			if err != nil {
				t.Fatalf("UDP: %v", err)
			}
			if d := cmp.Diff(tc.want, verdictOf(o)); d != "" {
				t.Errorf("verdict (-want +got):\n%s\noutcome: %+v", d, o)
			}
			if o.ReplyBytes != tc.bytes {
				t.Errorf("ReplyBytes = %d, want %d", o.ReplyBytes, tc.bytes)
			}
			if !strings.Contains(o.Detail, tc.detail) {
				t.Errorf("Detail = %q, want it to contain %q", o.Detail, tc.detail)
			}
			if o.Source == "" {
				t.Errorf("Source empty: %+v", o)
			}
		})
	}
}

func TestInvalidInput(t *testing.T) {
	tests := []struct {
		name   string
		exec   providers.Exec
		target providers.Target
		want   string
	}{
		{"no address", providers.Exec{}, providers.Target{Port: 80}, "no target address"},
		{"port 0", providers.Exec{}, providers.Target{Address: netip.MustParseAddr("127.0.0.1"), Port: 0}, "out of range"},
		{"port too big", providers.Exec{}, providers.Target{Address: netip.MustParseAddr("127.0.0.1"), Port: 70000}, "out of range"},
		{"missing namespace", providers.Exec{Netns: "/run/netns/portcheck-does-not-exist"}, providers.Target{Address: netip.MustParseAddr("127.0.0.1"), Port: 80}, "network namespace"},
		{"unknown zone", providers.Exec{}, providers.Target{Address: netip.MustParseAddr("fe80::1%portcheck-nope"), Port: 80}, "zone"},
	}
	for _, tc := range tests {
		for _, probe := range []struct {
			name string
			fn   func(context.Context, providers.Exec, providers.Target, Params) (Outcome, error)
		}{{"tcp", TCP}, {"udp", UDP}} {
			t.Run(tc.name+"/"+probe.name, func(t *testing.T) {
				_, err := probe.fn(t.Context(), tc.exec, tc.target, Params{})
				if err == nil || !strings.Contains(err.Error(), tc.want) {
					t.Fatalf("err = %v, want it to contain %q", err, tc.want)
				}
			})
		}
	}
}

func TestCancel(t *testing.T) {
	filtered := fullBacklog(t)
	silent := udpServer(t, "127.0.0.1:0", false)
	long := Params{Timeout: 10 * time.Second, Retries: 3}
	tests := []struct {
		name string
		fn   func(context.Context, providers.Exec, providers.Target, Params) (Outcome, error)
		port int
		ctx  func() (context.Context, context.CancelFunc)
		want error
	}{
		{"tcp cancel", TCP, filtered, cancelAfter(100 * time.Millisecond), context.Canceled},
		{"udp cancel", UDP, silent, cancelAfter(100 * time.Millisecond), context.Canceled},
		{"tcp deadline shorter than timeout", TCP, filtered, deadlineIn(100 * time.Millisecond), context.DeadlineExceeded},
		{"udp deadline shorter than timeout", UDP, silent, deadlineIn(100 * time.Millisecond), context.DeadlineExceeded},
		{"tcp already cancelled", TCP, filtered, cancelAfter(0), context.Canceled},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			ctx, cancel := tc.ctx()
			defer cancel()
			start := time.Now()
			_, err := tc.fn(ctx, providers.Exec{}, providers.Target{Address: netip.MustParseAddr("127.0.0.1"), Port: tc.port}, long)
			if !errors.Is(err, tc.want) {
				t.Fatalf("err = %v, want %v", err, tc.want)
			}
			if d := time.Since(start); d > time.Second {
				t.Fatalf("probe took %v after cancellation, want prompt return", d)
			}
		})
	}
}

func cancelAfter(d time.Duration) func() (context.Context, context.CancelFunc) {
	return func() (context.Context, context.CancelFunc) {
		ctx, cancel := context.WithCancel(context.Background())
		if d == 0 {
			cancel()
		} else {
			time.AfterFunc(d, cancel)
		}
		return ctx, cancel
	}
}

func deadlineIn(d time.Duration) func() (context.Context, context.CancelFunc) {
	return func() (context.Context, context.CancelFunc) { return context.WithTimeout(context.Background(), d) }
}

func TestProvider(t *testing.T) {
	p, ok := providers.Lookup("connect")
	if !ok {
		t.Fatal(`provider "connect" not registered`)
	}
	if p.Layer() != providers.LayerConnectivity {
		t.Errorf("Layer = %v, want connectivity", p.Layer())
	}
	if err := p.Available(providers.Exec{}); err != nil {
		t.Errorf("Available(local) = %v", err)
	}
	if err := p.Available(providers.Exec{Netns: "/run/netns/portcheck-does-not-exist"}); err == nil {
		t.Error("Available(missing namespace) = nil, want an error")
	}
	tcpPort := tcpServer(t, "127.0.0.1:0")
	udpPort := udpServer(t, "127.0.0.1:0", true)
	tests := []struct {
		name    string
		target  providers.Target
		params  Params
		want    string
		wantErr string
	}{
		{name: "tcp defaults", target: providers.Target{Address: netip.MustParseAddr("127.0.0.1"), Port: tcpPort, Protocol: "tcp"}, want: StateOpen},
		{name: "tcp upper case", target: providers.Target{Address: netip.MustParseAddr("127.0.0.1"), Port: tcpPort, Protocol: "TCP"}, params: Params{Timeout: time.Second}, want: StateOpen},
		{name: "udp payload", target: providers.Target{Address: netip.MustParseAddr("127.0.0.1"), Port: udpPort, Protocol: "udp"}, params: Params{Payload: []byte("x")}, want: StateOpen},
		{name: "no protocol is tcp", target: providers.Target{Address: netip.MustParseAddr("127.0.0.1"), Port: tcpPort}, want: StateOpen},
		{name: "bad protocol", target: providers.Target{Address: netip.MustParseAddr("127.0.0.1"), Port: tcpPort, Protocol: "sctp"}, wantErr: `protocol "sctp"`},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			o, err := Probe(t.Context(), providers.Exec{}, tc.target, tc.params)
			if tc.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
					t.Fatalf("err = %v, want %q", err, tc.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if o.State != tc.want {
				t.Errorf("State = %q, want %q (%+v)", o.State, tc.want, o)
			}
			// Observations are plain data: they must survive JSON.
			b, err := json.Marshal(o)
			if err != nil {
				t.Fatal(err)
			}
			var back Outcome
			if err := json.Unmarshal(b, &back); err != nil {
				t.Fatal(err)
			}
			if d := cmp.Diff(o, back, cmp.Comparer(func(a, b netip.Addr) bool { return a == b })); d != "" {
				t.Errorf("JSON round trip (-before +after):\n%s", d)
			}
		})
	}
}

// TestConcurrentNoLeaks runs many probes at once, as the runner does, and
// checks that every fd and goroutine is gone afterwards.
func TestConcurrentNoLeaks(t *testing.T) {
	open := tcpServer(t, "127.0.0.1:0")
	closed := freePort(t, "tcp4", "127.0.0.1:0")
	echo := udpServer(t, "127.0.0.1:0", true)
	udpClosed := freePort(t, "udp4", "127.0.0.1:0")
	time.Sleep(10 * time.Millisecond) // let the servers' goroutines start
	fds, gs := countFDs(t), runtime.NumGoroutine()

	const n = 1000
	var wg sync.WaitGroup
	errs := make(chan error, n)
	for i := range n {
		wg.Go(func() {
			ctx, cancel := context.WithCancel(t.Context())
			defer cancel()
			var (
				o   Outcome
				err error
			)
			switch i % 4 {
			case 0:
				o, err = TCP(ctx, providers.Exec{}, providers.Target{Address: netip.MustParseAddr("127.0.0.1"), Port: open}, Params{})
			case 1:
				o, err = TCP(ctx, providers.Exec{}, providers.Target{Address: netip.MustParseAddr("127.0.0.1"), Port: closed}, Params{})
			case 2:
				o, err = UDP(ctx, providers.Exec{}, providers.Target{Address: netip.MustParseAddr("127.0.0.1"), Port: echo}, Params{})
			case 3:
				o, err = UDP(ctx, providers.Exec{}, providers.Target{Address: netip.MustParseAddr("127.0.0.1"), Port: udpClosed}, Params{})
			}
			want := []string{StateOpen, StateRefused, StateOpen, StateClosed}[i%4]
			if err == nil && o.State != want {
				err = errors.New(o.State + " (" + o.Detail + "), want " + want)
			}
			errs <- err
		})
	}
	wg.Wait()
	close(errs)
	reportProbeErrors(t, errs, n)
	waitNoLeak(t, fds, gs)
}

// reportProbeErrors fails t with the first few of the probes' errors and
// their count.
func reportProbeErrors(t testing.TB, errs <-chan error, n int) {
	t.Helper()
	bad := 0
	for err := range errs {
		if err != nil {
			if bad < 5 {
				t.Error(err)
			}
			bad++
		}
	}
	if bad > 0 {
		t.Errorf("%d of %d probes failed", bad, n)
	}
}

// waitNoLeak waits until fds and goroutines are back to the counts before
// the probes (the test servers close their side asynchronously).
func waitNoLeak(t testing.TB, fds, gs int) {
	t.Helper()
	deadline := time.Now().Add(2 * time.Second)
	for {
		fdsNow, gsNow := countFDs(t), runtime.NumGoroutine()
		if fdsNow <= fds && gsNow <= gs {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("leak: fds %d -> %d, goroutines %d -> %d", fds, fdsNow, gs, gsNow)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func countFDs(t testing.TB) int {
	ents, err := os.ReadDir("/proc/self/fd")
	if err != nil {
		t.Skip(err)
	}
	return len(ents)
}

// BenchmarkTCPLoopback measures one probe against an open and a refused
// port on 127.0.0.1.
func BenchmarkTCPLoopback(b *testing.B) {
	for _, tc := range []struct {
		name string
		port func(testing.TB) int
	}{
		{"open", func(tb testing.TB) int { return tcpServer(tb, "127.0.0.1:0") }},
		{"refused", func(tb testing.TB) int { return freePort(tb, "tcp4", "127.0.0.1:0") }},
	} {
		b.Run(tc.name, func(b *testing.B) {
			target := providers.Target{Address: netip.MustParseAddr("127.0.0.1"), Port: tc.port(b), Protocol: "tcp"}
			ctx := b.Context()
			b.ReportAllocs()
			for b.Loop() {
				if _, err := TCP(ctx, providers.Exec{}, target, Params{}); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

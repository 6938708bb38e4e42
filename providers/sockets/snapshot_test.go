package sockets

// Lab tests: real sockets in real network namespaces (root needed; they
// skip otherwise, and fail under CI=true). Where a test asserts what Serves
// predicts, it also asks the kernel by connecting, always from inside a lab
// namespace: lab addresses are never dialled from this machine's namespace.

import (
	"context"
	"errors"
	"net"
	"net/netip"
	"os"
	"os/exec"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"
	"golang.org/x/sys/unix"

	"github.com/portcheck/portcheck/internal/lab"
	"github.com/portcheck/portcheck/internal/netns"
	"github.com/portcheck/portcheck/providers"
)

// ignoreVolatile drops what a test cannot predict: inode numbers (checked
// separately against fstat) and command lines (the spawned binary's path).
var ignoreVolatile = cmp.Options{
	cmpAddr,
	cmpopts.IgnoreFields(Socket{}, "Inode"),
	cmpopts.IgnoreFields(Process{}, "Cmdline"),
}

func snapshot(t *testing.T, exec providers.Exec) *Table {
	t.Helper()
	ctx, cancel := context.WithTimeout(t.Context(), 10*time.Second)
	defer cancel()
	tab, err := Snapshot(ctx, exec)
	if err != nil {
		t.Fatalf("Snapshot(%v): %v", exec, err)
	}
	if tab.Exec != exec {
		t.Errorf("table Exec = %+v, want %+v", tab.Exec, exec)
	}
	return tab
}

func in(h *lab.Host) providers.Exec { return providers.Exec{Host: h.Name, Netns: h.Path()} }

// inodeOf is the socket's inode as fstat reports it, independent of sock_diag.
func inodeOf(t *testing.T, c syscall.Conn) uint64 {
	t.Helper()
	rc, err := c.SyscallConn()
	if err != nil {
		t.Fatal(err)
	}
	var st unix.Stat_t
	var serr error
	if err := rc.Control(func(fd uintptr) { serr = unix.Fstat(int(fd), &st) }); err != nil || serr != nil {
		t.Fatalf("fstat: %v %v", err, serr)
	}
	return st.Ino
}

// byInode finds the socket with inode ino, failing the test if it is absent.
func byInode(t *testing.T, tab *Table, ino uint64) Socket {
	t.Helper()
	for _, s := range tab.Sockets {
		if s.Inode == ino {
			return s
		}
	}
	t.Fatalf("socket inode %d not in the %s table:\n%+v", ino, tab.Exec, tab.Sockets)
	return Socket{}
}

func has(tab *Table, ino uint64) bool {
	return slices.ContainsFunc(tab.Sockets, func(s Socket) bool { return s.Inode == ino })
}

// self is this test process as the table should show it.
func self(t *testing.T) Process {
	t.Helper()
	comm, err := os.ReadFile("/proc/self/comm")
	if err != nil {
		t.Fatal(err)
	}
	return Process{PID: os.Getpid(), Name: strings.TrimSpace(string(comm))}
}

// reaches asks the kernel whether a connection to dst:port is delivered:
// it connects from the client namespace, or from the server's own for a
// loopback dst. UDP relies on the lab's echo listener and on the ICMP port
// unreachable that a closed port returns.
func reaches(t *testing.T, client, server *lab.Host, proto string, dst netip.Addr, port int) bool {
	t.Helper()
	from := client
	if dst.IsLoopback() {
		from = server
	}
	ctx, cancel := context.WithTimeout(t.Context(), 3*time.Second)
	defer cancel()
	target := netip.AddrPortFrom(dst, uint16(port)).String()
	c, err := netns.DialContext(ctx, from.Path(), &net.Dialer{}, proto, target)
	if proto == "tcp" {
		if err == nil {
			c.Close()
			return true
		}
		if errors.Is(err, syscall.ECONNREFUSED) {
			return false
		}
		t.Fatalf("dial %s %s from %s: %v", proto, target, from.Name, err)
	}
	if err != nil {
		t.Fatalf("dial %s %s from %s: %v", proto, target, from.Name, err)
	}
	defer c.Close()
	c.SetDeadline(time.Now().Add(2 * time.Second))
	if _, err := c.Write([]byte("ping")); err != nil {
		t.Fatalf("send to %s: %v", target, err)
	}
	if _, err = c.Read(make([]byte, 16)); err == nil {
		return true
	}
	if errors.Is(err, syscall.ECONNREFUSED) {
		return false
	}
	t.Fatalf("no answer and no refusal from udp %s: %v", target, err)
	return false
}

// agreesWithKernel checks s.Serves(dst) against a real connection for each
// dst. s must be the only socket of its protocol and port in server.
func agreesWithKernel(t *testing.T, client, server *lab.Host, s Socket, dsts ...netip.Addr) {
	t.Helper()
	for _, dst := range dsts {
		want := reaches(t, client, server, s.Protocol, dst, s.Port)
		if got := s.Serves(dst); got != want {
			t.Errorf("%s %v:%d (v6only=%v if=%q): Serves(%v) = %v, but the kernel %s", s.Protocol, s.Address, s.Port, s.V6Only, s.Interface,
				dst, got, map[bool]string{true: "delivered the connection", false: "refused it"}[want])
		}
	}
}

func TestSnapshotSpawnedListener(t *testing.T) {
	l := lab.New(t)
	client, server := l.Pair()
	pid := lab.Spawn(t, server, "fake-nginx", "tcp4", "0.0.0.0:8080")
	// Go listens on a dual-stack [::] for "tcp" with a 0.0.0.0 address;
	// the table must show what the kernel has, not what was asked for.
	pid6 := lab.Spawn(t, server, "fake-api", "tcp", "0.0.0.0:8081")

	tab := snapshot(t, in(server))
	want := []Socket{{Protocol: "tcp", Family: "inet", Address: addr("0.0.0.0"), Port: 8080, State: "LISTEN",
		Processes: []Process{{PID: pid, Name: "fake-nginx"}}}}
	if diff := cmp.Diff(want, tab.Listening("tcp", 8080), ignoreVolatile); diff != "" {
		t.Errorf("Listening(tcp, 8080) (-want +got):\n%s", diff)
	}
	want6 := []Socket{{Protocol: "tcp", Family: "inet6", Address: addr("::"), Port: 8081, State: "LISTEN",
		Processes: []Process{{PID: pid6, Name: "fake-api"}}}}
	if diff := cmp.Diff(want6, tab.Listening("tcp", 8081), ignoreVolatile); diff != "" {
		t.Errorf("Listening(tcp, 8081) (-want +got):\n%s", diff)
	}
	for _, s := range tab.Sockets {
		for _, p := range s.Processes {
			if p.PID == pid && !strings.Contains(p.Cmdline, "fake-nginx") {
				t.Errorf("cmdline of fake-nginx = %q", p.Cmdline)
			}
		}
	}
	for _, s := range tab.Listening("tcp", 8080) {
		if s.LoopbackOnly() {
			t.Error("0.0.0.0 listener reported as loopback-only")
		}
		agreesWithKernel(t, client, server, s, server.Addr(), addr("127.0.0.1"))
	}
	for _, s := range tab.Listening("tcp", 8081) {
		agreesWithKernel(t, client, server, s, server.Addr(), addr("127.0.0.1"), addr("::1"))
	}
}

func TestSnapshotLoopbackOnly(t *testing.T) {
	l := lab.New(t)
	client, server := l.Pair()
	ln := server.ListenTCP("tcp4", "127.0.0.1:9000")

	tab := snapshot(t, in(server))
	s := byInode(t, tab, inodeOf(t, ln.(*net.TCPListener)))
	want := Socket{Protocol: "tcp", Family: "inet", Address: addr("127.0.0.1"), Port: 9000, State: "LISTEN", Processes: []Process{self(t)}}
	if diff := cmp.Diff(want, s, ignoreVolatile); diff != "" {
		t.Errorf("socket (-want +got):\n%s", diff)
	}
	if !s.LoopbackOnly() {
		t.Error("LoopbackOnly() = false for 127.0.0.1")
	}
	if s.Serves(server.Addr()) {
		t.Errorf("Serves(%v) = true for a 127.0.0.1 listener", server.Addr())
	}
	agreesWithKernel(t, client, server, s, server.Addr(), addr("127.0.0.1"), addr("127.0.0.2"))
}

func TestSnapshotPortPrefix(t *testing.T) {
	l := lab.New(t)
	_, server := l.Pair()
	ln808 := server.ListenTCP("tcp4", "0.0.0.0:808")
	ln8080 := server.ListenTCP("tcp4", "0.0.0.0:8080")
	tab := snapshot(t, in(server))

	inodes := func(socks []Socket) []uint64 {
		var out []uint64
		for _, s := range socks {
			out = append(out, s.Inode)
		}
		return out
	}
	tests := []struct {
		proto string
		port  int
		want  []uint64
	}{
		{"tcp", 808, []uint64{inodeOf(t, ln808.(*net.TCPListener))}},
		{"tcp", 8080, []uint64{inodeOf(t, ln8080.(*net.TCPListener))}},
		{"tcp", 80, nil},
		{"tcp", 8, nil},
		{"udp", 808, nil},
	}
	for _, tt := range tests {
		if diff := cmp.Diff(tt.want, inodes(tab.Listening(tt.proto, tt.port))); diff != "" {
			t.Errorf("Listening(%s, %d) inodes (-want +got):\n%s", tt.proto, tt.port, diff)
		}
	}
}

func TestSnapshotUDP(t *testing.T) {
	l := lab.New(t)
	client, server := l.Pair()
	pc4 := server.ListenUDP("udp4", "0.0.0.0:5353")
	pc46 := server.ListenUDP("udp", ":5354") // Go: dual-stack [::]
	// A connected UDP socket only takes datagrams from its peer: not a server.
	conn, err := netns.DialContext(t.Context(), server.Path(), &net.Dialer{}, "udp4", "127.0.0.1:5353")
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()

	tab := snapshot(t, in(server))
	if has(tab, inodeOf(t, conn.(*net.UDPConn))) {
		t.Errorf("connected UDP socket %v listed as a server", conn.LocalAddr())
	}
	tests := []struct {
		pc   net.PacketConn
		want Socket
	}{
		{pc4, Socket{Protocol: "udp", Family: "inet", Address: addr("0.0.0.0"), Port: 5353, State: "UNCONN", Processes: []Process{self(t)}}},
		{pc46, Socket{Protocol: "udp", Family: "inet6", Address: addr("::"), Port: 5354, State: "UNCONN", Processes: []Process{self(t)}}},
	}
	for _, tt := range tests {
		s := byInode(t, tab, inodeOf(t, tt.pc.(*net.UDPConn)))
		if diff := cmp.Diff(tt.want, s, ignoreVolatile); diff != "" {
			t.Errorf("udp %d (-want +got):\n%s", tt.want.Port, diff)
		}
		agreesWithKernel(t, client, server, s, server.Addr(), addr("127.0.0.1"))
	}
	if got := tab.Listening("tcp", 5353); len(got) != 0 {
		t.Errorf("Listening(tcp, 5353) = %+v, want nothing", got)
	}
}

// TestSnapshotV6Only checks the IPV6_V6ONLY flag against getsockopt and
// what it means for IPv4 clients against real connections.
func TestSnapshotV6Only(t *testing.T) {
	l := lab.New(t)
	client, server := l.Pair()
	v6only, err := netns.Listen(server.Path(), "tcp6", "[::]:9600") // Go sets IPV6_V6ONLY=1
	if err != nil {
		t.Skipf("no IPv6 in the lab namespace: %v", err)
	}
	defer v6only.Close()
	dual := server.ListenTCP("tcp", ":9601") // Go sets IPV6_V6ONLY=0

	tab := snapshot(t, in(server))
	tests := []struct {
		ln         net.Listener
		wantV6Only bool
	}{
		{v6only, true},
		{dual, false},
	}
	for _, tt := range tests {
		rc, err := tt.ln.(*net.TCPListener).SyscallConn()
		if err != nil {
			t.Fatal(err)
		}
		var kernel int
		var serr error
		rc.Control(func(fd uintptr) { kernel, serr = unix.GetsockoptInt(int(fd), unix.IPPROTO_IPV6, unix.IPV6_V6ONLY) })
		if serr != nil {
			t.Fatal(serr)
		}
		if (kernel == 1) != tt.wantV6Only {
			t.Fatalf("%v: getsockopt IPV6_V6ONLY = %d, test assumes %v", tt.ln.Addr(), kernel, tt.wantV6Only)
		}
		s := byInode(t, tab, inodeOf(t, tt.ln.(*net.TCPListener)))
		want := Socket{Protocol: "tcp", Family: "inet6", Address: addr("::"), Port: s.Port, State: "LISTEN", V6Only: kernel == 1, Processes: []Process{self(t)}}
		if diff := cmp.Diff(want, s, ignoreVolatile); diff != "" {
			t.Errorf("%v (-want +got):\n%s", tt.ln.Addr(), diff)
		}
		if got := s.Serves(server.Addr()); got == tt.wantV6Only {
			t.Errorf("%v v6only=%v: Serves(%v) = %v", tt.ln.Addr(), s.V6Only, server.Addr(), got)
		}
		agreesWithKernel(t, client, server, s, server.Addr(), addr("127.0.0.1"), addr("::1"))
	}
	for _, w := range tab.Warnings {
		if strings.Contains(w, "IPV6_V6ONLY") {
			t.Errorf("unexpected warning: %s", w)
		}
	}
}

// listenBound listens with SO_BINDTODEVICE dev inside h's namespace.
func listenBound(t *testing.T, h *lab.Host, dev, address string) net.Listener {
	t.Helper()
	lc := net.ListenConfig{Control: func(_, _ string, c syscall.RawConn) error {
		var serr error
		err := c.Control(func(fd uintptr) { serr = unix.SetsockoptString(int(fd), unix.SOL_SOCKET, unix.SO_BINDTODEVICE, dev) })
		return errors.Join(err, serr)
	}}
	var ln net.Listener
	err := netns.Do(h.Path(), func() error {
		var err error
		ln, err = lc.Listen(context.Background(), "tcp4", address)
		return err
	})
	if err != nil {
		t.Fatalf("listen %s bound to %s: %v", address, dev, err)
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
	return ln
}

// vethOf names the interface carrying h's lab address, from inside h.
func vethOf(t *testing.T, h *lab.Host) string {
	t.Helper()
	var name string
	err := netns.Do(h.Path(), func() error {
		ifs, err := net.Interfaces()
		if err != nil {
			return err
		}
		for _, i := range ifs {
			addrs, _ := i.Addrs()
			for _, a := range addrs {
				if p, err := netip.ParsePrefix(a.String()); err == nil && p.Addr() == h.Addr() {
					name = i.Name
				}
			}
		}
		return nil
	})
	if err != nil || name == "" {
		t.Fatalf("no interface with %v in %s: %v", h.Addr(), h.NS, err)
	}
	return name
}

func TestSnapshotBindToDevice(t *testing.T) {
	l := lab.New(t)
	client, server := l.Pair()
	veth := vethOf(t, server)
	onVeth := listenBound(t, server, veth, "0.0.0.0:9700")
	onLo := listenBound(t, server, "lo", "0.0.0.0:9701")

	tab := snapshot(t, in(server))
	tests := []struct {
		ln           net.Listener
		wantIf       string
		wantLoopback bool
	}{
		{onVeth, veth, false},
		{onLo, "lo", true},
	}
	for _, tt := range tests {
		s := byInode(t, tab, inodeOf(t, tt.ln.(*net.TCPListener)))
		if s.Interface != tt.wantIf || s.LoopbackOnly() != tt.wantLoopback {
			t.Errorf("%v: Interface %q LoopbackOnly %v, want %q %v", tt.ln.Addr(), s.Interface, s.LoopbackOnly(), tt.wantIf, tt.wantLoopback)
		}
		agreesWithKernel(t, client, server, s, server.Addr(), addr("127.0.0.1"))
	}
}

// TestSnapshotNamespaceIsolation: each table shows its own namespace only,
// even for sockets on the same port.
func TestSnapshotNamespaceIsolation(t *testing.T) {
	l := lab.New(t)
	client, server := l.Pair()
	local, err := net.Listen("tcp4", "127.0.0.1:0") // this machine's namespace; never dialled
	if err != nil {
		t.Fatal(err)
	}
	defer local.Close()
	inodes := map[string]uint64{
		"local":  inodeOf(t, local.(*net.TCPListener)),
		"server": inodeOf(t, server.ListenTCP("tcp4", "0.0.0.0:7000").(*net.TCPListener)),
		"client": inodeOf(t, client.ListenTCP("tcp4", "0.0.0.0:7000").(*net.TCPListener)),
	}
	tables := map[string]*Table{
		"local":  snapshot(t, providers.Exec{}),
		"server": snapshot(t, in(server)),
		"client": snapshot(t, in(client)),
	}
	for tname, tab := range tables {
		for iname, ino := range inodes {
			if got, want := has(tab, ino), tname == iname; got != want {
				t.Errorf("%s table has the %s socket: %v, want %v", tname, iname, got, want)
			}
		}
	}
	if n := len(tables["server"].Listening("tcp", 7000)); n != 1 {
		t.Errorf("server table has %d sockets on tcp/7000, want 1", n)
	}
}

// TestSnapshotSharedSocket: a listening socket inherited by a child is
// owned by both processes; a dup'ed fd does not list a process twice.
func TestSnapshotSharedSocket(t *testing.T) {
	l := lab.New(t)
	_, server := l.Pair()
	// Not server.ListenTCP: File puts the socket in blocking mode, and a
	// goroutine blocked in accept would then keep Close from returning.
	ln, err := netns.Listen(server.Path(), "tcp4", "0.0.0.0:7100")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	f, err := ln.(*net.TCPListener).File() // a second fd in this process
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	child := exec.Command("sleep", "60")
	child.ExtraFiles = []*os.File{f}
	if err := child.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { child.Process.Kill(); child.Wait() })

	s := byInode(t, snapshot(t, in(server)), inodeOf(t, ln.(*net.TCPListener)))
	want := []Process{self(t), {PID: child.Process.Pid, Name: "sleep"}}
	slices.SortFunc(want, func(a, b Process) int { return a.PID - b.PID })
	if diff := cmp.Diff(want, s.Processes, ignoreVolatile); diff != "" {
		t.Errorf("owners (-want +got):\n%s", diff)
	}
}

func TestProvider(t *testing.T) {
	p, ok := providers.Lookup("sockdiag")
	if !ok {
		t.Fatal("sockdiag is not registered")
	}
	if p.Name() != "sockdiag" || p.Layer() != providers.LayerListening {
		t.Errorf("Name, Layer = %q, %v", p.Name(), p.Layer())
	}
	if err := p.Available(providers.Exec{}); err != nil {
		t.Errorf("Available(local) = %v", err)
	}
	for _, bad := range []string{"/nonexistent/netns", t.TempDir()} {
		if err := p.Available(providers.Exec{Netns: bad}); err == nil {
			t.Errorf("Available(netns %s) = nil", bad)
		}
		tab, err := Snapshot(t.Context(), providers.Exec{Netns: bad})
		if err == nil || tab != nil {
			t.Errorf("Snapshot(netns %s) = %v, %v; want nil and an error", bad, tab, err)
		}
	}

	l := lab.New(t)
	_, server := l.Pair()
	if err := p.Available(in(server)); err != nil {
		t.Errorf("Available(%s) = %v", server.Path(), err)
	}
	other := server.ListenTCP("tcp4", "0.0.0.0:7200")
	server.ListenTCP("tcp4", "0.0.0.0:7201")
	tab, err := Snapshot(t.Context(), in(server))
	if err != nil {
		t.Fatal(err)
	}
	if tab.Exec != in(server) {
		t.Errorf("Exec = %+v", tab.Exec)
	}
	// The whole table, not only the target's port: the runner caches it.
	if !has(tab, inodeOf(t, other.(*net.TCPListener))) {
		t.Error("the table misses a listener")
	}
}

// TestSnapshotCancelled: a context that is already done stops the dump.
func TestSnapshotCancelled(t *testing.T) {
	ctx, cancel := context.WithCancel(t.Context())
	cancel()
	if _, err := Snapshot(ctx, providers.Exec{}); !errors.Is(err, context.Canceled) {
		t.Errorf("Snapshot(cancelled) err = %v, want context.Canceled", err)
	}
}

// Package lab builds throw-away test hosts: Linux network namespaces joined
// by veth pairs, with real listeners and real nftables rules inside them.
// Everything a lab creates is removed by t.Cleanup, also when a test fails.
// Labs never touch the host's own namespace or ruleset.
package lab

import (
	"bytes"
	"fmt"
	"net"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"

	"github.com/portcheck/portcheck/internal/netns"
)

var seq atomic.Int64

// Lab is a set of namespaces owned by one test.
type Lab struct {
	t      testing.TB
	prefix string
	hosts  []*Host
	links  int
}

// Host is one network namespace of a lab.
type Host struct {
	lab   *Lab
	Name  string // short name given by the test, e.g. "server"
	NS    string // namespace name under /run/netns
	Addrs []netip.Addr
	// Ifaces are the host's veth interface names, in the order of Link calls.
	Ifaces []string
}

// Require skips the test unless it runs as root with the named binaries on
// PATH. In CI (CI=true) a missing prerequisite fails the test instead, so
// the namespace tests cannot silently stop running there.
func Require(t testing.TB, bins ...string) {
	t.Helper()
	var missing []string
	if os.Geteuid() != 0 {
		missing = append(missing, "root (network namespaces need CAP_SYS_ADMIN)")
	}
	for _, b := range bins {
		if _, err := exec.LookPath(b); err != nil {
			missing = append(missing, "the "+b+" binary")
		}
	}
	if len(missing) == 0 {
		return
	}
	msg := "lab test needs " + strings.Join(missing, " and ")
	if os.Getenv("CI") == "true" {
		t.Fatal(msg + " (CI must run it)")
	}
	t.Skip(msg)
}

// New creates an empty lab; it skips the test when not root or `ip` is absent.
func New(t testing.TB) *Lab {
	t.Helper()
	Require(t, "ip")
	sweepOnce.Do(sweepStale)
	l := &Lab{t: t, prefix: fmt.Sprintf("%s%d-%d", nsPrefix, os.Getpid(), seq.Add(1))}
	t.Cleanup(l.teardown)
	return l
}

// nsPrefix marks lab namespaces; the pid after it says which test process
// owns one, so a later run can remove what a killed run left behind
// (t.Cleanup does not run when a test binary is killed or times out).
const nsPrefix = "pclab-"

var sweepOnce sync.Once

func sweepStale() {
	entries, err := os.ReadDir("/run/netns")
	if err != nil {
		return
	}
	for _, e := range entries {
		rest, ok := strings.CutPrefix(e.Name(), nsPrefix)
		if !ok {
			continue
		}
		pidStr, _, _ := strings.Cut(rest, "-")
		pid, err := strconv.Atoi(pidStr)
		if err != nil || pid == os.Getpid() {
			continue
		}
		if err := syscall.Kill(pid, 0); err == nil || err == syscall.EPERM {
			continue // its owner still runs
		}
		exec.Command("ip", "netns", "delete", e.Name()).Run()
	}
}

func (l *Lab) teardown() {
	for _, h := range l.hosts {
		// Deleting the namespace also deletes the veth ends inside it.
		if out, err := exec.Command("ip", "netns", "delete", h.NS).CombinedOutput(); err != nil {
			l.t.Logf("lab teardown: ip netns delete %s: %v: %s", h.NS, err, out)
		}
	}
}

// Host creates a namespace with loopback up.
func (l *Lab) Host(name string) *Host {
	l.t.Helper()
	h := &Host{lab: l, Name: name, NS: l.prefix + "-" + name}
	l.run("ip", "netns", "add", h.NS)
	l.hosts = append(l.hosts, h)
	h.Exec("ip", "link", "set", "lo", "up")
	return h
}

// Link joins a and b with a veth pair on the /24 given as "10.X.Y": a gets
// .1 and b gets .2. It returns the two addresses.
func (l *Lab) Link(a, b *Host, net24 string) (netip.Addr, netip.Addr) {
	l.t.Helper()
	l.links++
	// Interface names (at most 15 bytes) are created inside the namespaces,
	// so they only need to be unique within a lab.
	ia := fmt.Sprintf("pcv%da", l.links)
	ib := fmt.Sprintf("pcv%db", l.links)
	l.run("ip", "link", "add", ia, "netns", a.NS, "type", "veth", "peer", "name", ib, "netns", b.NS)
	aa := netip.MustParseAddr(net24 + ".1")
	ab := netip.MustParseAddr(net24 + ".2")
	a.Exec("ip", "addr", "add", aa.String()+"/24", "dev", ia)
	b.Exec("ip", "addr", "add", ab.String()+"/24", "dev", ib)
	a.Exec("ip", "link", "set", ia, "up")
	b.Exec("ip", "link", "set", ib, "up")
	a.Addrs = append(a.Addrs, aa)
	b.Addrs = append(b.Addrs, ab)
	a.Ifaces = append(a.Ifaces, ia)
	b.Ifaces = append(b.Ifaces, ib)
	return aa, ab
}

// Pair is the common lab: a client and a server on 10.<n>.0.0/24, where n
// is chosen per lab so concurrent tests do not share addresses.
func (l *Lab) Pair() (client, server *Host) {
	l.t.Helper()
	client, server = l.Host("client"), l.Host("server")
	l.Link(client, server, fmt.Sprintf("10.%d.%d", 100+int(seq.Add(1)%100), os.Getpid()%250))
	return client, server
}

func (l *Lab) run(name string, args ...string) string {
	l.t.Helper()
	out, err := exec.Command(name, args...).CombinedOutput()
	if err != nil {
		l.t.Fatalf("lab: %s %s: %v\n%s", name, strings.Join(args, " "), err, out)
	}
	return string(out)
}

// Path is the namespace file path, as portcheck's HCL `netns` takes it.
func (h *Host) Path() string { return filepath.Join("/run/netns", h.NS) }

// Addr is the host's first address on a link.
func (h *Host) Addr() netip.Addr {
	if len(h.Addrs) == 0 {
		h.lab.t.Fatalf("lab: host %s has no link address", h.Name)
	}
	return h.Addrs[0]
}

// Exec runs a command inside the namespace and fails the test on error.
func (h *Host) Exec(name string, args ...string) string {
	h.lab.t.Helper()
	return h.lab.run("ip", append([]string{"netns", "exec", h.NS, name}, args...)...)
}

// NFT loads an nftables ruleset (nft -f syntax) into the namespace. It
// needs the nft binary; the test skips (fails in CI) without it.
func (h *Host) NFT(ruleset string) {
	h.lab.t.Helper()
	Require(h.lab.t, "nft")
	cmd := exec.Command("ip", "netns", "exec", h.NS, "nft", "-f", "-")
	cmd.Stdin = strings.NewReader(ruleset)
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := cmd.Run(); err != nil {
		h.lab.t.Fatalf("lab: nft -f in %s: %v\n%s\nruleset:\n%s", h.NS, err, out.String(), ruleset)
	}
}

// ListenTCP opens a TCP listener inside the namespace that accepts and
// holds connections until the test ends.
func (h *Host) ListenTCP(network, addr string) net.Listener {
	h.lab.t.Helper()
	ln, err := netns.Listen(h.Path(), network, addr)
	if err != nil {
		h.lab.t.Fatalf("lab: listen %s %s in %s: %v", network, addr, h.NS, err)
	}
	h.lab.t.Cleanup(func() { ln.Close() })
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

// Listener opens a listener in the namespace and leaves serving to the
// caller (for HTTP, TLS and gRPC servers).
func (h *Host) Listener(network, addr string) net.Listener {
	h.lab.t.Helper()
	ln, err := netns.Listen(h.Path(), network, addr)
	if err != nil {
		h.lab.t.Fatalf("lab: listen %s %s in %s: %v", network, addr, h.NS, err)
	}
	h.lab.t.Cleanup(func() { ln.Close() })
	return ln
}

// ListenUDP opens a UDP socket in the namespace that echoes every datagram.
func (h *Host) ListenUDP(network, addr string) net.PacketConn {
	h.lab.t.Helper()
	pc, err := netns.ListenPacket(h.Path(), network, addr)
	if err != nil {
		h.lab.t.Fatalf("lab: listen %s %s in %s: %v", network, addr, h.NS, err)
	}
	h.lab.t.Cleanup(func() { pc.Close() })
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
	return pc
}

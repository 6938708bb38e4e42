// Package probe observes layer 4: whether a TCP or UDP port answers when
// probed from one vantage point (this machine or a network namespace).
//
// It reads the kernel's own account of a failure instead of guessing from
// timeouts: sockets are created with IP_RECVERR / IPV6_RECVERR, and after a
// failed connect or send the ICMP error that caused it (type, code and the
// address of the host that sent it) is read from the socket's error queue.
//
// Verified on Linux 6.18 (see the lab tests): a TCP socket in SYN_SENT with
// IP_RECVERR set queues the ICMP destination-unreachable that aborts the
// connect (tcp_v4_err/tcp_v6_err call ip_icmp_error/ipv6_icmp_error before
// tcp_done), so "port unreachable" (ECONNREFUSED plus a queue entry) is told
// apart from a TCP RST (ECONNREFUSED and an empty queue). Errors that the
// vantage's own routing table decides synchronously in connect() (no route,
// "prohibit", "unreachable" and "blackhole" routes) come with no ICMP at all;
// only for those is the ICMP type inferred from the errno (ICMP.Inferred).
//
// Also verified: a reject rule in the vantage's own output chain (nft or
// iptables) answers with an ICMP whose offender is the vantage's own source
// address, queued before send()/connect() return; a drop rule there makes a
// UDP send() fail with EPERM but is invisible to TCP (tcp_connect ignores
// the SYN's transmit error), so a TCP probe sees it as filtered.
//
// A provider observes and never decides pass or fail; every network outcome
// is an Outcome, and an error means the probe could not be made at all.
package probe

import (
	"context"
	"errors"
	"fmt"
	"math"
	"net"
	"net/netip"
	"os"
	"strconv"
	"time"

	"golang.org/x/sys/unix"

	"github.com/portcheck/portcheck/providers"
)

// Outcome states.
const (
	StateOpen         = "open"          // TCP handshake completed / UDP reply received
	StateRefused      = "refused"       // TCP RST
	StateFiltered     = "filtered"      // no answer at all (or dropped on the vantage itself)
	StateUnreachable  = "unreachable"   // an ICMP destination-unreachable (or a local routing verdict)
	StateClosed       = "closed"        // UDP: ICMP port unreachable from the target
	StateOpenFiltered = "open|filtered" // UDP: silence, which cannot tell the two apart
)

// DefaultTimeout is the per-attempt timeout when Params.Timeout is zero.
const DefaultTimeout = 2 * time.Second

// Params tunes a probe; the zero value means the defaults.
type Params struct {
	Timeout time.Duration // per attempt; default 2s
	Retries int           // extra attempts after a timeout (never after an answer)
	Payload []byte        // UDP datagram; empty means a single zero byte
}

// ICMP is the ICMP error that decided an outcome.
type ICMP struct {
	Type int    `json:"type"`
	Code int    `json:"code"`
	Name string `json:"name"`           // "host-unreachable", "admin-prohibited", "port-unreachable", ...
	From string `json:"from,omitempty"` // offender address (who sent the ICMP)
	V6   bool   `json:"v6,omitempty"`
	// Inferred is true when no ICMP message was read and Type/Code were
	// derived from the errno of a failure the vantage decided itself.
	Inferred bool `json:"inferred,omitempty"`
}

// Outcome is what one probe observed.
type Outcome struct {
	State      string           `json:"state"`
	Target     providers.Target `json:"target"`
	Source     string           `json:"source,omitempty"` // local address:port the probe used
	ICMP       *ICMP            `json:"icmp,omitempty"`
	Errno      string           `json:"errno,omitempty"` // e.g. "ECONNREFUSED"
	Detail     string           `json:"detail"`          // one human sentence
	RTTms      float64          `json:"rtt_ms,omitempty"`
	Attempts   int              `json:"attempts"`
	ReplyBytes int              `json:"reply_bytes,omitempty"` // UDP
	// SelfConnects counts sockets that met themselves: on loopback the
	// kernel can pick the target port as the source port, and the socket
	// then "connects" (TCP) or hears its own datagram (UDP) with no peer.
	SelfConnects int `json:"self_connects,omitempty"`
	// Timing is how the waits were chosen (scheduled TCP probes with an
	// unanswered attempt): adaptive from the host's round trips, or not.
	Timing *Timing `json:"timing,omitempty"`
}

// maxSelfConnects bounds how many fresh sockets a probe tries when each one
// met itself; three in a row only happens when the ephemeral range is that
// one port.
const maxSelfConnects = 3

// errSelfConnect is returned by an attempt whose socket met itself.
var errSelfConnect = errors.New("probe: socket connected to itself")

// selfConnected reports whether the connected socket's peer is its own
// address: a loopback self-connect, not an answer from a listener.
func selfConnected(fd int) bool {
	local := localAddr(fd)
	sa, err := unix.Getpeername(fd)
	if err != nil || local == "" {
		return false
	}
	var peer netip.AddrPort
	switch sa := sa.(type) {
	case *unix.SockaddrInet4:
		peer = netip.AddrPortFrom(netip.AddrFrom4(sa.Addr), uint16(sa.Port))
	case *unix.SockaddrInet6:
		peer = netip.AddrPortFrom(netip.AddrFrom16(sa.Addr), uint16(sa.Port))
	}
	return peer.String() == local
}

func (p Params) withDefaults() Params {
	if p.Timeout <= 0 {
		p.Timeout = DefaultTimeout
	}
	if p.Retries < 0 {
		p.Retries = 0
	}
	if len(p.Payload) == 0 {
		p.Payload = defaultPayload
	}
	return p
}

var defaultPayload = []byte{0}

// endpoint is a parsed target.
type endpoint struct {
	ap     netip.AddrPort
	family int
}

// parseTarget accepts only IP literals: resolving a name would create
// sockets (and maybe goroutines) outside the vantage's namespace.
// begin is the start both probes share: the parsed target, the parameters
// with defaults, and an outcome naming the protocol probed.
func begin(t providers.Target, p Params, protocol string) (endpoint, Params, Outcome, error) {
	ep, err := parseTarget(t)
	if err != nil {
		return endpoint{}, p, Outcome{}, err
	}
	out := Outcome{Target: t}
	if out.Target.Protocol == "" {
		out.Target.Protocol = providers.Protocol(protocol)
	}
	return ep, p.withDefaults(), out, nil
}

func parseTarget(t providers.Target) (endpoint, error) {
	a := t.Address
	if !a.IsValid() {
		return endpoint{}, fmt.Errorf("probe: no target address")
	}
	if t.Port < 1 || t.Port > 65535 {
		return endpoint{}, fmt.Errorf("probe: target port %d out of range 1-65535", t.Port)
	}
	a = a.Unmap() // a v4-mapped address is probed over IPv4, so IP_RECVERR applies
	fam := unix.AF_INET
	if a.Is6() {
		fam = unix.AF_INET6
	}
	return endpoint{ap: netip.AddrPortFrom(a, uint16(t.Port)), family: fam}, nil
}

// socket creates a non-blocking socket inside the vantage's namespace with
// the ICMP error queue enabled, and hands it to the runtime poller so that
// waits cost no OS thread and deadlines work. The caller closes the file.
// Only socket() (and a zone's interface lookup) must run in the namespace:
// options, connect, send and the error queue then work on the socket's own
// namespace from any thread.
func socket(exec providers.Exec, ep endpoint, typ int) (*os.File, unix.Sockaddr, error) {
	ns := providers.NetnsPath(exec.Netns)
	var fd = -1
	var sa unix.Sockaddr
	var err error
	switch {
	case ns != "" && typ == unix.SOCK_STREAM && ep.ap.Addr().Zone() == "":
		// The common case at scale: a spare socket the namespace's worker
		// made ahead (no zone to resolve in there).
		if sa, err = sockaddr(ep); err == nil {
			fd, err = nsStreamSocket(ns, ep.family)
		}
	default:
		err = inNetns(ns, func() error {
			// A zone names an interface of the vantage, so resolve it in there.
			var err error
			if sa, err = sockaddr(ep); err != nil {
				return err
			}
			fd, err = newSocket(ep.family, typ)
			return err
		})
	}
	if err != nil {
		if fd >= 0 { // made, but leaving the namespace failed
			unix.Close(fd)
		}
		return nil, nil, err
	}
	// Socket options belong to the socket, not the namespace: set here,
	// off the namespace worker's thread.
	if ep.family == unix.AF_INET6 {
		err = unix.SetsockoptInt(fd, unix.SOL_IPV6, unix.IPV6_RECVERR, 1)
	} else {
		err = unix.SetsockoptInt(fd, unix.SOL_IP, unix.IP_RECVERR, 1)
	}
	if err == nil && typ == unix.SOCK_STREAM {
		// Close with RST rather than FIN: the probe only needs the
		// handshake, and an abortive close leaves no TIME_WAIT on the
		// vantage, so thousands of probes cannot exhaust its ports.
		err = unix.SetsockoptLinger(fd, unix.SOL_SOCKET, unix.SO_LINGER, &unix.Linger{Onoff: 1, Linger: 0})
	}
	if err != nil {
		unix.Close(fd)
		return nil, nil, fmt.Errorf("probe: setsockopt: %w", err)
	}
	f := os.NewFile(uintptr(fd), "probe")
	// NewFile registers a non-blocking fd with the poller; check it did,
	// since without it deadlines (and so timeouts) would not work.
	if err := f.SetDeadline(time.Time{}); err != nil {
		f.Close()
		return nil, nil, fmt.Errorf("probe: poller: %w", err)
	}
	return f, sa, nil
}

func sockaddr(ep endpoint) (unix.Sockaddr, error) {
	a := ep.ap.Addr()
	if ep.family == unix.AF_INET {
		return &unix.SockaddrInet4{Port: int(ep.ap.Port()), Addr: a.As4()}, nil
	}
	sa := &unix.SockaddrInet6{Port: int(ep.ap.Port()), Addr: a.As16()}
	if z := a.Zone(); z != "" {
		if n, err := strconv.ParseUint(z, 10, 32); err == nil {
			sa.ZoneId = uint32(n)
		} else {
			ifi, err := net.InterfaceByName(z)
			if err != nil {
				return nil, fmt.Errorf("probe: zone of %s: %w", a, err)
			}
			sa.ZoneId = uint32(ifi.Index)
		}
	}
	return sa, nil
}

// aLongTimeAgo is a deadline in the past, used to wake a pending wait.
var aLongTimeAgo = time.Unix(1, 0)

// armDeadline sets f's deadline and makes ctx cancellation wake any pending
// wait at once. release must be called before f is closed; it returns only
// when no callback can still touch f, so no goroutine outlives the probe.
func armDeadline(ctx context.Context, f *os.File, deadline time.Time) (release func(), err error) {
	if err := f.SetDeadline(deadline); err != nil {
		return nil, err
	}
	if ctx.Done() == nil {
		return func() {}, nil
	}
	done := make(chan struct{})
	stop := context.AfterFunc(ctx, func() {
		f.SetDeadline(aLongTimeAgo)
		close(done)
	})
	return func() {
		if !stop() {
			<-done
		}
	}, nil
}

// attemptDeadline is the earlier of now+timeout and ctx's deadline.
func attemptDeadline(ctx context.Context, start time.Time, timeout time.Duration) time.Time {
	d := start.Add(timeout)
	if cd, ok := ctx.Deadline(); ok && cd.Before(d) {
		return cd
	}
	return d
}

// waitErr turns a failed wait into (timedOut, err): a context that ended
// (including its deadline cutting an attempt short) is an error, a plain
// attempt timeout is not.
func waitErr(ctx context.Context, err error) (bool, error) {
	if cerr := ctx.Err(); cerr != nil {
		return false, cerr
	}
	if errors.Is(err, os.ErrDeadlineExceeded) {
		if cd, ok := ctx.Deadline(); ok && !time.Now().Before(cd) {
			return false, context.DeadlineExceeded
		}
		return true, nil
	}
	return false, fmt.Errorf("probe: wait: %w", err)
}

func localAddr(fd int) string {
	sa, err := unix.Getsockname(fd)
	if err != nil {
		return ""
	}
	var ap netip.AddrPort
	switch sa := sa.(type) {
	case *unix.SockaddrInet4:
		ap = netip.AddrPortFrom(netip.AddrFrom4(sa.Addr), uint16(sa.Port))
	case *unix.SockaddrInet6:
		ap = netip.AddrPortFrom(netip.AddrFrom16(sa.Addr), uint16(sa.Port))
	}
	if ap.Port() == 0 { // a connect that failed at once never bound
		return ""
	}
	return ap.String()
}

func ms(d time.Duration) float64 {
	return math.Round(float64(d)/1e3) / 1e3 // microsecond resolution
}

func errnoName(e unix.Errno) string {
	if n := unix.ErrnoName(e); n != "" {
		return n
	}
	return "errno " + strconv.Itoa(int(e))
}

// control runs fn on the raw fd.
func control(f *os.File, fn func(fd int)) error {
	rc, err := f.SyscallConn()
	if err != nil {
		return err
	}
	return rc.Control(func(fd uintptr) { fn(int(fd)) })
}

package path

import (
	"context"
	"errors"
	"fmt"
	"net/netip"
	"time"

	"golang.org/x/sys/unix"

	"github.com/portcheck/portcheck/internal/icmperr"
	"github.com/portcheck/portcheck/internal/netns"
)

// tracer holds one trace's state.
type tracer struct {
	ns   string
	mode string
	dst  netip.AddrPort
	p    Params
	icmp *icmpSock
}

func (t *tracer) v6() bool { return t.dst.Addr().Is6() }

func (t *tracer) family() int {
	if t.v6() {
		return unix.AF_INET6
	}
	return unix.AF_INET
}

func (t *tracer) sockaddr() unix.Sockaddr {
	a := t.dst.Addr()
	if a.Is4() {
		return &unix.SockaddrInet4{Port: int(t.dst.Port()), Addr: a.As4()}
	}
	return &unix.SockaddrInet6{Port: int(t.dst.Port()), Addr: a.As16()}
}

// setTTL sets the unicast TTL / hop limit of fd.
func setTTL(fd int, v6 bool, ttl int) error {
	if v6 {
		return unix.SetsockoptInt(fd, unix.IPPROTO_IPV6, unix.IPV6_UNICAST_HOPS, ttl)
	}
	return unix.SetsockoptInt(fd, unix.IPPROTO_IP, unix.IP_TTL, ttl)
}

// window sends one probe per TTL at once and waits for all of them.
func (t *tracer) window(ctx context.Context, ttls []int) ([]result, error) {
	if t.mode == "icmp" {
		return t.icmp.echoes(ctx, t.dst.Addr(), ttls, t.p.Timeout, true)
	}
	return t.sockWindow(ctx, ttls)
}

type pending struct {
	fd    int
	start time.Time
	res   result
	done  bool
}

// sockWindow probes with one TCP or UDP socket per TTL.
func (t *tracer) sockWindow(ctx context.Context, ttls []int) ([]result, error) {
	typ := unix.SOCK_STREAM
	if t.mode == "udp" {
		typ = unix.SOCK_DGRAM
	}
	ps := make([]*pending, 0, len(ttls))
	defer func() {
		for _, p := range ps {
			unix.Close(p.fd)
		}
	}()
	v6 := t.v6()
	// Only socket() must run inside the namespace.
	err := netns.Do(t.ns, func() error {
		for _, ttl := range ttls {
			fd, err := unix.Socket(t.family(), typ|unix.SOCK_NONBLOCK|unix.SOCK_CLOEXEC, 0)
			if err != nil {
				return fmt.Errorf("traceroute: socket: %w", err)
			}
			ps = append(ps, &pending{fd: fd, res: result{ttl: ttl}})
			if v6 {
				err = unix.SetsockoptInt(fd, unix.SOL_IPV6, unix.IPV6_RECVERR, 1)
			} else {
				err = unix.SetsockoptInt(fd, unix.SOL_IP, unix.IP_RECVERR, 1)
			}
			if err == nil {
				err = setTTL(fd, v6, ttl)
			}
			if err == nil && typ == unix.SOCK_STREAM {
				// Abortive close: no TIME_WAIT, no FIN to the target.
				err = unix.SetsockoptLinger(fd, unix.SOL_SOCKET, unix.SO_LINGER, &unix.Linger{Onoff: 1, Linger: 0})
			}
			if err != nil {
				return fmt.Errorf("traceroute: setsockopt: %w", err)
			}
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	sa := t.sockaddr()
	for _, p := range ps {
		p.start = time.Now()
		err := unix.Connect(p.fd, sa)
		if typ == unix.SOCK_DGRAM && err == nil {
			_, err = unix.Write(p.fd, []byte{0})
		}
		switch {
		case err == nil && typ == unix.SOCK_STREAM:
			t.finish(p, kindFinal, t.dst.Addr(), "")
		case err == nil, errors.Is(err, unix.EINPROGRESS):
		default:
			t.failed(p, err)
		}
	}

	deadline := time.Now().Add(t.p.Timeout)
	for {
		var fds []unix.PollFd
		var idx []*pending
		for _, p := range ps {
			if !p.done {
				ev := int16(unix.POLLOUT)
				if typ == unix.SOCK_DGRAM {
					ev = unix.POLLIN
				}
				fds = append(fds, unix.PollFd{Fd: int32(p.fd), Events: ev})
				idx = append(idx, p)
			}
		}
		if len(fds) == 0 {
			break
		}
		if err := ctx.Err(); err != nil {
			return nil, err
		}
		left := time.Until(deadline)
		if left <= 0 {
			break
		}
		n, err := unix.Poll(fds, int(min(left, 50*time.Millisecond)/time.Millisecond)+1)
		if err != nil && !errors.Is(err, unix.EINTR) {
			return nil, fmt.Errorf("traceroute: poll: %w", err)
		}
		if n <= 0 {
			continue
		}
		for i, pfd := range fds {
			if pfd.Revents == 0 {
				continue
			}
			t.ready(idx[i], typ)
		}
	}
	out := make([]result, 0, len(ps))
	for _, p := range ps {
		if !p.done {
			// An ICMP that only set a soft error is queued all the same.
			if e := readErrQueue(p.fd); e != nil {
				t.fromICMP(p, e)
			} else {
				p.res.kind = kindSilent
			}
		}
		out = append(out, p.res)
	}
	return out, nil
}

func (t *tracer) finish(p *pending, kind int, from netip.Addr, what string) {
	p.done = true
	p.res.kind, p.res.from, p.res.what = kind, from, what
	p.res.rtt = time.Since(p.start)
}

// failed handles a connect or send that failed at once.
func (t *tracer) failed(p *pending, err error) {
	if e := readErrQueue(p.fd); e != nil {
		t.fromICMP(p, e)
		return
	}
	var en unix.Errno
	name := err.Error()
	if errors.As(err, &en) && unix.ErrnoName(en) != "" {
		name = unix.ErrnoName(en)
	}
	if errors.Is(err, unix.ECONNREFUSED) { // UDP: an earlier port-unreachable
		t.finish(p, kindFinal, t.dst.Addr(), "")
		return
	}
	t.finish(p, kindLocal, netip.Addr{}, name)
}

// ready handles a socket poll reported as ready.
func (t *tracer) ready(p *pending, typ int) {
	if typ == unix.SOCK_STREAM {
		// SO_ERROR first: dequeuing an ICMP entry resets sk_err.
		soerr, err := unix.GetsockoptInt(p.fd, unix.SOL_SOCKET, unix.SO_ERROR)
		if err != nil {
			return
		}
		switch en := unix.Errno(soerr); en {
		case 0:
			if _, err := unix.Getpeername(p.fd); err == nil {
				t.finish(p, kindFinal, t.dst.Addr(), "") // SYN-ACK
			}
			return
		case unix.EINPROGRESS, unix.EALREADY, unix.EINTR:
			return
		case unix.ECONNREFUSED:
			if e := readErrQueue(p.fd); e != nil {
				t.fromICMP(p, e)
			} else {
				t.finish(p, kindFinal, t.dst.Addr(), "") // RST
			}
			return
		default:
			switch e := readErrQueue(p.fd); {
			case e != nil:
				t.fromICMP(p, e)
			case en == unix.ETIMEDOUT: // the kernel gave up its SYN retries
				p.done = true
				p.res.kind = kindSilent
			default:
				t.finish(p, kindLocal, netip.Addr{}, unix.ErrnoName(en))
			}
			return
		}
	}
	// UDP: an ICMP error (POLLERR) or a reply datagram.
	if e := readErrQueue(p.fd); e != nil {
		unix.GetsockoptInt(p.fd, unix.SOL_SOCKET, unix.SO_ERROR)
		t.fromICMP(p, e)
		return
	}
	var buf [1]byte
	_, err := unix.Read(p.fd, buf[:])
	switch {
	case err == nil:
		t.finish(p, kindFinal, t.dst.Addr(), "") // a reply datagram
	case errors.Is(err, unix.ECONNREFUSED):
		t.finish(p, kindFinal, t.dst.Addr(), "") // port unreachable, queue already read
	case errors.Is(err, unix.EAGAIN), errors.Is(err, unix.EINTR):
	default:
		// A pending error with no queued ICMP; it is cleared now.
	}
}

// queued is one ICMP error read from a socket's error queue.
type queued struct {
	v6         bool
	typ, code  int
	from       netip.Addr
	originICMP bool
}

// fromICMP classifies a queued ICMP error for the probe.
func (t *tracer) fromICMP(p *pending, e *queued) {
	name := icmpName(e.v6, e.typ, e.code)
	switch {
	case !e.originICMP:
		t.finish(p, kindLocal, netip.Addr{}, "local error")
	case isTimeExceeded(e.v6, e.typ):
		t.finish(p, kindHop, e.from, "")
	case e.from == t.dst.Addr():
		what := ""
		if !(t.mode == "udp" && isPortUnreachable(e.v6, e.typ, e.code)) {
			what = "ICMP " + name
			if t.mode == "tcp" {
				what += " instead of a SYN-ACK or RST (a reject rule on the target)"
			}
		}
		t.finish(p, kindFinal, e.from, what)
	default:
		if isLocalAddr(p.fd, e.from) {
			t.finish(p, kindLocal, netip.Addr{}, "ICMP "+name+" generated by the vantage itself (a reject rule in its output path)")
			return
		}
		t.finish(p, kindUnreach, e.from, "ICMP "+name)
	}
}

// isLocalAddr reports whether a is the socket's own source address: the
// kernel sources locally generated errors (an output reject rule, a failed
// ARP/NDP resolution) from it.
func isLocalAddr(fd int, a netip.Addr) bool {
	if a.IsLoopback() {
		return true
	}
	sa, err := unix.Getsockname(fd)
	if err != nil {
		return false
	}
	switch sa := sa.(type) {
	case *unix.SockaddrInet4:
		return netip.AddrFrom4(sa.Addr) == a
	case *unix.SockaddrInet6:
		return netip.AddrFrom16(sa.Addr).Unmap() == a
	}
	return false
}

func isTimeExceeded(v6 bool, typ int) bool {
	if v6 {
		return typ == 3
	}
	return typ == 11
}

func isPortUnreachable(v6 bool, typ, code int) bool {
	if v6 {
		return typ == 1 && code == 4
	}
	return typ == 3 && code == 3
}

// readErrQueue drains fd's error queue and returns its first entry.
func readErrQueue(fd int) *queued {
	var first *queued
	var buf [8]byte
	var oob [128]byte
	for range 16 {
		_, oobn, _, _, err := unix.Recvmsg(fd, buf[:], oob[:], unix.MSG_ERRQUEUE|unix.MSG_DONTWAIT)
		if err != nil {
			break
		}
		if first == nil {
			first = parseRecvErr(oob[:oobn])
		}
	}
	return first
}

func parseRecvErr(oob []byte) *queued {
	e, ok := icmperr.Parse(oob)
	if !ok {
		return nil
	}
	return &queued{v6: e.V6, typ: e.Type, code: e.Code, originICMP: e.ICMP, from: e.From}
}

func icmpName(v6 bool, typ, code int) string {
	if n, ok := icmperr.Name(v6, typ, code); ok {
		return n
	}
	return fmt.Sprintf("type-%d/code-%d", typ, code)
}

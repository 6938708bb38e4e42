package probe

import (
	"context"
	"errors"
	"fmt"
	"os"
	"syscall"
	"time"

	"golang.org/x/sys/unix"

	"github.com/portcheck/portcheck/providers"
)

// UDP sends p.Payload to t from exec on a connected socket and classifies
// the result: a reply datagram is open, an ICMP port unreachable from the
// target is closed, other ICMP errors are unreachable, and silence after
// 1+p.Retries attempts is open|filtered (UDP cannot tell those apart).
// If ctx ends first the probe stops at once and returns ctx.Err().
func UDP(ctx context.Context, exec providers.Exec, t providers.Target, p Params) (Outcome, error) {
	ep, p, out, err := begin(t, p, "udp")
	if err != nil {
		return out, err
	}
	if err := ctx.Err(); err != nil {
		return out, err
	}
	// A connected socket receives only the target's datagrams and, with
	// IP_RECVERR, every ICMP error about them (not just "hard" ones).
	f, rc, done, err := udpConnect(exec, ep, &out)
	if err != nil || done {
		return out, err
	}
	defer f.Close()

	// One socket for all attempts, so a late reply to an earlier datagram
	// still counts. The buffer only needs a byte: MSG_TRUNC returns the
	// datagram's real length.
	var buf [1]byte
	for retry := 0; retry <= p.Retries; retry++ {
		if err := ctx.Err(); err != nil {
			return out, err
		}
		out.Attempts = retry + 1
		start := time.Now()
		release, err := armDeadline(ctx, f, attemptDeadline(ctx, start, p.Timeout))
		if err != nil {
			return out, fmt.Errorf("probe: deadline: %w", err)
		}
		var serr error
		werr := rc.Write(func(fd uintptr) bool {
			_, serr = unix.Write(int(fd), p.Payload)
			return serr != unix.EAGAIN
		})
		var n int
		var rerr error
		if werr == nil && serr == nil {
			werr = rc.Read(func(fd uintptr) bool {
				n, _, rerr = unix.Recvfrom(int(fd), buf[:], unix.MSG_TRUNC)
				return rerr != unix.EAGAIN
			})
		}
		release()
		rtt := time.Since(start)
		if werr != nil {
			timedOut, err := waitErr(ctx, werr)
			if err != nil || !timedOut {
				return out, err
			}
			continue
		}
		op, ferr := "send", serr
		if ferr == nil {
			op, ferr = "recv", rerr
		}
		if ferr == nil {
			out.State, out.ReplyBytes, out.RTTms = StateOpen, n, ms(rtt)
			out.Detail = fmt.Sprintf("UDP reply of %d byte%s from %s", n, plural(n), ep.ap)
			return out, nil
		}
		var e unix.Errno
		if !errors.As(ferr, &e) {
			return out, fmt.Errorf("probe: %s %s: %w", op, ep.ap, ferr)
		}
		rc.Control(func(fd uintptr) { err = udpFailure(int(fd), op, e, ep, &out) })
		if err == nil && op == "recv" {
			out.RTTms = ms(rtt)
		}
		return out, err
	}
	out.State = StateOpenFiltered
	out.Detail = fmt.Sprintf("no reply and no ICMP error to %d datagram%s within %s each: UDP cannot tell a silent service from a filtered port",
		out.Attempts, plural(out.Attempts), p.Timeout)
	return out, nil
}

// udpConnect makes the probe's connected socket. done is set when connect
// itself decided the outcome. A socket whose source port came out equal to
// the target's on the same address would hear its own datagram as a
// "reply"; it is replaced, and when every try meets itself (the ephemeral
// range is that one port) the port is closed: autobind never picks a port
// another socket is bound to.
func udpConnect(exec providers.Exec, ep endpoint, out *Outcome) (f *os.File, rc syscall.RawConn, done bool, err error) {
	out.Attempts = 1 // a connect that fails at once is still the one attempt
	for {
		var sa unix.Sockaddr
		f, sa, err = socket(exec, ep, unix.SOCK_DGRAM)
		if err != nil {
			return nil, nil, true, err
		}
		if rc, err = f.SyscallConn(); err != nil {
			f.Close()
			return nil, nil, true, err
		}
		var cerr error
		var self bool
		rc.Control(func(fd uintptr) {
			cerr = unix.Connect(int(fd), sa)
			out.Source = localAddr(int(fd))
			self = cerr == nil && selfConnected(int(fd))
		})
		if cerr != nil {
			defer f.Close()
			var e unix.Errno
			if !errors.As(cerr, &e) {
				return nil, nil, true, fmt.Errorf("probe: connect %s: %w", ep.ap, cerr)
			}
			rc.Control(func(fd uintptr) { err = udpFailure(int(fd), "connect", e, ep, out) })
			return nil, nil, true, err
		}
		if !self {
			return f, rc, false, nil
		}
		f.Close()
		out.SelfConnects++
		if out.SelfConnects >= maxSelfConnects {
			out.State = StateClosed
			out.Detail = fmt.Sprintf("the probe's socket was connected to itself %d times (source port = target port %d): nothing is bound to %s",
				out.SelfConnects, ep.ap.Port(), ep.ap)
			return nil, nil, true, nil
		}
	}
}

// udpFailure classifies a failed connect, send or receive.
func udpFailure(fd int, op string, e unix.Errno, ep endpoint, out *Outcome) error {
	ic := readErrQueue(fd)
	out.Errno = errnoName(e)
	switch {
	case ic != nil:
		out.ICMP = ic
		out.Detail = describeICMP(ic, ep.ap, out.Source)
		// Port unreachable means "closed" only when the target says so; from
		// a router or the vantage it is a reject rule on the way.
		if isPortUnreachable(ic) && fromTarget(ic, ep.ap) {
			out.State = StateClosed
		} else {
			out.State = StateUnreachable
		}
	case op == "send" && (e == unix.EPERM || e == unix.EACCES):
		// Netfilter dropping a locally generated packet makes send() fail
		// with EPERM; a reject rule would also have queued its ICMP (checked
		// above: the kernel delivers it over loopback before send returns).
		out.State = StateFiltered
		out.Detail = fmt.Sprintf("send failed with %s and no ICMP error was queued: the vantage's own firewall dropped the datagram before it left", errnoName(e))
	case e == unix.ECONNREFUSED:
		out.State = StateClosed
		out.ICMP = inferICMP(ep.family == unix.AF_INET6, e)
		out.Detail = fmt.Sprintf("%s failed with ECONNREFUSED but no ICMP error was queued (ICMP type inferred from errno)", op)
	default:
		ic := inferICMP(ep.family == unix.AF_INET6, e)
		if ic == nil && !(op == "connect" && e == unix.EINVAL) {
			return fmt.Errorf("probe: %s %s: %w", op, ep.ap, e)
		}
		out.State, out.ICMP = StateUnreachable, ic
		out.Detail = localVerdict(op, e, ep.ap, ic != nil)
	}
	return nil
}

package probe

import (
	"context"
	"errors"
	"fmt"
	"time"

	"golang.org/x/sys/unix"

	"github.com/portcheck/portcheck/providers"
)

// TCP connects to t from exec and classifies the result as open, refused
// (RST), unreachable (ICMP error, or a routing verdict on the vantage) or
// filtered (no answer within p.Timeout on each of 1+p.Retries attempts).
// If ctx ends first the probe stops at once and returns ctx.Err().
func TCP(ctx context.Context, exec providers.Exec, t providers.Target, p Params) (Outcome, error) {
	ep, p, out, err := begin(t, p, "tcp")
	if err != nil {
		return out, err
	}
	selfConnects := 0
	for retry := 0; retry <= p.Retries; retry++ {
		if err := ctx.Err(); err != nil {
			return out, err
		}
		out.Attempts = retry + 1
		// A fresh socket per attempt: within one attempt the kernel already
		// retransmits the SYN on its own schedule (1s, 3s, ...).
		answered, err := tcpAttempt(ctx, exec, ep, p.Timeout, &out)
		if err == errSelfConnect {
			// The kernel picked the target port as the source port and the
			// socket met itself (simultaneous open): no peer answered. A new
			// socket gets another source port; this try does not count.
			selfConnects++
			out.SelfConnects = selfConnects
			if selfConnects < maxSelfConnects {
				retry--
				continue
			}
			// Autobind never picks a port any socket is bound to, so every
			// attempt meeting itself proves nothing is bound to the port.
			out.State, out.ICMP, out.Errno, out.RTTms = StateRefused, nil, "", 0
			out.Detail = fmt.Sprintf("the probe's socket connected to itself %d times (source port = target port %d, TCP simultaneous open): nothing is bound to %s",
				selfConnects, ep.ap.Port(), ep.ap)
			return out, nil
		}
		if err != nil || answered {
			return out, err
		}
	}
	out.State = StateFiltered
	out.Detail = fmt.Sprintf("no answer to %d SYN%s within %s each", out.Attempts, plural(out.Attempts), p.Timeout)
	return out, nil
}

// tcpAttempt makes one connect; it reports whether an answer decided the
// outcome (false = timed out).
func tcpAttempt(ctx context.Context, exec providers.Exec, ep endpoint, timeout time.Duration, out *Outcome) (bool, error) {
	f, sa, err := socket(exec, ep, unix.SOCK_STREAM)
	if err != nil {
		return false, err
	}
	defer f.Close()
	rc, err := f.SyscallConn()
	if err != nil {
		return false, err
	}
	start := time.Now()
	var cerr error
	rc.Control(func(fd uintptr) {
		cerr = unix.Connect(int(fd), sa)
		out.Source = localAddr(int(fd)) // bound by connect, even when it later fails
	})
	var fail unix.Errno
	switch {
	case cerr == nil:
		// Connected at once (possible on loopback).
	case cerr == unix.EINPROGRESS || cerr == unix.EALREADY || cerr == unix.EINTR:
		release, err := armDeadline(ctx, f, attemptDeadline(ctx, start, timeout))
		if err != nil {
			return false, fmt.Errorf("probe: deadline: %w", err)
		}
		var soerr int
		var gerr error
		werr := rc.Write(func(fd uintptr) bool {
			// Reading SO_ERROR also clears it; the error queue is read after.
			soerr, gerr = unix.GetsockoptInt(int(fd), unix.SOL_SOCKET, unix.SO_ERROR)
			if gerr != nil {
				return true
			}
			switch unix.Errno(soerr) {
			case unix.EINPROGRESS, unix.EALREADY, unix.EINTR:
				return false
			case 0:
				// Writable with no error can be a spurious wakeup (as in
				// net.Dialer); only a peer name proves the handshake.
				_, perr := unix.Getpeername(int(fd))
				return perr == nil
			}
			return true
		})
		release()
		if werr != nil {
			timedOut, err := waitErr(ctx, werr)
			if err != nil || !timedOut {
				return false, err
			}
			// An ICMP that arrived while connect() held the socket only sets
			// a soft error (the SYN is retried) but is queued all the same.
			var ic *ICMP
			rc.Control(func(fd uintptr) { ic = readErrQueue(int(fd)) })
			if ic == nil {
				return false, nil
			}
			out.State, out.ICMP, out.Errno = StateUnreachable, ic, ""
			out.Detail = describeICMP(ic, ep.ap, out.Source) + fmt.Sprintf("; the SYN got no other answer within %s", timeout)
			return true, nil
		}
		if gerr != nil {
			return false, fmt.Errorf("probe: SO_ERROR: %w", gerr)
		}
		fail = unix.Errno(soerr)
	default:
		if !errors.As(cerr, &fail) {
			return false, fmt.Errorf("probe: connect %s: %w", ep.ap, cerr)
		}
		// Failed inside connect(): the vantage's routing decided, no packet left.
		var answered bool
		rc.Control(func(fd uintptr) { answered, err = tcpFailure(int(fd), fail, ep, out) })
		return answered, err
	}
	rtt := time.Since(start)
	if fail == 0 {
		var self bool
		rc.Control(func(fd uintptr) { self = selfConnected(int(fd)) })
		if self {
			return false, errSelfConnect
		}
		out.State, out.ICMP, out.Errno = StateOpen, nil, ""
		out.RTTms = ms(rtt)
		out.Detail = fmt.Sprintf("TCP handshake with %s completed", ep.ap)
		return true, nil
	}
	var answered bool
	rc.Control(func(fd uintptr) { answered, err = tcpFailure(int(fd), fail, ep, out) })
	if answered {
		out.RTTms = ms(rtt)
	}
	return answered, err
}

// tcpFailure classifies a failed connect by the error queue first and the
// errno second.
func tcpFailure(fd int, e unix.Errno, ep endpoint, out *Outcome) (bool, error) {
	ic := readErrQueue(fd)
	out.Errno = errnoName(e)
	switch {
	case ic != nil:
		out.State, out.ICMP = StateUnreachable, ic
		out.Detail = describeICMP(ic, ep.ap, out.Source)
		if isPortUnreachable(ic) && fromTarget(ic, ep.ap) {
			// A TCP stack answers a closed port with RST; an ICMP port
			// unreachable for TCP is a firewall's reject rule.
			out.Detail += " instead of a TCP RST: a reject rule, not a closed port"
		}
	case e == unix.ECONNREFUSED:
		out.State, out.ICMP = StateRefused, nil
		out.Detail = "TCP RST from " + ep.ap.String()
	case e == unix.ETIMEDOUT:
		// The kernel gave up on its SYN retries before our timeout did.
		out.Errno = ""
		return false, nil
	default:
		ic := inferICMP(ep.family == unix.AF_INET6, e)
		if ic == nil && e != unix.EINVAL { // EINVAL from connect() on a valid address: blackhole route
			return false, fmt.Errorf("probe: connect %s: %w", ep.ap, e)
		}
		out.State, out.ICMP = StateUnreachable, ic
		out.Detail = localVerdict("connect", e, ep.ap, ic != nil)
	}
	return true, nil
}

func plural(n int) string {
	if n == 1 {
		return ""
	}
	return "s"
}

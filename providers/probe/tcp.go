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
	return tcpProbe(ctx, exec, t, p, nil)
}

// tcpProbe is TCP with the waits of a host's timing (nil: the declared
// timeout for every attempt). A silent attempt counts toward the filtered
// verdict when it waited the declared timeout, or an adaptive one while the
// host has shown no loss; attempts that stopped counting because the host
// turned lossy are made again on the declared timeout (at most 1+retries
// more), so retries stays the number of attempts a verdict rests on.
func tcpProbe(ctx context.Context, exec providers.Exec, t providers.Target, p Params, h *hostTiming) (Outcome, error) {
	ep, p, out, err := begin(t, p, "tcp")
	if err != nil {
		return out, err
	}
	need := 1 + p.Retries
	var waits []attemptWait
	selfConnects := 0
	for attempt := 0; counted(waits, h) < need && attempt < 2*need; attempt++ {
		if err := ctx.Err(); err != nil {
			return out, err
		}
		if attempt > 0 {
			if err := h.requeue(ctx); err != nil {
				return out, err
			}
		}
		if err := h.pace(ctx); err != nil {
			return out, err
		}
		out.Attempts = attempt + 1
		// A fresh socket per attempt: within one attempt the kernel already
		// retransmits the SYN on its own schedule (1s, 3s, ...).
		last := counted(waits, h)+1 >= need
		a, err := tcpAttempt(ctx, exec, ep, p.Timeout, attempt, last, h, &out)
		if err == errSelfConnect {
			// The kernel picked the target port as the source port and the
			// socket met itself (simultaneous open): no peer answered. A new
			// socket gets another source port; this try does not count.
			selfConnects++
			out.SelfConnects = selfConnects
			if selfConnects < maxSelfConnects {
				attempt--
				continue
			}
			// Autobind never picks a port any socket is bound to, so every
			// attempt meeting itself proves nothing is bound to the port.
			out.State, out.ICMP, out.Errno, out.RTTms = StateRefused, nil, "", 0
			out.Detail = fmt.Sprintf("the probe's socket connected to itself %d times (source port = target port %d, TCP simultaneous open): nothing is bound to %s",
				selfConnects, ep.ap.Port(), ep.ap)
			return out, nil
		}
		if err != nil {
			return out, err
		}
		if a.answered {
			if out.State == StateOpen || out.State == StateRefused {
				// The target's own TCP stack answered: a round trip of the path.
				// An answer that came only to a resent SYN, or after an
				// earlier attempt went unanswered, means a probe was lost.
				h.answered(a.sent, a.kernelRTT, a.rtt, a.retrans || len(waits) > 0)
				h.answeredPort(ep.ap.Port(), out.State)
			}
			if len(waits) > 0 {
				out.Timing = timingOf(h, p.Timeout, waits)
			}
			return out, nil
		}
		waits = append(waits, a.wait)
		h.silent()
	}
	out.State = StateFiltered
	out.Timing = timingOf(h, p.Timeout, waits)
	out.Detail = filteredDetail(waits, p.Timeout, out.Timing)
	return out, nil
}

// attemptWait is how long one unanswered attempt waited, and whether that
// wait was the adaptive one (shorter than declared).
type attemptWait struct {
	d        time.Duration
	adaptive bool
}

// counted is how many silent attempts a filtered verdict may rest on now.
func counted(waits []attemptWait, h *hostTiming) int {
	trusted := h.trusted()
	n := 0
	for _, w := range waits {
		if !w.adaptive || trusted {
			n++
		}
	}
	return n
}

// attemptResult is what one connect saw.
type attemptResult struct {
	answered  bool
	rtt       time.Duration // from connect to this goroutine seeing the answer
	kernelRTT time.Duration // the kernel's SYN to SYN-ACK time (open only; 0 unknown)
	retrans   bool          // the kernel resent the SYN within this attempt
	sent      time.Time     // when the SYN left
	wait      attemptWait
}

// tcpAttempt makes one connect; answered false means it timed out.
func tcpAttempt(ctx context.Context, exec providers.Exec, ep endpoint, declared time.Duration, attempt int, last bool, h *hostTiming, out *Outcome) (attemptResult, error) {
	var res attemptResult
	f, sa, err := socket(exec, ep, unix.SOCK_STREAM)
	if err != nil {
		return res, err
	}
	defer f.Close()
	rc, err := f.SyscallConn()
	if err != nil {
		return res, err
	}
	start := time.Now()
	res.sent = start
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
		timeout, adaptive := h.timeout(attempt, declared)
		release, err := armDeadline(ctx, f, attemptDeadline(ctx, start, timeout))
		if err != nil {
			return res, fmt.Errorf("probe: deadline: %w", err)
		}
		// When the host's timing changes while this attempt waits (its first
		// answer arrives, or it turns lossy), the wait follows the new timeout.
		rearm := func() {
			to, _ := h.timeout(attempt, declared)
			f.SetDeadline(attemptDeadline(ctx, start, to))
			if ctx.Err() != nil {
				f.SetDeadline(aLongTimeAgo)
			}
		}
		unwatch := h.watch(rearm)
		if to, _ := h.timeout(attempt, declared); to != timeout {
			rearm() // the timing changed before the watch was in place
		}
		var soerr int
		var gerr error
		done := func(fd uintptr) bool {
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
		}
		var werr error
		for {
			werr = rc.Write(done)
			if werr == nil {
				break
			}
			if timedOut, _ := waitErr(ctx, werr); !timedOut {
				break
			}
			// The deadline passed. An answer the kernel already took counts
			// even if this goroutine was not scheduled in time to see it.
			var answered bool
			rc.Control(func(fd uintptr) { answered = done(fd) })
			if answered {
				werr = nil
				break
			}
			// The host may have turned lossy since the wait was armed: then
			// this attempt waits on to the declared timeout.
			to, ad := h.timeout(attempt, declared)
			if d := attemptDeadline(ctx, start, to); time.Now().Before(d) {
				timeout, adaptive = to, ad
				f.SetDeadline(d)
				continue
			}
			// The last attempt's silence counts on an adaptive wait only
			// when a probe sent to the host after this SYN was answered:
			// on a first-in first-out path (a slow link, a queue) this
			// port's answer would have come first. Without that it waits
			// on, a step at a time, up to the declared timeout.
			if adaptive && last && !h.answeredSince(start) {
				h.ping(start, declared)
				next := min(time.Since(start)+to, declared)
				timeout, adaptive = next, next < declared
				f.SetDeadline(attemptDeadline(ctx, start, next))
				continue
			}
			break
		}
		unwatch()
		release()
		if werr != nil {
			timedOut, err := waitErr(ctx, werr)
			if err != nil || !timedOut {
				return res, err
			}
			res.wait = attemptWait{d: timeout, adaptive: adaptive}
			// An ICMP that arrived while connect() held the socket only sets
			// a soft error (the SYN is retried) but is queued all the same.
			var ic *ICMP
			rc.Control(func(fd uintptr) { ic = readErrQueue(int(fd)) })
			if ic == nil {
				return res, nil
			}
			out.State, out.ICMP, out.Errno = StateUnreachable, ic, ""
			out.Detail = describeICMP(ic, ep.ap, out.Source) + fmt.Sprintf("; the SYN got no other answer within %s", timeout)
			res.answered = true
			return res, nil
		}
		if gerr != nil {
			return res, fmt.Errorf("probe: SO_ERROR: %w", gerr)
		}
		fail = unix.Errno(soerr)
	default:
		if !errors.As(cerr, &fail) {
			return res, fmt.Errorf("probe: connect %s: %w", ep.ap, cerr)
		}
		// Failed inside connect(): the vantage's routing decided, no packet left.
		rc.Control(func(fd uintptr) { res.answered, err = tcpFailure(int(fd), fail, ep, out) })
		return res, err
	}
	res.rtt = time.Since(start)
	// The kernel's own account of the handshake: whether it had to resend
	// the SYN (an answer to the resent one is loss, and no round trip), and
	// for a completed one its measured round trip, free of the delay before
	// this goroutine ran.
	rc.Control(func(fd uintptr) {
		if ti, err := unix.GetsockoptTCPInfo(int(fd), unix.IPPROTO_TCP, unix.TCP_INFO); err == nil {
			res.retrans = ti.Total_retrans > 0 || ti.Retransmits > 0
			if fail == 0 && ti.Rtt > 0 {
				res.kernelRTT = time.Duration(ti.Rtt) * time.Microsecond
			}
		}
	})
	if fail == 0 {
		var self bool
		rc.Control(func(fd uintptr) { self = selfConnected(int(fd)) })
		if self {
			return res, errSelfConnect
		}
		out.State, out.ICMP, out.Errno = StateOpen, nil, ""
		out.RTTms = ms(res.rtt)
		out.Detail = fmt.Sprintf("TCP handshake with %s completed", ep.ap)
		res.answered = true
		return res, nil
	}
	rc.Control(func(fd uintptr) { res.answered, err = tcpFailure(int(fd), fail, ep, out) })
	if res.answered {
		out.RTTms = ms(res.rtt)
	} else {
		// The kernel gave up on its SYNs (ETIMEDOUT) within the wait.
		res.wait = attemptWait{d: res.rtt}
	}
	return res, err
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

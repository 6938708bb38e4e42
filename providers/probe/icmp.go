package probe

import (
	"fmt"
	"net/netip"

	"golang.org/x/sys/unix"

	"github.com/portcheck/portcheck/internal/icmperr"
)

// readErrQueue drains the socket's error queue and returns the first ICMP
// error in it (nil if there is none). The caller must read SO_ERROR first:
// dequeuing an ICMP entry resets sk_err.
func readErrQueue(fd int) *ICMP {
	var (
		first *ICMP
		buf   [8]byte // the offending packet's head; a buffer avoids a SO_TYPE lookup in Recvmsg
		oob   [128]byte
	)
	for range 16 { // bounded: the queue is capped by the receive buffer anyway
		_, oobn, _, _, err := unix.Recvmsg(fd, buf[:], oob[:], unix.MSG_ERRQUEUE|unix.MSG_DONTWAIT)
		if err != nil {
			break // EAGAIN: queue empty
		}
		if first == nil {
			first = parseRecvErr(oob[:oobn])
		}
	}
	return first
}

// parseRecvErr decodes an IP_RECVERR / IPV6_RECVERR control message.
// Only ICMP-originated entries are returned.
func parseRecvErr(oob []byte) *ICMP {
	e, ok := icmperr.Parse(oob)
	if !ok || !e.ICMP {
		return nil // e.g. SO_EE_ORIGIN_LOCAL (EMSGSIZE): not a network answer
	}
	ic := &ICMP{Type: e.Type, Code: e.Code, V6: e.V6, Name: icmpName(e.V6, e.Type, e.Code)}
	if e.From.IsValid() {
		ic.From = e.From.String()
	}
	return ic
}

func icmpName(v6 bool, typ, code int) string {
	if n, ok := icmperr.Name(v6, typ, code); ok {
		return n
	}
	return fmt.Sprintf("type-%d", typ)
}

// isPortUnreachable reports ICMP 3/3 or ICMPv6 1/4.
func isPortUnreachable(ic *ICMP) bool {
	if ic.V6 {
		return ic.Type == 1 && ic.Code == 4
	}
	return ic.Type == 3 && ic.Code == 3
}

// inferICMP maps the errno of a failure that came with no queued ICMP to the
// ICMP unreachable the kernel would have turned into that errno (the inverse
// of icmp_err_convert / icmpv6_err_convert). It returns nil for errnos that
// are no unreachable verdict. This is a fallback only: on Linux the queue
// holds the real message whenever one arrived, so an empty queue means the
// vantage's own routing decided (ip route unreachable/prohibit, no route).
func inferICMP(v6 bool, e unix.Errno) *ICMP {
	var typ, code int
	switch {
	case v6:
		typ = 1
		switch e {
		case unix.ENETUNREACH:
			code = 0 // no-route
		case unix.EACCES, unix.EPERM:
			code = 1 // admin-prohibited
		case unix.EHOSTUNREACH, unix.EHOSTDOWN:
			code = 3 // address-unreachable
		case unix.ECONNREFUSED:
			code = 4 // port-unreachable
		default:
			return nil
		}
	default:
		typ = 3
		switch e {
		case unix.ENETUNREACH:
			code = 0
		case unix.EHOSTUNREACH:
			code = 1
		case unix.ENOPROTOOPT:
			code = 2
		case unix.ECONNREFUSED:
			code = 3
		case unix.EHOSTDOWN:
			code = 7 // host-unknown
		case unix.ENONET:
			code = 8 // host-isolated
		case unix.EACCES, unix.EPERM:
			code = 13 // no ICMPv4 code gives EACCES: a prohibit route or local policy
		default:
			return nil
		}
	}
	return &ICMP{Type: typ, Code: code, Name: icmpName(v6, typ, code), V6: v6, Inferred: true}
}

// describeICMP is the Detail for an outcome decided by a queued ICMP. Who
// sent it matters most: the target, a router on the path, or the vantage
// itself (the kernel sources a locally generated error, such as an output
// reject rule or a failed ARP/NDP resolution, from the socket's own address).
func describeICMP(ic *ICMP, target netip.AddrPort, source string) string {
	v := "ICMP"
	if ic.V6 {
		v = "ICMPv6"
	}
	what := fmt.Sprintf("%s %s (type %d code %d)", v, ic.Name, ic.Type, ic.Code)
	from, err := netip.ParseAddr(ic.From)
	switch {
	case err != nil:
		return what + " with no sender address"
	case from == target.Addr():
		return what + " from the target " + ic.From
	case isLocal(from, source):
		why := "a reject rule in its own output path"
		if (!ic.V6 && ic.Type == 3 && ic.Code == 1) || (ic.V6 && ic.Type == 1 && ic.Code == 3) {
			why = "no ARP/NDP answer for the next hop, or " + why
		}
		return what + " generated on the vantage itself (" + ic.From + "): " + why
	default:
		return what + " from " + ic.From + ", a router or firewall on the path"
	}
}

func isLocal(from netip.Addr, source string) bool {
	src, err := netip.ParseAddrPort(source)
	return err == nil && src.Addr() == from
}

// fromTarget reports whether the ICMP came from the target itself (or has no
// sender address, when there is nobody else to blame).
func fromTarget(ic *ICMP, target netip.AddrPort) bool {
	from, err := netip.ParseAddr(ic.From)
	return err != nil || from == target.Addr()
}

// localVerdict is the Detail for a failure the vantage decided without any
// ICMP (the errno comes straight from its routing table or policy).
func localVerdict(op string, e unix.Errno, target netip.AddrPort, inferred bool) string {
	var why string
	switch e {
	case unix.ENETUNREACH:
		why = "the vantage has no route to " + target.Addr().String()
	case unix.EHOSTUNREACH:
		why = "the vantage's route to " + target.Addr().String() + " is an unreachable route"
	case unix.EACCES, unix.EPERM:
		why = "the vantage's routing or local policy prohibits " + target.Addr().String()
	case unix.EINVAL:
		why = "the vantage routes " + target.Addr().String() + " to a blackhole"
	default:
		why = "the vantage refused it without any ICMP"
	}
	s := fmt.Sprintf("%s failed with %s and no ICMP error was queued: %s", op, errnoName(e), why)
	if inferred {
		s += " (ICMP type inferred from errno)"
	}
	return s
}

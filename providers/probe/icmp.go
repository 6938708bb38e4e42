package probe

import (
	"encoding/binary"
	"fmt"
	"net/netip"
	"unsafe"

	"golang.org/x/sys/unix"
)

// sizeofSockExtendedErr is sizeof(struct sock_extended_err); the offender's
// sockaddr follows it (SO_EE_OFFENDER).
const sizeofSockExtendedErr = int(unsafe.Sizeof(unix.SockExtendedErr{}))

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

// parseRecvErr decodes an IP_RECVERR / IPV6_RECVERR control message: a
// struct sock_extended_err followed by the offender's sockaddr
// (SO_EE_OFFENDER). Only ICMP-originated entries are returned.
func parseRecvErr(oob []byte) *ICMP {
	msgs, err := unix.ParseSocketControlMessage(oob)
	if err != nil {
		return nil
	}
	for _, m := range msgs {
		if !(m.Header.Level == unix.SOL_IP && m.Header.Type == unix.IP_RECVERR) &&
			!(m.Header.Level == unix.SOL_IPV6 && m.Header.Type == unix.IPV6_RECVERR) {
			continue
		}
		d := m.Data
		if len(d) < sizeofSockExtendedErr {
			continue
		}
		origin, typ, code := d[4], d[5], d[6]
		if origin != unix.SO_EE_ORIGIN_ICMP && origin != unix.SO_EE_ORIGIN_ICMP6 {
			continue // e.g. SO_EE_ORIGIN_LOCAL (EMSGSIZE): not a network answer
		}
		ic := &ICMP{Type: int(typ), Code: int(code), V6: origin == unix.SO_EE_ORIGIN_ICMP6}
		ic.Name = icmpName(ic.V6, ic.Type, ic.Code)
		if from, ok := offender(d[sizeofSockExtendedErr:]); ok {
			ic.From = from.String()
		}
		return ic
	}
	return nil
}

func offender(sa []byte) (netip.Addr, bool) {
	if len(sa) < 2 {
		return netip.Addr{}, false
	}
	switch binary.NativeEndian.Uint16(sa) {
	case unix.AF_INET:
		if len(sa) >= 8 {
			return netip.AddrFrom4([4]byte(sa[4:8])), true
		}
	case unix.AF_INET6:
		if len(sa) >= 24 {
			return netip.AddrFrom16([16]byte(sa[8:24])), true
		}
	}
	return netip.Addr{}, false
}

// ICMP destination-unreachable codes, named as nft names them where it does.
var (
	icmp4Unreach = [...]string{
		0: "net-unreachable", 1: "host-unreachable", 2: "protocol-unreachable",
		3: "port-unreachable", 4: "fragmentation-needed", 5: "source-route-failed",
		6: "net-unknown", 7: "host-unknown", 8: "host-isolated", 9: "net-prohibited",
		10: "host-prohibited", 11: "net-tos-unreachable", 12: "host-tos-unreachable",
		13: "admin-prohibited", 14: "host-precedence-violation", 15: "precedence-cutoff",
	}
	icmp6Unreach = [...]string{
		0: "no-route", 1: "admin-prohibited", 2: "beyond-scope", 3: "address-unreachable",
		4: "port-unreachable", 5: "policy-fail", 6: "reject-route", 7: "source-routing-header",
	}
)

func icmpName(v6 bool, typ, code int) string {
	if v6 {
		switch typ {
		case 1:
			if code < len(icmp6Unreach) {
				return icmp6Unreach[code]
			}
			return "unreachable"
		case 2:
			return "packet-too-big"
		case 3:
			return "time-exceeded"
		case 4:
			return "parameter-problem"
		}
	} else {
		switch typ {
		case 3:
			if code < len(icmp4Unreach) {
				return icmp4Unreach[code]
			}
			return "unreachable"
		case 11:
			return "time-exceeded"
		case 12:
			return "parameter-problem"
		}
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

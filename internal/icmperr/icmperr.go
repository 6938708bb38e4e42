// Package icmperr decodes what the kernel queues on a socket with
// IP_RECVERR / IPV6_RECVERR — the ICMP error a probe met and who sent it —
// and names ICMP types and codes the way nft does. The L4 prober and the L5
// tracer both read their answers this way.
package icmperr

import (
	"encoding/binary"
	"net/netip"
	"unsafe"

	"golang.org/x/sys/unix"
)

// sizeofSockExtendedErr is sizeof(struct sock_extended_err); the offender's
// sockaddr follows it (SO_EE_OFFENDER).
var sizeofSockExtendedErr = int(unsafe.Sizeof(unix.SockExtendedErr{}))

// Err is one queued error.
type Err struct {
	// ICMP is set when an ICMP or ICMPv6 message caused it (not a local
	// error such as EMSGSIZE).
	ICMP bool
	V6   bool
	Type int
	Code int
	// From is the offender: the host that sent the ICMP message (invalid
	// when the kernel gave none).
	From netip.Addr
}

// Parse decodes the first IP_RECVERR / IPV6_RECVERR control message of
// oob, as returned by recvmsg(MSG_ERRQUEUE).
func Parse(oob []byte) (Err, bool) {
	msgs, err := unix.ParseSocketControlMessage(oob)
	if err != nil {
		return Err{}, false
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
		e := Err{
			ICMP: origin == unix.SO_EE_ORIGIN_ICMP || origin == unix.SO_EE_ORIGIN_ICMP6,
			V6:   origin == unix.SO_EE_ORIGIN_ICMP6,
			Type: int(typ), Code: int(code),
		}
		e.From, _ = Offender(d[sizeofSockExtendedErr:])
		return e, true
	}
	return Err{}, false
}

// Offender decodes the sockaddr that follows a sock_extended_err.
func Offender(sa []byte) (netip.Addr, bool) {
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
			return netip.AddrFrom16([16]byte(sa[8:24])).Unmap(), true
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

// Name names an ICMP error type and code; ok is false for a type it does
// not know (the caller picks the fallback text).
func Name(v6 bool, typ, code int) (name string, ok bool) {
	if v6 {
		switch typ {
		case 1:
			if code < len(icmp6Unreach) {
				return icmp6Unreach[code], true
			}
			return "unreachable", true
		case 2:
			return "packet-too-big", true
		case 3:
			return "time-exceeded", true
		case 4:
			return "parameter-problem", true
		}
		return "", false
	}
	switch typ {
	case 3:
		if code < len(icmp4Unreach) {
			return icmp4Unreach[code], true
		}
		return "unreachable", true
	case 11:
		return "time-exceeded", true
	case 12:
		return "parameter-problem", true
	}
	return "", false
}

package sockets

// The socket table is read with a NETLINK_SOCK_DIAG dump, as `ss` does. We
// build the request and parse the replies ourselves (instead of using
// vishvananda/netlink's SocketDiagTCP) because we need the
// INET_DIAG_SKV6ONLY attribute, which that library drops.
//
// Netlink is host-endian except where the kernel says otherwise: ports and
// addresses in inet_diag_sockid are in network order.

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"time"

	"golang.org/x/sys/unix"

	"github.com/portcheck/portcheck/internal/netns"
)

// Sizes and values from <linux/inet_diag.h>; x/sys/unix does not have them.
const (
	sizeofInetDiagSockID = 48                            // sport, dport, src[4], dst[4], if, cookie[2]
	sizeofInetDiagReqV2  = 8 + sizeofInetDiagSockID      // family, protocol, ext, pad, states, id
	sizeofInetDiagMsg    = 4 + sizeofInetDiagSockID + 20 // family, state, timer, retrans, id, expires, rqueue, wqueue, uid, inode

	inetDiagSKV6Only = 11 // INET_DIAG_SKV6ONLY: u8, sent for inet6 sockets in LISTEN or CLOSE

	// TCP states (include/net/tcp_states.h). UDP reuses them: a UDP socket
	// that is not connected is in TCP_CLOSE, which `ss` shows as UNCONN.
	tcpClose  = 7
	tcpListen = 10

	nlaTypeMask = 0x3fff // clears NLA_F_NESTED and NLA_F_NET_BYTEORDER

	// recvBufSize exceeds the largest datagram the kernel builds for a dump
	// (32 KiB), so a reply is never truncated; truncation is still checked.
	recvBufSize = 64 << 10
	// defaultTimeout bounds a dump when ctx has no deadline: the kernel
	// answers at once, so only a bug could make us wait this long.
	defaultTimeout = 10 * time.Second
)

// query is one dump request: one protocol, one family, the wanted states.
type query struct {
	protocol string // "tcp" or "udp", copied into the results
	family   uint8
	proto    uint8
	states   uint32 // bit mask of 1<<state
}

var queries = []query{
	{"tcp", unix.AF_INET, unix.IPPROTO_TCP, 1 << tcpListen},
	{"tcp", unix.AF_INET6, unix.IPPROTO_TCP, 1 << tcpListen},
	{"udp", unix.AF_INET, unix.IPPROTO_UDP, 1 << tcpClose},
	{"udp", unix.AF_INET6, unix.IPPROTO_UDP, 1 << tcpClose},
}

// diagMsg is what we keep of one inet_diag_msg and its attributes.
type diagMsg struct {
	Protocol  string // set from the query; the message does not carry it
	Family    uint8
	State     uint8
	Addr      netip.Addr
	Port      uint16
	IfIndex   uint32
	UID       uint32
	Inode     uint32
	V6Only    bool
	HasV6Only bool // whether INET_DIAG_SKV6ONLY was present
}

func (m diagMsg) socket() Socket {
	s := Socket{
		Protocol: m.Protocol,
		Family:   "inet",
		Address:  m.Addr,
		Port:     int(m.Port),
		Inode:    uint64(m.Inode),
		UID:      m.UID,
	}
	if m.Family == unix.AF_INET6 {
		s.Family = "inet6"
		s.V6Only = m.V6Only
	}
	switch m.State {
	case tcpListen:
		s.State = "LISTEN"
	case tcpClose:
		s.State = "UNCONN"
	}
	return s
}

// request encodes the nlmsghdr and inet_diag_req_v2 of a dump. The socket
// id is left zero: with NLM_F_DUMP the kernel filters only on family,
// protocol and states.
func (q query) request(seq uint32) []byte {
	b := make([]byte, unix.SizeofNlMsghdr+sizeofInetDiagReqV2)
	ne := binary.NativeEndian
	ne.PutUint32(b[0:], uint32(len(b)))
	ne.PutUint16(b[4:], unix.SOCK_DIAG_BY_FAMILY)
	ne.PutUint16(b[6:], unix.NLM_F_REQUEST|unix.NLM_F_DUMP)
	ne.PutUint32(b[8:], seq)
	// b[12:16], the sender's port id, stays 0: the kernel fills it in.
	r := b[unix.SizeofNlMsghdr:]
	r[0], r[1] = q.family, q.proto
	ne.PutUint32(r[4:], q.states)
	return b
}

// dumpSockets runs every query inside the namespace at nsPath ("" = here)
// and resolves the interface indexes of device-bound sockets to names.
func dumpSockets(ctx context.Context, nsPath string) (msgs []diagMsg, ifnames map[uint32]string, warnings []string, err error) {
	err = netns.Do(nsPath, func() error {
		// Created inside the namespace, the netlink socket reports on that
		// namespace whatever thread later uses it.
		c, err := openDiag()
		if err != nil {
			return err
		}
		defer unix.Close(c.fd)
		for _, q := range queries {
			got, interrupted, err := c.dump(ctx, q)
			if err != nil {
				err = fmt.Errorf("sock_diag: dump %s sockets: %w", q.name(), err)
				if errors.Is(err, unix.ENOENT) {
					err = fmt.Errorf("%w (is the %s_diag kernel module available?)", err, q.protocol)
				}
				return err
			}
			if interrupted {
				warnings = append(warnings, fmt.Sprintf("the %s socket table changed while it was read; a socket may be missing or listed twice", q.name()))
			}
			msgs = append(msgs, got...)
		}
		// Interface indexes are per namespace, so resolve them here too.
		ifnames, warnings = interfaceNames(msgs, warnings)
		return nil
	})
	if err != nil {
		return nil, nil, nil, err
	}
	missing := 0
	for _, m := range msgs {
		if m.Family == unix.AF_INET6 && !m.HasV6Only {
			missing++
		}
	}
	if missing > 0 {
		warnings = append(warnings, fmt.Sprintf("the kernel did not report IPV6_V6ONLY for %d IPv6 sockets (kernel too old?); they are shown as dual-stack, which may be wrong", missing))
	}
	return msgs, ifnames, warnings, nil
}

func (q query) name() string {
	if q.family == unix.AF_INET6 {
		return q.protocol + "6"
	}
	return q.protocol
}

// interfaceNames maps the interface indexes the sockets are bound to onto
// names, with RTM_GETLINK in the current namespace (net.Interfaces).
func interfaceNames(msgs []diagMsg, warnings []string) (map[uint32]string, []string) {
	names := map[uint32]string{}
	for _, m := range msgs {
		if m.IfIndex != 0 {
			names[m.IfIndex] = fmt.Sprintf("if%d", m.IfIndex) // fallback if the lookup fails
		}
	}
	if len(names) == 0 {
		return nil, warnings
	}
	ifs, err := net.Interfaces()
	if err != nil {
		return names, append(warnings, fmt.Sprintf("could not name the interfaces sockets are bound to: %v", err))
	}
	for _, i := range ifs {
		if _, ok := names[uint32(i.Index)]; ok {
			names[uint32(i.Index)] = i.Name
		}
	}
	return names, warnings
}

// diagConn is a NETLINK_SOCK_DIAG socket.
type diagConn struct {
	fd  int
	pid uint32 // our port id: replies to our requests carry it
	seq uint32
	buf []byte
}

func openDiag() (*diagConn, error) {
	fd, err := unix.Socket(unix.AF_NETLINK, unix.SOCK_RAW|unix.SOCK_CLOEXEC, unix.NETLINK_SOCK_DIAG)
	if err != nil {
		return nil, fmt.Errorf("sock_diag: open netlink socket: %w", err)
	}
	// Bind with port id 0 so the kernel assigns one; we need it to tell
	// our replies from anything else.
	if err := unix.Bind(fd, &unix.SockaddrNetlink{Family: unix.AF_NETLINK}); err != nil {
		unix.Close(fd)
		return nil, fmt.Errorf("sock_diag: bind netlink socket: %w", err)
	}
	sa, err := unix.Getsockname(fd)
	if err != nil {
		unix.Close(fd)
		return nil, fmt.Errorf("sock_diag: netlink socket name: %w", err)
	}
	nl, ok := sa.(*unix.SockaddrNetlink)
	if !ok {
		unix.Close(fd)
		return nil, fmt.Errorf("sock_diag: netlink socket has address %T", sa)
	}
	return &diagConn{fd: fd, pid: nl.Pid, seq: uint32(time.Now().Unix()), buf: make([]byte, recvBufSize)}, nil
}

// dump sends one query and reads its multipart answer up to NLMSG_DONE.
func (c *diagConn) dump(ctx context.Context, q query) (msgs []diagMsg, interrupted bool, err error) {
	if err := c.setDeadline(ctx); err != nil {
		return nil, false, err
	}
	c.seq++
	if err := unix.Sendto(c.fd, q.request(c.seq), 0, &unix.SockaddrNetlink{Family: unix.AF_NETLINK}); err != nil {
		return nil, false, fmt.Errorf("send request: %w", err)
	}
	st := dumpState{seq: c.seq, pid: c.pid, q: q}
	for {
		if err := ctx.Err(); err != nil {
			return nil, false, err
		}
		n, _, rflags, from, err := unix.Recvmsg(c.fd, c.buf, nil, 0)
		switch {
		case errors.Is(err, unix.EINTR):
			continue
		case errors.Is(err, unix.EAGAIN):
			if ctx.Err() != nil {
				return nil, false, ctx.Err()
			}
			return nil, false, errors.New("no complete answer from the kernel in time")
		case err != nil:
			return nil, false, fmt.Errorf("receive: %w", err)
		}
		if rflags&unix.MSG_TRUNC != 0 {
			return nil, false, fmt.Errorf("reply truncated to the %d-byte buffer", len(c.buf))
		}
		// Only the kernel (port id 0) answers a dump.
		if sa, ok := from.(*unix.SockaddrNetlink); !ok || sa.Pid != 0 {
			continue
		}
		nms, err := parseNetlinkMessages(c.buf[:n])
		if err != nil {
			return nil, false, err
		}
		done, err := st.consume(nms)
		if err != nil {
			return nil, false, err
		}
		if done {
			return st.out, st.interrupted, nil
		}
	}
}

// setDeadline turns ctx's deadline into a receive timeout, so a dump never
// blocks past it (a blocked recvmsg does not see ctx being cancelled).
func (c *diagConn) setDeadline(ctx context.Context) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	timeout := defaultTimeout
	if dl, ok := ctx.Deadline(); ok {
		timeout = time.Until(dl)
	}
	if timeout < time.Microsecond { // a zero timeval would mean "wait forever"
		return context.DeadlineExceeded
	}
	tv := unix.NsecToTimeval(timeout.Nanoseconds())
	if err := unix.SetsockoptTimeval(c.fd, unix.SOL_SOCKET, unix.SO_RCVTIMEO, &tv); err != nil {
		return fmt.Errorf("set receive timeout: %w", err)
	}
	return nil
}

// netlinkMessage is one message of a netlink datagram.
type netlinkMessage struct {
	Header unix.NlMsghdr
	Data   []byte // payload after the header, without padding
}

// parseNetlinkMessages splits a datagram into messages. Unlike
// syscall.ParseNetlinkMessage it rejects trailing garbage.
func parseNetlinkMessages(b []byte) ([]netlinkMessage, error) {
	var out []netlinkMessage
	ne := binary.NativeEndian
	for len(b) > 0 {
		if len(b) < unix.SizeofNlMsghdr {
			return nil, fmt.Errorf("netlink: %d trailing bytes, shorter than a message header", len(b))
		}
		h := unix.NlMsghdr{
			Len:   ne.Uint32(b[0:]),
			Type:  ne.Uint16(b[4:]),
			Flags: ne.Uint16(b[6:]),
			Seq:   ne.Uint32(b[8:]),
			Pid:   ne.Uint32(b[12:]),
		}
		if h.Len < unix.SizeofNlMsghdr || uint64(h.Len) > uint64(len(b)) {
			return nil, fmt.Errorf("netlink: message length %d out of range (%d bytes left)", h.Len, len(b))
		}
		out = append(out, netlinkMessage{Header: h, Data: b[unix.SizeofNlMsghdr:h.Len]})
		// Messages are padded to 4 bytes; the last one may omit its padding.
		b = b[min(nlAlign(int(h.Len)), len(b)):]
	}
	return out, nil
}

func nlAlign(n int) int { return (n + 3) &^ 3 }

// dumpState follows one dump across the datagrams of its answer.
type dumpState struct {
	seq, pid    uint32
	q           query
	out         []diagMsg
	interrupted bool
}

// consume handles the messages of one datagram; done reports NLMSG_DONE.
func (st *dumpState) consume(msgs []netlinkMessage) (done bool, err error) {
	ne := binary.NativeEndian
	for _, m := range msgs {
		// Left over from an earlier request on this socket: not ours.
		if m.Header.Seq != st.seq || m.Header.Pid != st.pid {
			continue
		}
		// Set when the table changed during the dump (kernels that track it).
		if m.Header.Flags&unix.NLM_F_DUMP_INTR != 0 {
			st.interrupted = true
		}
		switch m.Header.Type {
		case unix.NLMSG_DONE:
			// The payload, when present, is the dump's return code.
			if len(m.Data) >= 4 {
				if e := int32(ne.Uint32(m.Data)); e < 0 {
					return true, unix.Errno(-int64(e))
				}
			}
			return true, nil
		case unix.NLMSG_ERROR:
			// struct nlmsgerr: int error, then the offending request's header.
			if len(m.Data) < 4 {
				return false, errors.New("netlink: short NLMSG_ERROR")
			}
			e := int32(ne.Uint32(m.Data))
			if e == 0 { // an acknowledgement, not an error
				continue
			}
			return false, unix.Errno(-int64(e))
		case unix.SOCK_DIAG_BY_FAMILY:
			d, err := parseDiagMessage(m.Data)
			if err != nil {
				return false, err
			}
			// The kernel filters already; this guards against a kernel that
			// ignores the state mask or family for some protocol.
			if d.Family != st.q.family || d.State >= 32 || st.q.states&(1<<d.State) == 0 {
				continue
			}
			d.Protocol = st.q.protocol
			st.out = append(st.out, d)
		}
		// NLMSG_NOOP and unknown types carry nothing for us.
	}
	return false, nil
}

// parseDiagMessage decodes an inet_diag_msg and its attributes. Malformed
// input returns an error; it never panics (see FuzzParseDiagMessage).
func parseDiagMessage(b []byte) (diagMsg, error) {
	var m diagMsg
	if len(b) < sizeofInetDiagMsg {
		return m, fmt.Errorf("inet_diag: message of %d bytes, want at least %d", len(b), sizeofInetDiagMsg)
	}
	ne := binary.NativeEndian
	m.Family, m.State = b[0], b[1]
	id := b[4 : 4+sizeofInetDiagSockID]
	m.Port = binary.BigEndian.Uint16(id[0:]) // idiag_sport, network order
	switch m.Family {
	case unix.AF_INET:
		m.Addr = netip.AddrFrom4([4]byte(id[4:8]))
	case unix.AF_INET6:
		m.Addr = netip.AddrFrom16([16]byte(id[4:20]))
	default:
		return m, fmt.Errorf("inet_diag: unexpected address family %d", m.Family)
	}
	m.IfIndex = ne.Uint32(id[36:])
	tail := b[4+sizeofInetDiagSockID:] // expires, rqueue, wqueue, uid, inode
	m.UID = ne.Uint32(tail[12:])
	m.Inode = ne.Uint32(tail[16:])

	// Attributes (struct nlattr, 4-byte aligned) follow the fixed part.
	attrs := b[sizeofInetDiagMsg:]
	for len(attrs) > 0 {
		if len(attrs) < 4 {
			return m, fmt.Errorf("inet_diag: %d trailing bytes, shorter than an attribute header", len(attrs))
		}
		alen := int(ne.Uint16(attrs[0:]))
		atype := ne.Uint16(attrs[2:]) & nlaTypeMask
		if alen < 4 || alen > len(attrs) {
			return m, fmt.Errorf("inet_diag: attribute %d has length %d (%d bytes left)", atype, alen, len(attrs))
		}
		payload := attrs[4:alen]
		if atype == inetDiagSKV6Only {
			if len(payload) < 1 {
				return m, errors.New("inet_diag: empty INET_DIAG_SKV6ONLY attribute")
			}
			m.V6Only, m.HasV6Only = payload[0] != 0, true
		}
		attrs = attrs[min(nlAlign(alen), len(attrs)):]
	}
	return m, nil
}

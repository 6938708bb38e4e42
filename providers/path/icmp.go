package path

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"math/rand/v2"
	"net/netip"
	"time"

	"golang.org/x/sys/unix"

	"github.com/portcheck/portcheck/internal/netns"
)

// icmpSock is a raw ICMP (or ICMPv6) socket for echo requests: the ping and
// the icmp-mode trace. Every process's ICMP reaches a raw socket, so replies
// and errors are matched by the echo identifier and sequence number (quoted
// in time-exceeded and unreachable messages).
type icmpSock struct {
	fd  int
	v6  bool
	id  uint16
	seq uint16
}

func openICMP(ns string, dst netip.Addr) (*icmpSock, error) {
	s := &icmpSock{fd: -1, v6: dst.Is6(), id: uint16(rand.Uint32())}
	err := netns.Do(ns, func() error {
		fam, proto := unix.AF_INET, unix.IPPROTO_ICMP
		if s.v6 {
			fam, proto = unix.AF_INET6, unix.IPPROTO_ICMPV6
		}
		fd, err := unix.Socket(fam, unix.SOCK_RAW|unix.SOCK_NONBLOCK|unix.SOCK_CLOEXEC, proto)
		if err != nil {
			if errors.Is(err, unix.EPERM) || errors.Is(err, unix.EACCES) {
				return fmt.Errorf("traceroute: raw ICMP socket: %w (%s)", err, capHint)
			}
			return fmt.Errorf("traceroute: raw ICMP socket: %w", err)
		}
		s.fd = fd
		return nil
	})
	if err != nil {
		if s.fd >= 0 {
			unix.Close(s.fd)
		}
		return nil, err
	}
	return s, nil
}

func (s *icmpSock) close() { unix.Close(s.fd) }

// echoes sends one echo request per TTL at once and waits up to timeout for
// the answers. With trace set, time-exceeded and unreachable messages count
// as answers from a hop; without it (a ping) only echo replies count.
func (s *icmpSock) echoes(ctx context.Context, dst netip.Addr, ttls []int, timeout time.Duration, trace bool) ([]result, error) {
	var sa unix.Sockaddr
	if s.v6 {
		sa = &unix.SockaddrInet6{Addr: dst.As16()}
	} else {
		sa = &unix.SockaddrInet4{Addr: dst.As4()}
	}
	type probe struct {
		start time.Time
		res   result
		done  bool
	}
	bySeq := map[uint16]*probe{}
	order := make([]*probe, 0, len(ttls))
	for _, ttl := range ttls {
		s.seq++
		p := &probe{res: result{ttl: ttl}}
		bySeq[s.seq] = p
		order = append(order, p)
		if err := setTTL(s.fd, s.v6, ttl); err != nil {
			return nil, fmt.Errorf("traceroute: set TTL: %w", err)
		}
		p.start = time.Now()
		if err := unix.Sendto(s.fd, s.echo(s.seq), 0, sa); err != nil {
			var en unix.Errno
			name := err.Error()
			if errors.As(err, &en) && unix.ErrnoName(en) != "" {
				name = unix.ErrnoName(en)
			}
			p.done = true
			p.res.kind, p.res.what = kindLocal, name
		}
	}
	deadline := time.Now().Add(timeout)
	buf := make([]byte, 1500)
	left := func() int {
		n := 0
		for _, p := range order {
			if !p.done {
				n++
			}
		}
		return n
	}
	for left() > 0 {
		if err := ctx.Err(); err != nil {
			return nil, err
		}
		wait := time.Until(deadline)
		if wait <= 0 {
			break
		}
		fds := []unix.PollFd{{Fd: int32(s.fd), Events: unix.POLLIN}}
		n, err := unix.Poll(fds, int(min(wait, 50*time.Millisecond)/time.Millisecond)+1)
		if err != nil && !errors.Is(err, unix.EINTR) {
			return nil, fmt.Errorf("traceroute: poll: %w", err)
		}
		if n <= 0 {
			continue
		}
		for {
			n, from, err := unix.Recvfrom(s.fd, buf, unix.MSG_DONTWAIT)
			if err != nil {
				break
			}
			kind, seq, src, ok := s.parse(buf[:n], from, dst)
			if !ok {
				continue
			}
			p := bySeq[seq]
			if p == nil || p.done {
				continue
			}
			if !trace && kind != kindFinal {
				continue
			}
			p.done = true
			p.res.kind, p.res.from, p.res.rtt = kind, src, time.Since(p.start)
			if kind == kindUnreach && src == dst {
				p.res.kind = kindFinal
			}
		}
	}
	out := make([]result, 0, len(order))
	for _, p := range order {
		out = append(out, p.res) // not done: kindSilent (the zero kind)
	}
	return out, nil
}

// echo builds an echo request; the kernel fills in the ICMPv6 checksum.
func (s *icmpSock) echo(seq uint16) []byte {
	b := make([]byte, 16)
	b[0] = 8
	if s.v6 {
		b[0] = 128
	}
	binary.BigEndian.PutUint16(b[4:], s.id)
	binary.BigEndian.PutUint16(b[6:], seq)
	copy(b[8:], "portchck")
	if !s.v6 {
		binary.BigEndian.PutUint16(b[2:], checksum(b))
	}
	return b
}

func checksum(b []byte) uint16 {
	var sum uint32
	for i := 0; i+1 < len(b); i += 2 {
		sum += uint32(binary.BigEndian.Uint16(b[i:]))
	}
	if len(b)%2 == 1 {
		sum += uint32(b[len(b)-1]) << 8
	}
	for sum>>16 != 0 {
		sum = sum&0xffff + sum>>16
	}
	return ^uint16(sum)
}

// parse matches a received ICMP message to one of our echo requests.
func (s *icmpSock) parse(b []byte, from unix.Sockaddr, dst netip.Addr) (kind int, seq uint16, src netip.Addr, ok bool) {
	switch sa := from.(type) {
	case *unix.SockaddrInet4:
		src = netip.AddrFrom4(sa.Addr)
	case *unix.SockaddrInet6:
		src = netip.AddrFrom16(sa.Addr).Unmap()
	}
	if !s.v6 {
		// A raw IPv4 socket gets the IP header too.
		if len(b) < 20 {
			return
		}
		b = b[int(b[0]&0x0f)*4:]
	}
	if len(b) < 8 {
		return
	}
	typ := b[0]
	echoReply, echoReq, timeEx, unreach := byte(0), byte(8), byte(11), byte(3)
	if s.v6 {
		echoReply, echoReq, timeEx, unreach = 129, 128, 3, 1
	}
	switch typ {
	case echoReply:
		if binary.BigEndian.Uint16(b[4:]) != s.id || src != dst {
			return
		}
		return kindFinal, binary.BigEndian.Uint16(b[6:]), src, true
	case timeEx, unreach:
		inner := b[8:]
		var proto byte
		var idst netip.Addr
		if s.v6 {
			if len(inner) < 40 {
				return
			}
			proto, idst = inner[6], netip.AddrFrom16([16]byte(inner[24:40]))
			inner = inner[40:]
		} else {
			if len(inner) < 20 {
				return
			}
			ihl := int(inner[0]&0x0f) * 4
			if len(inner) < ihl {
				return
			}
			proto, idst = inner[9], netip.AddrFrom4([4]byte(inner[16:20]))
			inner = inner[ihl:]
		}
		wantProto := byte(unix.IPPROTO_ICMP)
		if s.v6 {
			wantProto = unix.IPPROTO_ICMPV6
		}
		if proto != wantProto || idst != dst || len(inner) < 8 || inner[0] != echoReq ||
			binary.BigEndian.Uint16(inner[4:]) != s.id {
			return
		}
		kind = kindHop
		if typ == unreach {
			kind = kindUnreach
		}
		return kind, binary.BigEndian.Uint16(inner[6:]), src, true
	}
	return
}

// ping sends Rounds echo requests (TTL 64) to the target at once.
func (t *tracer) ping(ctx context.Context) (*PingFacts, error) {
	ttls := make([]int, t.p.Rounds)
	for i := range ttls {
		ttls[i] = 64
	}
	res, err := t.icmp.echoes(ctx, t.dst.Addr(), ttls, t.p.Timeout, false)
	if err != nil {
		return nil, err
	}
	pf := &PingFacts{Sent: len(res)}
	var sum time.Duration
	for _, r := range res {
		if r.kind == kindFinal {
			pf.Received++
			sum += r.rtt
		}
	}
	if pf.Received > 0 {
		pf.AvgMs = round3(float64(sum) / 1e6 / float64(pf.Received))
	}
	return pf, nil
}

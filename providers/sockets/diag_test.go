package sockets

import (
	"encoding/binary"
	"encoding/hex"
	"errors"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"golang.org/x/sys/unix"
)

// Payloads of SOCK_DIAG_BY_FAMILY messages captured from Linux 6.18 on
// amd64 (netlink is host-endian, so these fixtures are little-endian).
const (
	// tcp 127.0.0.1:43697 LISTEN, inode 0x8945; attributes SHUTDOWN,
	// CGROUP_ID, SOCKOPT, PROTOCOL: none we use.
	fixtureV4 = "020a0000aab100007f00000100000000000000000000000000000000000000000000000000000000" +
		"000000000110000000000000000000000000000000100000000000004589000005000800000000000800" +
		"0f00000000000c00150001000000000000000600160052000000"
	// tcp6 [::1]:46809 LISTEN, inode 0x8943, with INET_DIAG_SKV6ONLY = 1
	// (the 05000b0001000000 attribute).
	fixtureV6 = "0a0a0000b6d90000000000000000000000000000000000010000000000000000000000000000000000000000" +
		"02100000000000000000000000000000001000000000000043890000050008000000000005000b000100" +
		"000008000f00000000000c00150001000000000000000600160012000000"
)

func mustHex(t testing.TB, s string) []byte {
	t.Helper()
	b, err := hex.DecodeString(strings.ReplaceAll(s, " ", ""))
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func requireLittleEndian(t testing.TB) {
	t.Helper()
	if binary.NativeEndian.Uint16([]byte{1, 0}) != 1 {
		t.Skip("fixtures are little-endian netlink messages")
	}
}

func TestParseDiagMessage(t *testing.T) {
	requireLittleEndian(t)
	fixed := fixtureV4[:2*sizeofInetDiagMsg] // the inet_diag_msg without attributes
	v6 := diagMsg{Family: unix.AF_INET6, State: tcpListen, Addr: addr("::1"), Port: 46809, Inode: 0x8943, V6Only: true, HasV6Only: true}
	v6dual := v6
	v6dual.V6Only = false
	tests := []struct {
		name    string
		hex     string
		want    diagMsg
		wantErr string
	}{
		{"kernel v4 message", fixtureV4, diagMsg{Family: unix.AF_INET, State: tcpListen, Addr: addr("127.0.0.1"), Port: 43697, Inode: 0x8945}, ""},
		{"kernel v6 message with SKV6ONLY=1", fixtureV6, v6, ""},
		{"SKV6ONLY=0", strings.Replace(fixtureV6, "05000b0001", "05000b0000", 1), v6dual, ""},
		{"no attributes", fixed, diagMsg{Family: unix.AF_INET, State: tcpListen, Addr: addr("127.0.0.1"), Port: 43697, Inode: 0x8945}, ""},
		{"last attribute without padding", fixtureV6[:2*sizeofInetDiagMsg] + "05000b0001", v6, ""},
		{"type flag bits are masked", fixtureV6[:2*sizeofInetDiagMsg] + "05000b4001000000", v6, ""},
		{"uid and ifindex", "0a07000000350000" + strings.Repeat("00", 10) + "ffff0a000005" + strings.Repeat("00", 16) + "03000000" + strings.Repeat("00", 8) +
			strings.Repeat("00", 12) + "e8030000" + "07000000",
			diagMsg{Family: unix.AF_INET6, State: tcpClose, Addr: addr("::ffff:10.0.0.5"), Port: 53, IfIndex: 3, UID: 1000, Inode: 7}, ""},
		{"empty", "", diagMsg{}, "message of 0 bytes"},
		{"one byte short", fixed[:len(fixed)-2], diagMsg{}, "message of 71 bytes"},
		{"unix family", "01" + fixtureV4[2:], diagMsg{}, "unexpected address family 1"},
		{"attribute shorter than its header", fixed + "03000800", diagMsg{}, "has length 3"},
		{"attribute longer than the message", fixed + "0c00080000000000", diagMsg{}, "has length 12"},
		{"trailing bytes", fixed + "0500", diagMsg{}, "2 trailing bytes"},
		{"empty SKV6ONLY", fixed + "04000b00", diagMsg{}, "empty INET_DIAG_SKV6ONLY"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := parseDiagMessage(mustHex(t, tt.hex))
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("err = %v, want it to contain %q", err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if got != tt.want {
				t.Errorf("mismatch:\nwant %+v\n got %+v", tt.want, got)
			}
		})
	}
}

func TestRequest(t *testing.T) {
	requireLittleEndian(t)
	got := hex.EncodeToString(query{"udp", unix.AF_INET6, unix.IPPROTO_UDP, 1 << tcpClose}.request(9))
	want := "48000000" + "1400" + "0103" + "09000000" + "00000000" + // nlmsghdr: len 72, SOCK_DIAG_BY_FAMILY, REQUEST|DUMP, seq 9
		"0a110000" + "80000000" + strings.Repeat("00", sizeofInetDiagSockID) // inet6, udp, states 1<<TCP_CLOSE, empty id
	if got != want {
		t.Errorf("request =\n%s, want\n%s", got, want)
	}
}

// nlmsg encodes one netlink message, padded to 4 bytes.
func nlmsg(typ, flags uint16, seq, pid uint32, data []byte) []byte {
	n := unix.SizeofNlMsghdr + len(data)
	b := make([]byte, nlAlign(n))
	ne := binary.NativeEndian
	ne.PutUint32(b[0:], uint32(n))
	ne.PutUint16(b[4:], typ)
	ne.PutUint16(b[6:], flags)
	ne.PutUint32(b[8:], seq)
	ne.PutUint32(b[12:], pid)
	copy(b[unix.SizeofNlMsghdr:], data)
	return b
}

func errno(e int32) []byte {
	return binary.NativeEndian.AppendUint32(nil, uint32(e))
}

func TestParseNetlinkMessages(t *testing.T) {
	two := append(nlmsg(1, 2, 3, 4, []byte{9}), nlmsg(unix.NLMSG_DONE, 0, 3, 4, errno(0))...)
	got, err := parseNetlinkMessages(two)
	if err != nil {
		t.Fatal(err)
	}
	want := []netlinkMessage{
		{unix.NlMsghdr{Len: 17, Type: 1, Flags: 2, Seq: 3, Pid: 4}, []byte{9}},
		{unix.NlMsghdr{Len: 20, Type: unix.NLMSG_DONE, Seq: 3, Pid: 4}, []byte{0, 0, 0, 0}},
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("mismatch (-want +got):\n%s", diff)
	}
	// The last message may come without its padding.
	unpadded := append(nlmsg(unix.NLMSG_DONE, 0, 3, 4, errno(0)), nlmsg(1, 2, 3, 4, []byte{9})[:17]...)
	if got, err := parseNetlinkMessages(unpadded); err != nil || len(got) != 2 || len(got[1].Data) != 1 {
		t.Errorf("unpadded last message: got %d messages, err %v", len(got), err)
	}
	for name, b := range map[string][]byte{
		"trailing bytes":          append(nlmsg(1, 0, 0, 0, nil), 1, 2, 3),
		"length below the header": {8, 0, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0},
		"length 0":                make([]byte, 16),
		"cut header":              nlmsg(1, 0, 0, 0, nil)[:15],
		"length past the end":     append([]byte{32, 0, 0, 0}, make([]byte, 16)...),
	} {
		if _, err := parseNetlinkMessages(b); err == nil {
			t.Errorf("%s: no error", name)
		}
	}
}

// diagPayload encodes an inet_diag_msg the way the kernel does.
func diagPayload(family, state uint8, port uint16, inode uint32) []byte {
	b := make([]byte, sizeofInetDiagMsg)
	b[0], b[1] = family, state
	binary.BigEndian.PutUint16(b[4:], port)
	binary.NativeEndian.PutUint32(b[68:], inode)
	return b
}

// TestDumpConsume feeds datagrams, as recvmsg returns them, through the
// dump state machine: multipart answers, errors, and foreign messages.
func TestDumpConsume(t *testing.T) {
	const seq, pid = 5, 77
	multi := uint16(unix.NLM_F_MULTI)
	listen := func(inode uint32) []byte {
		return nlmsg(unix.SOCK_DIAG_BY_FAMILY, multi, seq, pid, diagPayload(unix.AF_INET, tcpListen, 80, inode))
	}
	done := nlmsg(unix.NLMSG_DONE, multi, seq, pid, errno(0))
	cat := func(ms ...[]byte) []byte {
		var b []byte
		for _, m := range ms {
			b = append(b, m...)
		}
		return b
	}
	tests := []struct {
		name            string
		datagrams       [][]byte
		wantInodes      []uint32
		wantDone        bool
		wantInterrupted bool
		wantErr         error  // matched with errors.Is
		wantErrText     string // or by text
	}{
		{"multipart over two datagrams", [][]byte{cat(listen(1), listen(2)), cat(listen(3), done)}, []uint32{1, 2, 3}, true, false, nil, ""},
		{"empty dump", [][]byte{done}, nil, true, false, nil, ""},
		{"no DONE yet", [][]byte{listen(1)}, []uint32{1}, false, false, nil, ""},
		{"other requests' messages are skipped", [][]byte{cat(
			nlmsg(unix.SOCK_DIAG_BY_FAMILY, multi, seq-1, pid, diagPayload(unix.AF_INET, tcpListen, 80, 8)),
			nlmsg(unix.SOCK_DIAG_BY_FAMILY, multi, seq, pid+1, diagPayload(unix.AF_INET, tcpListen, 80, 9)),
			nlmsg(unix.NLMSG_DONE, multi, seq-1, pid, errno(0)),
			listen(1), done)}, []uint32{1}, true, false, nil, ""},
		{"other states and families are dropped", [][]byte{cat(
			nlmsg(unix.SOCK_DIAG_BY_FAMILY, multi, seq, pid, diagPayload(unix.AF_INET, tcpClose, 80, 8)),
			nlmsg(unix.SOCK_DIAG_BY_FAMILY, multi, seq, pid, diagPayload(unix.AF_INET, 200, 80, 8)),
			nlmsg(unix.SOCK_DIAG_BY_FAMILY, multi, seq, pid, diagPayload(unix.AF_INET6, tcpListen, 80, 9)),
			listen(1), done)}, []uint32{1}, true, false, nil, ""},
		{"noop and unknown types are ignored", [][]byte{cat(nlmsg(unix.NLMSG_NOOP, 0, seq, pid, nil), nlmsg(99, 0, seq, pid, []byte{1}), listen(1), done)}, []uint32{1}, true, false, nil, ""},
		{"ack is not an error", [][]byte{cat(nlmsg(unix.NLMSG_ERROR, 0, seq, pid, errno(0)), listen(1), done)}, []uint32{1}, true, false, nil, ""},
		{"NLMSG_ERROR", [][]byte{cat(listen(1), nlmsg(unix.NLMSG_ERROR, 0, seq, pid, append(errno(-int32(unix.EINVAL)), make([]byte, 16)...)))}, nil, false, false, unix.EINVAL, ""},
		{"NLMSG_ERROR without module", [][]byte{nlmsg(unix.NLMSG_ERROR, 0, seq, pid, errno(-int32(unix.ENOENT)))}, nil, false, false, unix.ENOENT, ""},
		{"short NLMSG_ERROR", [][]byte{nlmsg(unix.NLMSG_ERROR, 0, seq, pid, []byte{1})}, nil, false, false, nil, "short NLMSG_ERROR"},
		{"DONE with an error code", [][]byte{cat(listen(1), nlmsg(unix.NLMSG_DONE, multi, seq, pid, errno(-int32(unix.ENOBUFS))))}, nil, true, false, unix.ENOBUFS, ""},
		{"DONE without payload", [][]byte{cat(listen(1), nlmsg(unix.NLMSG_DONE, multi, seq, pid, nil))}, []uint32{1}, true, false, nil, ""},
		{"interrupted dump", [][]byte{cat(nlmsg(unix.SOCK_DIAG_BY_FAMILY, multi|unix.NLM_F_DUMP_INTR, seq, pid, diagPayload(unix.AF_INET, tcpListen, 80, 1)), done)}, []uint32{1}, true, true, nil, ""},
		{"malformed diag message", [][]byte{nlmsg(unix.SOCK_DIAG_BY_FAMILY, multi, seq, pid, []byte{2, 10})}, nil, false, false, nil, "message of 2 bytes"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			st := dumpState{seq: seq, pid: pid, q: queries[0]}
			var done bool
			var err error
			for _, dg := range tt.datagrams {
				var msgs []netlinkMessage
				if msgs, err = parseNetlinkMessages(dg); err != nil {
					t.Fatal(err)
				}
				if done, err = st.consume(msgs); done || err != nil {
					break
				}
			}
			switch {
			case tt.wantErr != nil || tt.wantErrText != "":
				if err == nil || tt.wantErr != nil && !errors.Is(err, tt.wantErr) || !strings.Contains(err.Error(), tt.wantErrText) {
					t.Fatalf("err = %v, want %v %q", err, tt.wantErr, tt.wantErrText)
				}
				return
			case err != nil:
				t.Fatal(err)
			}
			var inodes []uint32
			for _, m := range st.out {
				if m.Protocol != "tcp" {
					t.Errorf("message protocol %q, want tcp", m.Protocol)
				}
				inodes = append(inodes, m.Inode)
			}
			if diff := cmp.Diff(tt.wantInodes, inodes); diff != "" {
				t.Errorf("inodes (-want +got):\n%s", diff)
			}
			if done != tt.wantDone || st.interrupted != tt.wantInterrupted {
				t.Errorf("done, interrupted = %v, %v; want %v, %v", done, st.interrupted, tt.wantDone, tt.wantInterrupted)
			}
		})
	}
}

// FuzzParseDiagMessage: any bytes give a message or an error, never a
// panic, and a message that parses is self-consistent.
func FuzzParseDiagMessage(f *testing.F) {
	for _, s := range []string{fixtureV4, fixtureV6, fixtureV4[:2*sizeofInetDiagMsg] + "04000b00", fixtureV6[:2*sizeofInetDiagMsg] + "05000b0001"} {
		f.Add(mustHex(f, s))
	}
	f.Add([]byte{})
	f.Fuzz(func(t *testing.T, b []byte) {
		m, err := parseDiagMessage(b)
		if err != nil {
			return
		}
		if len(b) < sizeofInetDiagMsg {
			t.Fatalf("parsed a %d-byte message", len(b))
		}
		switch {
		case m.Family == unix.AF_INET && m.Addr.Is4():
		case m.Family == unix.AF_INET6 && m.Addr.Is6():
		default:
			t.Fatalf("family %d with address %v", m.Family, m.Addr)
		}
		if m.V6Only && !m.HasV6Only {
			t.Fatal("V6Only set without the attribute")
		}
	})
}

// FuzzDumpDatagram runs whole datagrams through the netlink splitter and
// the dump state machine.
func FuzzDumpDatagram(f *testing.F) {
	f.Add(append(nlmsg(unix.SOCK_DIAG_BY_FAMILY, unix.NLM_F_MULTI, 5, 77, mustHex(f, fixtureV6)), nlmsg(unix.NLMSG_DONE, unix.NLM_F_MULTI, 5, 77, errno(0))...))
	f.Add(nlmsg(unix.NLMSG_ERROR, 0, 5, 77, errno(-int32(unix.EINVAL))))
	f.Add(nlmsg(unix.NLMSG_DONE, 0, 5, 77, nil))
	f.Fuzz(func(t *testing.T, b []byte) {
		msgs, err := parseNetlinkMessages(b)
		if err != nil {
			return
		}
		st := dumpState{seq: 5, pid: 77, q: queries[1]}
		if _, err := st.consume(msgs); err != nil {
			return
		}
		for _, m := range st.out {
			if m.Protocol != "tcp" || m.Family != unix.AF_INET6 || m.State != tcpListen {
				t.Fatalf("kept a message the query did not ask for: %+v", m)
			}
		}
	})
}

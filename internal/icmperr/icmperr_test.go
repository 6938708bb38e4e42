package icmperr

import (
	"encoding/binary"
	"net/netip"
	"testing"

	"golang.org/x/sys/unix"
)

func TestName(t *testing.T) {
	for _, tt := range []struct {
		v6        bool
		typ, code int
		want      string
		ok        bool
	}{
		{false, 3, 13, "admin-prohibited", true},
		{false, 3, 3, "port-unreachable", true},
		{false, 3, 99, "unreachable", true},
		{false, 11, 0, "time-exceeded", true},
		{true, 1, 4, "port-unreachable", true},
		{true, 3, 0, "time-exceeded", true},
		{false, 5, 1, "", false}, // redirect: not an error we name
	} {
		if got, ok := Name(tt.v6, tt.typ, tt.code); got != tt.want || ok != tt.ok {
			t.Errorf("Name(%v, %d, %d) = %q, %v; want %q, %v", tt.v6, tt.typ, tt.code, got, ok, tt.want, tt.ok)
		}
	}
}

func TestOffender(t *testing.T) {
	sa4 := make([]byte, 16)
	binary.NativeEndian.PutUint16(sa4, unix.AF_INET)
	copy(sa4[4:], []byte{10, 0, 0, 1})
	sa6 := make([]byte, 28)
	binary.NativeEndian.PutUint16(sa6, unix.AF_INET6)
	a6 := netip.MustParseAddr("fd00::1").As16()
	copy(sa6[8:], a6[:])
	for _, tt := range []struct {
		sa   []byte
		want netip.Addr
		ok   bool
	}{
		{sa4, netip.MustParseAddr("10.0.0.1"), true},
		{sa6, netip.MustParseAddr("fd00::1"), true},
		{sa4[:6], netip.Addr{}, false},
		{nil, netip.Addr{}, false},
	} {
		if got, ok := Offender(tt.sa); got != tt.want || ok != tt.ok {
			t.Errorf("Offender(%v) = %v, %v; want %v, %v", tt.sa, got, ok, tt.want, tt.ok)
		}
	}
}

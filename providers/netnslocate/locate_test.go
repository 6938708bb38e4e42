package netnslocate

import (
	"errors"
	"fmt"
	"net/netip"
	"os"
	"strings"
	"testing"

	"github.com/portcheck/portcheck/internal/lab"
)

// TestLocateLab builds a host namespace with a bridge and a container
// behind it, a container on a direct veth, and decoys that hold the same
// addresses but are not connected: the route and the veth decide, never
// the address alone.
func TestLocateLab(t *testing.T) {
	lab.Require(t, "ip")
	l := lab.New(t)
	host, ctr, direct := l.Host("host"), l.Host("ctr"), l.Host("direct")
	decoy, lone := l.Host("decoy"), l.Host("lone")
	// Addresses unique to this test run, so parallel labs do not collide.
	b := 10 + os.Getpid()%200
	bridged := netip.MustParseAddr(fmt.Sprintf("172.31.%d.2", b))
	host.Exec("ip", "link", "add", "br0", "type", "bridge")
	host.Exec("ip", "addr", "add", fmt.Sprintf("172.31.%d.1/24", b), "dev", "br0")
	host.Exec("ip", "link", "set", "br0", "up")
	host.Exec("ip", "link", "add", "vh", "type", "veth", "peer", "name", "vc", "netns", ctr.NS)
	host.Exec("ip", "link", "set", "vh", "master", "br0")
	host.Exec("ip", "link", "set", "vh", "up")
	ctr.Exec("ip", "addr", "add", bridged.String()+"/24", "dev", "vc")
	ctr.Exec("ip", "link", "set", "vc", "up")
	// This kernel has no dummy module: a veth pair inside the namespace
	// holds an address just as well.
	decoy.Exec("ip", "link", "add", "d0", "type", "veth", "peer", "name", "d1")
	decoy.Exec("ip", "addr", "add", bridged.String()+"/32", "dev", "d0")
	_, directAddr := l.Link(host, direct, fmt.Sprintf("10.253.%d", b))
	loneAddr := netip.MustParseAddr(fmt.Sprintf("192.0.2.%d", b))
	lone.Exec("ip", "link", "add", "d0", "type", "veth", "peer", "name", "d1")
	lone.Exec("ip", "addr", "add", loneAddr.String()+"/32", "dev", "d0")

	for _, tc := range []struct {
		name    string
		addr    netip.Addr
		want    string // namespace path
		via     string
		wantErr string
	}{
		{name: "behind a bridge, decoy ignored", addr: bridged, want: ctr.Path(), via: "veth vh on bridge br0"},
		{name: "direct veth", addr: directAddr, want: direct.Path(), via: "veth"},
		{name: "holder not behind the route is not taken", addr: loneAddr, wantErr: "none is behind the host's route"},
		{name: "nowhere", addr: netip.MustParseAddr("198.51.100.251"), wantErr: ErrNotFound.Error()},
	} {
		t.Run(tc.name, func(t *testing.T) {
			loc, err := Locate(host.Path(), tc.addr)
			if tc.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
					t.Fatalf("Locate = %+v, %v; want error %q", loc, err, tc.wantErr)
				}
				if tc.wantErr == ErrNotFound.Error() && !errors.Is(err, ErrNotFound) {
					t.Errorf("error %v is not ErrNotFound", err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if !sameNS(t, loc.Netns, tc.want) || !strings.Contains(loc.Via, tc.via) {
				t.Fatalf("Locate = %+v, want %s via %q", loc, tc.want, tc.via)
			}
		})
	}
}

func sameNS(t *testing.T, a, b string) bool {
	t.Helper()
	ia, err := nsIdentity(a)
	if err != nil {
		t.Fatal(err)
	}
	ib, err := nsIdentity(b)
	if err != nil {
		t.Fatal(err)
	}
	return ia == ib
}

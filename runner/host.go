package runner

import (
	"net"
	"net/netip"

	"github.com/portcheck/portcheck/internal/netns"
)

// localAddrs lists the addresses configured on this machine's interfaces, to
// decide whether a host declared without netns/local is this machine.
func localAddrs() []netip.Addr {
	ifaddrs, err := net.InterfaceAddrs()
	if err != nil {
		return nil
	}
	var out []netip.Addr
	for _, ia := range ifaddrs {
		if p, err := netip.ParsePrefix(ia.String()); err == nil {
			out = append(out, p.Addr())
		}
	}
	return out
}

func netnsCheck(path string) error { return netns.Check(path) }

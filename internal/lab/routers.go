package lab

import (
	"fmt"
	"net/netip"
	"os"
)

// Chain builds a line of hosts joined by veth links, names[0] — names[1] —
// … — names[n-1], each link on its own 10.X.Y.0/24 (the left host gets .1,
// the right one .2). Every inner host forwards IPv4 (a router); every host
// gets routes to all the chain's subnets, so the first host reaches the last
// through all routers. It returns the hosts in order.
func (l *Lab) Chain(names ...string) []*Host {
	l.t.Helper()
	if len(names) < 2 {
		l.t.Fatalf("lab: Chain needs at least two hosts, got %d", len(names))
	}
	hosts := make([]*Host, len(names))
	for i, n := range names {
		hosts[i] = l.Host(n)
	}
	type link struct {
		net24       string
		left, right netip.Addr
	}
	links := make([]link, len(hosts)-1)
	for i := range links {
		net24 := fmt.Sprintf("10.%d.%d", 100+int(seq.Add(1)%100), os.Getpid()%250)
		a, b := l.Link(hosts[i], hosts[i+1], net24)
		links[i] = link{net24: net24, left: a, right: b}
	}
	for i, h := range hosts {
		if i > 0 && i < len(hosts)-1 {
			h.Exec("sysctl", "-qw", "net.ipv4.ip_forward=1")
		}
		for k, ln := range links {
			var via netip.Addr
			switch {
			case k == i-1 || k == i:
				continue // directly connected
			case k < i-1:
				via = links[i-1].left // towards the first host
			default:
				via = links[i].right // towards the last host
			}
			h.Exec("ip", "route", "add", ln.net24+".0/24", "via", via.String())
		}
	}
	return hosts
}

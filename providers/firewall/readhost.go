package firewall

import (
	"fmt"
	"net"
	"net/netip"
	"os"
	"strings"

	"github.com/vishvananda/netlink"
	"golang.org/x/sys/unix"

	"github.com/portcheck/portcheck/internal/netns"
)

// ReadHost reads the interfaces, addresses, routes (main and local tables)
// and forwarding switches of the network namespace at netnsPath ("" =
// this one). It only reads.
func ReadHost(netnsPath string) (*Host, error) {
	h := &Host{}
	err := netns.Do(netnsPath, func() error {
		links, err := netlink.LinkList()
		if err != nil {
			return fmt.Errorf("list interfaces: %w", err)
		}
		names := map[int]string{}
		for _, l := range links {
			a := l.Attrs()
			names[a.Index] = a.Name
			ifc := Interface{Name: a.Name}
			addrs, err := netlink.AddrList(l, netlink.FAMILY_ALL)
			if err != nil {
				return fmt.Errorf("list addresses of %s: %w", a.Name, err)
			}
			for _, ad := range addrs {
				if p, ok := prefixOf(ad.IPNet); ok {
					ifc.Addrs = append(ifc.Addrs, p)
				}
			}
			h.Interfaces = append(h.Interfaces, ifc)
		}
		for _, table := range []int{unix.RT_TABLE_MAIN, unix.RT_TABLE_LOCAL} {
			routes, err := netlink.RouteListFiltered(netlink.FAMILY_ALL, &netlink.Route{Table: table}, netlink.RT_FILTER_TABLE)
			if err != nil {
				return fmt.Errorf("list routes: %w", err)
			}
			for _, r := range routes {
				dst, ok := prefixOf(r.Dst)
				if !ok { // default route
					if r.Family == unix.AF_INET6 {
						dst = netip.PrefixFrom(netip.IPv6Unspecified(), 0)
					} else {
						dst = netip.PrefixFrom(netip.IPv4Unspecified(), 0)
					}
				}
				switch r.Type {
				case unix.RTN_LOCAL:
					h.Routes = append(h.Routes, Route{Dst: dst.Masked(), Dev: names[r.LinkIndex], Local: true})
				case unix.RTN_UNICAST:
					if table == unix.RT_TABLE_MAIN {
						h.Routes = append(h.Routes, Route{Dst: dst.Masked(), Dev: names[r.LinkIndex]})
					}
				case unix.RTN_BLACKHOLE, unix.RTN_UNREACHABLE, unix.RTN_PROHIBIT, unix.RTN_THROW:
					if table == unix.RT_TABLE_MAIN {
						h.Routes = append(h.Routes, Route{Dst: dst.Masked(), Type: routeTypes[r.Type]})
					}
				}
			}
		}
		rules, err := netlink.RuleList(netlink.FAMILY_ALL)
		if err != nil {
			return fmt.Errorf("list routing rules: %w", err)
		}
		for _, r := range rules {
			if !defaultRule(r) {
				h.PolicyRules = append(h.PolicyRules, r.String())
			}
		}
		h.Forwarding4 = sysctlOn("/proc/sys/net/ipv4/ip_forward")
		h.Forwarding6 = sysctlOn("/proc/sys/net/ipv6/conf/all/forwarding")
		for _, ifc := range append([]Interface{{Name: "all"}}, h.Interfaces...) {
			name := ifc.Name
			if sysctlOn("/proc/sys/net/ipv4/conf/" + name + "/route_localnet") {
				h.RouteLocalnet = append(h.RouteLocalnet, name)
			}
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	return h, nil
}

func prefixOf(n *net.IPNet) (netip.Prefix, bool) {
	if n == nil {
		return netip.Prefix{}, false
	}
	a, ok := netip.AddrFromSlice(n.IP)
	if !ok {
		return netip.Prefix{}, false
	}
	ones, _ := n.Mask.Size()
	a = a.Unmap()
	if a.Is4() && ones > 32 {
		ones -= 96
	}
	return netip.PrefixFrom(a, ones), true
}

func sysctlOn(path string) bool {
	b, err := os.ReadFile(path)
	return err == nil && strings.TrimSpace(string(b)) == "1"
}

// SourceFor is the source address the namespace at netnsPath ("" = this
// one) would use to reach dst, from its routing table (ip route get).
func SourceFor(netnsPath string, dst netip.Addr) (netip.Addr, error) {
	var src netip.Addr
	err := netns.Do(netnsPath, func() error {
		routes, err := netlink.RouteGet(dst.AsSlice())
		if err != nil {
			return fmt.Errorf("route to %s: %w", dst, err)
		}
		for _, r := range routes {
			if a, ok := netip.AddrFromSlice(r.Src); ok && a.IsValid() {
				src = a.Unmap()
				return nil
			}
		}
		return fmt.Errorf("route to %s has no source address", dst)
	})
	return src, err
}

var routeTypes = map[int]string{
	unix.RTN_BLACKHOLE: "blackhole", unix.RTN_UNREACHABLE: "unreachable",
	unix.RTN_PROHIBIT: "prohibit", unix.RTN_THROW: "throw",
}

// defaultRule reports whether a routing rule is one the kernel starts
// with: lookup local at 0, main at 32766, default at 32767, for all.
func defaultRule(r netlink.Rule) bool {
	if r.Src != nil || r.Dst != nil || r.Mark != 0 || r.Mask != nil || r.IifName != "" || r.OifName != "" ||
		r.Invert || r.Goto > 0 || r.SuppressPrefixlen > 0 || r.SuppressIfgroup > 0 || r.Tos != 0 {
		return false
	}
	switch {
	case r.Priority == 0 && r.Table == unix.RT_TABLE_LOCAL,
		r.Priority == 32766 && r.Table == unix.RT_TABLE_MAIN,
		r.Priority == 32767 && r.Table == unix.RT_TABLE_DEFAULT:
		return true
	}
	return false
}

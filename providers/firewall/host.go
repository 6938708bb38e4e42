package firewall

import (
	"fmt"
	"net/netip"
	"slices"
	"strings"

	"github.com/portcheck/portcheck/internal/addrrange"
)

// hostIndex answers the routing questions evaluation asks: is an address
// the host's own, which interface leads to it, what type it is.
type hostIndex struct {
	local  map[netip.Addr]string // own address -> interface
	ifaces map[string][]netip.Prefix
	routes []Route // non-local, longest prefix first
	localR []Route // table local ranges (127.0.0.0/8 …)
	fwd4   bool
	fwd6   bool
	// localnet: interfaces with route_localnet on ("all" turns it on for
	// every interface, as the kernel ORs the two).
	localnet    map[string]bool
	policyRules []string
}

func newHostIndex(h *Host) hostIndex {
	hi := hostIndex{local: map[netip.Addr]string{}, ifaces: map[string][]netip.Prefix{}, fwd4: h.Forwarding4, fwd6: h.Forwarding6, localnet: map[string]bool{},
		policyRules: h.PolicyRules}
	for _, name := range h.RouteLocalnet {
		hi.localnet[name] = true
	}
	for _, ifc := range h.Interfaces {
		for _, p := range ifc.Addrs {
			hi.local[p.Addr().Unmap()] = ifc.Name
			hi.ifaces[ifc.Name] = append(hi.ifaces[ifc.Name], p)
		}
	}
	for _, r := range h.Routes {
		if r.Local {
			hi.localR = append(hi.localR, r)
		} else {
			hi.routes = append(hi.routes, r)
		}
	}
	slices.SortStableFunc(hi.routes, func(a, b Route) int { return b.Dst.Bits() - a.Dst.Bits() })
	return hi
}

func (hi hostIndex) isLocal(a netip.Addr) bool {
	if _, ok := hi.local[a]; ok || a.IsLoopback() {
		return true
	}
	for _, r := range hi.localR {
		if r.Dst.Contains(a) {
			return true
		}
	}
	return false
}

// egress is the interface of the most specific route to a ("" = none,
// or a route that leads nowhere: blackhole, unreachable, prohibit).
func (hi hostIndex) egress(a netip.Addr) string {
	if hi.isLocal(a) {
		return "lo"
	}
	if r, ok := hi.route(a); ok && r.Type == "" {
		return r.Dev
	}
	return ""
}

// route is the most specific non-local route to a.
func (hi hostIndex) route(a netip.Addr) (Route, bool) {
	for _, r := range hi.routes {
		if r.Dst.Contains(a) {
			return r, true
		}
	}
	return Route{}, false
}

// pktType is the link-layer type of a packet to st's destination, as the
// kernel's meta pkttype and -m pkttype see it: broadcast and multicast
// destinations arrive as such, everything else addressed to this host's
// link address ("host"; forwarded packets too).
func (hi hostIndex) pktType(st *packetState) string {
	switch t := hi.addrType(st.Dst); {
	case t == "multicast":
		return "multicast"
	case t == "broadcast" && !st.noIIF:
		return "broadcast"
	}
	return "host"
}

// reversePath answers a reverse-path check (nft fib saddr [. mark] [.
// iif] oif, iptables -m rpfilter): is there a route back to the source,
// through the interface the packet came in on unless loose? Packets that
// came over lo pass (nft_fib_is_loopback); a route to one of the host's
// own addresses or one that leads nowhere is no route (RTN_LOCAL and
// reject routes fail the lookup).
func (e *Evaluator) reversePath(st *packetState, vs *valueSet, hook string) (present bool, why string) {
	if st.noIIF || (hook != HookPrerouting && hook != HookInput && hook != HookForward) {
		return false, "a reverse-path check outside prerouting, input and forward is not modelled"
	}
	if len(e.host.policyRules) > 0 {
		return false, fmt.Sprintf("the host has routing policy rules (%s), so the route back to %s may not be the main table's",
			strings.Join(e.host.policyRules, "; "), st.Src)
	}
	if st.IIF == "lo" {
		return true, ""
	}
	if e.host.isLocal(st.Src) {
		return vs.hasName("local"), ""
	}
	r, ok := e.host.route(st.Src)
	if !ok || r.Type != "" {
		return false, ""
	}
	if vs.hasName("loose") {
		return true, ""
	}
	if st.IIF == "" {
		return false, fmt.Sprintf("no route back to %s, so the interface it arrives on is unknown", st.Src)
	}
	return r.Dev == st.IIF, ""
}

// ingress is where a packet from src arrives, assuming the symmetric
// routing that reverse-path filtering enforces: the interface of the route
// back to src, or lo for the host's own addresses.
func (hi hostIndex) ingress(src netip.Addr) string { return hi.egress(src) }

func (hi hostIndex) routeLocalnet(ifname string) bool {
	return hi.localnet["all"] || hi.localnet[ifname]
}

func (hi hostIndex) forwarding(v6 bool) bool {
	if v6 {
		return hi.fwd6
	}
	return hi.fwd4
}

// primary is the first address of the family on an interface (REDIRECT's
// new destination).
func (hi hostIndex) primary(ifname string, v6 bool) netip.Addr {
	if ifname == "lo" {
		if v6 {
			return netip.IPv6Loopback()
		}
		return netip.AddrFrom4([4]byte{127, 0, 0, 1})
	}
	for _, p := range hi.ifaces[ifname] {
		if p.Addr().Is6() == v6 {
			return p.Addr()
		}
	}
	return netip.Addr{}
}

// addrType classifies an address as the kernel's addrtype match and nft's
// fib ... type do: local, broadcast, multicast or unicast.
func (hi hostIndex) addrType(a netip.Addr) string {
	switch {
	case hi.isLocal(a):
		return "local"
	case a.IsMulticast():
		return "multicast"
	case a == netip.AddrFrom4([4]byte{255, 255, 255, 255}):
		return "broadcast"
	}
	for _, ps := range hi.ifaces {
		for _, p := range ps {
			if p.Addr().Is4() && p.Bits() < 31 && addrrange.Last(p) == a {
				return "broadcast"
			}
		}
	}
	return "unicast"
}

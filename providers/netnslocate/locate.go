// Package netnslocate finds the network namespace on this machine that
// holds an address, as seen from another namespace (the "host"): where a
// DNATed port's listener lives (a Docker container, a Kubernetes pod, a
// namespace made with `ip netns`). It only reads.
//
// Many namespaces may hold the same address (every isolated lab or pod
// network can use 10.0.0.2), so the address alone does not decide: the
// host's route to the address names an interface, and a namespace counts
// only when a veth whose peer sits in it is that interface or is enslaved
// to it (a bridge such as docker0 or cni0). A namespace that holds the
// address but is not tied to the route is never taken for it (that would
// be a guess: the address may well be a remote backend's).
package netnslocate

import (
	"errors"
	"fmt"
	"net/netip"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"syscall"

	"github.com/vishvananda/netlink"

	"github.com/portcheck/portcheck/internal/netns"
)

// Location is where an address was found.
type Location struct {
	// Netns is the namespace's path (/run/netns/NAME,
	// /var/run/docker/netns/ID or /proc/PID/ns/net).
	Netns string `json:"netns"`
	// Via says how it was tied to the host: "veth vethab12 on bridge
	// docker0".
	Via string `json:"via"`
}

// ErrNotFound is returned when no namespace on this machine can be tied
// to the address (a pod on another node, a remote backend).
var ErrNotFound = errors.New("no network namespace on this machine holds the address")

// Dirs are where named namespaces are kept: iproute2's and Docker's.
var Dirs = []string{"/run/netns", "/var/run/docker/netns"}

// maxCandidates bounds how many namespaces are opened, on machines with
// tens of thousands of processes.
const maxCandidates = 4096

// Locate finds the namespace holding addr as routed from the namespace at
// hostNetns ("" = this process's).
func Locate(hostNetns string, addr netip.Addr) (Location, error) {
	addr = addr.Unmap()
	type veth struct {
		name   string
		bridge string
		nsid   int
	}
	var veths []veth
	nsidOf := map[string]int{} // candidate path -> nsid in the host's namespace
	hostID, err := nsIdentity(hostNetns)
	if err != nil {
		return Location{}, err
	}
	cands := candidates(hostID)
	err = netns.Do(hostNetns, func() error {
		routes, err := netlink.RouteGet(addr.AsSlice())
		if err != nil || len(routes) == 0 {
			return nil // no route: only the sole-holder rule can help
		}
		oif, err := netlink.LinkByIndex(routes[0].LinkIndex)
		if err != nil {
			return nil
		}
		links, err := netlink.LinkList()
		if err != nil {
			return fmt.Errorf("list links: %w", err)
		}
		for _, l := range links {
			a := l.Attrs()
			if l.Type() != "veth" || a.NetNsID < 0 {
				continue
			}
			switch {
			case a.Index == oif.Attrs().Index:
				veths = append(veths, veth{name: a.Name, nsid: a.NetNsID})
			case a.MasterIndex == oif.Attrs().Index:
				veths = append(veths, veth{name: a.Name, bridge: oif.Attrs().Name, nsid: a.NetNsID})
			}
		}
		if len(veths) == 0 {
			return nil
		}
		for _, c := range cands {
			f, err := os.Open(c)
			if err != nil {
				continue
			}
			if id, err := netlink.GetNetNsIdByFd(int(f.Fd())); err == nil && id >= 0 {
				nsidOf[c] = id
			}
			f.Close()
		}
		return nil
	})
	if err != nil {
		return Location{}, err
	}
	// A namespace behind the route's interface that holds the address.
	for _, v := range veths {
		for _, c := range cands {
			if id, ok := nsidOf[c]; !ok || id != v.nsid {
				continue
			}
			if holds(c, addr) {
				via := "veth " + v.name
				if v.bridge != "" {
					via += " on bridge " + v.bridge
				}
				return Location{Netns: c, Via: via}, nil
			}
		}
	}
	holders := 0
	for _, c := range cands {
		if holds(c, addr) {
			holders++
		}
	}
	if holders == 0 {
		return Location{}, ErrNotFound
	}
	return Location{}, fmt.Errorf("%d network namespace(s) on this machine hold %s, but none is behind the host's route to it (a veth on that interface or its bridge), so none is taken for it", holders, addr)
}

// identity is a namespace's device and inode: two paths name the same
// namespace when they are equal.
type identity struct{ dev, ino uint64 }

func nsIdentity(path string) (identity, error) {
	if path == "" {
		path = "/proc/self/ns/net"
	}
	var st syscall.Stat_t
	if err := syscall.Stat(path, &st); err != nil {
		return identity{}, fmt.Errorf("network namespace %s: %w", path, err)
	}
	return identity{uint64(st.Dev), st.Ino}, nil
}

// candidates lists every other namespace reachable by path, each once:
// the named ones first (their names read better in a report), then those
// of running processes.
func candidates(host identity) []string {
	seen := map[identity]bool{host: true}
	var out []string
	add := func(p string) {
		id, err := nsIdentity(p)
		if err != nil || seen[id] || len(out) >= maxCandidates {
			return
		}
		seen[id] = true
		out = append(out, p)
	}
	for _, d := range Dirs {
		ents, _ := os.ReadDir(d)
		for _, e := range ents {
			add(filepath.Join(d, e.Name()))
		}
	}
	ents, _ := os.ReadDir("/proc")
	var pids []int
	for _, e := range ents {
		if pid, err := strconv.Atoi(e.Name()); err == nil {
			pids = append(pids, pid)
		}
	}
	slices.Sort(pids)
	for _, pid := range pids {
		add(fmt.Sprintf("/proc/%d/ns/net", pid))
	}
	return out
}

// holds reports whether the namespace at path has addr on an interface.
func holds(path string, addr netip.Addr) bool {
	found := false
	netns.Do(path, func() error {
		fam := netlink.FAMILY_V4
		if addr.Is6() {
			fam = netlink.FAMILY_V6
		}
		as, err := netlink.AddrList(nil, fam)
		if err != nil {
			return err
		}
		for _, a := range as {
			if ip, ok := netip.AddrFromSlice(a.IP); ok && ip.Unmap() == addr {
				found = true
				return nil
			}
		}
		return nil
	})
	return found
}

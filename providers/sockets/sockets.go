// Package sockets observes layer 1: which TCP sockets listen and which UDP
// sockets are bound, on which address, with which options, and which
// processes own them.
//
// The table comes from the kernel through netlink sock_diag, the interface
// `ss` uses, read from inside the network namespace being observed. Owners
// come from one scan of /proc/*/fd. The result is plain data: Serves and
// LoopbackOnly evaluate it without touching the host.
package sockets

import (
	"cmp"
	"context"
	"net/netip"
	"slices"
	"strings"

	"github.com/portcheck/portcheck/providers"
)

// Process is a process holding a socket open.
type Process struct {
	PID     int    `json:"pid"`
	Name    string `json:"name"` // /proc/PID/comm
	Cmdline string `json:"cmdline,omitempty"`
	// SELinuxContext is the process's security context
	// ("system_u:system_r:httpd_t:s0") when SELinux is enabled: L3 takes
	// the domain from it, also when the facts are judged elsewhere.
	SELinuxContext string `json:"selinux_context,omitempty"`
}

// Socket is one listening TCP socket or one unconnected UDP socket.
type Socket struct {
	Protocol  string     `json:"protocol"` // "tcp" or "udp"
	Family    string     `json:"family"`   // "inet" or "inet6"
	Address   netip.Addr `json:"address"`  // bind address; v4-mapped IPv6 kept as is
	Port      int        `json:"port"`
	State     string     `json:"state"`            // "LISTEN" (tcp) or "UNCONN" (udp)
	V6Only    bool       `json:"v6only,omitempty"` // inet6 only: IPV6_V6ONLY as the kernel reports it
	Interface string     `json:"interface,omitempty"`
	Inode     uint64     `json:"inode"`
	UID       uint32     `json:"uid"`
	// Processes are the owners found in /proc; several when the socket is
	// shared (inherited across fork, passed over a unix socket). Empty when
	// the owner's fds could not be read (see Table.Warnings) or the socket
	// is held only by the kernel.
	Processes []Process `json:"processes,omitempty"`
}

// Table is the socket table of one network namespace.
type Table struct {
	Exec     providers.Exec `json:"exec"`
	Sockets  []Socket       `json:"sockets"` // listening TCP and unconnected UDP, both families
	Warnings []string       `json:"warnings,omitempty"`
}

// Snapshot reads the listening TCP and unconnected UDP sockets of the
// namespace exec runs in, with their owning processes.
func Snapshot(ctx context.Context, exec providers.Exec) (*Table, error) {
	msgs, ifnames, warnings, err := dumpSockets(ctx, exec.Netns)
	if err != nil {
		return nil, err
	}
	t := &Table{Exec: exec, Sockets: make([]Socket, 0, len(msgs)), Warnings: warnings}
	want := make(map[uint64]bool, len(msgs))
	for _, m := range msgs {
		s := m.socket()
		if m.IfIndex != 0 {
			s.Interface = ifnames[m.IfIndex]
		}
		t.Sockets = append(t.Sockets, s)
		want[s.Inode] = true
	}
	owners, procWarnings := scanProcesses(ctx, procRoot, want)
	t.Warnings = append(t.Warnings, procWarnings...)
	for i := range t.Sockets {
		t.Sockets[i].Processes = owners[t.Sockets[i].Inode]
	}
	// A stable order makes reports and JSON snapshots diffable.
	slices.SortFunc(t.Sockets, func(a, b Socket) int {
		return cmp.Or(
			cmp.Compare(a.Protocol, b.Protocol),
			cmp.Compare(a.Port, b.Port),
			cmp.Compare(a.Family, b.Family),
			a.Address.Compare(b.Address),
			cmp.Compare(a.Inode, b.Inode),
		)
	})
	return t, nil
}

// Listening returns the sockets bound to exactly this protocol and port.
// Ports are compared as integers, so 808 never matches 8080.
func (t *Table) Listening(protocol string, port int) []Socket {
	protocol = strings.ToLower(protocol)
	var out []Socket
	for _, s := range t.Sockets {
		if s.Protocol == protocol && s.Port == port {
			out = append(out, s)
		}
	}
	return out
}

// Serves reports whether a connection arriving at dst, an address of this
// host, would be delivered to s, following the kernel's socket lookup:
//
//   - a specific address serves only itself (127.0.0.1 does not serve
//     127.0.0.2, and ::1 serves only ::1);
//   - 0.0.0.0 serves every IPv4 destination;
//   - :: serves every IPv6 destination, and every IPv4 one as well unless
//     IPV6_V6ONLY is set (a dual-stack socket sees IPv4 peers as ::ffff:a.b.c.d);
//   - ::ffff:a.b.c.d serves IPv4 a.b.c.d only, ::ffff:0.0.0.0 every IPv4.
//
// A socket bound to a device (SO_BINDTODEVICE) only gets packets arriving
// on it. Loopback destinations always arrive on "lo", so a socket bound to
// "lo" serves only those and one bound elsewhere serves none of them; for
// other destinations the ingress interface is not known here and the
// address decides. A dst given as ::ffff:a.b.c.d is treated as the IPv4
// address it stands for.
func (s Socket) Serves(dst netip.Addr) bool {
	if !s.Address.IsValid() || !dst.IsValid() {
		return false
	}
	// Zones name the interface of a link-local address; the socket table
	// carries no zone, so compare addresses only.
	d := dst.Unmap().WithZone("")
	if s.Interface != "" && d.IsLoopback() != (s.Interface == "lo") {
		return false
	}
	a := s.Address.WithZone("")
	switch {
	case a.Is4():
		return a.IsUnspecified() && d.Is4() || a == d
	case a.Is4In6():
		// Only IPv4 reaches an IPv6 socket bound to a mapped address.
		u := a.Unmap()
		return u.IsUnspecified() && d.Is4() || u == d
	case a.IsUnspecified():
		return d.Is6() || !s.V6Only
	default:
		return a == d
	}
}

// LoopbackOnly reports whether the socket can only be reached over
// loopback: bound to a loopback address (127.0.0.0/8, ::1, ::ffff:127.x) or
// to the loopback device.
func (s Socket) LoopbackOnly() bool {
	return s.Address.Unmap().IsLoopback() || s.Interface == "lo"
}

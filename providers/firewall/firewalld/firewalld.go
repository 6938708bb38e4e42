// Package firewalld reports firewalld's view of a host: the runtime state
// the daemon holds (read over D-Bus), the permanent configuration it would
// load at the next reload (read from its XML files), and the drift between
// the two. A port opened without --permanent works now and is gone after
// the next reload or reboot; Drift makes that visible.
//
// The kernel verdict is not computed here: firewalld compiles this
// configuration into the nftables ruleset, which the nftables backend reads.
// Opens answers the narrower question "does firewalld's configuration open
// this port, and through what", for fix hints that name a firewall-cmd
// change.
package firewalld

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"strings"
	"syscall"

	"github.com/godbus/dbus/v5"

	"github.com/portcheck/portcheck/providers/firewall"
)

// ErrNotRunning says no firewalld serves the namespace asked about: no
// system bus, no firewalld on it, or a firewalld for another namespace.
var ErrNotRunning = errors.New("firewalld is not running")

// Port is a port or port range ("8080", "8000-8100") with its protocol
// ("tcp", "udp", "sctp", "dccp").
type Port struct {
	Port     string `json:"port"`
	Protocol string `json:"protocol"`
}

func (p Port) String() string { return p.Port + "/" + p.Protocol }

// ForwardPort is a zone's forward-port: packets to Port/Protocol are
// DNATed to ToAddr:ToPort (empty ToAddr: this host; empty ToPort: same port).
type ForwardPort struct {
	Port     string `json:"port"`
	Protocol string `json:"protocol"`
	ToPort   string `json:"to_port,omitempty"`
	ToAddr   string `json:"to_addr,omitempty"`
}

// String is the form firewall-cmd --list-forward-ports prints.
func (f ForwardPort) String() string {
	return fmt.Sprintf("port=%s:proto=%s:toport=%s:toaddr=%s", f.Port, f.Protocol, f.ToPort, f.ToAddr)
}

// Zone is one firewalld zone, runtime or permanent.
type Zone struct {
	Name string `json:"name"`
	// Target as firewalld names it: "default", "ACCEPT", "DROP" or
	// "%%REJECT%%".
	Target      string   `json:"target"`
	Services    []string `json:"services,omitempty"`
	Ports       []Port   `json:"ports,omitempty"`
	Protocols   []string `json:"protocols,omitempty"`
	SourcePorts []Port   `json:"source_ports,omitempty"`
	// RichRules in firewalld's canonical text form (firewall-cmd
	// --list-rich-rules), also for rules read from XML.
	RichRules          []string      `json:"rich_rules,omitempty"`
	Masquerade         bool          `json:"masquerade,omitempty"`
	Forward            bool          `json:"forward,omitempty"` // intra-zone forwarding
	ForwardPorts       []ForwardPort `json:"forward_ports,omitempty"`
	ICMPBlocks         []string      `json:"icmp_blocks,omitempty"`
	ICMPBlockInversion bool          `json:"icmp_block_inversion,omitempty"`
	// Bindings: which packets the zone handles.
	Interfaces []string `json:"interfaces,omitempty"`
	Sources    []string `json:"sources,omitempty"` // address[/mask], MAC or "ipset:NAME"
}

// Service is a firewalld service definition.
type Service struct {
	Name        string   `json:"name"`
	Ports       []Port   `json:"ports,omitempty"`
	Protocols   []string `json:"protocols,omitempty"`
	SourcePorts []Port   `json:"source_ports,omitempty"`
	// Destination limits the service to one destination per family
	// ("ipv4", "ipv6"), e.g. mdns to its multicast group.
	Destination map[string]string `json:"destination,omitempty"`
	Includes    []string          `json:"includes,omitempty"`
}

// State is what Read found.
type State struct {
	Version string `json:"version"`
	// DaemonState is firewalld's state property: "RUNNING", "INIT" or
	// "FAILED" (its ruleset may then not be what the configuration says).
	DaemonState string `json:"state"`
	PID         int    `json:"pid"`
	DefaultZone string `json:"default_zone"`
	// PermanentDefaultZone is DefaultZone= of firewalld.conf.
	PermanentDefaultZone string `json:"permanent_default_zone"`
	// ConfigDirs are the permanent configuration directories as firewalld
	// names them, highest precedence first (--system-config, then
	// --default-config).
	ConfigDirs []string         `json:"config_dirs"`
	Runtime    map[string]*Zone `json:"runtime"`
	// Active are the runtime zones with an interface or source binding.
	Active    map[string]*Zone `json:"active"`
	Permanent map[string]*Zone `json:"permanent"`
	// Services and PermanentServices hold the definitions the runtime and
	// permanent zones use (with their includes).
	Services          map[string]*Service `json:"services"`
	PermanentServices map[string]*Service `json:"permanent_services"`
	Drift             []Drift             `json:"drift,omitempty"`
	// PermanentErrors are permanent files firewalld would fail to load too.
	PermanentErrors []string `json:"permanent_errors,omitempty"`
}

// Drift is one difference between runtime and permanent configuration
// (the model's type, which the runner sees through firewall.View).
type Drift = firewall.ConfigDrift

// Read asks the firewalld on the system bus (DBUS_SYSTEM_BUS_ADDRESS or
// the default socket) for its runtime state and reads the permanent
// configuration that same process uses. netnsPath is the network namespace
// the caller asks about ("" = this process's): a firewalld running in
// another namespace does not filter it, so that counts as not running.
func Read(ctx context.Context, netnsPath string) (*State, error) {
	conn, err := dbus.ConnectSystemBus(dbus.WithContext(ctx))
	if err != nil {
		// godbus reports a missing default socket only as text.
		if errors.Is(err, fs.ErrNotExist) || errors.Is(err, syscall.ECONNREFUSED) || strings.Contains(err.Error(), "system bus not found") {
			return nil, fmt.Errorf("%w: no system bus: %v", ErrNotRunning, err)
		}
		return nil, fmt.Errorf("connect to the system bus: %w", err)
	}
	defer conn.Close()

	pid, err := ownerPID(ctx, conn)
	if err != nil {
		return nil, err
	}
	if err := checkNetns(pid, netnsPath); err != nil {
		return nil, err
	}
	st := &State{PID: pid}
	if err := newClient(ctx, conn).readRuntime(st); err != nil {
		return nil, err
	}
	if err := readPermanentOf(pid, st); err != nil {
		return nil, err
	}
	st.Drift = Diff(st.Runtime, st.Permanent)
	if st.DefaultZone != st.PermanentDefaultZone {
		st.Drift = append(st.Drift,
			Drift{Kind: "default_zone", Item: st.DefaultZone, Runtime: true},
			Drift{Kind: "default_zone", Item: st.PermanentDefaultZone, Permanent: true})
	}
	return st, nil
}

// checkNetns fails unless process pid lives in the network namespace at
// path ("" = ours). Namespaces are the same iff their nsfs inodes are.
func checkNetns(pid int, path string) error {
	if path == "" {
		path = "/proc/self/ns/net"
	}
	want, err := nsID(path)
	if err != nil {
		return err
	}
	got, err := nsID(fmt.Sprintf("/proc/%d/ns/net", pid))
	if err != nil {
		return err
	}
	if got != want {
		return fmt.Errorf("%w: firewalld on the bus (pid %d) runs in another network namespace", ErrNotRunning, pid)
	}
	return nil
}

type fileID struct{ dev, ino uint64 }

func nsID(path string) (fileID, error) {
	fi, err := os.Stat(path)
	if err != nil {
		return fileID{}, fmt.Errorf("network namespace: %w", err)
	}
	st, ok := fi.Sys().(*syscall.Stat_t)
	if !ok {
		return fileID{}, fmt.Errorf("network namespace %s: no inode", path)
	}
	return fileID{uint64(st.Dev), st.Ino}, nil
}

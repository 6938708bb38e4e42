// Package providers holds the interface every observer implements and the
// registry the runner looks providers up in. A provider observes; it never
// decides pass or fail (that is the runner's job).
package providers

import (
	"fmt"
	"net/netip"
	"path/filepath"
	"strings"
)

// Layer is one of the seven layers of a port's reachability, numbered as in
// the README; checks run in ascending order.
type Layer int

const (
	LayerListening    Layer = 1
	LayerFirewall     Layer = 2
	LayerSELinux      Layer = 3
	LayerConnectivity Layer = 4
	LayerPath         Layer = 5
	LayerCloud        Layer = 6
	LayerApplication  Layer = 7
)

var layerNames = map[Layer]string{
	LayerListening:    "listening",
	LayerFirewall:     "firewall",
	LayerSELinux:      "selinux",
	LayerConnectivity: "connectivity",
	LayerPath:         "path",
	LayerCloud:        "cloud",
	LayerApplication:  "application",
}

func (l Layer) String() string {
	if n, ok := layerNames[l]; ok {
		return n
	}
	return fmt.Sprintf("layer%d", int(l))
}

// Exec says where an observation runs: on this machine (Netns == "") or
// inside a Linux network namespace given by its file path.
type Exec struct {
	// Host is the HCL name of the host the observation runs for ("" = the
	// machine portcheck runs on); display only.
	Host string `json:"host,omitempty"`
	// Netns is the path of a network namespace file such as
	// /run/netns/NAME or /proc/PID/ns/net; "" means this machine's namespace.
	Netns string `json:"netns,omitempty"`
	// Recorded is set when the host's facts are read from a facts document
	// (verify -facts) instead of observed: nothing runs there.
	Recorded bool `json:"recorded,omitempty"`
	// Remote is set when the host is reached over SSH: its facts are
	// collected there ("ssh:user@host:port"), and Netns is then a
	// namespace on that machine, never entered here.
	Remote string `json:"remote,omitempty"`
}

// NetnsPath turns a namespace given by name (as `ip netns` names it) or by
// path into a path.
func NetnsPath(nameOrPath string) string {
	if nameOrPath == "" || strings.ContainsRune(nameOrPath, '/') {
		return nameOrPath
	}
	return filepath.Join("/run/netns", nameOrPath)
}

// Kind is "local", "netns", "ssh" or "facts", as shown in plans.
func (e Exec) Kind() string {
	if e.Remote != "" {
		return "ssh"
	}
	if e.Recorded {
		return "facts"
	}
	if e.Netns == "" {
		return "local"
	}
	return "netns"
}

// String renders the executor for plans and reports: "local" or
// "netns:NAME" (the short name when the path is under /run/netns), or
// "ssh:user@host:port" (with " netns:NAME" for a namespace there).
func (e Exec) String() string {
	if e.Remote != "" {
		if e.Netns != "" {
			return e.Remote + " " + Exec{Netns: e.Netns}.String()
		}
		return e.Remote
	}
	if e.Recorded {
		return "facts"
	}
	if e.Netns == "" {
		return "local"
	}
	if dir, name := filepath.Split(e.Netns); filepath.Clean(dir) == "/run/netns" {
		return "netns:" + name
	}
	return "netns:" + e.Netns
}

// Protocol is a transport protocol of an endpoint.
type Protocol string

const (
	TCP Protocol = "tcp"
	UDP Protocol = "udp"
)

// Target is what is observed: one address and port of an endpoint. It is
// typed so no layer parses an address back from a string.
type Target struct {
	Address  netip.Addr `json:"address"`
	Port     int        `json:"port"`
	Protocol Protocol   `json:"protocol"`
}

// AddrPort is the target's address and port.
func (t Target) AddrPort() netip.AddrPort { return netip.AddrPortFrom(t.Address, uint16(t.Port)) }

// String is "10.0.0.5:8080" or "[fd00::5]:443".
func (t Target) String() string { return t.AddrPort().String() }

// Provider is what a plan knows of an observer: its name, its layer and
// whether it can run at an executor. Observing itself goes through each
// layer's typed observer (probe.Probe, app.HTTP, path.Trace, the facts
// source for the server-side layers…), so nothing crosses the seam as an
// untyped value.
type Provider interface {
	Name() string
	Layer() Layer
	// Available reports, without side effects, whether the provider can run
	// at exec; the error text is shown as the skip reason in plans.
	Available(exec Exec) error
}

package firewall

import (
	"context"
	"errors"
	"net/netip"
	"path/filepath"
	"strconv"
	"sync"
)

// View is a host's packet filter as the runner judges it: the evaluator
// of its rules, the tool that manages them and that tool's own view of a
// port, Docker's published ports, and the commands that change it. The
// runner sees every backend through it, so it needs no nftables,
// iptables, firewalld or Docker types; the backends' readers implement it
// (netfilter.Snapshot, which is also the serialisable facts of a host's
// filter).
type View interface {
	// Evaluator walks packets through the host's rules (compiled once).
	Evaluator() *Evaluator
	// ManagedBy names the tool that manages the rules (a Manager
	// constant): fix hints use it, and a declared backend is compared
	// with it.
	ManagedBy() string
	// ReadNotes say what could not be read and why (a missing tool, an
	// unreadable table); what was read still holds.
	ReadNotes() []string
	// ManagedPort is the managing tool's view of proto/port for the
	// packet of decision d from src (firewalld: the zone it falls in,
	// what opens the port now and after a reload, the zone's drift); nil
	// when the tool keeps no configuration of its own besides the rules.
	ManagedPort(d Decision, proto string, port int, src netip.Addr) *ManagedPort
	// PublishedFor is the port Docker publishes that d's DNAT came from.
	PublishedFor(d Decision) (Published, bool)
	Fixes
}

// Fixes are the commands that change a host's filter, in the tool that
// manages it and at the place that decides, runnable as printed in the
// host's network namespace (netnsPath, "" = this machine's). ok is false
// when there is nothing to change there.
type Fixes interface {
	// RuleCommand makes the host accept (action Accept) or drop (Drop)
	// the first packet of p's connection from sel's sources; ok is false
	// when the packet already gets that verdict or routing decides.
	RuleCommand(p Packet, sel Selector, action, netnsPath string) (Fix, bool)
	// AcceptFix lets in the packet of d, a drop or reject.
	AcceptFix(d Decision, sel Selector, netnsPath string) (Fix, bool)
	// DropFix stops the packet of d, accepted.
	DropFix(d Decision, sel Selector, netnsPath string) (Fix, bool)
	// ReplyFix lets out the replies that d's reply stands for, where it
	// is stopped; port is the service's port as the reply leaves it.
	ReplyFix(d Decision, proto string, port int, netnsPath string) (Fix, bool)
	// NarrowFix is the managing tool's own way to stop admitting sel's
	// sources where its configuration accepts d (firewalld: a zone's open
	// port); ok is false when the accepting rule is an ordinary one, to be
	// narrowed or preceded by DropFix.
	NarrowFix(d Decision, sel Selector, netnsPath string) (Fix, bool)
	// PersistFix keeps what opens a port now (mp.Runtime) after a reload
	// or reboot.
	PersistFix(mp *ManagedPort, sel Selector, netnsPath string) (Fix, bool)
	// ApplyFix makes the configuration that survives a reload the running
	// one (firewall-cmd --reload).
	ApplyFix(netnsPath string) (Fix, bool)
	// ShowCommand lists the chain that holds ref, with rule numbers or
	// handles, for checking a rule by hand.
	ShowCommand(ref *RuleRef, netnsPath string) string
}

// Manager names the tool that manages a host's rules, as fix hints use it.
const (
	ManagerFirewalld      = "firewalld"
	ManagerNftables       = "nftables"
	ManagerIptablesNft    = "iptables-nft"
	ManagerIptablesLegacy = "iptables-legacy"
	ManagerNone           = "none"
)

// Fix is a change to a host's packet filter: a shell command to run as
// printed (in the host's network namespace when it has one) and a note
// for the reader (why there, how to keep it).
type Fix struct {
	Command string `json:"command"`
	Note    string `json:"note,omitempty"`
}

// String is the command with its note, as a hint shows it.
func (f Fix) String() string {
	if f.Note == "" {
		return f.Command
	}
	return f.Command + " (" + f.Note + ")"
}

// Selector is the traffic a fix covers: a protocol ("tcp", "udp") and
// destination port, from Sources (any source when invalid). Src is the
// judged packet's source, which picks firewalld's zone.
type Selector struct {
	Proto   string
	Port    int
	Sources netip.Prefix
	Src     netip.Addr
}

// CommandIn makes a command run in the network namespace at netnsPath (""
// = this machine's): `ip netns exec NAME …` for a namespace ip netns
// knows (/run/netns/NAME), `nsenter --net=PATH …` for any other.
func CommandIn(netnsPath, command string) string {
	switch {
	case netnsPath == "":
		return command
	case filepath.Dir(netnsPath) == "/run/netns":
		return "ip netns exec " + filepath.Base(netnsPath) + " " + command
	}
	return "nsenter --net=" + netnsPath + " " + command
}

// ManagedPort is what the tool that manages a host's rules says about
// one port for one packet, besides the rules: for firewalld, the zone the
// packet falls in, what opens the port there in the runtime and in the
// permanent configuration ("" = nothing), and the zone's differences
// between the two.
type ManagedPort struct {
	// Tool is the managing tool ("firewalld"), for the words around it;
	// not part of the JSON, whose key names the tool.
	Tool      string        `json:"-"`
	Zone      string        `json:"zone"`
	Runtime   string        `json:"runtime,omitempty"`
	Permanent string        `json:"permanent,omitempty"`
	Drift     []ConfigDrift `json:"drift,omitempty"`
}

// Where names the tool and the place of its configuration that speaks
// for the port: "firewalld zone public".
func (mp *ManagedPort) Where() string {
	if mp.Zone == "" {
		return mp.Tool
	}
	return mp.Tool + " zone " + mp.Zone
}

// ConfigDrift is one difference between a managing tool's runtime and
// permanent configuration: Item is present (or, for flags, set) in
// Runtime and/or Permanent.
type ConfigDrift struct {
	Zone string `json:"zone"`
	// Kind: "zone", "target", "service", "port", "protocol", "source_port",
	// "rich_rule", "masquerade", "forward", "forward_port", "icmp_block",
	// "icmp_block_inversion", "interface", "source", "default_zone".
	Kind      string `json:"kind"`
	Item      string `json:"item"`
	Runtime   bool   `json:"runtime"`
	Permanent bool   `json:"permanent"`
}

// Published is one port Docker publishes on the host: a DNAT in nat
// PREROUTING (chain DOCKER) to a container, decided in filter FORWARD.
type Published struct {
	Proto uint8 `json:"proto"`
	// HostAddr is the host address it is bound to (invalid = every address).
	HostAddr      netip.Addr `json:"host_addr,omitzero"`
	HostPort      uint16     `json:"host_port"`
	ContainerAddr netip.Addr `json:"container_addr"`
	ContainerPort uint16     `json:"container_port"`
	Rule          RuleRef    `json:"rule"`
}

// String is "0.0.0.0:8080 -> 172.17.0.2:80/tcp".
func (p Published) String() string {
	host := "0.0.0.0"
	if p.HostAddr.IsValid() {
		host = p.HostAddr.String()
	}
	proto := "tcp"
	if p.Proto == ProtoUDP {
		proto = "udp"
	}
	return host + ":" + strconv.Itoa(int(p.HostPort)) + " -> " + netip.AddrPortFrom(p.ContainerAddr, p.ContainerPort).String() + "/" + proto
}

// Where says where a published port's packets are decided, for a summary.
func (p Published) Where() string {
	return "Docker publishes " + p.String() + "; decided in FORWARD, not INPUT"
}

// Advice is what can be said about the filter of a host that was not read
// (a remote host, an unreadable namespace): the commands of the tools such
// a host may use, in their own syntax, with the placeholders the reader
// fills in. It comes from the registered reader (UnreadAdvice).
type Advice interface {
	// OpenCommand lets proto/port in.
	OpenCommand(proto string, port int) string
	// CloseCommand stops proto/port.
	CloseCommand(proto string, port int) string
	// ZoneOpenCommand lets proto/port in where a firewall answers with
	// admin-prohibited (firewalld's REJECT, RHEL's classic rules).
	ZoneOpenCommand(proto string, port int) string
	// ListCommands show a host's rules, to find one by hand.
	ListCommands() string
}

// neutralAdvice is the advice without a reader: no tool's syntax.
type neutralAdvice struct{}

func (neutralAdvice) OpenCommand(proto string, port int) string {
	return "accept " + proto + " port " + strconv.Itoa(port) + " in the server's packet filter"
}

func (neutralAdvice) CloseCommand(proto string, port int) string {
	return "drop " + proto + " port " + strconv.Itoa(port) + " in the server's packet filter"
}

func (a neutralAdvice) ZoneOpenCommand(proto string, port int) string {
	return a.OpenCommand(proto, port)
}

func (neutralAdvice) ListCommands() string { return "list the server's packet filter rules" }

// ReadFunc reads the packet filter of the network namespace at netnsPath
// ("" = this machine's) into a View. It only reads.
type ReadFunc func(ctx context.Context, netnsPath string) (View, error)

var (
	readerMu   sync.RWMutex
	readerName string
	reader     ReadFunc
	advice     Advice = neutralAdvice{}
)

// RegisterReader makes read the way this binary reads a host's packet
// filter, and adv what it says of a host it could not read (netfilter
// registers itself; a binary links it through providers/all). A host has
// one packet filter, so like database/sql.Register it panics on nil or on
// a second reader.
func RegisterReader(name string, read ReadFunc, adv Advice) {
	readerMu.Lock()
	defer readerMu.Unlock()
	if read == nil || adv == nil {
		panic("firewall: RegisterReader of a nil reader or advice")
	}
	if reader != nil {
		panic("firewall: RegisterReader called twice (" + readerName + ", " + name + ")")
	}
	readerName, reader, advice = name, read, adv
}

// UnreadAdvice is what the registered reader says about the filter of a
// host it did not read (tool-neutral words without a reader).
func UnreadAdvice() Advice {
	readerMu.RLock()
	defer readerMu.RUnlock()
	return advice
}

// ErrNoReader is Read's error when no reader is linked into the binary.
var ErrNoReader = errors.New("no packet-filter reader is built into this binary")

// Read reads the packet filter of the namespace at netnsPath with the
// registered reader.
func Read(ctx context.Context, netnsPath string) (View, error) {
	readerMu.RLock()
	read := reader
	readerMu.RUnlock()
	if read == nil {
		return nil, ErrNoReader
	}
	return read(ctx, netnsPath)
}

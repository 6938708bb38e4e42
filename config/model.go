// Package config declares: it loads HCL into the model below. It never
// touches the host (no sockets, no namespaces, no commands).
package config

import (
	"net/netip"
	"regexp"
	"time"

	"github.com/hashicorp/hcl/v2"
	"github.com/zclconf/go-cty/cty"
)

// Config is everything a directory (or one file) of HCL declares.
type Config struct {
	// Files are the parser's files by filename, so diagnostics and reports
	// can print source lines. A file refused before parsing (not text,
	// nested too deep) is there with its Bytes and no Body.
	Files     map[string]*hcl.File
	Variables []*Variable
	Hosts     []*Host
	Endpoints []*Endpoint
	// Providers are the cloud provider blocks, one per cloud.
	Providers []*CloudProvider
	// SecurityGroups are the declared cloud security groups.
	SecurityGroups []*SecurityGroup
	// Changes are the declared port changes (change blocks), with their
	// attestations.
	Changes []*Change
}

// Variable is a `variable "name" {}` block with its resolved value.
type Variable struct {
	Name        string
	Description string
	Type        cty.Type  // cty.DynamicPseudoType when no type is given
	Default     cty.Value // cty.NilVal when no default is given
	Value       cty.Value // the value in force after -var, -var-file, env
	DeclRange   hcl.Range
}

// Host is a `host "name" {}` block: a machine (or network namespace) with
// its addresses and where its local checks (L1 listening) run.
type Host struct {
	Name      string
	Addresses []netip.Addr
	// Netns is the path of the network namespace its local checks run in
	// (`netns = "srv"` becomes /run/netns/srv; a path such as
	// /proc/PID/ns/net is kept); "" = not in a namespace.
	Netns string
	// Local is the explicit `local = true|false`; nil means not set, and the
	// runner decides from the addresses (an address on this machine = local).
	Local *bool
	// Connection is how the host is reached over SSH (its `connection`
	// block); nil = this machine or one of its namespaces.
	Connection *Connection
	DeclRange  hcl.Range
}

// PortRange is an inclusive range; a single port has From == To.
type PortRange struct {
	From, To int
}

// Endpoint is an `endpoint "name" {}` block.
type Endpoint struct {
	Name string
	Host *Host
	// Address is the host address to probe; invalid (zero) = every address
	// of the host.
	Address netip.Addr
	// Ports are the endpoint's ports: one, a range or a list, as sorted
	// ranges (never one value per port).
	Ports PortSet
	// MaxPorts is the declared max_ports (0 = not set): an endpoint of more
	// than 1,024 ports needs it.
	MaxPorts int
	Protocol string // "tcp" or "udp"
	// From are the vantage hosts it is probed from; empty = the machine
	// portcheck runs on.
	From []*Host
	// State is "open" (must be reachable, the default) or "closed" (must not be).
	State   string
	Timeout time.Duration // per probe attempt; default 2s
	Retries int           // extra attempts after a timeout; default 1
	Expect  Expectations
	// Ranges of attributes, for results that cite where something was declared.
	PortsRange hcl.Range
	StateRange hcl.Range
	DeclRange  hcl.Range
}

// Expectations are the `expect { <layer> { … } }` blocks of an endpoint;
// nil means not declared (the runner applies defaults).
type Expectations struct {
	Listening    *ExpectListening
	Firewall     *ExpectFirewall
	Cloud        *ExpectCloud
	Path         *ExpectPath
	SELinux      *ExpectSELinux
	Connectivity *ExpectConnectivity
	HTTP         *ExpectHTTP
	TLS          *ExpectTLS
	GRPC         *ExpectGRPC
	Banner       *ExpectBanner
}

// ExpectListening refines L1.
type ExpectListening struct {
	// Process, when set, must equal the owning process name (/proc/PID/comm).
	Process string
	// Addresses, when set, are the bind addresses the socket must use
	// (0.0.0.0 and :: included literally).
	Addresses []netip.Addr
	DeclRange hcl.Range
}

// ExpectConnectivity refines L4.
type ExpectConnectivity struct {
	Timeout time.Duration // overrides the endpoint's
	Retries *int
	// Payload is sent for UDP probes (default: a single zero byte).
	Payload   []byte
	DeclRange hcl.Range
}

// ExpectHTTP is an L7 HTTP(S) check.
type ExpectHTTP struct {
	Scheme     string // "http" (default) or "https"
	Method     string // default GET
	Path       string // default "/"
	HostHeader string
	Headers    map[string]string // request headers
	Status     []int             // accepted statuses; default [200]
	BodyRegexp *regexp.Regexp
	// ResponseHeaders: header name -> regexp its value must match.
	ResponseHeaders map[string]*regexp.Regexp
	ServerName      string // SNI for https; default: the host address
	CAFile          string
	Insecure        bool // skip verification for https (reported)
	ClientCert      ClientCert
	// Timeout bounds the whole exchange: the block's timeout, else the
	// endpoint's declared timeout, else DefaultAppTimeout.
	Timeout   time.Duration
	DeclRange hcl.Range
}

// ClientCert is a client certificate and key (PEM file paths) offered to
// servers that ask for one (mTLS); zero = none. The key is only ever read
// by the TLS handshake, never printed.
type ClientCert struct {
	CertFile string
	KeyFile  string
}

// ExpectTLS is an L7 TLS handshake check.
type ExpectTLS struct {
	ServerName   string // SNI and the name the certificate must cover
	CAFile       string // PEM bundle; "" = system roots
	MinDaysValid int    // fail when the leaf expires sooner; default 14
	// MinVersion: the server must refuse every version below it
	// (tls.VersionTLS12 etc.; 0 = no minimum).
	MinVersion uint16
	ClientCert ClientCert
	Timeout    time.Duration // see ExpectHTTP.Timeout
	DeclRange  hcl.Range
}

// ExpectGRPC is an L7 grpc.health.v1 check.
type ExpectGRPC struct {
	Service    string // "" = the server's overall health
	TLS        bool
	ServerName string
	CAFile     string
	ClientCert ClientCert
	Timeout    time.Duration // see ExpectHTTP.Timeout
	DeclRange  hcl.Range
}

// ExpectBanner is an L7 raw TCP check: optionally send, then read and match.
type ExpectBanner struct {
	// Send is the bytes written first, from send (a string) or send_hex
	// (any bytes, e.g. a PostgreSQL SSLRequest).
	Send      string
	Match     *regexp.Regexp
	Timeout   time.Duration // see ExpectHTTP.Timeout
	DeclRange hcl.Range
}

// Firewall backends a firewall block may name.
var FirewallBackends = []string{"auto", "nftables", "iptables", "firewalld"}

// ExpectFirewall is the declared L2 state: which sources the host's packet
// filter must let through to the port and which it must stop.
type ExpectFirewall struct {
	// AllowFrom sources must be accepted; DenyFrom sources must be dropped
	// or rejected. Single addresses are stored as /32 or /128. Where the
	// lists overlap, the most specific prefix decides.
	AllowFrom []netip.Prefix
	DenyFrom  []netip.Prefix
	// Backend is the tool that manages the rules ("auto" detects it); fix
	// hints use it, and a different detected backend is reported.
	Backend string
	// Permanent asks that the runtime state equal the state that survives
	// a reload or reboot (firewalld's permanent configuration). Default true.
	Permanent  bool
	AllowRange hcl.Range
	DenyRange  hcl.Range
	DeclRange  hcl.Range
}

// Package selinux observes portcheck's layer 3: whether SELinux lets a
// service bind its port. The classic case is nginx moved to 9090 failing
// with "Permission denied" because SELinux enforces and 9090 is not an
// http_port_t port. The package only observes (mode, the port's type, the
// domain, whether the policy allows the bind, recent AVC denials); the
// runner decides pass or fail.
//
// # How port types are read
//
// Port types come from the semanage policy store, through libsemanage's
// Python bindings (python3-semanage, a dependency of semanage itself): a
// small embedded script (ports.py) lists semanage_port_list (policy and
// local entries merged) and semanage_port_list_local (the local
// modifications made with `semanage port -a/-m`) as JSON. This was chosen
// over the alternatives because:
//
//   - The store is what `semanage port -l` shows and what the next policy
//     rebuild installs, including local modifications, which the question
//     "did someone run semanage port -a?" needs (Local). The binary policy
//     read by `seinfo --portcon` has the local entries merged in and cannot
//     tell them apart.
//   - The bindings give numbers and types instead of a table to parse
//     (`semanage port -l` prints "80, 443, 8008-8009" lists in columns that
//     wrap), and start in ~0.1s instead of ~0.4s for semanage.
//   - libsemanage's semanage_set_root (what `semodule -p` uses) points the
//     lookup at another root ("<root>/etc/selinux/semanage.conf",
//     "<root>/var/lib/selinux/<type>"), so tests run against a copy of the
//     store; semanage itself has no such option (its -S picks a store name).
//
// The deciding entry follows the kernel: the narrowest range containing the
// port wins (libsepol sorts portcons by specificity and the kernel takes the
// first match); at equal ranges a local entry wins, which is what
// `semanage port -m` of a policy-defined port is for. When no portcon covers
// the port the kernel uses the initial SID "port" (port_t in refpolicy);
// PortType is then "" and a note says so. Debian's and Fedora's policies
// cover every port with reserved_port_t / hi_reserved_port_t /
// unreserved_port_t ranges, so in practice PortType is always set.
//
// # How name_bind is read
//
// `sesearch -A -s DOMAIN -t TYPE -c tcp_socket -p name_bind POLICY` (setools)
// against the installed binary policy <root>/etc/selinux/<type>/policy/
// policy.NN (the highest NN). sesearch expands attributes, so rules written
// for an attribute the domain has count, and it is a single, bounded command
// whose one-rule-per-line output is easy to read. Conditional rules (behind
// a boolean) count when the boolean's runtime value in selinuxfs says they
// apply; otherwise NameBind stays nil and a note names the boolean.
package selinux

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"
)

// Facts is what layer 3 observes for one port.
type Facts struct {
	Enabled     bool   `json:"enabled"`               // selinuxfs mounted (runtime)
	RuntimeMode string `json:"runtime_mode"`          // "enforcing" | "permissive" | "disabled"
	ConfigMode  string `json:"config_mode,omitempty"` // SELINUX= of the config ("" when absent)
	PolicyType  string `json:"policy_type,omitempty"` // SELINUXTYPE=
	// PortType is the port's type, e.g. "http_port_t"; "" when no portcon
	// covers the port (the kernel then uses the initial SID port_t).
	PortType  string `json:"port_type,omitempty"`
	PortRange string `json:"port_range,omitempty"` // range of the deciding portcon, "8080-8080"
	Local     bool   `json:"local,omitempty"`      // the deciding entry is a local modification
	// OtherTypes are the other types defining exactly this port (for
	// example websm_port_t after `semanage port -m -t http_port_t 9090`).
	OtherTypes []string `json:"other_types,omitempty"`
	Domain     string   `json:"domain,omitempty"` // process domain, e.g. httpd_t
	// NameBind says whether the policy allows Domain name_bind on PortType
	// for the protocol's socket class; nil = not checked.
	NameBind *bool     `json:"name_bind,omitempty"`
	Denials  []Denial  `json:"denials,omitempty"` // recent AVC denials naming the port
	Notes    []string  `json:"notes,omitempty"`   // what could not be read and why
	Entries  []PortCon `json:"-"`                 // every store entry covering the port (debug)
}

// Denial is one AVC denial from the audit log.
type Denial struct {
	Time       string `json:"time"` // RFC 3339, UTC
	Permission string `json:"permission"`
	Domain     string `json:"domain"`
	TargetType string `json:"target_type"`
	Class      string `json:"class"`
	Port       int    `json:"port"`
	Line       string `json:"line"`
}

// Params are the provider-specific parameters of an observation.
type Params struct {
	// Root is the filesystem root ("" = "/"): <root>/sys/fs/selinux/enforce,
	// <root>/etc/selinux/config, <root>/var/log/audit/audit.log,
	// <root>/proc/PID/attr/current.
	Root string
	// StoreRoot is the root prefix of the semanage store and binary policy
	// ("" = "/"): <root>/etc/selinux/semanage.conf,
	// <root>/var/lib/selinux/<type>, <root>/etc/selinux/<type>/policy.
	StoreRoot string
	// Domain is the declared process domain; else it is read from PID.
	Domain string
	PID    int
	// Since is how far back AVC denials count (0 = 10 minutes, like
	// `ausearch -ts recent`).
	Since time.Duration
}

// DefaultSince is the AVC window when Params.Since is 0.
const DefaultSince = 10 * time.Minute

// cmdTimeout bounds each external command.
const cmdTimeout = 60 * time.Second

// now is the clock of the denial window; tests replace it.
var now = time.Now

// Observe reads the SELinux facts for port/proto ("tcp", "udp"; "" = tcp).
// It returns an error only for bad arguments or a cancelled context; what
// could not be read is recorded in Facts.Notes. It is Collect for the one
// domain, then HostFacts.Port: live and recorded facts are judged alike.
func Observe(ctx context.Context, port int, proto string, p Params) (*Facts, error) {
	proto, err := checkPort(port, proto)
	if err != nil {
		return nil, err
	}
	domain := p.Domain
	var domainErr error
	if domain == "" && p.PID > 0 {
		domain, domainErr = pidDomain(p.Root, p.PID)
	}
	h, err := Collect(ctx, CollectParams{Root: p.Root, StoreRoot: p.StoreRoot, Domains: []string{domain}, Since: p.Since, Protocols: []string{proto}})
	if err != nil {
		return nil, err
	}
	f, err := h.Port(port, proto, domain)
	if err != nil {
		return nil, err
	}
	if domainErr != nil {
		f.note("domain of pid %d not read: %v", p.PID, domainErr)
	}
	return f, nil
}

// checkPort validates a port and protocol ("" = tcp).
func checkPort(port int, proto string) (string, error) {
	if port < 1 || port > 65535 {
		return "", fmt.Errorf("selinux: port %d out of range 1-65535", port)
	}
	proto = strings.ToLower(proto)
	if proto == "" {
		proto = "tcp"
	}
	switch proto {
	case "tcp", "udp", "sctp", "dccp":
		return proto, nil
	}
	return "", fmt.Errorf("selinux: protocol %q not supported (tcp, udp, sctp or dccp)", proto)
}

// PIDDomain is the SELinux type of a process ("httpd_t"), from
// <root>/proc/PID/attr/current.
func PIDDomain(root string, pid int) (string, error) { return pidDomain(root, pid) }

func (f *Facts) note(format string, a ...any) {
	f.Notes = append(f.Notes, fmt.Sprintf(format, a...))
}

func rootOr(r string) string {
	if r == "" {
		return "/"
	}
	return r
}

// policyType is SELINUXTYPE from the observed config, else from the store
// root's config, else "default".
func (f *Facts) policyType(storeRoot string) string {
	if f.PolicyType != "" {
		return f.PolicyType
	}
	if c, err := readConfig(filepath.Join(rootOr(storeRoot), "etc/selinux/config")); err == nil && c.typ != "" {
		return c.typ
	}
	return "default"
}

// readMode fills Enabled, RuntimeMode, ConfigMode and PolicyType.
func readMode(f *Facts, root string) {
	r := rootOr(root)
	enforce := filepath.Join(r, "sys/fs/selinux/enforce")
	b, err := os.ReadFile(enforce)
	switch {
	case err == nil:
		f.Enabled = true
		switch strings.TrimSpace(string(b)) {
		case "1":
			f.RuntimeMode = "enforcing"
		case "0":
			f.RuntimeMode = "permissive"
		default:
			f.RuntimeMode = "unknown"
			f.note("%s holds %q, want 0 or 1", enforce, strings.TrimSpace(string(b)))
		}
	case errors.Is(err, fs.ErrNotExist):
		f.RuntimeMode = "disabled"
	default:
		f.RuntimeMode = "unknown"
		f.note("runtime mode not read: %v", err)
	}
	cfgPath := filepath.Join(r, "etc/selinux/config")
	c, err := readConfig(cfgPath)
	switch {
	case err == nil:
		f.ConfigMode, f.PolicyType = c.mode, c.typ
	case errors.Is(err, fs.ErrNotExist):
		f.note("no %s: SELinux is not configured on this machine", cfgPath)
	default:
		f.note("config not read: %v", err)
	}
}

type config struct{ mode, typ string }

func readConfig(path string) (config, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return config{}, err
	}
	return parseConfig(b), nil
}

// parseConfig reads SELINUX= and SELINUXTYPE= the way libselinux does:
// comments and blank lines skipped, the last assignment wins, quotes dropped.
func parseConfig(b []byte) config {
	var c config
	sc := bufio.NewScanner(bytes.NewReader(b))
	for sc.Scan() {
		line := strings.TrimSpace(sc.Text())
		if line == "" || line[0] == '#' {
			continue
		}
		k, v, ok := strings.Cut(line, "=")
		if !ok {
			continue
		}
		v = strings.Trim(strings.TrimSpace(v), `"'`)
		switch strings.TrimSpace(k) {
		case "SELINUX":
			c.mode = strings.ToLower(v)
		case "SELINUXTYPE":
			c.typ = v
		}
	}
	return c
}

// pidDomain reads the type of <root>/proc/PID/attr/current
// ("system_u:system_r:httpd_t:s0").
func pidDomain(root string, pid int) (string, error) {
	b, err := os.ReadFile(filepath.Join(rootOr(root), "proc", strconv.Itoa(pid), "attr/current"))
	if err != nil {
		return "", err
	}
	ctxStr := strings.TrimSpace(strings.TrimRight(string(b), "\x00\n"))
	parts := strings.Split(ctxStr, ":")
	if len(parts) < 3 || parts[2] == "" {
		return "", fmt.Errorf("context %q has no type (SELinux not enabled?)", ctxStr)
	}
	return parts[2], nil
}

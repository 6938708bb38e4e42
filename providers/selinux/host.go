package selinux

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os/exec"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"time"
)

// HostFacts is what layer 3 observes on a machine, for every port at once:
// the modes, every port context of the store, the name_bind rules of the
// domains asked about (with the attributes they name expanded to types),
// the runtime values of the booleans those rules depend on, and the recent
// AVC denials that name a port. It is plain data: collected on one machine,
// it can be judged on another (Port derives one port's Facts from it).
type HostFacts struct {
	Enabled     bool   `json:"enabled"`
	RuntimeMode string `json:"runtime_mode"`
	ConfigMode  string `json:"config_mode,omitempty"`
	PolicyType  string `json:"policy_type,omitempty"`
	// Ports is every port context of the store (merged and local); nil when
	// the store could not be read (PortsError says why).
	Ports      []PortCon `json:"ports"`
	PortsError string    `json:"ports_error,omitempty"`
	// NameBind maps a domain to its name_bind rules; a domain absent from
	// it was not collected (NameBindErrors may say why).
	NameBind       map[string][]BindRule `json:"name_bind,omitempty"`
	NameBindErrors map[string]string     `json:"name_bind_errors,omitempty"`
	// Booleans are the runtime values of the booleans NameBind's
	// conditional rules depend on.
	Booleans map[string]bool `json:"booleans,omitempty"`
	// Denials are the AVC denials of the window that name a port.
	Denials      []Denial  `json:"denials,omitempty"`
	DenialsSince time.Time `json:"denials_since"`
	Notes        []string  `json:"notes,omitempty"`
}

// BindRule is one allow rule granting a domain name_bind: the socket
// class, the port types it covers (attributes expanded) and the condition
// it is behind ("" = unconditional; "[ httpd_can_x ]:True").
type BindRule struct {
	Class string   `json:"class"`
	Types []string `json:"types"`
	Cond  string   `json:"cond,omitempty"`
}

// CollectParams say where and what to collect.
type CollectParams struct {
	Root, StoreRoot string // as in Params
	// Domains whose name_bind rules to read (the listening processes' and
	// the declared ones).
	Domains []string
	// Since is how far back AVC denials count (0 = DefaultSince).
	Since time.Duration
	// Protocols whose socket classes name_bind is read for (nil = tcp and
	// udp); Observe asks only for its port's.
	Protocols []string
}

// bindClasses are the socket classes name_bind is read for.
var bindClasses = []string{"tcp_socket", "udp_socket"}

// Collect reads the machine's layer-3 facts. It returns an error only when
// ctx ends; anything that could not be read is recorded in the facts.
func Collect(ctx context.Context, p CollectParams) (*HostFacts, error) {
	var f Facts
	readMode(&f, p.Root)
	h := &HostFacts{Enabled: f.Enabled, RuntimeMode: f.RuntimeMode, ConfigMode: f.ConfigMode, PolicyType: f.PolicyType, Notes: f.Notes}
	ports, err := listPorts(ctx, p.StoreRoot)
	if err != nil {
		if ctx.Err() != nil {
			return nil, ctx.Err()
		}
		h.PortsError = err.Error()
	} else {
		h.Ports = ports
		if h.Ports == nil {
			h.Ports = []PortCon{}
		}
	}
	for _, d := range uniqueSorted(p.Domains) {
		classes := bindClasses
		if p.Protocols != nil {
			classes = nil
			for _, proto := range p.Protocols {
				classes = append(classes, proto+"_socket")
			}
		}
		rules, err := readBindRules(ctx, p.StoreRoot, h.policyType(p.StoreRoot), d, classes, h.Ports)
		if err != nil {
			if ctx.Err() != nil {
				return nil, ctx.Err()
			}
			if h.NameBindErrors == nil {
				h.NameBindErrors = map[string]string{}
			}
			h.NameBindErrors[d] = err.Error()
			continue
		}
		if h.NameBind == nil {
			h.NameBind = map[string][]BindRule{}
		}
		h.NameBind[d] = rules
		for _, r := range rules {
			name, _, ok := parseCond(r.Cond)
			if !ok {
				continue
			}
			if _, done := h.Booleans[name]; done {
				continue
			}
			v, err := readBool(p.Root, name)
			if err != nil {
				continue // Port says the value is unknown
			}
			if h.Booleans == nil {
				h.Booleans = map[string]bool{}
			}
			h.Booleans[name] = v
		}
	}
	since := p.Since
	if since <= 0 {
		since = DefaultSince
	}
	h.DenialsSince = now().Add(-since).UTC().Truncate(time.Second)
	logPath := filepath.Join(rootOr(p.Root), "var/log/audit/audit.log")
	ds, err := readAllDenials(logPath, h.DenialsSince)
	switch {
	case errors.Is(err, fs.ErrNotExist):
		h.note("no audit log at %s (auditd not installed or not running): AVC denials not read", logPath)
	case err != nil:
		h.note("AVC denials not read: %v", err)
	}
	h.Denials = ds
	return h, nil
}

func (h *HostFacts) note(format string, a ...any) {
	h.Notes = append(h.Notes, fmt.Sprintf(format, a...))
}

func (h *HostFacts) policyType(storeRoot string) string {
	f := Facts{PolicyType: h.PolicyType}
	return f.policyType(storeRoot)
}

// Port derives one port's facts for a domain ("" = unknown) from the
// host's facts, as Observe would read them live.
func (h *HostFacts) Port(port int, proto, domain string) (*Facts, error) {
	proto, err := checkPort(port, proto)
	if err != nil {
		return nil, err
	}
	f := &Facts{Enabled: h.Enabled, RuntimeMode: h.RuntimeMode, ConfigMode: h.ConfigMode, PolicyType: h.PolicyType, Domain: domain}
	f.Notes = append(f.Notes, h.Notes...)
	if h.Ports == nil {
		f.note("port types not read: %s", h.PortsError)
	} else {
		decide(f, h.Ports, port, proto)
	}
	switch {
	case domain == "":
		f.note("name_bind not checked: no domain declared or read from a pid")
	case h.Ports == nil:
		f.note("name_bind not checked: the port type is unknown")
	default:
		rules, ok := h.NameBind[domain]
		if !ok {
			why := h.NameBindErrors[domain]
			if why == "" {
				why = "the facts hold no name_bind rules for this domain (collect them with -selinux-domain " + domain + ")"
			}
			f.note("name_bind not checked: %s", why)
			break
		}
		typ := f.PortType
		if typ == "" {
			typ = "port_t"
		}
		nb := judgeBind(rules, h.Booleans, typ, proto+"_socket")
		f.NameBind = nb.allowed
		f.Notes = append(f.Notes, nb.notes...)
	}
	for _, d := range h.Denials {
		if d.Port == port && classMatches(d.Class, proto) {
			f.Denials = append(f.Denials, d)
		}
	}
	return f, nil
}

// judgeBind decides name_bind of typ for class from the collected rules:
// an unconditional rule allows it; conditional ones count when their
// boolean's runtime value says so.
func judgeBind(rules []BindRule, booleans map[string]bool, typ, class string) nameBindResult {
	var r nameBindResult
	var conds []string
	for _, rule := range rules {
		if rule.Class != class || !slices.Contains(rule.Types, typ) {
			continue
		}
		if rule.Cond == "" {
			t := true
			r.allowed = &t
			return r
		}
		conds = append(conds, rule.Cond)
	}
	if len(conds) == 0 {
		f := false
		r.allowed = &f
		return r
	}
	sort.Strings(conds)
	undecided := false
	for _, c := range conds {
		name, want, ok := parseCond(c)
		if !ok {
			undecided = true
			r.notes = append(r.notes, fmt.Sprintf("name_bind allowed only under the condition %s", c))
			continue
		}
		cur, known := booleans[name]
		if !known {
			undecided = true
			r.notes = append(r.notes, fmt.Sprintf("name_bind allowed only when boolean %s is %v; its runtime value is unknown", name, want))
			continue
		}
		if cur == want {
			t := true
			r.allowed = &t
			r.notes = append(r.notes, fmt.Sprintf("name_bind allowed by boolean %s=%v", name, cur))
			return r
		}
		r.notes = append(r.notes, fmt.Sprintf("name_bind would be allowed by setting boolean %s to %v (setsebool -P %s %s)", name, want, name, onOff(want)))
	}
	if !undecided {
		f := false
		r.allowed = &f
	}
	return r
}

// readBindRules lists domain's name_bind rules for the socket classes,
// with target attributes expanded to their member types (seinfo), so the
// rules can be judged for any port type later.
func readBindRules(ctx context.Context, storeRoot, policyType, domain string, classes []string, ports []PortCon) ([]BindRule, error) {
	bin, err := exec.LookPath("sesearch")
	if err != nil {
		return nil, errNoSesearch
	}
	pol, err := policyFile(storeRoot, policyType)
	if err != nil {
		return nil, err
	}
	known := map[string]bool{"port_t": true}
	for _, p := range ports {
		known[p.Type] = true
	}
	expanded := map[string][]string{}
	var out []BindRule
	for _, class := range classes {
		text, err := runTool(ctx, bin, "-A", "-s", domain, "-c", class, "-p", "name_bind", pol)
		if err != nil {
			return nil, fmt.Errorf("sesearch on %s: %v", pol, err)
		}
		for _, line := range strings.Split(text, "\n") {
			targets, cond, ok := parseAllow(line)
			if !ok {
				continue
			}
			var types []string
			for _, target := range targets {
				if known[target] {
					types = append(types, target)
					continue
				}
				// Not a port type of the store: an attribute (port_type,
				// unreserved_port_type…) or a type with no portcon.
				ts, done := expanded[target]
				if !done {
					ts, err = attributeMembers(ctx, pol, target)
					if err != nil {
						return nil, err
					}
					expanded[target] = ts
				}
				if len(ts) == 0 {
					ts = []string{target}
				}
				types = append(types, ts...)
			}
			out = append(out, BindRule{Class: class, Types: types, Cond: cond})
		}
	}
	if out == nil {
		out = []BindRule{}
	}
	return out, nil
}

// parseAllow reads "allow SRC TARGET:CLASS PERMS; [ cond ]:True"; the
// target may be a set "{ a b }" (binary policies list single types, but a
// set costs nothing to read right).
func parseAllow(line string) (targets []string, cond string, ok bool) {
	line = strings.TrimSpace(line)
	rest, found := strings.CutPrefix(line, "allow ")
	if !found {
		return nil, "", false
	}
	if i := strings.Index(rest, "["); i >= 0 {
		cond = strings.TrimSpace(rest[i:])
		rest = rest[:i]
	}
	f := strings.Fields(rest)
	if len(f) < 2 {
		return nil, "", false
	}
	if f[1] == "{" {
		for _, w := range f[2:] {
			name, _, hasClass := strings.Cut(w, "}")
			if name != "" {
				targets = append(targets, name)
			}
			if hasClass {
				break
			}
		}
	} else {
		t, _, _ := strings.Cut(f[1], ":")
		if t != "" {
			targets = []string{t}
		}
	}
	return targets, cond, len(targets) > 0
}

// attributeMembers lists the types of an attribute (none when name is a
// type, not an attribute).
func attributeMembers(ctx context.Context, pol, name string) ([]string, error) {
	bin, err := exec.LookPath("seinfo")
	if err != nil {
		return nil, errors.New("seinfo is not installed (apt install setools)")
	}
	text, err := runTool(ctx, bin, "-a", name, "-x", pol)
	if err != nil {
		// seinfo fails for a name that is not an attribute: a plain type.
		return nil, nil
	}
	var out []string
	sc := bufio.NewScanner(strings.NewReader(text))
	for sc.Scan() {
		f := strings.TrimSpace(sc.Text())
		if f == "" || strings.Contains(f, ":") || f == name {
			continue // headers ("Type Attributes: 1") and the attribute itself
		}
		out = append(out, f)
	}
	return out, nil
}

// runTool runs a setools command with the package's timeout.
func runTool(ctx context.Context, bin string, args ...string) (string, error) {
	ctx, cancel := context.WithTimeout(ctx, cmdTimeout)
	defer cancel()
	cmd := exec.CommandContext(ctx, bin, args...)
	var out, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &stderr
	if err := cmd.Run(); err != nil {
		if ctx.Err() != nil {
			return "", fmt.Errorf("%s timed out after %v", filepath.Base(bin), cmdTimeout)
		}
		return "", fmt.Errorf("%v: %s", err, lastLine(stderr.String()))
	}
	return out.String(), nil
}

// readAllDenials returns every AVC denial at or after cutoff that names a
// port, from the end of the audit log.
func readAllDenials(path string, cutoff time.Time) ([]Denial, error) {
	return readDenials(path, 0, "", cutoff)
}

func uniqueSorted(ss []string) []string {
	var out []string
	for _, s := range ss {
		if s != "" && !slices.Contains(out, s) {
			out = append(out, s)
		}
	}
	sort.Strings(out)
	return out
}

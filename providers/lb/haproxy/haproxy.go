// Package haproxy reads the backends of an HAProxy configuration file —
// `backend` and `listen` sections with their `server` and
// `server-template` lines, `default-server` defaults applied — into
// lb.Facts, so a port-change checklist can tell whether the on-premises
// balancer sends traffic to the new port and no longer to the old one
// without a running HAProxy to ask.
//
// It reads the text the way HAProxy does: words split on blanks, `#`
// comments, quotes and backslash escapes, a section keyword at any
// indentation starting a section, the port after the last colon of an
// address. What it cannot evaluate is reported in Facts.Unresolved rather
// than guessed: `.if` conditional blocks (their servers are kept and
// flagged `conditional`) and environment variables in addresses.
package haproxy

import (
	"context"
	"fmt"
	"net/netip"
	"strconv"
	"strings"

	"github.com/portcheck/portcheck/internal/textfile"
	"github.com/portcheck/portcheck/providers/lb"
)

// Read reads and parses the configuration file at path (a text file of at
// most textfile.DefaultMax bytes).
func Read(ctx context.Context, path string) (*lb.Facts, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	f, err := textfile.Read(path, 0)
	if err != nil {
		return nil, fmt.Errorf("haproxy: %w", err)
	}
	return Parse(path, f.Data)
}

// sections are HAProxy's section keywords; any of them starts a new
// section wherever it is indented.
var sections = map[string]bool{
	"global": true, "defaults": true, "frontend": true, "backend": true, "listen": true,
	"peers": true, "resolvers": true, "userlist": true, "mailers": true, "cache": true,
	"program": true, "http-errors": true, "ring": true, "log-forward": true, "fcgi-app": true,
	"crt-store": true, "traces": true, "acme": true,
}

// serverDefaults are the `default-server` settings that change a server's
// state or weight.
type serverDefaults struct {
	disabled, backup, check bool
	weight                  *int
}

type parser struct {
	name  string
	facts *lb.Facts

	section  string   // current section keyword
	pool     *lb.Pool // current backend/listen pool, nil elsewhere
	defaults serverDefaults
	sectDef  serverDefaults // default-server of the current section
	disabled bool           // `disabled` in the current backend
	condDeep int            // depth of .if blocks
}

// Parse parses an HAProxy configuration; name is used in errors and in
// Facts.File. A malformed server line is an error naming the line; lines
// it does not need (timeouts, ACLs, frontends) are skipped.
func Parse(name string, data []byte) (*lb.Facts, error) {
	p := &parser{name: name, facts: &lb.Facts{Kind: lb.KindHAProxy, File: name, Pools: []lb.Pool{}}}
	for i, raw := range strings.Split(string(data), "\n") {
		line := i + 1
		words, err := split(strings.TrimSuffix(raw, "\r"))
		if err != nil {
			return nil, fmt.Errorf("%s:%d: %v", name, line, err)
		}
		if len(words) == 0 {
			continue
		}
		if err := p.line(line, strings.TrimSpace(raw), words); err != nil {
			return nil, fmt.Errorf("%s:%d: %v", name, line, err)
		}
	}
	if p.condDeep > 0 {
		return nil, fmt.Errorf("%s: a .if block is not closed by .endif", name)
	}
	p.closeSection()
	p.facts.SortFlags()
	return p.facts, nil
}

func (p *parser) line(line int, text string, w []string) error {
	kw := w[0]
	switch {
	case strings.HasPrefix(kw, "."):
		return p.directive(line, text, w)
	case sections[kw]:
		p.closeSection()
		p.section = kw
		p.sectDef = p.defaults
		if kw == "defaults" {
			// A new defaults section starts from scratch.
			p.defaults, p.sectDef = serverDefaults{}, serverDefaults{}
		}
		if kw == "backend" || kw == "listen" {
			if len(w) < 2 {
				return fmt.Errorf("%s without a name", kw)
			}
			typ := lb.PoolBackend
			if kw == "listen" {
				typ = lb.PoolListen
			}
			p.pool = &lb.Pool{ID: w[1], Type: typ, Line: line, Members: []lb.Member{}}
		}
		return nil
	}
	switch kw {
	case "default-server":
		if p.section != "defaults" && p.pool == nil {
			return nil // HAProxy rejects it there; nothing to take from it
		}
		d := p.sectDef
		if err := applyParams(&d, w[1:]); err != nil {
			return fmt.Errorf("default-server: %v", err)
		}
		p.sectDef = d
		if p.section == "defaults" {
			p.defaults = d
		}
	case "disabled":
		if p.pool != nil && len(w) == 1 {
			p.disabled = true
		}
	case "server", "server-template":
		if p.pool == nil {
			return nil // only backends and listen sections have servers that take traffic
		}
		return p.server(line, w)
	}
	return nil
}

// directive handles HAProxy's conditional blocks and diagnostics.
func (p *parser) directive(line int, text string, w []string) error {
	switch w[0] {
	case ".if":
		p.condDeep++
		p.facts.Unresolved = append(p.facts.Unresolved, lb.Unresolved{Line: line, Directive: ".if", Text: text,
			Why: "conditions are evaluated by HAProxy at startup; servers inside are kept and flagged conditional"})
	case ".elif", ".else":
		if p.condDeep == 0 {
			return fmt.Errorf("%s without .if", w[0])
		}
	case ".endif":
		if p.condDeep == 0 {
			return fmt.Errorf(".endif without .if")
		}
		p.condDeep--
	}
	return nil // .notice, .warning, .alert, .diag: messages only
}

func (p *parser) closeSection() {
	if p.pool != nil {
		if p.disabled {
			for i := range p.pool.Members {
				p.pool.Members[i].State = lb.StateDisabled
				p.pool.Members[i].Reason = "the backend is disabled"
			}
		}
		p.facts.Pools = append(p.facts.Pools, *p.pool)
	}
	p.pool, p.disabled, p.section = nil, false, ""
}

func (p *parser) server(line int, w []string) error {
	var m lb.Member
	params := w
	switch w[0] {
	case "server":
		if len(w) < 3 {
			return fmt.Errorf("server needs a name and an address")
		}
		m.ID, params = w[1], w[3:]
		if err := p.address(line, w[2], &m); err != nil {
			return fmt.Errorf("server %s: %v", w[1], err)
		}
	case "server-template":
		// server-template <prefix> <num | range> <fqdn>[:<port>]: servers
		// named prefix1…prefixN, all resolving the same name.
		if len(w) < 4 {
			return fmt.Errorf("server-template needs a prefix, a number or range and an address")
		}
		m.ID, params = w[1]+"["+w[2]+"]", w[4:]
		if err := p.address(line, w[3], &m); err != nil {
			return fmt.Errorf("server-template %s: %v", w[1], err)
		}
		m.Flags = append(m.Flags, "template")
	}
	d := p.sectDef
	if err := applyParams(&d, params); err != nil {
		return fmt.Errorf("%s %s: %v", w[0], w[1], err)
	}
	m.Weight = d.weight
	m.Line = line
	m.State = lb.StateRegistered
	for _, word := range params {
		switch word {
		case "ssl", "send-proxy", "send-proxy-v2", "resolvers":
			m.Flags = append(m.Flags, word)
		}
	}
	if d.backup {
		m.Flags = append(m.Flags, "backup")
	}
	if d.check {
		m.Flags = append(m.Flags, "check")
	}
	switch {
	case d.disabled:
		m.Flags = append(m.Flags, "disabled")
		m.State, m.Reason = lb.StateDisabled, "disabled in the configuration"
	case d.weight != nil && *d.weight == 0:
		m.State, m.Reason = lb.StateUnused, "weight 0"
	}
	if p.condDeep > 0 {
		m.Flags = append(m.Flags, "conditional")
	}
	p.pool.Members = append(p.pool.Members, m)
	return nil
}

// applyParams applies the server parameters that change state or weight.
func applyParams(d *serverDefaults, params []string) error {
	for i := 0; i < len(params); i++ {
		switch params[i] {
		case "disabled":
			d.disabled = true
		case "enabled":
			d.disabled = false
		case "backup":
			d.backup = true
		case "no-backup":
			d.backup = false
		case "check":
			d.check = true
		case "no-check":
			d.check = false
		case "weight":
			if i+1 >= len(params) {
				return fmt.Errorf("weight without a value")
			}
			n, err := strconv.Atoi(params[i+1])
			if err != nil || n < 0 || n > 256 {
				return fmt.Errorf("weight %q: want 0 to 256", params[i+1])
			}
			d.weight = &n
			i++
		}
	}
	return nil
}

// address reads `[prefix@]host[:port]` as HAProxy does: the part after the
// last colon is the port (`[v6]:port` brackets an IPv6 address; a port of
// `+N`/`-N` is an offset from the client's port, so the port is unknown).
func (p *parser) address(line int, s string, m *lb.Member) error {
	raw := s
	if i := strings.Index(s, "@"); i >= 0 {
		prefix := s[:i]
		switch prefix {
		case "unix", "abns", "abnsz", "fd", "sockpair":
			m.Address = raw
			m.Flags = append(m.Flags, "socket")
			return nil
		case "ipv4", "ipv6", "tcp", "tcp4", "tcp6", "udp", "udp4", "udp6", "quic4", "quic6":
			s = s[i+1:]
		default:
			return fmt.Errorf("address %q: unknown family prefix %q", raw, prefix)
		}
	}
	if strings.HasPrefix(s, "/") {
		m.Address = s
		m.Flags = append(m.Flags, "socket")
		return nil
	}
	if strings.Contains(s, "${") {
		p.facts.Unresolved = append(p.facts.Unresolved, lb.Unresolved{Line: line, Directive: "server", Text: raw,
			Why: "an environment variable in the address is set only where HAProxy runs"})
	}
	host, port := s, ""
	if strings.HasPrefix(s, "[") {
		end := strings.Index(s, "]")
		if end < 0 {
			return fmt.Errorf("address %q: no closing ]", raw)
		}
		host, port = s[1:end], s[end+1:]
		if port != "" {
			if !strings.HasPrefix(port, ":") {
				return fmt.Errorf("address %q: want [address]:port", raw)
			}
			port = port[1:]
		}
	} else if i := strings.LastIndex(s, ":"); i >= 0 {
		host, port = s[:i], s[i+1:]
	}
	if host == "" || strings.ContainsAny(host, "[]") {
		return fmt.Errorf("address %q: no host (HAProxy reads the part after the last colon as the port: write IPv6 as [address]:port)", raw)
	}
	if strings.Contains(host, ":") {
		if _, err := netip.ParseAddr(host); err != nil {
			return fmt.Errorf("address %q: %q is no IPv6 address (HAProxy reads the part after the last colon as the port: write IPv6 as [address]:port)", raw, host)
		}
	}
	m.Address = host
	switch {
	case port == "":
	case port[0] == '+' || port[0] == '-':
		if _, err := strconv.Atoi(port[1:]); err != nil {
			return fmt.Errorf("address %q: port offset %q is not a number", raw, port)
		}
		m.Flags = append(m.Flags, "port-offset"+port)
	default:
		n, err := strconv.Atoi(port)
		if err != nil || n < 1 || n > 65535 {
			if strings.Contains(port, "${") {
				return nil
			}
			return fmt.Errorf("address %q: port %q: want 1 to 65535", raw, port)
		}
		m.Port = n
	}
	return nil
}

// split cuts a line into words as HAProxy's parser does: blanks separate
// words, `#` starts a comment, "…" and '…' quote (double quotes allow
// backslash escapes), a backslash escapes the next character.
func split(line string) ([]string, error) {
	var words []string
	var cur strings.Builder
	inWord := false
	flush := func() {
		if inWord {
			words = append(words, cur.String())
			cur.Reset()
			inWord = false
		}
	}
	for i := 0; i < len(line); i++ {
		c := line[i]
		switch {
		case c == ' ' || c == '\t':
			flush()
		case c == '#':
			flush()
			return words, nil
		case c == '\\':
			if i+1 >= len(line) {
				return nil, fmt.Errorf("a backslash ends the line")
			}
			i++
			cur.WriteByte(line[i])
			inWord = true
		case c == '"' || c == '\'':
			end := i + 1
			for ; end < len(line) && line[end] != c; end++ {
				if c == '"' && line[end] == '\\' && end+1 < len(line) {
					end++
				}
			}
			if end >= len(line) {
				return nil, fmt.Errorf("unterminated %c quote", c)
			}
			body := line[i+1 : end]
			if c == '"' {
				body = unescape(body)
			}
			cur.WriteString(body)
			inWord = true
			i = end
		default:
			cur.WriteByte(c)
			inWord = true
		}
	}
	flush()
	return words, nil
}

func unescape(s string) string {
	if !strings.Contains(s, "\\") {
		return s
	}
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		if s[i] == '\\' && i+1 < len(s) {
			i++
		}
		b.WriteByte(s[i])
	}
	return b.String()
}

// Package nginx reads the `upstream` blocks of an nginx configuration file
// (http and stream) with their `server` directives into lb.Facts, so a
// port-change checklist can tell whether the on-premises balancer sends
// traffic to the new port and no longer to the old one without a running
// nginx to ask.
//
// It tokenises as nginx does — words, "…" and '…' with backslash escapes,
// `#` comments at the start of a word, `;` and `{ }` — over any layout of
// whitespace and lines. `include` is not followed: an include where an
// upstream could be defined is reported in Facts.Unresolved, because the
// servers it brings are unknown; nginx's stock data files (mime.types,
// fastcgi_params, …) are assumed to hold no upstream, which Facts.Notes
// says.
package nginx

import (
	"context"
	"fmt"
	"net/netip"
	"path"
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
		return nil, fmt.Errorf("nginx: %w", err)
	}
	return Parse(path, f.Data)
}

// directive is one parsed statement; Block is nil for a simple one.
type directive struct {
	Name  string
	Args  []string
	Line  int
	Block []directive
}

// Parse parses an nginx configuration; name is used in errors and in
// Facts.File. Unbalanced braces, an unterminated quote or a malformed
// upstream server is an error naming the line.
func Parse(name string, data []byte) (*lb.Facts, error) {
	toks, err := tokenize(string(data))
	if err != nil {
		return nil, fmt.Errorf("%s:%v", name, err)
	}
	tree, rest, err := parseBlock(toks, 0)
	if err != nil {
		return nil, fmt.Errorf("%s:%v", name, err)
	}
	if len(rest) > 0 {
		return nil, fmt.Errorf("%s:%d: unexpected \"}\"", name, rest[0].line)
	}
	f := &lb.Facts{Kind: lb.KindNginx, File: name, Pools: []lb.Pool{}}
	if err := walk(f, tree, "main"); err != nil {
		return nil, fmt.Errorf("%s:%v", name, err)
	}
	f.SortFlags()
	return f, nil
}

// stockFiles are data files Debian's nginx ships that hold no directive
// able to define an upstream.
var stockFiles = map[string]bool{
	"mime.types": true, "fastcgi_params": true, "fastcgi.conf": true, "scgi_params": true,
	"uwsgi_params": true, "proxy_params": true, "koi-utf": true, "koi-win": true, "win-utf": true,
}

// upstreamContexts are where an upstream block (or an include bringing
// one, or an http/stream block holding one) may appear.
var upstreamContexts = map[string]bool{"main": true, "http": true, "stream": true, "upstream": true}

func walk(f *lb.Facts, ds []directive, ctx string) error {
	for _, d := range ds {
		switch {
		case d.Name == "include" && upstreamContexts[ctx]:
			text := "include " + strings.Join(d.Args, " ") + ";"
			if len(d.Args) == 1 && stockFiles[path.Base(d.Args[0])] {
				f.Notes = append(f.Notes, fmt.Sprintf("line %d %q not followed: nginx's stock data file, assumed to hold no upstream", d.Line, text))
				continue
			}
			f.Unresolved = append(f.Unresolved, lb.Unresolved{Line: d.Line, Directive: "include", Text: text,
				Why: "includes are not followed; upstreams or servers there are not part of these facts"})
		case d.Name == "upstream" && d.Block != nil && (ctx == "http" || ctx == "stream"):
			pool, err := upstream(f, d, ctx)
			if err != nil {
				return err
			}
			f.Pools = append(f.Pools, pool)
		case d.Block != nil:
			if err := walk(f, d.Block, d.Name); err != nil {
				return err
			}
		}
	}
	return nil
}

func upstream(f *lb.Facts, d directive, ctx string) (lb.Pool, error) {
	if len(d.Args) != 1 {
		return lb.Pool{}, fmt.Errorf("%d: upstream needs one name", d.Line)
	}
	pool := lb.Pool{ID: d.Args[0], Type: lb.PoolUpstream, Protocol: ctx, Line: d.Line, Members: []lb.Member{}}
	for _, s := range d.Block {
		switch s.Name {
		case "server":
			m, err := server(s, ctx)
			if err != nil {
				return pool, fmt.Errorf("%d: upstream %s: %v", s.Line, pool.ID, err)
			}
			pool.Members = append(pool.Members, m)
		case "include":
			if err := walk(f, []directive{s}, "upstream"); err != nil {
				return pool, err
			}
		}
	}
	return pool, nil
}

// server reads `server address [parameters];` of an upstream block.
func server(d directive, ctx string) (lb.Member, error) {
	if len(d.Args) == 0 {
		return lb.Member{}, fmt.Errorf("server without an address")
	}
	m := lb.Member{ID: d.Args[0], Line: d.Line, State: lb.StateRegistered}
	service := false
	for _, p := range d.Args[1:] {
		k, v, hasValue := strings.Cut(p, "=")
		switch k {
		case "weight":
			n, err := strconv.Atoi(v)
			if !hasValue || err != nil || n < 1 {
				return m, fmt.Errorf("server %s: weight %q: want a positive number", m.ID, v)
			}
			m.Weight = &n
		case "backup", "resolve":
			m.Flags = append(m.Flags, k)
		case "down":
			m.Flags = append(m.Flags, k)
			m.State, m.Reason = lb.StateDisabled, "marked down in the configuration"
		case "drain": // NGINX Plus
			m.Flags = append(m.Flags, k)
			m.State, m.Reason = lb.StateDraining, "drain in the configuration"
		case "service": // NGINX Plus: the port comes from DNS SRV records
			service = true
			m.Flags = append(m.Flags, "service="+v)
		case "max_fails", "fail_timeout", "max_conns", "slow_start", "route":
		default:
			return m, fmt.Errorf("server %s: unknown parameter %q", m.ID, p)
		}
	}
	addr := d.Args[0]
	if strings.HasPrefix(addr, "unix:") {
		m.Address = addr
		m.Flags = append(m.Flags, "socket")
		return m, nil
	}
	host, port, err := splitHostPort(addr)
	if err != nil {
		return m, fmt.Errorf("server %s: %v", m.ID, err)
	}
	m.Address = host
	switch {
	case port != "":
		n, err := strconv.Atoi(port)
		if err != nil || n < 1 || n > 65535 {
			return m, fmt.Errorf("server %s: port %q: want 1 to 65535", m.ID, port)
		}
		m.Port = n
	case service:
	case ctx == "stream":
		return m, fmt.Errorf("server %s: no port (a stream upstream needs one)", m.ID)
	default:
		m.Port = 80 // nginx's default for an http upstream
	}
	return m, nil
}

// splitHostPort reads host, host:port, [v6] and [v6]:port.
func splitHostPort(s string) (host, port string, err error) {
	if strings.HasPrefix(s, "[") {
		end := strings.Index(s, "]")
		if end < 0 {
			return "", "", fmt.Errorf("address %q: no closing ]", s)
		}
		host, rest := s[1:end], s[end+1:]
		if _, err := netip.ParseAddr(host); err != nil {
			return "", "", fmt.Errorf("address %q: %q is no IPv6 address", s, host)
		}
		if rest == "" {
			return host, "", nil
		}
		if !strings.HasPrefix(rest, ":") {
			return "", "", fmt.Errorf("address %q: want [address]:port", s)
		}
		return host, rest[1:], nil
	}
	switch strings.Count(s, ":") {
	case 0:
		host = s
	case 1:
		host, port, _ = strings.Cut(s, ":")
	default:
		return "", "", fmt.Errorf("address %q: write an IPv6 address as [address]:port", s)
	}
	if host == "" || strings.ContainsAny(host, "/[]") {
		return "", "", fmt.Errorf("address %q: no host", s)
	}
	return host, port, nil
}

type token struct {
	text   string
	line   int
	quoted bool
}

// tokenize splits nginx configuration text into words and the special
// tokens ";", "{", "}" (unquoted). A '#' starts a comment at the start of
// a word only, as in nginx.
func tokenize(s string) ([]token, error) {
	var toks []token
	line := 1
	for i := 0; i < len(s); {
		c := s[i]
		switch {
		case c == '\n':
			line++
			i++
		case c == ' ' || c == '\t' || c == '\r':
			i++
		case c == '#':
			for i < len(s) && s[i] != '\n' {
				i++
			}
		case c == ';' || c == '{' || c == '}':
			toks = append(toks, token{text: string(c), line: line})
			i++
		case c == '"' || c == '\'':
			start := line
			var b strings.Builder
			j := i + 1
			for ; j < len(s) && s[j] != c; j++ {
				switch {
				case s[j] == '\\' && j+1 < len(s):
					j++
					switch s[j] {
					case 'n':
						b.WriteByte('\n')
					case 't':
						b.WriteByte('\t')
					case 'r':
						b.WriteByte('\r')
					case '"', '\'', '\\':
						b.WriteByte(s[j])
					default:
						b.WriteByte('\\')
						b.WriteByte(s[j])
					}
				case s[j] == '\n':
					line++
					b.WriteByte('\n')
				default:
					b.WriteByte(s[j])
				}
			}
			if j >= len(s) {
				return nil, fmt.Errorf("%d: unterminated %c quote", start, c)
			}
			if j+1 < len(s) && !strings.ContainsRune(" \t\r\n;{}", rune(s[j+1])) {
				return nil, fmt.Errorf("%d: unexpected %q after a quoted string", line, s[j+1])
			}
			toks = append(toks, token{text: b.String(), line: start, quoted: true})
			i = j + 1
		default:
			j := i
			var b strings.Builder
			for ; j < len(s) && !strings.ContainsRune(" \t\r\n;{}", rune(s[j])); j++ {
				if s[j] == '\\' && j+1 < len(s) && s[j+1] != '\n' {
					j++
				}
				b.WriteByte(s[j])
			}
			toks = append(toks, token{text: b.String(), line: line})
			i = j
		}
	}
	return toks, nil
}

// parseBlock parses statements until an unmatched "}" (returned in rest,
// unconsumed) or the end.
func parseBlock(toks []token, depth int) ([]directive, []token, error) {
	if depth > 100 {
		return nil, nil, fmt.Errorf("%d: blocks nested more than 100 deep", toks[0].line)
	}
	ds := []directive{}
	for len(toks) > 0 {
		t := toks[0]
		if !t.quoted && t.text == "}" {
			return ds, toks, nil
		}
		if !t.quoted && (t.text == ";" || t.text == "{") {
			return nil, nil, fmt.Errorf("%d: unexpected %q", t.line, t.text)
		}
		d := directive{Name: t.text, Line: t.line}
		toks = toks[1:]
		for {
			if len(toks) == 0 {
				return nil, nil, fmt.Errorf("%d: %q is not terminated by \";\" or \"}\"", d.Line, d.Name)
			}
			t := toks[0]
			toks = toks[1:]
			if t.quoted || (t.text != ";" && t.text != "{" && t.text != "}") {
				d.Args = append(d.Args, t.text)
				continue
			}
			switch t.text {
			case ";":
			case "{":
				block, rest, err := parseBlock(toks, depth+1)
				if err != nil {
					return nil, nil, err
				}
				if len(rest) == 0 {
					return nil, nil, fmt.Errorf("%d: %q block is not closed by \"}\"", d.Line, d.Name)
				}
				d.Block, toks = block, rest[1:]
			case "}":
				return nil, nil, fmt.Errorf("%d: unexpected \"}\" (%q is not terminated by \";\")", t.line, d.Name)
			}
			break
		}
		ds = append(ds, d)
	}
	return ds, nil, nil
}

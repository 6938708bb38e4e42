package config

import (
	"fmt"
	"strings"
	"time"

	"github.com/hashicorp/hcl/v2"
)

// Connection is a host's `connection` block: how portcheck reaches a host
// that is not this machine, over SSH, to observe its server-side layers
// and to probe from it. The names follow Terraform's provisioner
// `connection` block, which operators already know.
type Connection struct {
	// Type is "ssh", the only transport.
	Type string
	// Host is the address or name to dial; "" = the host's first address.
	Host string
	// Port defaults to 22.
	Port int
	// User defaults to root (as Terraform's).
	User string
	// PrivateKey is the path of a private key file ("~/" is the user's
	// home, expanded when used; a relative path is relative to the file
	// that declares it). "" = the keys of the ssh-agent at SSH_AUTH_SOCK.
	// The key itself is never read into the configuration or printed.
	PrivateKey string
	// KnownHosts is the known_hosts file host keys are verified against;
	// "" = ~/.ssh/known_hosts. There is no trust on first use.
	KnownHosts string
	// Sudo runs the collector with `sudo -n` (the observers need root
	// for nft, iptables and the SELinux store).
	Sudo bool
	// Timeout bounds the TCP connect and the SSH handshake, and each
	// remote command; 0 = DefaultConnectionTimeout.
	Timeout time.Duration
	// Bastion is the jump host the connection goes through: another
	// host's connection (`bastion = host.jump`), or one declared inline
	// with the bastion_* attributes.
	Bastion *Connection
	// BastionHostName is the HCL host the bastion was taken from ("" when
	// declared inline).
	BastionHostName string
	// Netns is the network namespace on the remote machine whose layers
	// are observed (the host's `netns`; a name or a path there).
	Netns     string
	DeclRange hcl.Range
}

// Target is how the connection is shown: user@host:port. It never holds
// a key or a key's path.
func (c *Connection) Target() string {
	if c == nil {
		return ""
	}
	return fmt.Sprintf("%s@%s", c.User, joinHostPort(c.Host, c.Port))
}

func joinHostPort(host string, port int) string {
	if strings.ContainsRune(host, ':') {
		return fmt.Sprintf("[%s]:%d", host, port)
	}
	return fmt.Sprintf("%s:%d", host, port)
}

// DefaultConnectionTimeout bounds connecting to a host when the block
// does not say.
const DefaultConnectionTimeout = 10 * time.Second

type connectionSpec struct {
	Type              hcl.Expression `hcl:"type,optional"`
	Host              hcl.Expression `hcl:"host,optional"`
	Port              hcl.Expression `hcl:"port,optional"`
	User              hcl.Expression `hcl:"user,optional"`
	PrivateKey        hcl.Expression `hcl:"private_key,optional"`
	KnownHosts        hcl.Expression `hcl:"known_hosts,optional"`
	Sudo              hcl.Expression `hcl:"sudo,optional"`
	Timeout           hcl.Expression `hcl:"timeout,optional"`
	Bastion           hcl.Expression `hcl:"bastion,optional"`
	BastionHost       hcl.Expression `hcl:"bastion_host,optional"`
	BastionPort       hcl.Expression `hcl:"bastion_port,optional"`
	BastionUser       hcl.Expression `hcl:"bastion_user,optional"`
	BastionPrivateKey hcl.Expression `hcl:"bastion_private_key,optional"`
	BastionKnownHosts hcl.Expression `hcl:"bastion_known_hosts,optional"`
	// Password and BastionPassword are in the schema only to answer them
	// with why they are refused, instead of "unsupported argument".
	Password        hcl.Expression `hcl:"password,optional"`
	BastionPassword hcl.Expression `hcl:"bastion_password,optional"`
}

var connectionBlockSchema = &hcl.BodySchema{Blocks: []hcl.BlockHeaderSchema{{Type: "connection"}}}

// splitConnection takes the connection block out of a host's body.
func splitConnection(body hcl.Body) (*hcl.Block, hcl.Body, hcl.Diagnostics) {
	content, rest, diags := body.PartialContent(connectionBlockSchema)
	if content == nil || len(content.Blocks) == 0 {
		return nil, rest, diags
	}
	for _, extra := range content.Blocks[1:] {
		diags = diags.Append(inContext(errorf(extra.DefRange, "Duplicate connection block",
			"A host has at most one connection block; the first is at %s.", SourceOf(content.Blocks[0].DefRange)), extra.DefRange))
	}
	return content.Blocks[0], rest, diags
}

// pendingBastion is a `bastion = host.NAME` still to resolve: hosts are
// decoded one by one, so the named host may come later.
type pendingBastion struct {
	from *Host
	name string
	rng  hcl.Range
}

// decodeConnection decodes a host's connection block. A bastion given as
// a host reference is returned to be resolved once every host is known.
func decodeConnection(b *hcl.Block, h *Host, s *scope) (*Connection, *pendingBastion, hcl.Diagnostics) {
	var spec connectionSpec
	diags := decodeSpec(b.Body, &spec)
	c := &Connection{Type: "ssh", Port: 22, User: "root", DeclRange: b.DefRange}

	for _, pw := range []struct {
		expr hcl.Expression
		attr string
	}{{spec.Password, "password"}, {spec.BastionPassword, "bastion_password"}} {
		if present(pw.expr) {
			diags = diags.Append(errorf(pw.expr.Range(), "Passwords are not supported",
				"%s is not supported: a password in a configuration file ends up in version control and CI logs. Use private_key = \"~/.ssh/id_ed25519\" (a key file) or leave it out to use the ssh-agent's keys (SSH_AUTH_SOCK).", pw.attr))
		}
	}

	if t, st, d := s.str(spec.Type, "type"); st == valid {
		if t != "ssh" {
			diags = diags.Append(errorf(spec.Type.Range(), "Unsupported connection type",
				"type must be \"ssh\" (the only transport); got %q. WinRM is not supported.", t))
		}
	} else {
		diags = append(diags, d...)
	}
	diags = append(diags, decodeEndpointAttrs(s, spec.Host, spec.Port, spec.User, spec.PrivateKey, spec.KnownHosts, c, "")...)
	if v, st, d := s.boolean(spec.Sudo, "sudo"); st == valid {
		c.Sudo = v
	} else {
		diags = append(diags, d...)
	}
	if v, st, d := s.duration(spec.Timeout, "timeout"); st == valid {
		c.Timeout = v
	} else {
		diags = append(diags, d...)
	}

	inline := []hcl.Expression{spec.BastionHost, spec.BastionPort, spec.BastionUser, spec.BastionPrivateKey, spec.BastionKnownHosts}
	var inlineSet hcl.Expression
	for _, e := range inline {
		if present(e) {
			inlineSet = e
			break
		}
	}
	var pending *pendingBastion
	switch {
	case present(spec.Bastion) && inlineSet != nil:
		diags = diags.Append(inContext(errorf(inlineSet.Range(), "Conflicting attributes",
			"bastion names a host whose connection is the jump; the bastion_* attributes declare one inline. Use one or the other."), spec.Bastion.Range()))
	case present(spec.Bastion):
		tr, d := hcl.AbsTraversalForExpr(spec.Bastion)
		name := traversalName(tr)
		if d.HasErrors() || len(tr) != 2 || tr.RootName() != rootHost || name == "" {
			diags = diags.Append(errorf(spec.Bastion.Range(), "Invalid host reference",
				"bastion must be a reference to a host with a connection block, like host.jump (in JSON syntax, the string \"host.jump\")."))
		} else {
			pending = &pendingBastion{from: h, name: name, rng: spec.Bastion.Range()}
		}
	case inlineSet != nil:
		bc := &Connection{Type: "ssh", Port: 22, User: c.User, PrivateKey: c.PrivateKey, KnownHosts: c.KnownHosts, Timeout: c.Timeout, DeclRange: b.DefRange}
		diags = append(diags, decodeEndpointAttrs(s, spec.BastionHost, spec.BastionPort, spec.BastionUser, spec.BastionPrivateKey, spec.BastionKnownHosts, bc, "bastion_")...)
		if bc.Host == "" {
			diags = diags.Append(inContext(errorf(b.DefRange, "Missing bastion_host",
				"The bastion_* attributes need bastion_host, the jump host's address."), inlineSet.Range()))
		}
		c.Bastion = bc
	}
	if c.Host == "" && len(h.Addresses) > 0 {
		c.Host = h.Addresses[0].String()
	}
	return c, pending, diags
}

// decodeEndpointAttrs decodes host, port, user, private_key and
// known_hosts (with prefix "bastion_" for the inline jump host).
func decodeEndpointAttrs(s *scope, hostE, portE, userE, keyE, khE hcl.Expression, c *Connection, prefix string) hcl.Diagnostics {
	var diags hcl.Diagnostics
	if v, st, d := s.str(hostE, prefix+"host"); st == valid {
		if strings.TrimSpace(v) == "" || strings.ContainsAny(v, " \t\n/@") {
			diags = diags.Append(errorf(hostE.Range(), "Invalid "+prefix+"host",
				"%s must be an address or a DNS name (no user@, no port: use user and port); got %q.", prefix+"host", v))
		} else {
			c.Host = strings.Trim(v, "[]")
		}
	} else {
		diags = append(diags, d...)
	}
	if v, st, d := s.integer(portE, prefix+"port", 1, 65535); st == valid {
		c.Port = v
	} else {
		diags = append(diags, d...)
	}
	if v, st, d := s.str(userE, prefix+"user"); st == valid {
		if v == "" || strings.ContainsAny(v, " \t\n@:/") {
			diags = diags.Append(errorf(userE.Range(), "Invalid "+prefix+"user", "%s must be a user name; got %q.", prefix+"user", v))
		} else {
			c.User = v
		}
	} else {
		diags = append(diags, d...)
	}
	if v, st, d := s.keyPath(keyE, prefix+"private_key"); st == valid {
		c.PrivateKey = v
	} else {
		diags = append(diags, d...)
	}
	if v, st, d := s.keyPath(khE, prefix+"known_hosts"); st == valid {
		c.KnownHosts = v
	} else {
		diags = append(diags, d...)
	}
	return diags
}

// keyPath decodes a file path that may start with "~/" (kept: the home
// directory is that of whoever runs portcheck, found when the file is
// read). Anything that looks like key material rather than a path is
// refused without echoing it.
func (s *scope) keyPath(expr hcl.Expression, attr string) (string, state, hcl.Diagnostics) {
	v, st, diags := s.str(expr, attr)
	if st != valid {
		return v, st, diags
	}
	if strings.Contains(v, "PRIVATE KEY") || strings.ContainsRune(v, '\n') {
		return "", invalid, append(diags, errorf(expr.Range(), "Invalid "+attr,
			"%s is the path of a key file, not the key itself (which would then sit in the configuration): write private_key = \"~/.ssh/id_ed25519\" instead of file(...).", attr))
	}
	if v == "" {
		return "", invalid, append(diags, errorf(expr.Range(), "Invalid "+attr, "%s must not be empty; leave it out for the default.", attr))
	}
	if v == "~" || strings.HasPrefix(v, "~/") {
		return v, valid, diags
	}
	return s.path(expr, attr)
}

// present reports whether an optional attribute was written.
func present(expr hcl.Expression) bool {
	if expr == nil {
		return false
	}
	v, d := expr.Value(nil)
	return d.HasErrors() || !v.IsNull()
}

// resolveBastions points each `bastion = host.NAME` at that host's
// connection, once every host is decoded. A bastion without a connection,
// a host that is its own bastion or a cycle of jumps is an error.
func (l *loader) resolveBastions(pending []*pendingBastion) hcl.Diagnostics {
	var diags hcl.Diagnostics
	for _, p := range pending {
		jump, ok := l.hosts[p.name]
		switch {
		case !ok:
			diags = diags.Append(undeclaredDiag(rootHost, p.name, p.rng))
		case jump.Connection == nil:
			diags = diags.Append(errorf(p.rng, "Bastion without a connection",
				"host.%s (declared at %s) has no connection block, so it cannot be a jump host: give it one.", p.name, SourceOf(jump.DeclRange)))
		case p.from.Connection != nil:
			p.from.Connection.Bastion = jump.Connection
			p.from.Connection.BastionHostName = p.name
		}
	}
	// Cycles: follow each chain; more jumps than hosts means a loop.
	for _, p := range pending {
		c := p.from.Connection
		for n := 0; c != nil; n++ {
			if n > len(l.hosts) {
				diags = diags.Append(errorf(p.rng, "Bastion loop",
					"The jump hosts starting at host.%s lead back to themselves; a chain of bastions must end at a host reached directly.", p.from.Name))
				// Break the loop so later users of the configuration cannot spin.
				p.from.Connection.Bastion = nil
				break
			}
			c = c.Bastion
		}
	}
	return diags
}

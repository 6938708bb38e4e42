// Package sshconn is portcheck's SSH transport: a connection to a host
// declared with a `connection` block, through its chain of bastions, with
// the host keys verified against known_hosts (never trusted on first use),
// key or ssh-agent authentication, and remote commands bounded by a
// context that kills them when it ends. It only connects and runs what it
// is told; what is run is the collector's business.
package sshconn

import (
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"golang.org/x/crypto/ssh"
	"golang.org/x/crypto/ssh/agent"

	"github.com/portcheck/portcheck/config"
)

// DialFunc opens the TCP connection to the first hop.
type DialFunc func(ctx context.Context, network, addr string) (net.Conn, error)

// Options tune how connections are made.
type Options struct {
	// Dial opens the first hop's TCP connection; nil = a net.Dialer.
	// Tests dial from a lab namespace with it.
	Dial DialFunc
	// Home is the directory "~/" stands for in key and known_hosts paths;
	// "" = the user's home directory.
	Home string
	// AgentSocket is the ssh-agent's socket when no private_key is given;
	// "" = $SSH_AUTH_SOCK.
	AgentSocket string
}

// Conn is an open SSH connection to one host (through its bastions).
type Conn struct {
	cfg     *config.Connection
	client  *ssh.Client
	closers []func() error // the target's client, then the bastions', agents
}

// Resolved is a connection block with its defaults applied: port 22,
// user root, ~/.ssh/known_hosts, the timeout.
func Resolved(c *config.Connection) *config.Connection {
	r := *c
	if r.Port == 0 {
		r.Port = 22
	}
	if r.User == "" {
		r.User = "root"
	}
	if r.KnownHosts == "" {
		r.KnownHosts = "~/.ssh/known_hosts"
	}
	if r.Timeout <= 0 {
		r.Timeout = config.DefaultConnectionTimeout
	}
	if r.Bastion != nil {
		r.Bastion = Resolved(r.Bastion)
	}
	return &r
}

// Origin is how facts obtained over c are labelled: "ssh:user@host:port".
func Origin(c *config.Connection) string { return "ssh:" + Resolved(c).Target() }

// Dial connects to c's host through its bastions. The connection's timeout
// bounds each hop's TCP connect and SSH handshake; ctx ends it early.
func Dial(ctx context.Context, c *config.Connection, opts Options) (*Conn, error) {
	c = Resolved(c)
	if c.Type != "" && c.Type != "ssh" {
		return nil, fmt.Errorf("connection type %q is not supported (only ssh)", c.Type)
	}
	if c.Host == "" {
		return nil, fmt.Errorf("connection has no host (and the host declares no address)")
	}
	if opts.Dial == nil {
		opts.Dial = (&net.Dialer{}).DialContext
	}
	if opts.Home == "" {
		opts.Home, _ = os.UserHomeDir()
	}
	if opts.AgentSocket == "" {
		opts.AgentSocket = os.Getenv("SSH_AUTH_SOCK")
	}
	conn := &Conn{cfg: c}
	client, err := conn.hop(ctx, c, opts, 0)
	if err != nil {
		conn.Close()
		return nil, err
	}
	conn.client = client
	return conn, nil
}

// maxHops bounds a chain of bastions (config rejects loops; this is a
// second guard).
const maxHops = 8

// hop dials c, through its bastion's client when it has one.
func (conn *Conn) hop(ctx context.Context, c *config.Connection, opts Options, depth int) (*ssh.Client, error) {
	if depth > maxHops {
		return nil, fmt.Errorf("more than %d bastions in a chain", maxHops)
	}
	target := c.Target()
	addr := net.JoinHostPort(c.Host, strconv.Itoa(c.Port))
	ctx, cancel := context.WithTimeout(ctx, c.Timeout)
	defer cancel()

	var via string
	dial := opts.Dial
	if c.Bastion != nil {
		bc, err := conn.hop(ctx, c.Bastion, opts, depth+1)
		if err != nil {
			return nil, err
		}
		via = " through bastion " + c.Bastion.Target()
		dial = bc.DialContext
	}
	auth, closeAuth, err := authMethods(c, opts)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", target, err)
	}
	if closeAuth != nil {
		conn.closers = append(conn.closers, closeAuth)
	}
	hk, err := newHostKeys(c, opts.Home, via != "")
	if err != nil {
		return nil, fmt.Errorf("%s: %w", target, err)
	}

	tcp, err := dial(ctx, "tcp", addr)
	if err != nil {
		if ctx.Err() == context.DeadlineExceeded {
			return nil, fmt.Errorf("%s: no TCP connection%s within %v (timeout): the host is down or a firewall drops the packets", target, via, c.Timeout)
		}
		return nil, fmt.Errorf("%s: cannot connect%s: %w", target, via, err)
	}
	// The handshake is bounded by the same deadline: a host that accepts
	// TCP and never speaks SSH must not hold the run.
	deadline, _ := ctx.Deadline()
	tcp.SetDeadline(deadline)
	stop := context.AfterFunc(ctx, func() { tcp.Close() })
	cc, chans, reqs, err := ssh.NewClientConn(tcp, addr, &ssh.ClientConfig{
		User:              c.User,
		Auth:              auth,
		HostKeyCallback:   hk.callback,
		HostKeyAlgorithms: hk.algorithms(addr, tcp.RemoteAddr()),
		Timeout:           c.Timeout,
	})
	if !stop() || err != nil {
		tcp.Close()
		switch {
		case hk.err != nil:
			return nil, hk.err
		case ctx.Err() == context.DeadlineExceeded || isTimeout(err):
			return nil, fmt.Errorf("%s: no SSH handshake%s within %v (timeout): the port accepts TCP but does not speak SSH, or the network stalls", target, via, c.Timeout)
		case ctx.Err() != nil:
			return nil, fmt.Errorf("%s: %w", target, ctx.Err())
		case err != nil && strings.Contains(err.Error(), "unable to authenticate"):
			return nil, fmt.Errorf("%s refused the key (%s): add its public key to %s's authorized_keys there; passwords are not supported", target, keyOrigin(c), c.User)
		case err != nil:
			return nil, fmt.Errorf("%s: SSH handshake%s: %w", target, via, err)
		}
		return nil, fmt.Errorf("%s: %w", target, context.Canceled)
	}
	tcp.SetDeadline(time.Time{})
	client := ssh.NewClient(cc, chans, reqs)
	conn.closers = append(conn.closers, client.Close)
	return client, nil
}

func isTimeout(err error) bool {
	var ne net.Error
	return errors.As(err, &ne) && ne.Timeout()
}

// keyOrigin names where the keys came from: a path, never key material.
func keyOrigin(c *config.Connection) string {
	if c.PrivateKey != "" {
		return "private_key " + c.PrivateKey
	}
	return "the ssh-agent's keys"
}

// authMethods is the key of private_key, or the agent's keys.
func authMethods(c *config.Connection, opts Options) ([]ssh.AuthMethod, func() error, error) {
	if c.PrivateKey != "" {
		path := expandHome(c.PrivateKey, opts.Home)
		b, err := os.ReadFile(path)
		if err != nil {
			return nil, nil, fmt.Errorf("private_key: %w", pathErr(err))
		}
		signer, err := ssh.ParsePrivateKey(b)
		clear(b)
		var missing *ssh.PassphraseMissingError
		switch {
		case errors.As(err, &missing):
			return nil, nil, fmt.Errorf("private_key %s is protected by a passphrase, which portcheck does not ask for: load it into an ssh-agent (ssh-add %s) and leave private_key out", c.PrivateKey, c.PrivateKey)
		case err != nil:
			// The parser's message names no key material.
			return nil, nil, fmt.Errorf("private_key %s is not a private key portcheck can read: %v", c.PrivateKey, err)
		}
		return []ssh.AuthMethod{ssh.PublicKeys(signer)}, nil, nil
	}
	if opts.AgentSocket == "" {
		return nil, nil, errors.New("no private_key and no ssh-agent (SSH_AUTH_SOCK is not set): set private_key = \"~/.ssh/id_ed25519\" or start an agent and ssh-add the key")
	}
	ac, err := net.Dial("unix", opts.AgentSocket)
	if err != nil {
		return nil, nil, fmt.Errorf("no private_key, and the ssh-agent at SSH_AUTH_SOCK cannot be reached: %v", err)
	}
	return []ssh.AuthMethod{ssh.PublicKeysCallback(agent.NewClient(ac).Signers)}, ac.Close, nil
}

// pathErr keeps an *os.PathError's path and reason.
func pathErr(err error) error {
	var pe *os.PathError
	if errors.As(err, &pe) {
		return fmt.Errorf("%s: %v", pe.Path, pe.Err)
	}
	return err
}

func expandHome(p, home string) string {
	if p == "~" {
		return home
	}
	if rest, ok := strings.CutPrefix(p, "~/"); ok {
		return filepath.Join(home, rest)
	}
	return p
}

// Target is "user@host:port".
func (c *Conn) Target() string { return c.cfg.Target() }

// Origin is "ssh:user@host:port".
func (c *Conn) Origin() string { return "ssh:" + c.cfg.Target() }

// Config is the resolved connection block.
func (c *Conn) Config() *config.Connection { return c.cfg }

// Close closes the connection and its bastions' (harmless twice).
func (c *Conn) Close() error {
	var first error
	for i := len(c.closers) - 1; i >= 0; i-- {
		if err := c.closers[i](); err != nil && first == nil && !errors.Is(err, net.ErrClosed) {
			first = err
		}
	}
	c.closers = nil
	return first
}

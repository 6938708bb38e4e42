package sshconn

import (
	"errors"
	"fmt"
	"net"
	"os"
	"strconv"

	"golang.org/x/crypto/ssh"
	"golang.org/x/crypto/ssh/knownhosts"

	"github.com/portcheck/portcheck/config"
)

// hostKeys verifies a server's host key against known_hosts and keeps
// the reason a key was refused, in words an operator can act on.
type hostKeys struct {
	c          *config.Connection
	file       string // known_hosts, ~ expanded
	check      ssh.HostKeyCallback
	viaBastion bool
	err        error // why the key was refused
}

func newHostKeys(c *config.Connection, home string, viaBastion bool) (*hostKeys, error) {
	file := expandHome(c.KnownHosts, home)
	if _, err := os.Stat(file); err != nil {
		if errors.Is(err, os.ErrNotExist) {
			return nil, fmt.Errorf("known_hosts %s does not exist, so no host key can be verified (there is no trust on first use): %s", file, acceptHint(c, file, viaBastion))
		}
		return nil, fmt.Errorf("known_hosts: %w", pathErr(err))
	}
	check, err := knownhosts.New(file)
	if err != nil {
		return nil, fmt.Errorf("known_hosts %s: %v", file, err)
	}
	return &hostKeys{c: c, file: file, check: check, viaBastion: viaBastion}, nil
}

// acceptHint says how to add a host's key after checking it.
func acceptHint(c *config.Connection, file string, viaBastion bool) string {
	where := ""
	if viaBastion {
		where = " (run it where the host is reachable, e.g. on the bastion, and append its output here)"
	}
	return fmt.Sprintf("compare the host's key fingerprint out of band (on its console: ssh-keygen -lf /etc/ssh/ssh_host_ed25519_key.pub), then add it: ssh-keyscan -p %d %s >> %s%s",
		c.Port, c.Host, file, where)
}

func (h *hostKeys) callback(hostname string, remote net.Addr, key ssh.PublicKey) error {
	err := h.check(hostname, remote, key)
	if err == nil {
		return nil
	}
	target := h.c.Target()
	fp := key.Type() + " " + ssh.FingerprintSHA256(key)
	var ke *knownhosts.KeyError
	var re *knownhosts.RevokedError
	switch {
	case errors.As(err, &re):
		h.err = fmt.Errorf("%s: host key %s is marked @revoked in %s:%d: refusing to connect", target, fp, re.Revoked.Filename, re.Revoked.Line)
	case errors.As(err, &ke) && len(ke.Want) == 0:
		h.err = fmt.Errorf("%s: host key %s is not in %s (unknown host; there is no trust on first use): %s", target, fp, h.file, acceptHint(h.c, h.file, h.viaBastion))
	case errors.As(err, &ke):
		k := ke.Want[0]
		h.err = fmt.Errorf("%s: HOST KEY CHANGED: the server offers %s but %s:%d holds %s %s for it. Someone may be intercepting the connection, or the host was reinstalled: verify the new key out of band before replacing line %d (ssh-keygen -R %s -f %s)",
			target, fp, k.Filename, k.Line, k.Key.Type(), ssh.FingerprintSHA256(k.Key), k.Line, knownhosts.Normalize(net.JoinHostPort(h.c.Host, strconv.Itoa(h.c.Port))), k.Filename)
	default:
		h.err = fmt.Errorf("%s: verifying the host key %s: %v", target, fp, err)
	}
	return h.err
}

// algorithms are the host key algorithms of the keys known_hosts holds
// for addr, so the server is asked for a key that can be verified (a
// server with ed25519 and rsa keys would otherwise offer one the file does
// not hold and look "changed"). nil = the library's defaults (unknown host).
func (h *hostKeys) algorithms(addr string, remote net.Addr) []string {
	err := h.check(addr, remote, probeKey{})
	var ke *knownhosts.KeyError
	if !errors.As(err, &ke) || len(ke.Want) == 0 {
		return nil
	}
	var out []string
	seen := map[string]bool{}
	add := func(a string) {
		if !seen[a] {
			seen[a] = true
			out = append(out, a)
		}
	}
	for _, k := range ke.Want {
		switch t := k.Key.Type(); t {
		case ssh.KeyAlgoRSA:
			add(ssh.KeyAlgoRSASHA512)
			add(ssh.KeyAlgoRSASHA256)
			add(ssh.KeyAlgoRSA)
		default:
			add(t)
		}
	}
	return out
}

// probeKey is a key no known_hosts line holds, to list the known ones.
type probeKey struct{}

func (probeKey) Type() string                        { return "portcheck-probe" }
func (probeKey) Marshal() []byte                     { return []byte("portcheck-probe") }
func (probeKey) Verify([]byte, *ssh.Signature) error { return errors.New("probe key") }

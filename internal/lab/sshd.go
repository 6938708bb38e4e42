package lab

import (
	"crypto/ed25519"
	"crypto/rand"
	"encoding/pem"
	"fmt"
	"net"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"

	"golang.org/x/crypto/ssh"
	"golang.org/x/crypto/ssh/knownhosts"

	"github.com/portcheck/portcheck/internal/netns"
)

// Debian's real OpenSSH server (openssh-server), run in the foreground in
// a lab namespace with its own configuration, host key, pid file and log
// in a temp dir: nothing under /etc/ssh is read or written, no service is
// started, and the daemon dies with the test.

// SSHKey is an ed25519 key pair made by the test, its private half in an
// OpenSSH key file (mode 0600) under the test's temp dir.
type SSHKey struct {
	Path   string
	Signer ssh.Signer
}

// NewSSHKey makes a key; a non-empty passphrase encrypts the file.
func NewSSHKey(t testing.TB, passphrase string) *SSHKey {
	t.Helper()
	_, priv, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		t.Fatalf("lab: %v", err)
	}
	var blk *pem.Block
	if passphrase == "" {
		blk, err = ssh.MarshalPrivateKey(priv, "portcheck lab")
	} else {
		blk, err = ssh.MarshalPrivateKeyWithPassphrase(priv, "portcheck lab", []byte(passphrase))
	}
	if err != nil {
		t.Fatalf("lab: %v", err)
	}
	signer, err := ssh.NewSignerFromKey(priv)
	if err != nil {
		t.Fatalf("lab: %v", err)
	}
	path := filepath.Join(t.TempDir(), "id_ed25519")
	if err := os.WriteFile(path, pem.EncodeToMemory(blk), 0o600); err != nil {
		t.Fatalf("lab: %v", err)
	}
	return &SSHKey{Path: path, Signer: signer}
}

// Public is the public half.
func (k *SSHKey) Public() ssh.PublicKey { return k.Signer.PublicKey() }

// AuthorizedLine is the key's authorized_keys line.
func (k *SSHKey) AuthorizedLine() string {
	return strings.TrimSpace(string(ssh.MarshalAuthorizedKey(k.Public())))
}

// SSHDOptions say how an sshd runs.
type SSHDOptions struct {
	// Addr is the address sshd listens on inside the namespace (required).
	Addr netip.Addr
	// Port defaults to 22 (each namespace has its own ports).
	Port int
	// Authorized are the user keys accepted (for every user).
	Authorized []*SSHKey
	// HostKey is the server's host key; nil = a new one.
	HostKey *SSHKey
	// Path, when set, is the sessions' PATH (a remote without some tools).
	Path string
}

// SSHD is a running sshd.
type SSHD struct {
	*Server
	Addr    netip.Addr
	Port    int
	HostKey *SSHKey
	// Home is the sessions' HOME (an empty directory of the sshd's own):
	// a session neither reads the machine user's shell start-up files
	// (root's ~/.bashrc here is slow) nor leaves files in its home.
	Home string
}

// HostPort is "addr:port".
func (s *SSHD) HostPort() string { return net.JoinHostPort(s.Addr.String(), strconv.Itoa(s.Port)) }

// KnownHostsLine is the known_hosts line an operator would have for it.
func (s *SSHD) KnownHostsLine() string {
	return knownhosts.Line([]string{knownhosts.Normalize(s.HostPort())}, s.HostKey.Public())
}

// WriteKnownHosts writes a known_hosts file with lines and returns its path.
func WriteKnownHosts(t testing.TB, lines ...string) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), "known_hosts")
	writeFile(t, path, strings.Join(lines, "\n")+"\n")
	return path
}

// StartSSHD runs /usr/sbin/sshd in h: key-only authentication (no
// passwords, no keyboard-interactive, no PAM), the authorized keys of opts
// for every user, root allowed with a key. It waits until sshd accepts
// TCP and stops it on cleanup. It skips the test (fails in CI) when
// openssh-server is not installed.
func (h *Host) StartSSHD(t testing.TB, opts SSHDOptions) *SSHD {
	t.Helper()
	Require(t, "/usr/sbin/sshd")
	if !opts.Addr.IsValid() {
		t.Fatalf("lab: StartSSHD needs an address")
	}
	if opts.Port == 0 {
		opts.Port = 22
	}
	if opts.HostKey == nil {
		opts.HostKey = NewSSHKey(t, "")
	}
	privsepOnce.Do(func() { os.MkdirAll("/run/sshd", 0o755) }) // Debian's privilege separation dir
	dir := serverDir(t, "pcsshd-")
	s := &SSHD{Addr: opts.Addr, Port: opts.Port, HostKey: opts.HostKey, Home: filepath.Join(dir, "home")}
	if err := os.Mkdir(s.Home, 0o777); err != nil {
		t.Fatalf("lab: %v", err)
	}
	os.Chmod(s.Home, 0o1777) // any test user may keep its cache there
	hostKey := filepath.Join(dir, "host_ed25519")
	b, err := os.ReadFile(opts.HostKey.Path)
	if err != nil {
		t.Fatalf("lab: %v", err)
	}
	if err := os.WriteFile(hostKey, b, 0o600); err != nil {
		t.Fatalf("lab: %v", err)
	}
	var auth []string
	for _, k := range opts.Authorized {
		auth = append(auth, k.AuthorizedLine())
	}
	authFile := filepath.Join(dir, "authorized_keys")
	writeFile(t, authFile, strings.Join(auth, "\n")+"\n")
	conf := fmt.Sprintf(`ListenAddress %s
HostKey %s
PidFile %s
AuthorizedKeysFile %s
AuthenticationMethods publickey
PubkeyAuthentication yes
PasswordAuthentication no
KbdInteractiveAuthentication no
UsePAM no
PermitRootLogin prohibit-password
StrictModes no
UseDNS no
LogLevel VERBOSE
MaxSessions 64
MaxStartups 64:30:128
SetEnv HOME=%s%s
Subsystem sftp internal-sftp
`, s.HostPort(), hostKey, filepath.Join(dir, "sshd.pid"), authFile, s.Home, pathEnv(opts.Path))
	path := filepath.Join(dir, "sshd_config")
	writeFile(t, path, conf)
	// -D: foreground, -e: log to stderr (the server's log file).
	s.Server = h.startServer(t, "sshd", dir, s.HostPort(), "/usr/sbin/sshd", "-D", "-e", "-f", path)
	return s
}

func pathEnv(p string) string {
	if p == "" {
		return ""
	}
	return " PATH=" + p
}

var privsepOnce sync.Once

// ToolDir makes a directory holding only the named programs (symlinks to
// those on PATH), for an sshd's Path: a remote without the others.
func ToolDir(t testing.TB, names ...string) string {
	t.Helper()
	dir := serverDir(t, "pctools-")
	for _, n := range names {
		p, err := exec.LookPath(n)
		if err != nil {
			t.Fatalf("lab: %v", err)
		}
		if err := os.Symlink(p, filepath.Join(dir, n)); err != nil {
			t.Fatalf("lab: %v", err)
		}
	}
	return dir
}

// ListenSilent opens a TCP listener in h that accepts connections and never
// sends a byte: a host whose SSH port answers TCP but never speaks SSH.
func (h *Host) ListenSilent(t testing.TB, addr string) net.Listener {
	t.Helper()
	ln, err := netns.Listen(h.Path(), "tcp", addr)
	if err != nil {
		t.Fatalf("lab: listen %s in %s: %v", addr, h.NS, err)
	}
	var mu sync.Mutex
	var held []net.Conn
	t.Cleanup(func() {
		ln.Close()
		mu.Lock()
		defer mu.Unlock()
		for _, c := range held {
			c.Close()
		}
	})
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			mu.Lock()
			held = append(held, c)
			mu.Unlock()
		}
	}()
	return ln
}

// Bastion is a topology where a target is reached only through a jump
// host: client — bastion — target, two links, the bastion does not
// forward (no ip_forward, and an nft forward chain that drops), and
// client has no route to the target's link.
type Bastion struct {
	Client, Jump, Target *Host
	// JumpAddr is the bastion's address on the client's link, TargetAddr
	// the target's address on the bastion's link.
	JumpAddr, TargetAddr netip.Addr
}

// BastionTopology builds it.
func (l *Lab) BastionTopology() *Bastion {
	l.t.Helper()
	b := &Bastion{Client: l.Host("client"), Jump: l.Host("bastion"), Target: l.Host("target")}
	_, b.JumpAddr = l.Link(b.Client, b.Jump, fmt.Sprintf("10.%d.%d", 100+int(seq.Add(1)%100), os.Getpid()%250))
	_, b.TargetAddr = l.Link(b.Jump, b.Target, fmt.Sprintf("10.%d.%d", 100+int(seq.Add(1)%100), os.Getpid()%250))
	b.Jump.Exec("sysctl", "-qw", "net.ipv4.ip_forward=0")
	return b
}

// User creates a throw-away unprivileged login user (shell /bin/sh, home
// in a temp dir, not in sudoers) for the length of the test: sudo asks
// it for a password. The account is removed on cleanup.
func User(t testing.TB) string {
	t.Helper()
	Require(t, "useradd", "userdel")
	name := fmt.Sprintf("pclab%d_%d", os.Getpid(), seq.Add(1))
	home := serverDir(t, "pcuser-")
	// -p '*': no password, but not locked (sshd refuses locked accounts
	// even for keys); -M: the home exists already.
	out, err := exec.Command("useradd", "-M", "-d", home, "-s", "/bin/sh", "-p", "*", "-U", name).CombinedOutput()
	if err != nil {
		t.Fatalf("lab: useradd %s: %v\n%s", name, err, out)
	}
	t.Cleanup(func() {
		if out, err := exec.Command("userdel", "-f", name).CombinedOutput(); err != nil {
			t.Logf("lab: userdel %s: %v\n%s", name, err, out)
		}
	})
	return name
}

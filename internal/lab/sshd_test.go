package lab

import (
	"net"
	"strings"
	"testing"
	"time"

	"golang.org/x/crypto/ssh"
	"golang.org/x/crypto/ssh/knownhosts"

	"github.com/portcheck/portcheck/internal/netns"
)

// sshClient dials addr from the client namespace with key, verifying the
// host key against knownHosts.
func sshClient(t *testing.T, from *Host, addr, user string, key *SSHKey, knownHosts string) (*ssh.Client, error) {
	t.Helper()
	cb, err := knownhosts.New(knownHosts)
	if err != nil {
		t.Fatal(err)
	}
	c, err := netns.DialContext(t.Context(), from.Path(), &net.Dialer{Timeout: 3 * time.Second}, "tcp", addr)
	if err != nil {
		return nil, err
	}
	cfg := &ssh.ClientConfig{User: user, Auth: []ssh.AuthMethod{ssh.PublicKeys(key.Signer)}, HostKeyCallback: cb, Timeout: 3 * time.Second}
	cc, chans, reqs, err := ssh.NewClientConn(c, addr, cfg)
	if err != nil {
		c.Close()
		return nil, err
	}
	return ssh.NewClient(cc, chans, reqs), nil
}

func run(t *testing.T, c *ssh.Client, cmd string) (string, error) {
	t.Helper()
	s, err := c.NewSession()
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	out, err := s.CombinedOutput(cmd)
	return string(out), err
}

func TestSSHDKeyAuthAndHome(t *testing.T) {
	l := New(t)
	client, server := l.Pair()
	key := NewSSHKey(t, "")
	sshd := server.StartSSHD(t, SSHDOptions{Addr: server.Addr(), Authorized: []*SSHKey{key}})
	kh := WriteKnownHosts(t, sshd.KnownHostsLine())

	c, err := sshClient(t, client, sshd.HostPort(), "root", key, kh)
	if err != nil {
		t.Fatalf("dial: %v", err)
	}
	defer c.Close()
	start := time.Now()
	out, err := run(t, c, `echo "$HOME"`)
	if err != nil {
		t.Fatalf("run: %v: %s", err, out)
	}
	if got := strings.TrimSpace(out); got != sshd.Home {
		t.Errorf("HOME = %q, want the sshd's own %q", got, sshd.Home)
	}
	if d := time.Since(start); d > 2*time.Second {
		t.Errorf("a session took %v: the shell start-up files are read", d)
	}

	// Another key is refused: key-only auth, no other method offered.
	other := NewSSHKey(t, "")
	if _, err := sshClient(t, client, sshd.HostPort(), "root", other, kh); err == nil || !strings.Contains(err.Error(), "unable to authenticate") {
		t.Errorf("unknown user key: err = %v, want an authentication failure", err)
	}
}

func TestSSHDUserSudoAsksPassword(t *testing.T) {
	Require(t, "sudo")
	l := New(t)
	client, server := l.Pair()
	key := NewSSHKey(t, "")
	sshd := server.StartSSHD(t, SSHDOptions{Addr: server.Addr(), Authorized: []*SSHKey{key}})
	user := User(t)
	c, err := sshClient(t, client, sshd.HostPort(), user, key, WriteKnownHosts(t, sshd.KnownHostsLine()))
	if err != nil {
		t.Fatalf("dial as %s: %v", user, err)
	}
	defer c.Close()
	out, err := run(t, c, "id -un; sudo -n true")
	if err == nil || !strings.Contains(out, user) || !strings.Contains(out, "password is required") {
		t.Errorf("sudo -n as %s: err = %v, out = %q; want a password required", user, err, out)
	}
}

func TestBastionTopology(t *testing.T) {
	l := New(t)
	b := l.BastionTopology()
	key := NewSSHKey(t, "")
	jump := b.Jump.StartSSHD(t, SSHDOptions{Addr: b.JumpAddr, Authorized: []*SSHKey{key}})
	target := b.Target.StartSSHD(t, SSHDOptions{Addr: b.TargetAddr, Authorized: []*SSHKey{key}})
	kh := WriteKnownHosts(t, jump.KnownHostsLine(), target.KnownHostsLine())

	if c, err := netns.DialContext(t.Context(), b.Client.Path(), &net.Dialer{Timeout: time.Second}, "tcp", target.HostPort()); err == nil {
		c.Close()
		t.Fatal("client reaches the target directly; want only through the bastion")
	}
	jc, err := sshClient(t, b.Client, jump.HostPort(), "root", key, kh)
	if err != nil {
		t.Fatalf("dial bastion: %v", err)
	}
	defer jc.Close()
	conn, err := jc.Dial("tcp", target.HostPort())
	if err != nil {
		t.Fatalf("through the bastion: %v", err)
	}
	cb, _ := knownhosts.New(kh)
	cc, chans, reqs, err := ssh.NewClientConn(conn, target.HostPort(), &ssh.ClientConfig{User: "root", Auth: []ssh.AuthMethod{ssh.PublicKeys(key.Signer)}, HostKeyCallback: cb})
	if err != nil {
		t.Fatalf("target handshake through the bastion: %v", err)
	}
	tc := ssh.NewClient(cc, chans, reqs)
	defer tc.Close()
	if out, err := run(t, tc, "cat /proc/net/fib_trie >/dev/null && echo ok"); err != nil || strings.TrimSpace(out) != "ok" {
		t.Errorf("run on the target: %v %q", err, out)
	}
}

func TestListenSilentNeverSpeaks(t *testing.T) {
	l := New(t)
	client, server := l.Pair()
	ln := server.ListenSilent(t, server.Addr().String()+":22")
	c, err := netns.DialContext(t.Context(), client.Path(), &net.Dialer{Timeout: time.Second}, "tcp", ln.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	c.SetReadDeadline(time.Now().Add(300 * time.Millisecond))
	n, err := c.Read(make([]byte, 1))
	if ne, ok := err.(net.Error); n != 0 || !ok || !ne.Timeout() {
		t.Errorf("read = %d, %v; want a timeout with nothing sent", n, err)
	}
}

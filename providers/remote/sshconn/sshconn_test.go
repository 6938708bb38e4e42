package sshconn

import (
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/portcheck/portcheck/config"
	"github.com/portcheck/portcheck/internal/lab"
	"github.com/portcheck/portcheck/internal/netns"
)

func TestMain(m *testing.M) {
	lab.MaybeServe()
	os.Exit(m.Run())
}

// from dials the first hop from a lab namespace.
func from(h *lab.Host) Options {
	return Options{Dial: func(ctx context.Context, network, addr string) (net.Conn, error) {
		return netns.DialContext(ctx, h.Path(), &net.Dialer{}, network, addr)
	}, AgentSocket: "/nonexistent-agent"}
}

type fixture struct {
	client, server *lab.Host
	key            *lab.SSHKey
	sshd           *lab.SSHD
	knownHosts     string
}

func newFixture(t *testing.T) *fixture {
	t.Helper()
	l := lab.New(t)
	f := &fixture{key: lab.NewSSHKey(t, "")}
	f.client, f.server = l.Pair()
	f.sshd = f.server.StartSSHD(t, lab.SSHDOptions{Addr: f.server.Addr(), Authorized: []*lab.SSHKey{f.key}})
	f.knownHosts = lab.WriteKnownHosts(t, f.sshd.KnownHostsLine())
	return f
}

func (f *fixture) conn() *config.Connection {
	return &config.Connection{Type: "ssh", Host: f.server.Addr().String(), Port: 22, User: "root", PrivateKey: f.key.Path, KnownHosts: f.knownHosts, Timeout: 3 * time.Second}
}

func TestRunOverRealSSHD(t *testing.T) {
	f := newFixture(t)
	c, err := Dial(t.Context(), f.conn(), from(f.client))
	if err != nil {
		t.Fatalf("Dial: %v", err)
	}
	defer c.Close()
	if got, want := c.Origin(), "ssh:root@"+f.sshd.HostPort(); got != want {
		t.Errorf("Origin = %q, want %q", got, want)
	}
	out, err := c.Run(t.Context(), Command{Args: []string{"cat"}, Stdin: strings.NewReader("it's $HOME\n")})
	if err != nil || string(out) != "it's $HOME\n" {
		t.Errorf("cat: %q, %v", out, err)
	}
	_, err = c.Run(t.Context(), Command{Args: []string{"sh", "-c", "echo oops >&2; exit 3"}})
	var ce *CommandError
	if !errors.As(err, &ce) || ce.ExitStatus() != 3 || !strings.Contains(err.Error(), "oops") {
		t.Errorf("failing command: %v, want exit 3 with its stderr", err)
	}
	// Sudo as root: sudo -n works without a password.
	sc := f.conn()
	sc.Sudo = true
	c2, err := Dial(t.Context(), sc, from(f.client))
	if err != nil {
		t.Fatal(err)
	}
	defer c2.Close()
	if out, err := c2.Run(t.Context(), Command{Args: []string{"id", "-u"}, Sudo: true}); err != nil || strings.TrimSpace(string(out)) != "0" {
		t.Errorf("sudo id -u: %q, %v", out, err)
	}
}

// TestDialErrors: each way a connection fails is a clear error, in time.
func TestDialErrors(t *testing.T) {
	f := newFixture(t)
	otherHost := lab.NewSSHKey(t, "")
	wrongKH := lab.WriteKnownHosts(t, (&lab.SSHD{Addr: f.sshd.Addr, Port: 22, HostKey: otherHost}).KnownHostsLine())
	emptyKH := lab.WriteKnownHosts(t, "# nothing")
	stranger := lab.NewSSHKey(t, "")
	locked := lab.NewSSHKey(t, "secret")
	silent := f.server.ListenSilent(t, f.server.Addr().String()+":2222")
	_ = silent

	tests := []struct {
		name   string
		mod    func(c *config.Connection)
		want   []string
		within time.Duration
	}{
		{"changed host key", func(c *config.Connection) { c.KnownHosts = wrongKH },
			[]string{"HOST KEY CHANGED", "SHA256:", wrongKH + ":1", "ssh-keygen -R"}, 3 * time.Second},
		{"unknown host key", func(c *config.Connection) { c.KnownHosts = emptyKH },
			[]string{"is not in " + emptyKH, "no trust on first use", f.sshd.HostKey.Public().Type() + " SHA256:", "ssh-keyscan -p 22 " + f.server.Addr().String() + " >> " + emptyKH, "out of band"}, 3 * time.Second},
		{"missing known_hosts", func(c *config.Connection) { c.KnownHosts = filepath.Join(t.TempDir(), "none") },
			[]string{"does not exist", "ssh-keyscan -p 22"}, time.Second},
		{"refused key", func(c *config.Connection) { c.PrivateKey = stranger.Path },
			[]string{"refused the key", "private_key " + stranger.Path, "authorized_keys", "passwords are not supported"}, 3 * time.Second},
		{"passphrase key", func(c *config.Connection) { c.PrivateKey = locked.Path },
			[]string{"protected by a passphrase", "ssh-add"}, time.Second},
		{"no key, no agent", func(c *config.Connection) { c.PrivateKey = "" },
			[]string{"ssh-agent", "private_key"}, time.Second},
		{"sshd down", func(c *config.Connection) { c.Port = 2200 },
			[]string{"cannot connect", "connection refused"}, 3 * time.Second},
		{"silent TCP", func(c *config.Connection) { c.Port = 2222; c.Timeout = 700 * time.Millisecond },
			[]string{"no SSH handshake", "within 700ms", "timeout"}, 2 * time.Second},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := f.conn()
			tt.mod(c)
			start := time.Now()
			conn, err := Dial(t.Context(), c, from(f.client))
			took := time.Since(start)
			if err == nil {
				conn.Close()
				t.Fatal("Dial succeeded")
			}
			for _, w := range tt.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error %q\nlacks %q", err, w)
				}
			}
			if took > tt.within {
				t.Errorf("took %v, want within %v", took, tt.within)
			}
			b, _ := os.ReadFile(f.key.Path)
			if strings.Contains(err.Error(), "PRIVATE KEY") || strings.Contains(err.Error(), string(b[40:80])) {
				t.Errorf("error prints key material: %v", err)
			}
		})
	}
}

func TestAgentAuth(t *testing.T) {
	lab.Require(t, "ssh-agent", "ssh-add")
	f := newFixture(t)
	sock := filepath.Join(t.TempDir(), "agent.sock")
	agentCmd := exec.Command("ssh-agent", "-D", "-a", sock)
	if err := agentCmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { agentCmd.Process.Kill(); agentCmd.Wait() })
	for i := 0; ; i++ {
		if _, err := os.Stat(sock); err == nil {
			break
		}
		if i > 100 {
			t.Fatal("ssh-agent did not create its socket")
		}
		time.Sleep(20 * time.Millisecond)
	}
	add := exec.Command("ssh-add", f.key.Path)
	add.Env = append(os.Environ(), "SSH_AUTH_SOCK="+sock)
	if out, err := add.CombinedOutput(); err != nil {
		t.Fatalf("ssh-add: %v %s", err, out)
	}
	c := f.conn()
	c.PrivateKey = ""
	opts := from(f.client)
	opts.AgentSocket = sock
	conn, err := Dial(t.Context(), c, opts)
	if err != nil {
		t.Fatalf("Dial with the agent's key: %v", err)
	}
	conn.Close()
}

func TestHomeExpansion(t *testing.T) {
	f := newFixture(t)
	home := t.TempDir()
	os.MkdirAll(filepath.Join(home, ".ssh"), 0o700)
	for src, dst := range map[string]string{f.key.Path: ".ssh/id_ed25519", f.knownHosts: ".ssh/known_hosts"} {
		b, _ := os.ReadFile(src)
		os.WriteFile(filepath.Join(home, dst), b, 0o600)
	}
	c := f.conn()
	c.PrivateKey, c.KnownHosts = "~/.ssh/id_ed25519", "" // "" = ~/.ssh/known_hosts
	opts := from(f.client)
	opts.Home = home
	conn, err := Dial(t.Context(), c, opts)
	if err != nil {
		t.Fatalf("Dial with ~/ paths: %v", err)
	}
	conn.Close()
}

func TestSudoAsksPassword(t *testing.T) {
	lab.Require(t, "sudo")
	f := newFixture(t)
	c := f.conn()
	c.User, c.Sudo = lab.User(t), true
	conn, err := Dial(t.Context(), c, from(f.client))
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	_, err = conn.Run(t.Context(), Command{Args: []string{"/usr/bin/id"}, Sudo: true})
	if !errors.Is(err, ErrSudoPassword) || !strings.Contains(err.Error(), "NOPASSWD") || !strings.Contains(err.Error(), c.User+" ALL=(root) NOPASSWD: /usr/bin/id") {
		t.Errorf("err = %v, want a sudo password error naming NOPASSWD", err)
	}
	// Without sudo the same user runs commands.
	if out, err := conn.Run(t.Context(), Command{Args: []string{"id", "-un"}}); err != nil || strings.TrimSpace(string(out)) != c.User {
		t.Errorf("id -un: %q %v", out, err)
	}
}

func TestBastionOnlyRoute(t *testing.T) {
	l := lab.New(t)
	b := l.BastionTopology()
	key := lab.NewSSHKey(t, "")
	jump := b.Jump.StartSSHD(t, lab.SSHDOptions{Addr: b.JumpAddr, Authorized: []*lab.SSHKey{key}})
	target := b.Target.StartSSHD(t, lab.SSHDOptions{Addr: b.TargetAddr, Authorized: []*lab.SSHKey{key}})
	kh := lab.WriteKnownHosts(t, jump.KnownHostsLine(), target.KnownHostsLine())
	bastion := &config.Connection{Host: b.JumpAddr.String(), Port: 22, User: "root", PrivateKey: key.Path, KnownHosts: kh, Timeout: 2 * time.Second}
	c := &config.Connection{Host: b.TargetAddr.String(), Port: 22, User: "root", PrivateKey: key.Path, KnownHosts: kh, Timeout: 2 * time.Second}

	// Directly: no route.
	if conn, err := Dial(t.Context(), c, from(b.Client)); err == nil {
		conn.Close()
		t.Fatal("reached the target without the bastion")
	}
	c.Bastion = bastion
	conn, err := Dial(t.Context(), c, from(b.Client))
	if err != nil {
		t.Fatalf("Dial through the bastion: %v", err)
	}
	defer conn.Close()
	out, err := conn.Run(t.Context(), Command{Args: []string{"ip", "-brief", "addr"}})
	if err != nil || !strings.Contains(string(out), b.TargetAddr.String()) {
		t.Errorf("ip addr on the target: %q %v", out, err)
	}

	// The target's key unknown, through the bastion: the hint says where
	// to scan from.
	c.KnownHosts = lab.WriteKnownHosts(t, jump.KnownHostsLine())
	c.Bastion.KnownHosts = c.KnownHosts
	if _, err := Dial(t.Context(), c, from(b.Client)); err == nil || !strings.Contains(err.Error(), "on the bastion") {
		t.Errorf("unknown target key via bastion: %v", err)
	}
}

func TestCancelKillsRemoteCommand(t *testing.T) {
	f := newFixture(t)
	conn, err := Dial(t.Context(), f.conn(), from(f.client))
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	ctx, cancel := context.WithTimeout(t.Context(), 300*time.Millisecond)
	defer cancel()
	marker := fmt.Sprintf("317.%d", os.Getpid()) // a sleep no other process runs
	start := time.Now()
	_, err = conn.Run(ctx, Command{Args: []string{"sleep", marker}})
	if !errors.Is(err, context.DeadlineExceeded) || time.Since(start) > 2*time.Second {
		t.Fatalf("Run = %v after %v, want the context's error at once", err, time.Since(start))
	}
	for i := 0; ; i++ {
		if exec.Command("pgrep", "-f", "sleep "+marker).Run() != nil {
			break // gone
		}
		if i > 50 {
			ps, _ := exec.Command("sh", "-c", "ps -ef | grep -e 317 -e watchdog | grep -v grep").CombinedOutput()
			t.Fatalf("the remote sleep still runs 5s after the cancel:\n%s", ps)
		}
		time.Sleep(100 * time.Millisecond)
	}
	// The connection still serves.
	if _, err := conn.Run(t.Context(), Command{Args: []string{"true"}}); err != nil {
		t.Errorf("after a cancel: %v", err)
	}
}

func TestQuote(t *testing.T) {
	for in, want := range map[string]string{"abc": "abc", "": "''", "a b": "'a b'", "it's": `'it'\''s'`, "$HOME": "'$HOME'", "/x/y-1.2": "/x/y-1.2"} {
		if got := Quote(in); got != want {
			t.Errorf("Quote(%q) = %s, want %s", in, got, want)
		}
	}
}

package collector

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/portcheck/portcheck/config"
	"github.com/portcheck/portcheck/internal/lab"
	"github.com/portcheck/portcheck/internal/netns"
	"github.com/portcheck/portcheck/providers/remote/sshconn"
	"github.com/portcheck/portcheck/providers/sockets"
)

func TestMain(m *testing.M) {
	lab.MaybeServe()
	code := m.Run()
	os.RemoveAll(buildCache)
	os.Exit(code)
}

func TestParseUname(t *testing.T) {
	tests := []struct {
		in, want, err string
	}{
		{"Linux x86_64", "linux/amd64", ""},
		{"Linux aarch64\n", "linux/arm64", ""},
		{"Linux armv7l", "linux/arm", ""},
		{"Darwin arm64", "", "observes Linux only"},
		{"Linux vax", "", "not an architecture"},
		{"", "", "unexpected"},
	}
	for _, tt := range tests {
		p, err := ParseUname(tt.in)
		switch {
		case tt.err != "" && (err == nil || !strings.Contains(err.Error(), tt.err)):
			t.Errorf("ParseUname(%q) err = %v, want %q", tt.in, err, tt.err)
		case tt.err == "" && (err != nil || p.String() != tt.want):
			t.Errorf("ParseUname(%q) = %v, %v; want %s", tt.in, p, err, tt.want)
		}
	}
}

var buildCache = filepath.Join(os.TempDir(), fmt.Sprintf("pccollector-%d", os.Getpid()))

var (
	builtOnce sync.Once
	built     *Binary
	buildErr  error
)

// collectorBinary builds the collector for this machine once, through the
// Finder's own build path (the Go toolchain, the module's source).
func collectorBinary(t *testing.T) *Binary {
	t.Helper()
	builtOnce.Do(func() {
		mod, err := exec.Command("go", "env", "GOMOD").Output()
		if err != nil {
			buildErr = err
			return
		}
		f := &Finder{Executable: func() (string, error) { return "/nonexistent/portcheck", nil }, Getenv: func(string) string { return "" },
			ModuleDir: filepath.Dir(strings.TrimSpace(string(mod))), CacheDir: buildCache}
		built, buildErr = f.Find(context.Background(), Platform{"linux", runtime.GOARCH})
	})
	if buildErr != nil {
		t.Fatalf("building the collector: %v", buildErr)
	}
	return built
}

func TestFinder(t *testing.T) {
	bin := collectorBinary(t)
	here := Platform{"linux", runtime.GOARCH}
	other := Platform{"linux", "arm64"}
	if runtime.GOARCH == "arm64" {
		other = Platform{"linux", "amd64"}
	}
	dir := t.TempDir()
	exe := filepath.Join(dir, "portcheck")
	os.WriteFile(filepath.Join(dir, BinaryName+"-linux-"+runtime.GOARCH), bin.Data, 0o755)
	notELF := filepath.Join(dir, "script")
	os.WriteFile(notELF, []byte("#!/bin/sh\n"), 0o755)
	env := map[string]string{}
	f := func(path string) *Finder {
		return &Finder{Path: path, Getenv: func(k string) string { return env[k] }, Executable: func() (string, error) { return exe, nil }, ModuleDir: "/nonexistent", CacheDir: t.TempDir()}
	}
	if b, err := f("").Find(t.Context(), here); err != nil || b.SHA256 != bin.SHA256 || !strings.Contains(b.From, dir) {
		t.Errorf("next to the executable: %+v %v", b, err)
	}
	if _, err := f(bin.Path).Find(t.Context(), other); err == nil || !strings.Contains(err.Error(), "is for linux/"+runtime.GOARCH+"; the remote is "+other.String()) {
		t.Errorf("explicit binary of another arch: %v", err)
	}
	if _, err := f(notELF).Find(t.Context(), here); err == nil || !strings.Contains(err.Error(), "not a Linux (ELF) executable") {
		t.Errorf("not ELF: %v", err)
	}
	env[EnvCollector] = notELF
	if _, err := f("").Find(t.Context(), here); err == nil || !strings.Contains(err.Error(), "$"+EnvCollector) {
		t.Errorf("$%s: %v", EnvCollector, err)
	}
	delete(env, EnvCollector)
	// Another platform, nothing next to portcheck, no source to build: the
	// error says how to provide one.
	if _, err := f("").Find(t.Context(), other); err == nil || !strings.Contains(err.Error(), "GOARCH="+other.GOARCH+" go build") || !strings.Contains(err.Error(), "$"+EnvCollector) {
		t.Errorf("none for %s: %v", other, err)
	}
}

type fixture struct {
	client, server *lab.Host
	key            *lab.SSHKey
	sshd           *lab.SSHD
	kh             string
}

func newFixture(t *testing.T) *fixture {
	t.Helper()
	l := lab.New(t)
	f := &fixture{key: lab.NewSSHKey(t, "")}
	f.client, f.server = l.Pair()
	f.sshd = f.server.StartSSHD(t, lab.SSHDOptions{Addr: f.server.Addr(), Authorized: []*lab.SSHKey{f.key}})
	f.kh = lab.WriteKnownHosts(t, f.sshd.KnownHostsLine())
	return f
}

func (f *fixture) dial(t *testing.T, mod func(*config.Connection)) *sshconn.Conn {
	t.Helper()
	c := &config.Connection{Host: f.server.Addr().String(), Port: 22, User: "root", PrivateKey: f.key.Path, KnownHosts: f.kh, Timeout: 5 * time.Second}
	if mod != nil {
		mod(c)
	}
	conn, err := sshconn.Dial(t.Context(), c, sshconn.Options{Dial: func(ctx context.Context, n, a string) (net.Conn, error) {
		return netns.DialContext(ctx, f.client.Path(), &net.Dialer{}, n, a)
	}})
	if err != nil {
		t.Fatalf("dial: %v", err)
	}
	t.Cleanup(func() { conn.Close() })
	return conn
}

func TestUploadOnceAndCollect(t *testing.T) {
	bin := collectorBinary(t)
	f := newFixture(t)
	f.server.ListenTCP("tcp4", "127.0.0.1:8081")
	finder := &Finder{Path: bin.Path}

	r := &Remote{Conn: f.dial(t, nil)}
	if err := r.Prepare(t.Context(), finder); err != nil {
		t.Fatalf("Prepare: %v", err)
	}
	want := filepath.Join(f.sshd.Home, DefaultDir, "collector-"+bin.SHA256)
	// gzip is there: the upload is compressed.
	if r.Path != want || r.Uploaded == 0 || r.Uploaded >= int64(len(bin.Data))*3/5 {
		t.Errorf("first run: path %s, uploaded %d; want %s, well under %d (gzipped)", r.Path, r.Uploaded, want, len(bin.Data))
	}
	// A second run, on a new connection, uploads nothing.
	r2 := &Remote{Conn: f.dial(t, nil)}
	if err := r2.Prepare(t.Context(), finder); err != nil || r2.Uploaded != 0 || r2.Path != want {
		t.Errorf("second run: uploaded %d bytes to %s (%v); want 0", r2.Uploaded, r2.Path, err)
	}
	doc, err := r2.Collect(t.Context(), CollectOptions{Name: "web"})
	if err != nil {
		t.Fatalf("Collect: %v", err)
	}
	if doc.Host.Name != "web" || doc.Sockets == nil || !hasListener(doc.Sockets, "127.0.0.1:8081") {
		t.Errorf("document: host %q, sockets %v", doc.Host.Name, doc.Sockets)
	}

	// A cached file whose content no longer has the hash is replaced.
	if err := os.WriteFile(want, []byte("tampered"), 0o755); err != nil {
		t.Fatal(err)
	}
	r3 := &Remote{Conn: f.dial(t, nil)}
	if err := r3.Prepare(t.Context(), finder); err != nil || r3.Uploaded == 0 {
		t.Errorf("after tampering: uploaded %d (%v), want a fresh upload", r3.Uploaded, err)
	}

	removed, err := r3.Clean(t.Context())
	if err != nil || len(removed) != 1 || removed[0] != want {
		t.Errorf("Clean: %v %v, want [%s]", removed, err, want)
	}
	if _, err := os.Stat(want); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("after Clean the collector is still there: %v", err)
	}
}

// hasListener reports whether a socket table holds a TCP listener on addr.
func hasListener(t *sockets.Table, addr string) bool {
	if t == nil {
		return false
	}
	for _, s := range t.Sockets {
		if s.Protocol == "tcp" && netip.AddrPortFrom(s.Address, uint16(s.Port)).String() == addr {
			return true
		}
	}
	return false
}

func TestCollectRemoteNamespace(t *testing.T) {
	bin := collectorBinary(t)
	f := newFixture(t)
	// Another namespace on the remote machine, observed with -netns.
	other := lab.New(t).Host("other")
	other.ListenTCP("tcp4", "127.0.0.1:9099")
	r := &Remote{Conn: f.dial(t, nil)}
	if err := r.Prepare(t.Context(), &Finder{Path: bin.Path}); err != nil {
		t.Fatal(err)
	}
	doc, err := r.Collect(t.Context(), CollectOptions{Name: "db", Netns: other.NS})
	if err != nil {
		t.Fatal(err)
	}
	if !hasListener(doc.Sockets, "127.0.0.1:9099") || doc.Host.Netns == "" {
		t.Errorf("netns %s: sockets %v (netns %q)", other.NS, doc.Sockets, doc.Host.Netns)
	}
	if _, err := r.Collect(t.Context(), CollectOptions{Netns: "pclab-does-not-exist"}); err == nil || !strings.Contains(err.Error(), "-netns") {
		t.Errorf("missing remote namespace: %v", err)
	}
}

// TestUploadWithoutGzip: a remote without gzip gets the binary as is.
func TestUploadWithoutGzip(t *testing.T) {
	bin := collectorBinary(t)
	l := lab.New(t)
	client, server := l.Pair()
	key := lab.NewSSHKey(t, "")
	tools := lab.ToolDir(t, "sh", "cat", "uname", "sha256sum", "mkdir", "mv", "chmod", "rm")
	sshd := server.StartSSHD(t, lab.SSHDOptions{Addr: server.Addr(), Authorized: []*lab.SSHKey{key}, Path: tools})
	f := &fixture{client: client, server: server, key: key, sshd: sshd, kh: lab.WriteKnownHosts(t, sshd.KnownHostsLine())}
	r := &Remote{Conn: f.dial(t, nil)}
	if err := r.Prepare(t.Context(), &Finder{Path: bin.Path}); err != nil || r.Uploaded != int64(len(bin.Data)) {
		t.Fatalf("uploaded %d (%v), want %d", r.Uploaded, err, len(bin.Data))
	}
	got, err := os.ReadFile(r.Path)
	if err != nil || string(got) != string(bin.Data) {
		t.Errorf("the remote copy differs (%v)", err)
	}
}

func TestCollectSudoPassword(t *testing.T) {
	lab.Require(t, "sudo")
	bin := collectorBinary(t)
	f := newFixture(t)
	user := lab.User(t)
	r := &Remote{Conn: f.dial(t, func(c *config.Connection) { c.User, c.Sudo = user, true })}
	if err := r.Prepare(t.Context(), &Finder{Path: bin.Path}); err != nil {
		t.Fatalf("Prepare as %s: %v", user, err)
	}
	_, err := r.Collect(t.Context(), CollectOptions{})
	if !errors.Is(err, sshconn.ErrSudoPassword) || !strings.Contains(err.Error(), "NOPASSWD: "+r.Path) {
		t.Errorf("err = %v, want a sudo password error", err)
	}
}

func FuzzParseUname(f *testing.F) {
	for _, s := range []string{"Linux x86_64", "Linux aarch64\n", "Darwin arm64", "", "Linux  ", "a b c"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		p, err := ParseUname(s)
		if err == nil && (p.GOOS != "linux" || p.GOARCH == "") {
			t.Fatalf("%q: %v", s, p)
		}
	})
}

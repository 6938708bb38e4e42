// Package collector puts the portcheck-collector binary on a remote host
// (once per content hash) and runs its `collect` there over an SSH
// connection, returning the facts document it writes: the same observers
// and the same facts as a local `portcheck collect`.
package collector

import (
	"bytes"
	"compress/gzip"
	"context"
	"crypto/sha256"
	"debug/elf"
	"encoding/hex"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
)

// EnvCollector names a collector binary to upload (for the remote's
// architecture), before the one next to portcheck or a fresh build.
const EnvCollector = "PORTCHECK_COLLECTOR"

// BinaryName is the collector's file name next to portcheck, with the
// platform: portcheck-collector-linux-amd64 (or plain portcheck-collector
// when it is for that platform).
const BinaryName = "portcheck-collector"

// Platform is a remote's GOOS/GOARCH, from its `uname -sm`.
type Platform struct{ GOOS, GOARCH string }

func (p Platform) String() string { return p.GOOS + "/" + p.GOARCH }

// ParseUname maps `uname -sm` ("Linux x86_64") to Go's names. Only Linux
// is collected: the observers read netlink, nftables and /proc.
func ParseUname(s string) (Platform, error) {
	f := strings.Fields(s)
	if len(f) != 2 {
		return Platform{}, fmt.Errorf("unexpected `uname -sm` output %q", s)
	}
	if f[0] != "Linux" {
		return Platform{}, fmt.Errorf("the remote runs %s: the collector observes Linux only (sockets over netlink, nftables/iptables, /proc)", f[0])
	}
	arch, ok := map[string]string{
		"x86_64": "amd64", "amd64": "amd64", "aarch64": "arm64", "arm64": "arm64",
		"i386": "386", "i686": "386", "armv7l": "arm", "armv6l": "arm",
		"ppc64le": "ppc64le", "s390x": "s390x", "riscv64": "riscv64", "mips64": "mips64",
	}[f[1]]
	if !ok {
		return Platform{}, fmt.Errorf("the remote's machine %q is not an architecture portcheck knows", f[1])
	}
	return Platform{"linux", arch}, nil
}

var elfMachines = map[elf.Machine]string{
	elf.EM_X86_64: "amd64", elf.EM_AARCH64: "arm64", elf.EM_386: "386", elf.EM_ARM: "arm",
	elf.EM_PPC64: "ppc64le", elf.EM_S390: "s390x", elf.EM_RISCV: "riscv64", elf.EM_MIPS: "mips64",
}

// binaryPlatform reads an executable's platform from its ELF header.
func binaryPlatform(b []byte) (Platform, error) {
	f, err := elf.NewFile(bytes.NewReader(b))
	if err != nil {
		return Platform{}, fmt.Errorf("not a Linux (ELF) executable: %v", err)
	}
	arch, ok := elfMachines[f.Machine]
	if !ok {
		return Platform{}, fmt.Errorf("an ELF executable for %v, not an architecture portcheck knows", f.Machine)
	}
	return Platform{"linux", arch}, nil
}

// Binary is a collector executable and its content hash.
type Binary struct {
	Data   []byte
	SHA256 string // hex
	Path   string // its file
	From   string // where it was found, to show (the path, and how)

	gzOnce sync.Once
	gz     []byte
}

// gzipped is the binary compressed for the upload, made once.
func (b *Binary) gzipped() []byte {
	b.gzOnce.Do(func() {
		var buf bytes.Buffer
		w, _ := gzip.NewWriterLevel(&buf, gzip.BestCompression)
		w.Write(b.Data)
		w.Close()
		b.gz = buf.Bytes()
	})
	return b.gz
}

// Finder finds a collector binary for a platform, once per platform.
type Finder struct {
	// Path is an explicit binary (a flag); it must match the remote.
	Path string
	// Getenv and Executable are os.Getenv and os.Executable (tests pin them).
	Getenv     func(string) string
	Executable func() (string, error)
	// CacheDir is where a built collector goes; "" = the user cache dir.
	CacheDir string
	// ModuleDir is the portcheck module's source to build from; "" = the
	// working directory's module when it is portcheck.
	ModuleDir string

	mu    sync.Mutex
	found map[Platform]*findResult
}

type findResult struct {
	once sync.Once
	b    *Binary
	err  error
}

// Find returns a collector for p: the explicit path, else
// $PORTCHECK_COLLECTOR, else portcheck-collector-GOOS-GOARCH or
// portcheck-collector next to the running executable, else one built with
// the Go toolchain into the cache dir. None is an error saying how to
// provide one.
func (f *Finder) Find(ctx context.Context, p Platform) (*Binary, error) {
	f.mu.Lock()
	if f.found == nil {
		f.found = map[Platform]*findResult{}
	}
	r, ok := f.found[p]
	if !ok {
		r = &findResult{}
		f.found[p] = r
	}
	f.mu.Unlock()
	r.once.Do(func() { r.b, r.err = f.find(ctx, p) })
	return r.b, r.err
}

func (f *Finder) find(ctx context.Context, p Platform) (*Binary, error) {
	getenv, executable := f.Getenv, f.Executable
	if getenv == nil {
		getenv = os.Getenv
	}
	if executable == nil {
		executable = os.Executable
	}
	if f.Path != "" {
		return load(f.Path, p, "-collector")
	}
	if v := getenv(EnvCollector); v != "" {
		return load(v, p, "$"+EnvCollector)
	}
	var tried []string
	if self, err := executable(); err == nil {
		dir := filepath.Dir(self)
		for _, name := range []string{BinaryName + "-" + p.GOOS + "-" + p.GOARCH, BinaryName} {
			path := filepath.Join(dir, name)
			tried = append(tried, path)
			b, err := os.ReadFile(path)
			if err != nil {
				continue
			}
			if bp, err := binaryPlatform(b); err != nil || bp != p {
				continue // for another platform: keep looking
			}
			return newBinary(b, path, path), nil
		}
	}
	b, err := f.build(ctx, p)
	if err != nil {
		return nil, fmt.Errorf("no collector binary for %s: none given with -collector or $%s, none next to portcheck (%s), and building one failed: %v. Build it with `CGO_ENABLED=0 GOOS=%s GOARCH=%s go build -trimpath -ldflags='-s -w' -o %s-%s-%s ./cmd/portcheck-collector` and put it next to portcheck or name it in $%s",
			p, EnvCollector, strings.Join(tried, ", "), err, p.GOOS, p.GOARCH, BinaryName, p.GOOS, p.GOARCH, EnvCollector)
	}
	return b, nil
}

func load(path string, p Platform, via string) (*Binary, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("collector (%s): %v", via, err)
	}
	bp, err := binaryPlatform(b)
	if err != nil {
		return nil, fmt.Errorf("collector %s (%s): %v", path, via, err)
	}
	if bp != p {
		return nil, fmt.Errorf("collector %s (%s) is for %s; the remote is %s", path, via, bp, p)
	}
	return newBinary(b, path, path+" ("+via+")"), nil
}

func newBinary(b []byte, path, from string) *Binary {
	sum := sha256.Sum256(b)
	return &Binary{Data: b, SHA256: hex.EncodeToString(sum[:]), Path: path, From: from}
}

// build compiles the collector for p with the Go toolchain, from the
// portcheck module's source, into the cache dir.
func (f *Finder) build(ctx context.Context, p Platform) (*Binary, error) {
	goBin, err := exec.LookPath("go")
	if err != nil {
		return nil, fmt.Errorf("no Go toolchain on PATH")
	}
	mod := f.ModuleDir
	if mod == "" {
		out, err := exec.CommandContext(ctx, goBin, "list", "-m", "-f", "{{.Dir}}", "github.com/portcheck/portcheck").Output()
		if err != nil || strings.TrimSpace(string(out)) == "" {
			return nil, fmt.Errorf("the working directory is not in portcheck's source tree (go list -m: %v)", err)
		}
		mod = strings.TrimSpace(string(out))
	}
	cache := f.CacheDir
	if cache == "" {
		uc, err := os.UserCacheDir()
		if err != nil {
			return nil, err
		}
		cache = filepath.Join(uc, "portcheck")
	}
	if err := os.MkdirAll(cache, 0o755); err != nil {
		return nil, err
	}
	out := filepath.Join(cache, BinaryName+"-"+p.GOOS+"-"+p.GOARCH)
	cmd := exec.CommandContext(ctx, goBin, "build", "-trimpath", "-ldflags=-s -w", "-o", out, "./cmd/portcheck-collector")
	cmd.Dir = mod
	cmd.Env = append(os.Environ(), "CGO_ENABLED=0", "GOOS="+p.GOOS, "GOARCH="+p.GOARCH)
	if msg, err := cmd.CombinedOutput(); err != nil {
		return nil, fmt.Errorf("go build: %v: %s", err, strings.TrimSpace(string(msg)))
	}
	b, err := os.ReadFile(out)
	if err != nil {
		return nil, err
	}
	return newBinary(b, out, out+" (built from "+mod+")"), nil
}

package selinux

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"sort"
	"testing"

	"github.com/portcheck/portcheck/internal/lab"
)

// requireTools skips (fails under CI=true) without root, semanage,
// sesearch and Debian's policy store, the packages
// selinux-policy-default policycoreutils-python-utils setools.
func requireTools(t *testing.T) {
	t.Helper()
	lab.Require(t, "semanage", "sesearch")
	if err := available(""); err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatalf("%v (CI must run it)", err)
		}
		t.Skip(err)
	}
}

func TestRealPortTypes(t *testing.T) {
	requireTools(t)
	root := fakeRoot(t, "1", "SELINUX=enforcing\nSELINUXTYPE=default\n")
	tests := []struct {
		port     int
		proto    string
		domain   string
		typ, rng string
		nameBind *bool // nil: not checked
	}{
		{80, "tcp", "httpd_t", "http_port_t", "80-80", ptr(true)},
		{443, "tcp", "httpd_t", "http_port_t", "443-443", ptr(true)},
		{8080, "tcp", "httpd_t", "http_cache_port_t", "8080-8080", ptr(true)},
		{9090, "tcp", "httpd_t", "websm_port_t", "9090-9090", ptr(false)},
		{9090, "udp", "", "websm_port_t", "9090-9090", nil},
		{22, "tcp", "sshd_t", "ssh_port_t", "22-22", ptr(true)},
		{22, "tcp", "httpd_t", "ssh_port_t", "22-22", ptr(false)},
		{45678, "tcp", "", "unreserved_port_t", "1024-65535", nil},
		{600, "udp", "", "hi_reserved_port_t", "512-1023", nil},
		{7, "tcp", "", "inetd_child_port_t", "7-7", nil},
	}
	for _, tt := range tests {
		f, err := Observe(context.Background(), tt.port, tt.proto, Params{Root: root, Domain: tt.domain})
		if err != nil {
			t.Fatalf("%d/%s: %v", tt.port, tt.proto, err)
		}
		if f.PortType != tt.typ || f.PortRange != tt.rng || f.Local {
			t.Errorf("%d/%s: type %q range %q local %v, want %q %q (notes %q)", tt.port, tt.proto, f.PortType, f.PortRange, f.Local, tt.typ, tt.rng, f.Notes)
		}
		if !reflect.DeepEqual(f.NameBind, tt.nameBind) {
			t.Errorf("%d/%s %s: name_bind %v, want %v (notes %q)", tt.port, tt.proto, tt.domain, deref(f.NameBind), deref(tt.nameBind), f.Notes)
		}
	}
}

func TestRealUnknownDomain(t *testing.T) {
	requireTools(t)
	f, err := Observe(context.Background(), 80, "tcp", Params{Root: fakeRoot(t, "", "SELINUXTYPE=default\n"), Domain: "no_such_domain_t"})
	if err != nil {
		t.Fatal(err)
	}
	if f.NameBind != nil || !hasNote(f.Notes, "name_bind not checked") {
		t.Errorf("unknown domain: name_bind %v notes %q", deref(f.NameBind), f.Notes)
	}
	if f.PortType != "http_port_t" {
		t.Errorf("type %q", f.PortType)
	}
}

// TestRealLocalModification copies the store and policy to a temp root,
// adds 9090/tcp as http_port_t there with libsemanage (as `semanage port
// -m -t http_port_t -p tcp 9090` would), and checks that Observe sees the
// local entry and that the machine's own store did not change.
func TestRealLocalModification(t *testing.T) {
	requireTools(t)
	before := checksum(t, "/var/lib/selinux", "/etc/selinux")

	store := t.TempDir()
	for _, dir := range []string{"etc/selinux", "var/lib/selinux"} {
		dst := filepath.Join(store, filepath.Dir(dir))
		if err := os.MkdirAll(dst, 0o755); err != nil {
			t.Fatal(err)
		}
		if out, err := exec.Command("cp", "-a", "/"+dir, dst).CombinedOutput(); err != nil {
			t.Fatalf("cp -a /%s: %v: %s", dir, err, out)
		}
	}
	py, args, err := semanagePython()
	if err != nil {
		t.Fatal(err)
	}
	args = append(args, filepath.Join("testdata", "addport.py"), store, "http_port_t", "tcp", "9090", "9090")
	if out, err := exec.Command(py, args...).CombinedOutput(); err != nil {
		t.Fatalf("adding the local port: %v: %s", err, out)
	}

	root := fakeRoot(t, "1", "SELINUX=enforcing\nSELINUXTYPE=default\n")
	f, err := Observe(context.Background(), 9090, "tcp", Params{Root: root, StoreRoot: store, Domain: "httpd_t"})
	if err != nil {
		t.Fatal(err)
	}
	if f.PortType != "http_port_t" || !f.Local || f.PortRange != "9090-9090" || !reflect.DeepEqual(f.OtherTypes, []string{"websm_port_t"}) {
		t.Errorf("local: %+v", f)
	}
	if f.NameBind == nil || !*f.NameBind {
		t.Errorf("name_bind after the local change: %v (notes %q)", deref(f.NameBind), f.Notes)
	}
	// udp 9090 is untouched.
	f, err = Observe(context.Background(), 9090, "udp", Params{Root: root, StoreRoot: store})
	if err != nil {
		t.Fatal(err)
	}
	if f.PortType != "websm_port_t" || f.Local {
		t.Errorf("udp: %+v", f)
	}
	// The machine's store still says websm_port_t, and no file changed.
	f, err = Observe(context.Background(), 9090, "tcp", Params{Root: root})
	if err != nil {
		t.Fatal(err)
	}
	if f.PortType != "websm_port_t" || f.Local {
		t.Errorf("machine store after the test: %+v", f)
	}
	if after := checksum(t, "/var/lib/selinux", "/etc/selinux"); !reflect.DeepEqual(before, after) {
		t.Errorf("the machine's SELinux store changed:\nbefore %v\nafter  %v", before, after)
	}
}

func checksum(t *testing.T, dirs ...string) []string {
	t.Helper()
	var out []string
	for _, d := range dirs {
		err := filepath.WalkDir(d, func(p string, e fs.DirEntry, err error) error {
			if err != nil {
				return err
			}
			if !e.Type().IsRegular() {
				return nil
			}
			b, err := os.ReadFile(p)
			if err != nil {
				return err
			}
			s := sha256.Sum256(b)
			out = append(out, p+" "+hex.EncodeToString(s[:]))
			return nil
		})
		if err != nil {
			t.Fatal(err)
		}
	}
	sort.Strings(out)
	return out
}

func ptr(b bool) *bool { return &b }

func deref(b *bool) string {
	if b == nil {
		return "nil"
	}
	if *b {
		return "true"
	}
	return "false"
}

// TestRealConditionalNameBind: Debian's policy lets httpd_t bind ftp_port_t
// (21/tcp) only when the boolean httpd_enable_ftp_server is on.
func TestRealConditionalNameBind(t *testing.T) {
	requireTools(t)
	const cfg = "SELINUX=enforcing\nSELINUXTYPE=default\n"
	tests := []struct {
		name, boolFile string
		want           *bool
		note           string
	}{
		{"boolean unknown", "", nil, "httpd_enable_ftp_server"},
		{"boolean on", "1 1", ptr(true), "httpd_enable_ftp_server=true"},
		{"boolean off", "0 0", ptr(false), "setsebool -P httpd_enable_ftp_server on"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			root := fakeRoot(t, "1", cfg)
			if tt.boolFile != "" {
				write(t, filepath.Join(root, "sys/fs/selinux/booleans/httpd_enable_ftp_server"), tt.boolFile)
			}
			f, err := Observe(context.Background(), 21, "tcp", Params{Root: root, Domain: "httpd_t"})
			if err != nil {
				t.Fatal(err)
			}
			if f.PortType != "ftp_port_t" {
				t.Errorf("type %q", f.PortType)
			}
			if !reflect.DeepEqual(f.NameBind, tt.want) || !hasNote(f.Notes, tt.note) {
				t.Errorf("name_bind %v notes %q, want %v and a note with %q", deref(f.NameBind), f.Notes, deref(tt.want), tt.note)
			}
		})
	}
}

package selinux

import (
	"context"
	"os"
	"path/filepath"
	"reflect"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/portcheck/portcheck/providers"
)

// fakeRoot writes the mode input files under a temp root; "" = absent.
func fakeRoot(t *testing.T, enforce, config string) string {
	t.Helper()
	root := t.TempDir()
	if enforce != "" {
		write(t, filepath.Join(root, "sys/fs/selinux/enforce"), enforce)
	}
	if config != "" {
		write(t, filepath.Join(root, "etc/selinux/config"), config)
	}
	return root
}

func write(t *testing.T, path, s string) {
	t.Helper()
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, []byte(s), 0o644); err != nil {
		t.Fatal(err)
	}
}

func TestMode(t *testing.T) {
	const debCfg = "# This file controls the state of SELinux\nSELINUX=enforcing\nSELINUXTYPE=default\n"
	tests := []struct {
		name, enforce, config       string
		enabled                     bool
		runtime, cfgMode, policyTyp string
	}{
		{"enforcing", "1", debCfg, true, "enforcing", "enforcing", "default"},
		{"permissive runtime, enforcing config", "0", debCfg, true, "permissive", "enforcing", "default"},
		{"permissive both", "0\n", "SELINUX=permissive\nSELINUXTYPE=targeted\n", true, "permissive", "permissive", "targeted"},
		{"disabled: no selinuxfs, config enforcing", "", debCfg, false, "disabled", "enforcing", "default"},
		{"disabled in config", "", "SELINUX=disabled\nSELINUXTYPE=default\n", false, "disabled", "disabled", "default"},
		{"enforcing runtime, config says disabled", "1", "SELINUX=disabled\n", true, "enforcing", "disabled", ""},
		{"quoted and spaced, last wins", "1", "SELINUX = \"Permissive\"\n#SELINUX=enforcing\nSELINUX='enforcing'\nSELINUXTYPE=\"mls\"\n", true, "enforcing", "enforcing", "mls"},
		{"nothing at all", "", "", false, "disabled", "", ""},
		{"garbage enforce file", "x", debCfg, true, "unknown", "enforcing", "default"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var f Facts
			readMode(&f, fakeRoot(t, tt.enforce, tt.config))
			if f.Enabled != tt.enabled || f.RuntimeMode != tt.runtime || f.ConfigMode != tt.cfgMode || f.PolicyType != tt.policyTyp {
				t.Errorf("got enabled=%v runtime=%q config=%q type=%q, want %v %q %q %q (notes %q)",
					f.Enabled, f.RuntimeMode, f.ConfigMode, f.PolicyType, tt.enabled, tt.runtime, tt.cfgMode, tt.policyTyp, f.Notes)
			}
			if tt.config == "" && !hasNote(f.Notes, "etc/selinux/config") {
				t.Errorf("absent config not noted: %q", f.Notes)
			}
		})
	}
}

func hasNote(notes []string, sub string) bool {
	for _, n := range notes {
		if strings.Contains(n, sub) {
			return true
		}
	}
	return false
}

func TestDecide(t *testing.T) {
	ports := []PortCon{
		{1024, 65535, "tcp", "unreserved_port_t", false},
		{1024, 65535, "udp", "unreserved_port_t", false},
		{9090, 9090, "tcp", "websm_port_t", false},
		{9090, 9090, "udp", "websm_port_t", false},
		{9000, 9100, "tcp", "wide_port_t", false},
		{9090, 9090, "tcp", "http_port_t", false}, // merged copy of the local one
		{9090, 9090, "tcp", "http_port_t", true},
		{10001, 10010, "tcp", "http_cache_port_t", false},
	}
	tests := []struct {
		port          int
		proto         string
		typ, rng      string
		local         bool
		others        []string
		noteSubstring string
	}{
		{9090, "tcp", "http_port_t", "9090-9090", true, []string{"websm_port_t"}, ""},
		{9090, "udp", "websm_port_t", "9090-9090", false, nil, ""},
		{9095, "tcp", "wide_port_t", "9000-9100", false, nil, ""},
		{10005, "tcp", "http_cache_port_t", "10001-10010", false, nil, ""},
		{20000, "tcp", "unreserved_port_t", "1024-65535", false, nil, ""},
		{80, "tcp", "", "", false, nil, "initial SID port"},
		{9090, "sctp", "", "", false, nil, "initial SID port"},
	}
	for _, tt := range tests {
		var f Facts
		decide(&f, ports, tt.port, tt.proto)
		if f.PortType != tt.typ || f.PortRange != tt.rng || f.Local != tt.local || !reflect.DeepEqual(f.OtherTypes, tt.others) {
			t.Errorf("%d/%s: got %q %q local=%v others=%q, want %q %q %v %q", tt.port, tt.proto, f.PortType, f.PortRange, f.Local, f.OtherTypes, tt.typ, tt.rng, tt.local, tt.others)
		}
		if tt.noteSubstring != "" && !hasNote(f.Notes, tt.noteSubstring) {
			t.Errorf("%d/%s: notes %q lack %q", tt.port, tt.proto, f.Notes, tt.noteSubstring)
		}
	}
}

func TestParseSesearch(t *testing.T) {
	out := "allow httpd_t http_port_t:tcp_socket name_bind;\n"
	if u, c := parseSesearch(out); !u || c != nil {
		t.Errorf("unconditional: %v %q", u, c)
	}
	out = "allow httpd_t port_t:tcp_socket name_bind; [ httpd_can_bind_any ]:True\nallow httpd_t port_t:tcp_socket { name_bind name_connect }; [ a && b ]:True\n"
	u, c := parseSesearch(out)
	if u || len(c) != 2 {
		t.Fatalf("conditional: %v %q", u, c)
	}
	if n, w, ok := parseCond(c[0]); !ok || n != "httpd_can_bind_any" || !w {
		t.Errorf("parseCond(%q) = %q %v %v", c[0], n, w, ok)
	}
	if _, _, ok := parseCond(c[1]); ok {
		t.Errorf("parseCond(%q) accepted an expression", c[1])
	}
	if n, w, ok := parseCond("[ b ]:False"); !ok || n != "b" || w {
		t.Errorf("False branch: %q %v %v", n, w, ok)
	}
	if u, c := parseSesearch(""); u || c != nil {
		t.Errorf("empty: %v %q", u, c)
	}
}

func TestDenials(t *testing.T) {
	log := filepath.Join("testdata", "audit.log")
	at := time.Unix(1700000100, 0)
	tests := []struct {
		port  int
		proto string
		since time.Duration
		want  []string // "time perm domain target class port"
	}{
		{9090, "tcp", 10 * time.Minute, []string{
			"2023-11-14T22:13:20.123Z name_bind httpd_t websm_port_t tcp_socket 9090",
			"2023-11-14T22:13:40Z name_connect httpd_t websm_port_t tcp_socket 9090",
			"2023-11-14T22:14:20Z name_bind node_bind httpd_t websm_port_t tcp_socket 9090",
			"2023-11-14T22:14:30Z name_bind httpd_t websm_port_t tcp_socket 9090",
		}},
		{9090, "tcp", 50 * time.Second, []string{
			"2023-11-14T22:14:20Z name_bind node_bind httpd_t websm_port_t tcp_socket 9090",
			"2023-11-14T22:14:30Z name_bind httpd_t websm_port_t tcp_socket 9090",
		}},
		{9090, "tcp", 24 * time.Hour, []string{
			"2023-11-14T22:13:20.123Z name_bind httpd_t websm_port_t tcp_socket 9090",
			"2023-11-14T19:26:40Z name_bind httpd_t websm_port_t tcp_socket 9090",
			"2023-11-14T22:13:40Z name_connect httpd_t websm_port_t tcp_socket 9090",
			"2023-11-14T22:14:20Z name_bind node_bind httpd_t websm_port_t tcp_socket 9090",
			"2023-11-14T22:14:30Z name_bind httpd_t websm_port_t tcp_socket 9090",
		}},
		{9090, "udp", 10 * time.Minute, []string{"2023-11-14T22:13:30.5Z name_bind named_t websm_port_t udp_socket 9090"}},
		{8081, "tcp", 10 * time.Minute, []string{"2023-11-14T22:13:50Z name_bind httpd_t transproxy_port_t tcp_socket 8081"}},
		{443, "tcp", 24 * time.Hour, nil},
	}
	for _, tt := range tests {
		ds, err := readDenials(log, tt.port, tt.proto, at.Add(-tt.since))
		if err != nil {
			t.Fatal(err)
		}
		var got []string
		for _, d := range ds {
			got = append(got, strings.Join([]string{d.Time, d.Permission, d.Domain, d.TargetType, d.Class, itoa(d.Port)}, " "))
			if !strings.Contains(d.Line, "avc:") {
				t.Errorf("Line not kept: %q", d.Line)
			}
		}
		if !reflect.DeepEqual(got, tt.want) {
			t.Errorf("%d/%s since %v:\n got %q\nwant %q", tt.port, tt.proto, tt.since, got, tt.want)
		}
	}
}

func itoa(n int) string { return strconv.Itoa(n) }

func TestObserveDenialsAndModeOffline(t *testing.T) {
	// Observe with fake inputs; port types may or may not be readable here,
	// which only adds notes.
	root := fakeRoot(t, "1", "SELINUX=enforcing\nSELINUXTYPE=default\n")
	b, err := os.ReadFile(filepath.Join("testdata", "audit.log"))
	if err != nil {
		t.Fatal(err)
	}
	write(t, filepath.Join(root, "var/log/audit/audit.log"), string(b))
	write(t, filepath.Join(root, "proc/1234/attr/current"), "system_u:system_r:httpd_t:s0\x00")
	old := now
	now = func() time.Time { return time.Unix(1700000100, 0) }
	defer func() { now = old }()
	f, err := Observe(context.Background(), 9090, "TCP", Params{Root: root, PID: 1234, StoreRoot: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	if f.RuntimeMode != "enforcing" || f.ConfigMode != "enforcing" || !f.Enabled {
		t.Errorf("mode: %+v", f)
	}
	if f.Domain != "httpd_t" {
		t.Errorf("domain from pid: %q (notes %q)", f.Domain, f.Notes)
	}
	if len(f.Denials) != 4 {
		t.Errorf("denials: %d, want 4: %+v", len(f.Denials), f.Denials)
	}
	// An empty store root has no store: that is a note, not an error.
	if f.PortType != "" || !hasNote(f.Notes, "port types not read") {
		t.Errorf("empty store: type %q notes %q", f.PortType, f.Notes)
	}
	// No audit log is a note too.
	f, err = Observe(context.Background(), 9090, "", Params{Root: fakeRoot(t, "", ""), StoreRoot: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	if f.RuntimeMode != "disabled" || !hasNote(f.Notes, "no audit log") || !hasNote(f.Notes, "no domain") {
		t.Errorf("absent everything: %+v", f)
	}
}

func TestObserveBadArgs(t *testing.T) {
	if _, err := Observe(context.Background(), 0, "tcp", Params{}); err == nil {
		t.Error("port 0 accepted")
	}
	if _, err := Observe(context.Background(), 80, "icmp", Params{}); err == nil {
		t.Error("icmp accepted")
	}
}

func TestRegistered(t *testing.T) {
	p, ok := providers.Lookup("selinux")
	if !ok {
		t.Fatal("selinux provider not registered")
	}
	if p.Layer() != providers.LayerSELinux {
		t.Errorf("layer %v", p.Layer())
	}
	if err := p.Available(providers.Exec{}); err != nil {
		t.Logf("Available: %v", err) // the reason shown as a skip
	}
}

func TestAvailableReasons(t *testing.T) {
	t.Setenv("PATH", t.TempDir())
	err := available("")
	if err == nil || !strings.Contains(err.Error(), "semanage is not installed") || !strings.Contains(err.Error(), "apt install") {
		t.Errorf("without semanage: %v", err)
	}
	if err := HasSesearch(); err == nil || !strings.Contains(err.Error(), "setools") {
		t.Errorf("without sesearch: %v", err)
	}
}

func FuzzParseAVC(f *testing.F) {
	b, err := os.ReadFile(filepath.Join("testdata", "audit.log"))
	if err != nil {
		f.Fatal(err)
	}
	for _, l := range strings.Split(string(b), "\n") {
		f.Add(l)
	}
	f.Add("avc: denied {")
	f.Add("audit(1.:): avc: denied { } src=99999999999999999999 dest=-1")
	f.Add(`audit(1.1:1): avc: denied { x } scontext="a:b tclass=`)
	f.Fuzz(func(t *testing.T, line string) {
		d, ts, ok := ParseAVC(line)
		if !ok {
			return
		}
		if d.Port < 0 || d.Port > 65535 {
			t.Errorf("port %d", d.Port)
		}
		if ts.IsZero() && d.Time == "" {
			t.Errorf("ok without a time")
		}
		_, _ = filterDenials(strings.NewReader(line), d.Port, "tcp", time.Time{})
	})
}

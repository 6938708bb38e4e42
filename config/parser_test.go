package config

import (
	"bytes"
	"crypto/tls"
	"net/netip"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"
	"github.com/hashicorp/hcl/v2"
	"github.com/zclconf/go-cty/cty"
)

// modelOpts compares models by value: ranges are checked separately (they
// differ between native and JSON syntax by design).
var modelOpts = cmp.Options{
	cmp.Comparer(func(a, b netip.Addr) bool { return a == b }),
	cmp.Comparer(func(a, b *regexp.Regexp) bool {
		if a == nil || b == nil {
			return a == b
		}
		return a.String() == b.String()
	}),
	cmp.Comparer(func(a, b cty.Value) bool {
		if a == cty.NilVal || b == cty.NilVal {
			return a == b
		}
		return a.RawEquals(b)
	}),
	cmp.Comparer(func(a, b cty.Type) bool { return a.Equals(b) }),
	cmpopts.IgnoreTypes(hcl.Range{}),
	cmpopts.IgnoreFields(Config{}, "Files"),
	cmpopts.IgnoreFields(CloudProvider{}, "Body", "EvalContext"),
	cmpopts.IgnoreFields(SecurityGroupRule{}, "AttrRanges"),
	cmpopts.EquateEmpty(),
	cmpopts.EquateComparable(netip.Prefix{}),
}

func addrs(ss ...string) []netip.Addr {
	out := make([]netip.Addr, len(ss))
	for i, s := range ss {
		out[i] = netip.MustParseAddr(s)
	}
	return out
}

func ptr[T any](v T) *T { return &v }

func wantMinimal() *Config {
	web := &Host{Name: "web", Addresses: addrs("10.0.0.5")}
	return &Config{
		Hosts: []*Host{web},
		Endpoints: []*Endpoint{{
			Name: "web", Host: web, Ports: SinglePort(8080),
			Protocol: "tcp", State: "open", Timeout: 2 * time.Second, Retries: 1,
		}},
	}
}

func wantFull(dir string) *Config {
	web := &Host{Name: "web", Addresses: addrs("10.0.0.5", "fd00::5"), Netns: "/run/netns/srv"}
	client := &Host{Name: "client", Addresses: addrs("10.0.0.10"), Local: ptr(true)}
	box := &Host{Name: "box", Addresses: addrs("192.0.2.1"), Netns: "/proc/1234/ns/net"}
	headers := cty.MapVal(map[string]cty.Value{"X-Probe": cty.StringVal("portcheck")})
	aws := &CloudProvider{Type: "aws"} // its body is its backend's to decode
	world := []netip.Prefix{netip.MustParsePrefix("0.0.0.0/0"), netip.MustParsePrefix("::/0")}
	return &Config{
		Providers: []*CloudProvider{aws},
		SecurityGroups: []*SecurityGroup{{
			Name: "web", Provider: aws, ID: "sg-0123456789abcdef0", ManageEgress: true,
			Rules: []SecurityGroupRule{
				{Direction: "ingress", Protocol: "tcp", Ports: PortRange{443, 443}, CIDRs: world, Policy: "accept", Description: "https"},
				{Direction: "egress", Protocol: "all", Ports: PortRange{0, 65535}, CIDRs: world[:1], Policy: "accept"},
			},
		}},
		Variables: []*Variable{
			{Name: "web_port", Description: "port the web server listens on", Type: cty.Number,
				Default: cty.NumberIntVal(8080), Value: cty.NumberIntVal(8080)},
			{Name: "subnet", Type: cty.String, Default: cty.StringVal("10.0.0.0/24"), Value: cty.StringVal("10.0.0.0/24")},
			{Name: "probe_headers", Type: cty.Map(cty.String), Default: headers, Value: headers},
		},
		Hosts: []*Host{web, client, box},
		Endpoints: []*Endpoint{
			{
				Name: "web", Host: web, Address: netip.MustParseAddr("fd00::5"), Ports: SinglePort(8080),
				Protocol: "tcp", From: []*Host{client, box}, State: "open", Timeout: 3 * time.Second, Retries: 2,
				Expect: Expectations{
					Listening:    &ExpectListening{Process: "nginx", Addresses: addrs("0.0.0.0", "::")},
					Connectivity: &ExpectConnectivity{Timeout: time.Second, Retries: ptr(0)},
					HTTP: &ExpectHTTP{
						Scheme: "https", Method: "HEAD", Path: "/healthz", HostHeader: "web.example",
						Headers:         map[string]string{"X-Probe": "portcheck"},
						Status:          []int{200, 204},
						BodyRegexp:      regexp.MustCompile("ok|healthy"),
						ResponseHeaders: map[string]*regexp.Regexp{"Content-Type": regexp.MustCompile("^text/html")},
						ServerName:      "web.example",
						CAFile:          filepath.Join(dir, "certs/ca.pem"),
						Timeout:         3 * time.Second, // the endpoint's
					},
					TLS: &ExpectTLS{ServerName: "web.example", CAFile: "/etc/ssl/ca.pem", MinDaysValid: 30, MinVersion: tls.VersionTLS12, Timeout: 3 * time.Second},
					Firewall: &ExpectFirewall{
						AllowFrom: []netip.Prefix{netip.MustParsePrefix("10.0.0.0/8"), netip.MustParsePrefix("192.0.2.7/32")},
						DenyFrom:  []netip.Prefix{netip.MustParsePrefix("0.0.0.0/0")},
						Backend:   "nftables", Permanent: true,
					},
					SELinux: &ExpectSELinux{},
				},
			},
			{
				Name: "dns", Host: web, Ports: PortSpan(5300, 5310), Protocol: "udp", State: "closed",
				Timeout: 2 * time.Second, Retries: 1,
				Expect: Expectations{
					Connectivity: &ExpectConnectivity{Payload: []byte("ping\n")},
					Cloud:        &ExpectCloud{Provider: aws, Target: "i-0123456789abcdef0", Ephemeral: PortRange{1024, 65535}},
					// A UDP endpoint is traced with UDP probes.
					Path: &ExpectPath{MaxHops: 30, Mode: "udp", Rounds: 10, Timeout: time.Second},
				},
			},
			{
				Name: "grpc", Host: box, Ports: SinglePort(9090), Protocol: "tcp", State: "open",
				Timeout: 2 * time.Second, Retries: 1,
				Expect: Expectations{GRPC: &ExpectGRPC{
					Service: "my.Service", TLS: true, ServerName: "grpc.example", CAFile: filepath.Join(dir, "ca.pem"),
					Timeout: 5 * time.Second, // no timeout declared: DefaultAppTimeout
				}},
			},
			{
				Name: "redis", Host: client, Ports: SinglePort(6379), Protocol: "tcp", State: "open",
				Timeout: 2 * time.Second, Retries: 1,
				Expect: Expectations{Banner: &ExpectBanner{Send: "PING\r\n", Match: regexp.MustCompile(`^\+PONG`), Timeout: 5 * time.Second}},
			},
		},
	}
}

func TestValidFixtures(t *testing.T) {
	tests := []struct {
		file string
		want *Config
	}{
		{"testdata/valid/minimal.pc.hcl", wantMinimal()},
		{"testdata/valid/minimal.pc.json", wantMinimal()},
		{"testdata/valid/full.pc.hcl", wantFull("testdata/valid")},
		{"testdata/valid/full.pc.json", wantFull("testdata/valid")},
	}
	for _, tt := range tests {
		t.Run(filepath.Base(tt.file), func(t *testing.T) {
			cfg, diags := Load(tt.file, Options{})
			if len(diags) > 0 {
				t.Fatalf("Load: %s", diagText(cfg, diags))
			}
			if diff := cmp.Diff(tt.want, cfg, modelOpts); diff != "" {
				t.Errorf("model (-want +got):\n%s", diff)
			}
			if _, ok := cfg.Files[tt.file]; !ok {
				t.Errorf("Files lacks %s: %v", tt.file, cfg.Files)
			}
		})
	}
}

// TestDeclRanges checks that results can say where things were declared.
func TestDeclRanges(t *testing.T) {
	const file = "testdata/valid/full.pc.hcl"
	cfg, diags := Load(file, Options{})
	if diags.HasErrors() {
		t.Fatal(diagText(cfg, diags))
	}
	web := cfg.Endpoints[0]
	tests := []struct {
		what string
		got  hcl.Range
		line int
	}{
		{"variable web_port", cfg.Variables[0].DeclRange, 3},
		{"host web", cfg.Hosts[0].DeclRange, 30},
		{"endpoint web", web.DeclRange, 45},
		{"endpoint web port", web.PortsRange, 47},
		{"endpoint web state", web.StateRange, 51},
		{"listening", web.Expect.Listening.DeclRange, 56},
		{"connectivity", web.Expect.Connectivity.DeclRange, 60},
		{"http", web.Expect.HTTP.DeclRange, 64},
		{"tls", web.Expect.TLS.DeclRange, 82},
		{"firewall", web.Expect.Firewall.DeclRange, 88},
		{"selinux", web.Expect.SELinux.DeclRange, 93},
		{"endpoint grpc state defaulted to the block", cfg.Endpoints[2].StateRange, 115},
	}
	for _, tt := range tests {
		if want := file + ":" + strconv.Itoa(tt.line); SourceOf(tt.got) != want {
			t.Errorf("%s declared at %s, want %s", tt.what, SourceOf(tt.got), want)
		}
	}

}

func TestLoadDirectory(t *testing.T) {
	cfg, diags := Load("testdata/valid/dir", Options{})
	if len(diags) > 0 {
		t.Fatal(diagText(cfg, diags))
	}
	lb := &Host{Name: "lb", Addresses: addrs("203.0.113.10")}
	want := &Config{
		Variables: []*Variable{{Name: "port", Type: cty.Number, Default: cty.NumberIntVal(443), Value: cty.NumberIntVal(443)}},
		Hosts:     []*Host{lb},
		Endpoints: []*Endpoint{{
			Name: "lb_https", Host: lb, Ports: SinglePort(443), Protocol: "tcp", State: "open",
			Timeout: 2 * time.Second, Retries: 1,
			Expect: Expectations{TLS: &ExpectTLS{MinDaysValid: 14, Timeout: 5 * time.Second}},
		}},
	}
	if diff := cmp.Diff(want, cfg, modelOpts); diff != "" {
		t.Errorf("model (-want +got):\n%s", diff)
	}
	var names []string
	for name := range cfg.Files {
		names = append(names, name)
	}
	wantNames := []string{"testdata/valid/dir/a_hosts.pc.hcl", "testdata/valid/dir/b_endpoints.pc.json"}
	if diff := cmp.Diff(wantNames, names, cmpopts.SortSlices(func(a, b string) bool { return a < b })); diff != "" {
		t.Errorf("files read (-want +got):\n%s", diff)
	}
}

func TestLoadPathErrors(t *testing.T) {
	empty := t.TempDir()
	tests := []struct {
		path    string
		summary string
	}{
		{filepath.Join(empty, "missing"), "Failed to read configuration"},
		{empty, "No configuration files"},
	}
	for _, tt := range tests {
		cfg, diags := Load(tt.path, Options{})
		if cfg == nil {
			t.Fatalf("Load(%s) returned a nil Config", tt.path)
		}
		if len(diags) != 1 || diags[0].Summary != tt.summary {
			t.Errorf("Load(%s) = %v, want one %q", tt.path, diags, tt.summary)
		}
	}
}

// TestPartialConfig checks that a configuration with errors still returns
// what decoded, so the caller can report alongside the diagnostics.
func TestPartialConfig(t *testing.T) {
	cfg, diags := LoadSources(map[string][]byte{"web.pc.hcl": []byte(`
host "web" {
  address = "10.0.0.5"
}
endpoint "ok" {
  host = host.web
  port = 80
}
endpoint "bad" {
  host     = host.web
  port     = 81
  protocol = "sctp"
}
`)}, Options{})
	if !diags.HasErrors() {
		t.Fatal("want an error for protocol")
	}
	if len(cfg.Hosts) != 1 || len(cfg.Endpoints) != 2 || cfg.Endpoints[1].Protocol != "tcp" {
		t.Errorf("partial config: %d hosts, %d endpoints", len(cfg.Hosts), len(cfg.Endpoints))
	}
}

func TestLoadSourcesEquivalentSyntaxes(t *testing.T) {
	native, err := os.ReadFile("testdata/valid/full.pc.hcl")
	if err != nil {
		t.Fatal(err)
	}
	js, err := os.ReadFile("testdata/valid/full.pc.json")
	if err != nil {
		t.Fatal(err)
	}
	a, da := LoadSources(map[string][]byte{"full.pc.hcl": native}, Options{})
	b, db := LoadSources(map[string][]byte{"full.pc.json": js}, Options{})
	if len(da)+len(db) > 0 {
		t.Fatalf("diagnostics: %v %v", da, db)
	}
	if diff := cmp.Diff(a, b, modelOpts); diff != "" {
		t.Errorf("native and JSON differ (-native +json):\n%s", diff)
	}
}

func TestEndpointAttributes(t *testing.T) {
	tests := []struct {
		name string
		body string // the endpoint's attributes, host and port included
		want func(e *Endpoint) any
		val  any
	}{
		{"single port as string", `host = host.web
port = "443"`, func(e *Endpoint) any { return e.Ports }, PortSet{{443, 443}}},
		{"range", `host = host.web
port = "8000 - 8010"`, func(e *Endpoint) any { return e.Ports }, PortSet{{8000, 8010}}},
		{"range of 1024", `host = host.web
port = "1-1024"`, func(e *Endpoint) any { return e.Ports }, PortSet{{1, 1024}}},
		{"port from a function", `host = host.web
port = max(80, 443)`, func(e *Endpoint) any { return e.Ports }, PortSet{{443, 443}}},
		{"null optional attribute keeps the default", `host = host.web
port = 80
timeout = null`, func(e *Endpoint) any { return e.Timeout }, 2 * time.Second},
		{"address written differently", `host = host.web
port = 80
address = "FD00:0::5"`, func(e *Endpoint) any { return e.Address }, netip.MustParseAddr("fd00::5")},
		{"timeout bound is inclusive", `host = host.web
port = 80
timeout = "5m"`, func(e *Endpoint) any { return e.Timeout }, 5 * time.Minute},
		{"retries zero", `host = host.web
port = 80
retries = 0`, func(e *Endpoint) any { return e.Retries }, 0},
		{"host by index", `host = host["web"]
port = 80`, func(e *Endpoint) any { return e.Host.Name }, "web"},
		{"http defaults", `host = host.web
port = 80
expect {
  http {}
}`, func(e *Endpoint) any { return *e.Expect.HTTP }, ExpectHTTP{Scheme: "http", Method: "GET", Path: "/", Status: []int{200}, Timeout: 5 * time.Second}},
		{"single status", `host = host.web
port = 80
expect {
  http { status = 301 }
}`, func(e *Endpoint) any { return e.Expect.HTTP.Status }, []int{301}},
		{"min_version as a number", `host = host.web
port = 443
expect {
  tls { min_version = 1.3 }
}`, func(e *Endpoint) any { return e.Expect.TLS.MinVersion }, uint16(tls.VersionTLS13)},
		{"escapes are HCL's", `host = host.web
port = 6379
expect {
  banner { send = "A\tB\u00e9\r\n" }
}`, func(e *Endpoint) any { return e.Expect.Banner.Send }, "A\tB\u00e9\r\n"},
		{"send_hex carries any byte", `host = host.web
port = 5432
expect {
  banner { send_hex = "00 00 00 08 04 d2 16 2f ff" }
}`, func(e *Endpoint) any { return e.Expect.Banner.Send }, "\x00\x00\x00\x08\x04\xd2\x16\x2f\xff"},
		{"L7 timeout: block, else the endpoint's declared one", `host = host.web
port = 443
timeout = "700ms"
expect {
  tls { timeout = "1s" }
  http {}
}`, func(e *Endpoint) any { return []time.Duration{e.Expect.TLS.Timeout, e.Expect.HTTP.Timeout} }, []time.Duration{time.Second, 700 * time.Millisecond}},
		{"client certificate paths", `host = host.web
port = 443
expect {
  tls {
    client_cert = "c.pem"
    client_key  = "/etc/k.pem"
  }
}`, func(e *Endpoint) any { return e.Expect.TLS.ClientCert }, ClientCert{CertFile: "conf/sub/c.pem", KeyFile: "/etc/k.pem"}},
		{"path: rounds, loss, timeout; mode from the protocol", `host = host.web
port = 53
protocol = "udp"
expect {
  path {
    rounds       = 20
    max_loss     = 5
    max_hop_loss = 12.5
    timeout      = "300ms"
  }
}`, func(e *Endpoint) any { return e.Expect.Path }, &ExpectPath{MaxHops: 30, Mode: "udp", Rounds: 20, Timeout: 300 * time.Millisecond, MaxLoss: ptr(5.0), MaxHopLoss: ptr(12.5)}},
		{"ca_file relative to the declaring file", `host = host.web
port = 443
expect {
  tls { ca_file = "../pki/ca.pem" }
}`, func(e *Endpoint) any { return e.Expect.TLS.CAFile }, "conf/pki/ca.pem"},
		{"host attributes in expressions", `host = host.web
port = 443
expect {
  tls { server_name = "${host.web.name}.example" }
  http { host_header = host.web.address }
}`, func(e *Endpoint) any { return e.Expect.TLS.ServerName + " " + e.Expect.HTTP.HostHeader }, "web.example 10.0.0.5"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			src := "host \"web\" {\n  addresses = [\"10.0.0.5\", \"fd00::5\"]\n}\nendpoint \"e\" {\n" + tt.body + "\n}\n"
			cfg, diags := LoadSources(map[string][]byte{"conf/sub/e.pc.hcl": []byte(src)}, Options{})
			if len(diags) > 0 {
				t.Fatal(diagText(cfg, diags))
			}
			if diff := cmp.Diff(tt.val, tt.want(cfg.Endpoints[0]), modelOpts); diff != "" {
				t.Errorf("(-want +got):\n%s", diff)
			}
		})
	}
}

// diagText renders diagnostics for test failure messages.
func diagText(cfg *Config, diags hcl.Diagnostics) string {
	var b bytes.Buffer
	var files map[string]*hcl.File
	if cfg != nil {
		files = cfg.Files
	}
	_ = WriteDiagnostics(&b, files, diags, false, 0)
	return b.String()
}

// TestNoConfigurationFiles: a directory with nothing portcheck reads says
// what it holds and which names portcheck reads (it said only "contains
// no *.pc.hcl or *.pc.json files"); fmt says the same.
func TestNoConfigurationFiles(t *testing.T) {
	mkdir := func(names ...string) string {
		dir := t.TempDir()
		for _, n := range names {
			p := filepath.Join(dir, n)
			if strings.HasSuffix(n, "/") {
				if err := os.Mkdir(p, 0o755); err != nil {
					t.Fatal(err)
				}
				continue
			}
			if err := os.WriteFile(p, []byte("host \"a\" {}\n"), 0o644); err != nil {
				t.Fatal(err)
			}
		}
		return dir
	}
	tests := []struct {
		name  string
		dir   string
		want  []string
		avoid []string
	}{
		{"empty", mkdir(), []string{`is empty; portcheck reads the *.pc.hcl (native syntax) and *.pc.json (JSON) files`}, nil},
		{"only x.hcl", mkdir("x.hcl"), []string{`holds x.hcl, but no configuration file`, "*.pc.hcl", "*.pc.json", "rename it to x.pc.hcl"}, nil},
		{"x.tf and x.json", mkdir("x.tf", "x.json"), []string{`holds x.json and x.tf`, "rename it to x.pc.json"}, nil},
		{"many and hidden", mkdir("a.tf", "b.tf", "c.tf", "d.tf", ".e.pc.hcl", "sub/", "z.txt"),
			[]string{`holds .e.pc.hcl, a.tf, b.tf, c.tf, d.tf and 2 more`, "not hidden files and not subdirectories"}, []string{"rename"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, diags := Load(tt.dir, Options{})
			_, _, fdiags := FormatPath(tt.dir, false)
			for _, ds := range []hcl.Diagnostics{diags, fdiags} {
				if len(ds) != 1 || ds[0].Summary != "No configuration files" {
					t.Fatalf("want one No configuration files, got %v", ds)
				}
				for _, w := range tt.want {
					if !strings.Contains(ds[0].Detail, w) {
						t.Errorf("detail %q lacks %q", ds[0].Detail, w)
					}
				}
				for _, a := range tt.avoid {
					if strings.Contains(ds[0].Detail, a) {
						t.Errorf("detail %q has %q", ds[0].Detail, a)
					}
				}
			}
		})
	}
}

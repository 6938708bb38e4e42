package sockets

import (
	"encoding/json"
	"fmt"
	"net/netip"
	"os"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/portcheck/portcheck/internal/lab"
	"github.com/portcheck/portcheck/providers"
)

func TestMain(m *testing.M) {
	lab.MaybeServe() // lab.Spawn re-executes this binary as a listener
	os.Exit(m.Run())
}

var addr = netip.MustParseAddr

// cmpAddr lets cmp compare netip.Addr, whose fields are unexported.
var cmpAddr = cmp.Comparer(func(a, b netip.Addr) bool { return a == b })

func TestServes(t *testing.T) {
	tests := []struct {
		name string
		sock Socket
		dst  string
		want bool
	}{
		{"0.0.0.0 serves a v4 host address", Socket{Address: addr("0.0.0.0")}, "10.0.0.5", true},
		{"0.0.0.0 serves v4 loopback", Socket{Address: addr("0.0.0.0")}, "127.0.0.1", true},
		{"0.0.0.0 serves a v4-mapped dst as v4", Socket{Address: addr("0.0.0.0")}, "::ffff:10.0.0.5", true},
		{"0.0.0.0 serves no IPv6", Socket{Address: addr("0.0.0.0")}, "2001:db8::1", false},
		{"0.0.0.0 does not serve ::1", Socket{Address: addr("0.0.0.0")}, "::1", false},
		{"v4 address serves itself", Socket{Address: addr("10.0.0.5")}, "10.0.0.5", true},
		{"v4 address serves no other", Socket{Address: addr("10.0.0.5")}, "10.0.0.6", false},
		{"v4 address serves no loopback", Socket{Address: addr("10.0.0.5")}, "127.0.0.1", false},
		{"127.0.0.1 serves itself", Socket{Address: addr("127.0.0.1")}, "127.0.0.1", true},
		{"127.0.0.1 does not serve 127.0.0.2", Socket{Address: addr("127.0.0.1")}, "127.0.0.2", false},
		{"127.0.0.1 does not serve a host address", Socket{Address: addr("127.0.0.1")}, "10.0.0.5", false},
		{"127.0.0.2 serves only itself", Socket{Address: addr("127.0.0.2")}, "127.0.0.1", false},
		{"dual-stack :: serves v4", Socket{Address: addr("::")}, "10.0.0.5", true},
		{"dual-stack :: serves v4 loopback", Socket{Address: addr("::")}, "127.0.0.1", true},
		{"dual-stack :: serves v6", Socket{Address: addr("::")}, "2001:db8::1", true},
		{"v6only :: serves no v4", Socket{Address: addr("::"), V6Only: true}, "10.0.0.5", false},
		{"v6only :: serves no mapped v4", Socket{Address: addr("::"), V6Only: true}, "::ffff:10.0.0.5", false},
		{"v6only :: serves v6", Socket{Address: addr("::"), V6Only: true}, "2001:db8::1", true},
		{"::1 serves itself", Socket{Address: addr("::1")}, "::1", true},
		{"::1 does not serve 127.0.0.1", Socket{Address: addr("::1")}, "127.0.0.1", false},
		{"::1 does not serve a v6 host address", Socket{Address: addr("::1")}, "2001:db8::1", false},
		{"mapped bind serves its v4 address", Socket{Address: addr("::ffff:10.0.0.5")}, "10.0.0.5", true},
		{"mapped bind serves the mapped dst", Socket{Address: addr("::ffff:10.0.0.5")}, "::ffff:10.0.0.5", true},
		{"mapped bind serves no other v4", Socket{Address: addr("::ffff:10.0.0.5")}, "10.0.0.6", false},
		{"mapped bind serves no v6", Socket{Address: addr("::ffff:10.0.0.5")}, "2001:db8::1", false},
		{"mapped any serves every v4", Socket{Address: addr("::ffff:0.0.0.0")}, "10.0.0.6", true},
		{"mapped any serves no v6", Socket{Address: addr("::ffff:0.0.0.0")}, "2001:db8::1", false},
		{"mapped loopback serves only loopback", Socket{Address: addr("::ffff:127.0.0.1")}, "10.0.0.5", false},
		{"v6 address serves itself", Socket{Address: addr("2001:db8::1")}, "2001:db8::1", true},
		{"v6 address serves no other", Socket{Address: addr("2001:db8::1")}, "2001:db8::2", false},
		{"v6 address serves no v4", Socket{Address: addr("2001:db8::1")}, "10.0.0.5", false},
		{"link-local ignores the dst zone", Socket{Address: addr("fe80::1")}, "fe80::1%eth0", true},
		{"bound to lo serves loopback", Socket{Address: addr("0.0.0.0"), Interface: "lo"}, "127.0.0.1", true},
		{"bound to lo serves no host address", Socket{Address: addr("0.0.0.0"), Interface: "lo"}, "10.0.0.5", false},
		{"bound to eth0 is judged by address", Socket{Address: addr("0.0.0.0"), Interface: "eth0"}, "10.0.0.5", true},
		{"bound to eth0 serves no loopback", Socket{Address: addr("0.0.0.0"), Interface: "eth0"}, "127.0.0.1", false},
		{"bound to eth0 serves no ::1", Socket{Address: addr("::"), Interface: "eth0"}, "::1", false},
		{"invalid dst", Socket{Address: addr("0.0.0.0")}, "", false},
		{"invalid socket address", Socket{}, "10.0.0.5", false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var dst netip.Addr
			if tt.dst != "" {
				dst = addr(tt.dst)
			}
			if got := tt.sock.Serves(dst); got != tt.want {
				t.Errorf("Socket{%v v6only=%v if=%q}.Serves(%v) = %v, want %v", tt.sock.Address, tt.sock.V6Only, tt.sock.Interface, dst, got, tt.want)
			}
		})
	}
}

func TestLoopbackOnly(t *testing.T) {
	tests := []struct {
		sock Socket
		want bool
	}{
		{Socket{Address: addr("127.0.0.1")}, true},
		{Socket{Address: addr("127.5.5.5")}, true},
		{Socket{Address: addr("::1")}, true},
		{Socket{Address: addr("::ffff:127.0.0.1")}, true},
		{Socket{Address: addr("0.0.0.0"), Interface: "lo"}, true},
		{Socket{Address: addr("0.0.0.0")}, false},
		{Socket{Address: addr("::")}, false},
		{Socket{Address: addr("10.0.0.5")}, false},
		{Socket{Address: addr("0.0.0.0"), Interface: "eth0"}, false},
	}
	for _, tt := range tests {
		if got := tt.sock.LoopbackOnly(); got != tt.want {
			t.Errorf("Socket{%v if=%q}.LoopbackOnly() = %v, want %v", tt.sock.Address, tt.sock.Interface, got, tt.want)
		}
	}
}

func TestListening(t *testing.T) {
	tab := &Table{Sockets: []Socket{
		{Protocol: "tcp", Address: addr("0.0.0.0"), Port: 808},
		{Protocol: "tcp", Address: addr("0.0.0.0"), Port: 8080},
		{Protocol: "tcp", Address: addr("::"), Port: 8080},
		{Protocol: "udp", Address: addr("0.0.0.0"), Port: 808},
	}}
	tests := []struct {
		proto string
		port  int
		want  []Socket
	}{
		{"tcp", 808, tab.Sockets[:1]},
		{"tcp", 8080, tab.Sockets[1:3]},
		{"TCP", 808, tab.Sockets[:1]},
		{"udp", 808, tab.Sockets[3:]},
		{"tcp", 80, nil},
		{"tcp", 80800, nil},
		{"udp", 8080, nil},
	}
	for _, tt := range tests {
		if diff := cmp.Diff(tt.want, tab.Listening(tt.proto, tt.port), cmpAddr); diff != "" {
			t.Errorf("Listening(%q, %d) mismatch (-want +got):\n%s", tt.proto, tt.port, diff)
		}
	}
}

// A table is evidence that may be stored and evaluated elsewhere, so it
// must survive JSON unchanged.
func TestTableJSONRoundTrip(t *testing.T) {
	in := &Table{
		Exec: providers.Exec{Host: "web", Netns: "/run/netns/web"},
		Sockets: []Socket{
			{Protocol: "tcp", Family: "inet6", Address: addr("::"), Port: 443, State: "LISTEN", V6Only: true, Inode: 4242, UID: 33,
				Processes: []Process{{PID: 10, Name: "nginx", Cmdline: "nginx: master process"}, {PID: 11, Name: "nginx"}}},
			{Protocol: "udp", Family: "inet", Address: addr("127.0.0.53"), Port: 53, State: "UNCONN", Interface: "lo", Inode: 7},
		},
		Warnings: []string{"w"},
	}
	b, err := json.Marshal(in)
	if err != nil {
		t.Fatal(err)
	}
	var out *Table
	if err := json.Unmarshal(b, &out); err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(in, out, cmpAddr); diff != "" {
		t.Errorf("JSON round trip changed the table (-in +out):\n%s", diff)
	}
}

func TestParseSocketLink(t *testing.T) {
	tests := []struct {
		link string
		ino  uint64
		ok   bool
	}{
		{"socket:[12345]", 12345, true},
		{"socket:[0]", 0, true},
		{"socket:[]", 0, false},
		{"socket:[12x]", 0, false},
		{"socket:[123", 0, false},
		{"pipe:[12345]", 0, false},
		{"/dev/null", 0, false},
		{"anon_inode:[eventpoll]", 0, false},
	}
	for _, tt := range tests {
		ino, ok := parseSocketLink(tt.link)
		if ino != tt.ino || ok != tt.ok {
			t.Errorf("parseSocketLink(%q) = %d, %v; want %d, %v", tt.link, ino, ok, tt.ino, tt.ok)
		}
	}
}

func Example_serves() {
	dual := Socket{Protocol: "tcp", Family: "inet6", Address: netip.IPv6Unspecified(), Port: 8080}
	v6only := dual
	v6only.V6Only = true
	v4 := netip.MustParseAddr("10.0.0.5")
	fmt.Println(dual.Serves(v4), v6only.Serves(v4))
	// Output: true false
}

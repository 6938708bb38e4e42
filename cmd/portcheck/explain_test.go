package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/portcheck/portcheck/internal/golden"
	"github.com/portcheck/portcheck/internal/lab"
	"github.com/portcheck/portcheck/internal/netns"
	"github.com/portcheck/portcheck/providers/firewall"
	"github.com/portcheck/portcheck/runner/report"
)

// explainLab is a client, a server and a "container" behind the server,
// with fixed addresses (namespaces are private, so two labs do not clash)
// so that the walks can be compared with goldens.
type explainLab struct {
	client, server, ctr *lab.Host
	dir                 string
}

// The server's rules, loaded with the real tools:
//   - nftables (inet filter): input with a jump to a services chain, a goto,
//     a LOG-like counter, a rule with a match portcheck does not model
//     (a raw payload match) on port 7070, and a reject with tcp reset on
//     9090 whose answer leaves through output;
//   - iptables-nft (ip nat and ip filter): Docker's shape for port 8081,
//     DNAT to the container's namespace, decided in FORWARD via
//     DOCKER-USER, and an INPUT rule with REJECT for 9091.
const explainNFT = `table inet filter {
	chain input {
		type filter hook input priority 0; policy drop;
		ct state established,related accept
		iif "lo" accept
		tcp dport 22 accept
		counter
		jump services
	}
	chain services {
		ip saddr 192.0.2.0/24 drop
		tcp dport 8080 goto web
		tcp dport 7070 @th,64,32 0x1 accept
		tcp dport 9090 reject with tcp reset
	}
	chain web {
		ip saddr 10.77.1.0/24 accept
	}
	chain output {
		type filter hook output priority 0; policy accept;
	}
}
`

const explainIptables = `*nat
:PREROUTING ACCEPT [0:0]
:INPUT ACCEPT [0:0]
:OUTPUT ACCEPT [0:0]
:POSTROUTING ACCEPT [0:0]
:DOCKER - [0:0]
-A PREROUTING -m addrtype --dst-type LOCAL -j DOCKER
-A DOCKER -i pcv2a -j RETURN
-A DOCKER ! -i pcv2a -p tcp -m tcp --dport 8081 -j DNAT --to-destination 10.77.2.2:80
COMMIT
*filter
:INPUT ACCEPT [0:0]
:FORWARD DROP [0:0]
:OUTPUT ACCEPT [0:0]
:DOCKER-USER - [0:0]
-A INPUT -p tcp -m tcp --dport 9091 -j REJECT --reject-with icmp-port-unreachable
-A FORWARD -j DOCKER-USER
-A FORWARD -o pcv2a -m conntrack --ctstate RELATED,ESTABLISHED -j ACCEPT
-A FORWARD -o pcv2a -p tcp -m tcp --dport 80 -j ACCEPT
-A FORWARD -i pcv2a ! -o pcv2a -j ACCEPT
-A DOCKER-USER -s 192.0.2.0/24 -j DROP
-A DOCKER-USER -j RETURN
COMMIT
`

func newExplainLab(t *testing.T) *explainLab {
	lab.Require(t, "ip", "nft", "iptables-nft-restore", "iptables-nft-save")
	l := lab.New(t)
	x := &explainLab{client: l.Host("client"), server: l.Host("server"), ctr: l.Host("ctr"), dir: t.TempDir()}
	l.Link(x.server, x.client, "10.77.1") // server 10.77.1.1 (pcv1a), client 10.77.1.2 (pcv1b)
	l.Link(x.server, x.ctr, "10.77.2")    // server 10.77.2.1 (pcv2a), container 10.77.2.2 (pcv2b)
	x.server.Exec("sysctl", "-qw", "net.ipv4.ip_forward=1")
	x.ctr.Exec("ip", "route", "add", "default", "via", "10.77.2.1")
	x.client.Exec("ip", "route", "add", "default", "via", "10.77.1.1")
	// A client of a blocked range: the server routes it back to the client
	// namespace, which sends from it.
	x.client.Exec("ip", "addr", "add", "192.0.2.7/32", "dev", "pcv1b")
	x.server.Exec("ip", "route", "add", "192.0.2.0/24", "via", "10.77.1.2")
	x.server.NFT(explainNFT)
	restore := "ip netns exec " + x.server.NS + " iptables-nft-restore"
	if out, err := netns.Output(t.Context(), x.server.Path(), []byte(explainIptables), "iptables-nft-restore"); err != nil {
		t.Fatalf("%s: %v\n%s", restore, err, out)
	}
	for _, p := range []string{"8080", "7070", "9090", "9091"} {
		x.server.ListenTCP("tcp4", "0.0.0.0:"+p)
	}
	x.ctr.ListenTCP("tcp4", "0.0.0.0:80")
	src := fmt.Sprintf(`
host "server" {
  address = "10.77.1.1"
  netns   = %q
}
host "client" {
  address = "10.77.1.2"
  netns   = %q
}
endpoint "web" {
  host = host.server
  port = 8080
  from = [host.client]
}
endpoint "odd" {
  host = host.server
  port = 7070
  from = [host.client]
}
endpoint "refused" {
  host = host.server
  port = "9090-9091"
  from = [host.client]
}
endpoint "published" {
  host = host.server
  port = 8081
  from = [host.client]
}
`, x.server.Path(), x.client.Path())
	if err := os.WriteFile(filepath.Join(x.dir, "lab.pc.hcl"), []byte(src), 0o644); err != nil {
		t.Fatal(err)
	}
	return x
}

// normalize replaces what changes from run to run: the lab's namespace
// names.
func (x *explainLab) normalize(b []byte) string {
	s := string(b)
	for _, h := range []*lab.Host{x.client, x.server, x.ctr} {
		s = strings.ReplaceAll(s, h.NS, "LAB-"+h.Name)
	}
	return s
}

// dial is what the kernel does with the client's connection from src.
func (x *explainLab) dial(t *testing.T, src, addr string) string {
	ctx, cancel := context.WithTimeout(t.Context(), 700*time.Millisecond)
	defer cancel()
	d := &net.Dialer{LocalAddr: &net.TCPAddr{IP: net.ParseIP(src)}}
	c, err := netns.DialContext(ctx, x.client.Path(), d, "tcp4", addr)
	switch {
	case err == nil:
		c.Close()
		return firewall.Accept
	case errors.Is(err, syscall.ECONNREFUSED), errors.Is(err, syscall.EHOSTUNREACH):
		return firewall.Reject
	}
	return firewall.Drop
}

// The walks of real rulesets: jumps and a goto into nft chains, a counter
// rule that changes nothing, a match portcheck does not model, a reject
// and its answer, Docker's DNAT to a container namespace decided in
// FORWARD with the container's reply coming back; text against goldens,
// and every walk's result against what a real connection from the client
// gets.
func TestExplainLab(t *testing.T) {
	x := newExplainLab(t)
	tests := []struct {
		name string
		args []string
		code int
		// kernel: what a connection from src to dial gets ("" = not
		// comparable: the walk is undecided).
		src, dial, kernel string
	}{
		{"web", []string{"endpoint.web"}, 0, "10.77.1.2", "10.77.1.1:8080", firewall.Accept},
		{"odd", []string{"endpoint.odd", "-from", "client"}, 0, "", "", ""},
		{"refused", []string{"endpoint.refused", "-port", "9090"}, 0, "10.77.1.2", "10.77.1.1:9090", firewall.Reject},
		{"refused-iptables", []string{"endpoint.refused", "-port", "9091"}, 0, "10.77.1.2", "10.77.1.1:9091", firewall.Reject},
		{"published", []string{"endpoint.published"}, 0, "10.77.1.2", "10.77.1.1:8081", firewall.Accept},
		{"published-blocked", []string{"endpoint.published", "-source", "192.0.2.7"}, 0, "192.0.2.7", "10.77.1.1:8081", firewall.Drop},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			args := append([]string{"explain", "-no-color"}, tt.args...)
			code, out, errOut := runCmd(t, append(args, x.dir)...)
			if code != tt.code {
				t.Fatalf("exit %d, want %d\nstdout:\n%s\nstderr:\n%s", code, tt.code, out, errOut)
			}
			golden.Compare(t, filepath.Join("testdata", "explain_"+tt.name+".txt"), []byte(x.normalize([]byte(out))))

			code, js, errOut := runCmd(t, append(append([]string{"explain", "-json"}, tt.args...), x.dir)...)
			if code != tt.code {
				t.Fatalf("-json: exit %d\n%s", code, errOut)
			}
			var doc report.ExplainReport
			if err := json.Unmarshal([]byte(js), &doc); err != nil {
				t.Fatalf("-json output does not decode: %v\n%s", err, js)
			}
			if doc.Version != 1 || len(doc.Explanations) != 1 || doc.ExitCode != tt.code {
				t.Fatalf("-json: version %d, %d explanations, exit_code %d", doc.Version, len(doc.Explanations), doc.ExitCode)
			}
			ex := doc.Explanations[0]
			if ex.Decision == nil || ex.Walk == nil {
				t.Fatalf("-json: no decision or walk: %+v", ex)
			}
			seen, _ := ex.Walk.Seen()
			if seen != ex.Decision.Seen() {
				t.Errorf("the walk ends in %s, the decision is %s", seen, ex.Decision.Seen())
			}
			if tt.kernel != "" {
				if got := x.dial(t, tt.src, tt.dial); got != tt.kernel || seen != tt.kernel {
					t.Errorf("connecting to %s: the kernel did %s, the walk says %s (want %s)", tt.dial, got, seen, tt.kernel)
				}
			}
		})
	}
}

// Usage and read errors: exit 2 for what the request gets wrong, 1 when
// the server's filter cannot be read.
func TestExplainErrors(t *testing.T) {
	dir := writeHCL(t, `
host "web" {
  address = "127.0.0.1"
  local   = true
}
host "remote" {
  address = "192.0.2.10"
}
endpoint "range" {
  host = host.web
  port = "8000-8001"
}
endpoint "far" {
  host = host.remote
  port = 80
}
`)
	tests := []struct {
		args   []string
		code   int
		stderr string
	}{
		{[]string{"explain", dir}, 2, "want endpoint.NAME and PATH"},
		{[]string{"explain", "endpoint.nope", dir}, 2, "no such endpoint"},
		{[]string{"explain", "endpoint.range", dir}, 2, "pick one with -port"},
		{[]string{"explain", "-port", "9000", "endpoint.range", dir}, 2, "is not a port of endpoint.range"},
		{[]string{"explain", "-from", "elsewhere", "-port", "8000", "endpoint.range", dir}, 2, "is not a vantage host of endpoint.range (its vantage hosts: local)"},
		{[]string{"explain", "-source", "nope", "endpoint.range", dir}, 2, "is not an IP address"},
		{[]string{"explain", "-source", "2001:db8::1", "-port", "8000", "endpoint.range", dir}, 2, "has no IPv6 address"},
		{[]string{"explain", "-source", "10.0.0.1", "-from", "local", "endpoint.range", dir}, 2, "exclude each other"},
		{[]string{"explain", "endpoint.far", dir}, 1, "reading the packet filter of host remote"},
	}
	for _, tt := range tests {
		code, _, errOut := runCmd(t, tt.args...)
		if code != tt.code || !strings.Contains(errOut, tt.stderr) {
			t.Errorf("%v: exit %d, stderr %q; want %d with %q", tt.args[1:], code, errOut, tt.code, tt.stderr)
		}
	}
}

package dns

import (
	"context"
	"fmt"
	"net"
	"net/netip"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	mdns "github.com/miekg/dns"

	"github.com/portcheck/portcheck/internal/lab"
	"github.com/portcheck/portcheck/internal/netns"
)

// dnsLab is a resolver host running Debian's dnsmasq with the move's
// records, and a client namespace the queries leave from (the resolver's
// address is reachable only from there, so an answer proves the query
// came from the vantage's namespace).
type dnsLab struct {
	client, server *lab.Host
	resolver       string
}

func newDNSLab(t *testing.T) *dnsLab {
	t.Helper()
	l := lab.New(t)
	client, server := l.Pair()
	flags := []string{
		"--local=/lab/", // names under lab. are answered locally, NXDOMAIN when unknown
		"--local-ttl=300",
		"--host-record=web.lab,10.77.0.5",
		"--host-record=web.lab,10.77.0.6",
		"--host-record=web.lab,2001:db8::5",
		"--cname=www.lab,web.lab",
		"--cname=alias.lab,www.lab",
		"--srv-host=_http._tcp.web.lab,web.lab,9090,10,5",
		"--srv-host=_http._tcp.old.lab,web.lab,8080,10,5",
		"--srv-host=_http._tcp.old.lab,web.lab,9090,20,5",
		"--server=/fail.lab/127.0.0.1#1", // forwarded where nothing answers: no answer in time
	}
	// 120 addresses for one name do not fit a 1232-byte UDP answer.
	for i := range 120 {
		flags = append(flags, fmt.Sprintf("--host-record=big.lab,10.99.%d.%d", i/200, 1+i%200))
	}
	server.StartDnsmasq(t, server.Addr(), flags...)
	return &dnsLab{client: client, server: server, resolver: server.Addr().String()}
}

// startGoDNS serves handler (miekg/dns) on UDP addr inside h: answers
// dnsmasq will not give (SERVFAIL, a CNAME without its target).
func startGoDNS(t *testing.T, h *lab.Host, addr string, handler mdns.HandlerFunc) {
	t.Helper()
	pc, err := netns.ListenPacket(h.Path(), "udp", addr)
	if err != nil {
		t.Fatal(err)
	}
	srv := &mdns.Server{PacketConn: pc, Handler: handler}
	go srv.ActivateAndServe()
	t.Cleanup(func() { srv.Shutdown() })
}

func TestResolveAgainstDnsmasq(t *testing.T) {
	dl := newDNSLab(t)
	r := Resolver{Addr: dl.resolver, NetNS: dl.client.Path()}
	from := net.JoinHostPort(dl.resolver, "53")
	ips := func(s ...string) []netip.Addr {
		var out []netip.Addr
		for _, a := range s {
			out = append(out, netip.MustParseAddr(a))
		}
		return out
	}
	for _, tc := range []struct {
		name, qname string
		qtype       Type
		opts        Options
		answered    bool
		rcode       string
		aa          bool
		transport   string
		truncated   bool
		cnames      []CNAME
		ips         []netip.Addr
		srv         []SRV
		errText     string
	}{
		{name: "A, two records", qname: "web.lab", qtype: TypeA, answered: true, rcode: "NOERROR", aa: true, transport: "udp",
			ips: ips("10.77.0.5", "10.77.0.6")},
		{name: "AAAA", qname: "web.lab.", qtype: TypeAAAA, answered: true, rcode: "NOERROR", aa: true, transport: "udp",
			ips: ips("2001:db8::5")},
		{name: "CNAME chain to A", qname: "alias.lab", qtype: TypeA, answered: true, rcode: "NOERROR", aa: true, transport: "udp",
			cnames: []CNAME{{"alias.lab.", "www.lab.", 300}, {"www.lab.", "web.lab.", 300}}, ips: ips("10.77.0.5", "10.77.0.6")},
		{name: "CNAME asked", qname: "www.lab", qtype: TypeCNAME, answered: true, rcode: "NOERROR", aa: true, transport: "udp",
			cnames: []CNAME{{"www.lab.", "web.lab.", 300}}},
		{name: "SRV", qname: "_http._tcp.web.lab", qtype: TypeSRV, answered: true, rcode: "NOERROR", aa: true, transport: "udp",
			srv: []SRV{{Name: "_http._tcp.web.lab.", Priority: 10, Weight: 5, Port: 9090, Target: "web.lab.", TTL: 300}}},
		{name: "NXDOMAIN is a fact", qname: "nope.lab", qtype: TypeA, answered: true, rcode: "NXDOMAIN", transport: "udp"},
		{name: "REFUSED is a fact", qname: "other.example", qtype: TypeA, answered: true, rcode: "REFUSED", transport: "udp"},
		{name: "truncated over UDP, asked again over TCP", qname: "big.lab", qtype: TypeA, answered: true, rcode: "NOERROR", aa: true,
			transport: "tcp", truncated: true},
		{name: "no answer in time is a fact", qname: "x.fail.lab", qtype: TypeA, opts: Options{Timeout: 300 * time.Millisecond},
			transport: "udp", errText: "no answer within 300ms"},
	} {
		f, err := Resolve(context.Background(), r, tc.qname, tc.qtype, tc.opts)
		if err != nil {
			t.Errorf("%s: %v", tc.name, err)
			continue
		}
		if f.Answered != tc.answered || f.Rcode != tc.rcode || f.Authoritative != tc.aa || f.Transport != tc.transport ||
			f.Truncated != tc.truncated || !strings.Contains(f.Error, tc.errText) {
			t.Errorf("%s: answered %v rcode %q aa %v transport %s truncated %v error %q\n%s", tc.name, f.Answered, f.Rcode,
				f.Authoritative, f.Transport, f.Truncated, f.Error, f.Evidence())
		}
		if tc.answered && f.From != from {
			t.Errorf("%s: answered from %q, want %q", tc.name, f.From, from)
		}
		if d := cmp.Diff(tc.cnames, f.CNAMEs); d != "" {
			t.Errorf("%s: CNAMEs (-want +got):\n%s", tc.name, d)
		}
		if tc.ips != nil && !slices.Equal(tc.ips, f.IPs()) {
			t.Errorf("%s: addresses %v, want %v", tc.name, f.IPs(), tc.ips)
		}
		if d := cmp.Diff(tc.srv, f.SRV); d != "" {
			t.Errorf("%s: SRV (-want +got):\n%s", tc.name, d)
		}
		for _, a := range f.Addresses {
			if a.TTL != 300 {
				t.Errorf("%s: TTL %d, want dnsmasq's --local-ttl 300", tc.name, a.TTL)
			}
		}
		if tc.name == "truncated over UDP, asked again over TCP" && len(f.Addresses) != 120 {
			t.Errorf("%s: %d addresses, want 120", tc.name, len(f.Addresses))
		}
	}
}

// The step's questions, answered from real answers.
func TestChecksAgainstDnsmasq(t *testing.T) {
	dl := newDNSLab(t)
	r := Resolver{Addr: dl.resolver + ":53", NetNS: dl.client.Path()}
	ctx := context.Background()
	web, err := Resolve(ctx, r, "alias.lab", TypeA, Options{})
	if err != nil {
		t.Fatal(err)
	}
	five, six := netip.MustParseAddr("10.77.0.5"), netip.MustParseAddr("10.77.0.6")
	if c := CheckAddresses(web, []netip.Addr{five, six}, true); !c.OK {
		t.Errorf("both declared: %+v", c)
	}
	if c := CheckAddresses(web, []netip.Addr{netip.MustParseAddr("::ffff:10.77.0.5")}, false); !c.OK {
		t.Errorf("one of them, not exact: %+v", c)
	}
	c := CheckAddresses(web, []netip.Addr{five}, true)
	if c.OK || !slices.Equal(c.Unexpected, []netip.Addr{six}) || !strings.Contains(c.Evidence, "not declared 10.77.0.6") {
		t.Errorf("exact with one missing from the declaration: %+v", c)
	}
	nx, err := Resolve(ctx, r, "nope.lab", TypeA, Options{})
	if err != nil {
		t.Fatal(err)
	}
	if c := CheckAddresses(nx, []netip.Addr{five}, false); c.OK || !strings.Contains(c.Evidence, "NXDOMAIN") || !strings.Contains(c.Evidence, "missing 10.77.0.5") {
		t.Errorf("NXDOMAIN: %+v", c)
	}

	srv, err := Resolve(ctx, r, "_http._tcp.web.lab", TypeSRV, Options{})
	if err != nil {
		t.Fatal(err)
	}
	if c := CheckSRV(srv, 9090, "web.lab"); !c.OK || len(c.Matching) != 1 {
		t.Errorf("new port in SRV: %+v", c)
	}
	if c := CheckSRV(srv, 8080, ""); c.OK || !slices.Equal(c.Ports, []uint16{9090}) {
		t.Errorf("old port not in SRV: %+v", c)
	}
	old, err := Resolve(ctx, r, "_http._tcp.old.lab", TypeSRV, Options{})
	if err != nil {
		t.Fatal(err)
	}
	if c := CheckSRV(old, 8080, ""); !c.OK || !slices.Equal(c.Ports, []uint16{8080, 9090}) {
		t.Errorf("an old port leftover is caught: %+v", c)
	}
	if c := CheckSRV(old, 9090, "other.lab"); c.OK {
		t.Errorf("target mismatch accepted: %+v", c)
	}
}

// SERVFAIL, an ICMP port unreachable and a CNAME answered without its
// target, from a Go DNS server in the resolver's namespace.
func TestServfailRefusedAndFollowedCNAME(t *testing.T) {
	lab.Require(t, "ip")
	l := lab.New(t)
	client, server := l.Pair()
	addr := net.JoinHostPort(server.Addr().String(), "5300")
	startGoDNS(t, server, addr, func(w mdns.ResponseWriter, q *mdns.Msg) {
		m := new(mdns.Msg)
		m.SetReply(q)
		switch strings.ToLower(q.Question[0].Name) {
		case "ext.lab.":
			m.Answer = append(m.Answer, &mdns.CNAME{Hdr: mdns.RR_Header{Name: "ext.lab.", Rrtype: mdns.TypeCNAME, Class: mdns.ClassINET, Ttl: 60}, Target: "web.lab."})
		case "web.lab.":
			m.Answer = append(m.Answer, &mdns.A{Hdr: mdns.RR_Header{Name: "web.lab.", Rrtype: mdns.TypeA, Class: mdns.ClassINET, Ttl: 30}, A: net.ParseIP("10.77.0.9")})
		case "loop.lab.":
			m.Answer = append(m.Answer, &mdns.CNAME{Hdr: mdns.RR_Header{Name: "loop.lab.", Rrtype: mdns.TypeCNAME, Class: mdns.ClassINET, Ttl: 60}, Target: "loop2.lab."})
		case "loop2.lab.":
			m.Answer = append(m.Answer, &mdns.CNAME{Hdr: mdns.RR_Header{Name: "loop2.lab.", Rrtype: mdns.TypeCNAME, Class: mdns.ClassINET, Ttl: 60}, Target: "loop.lab."})
		default:
			m.Rcode = mdns.RcodeServerFailure
		}
		w.WriteMsg(m)
	})
	r := Resolver{Addr: addr, NetNS: client.Path()}
	ctx := context.Background()

	f, err := Resolve(ctx, r, "web.example", TypeA, Options{})
	if err != nil || !f.Answered || f.Rcode != "SERVFAIL" || f.Resolved() {
		t.Errorf("SERVFAIL: %v %+v", err, f)
	}
	f, err = Resolve(ctx, r, "ext.lab", TypeA, Options{})
	if err != nil || !f.Resolved() || !slices.Equal(f.Followed, []string{"web.lab."}) || len(f.CNAMEs) != 1 ||
		f.IPs()[0] != netip.MustParseAddr("10.77.0.9") {
		t.Errorf("followed CNAME: %v %+v", err, f)
	}
	f, err = Resolve(ctx, r, "loop.lab", TypeA, Options{})
	if err != nil || f.Resolved() || !strings.Contains(f.Error, "CNAME loop") {
		t.Errorf("CNAME loop: %v %+v", err, f)
	}
	refused := Resolver{Addr: net.JoinHostPort(server.Addr().String(), "5301"), NetNS: client.Path()}
	f, err = Resolve(ctx, refused, "web.lab", TypeA, Options{})
	if err != nil || f.Answered || !strings.HasPrefix(f.Error, "refused") || !strings.Contains(f.Evidence(), "refused") {
		t.Errorf("port unreachable: %v %+v", err, f)
	}
}

func TestResolveErrors(t *testing.T) {
	ctx := context.Background()
	for _, tc := range []struct {
		name  string
		r     Resolver
		qname string
		qtype Type
		want  string
	}{
		{"type", Resolver{Addr: "127.0.0.1"}, "web.lab", "MX", `record type "MX"`},
		{"name", Resolver{Addr: "127.0.0.1"}, "bad..name", TypeA, "is not a domain name"},
		{"root", Resolver{Addr: "127.0.0.1"}, ".", TypeA, "is not a domain name"},
		{"resolver", Resolver{Addr: "dns.example:53"}, "web.lab", TypeA, "want an IP address"},
		{"resolver port 0", Resolver{Addr: "127.0.0.1:0"}, "web.lab", TypeA, "want an IP address"},
		{"namespace", Resolver{Addr: "127.0.0.1", NetNS: "/run/netns/portcheck-no-such-ns"}, "web.lab", TypeA, "does not exist"},
	} {
		if _, err := Resolve(ctx, tc.r, tc.qname, tc.qtype, Options{}); err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: error %v, want %q", tc.name, err, tc.want)
		}
	}
}

func TestResolverAddr(t *testing.T) {
	for in, want := range map[string]string{
		"10.0.0.53": "10.0.0.53:53", "10.0.0.53:5353": "10.0.0.53:5353", "2001:db8::53": "[2001:db8::53]:53",
		"[2001:db8::53]": "[2001:db8::53]:53", "[2001:db8::53]:5353": "[2001:db8::53]:5353",
	} {
		if got, err := resolverAddr(in); err != nil || got != want {
			t.Errorf("resolverAddr(%q) = %q, %v; want %q", in, got, err, want)
		}
	}
}

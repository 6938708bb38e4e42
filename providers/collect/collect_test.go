package collect

import (
	"bytes"
	"context"
	"net/netip"
	"reflect"
	"strings"
	"testing"

	"github.com/portcheck/portcheck/internal/lab"
	"github.com/portcheck/portcheck/providers"
	"github.com/portcheck/portcheck/providers/facts"
	"github.com/portcheck/portcheck/providers/firewall"
)

// TestCollectLab collects a lab host (a listener, an nft ruleset) and
// checks the document names the host, holds every part, survives its own
// decoder unchanged, and judges the same as the live snapshot.
func TestCollectLab(t *testing.T) {
	lab.Require(t, "ip", "nft")
	l := lab.New(t)
	_, server := l.Pair()
	server.ListenTCP("tcp4", "0.0.0.0:8080")
	server.NFT("table inet pc {\n  chain input {\n    type filter hook input priority 0; policy accept;\n    tcp dport 9090 drop\n  }\n}\n")
	d, err := Collect(context.Background(), Options{Exec: providers.Exec{Host: "server", Netns: server.Path()}, Version: "test"})
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range d.Failures {
		if f.Observer != facts.ObserverSELinux { // SELinux may lack its tools locally
			t.Errorf("observer %s failed: %s", f.Observer, f.Error)
		}
	}
	if d.Host.Name != "server" || d.Host.Netns != server.Path() || d.Host.Kernel == "" || d.Host.Collected.IsZero() {
		t.Errorf("host %+v", d.Host)
	}
	if !containsAddr(d.Host.Addresses, server.Addr()) {
		t.Errorf("addresses %v lack %s", d.Host.Addresses, server.Addr())
	}
	found := false
	for _, s := range d.Sockets.Sockets {
		found = found || s.Port == 8080
	}
	if !found {
		t.Error("socket table lacks :8080")
	}
	var buf bytes.Buffer
	if err := d.Encode(&buf); err != nil {
		t.Fatal(err)
	}
	back, err := facts.Decode(&buf, "lab.json")
	if err != nil {
		t.Fatal(err)
	}
	// The recorded ruleset judges like the live one.
	pkt := func(port uint16) string {
		return back.Firewall.Evaluator().Evaluate(firewallPacket(server.Addr(), port)).Verdict
	}
	if got := pkt(9090); got != "drop" {
		t.Errorf("recorded ruleset: 9090 is %s, want drop", got)
	}
	if got := pkt(8080); got != "accept" {
		t.Errorf("recorded ruleset: 8080 is %s, want accept", got)
	}
	if !reflect.DeepEqual(back.Sockets, d.Sockets) {
		t.Error("socket table changed through encode/decode")
	}
}

// TestCollectMissingNamespace: every observer is a named failure.
func TestCollectMissingNamespace(t *testing.T) {
	d, err := Collect(context.Background(), Options{Exec: providers.Exec{Netns: "/run/netns/pc-no-such-namespace"}})
	if err != nil {
		t.Fatal(err)
	}
	if len(d.Failures) != 3 || d.Sockets != nil || d.Firewall != nil {
		t.Fatalf("failures %+v", d.Failures)
	}
	if !strings.Contains(d.Failures[0].Error, "pc-no-such-namespace") {
		t.Errorf("failure does not name the namespace: %s", d.Failures[0].Error)
	}
	var buf bytes.Buffer
	d.Encode(&buf)
	if _, err := facts.Decode(&buf, "x.json"); err != nil {
		t.Errorf("a document of failures must decode: %v", err)
	}
}

func containsAddr(as []netip.Addr, a netip.Addr) bool {
	for _, b := range as {
		if b == a {
			return true
		}
	}
	return false
}

func firewallPacket(dst netip.Addr, port uint16) firewall.Packet {
	return firewall.Packet{Src: netip.MustParseAddr("192.0.2.7"), Dst: dst, Proto: firewall.ProtoTCP, SPort: 40000, DPort: port}
}

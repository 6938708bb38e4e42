package inventory

import (
	"net"
	"os/exec"
	"testing"

	"github.com/portcheck/portcheck/internal/lab"
)

// A real nmap scan imported: nmap -sT -oX from a client namespace against
// a server namespace with one port listening, one dropped by nft and one
// closed; with -states open,closed,filtered the HCL declares the first
// open and the other two closed, and it validates.
func TestImportRealNmapScan(t *testing.T) {
	lab.Require(t, "nmap", "nft")
	l := lab.New(t)
	client, server := l.Pair()
	srv := server.Addr().String()
	server.ListenTCP("tcp", net.JoinHostPort(srv, "8080"))
	server.ListenTCP("tcp", net.JoinHostPort(srv, "8081"))
	server.NFT("table inet pcimport {\n chain input {\n  type filter hook input priority 0; policy accept;\n  tcp dport 8081 drop\n }\n}\n")

	cmd := exec.Command("ip", "netns", "exec", client.NS, "nmap", "-sT", "-Pn", "-n", "-T4", "--max-retries", "1",
		"-p", "8080-8082", "-oX", "-", srv)
	xml, err := cmd.Output()
	if err != nil {
		t.Fatalf("nmap: %v\n%s", err, xml)
	}
	entries, notices, errs := ParseNmap("scan.xml", xml, []string{"open", "closed", "filtered"})
	if len(errs) > 0 || len(notices) > 0 {
		t.Fatalf("errors %v, notices %v\n%s", errs, notices, xml)
	}
	want := map[int]State{8080: Open, 8081: Closed, 8082: Closed}
	if len(entries) != len(want) {
		t.Fatalf("%d entries, want %d: %+v", len(entries), len(want), entries)
	}
	for _, e := range entries {
		if e.Addr.String() != srv || want[e.Port] != e.State || e.Protocol != "tcp" {
			t.Errorf("entry %+v, want %s:%d %s", e, srv, e.Port, want[e.Port])
		}
	}
	out, errs := HCL(entries, "real scan")
	if len(errs) > 0 {
		t.Fatal(errs)
	}
	cfg := checkHCL(t, string(out))
	for _, ep := range cfg.Endpoints {
		if string(want[ep.Ports.First()]) != ep.State {
			t.Errorf("endpoint.%s port %d state %s, want %s", ep.Name, ep.Ports.First(), ep.State, want[ep.Ports.First()])
		}
	}
}

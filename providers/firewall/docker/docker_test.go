package docker

import (
	"net/netip"
	"os"
	"testing"

	"github.com/portcheck/portcheck/providers/firewall"
	"github.com/portcheck/portcheck/providers/firewall/iptables"
)

// The ruleset dockerd 28 writes, as iptables-nft-save printed it.
func dockerRuleset(t *testing.T) *firewall.Ruleset {
	t.Helper()
	save, err := os.ReadFile("../iptables/testdata/docker.nft.save")
	if err != nil {
		t.Fatal(err)
	}
	tables, err := iptables.Parse(save, firewall.FamilyIP, firewall.BackendIptablesNft)
	if err != nil {
		t.Fatal(err)
	}
	return &firewall.Ruleset{Tables: tables}
}

func TestPublishedPorts(t *testing.T) {
	rs := dockerRuleset(t)
	if !Present(rs) {
		t.Fatal("Present = false on Docker's ruleset")
	}
	ports := PublishedPorts(rs)
	if len(ports) != 1 {
		t.Fatalf("published ports %+v, want the one DNAT rule", ports)
	}
	p := ports[0]
	if got, want := p.String(), "0.0.0.0:8080 -> 172.17.0.2:80/tcp"; got != want {
		t.Errorf("published %q, want %q", got, want)
	}
	if p.Rule.Chain != "DOCKER" || p.Rule.Table != "nat" || p.Rule.Number == 0 {
		t.Errorf("rule %+v, want nat DOCKER with its number", p.Rule)
	}
	d := firewall.Decision{DNATAddr: netip.MustParseAddr("172.17.0.2"), DNATPort: 80}
	if got, ok := For(ports, d); !ok || got != p {
		t.Errorf("For(decision to 172.17.0.2:80) = %+v, %v", got, ok)
	}
	if _, ok := For(ports, firewall.Decision{}); ok {
		t.Error("For(decision without DNAT) found a published port")
	}
	if Present(&firewall.Ruleset{}) || len(PublishedPorts(&firewall.Ruleset{})) != 0 {
		t.Error("an empty ruleset has Docker's chains")
	}
}

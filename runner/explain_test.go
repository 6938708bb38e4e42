package runner

import (
	"context"
	"errors"
	"net/netip"
	"strings"
	"testing"

	"github.com/portcheck/portcheck/config"
	"github.com/portcheck/portcheck/providers"
	"github.com/portcheck/portcheck/providers/firewall"
	"github.com/portcheck/portcheck/providers/firewall/netfilter"
)

// Explain on a recorded filter (no lab): which clients are walked, the
// usage errors, a vantage host with nothing to send from, and the walk
// being the decision's.
func TestExplainChoosesClients(t *testing.T) {
	yes, no := true, false
	server := &config.Host{Name: "web", Addresses: []netip.Addr{netip.MustParseAddr("10.0.0.1")}, Local: &yes}
	client := &config.Host{Name: "client", Addresses: []netip.Addr{netip.MustParseAddr("10.0.0.2")}, Local: &no}
	v6only := &config.Host{Name: "v6", Addresses: []netip.Addr{netip.MustParseAddr("fd00::9")}, Local: &no}
	ep := &config.Endpoint{Name: "web", Host: server, Ports: config.SinglePort(8080), Protocol: "tcp", From: []*config.Host{client, v6only}}
	ranged := *ep
	ranged.Ports = config.PortSpan(8080, 8081)
	listed := *ep
	listed.Ports = config.PortSet{{From: 80, To: 80}, {From: 8080, To: 8081}}

	input := &firewall.Chain{Name: "input", Type: "filter", Hook: firewall.HookInput, Policy: "drop", Rules: []*firewall.Rule{
		fwRule(3, "tcp dport 8080 accept", firewall.VerdictAccept, tcp8080),
	}}
	snap := &netfilter.Snapshot{Manager: "nftables", Ruleset: firewall.Ruleset{Tables: []*firewall.Table{nftFilter(input)}}, Host: replyHost, Notes: []string{"ipset: not installed"}}
	reads := 0
	read := func(_ context.Context, exec providers.Exec) (firewall.View, error) {
		reads++
		return snap, nil
	}
	opts := func(o ExplainOptions) ExplainOptions { o.Read = read; o.Env = Environment{GOOS: "linux"}; return o }

	xs, err := Explain(t.Context(), &EndpointPlan{Endpoint: ep}, opts(ExplainOptions{}))
	if err != nil || len(xs) != 2 || reads != 1 {
		t.Fatalf("every vantage host: %d explanations, %d reads, err %v", len(xs), reads, err)
	}
	x := xs[0]
	if x.From != "client" || x.Error != "" || x.Packet.Src != netip.MustParseAddr("10.0.0.2") || x.Decision.Verdict != firewall.Accept ||
		x.Manager != "nftables" || len(x.Notes) != 1 || x.Executor != "local" {
		t.Errorf("client: %+v", x)
	}
	if seen, _ := x.Walk.Seen(); seen != x.Decision.Seen() {
		t.Errorf("walk ends in %s, decision %s", seen, x.Decision.Seen())
	}
	if x := xs[1]; x.From != "v6" || x.Decision != nil || !strings.Contains(x.Error, "v6: no IPv4 address to send from") {
		t.Errorf("a vantage host without an IPv4 address: %+v", x)
	}

	xs, err = Explain(t.Context(), &EndpointPlan{Endpoint: ep}, opts(ExplainOptions{Source: netip.MustParseAddr("::ffff:192.0.2.1")}))
	if err != nil || len(xs) != 1 || xs[0].From != "source" || xs[0].Packet.Src != netip.MustParseAddr("192.0.2.1") || xs[0].Decision.Verdict != firewall.Accept {
		t.Errorf("-source: %+v, %v", xs, err)
	}
	xs, err = Explain(t.Context(), &EndpointPlan{Endpoint: &ranged}, opts(ExplainOptions{From: "client", Port: 8081}))
	if err != nil || len(xs) != 1 || xs[0].Target.Port != 8081 || xs[0].Decision.Verdict != firewall.Drop {
		t.Errorf("-from client -port 8081: %+v, %v", xs, err)
	}
	xs, err = Explain(t.Context(), &EndpointPlan{Endpoint: &listed}, opts(ExplainOptions{From: "client", Port: 8081}))
	if err != nil || len(xs) != 1 || xs[0].Target.Port != 8081 || xs[0].Decision.Verdict != firewall.Drop {
		t.Errorf("list, -from client -port 8081: %+v, %v", xs, err)
	}

	for _, tt := range []struct {
		ep   *config.Endpoint
		o    ExplainOptions
		want string
	}{
		{&ranged, ExplainOptions{}, "endpoint.web has ports 8080-8081: pick one with -port"},
		{ep, ExplainOptions{Port: 22}, "-port 22 is not a port of endpoint.web (8080)"},
		{&listed, ExplainOptions{}, "endpoint.web has ports 80,8080-8081: pick one with -port"},
		{&listed, ExplainOptions{Port: 81}, "-port 81 is not a port of endpoint.web (80,8080-8081)"},
		{ep, ExplainOptions{From: "nobody"}, "-from nobody is not a vantage host of endpoint.web (its vantage hosts: client, v6); -source ADDR walks any address"},
		{ep, ExplainOptions{Source: netip.MustParseAddr("fd00::1")}, "-source fd00::1: endpoint.web has no IPv6 address"},
	} {
		_, err := Explain(t.Context(), &EndpointPlan{Endpoint: tt.ep}, opts(tt.o))
		var ue *ExplainUsageError
		if !errors.As(err, &ue) || err.Error() != tt.want {
			t.Errorf("%+v: %v, want usage error %q", tt.o, err, tt.want)
		}
	}

	// A filter that cannot be read is a read error, not a usage error.
	failing := opts(ExplainOptions{})
	failing.Read = func(context.Context, providers.Exec) (firewall.View, error) {
		return nil, errors.New("nft: permission denied")
	}
	_, err = Explain(t.Context(), &EndpointPlan{Endpoint: ep}, failing)
	var re *ExplainReadError
	if !errors.As(err, &re) || !strings.Contains(err.Error(), "reading the packet filter of host web (local): nft: permission denied") {
		t.Errorf("read failure: %v", err)
	}
	remote := *ep
	remote.Host = &config.Host{Name: "far", Addresses: []netip.Addr{netip.MustParseAddr("192.0.2.50")}}
	if _, err := Explain(t.Context(), &EndpointPlan{Endpoint: &remote}, opts(ExplainOptions{})); !errors.As(err, &re) || !strings.Contains(err.Error(), "remote host") {
		t.Errorf("remote server: %v", err)
	}
}

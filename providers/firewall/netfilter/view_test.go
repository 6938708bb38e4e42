package netfilter

import (
	"net/netip"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/portcheck/portcheck/providers/firewall"
	"github.com/portcheck/portcheck/providers/firewall/firewalld"
)

// The View methods that moved out of the runner: firewalld's view of a
// port for a decision, and the firewall-cmd, nft and iptables commands a
// hint prints, in the host's namespace.
func TestSnapshotView(t *testing.T) {
	client := netip.MustParseAddr("10.0.0.2")
	fw := &firewalld.State{
		DefaultZone: "public",
		Runtime:     map[string]*firewalld.Zone{"public": {Name: "public", Ports: []firewalld.Port{{Port: "8080", Protocol: "tcp"}}}},
		Permanent:   map[string]*firewalld.Zone{"public": {Name: "public", Ports: []firewalld.Port{{Port: "9090", Protocol: "tcp"}}}},
		Drift: []firewalld.Drift{
			{Zone: "public", Kind: "port", Item: "8080/tcp", Runtime: true},
			{Zone: "internal", Kind: "port", Item: "22/tcp", Permanent: true},
		},
	}
	withFirewalld := &Snapshot{Manager: ManagerFirewalld, Firewalld: fw, Host: &firewall.Host{}}
	plain := &Snapshot{Manager: ManagerNftables, Host: &firewall.Host{}, Notes: []string{"ipset: not installed"}}
	var v firewall.View = withFirewalld
	ns := "/run/netns/web"
	fwRule := &firewall.RuleRef{Backend: firewall.BackendNftables, Family: "inet", Table: "firewalld", Chain: "filter_IN_public_allow", Handle: 42, Text: "tcp dport 8080 accept"}
	accepted := firewall.Decision{Verdict: firewall.Accept, IIF: "eth0", Rule: fwRule}
	sel := firewall.Selector{Proto: "tcp", Port: 8080, Sources: netip.MustParsePrefix("192.0.2.0/24"), Src: netip.MustParseAddr("192.0.2.1")}

	if got, want := v.ManagedPort(accepted, "tcp", 8080, client), (&firewall.ManagedPort{Tool: "firewalld", Zone: "public", Runtime: "port 8080/tcp",
		Drift: []firewall.ConfigDrift{{Zone: "public", Kind: "port", Item: "8080/tcp", Runtime: true}}}); !cmp.Equal(got, want) {
		t.Errorf("ManagedPort(8080): %s", cmp.Diff(want, got))
	}
	if got := v.ManagedPort(accepted, "tcp", 9090, client); got.Runtime != "" || got.Permanent != "port 9090/tcp" || got.Where() != "firewalld zone public" {
		t.Errorf("ManagedPort(9090) = %+v, want open only in the permanent configuration", got)
	}
	if got := firewall.View(plain).ManagedPort(accepted, "tcp", 8080, client); got != nil {
		t.Errorf("ManagedPort without firewalld = %+v, want nil", got)
	}
	if v.ManagedBy() != ManagerFirewalld || len(firewall.View(plain).ReadNotes()) != 1 {
		t.Errorf("ManagedBy %q, ReadNotes %q", v.ManagedBy(), plain.ReadNotes())
	}

	mp := v.ManagedPort(accepted, "tcp", 8080, client)
	fixes := []struct {
		name string
		fix  func() (firewall.Fix, bool)
		want string // "" = no fix
	}{
		{"narrow firewalld", func() (firewall.Fix, bool) { return v.NarrowFix(accepted, sel, ns) },
			"ip netns exec web firewall-cmd --permanent --zone=public --remove-port=8080/tcp (zone public opens the port to 192.0.2.0/24: restrict it with a rich rule for the allowed sources instead of --add-port)"},
		{"narrow an ordinary rule", func() (firewall.Fix, bool) {
			d := accepted
			d.Rule = &firewall.RuleRef{Backend: firewall.BackendNftables, Family: "inet", Table: "filter", Chain: "input", Handle: 3}
			return v.NarrowFix(d, sel, ns)
		}, ""},
		{"persist", func() (firewall.Fix, bool) { return v.PersistFix(mp, sel, ns) },
			"ip netns exec web firewall-cmd --permanent --zone=public --add-port=8080/tcp (or ip netns exec web firewall-cmd --runtime-to-permanent)"},
		{"persist without firewalld", func() (firewall.Fix, bool) { return plain.PersistFix(mp, sel, ns) }, ""},
		{"apply", func() (firewall.Fix, bool) { return v.ApplyFix("") }, "firewall-cmd --reload"},
		{"apply without firewalld", func() (firewall.Fix, bool) { return plain.ApplyFix(ns) }, ""},
	}
	for _, tt := range fixes {
		fix, ok := tt.fix()
		if got := fix.String(); ok != (tt.want != "") || got != tt.want {
			t.Errorf("%s: %q (ok %v), want %q", tt.name, got, ok, tt.want)
		}
	}

	shows := []struct {
		ref  *firewall.RuleRef
		want string
	}{
		{fwRule, "ip netns exec web nft -a list chain inet firewalld filter_IN_public_allow"},
		{&firewall.RuleRef{Backend: firewall.BackendIptablesLegacy, Family: "ip6", Table: "filter", Chain: "INPUT", Number: 3},
			"ip netns exec web ip6tables-legacy -t filter -L INPUT -nv --line-numbers"},
		{nil, "ip netns exec web nft -a list ruleset; ip netns exec web iptables-save"},
	}
	for _, tt := range shows {
		if got := v.ShowCommand(tt.ref, ns); got != tt.want {
			t.Errorf("ShowCommand(%v) = %q, want %q", tt.ref, got, tt.want)
		}
	}
}

// The reader is registered, and what it returns on error is a nil View,
// not a nil *Snapshot inside one.
func TestReaderRegistered(t *testing.T) {
	v, err := firewall.Read(t.Context(), "/nonexistent/netns/for/portcheck")
	if err == nil {
		t.Fatal("reading a namespace that does not exist succeeded")
	}
	if v != nil {
		t.Errorf("a failed read returned %T, not a nil View", v)
	}
}

// What is said of a host whose filter was not read comes from this
// reader: firewalld's and nft's commands, in their syntax.
func TestUnreadAdvice(t *testing.T) {
	a := firewall.UnreadAdvice()
	for _, tt := range []struct{ got, want string }{
		{a.OpenCommand("tcp", 8080), "firewall-cmd --add-port=8080/tcp --permanent && firewall-cmd --reload; or nft insert rule FAMILY TABLE CHAIN tcp dport 8080 accept in the input chain that `nft list ruleset` shows"},
		{a.CloseCommand("udp", 53), "nft insert rule FAMILY TABLE CHAIN udp dport 53 drop in the input chain that `nft list ruleset` shows (or firewall-cmd --remove-port=53/udp --permanent && firewall-cmd --reload)"},
		{a.ZoneOpenCommand("tcp", 443), "firewall-cmd --add-port=443/tcp --permanent && firewall-cmd --reload"},
		{a.ListCommands(), "nft list ruleset; iptables -S; firewall-cmd --list-all"},
	} {
		if tt.got != tt.want {
			t.Errorf("got  %q\nwant %q", tt.got, tt.want)
		}
	}
}

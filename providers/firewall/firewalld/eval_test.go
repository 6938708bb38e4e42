package firewalld

import (
	"net/netip"
	"testing"

	"github.com/google/go-cmp/cmp"
)

func TestZoneFor(t *testing.T) {
	st := &State{
		DefaultZone: "public",
		Runtime: map[string]*Zone{
			"public":   {Name: "public"},
			"internal": {Name: "internal", Interfaces: []string{"eth1"}},
			"dmz":      {Name: "dmz", Interfaces: []string{"eth+"}},
			"home":     {Name: "home", Sources: []string{"10.0.0.0/8"}},
			// "home" sorts before "trusted": a more specific prefix does
			// not win, the zone name order does.
			"trusted": {Name: "trusted", Sources: []string{"10.1.0.0/16", "2001:db8::/32"}},
			"drop":    {Name: "drop", Sources: []string{"192.0.2.0/255.255.255.0", "ipset:bad", "00:11:22:33:44:55"}},
		},
	}
	tests := []struct {
		iif, src string
		want     string
	}{
		{"eth1", "203.0.113.1", "internal"},
		{"eth0", "203.0.113.1", "dmz"}, // wildcard
		{"wlan0", "203.0.113.1", "public"},
		{"eth1", "10.1.2.3", "home"},
		{"eth1", "192.0.2.9", "drop"}, // dotted netmask
		{"eth1", "2001:db8::1", "trusted"},
		{"eth1", "::ffff:10.9.9.9", "home"}, // v4-mapped
		{"", "203.0.113.1", "public"},
		{"eth1", "", "internal"},
	}
	for _, tt := range tests {
		var src netip.Addr
		if tt.src != "" {
			src = netip.MustParseAddr(tt.src)
		}
		if got := st.ZoneFor(tt.iif, src); got != tt.want {
			t.Errorf("ZoneFor(%q, %s) = %q, want %q", tt.iif, tt.src, got, tt.want)
		}
	}
}

func TestOpens(t *testing.T) {
	services := map[string]*Service{
		"http":     {Name: "http", Ports: []Port{{"80", "tcp"}}},
		"https":    {Name: "https", Ports: []Port{{"443", "tcp"}}},
		"web":      {Name: "web", Includes: []string{"http", "https", "web"}},
		"mdns":     {Name: "mdns", Ports: []Port{{"5353", "udp"}}, Destination: map[string]string{"ipv4": "224.0.0.251"}},
		"gre":      {Name: "gre", Protocols: []string{"gre"}},
		"dns":      {Name: "dns", Ports: []Port{{"53", "tcp"}, {"53", "udp"}}},
		"postgres": {Name: "postgres", Ports: []Port{{"5432", "tcp"}}},
	}
	zones := map[string]*Zone{
		"public": {Name: "public", Target: "default",
			Services:     []string{"web", "mdns"},
			Ports:        []Port{{"8080", "tcp"}, {"8000-8010", "udp"}},
			Protocols:    []string{"sctp"},
			ForwardPorts: []ForwardPort{{Port: "2222", Protocol: "tcp", ToPort: "22"}},
		},
		"rich": {Name: "rich", Target: "default", Ports: []Port{{"22", "tcp"}}, RichRules: []string{
			`rule family="ipv4" source address="10.0.0.0/8" service name="postgres" accept`,
			`rule family="ipv4" source address="10.6.6.0/24" reject`,
			`rule priority="-10" family="ipv4" source address="10.7.7.7" drop`,
			`rule priority="-5" family="ipv6" source NOT address="fd00::/8" port port="22" protocol="tcp" reject type="icmp6-adm-prohibited"`,
			`rule priority="5" source ipset="office" port port="3000" protocol="tcp" accept`,
			`rule family="ipv4" destination address="192.0.2.1" port port="4000" protocol="tcp" accept`,
			`rule family="ipv4" port port="4500" protocol="tcp" log prefix="x" limit value="1/m"`,
			`rule family="ipv4" source address="203.0.113.7" forward-port port="8443" protocol="tcp" to-port="443"`,
			`rule family="ipv4" source-port port="53" protocol="udp" accept`,
		}},
		"blocked": {Name: "blocked", Target: "DROP", Services: []string{"dns"}, RichRules: []string{
			`rule source mac="00:11:22:33:44:55" drop`,
		}},
		"trusted":    {Name: "trusted", Target: "ACCEPT"},
		"incomplete": {Name: "incomplete", Target: "default", Services: []string{"missing"}},
		"reject":     {Name: "reject", Target: "%%REJECT%%"},
	}
	st := &State{Runtime: zones, Services: services}

	tests := []struct {
		zone, proto string
		port        int
		src         string
		how         string
		ok          bool
	}{
		{"public", "tcp", 8080, "203.0.113.1", "port 8080/tcp", true},
		{"public", "udp", 8005, "203.0.113.1", "port 8000-8010/udp", true},
		{"public", "tcp", 443, "203.0.113.1", "service web", true},
		{"public", "sctp", 9, "203.0.113.1", "protocol sctp", true},
		{"public", "tcp", 2222, "203.0.113.1", "forward-port port=2222:proto=tcp:toport=22:toaddr=", true},
		{"public", "udp", 5353, "203.0.113.1", "service mdns only opens it to 224.0.0.251", false},
		{"public", "udp", 5353, "2001:db8::1", "", false}, // mdns has no IPv6 destination here
		{"incomplete", "tcp", 9999, "203.0.113.1", "service missing not evaluated: definition not read", false},
		{"rich", "tcp", 5432, "10.1.1.1", `rich rule rule family="ipv4" source address="10.0.0.0/8" service name="postgres" accept`, true},
		{"rich", "tcp", 5432, "192.0.2.1", "", false},
		// Deny rules come before allow rules at the same priority...
		{"rich", "tcp", 5432, "10.6.6.6", `rich rule rule family="ipv4" source address="10.6.6.0/24" reject`, false},
		// ...and negative priorities before the zone's own ports.
		{"rich", "tcp", 22, "10.7.7.7", `rich rule rule priority="-10" family="ipv4" source address="10.7.7.7" drop`, false},
		{"rich", "tcp", 22, "2001:db8::1", `rich rule rule priority="-5" family="ipv6" source NOT address="fd00::/8" port port="22" protocol="tcp" reject type="icmp6-adm-prohibited"`, false},
		{"rich", "tcp", 22, "fd00::1", "port 22/tcp", true},
		{"rich", "tcp", 3000, "10.1.1.1", `rich rule not evaluated: rule priority="5" source ipset="office" port port="3000" protocol="tcp" accept`, false},
		{"rich", "tcp", 4000, "10.1.1.1", `rich rule not evaluated: rule family="ipv4" destination address="192.0.2.1" port port="4000" protocol="tcp" accept`, false},
		{"rich", "tcp", 4500, "10.1.1.1", "", false}, // log only
		{"rich", "tcp", 8443, "203.0.113.7", `rich rule rule family="ipv4" source address="203.0.113.7" forward-port port="8443" protocol="tcp" to-port="443"`, true},
		{"rich", "tcp", 8443, "203.0.113.8", "", false},
		{"rich", "udp", 9000, "10.1.1.1", `rich rule not evaluated: rule family="ipv4" source-port port="53" protocol="udp" accept`, false},
		// Unknown source: a source-limited rule cannot be decided.
		{"rich", "tcp", 5432, "", `rich rule not evaluated: rule family="ipv4" source address="10.0.0.0/8" service name="postgres" accept`, false},
		{"blocked", "udp", 53, "203.0.113.1", `service dns; rich rule not evaluated: rule source mac="00:11:22:33:44:55" drop`, true},
		{"blocked", "tcp", 80, "203.0.113.1", "target DROP", false},
		{"trusted", "tcp", 1, "203.0.113.1", "target ACCEPT", true},
		{"reject", "tcp", 1, "203.0.113.1", "target %%REJECT%%", false},
		{"nosuch", "tcp", 1, "203.0.113.1", "no zone nosuch", false},
	}
	for _, tt := range tests {
		var src netip.Addr // "" = unknown source
		if tt.src != "" {
			src = netip.MustParseAddr(tt.src)
		}
		how, ok := st.Opens(tt.zone, tt.proto, tt.port, src)
		if how != tt.how || ok != tt.ok {
			t.Errorf("Opens(%s, %s/%d, %s) = %q, %v\n                              want %q, %v", tt.zone, tt.proto, tt.port, tt.src, how, ok, tt.how, tt.ok)
		}
	}
}

func TestOpensPermanentUsesPermanentSide(t *testing.T) {
	st := &State{
		Runtime:           map[string]*Zone{"public": {Name: "public", Target: "default", Ports: []Port{{"8080", "tcp"}}}},
		Permanent:         map[string]*Zone{"public": {Name: "public", Target: "default", Services: []string{"http"}}},
		Services:          map[string]*Service{},
		PermanentServices: map[string]*Service{"http": {Name: "http", Ports: []Port{{"80", "tcp"}}}},
	}
	src := netip.MustParseAddr("192.0.2.1")
	if how, ok := st.OpensPermanent("public", "tcp", 8080, src); ok {
		t.Errorf("8080 permanently open via %q; it is runtime only", how)
	}
	if how, ok := st.OpensPermanent("public", "tcp", 80, src); !ok || how != "service http" {
		t.Errorf("OpensPermanent 80 = %q, %v; want service http", how, ok)
	}
}

func TestParseRichRule(t *testing.T) {
	got, err := parseRichRule(`rule priority="-3" family="ipv4" source NOT address="10.0.0.0/8" port port="80" protocol="tcp" log prefix="a b" level="info" limit value="1/m" reject type="icmp-host-prohibited"`)
	if err != nil {
		t.Fatal(err)
	}
	want := &richRule{
		family: "ipv4", priority: -3,
		source:  &richAddr{not: true, kind: "address", value: "10.0.0.0/8"},
		element: "port", attrs: map[string]string{"port": "80", "protocol": "tcp"},
		action: "reject",
	}
	want.text = got.text
	if d := cmp.Diff(want, got, cmp.AllowUnexported(richRule{}, richAddr{})); d != "" {
		t.Errorf("(-want +got):\n%s", d)
	}
	for _, bad := range []string{``, `rule port port="1" protocol="tcp" service name="x" accept`, `rule family="ipv4`, `rule frobnicate`, `priority="1"`} {
		if r, err := parseRichRule(bad); err == nil {
			t.Errorf("parseRichRule(%q) = %+v, want an error", bad, r)
		}
	}
}

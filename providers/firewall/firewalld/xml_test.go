package firewalld

import (
	"net/netip"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

func readTestdata(t testing.TB, path string) []byte {
	t.Helper()
	data, err := os.ReadFile(filepath.Join("testdata", path))
	if err != nil {
		t.Fatal(err)
	}
	return data
}

func TestParseZoneXMLDistributionZones(t *testing.T) {
	tests := map[string]*Zone{
		"public":   {Name: "public", Target: "default", Services: []string{"ssh", "dhcpv6-client"}, Forward: true},
		"trusted":  {Name: "trusted", Target: "ACCEPT", Forward: true},
		"block":    {Name: "block", Target: "%%REJECT%%", Forward: true},
		"drop":     {Name: "drop", Target: "DROP", Forward: true},
		"internal": {Name: "internal", Target: "default", Services: []string{"ssh", "mdns", "samba-client", "dhcpv6-client"}, Forward: true},
	}
	for name, want := range tests {
		got, err := ParseZoneXML(name, readTestdata(t, "zones/"+name+".xml"))
		if err != nil {
			t.Fatal(err)
		}
		if d := cmp.Diff(want, got); d != "" {
			t.Errorf("zone %s (-want +got):\n%s", name, d)
		}
	}
}

func TestParseZoneXMLAllElements(t *testing.T) {
	got, err := ParseZoneXML("lab", readTestdata(t, "zones/lab.xml"))
	if err != nil {
		t.Fatal(err)
	}
	want := &Zone{
		Name:        "lab",
		Target:      "%%REJECT%%",
		Services:    []string{"http", "ssh"},
		Ports:       []Port{{"8080", "tcp"}, {"8000-8100", "udp"}, {"9000", "tcp"}},
		Protocols:   []string{"gre"},
		SourcePorts: []Port{{"68", "udp"}},
		RichRules: []string{
			`rule family="ipv4" source address="198.51.100.0/24" port port="5432" protocol="tcp" log prefix="pg" level="info" limit value="3/m" accept`,
			`rule priority="-5" family="ipv6" source NOT address="fd00::/8" service name="http" reject type="icmp6-adm-prohibited"`,
			`rule priority="10" source ipset="blocklist" drop`,
			`rule family="ipv4" source address="203.0.113.7" forward-port port="8443" protocol="tcp" to-port="443"`,
		},
		Masquerade: true,
		Forward:    true,
		ForwardPorts: []ForwardPort{
			{Port: "2222", Protocol: "tcp", ToPort: "22"},
			{Port: "53", Protocol: "udp", ToPort: "5353", ToAddr: "192.0.2.53"},
		},
		ICMPBlocks:         []string{"echo-request"},
		ICMPBlockInversion: true,
		Interfaces:         []string{"eth1", "wg+"},
		Sources:            []string{"192.0.2.0/24", "2001:db8::/32", "ipset:trusted-hosts"},
	}
	if d := cmp.Diff(want, got); d != "" {
		t.Errorf("(-want +got):\n%s", d)
	}
}

func TestParseZoneXMLErrors(t *testing.T) {
	tests := []struct {
		name, xml, want string
	}{
		{"unclosed", string(readTestdata(t, "zones/broken.xml.bad")), "line 4"},
		{"not xml", "port 80", "EOF"},
		{"empty", "", "EOF"},
		{"wrong root", `<service><port port="80" protocol="tcp"/></service>`, "expected element type <zone>"},
		{"bad target", `<zone target="REJECT"/>`, `invalid target "REJECT"`},
		{"port out of range", `<zone><port port="70000" protocol="tcp"/></zone>`, `invalid port "70000"`},
		{"port without protocol", `<zone><port port="80"/></zone>`, "without protocol"},
		{"empty port", `<zone><port port="" protocol="tcp"/></zone>`, `invalid port ""`},
		{"protocol without value", `<zone><protocol/></zone>`, "protocol without value"},
		{"rule priority", `<zone><rule priority="high"><accept/></rule></zone>`, `priority "high"`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			z, err := ParseZoneXML("x", []byte(tt.xml))
			if err == nil {
				t.Fatalf("no error, zone %+v", z)
			}
			if !strings.Contains(err.Error(), tt.want) || !strings.HasPrefix(err.Error(), "zone x: ") {
				t.Errorf("error %q, want it to name zone x and contain %q", err, tt.want)
			}
		})
	}
}

func TestParseServiceXML(t *testing.T) {
	tests := map[string]*Service{
		"http":          {Name: "http", Ports: []Port{{"80", "tcp"}}},
		"mdns":          {Name: "mdns", Ports: []Port{{"5353", "udp"}}, Destination: map[string]string{"ipv4": "224.0.0.251", "ipv6": "ff02::fb"}},
		"freeipa-4":     {Name: "freeipa-4", Includes: []string{"http", "https", "kerberos", "kpasswd", "ldap", "ldaps"}},
		"gre":           {Name: "gre", Protocols: []string{"gre"}},
		"dhcpv6-client": {Name: "dhcpv6-client", Ports: []Port{{"546", "udp"}}, Destination: map[string]string{"ipv6": "fe80::/64"}},
	}
	for name, want := range tests {
		got, err := ParseServiceXML(name, readTestdata(t, "services/"+name+".xml"))
		if err != nil {
			t.Fatal(err)
		}
		if d := cmp.Diff(want, got); d != "" {
			t.Errorf("service %s (-want +got):\n%s", name, d)
		}
	}
	// A port element without a port opens the whole protocol.
	got, err := ParseServiceXML("x", []byte(`<service><port port="" protocol="gre"/></service>`))
	if err != nil || !cmp.Equal(got.Protocols, []string{"gre"}) {
		t.Errorf("got %+v, %v; want protocol gre", got, err)
	}
	if _, err := ParseServiceXML("x", []byte(`<service><port`)); err == nil || !strings.Contains(err.Error(), "line 1") {
		t.Errorf("malformed service: err %v, want a syntax error with its line", err)
	}
}

func TestReadPermanentOverridesDefaults(t *testing.T) {
	def, sys := t.TempDir(), t.TempDir()
	write := func(dir, rel, content string) {
		t.Helper()
		path := filepath.Join(dir, rel)
		if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(path, []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	write(def, "zones/public.xml", string(readTestdata(t, "zones/public.xml")))
	write(def, "zones/drop.xml", string(readTestdata(t, "zones/drop.xml")))
	write(def, "services/http.xml", string(readTestdata(t, "services/http.xml")))
	write(sys, "zones/public.xml", `<zone><service name="ssh"/><port port="8080" protocol="tcp"/></zone>`)
	write(sys, "zones/drop.xml", `<zone target="BOGUS"/>`) // firewalld keeps the default one
	write(sys, "zones/public.xml.old", `<zone/>`)          // firewalld's backups are not zones
	write(sys, "firewalld.conf", "# comment\nDefaultZone=drop\nFirewallBackend=nftables\n")

	zones, services, defaultZone, err := ReadPermanent(sys, def)
	if err == nil || !strings.Contains(err.Error(), filepath.Join(sys, "zones/drop.xml")) {
		t.Errorf("err = %v, want the bad system drop.xml named", err)
	}
	if defaultZone != "drop" {
		t.Errorf("default zone %q, want drop", defaultZone)
	}
	want := map[string]*Zone{
		"public": {Name: "public", Target: "default", Services: []string{"ssh"}, Ports: []Port{{"8080", "tcp"}}},
		"drop":   {Name: "drop", Target: "DROP", Forward: true},
	}
	if d := cmp.Diff(want, zones); d != "" {
		t.Errorf("zones (-want +got):\n%s", d)
	}
	if services["http"] == nil || len(services) != 1 {
		t.Errorf("services = %v, want http only", services)
	}

	// Nothing there: firewalld's fallback zone, no error.
	zones, _, defaultZone, err = ReadPermanent(filepath.Join(sys, "none"), filepath.Join(def, "none"))
	if err != nil || len(zones) != 0 || defaultZone != "public" {
		t.Errorf("missing dirs: %v zones, default %q, err %v", len(zones), defaultZone, err)
	}
}

func TestConfigDirs(t *testing.T) {
	tests := []struct {
		cmdline   string
		sys, dflt string
	}{
		{"/usr/bin/python3 /usr/sbin/firewalld --nofork --nopid", "/etc/firewalld", "/usr/lib/firewalld"},
		{"/usr/bin/python3 -s /usr/sbin/firewalld --nofork --system-config /tmp/etc --default-config /tmp/usr", "/tmp/etc", "/tmp/usr"},
		{"python3 firewalld --system-config=/a --default-config=/b", "/a", "/b"},
		// argparse takes unambiguous prefixes; "--de" could be --debug too.
		{"firewalld --sys /a --def /b --de /c", "/a", "/b"},
		{"firewalld --debug 2 --system-config", "/etc/firewalld", "/usr/lib/firewalld"},
	}
	for _, tt := range tests {
		sys, dflt := configDirs(strings.Fields(tt.cmdline))
		if sys != tt.sys || dflt != tt.dflt {
			t.Errorf("%q: got %q, %q; want %q, %q", tt.cmdline, sys, dflt, tt.sys, tt.dflt)
		}
	}
}

func FuzzParseZoneXML(f *testing.F) {
	entries, err := os.ReadDir("testdata/zones")
	if err != nil {
		f.Fatal(err)
	}
	for _, e := range entries {
		f.Add(readTestdata(f, "zones/"+e.Name()))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		z, err := ParseZoneXML("fuzz", data)
		if err != nil {
			return
		}
		// Every rule rendered from XML must parse back for evaluation.
		for _, text := range z.RichRules {
			if _, err := parseRichRule(text); err != nil {
				t.Errorf("rendered rule %q does not parse: %v", text, err)
			}
		}
		st := &State{Runtime: map[string]*Zone{"fuzz": z}, DefaultZone: "fuzz"}
		st.Opens("fuzz", "tcp", 8080, netip.MustParseAddr("192.0.2.1"))
		st.ZoneFor("eth0", netip.MustParseAddr("2001:db8::1"))
	})
}

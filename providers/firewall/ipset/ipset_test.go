package ipset

import (
	"net/netip"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"

	"github.com/portcheck/portcheck/providers/firewall"
)

func TestParse(t *testing.T) {
	save := `create f2b-sshd hash:ip family inet hashsize 1024 maxelem 65536 timeout 600 bucketsize 12 initval 0x0b8d5b81
add f2b-sshd 10.88.1.3 timeout 499
create six hash:net family inet6 hashsize 1024 maxelem 65536
add six fd88:1::/64
add six fd88:1::/120 nomatch
create svc hash:ip,port family inet hashsize 1024 maxelem 65536
add svc 10.0.0.1,tcp:80
add svc 10.0.0.1,udp:53
add svc 10.0.0.2,443
create ports bitmap:port range 0-65535
add ports 22
create macs hash:mac hashsize 1024 maxelem 65536
add macs 02:00:00:00:00:01
create lst list:set size 8
add lst f2b-sshd
`
	got, err := Parse([]byte(save))
	if err != nil {
		t.Fatal(err)
	}
	p := func(s string) firewall.Value {
		v := firewall.Value{}
		pr := mustPrefix(s)
		v.Prefix = &pr
		return v
	}
	port := func(proto uint8, n uint32) firewall.Value {
		return firewall.Value{Proto: proto, Range: &firewall.Range{From: n, To: n}}
	}
	want := map[string]*firewall.IPSet{
		"f2b-sshd": {Name: "f2b-sshd", Type: "hash:ip", Family: "inet", Entries: []firewall.IPSetEntry{{Values: []firewall.Value{p("10.88.1.3/32")}}}},
		"six": {Name: "six", Type: "hash:net", Family: "inet6", Entries: []firewall.IPSetEntry{
			{Values: []firewall.Value{p("fd88:1::/64")}}, {Values: []firewall.Value{p("fd88:1::/120")}, Nomatch: true}}},
		"svc": {Name: "svc", Type: "hash:ip,port", Family: "inet", Entries: []firewall.IPSetEntry{
			{Values: []firewall.Value{p("10.0.0.1/32"), port(6, 80)}}, {Values: []firewall.Value{p("10.0.0.1/32"), port(17, 53)}},
			{Values: []firewall.Value{p("10.0.0.2/32"), port(6, 443)}}}},
		"ports": {Name: "ports", Type: "bitmap:port", Family: "inet", Entries: []firewall.IPSetEntry{{Values: []firewall.Value{port(6, 22)}}}},
		"macs":  {Name: "macs", Type: "hash:mac", Family: "inet"},
		"lst":   {Name: "lst", Type: "list:set", Family: "inet", Members: []string{"f2b-sshd"}},
	}
	if d := cmp.Diff(want, got, cmpopts.EquateComparable(mustPrefix("0.0.0.0/0"))); d != "" {
		t.Errorf("Parse (-want +got):\n%s", d)
	}
}

func TestParseErrors(t *testing.T) {
	for _, save := range []string{
		"add nosuch 10.0.0.1\n",
		"create a hash:ip family inet\ncreate a hash:ip family inet\n",
		"create a hash:ip family inet\nadd a fd00::1\n",
		"create a hash:ip,port family inet\nadd a 10.0.0.1\n",
		"create a hash:ip,port family inet\nadd a 10.0.0.1,icmp:ping\n",
		"destroy a\n",
	} {
		if _, err := Parse([]byte(save)); err == nil {
			t.Errorf("Parse(%q): no error", save)
		}
	}
}

func FuzzParse(f *testing.F) {
	f.Add([]byte("create a hash:net family inet\nadd a 10.0.0.0/8\nadd a 10.1.0.0/16 nomatch\n"))
	f.Add([]byte("create s hash:net,port family inet6\nadd s fd00::/8,udp:53\n"))
	f.Fuzz(func(t *testing.T, b []byte) {
		sets, err := Parse(b)
		if err != nil {
			return
		}
		for _, s := range sets {
			for _, e := range s.Entries {
				if dims, _ := firewall.IPSetDimensions(s.Type); len(e.Values) != len(dims) {
					t.Fatalf("%s: entry %v for dimensions %q", s.Name, e, dims)
				}
			}
		}
		_ = strings.TrimSpace
	})
}

func mustPrefix(s string) netip.Prefix { return netip.MustParsePrefix(s) }

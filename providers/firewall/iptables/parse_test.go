package iptables

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/portcheck/portcheck/providers/firewall"
)

// TestParseFixtures parses what the real tools printed for each fixture
// (see TestFixturesAreGenuine) and compares it with the expected model.
func TestParseFixtures(t *testing.T) {
	for _, s := range saves {
		t.Run(s.file, func(t *testing.T) {
			save, err := os.ReadFile(filepath.Join("testdata", s.file))
			if err != nil {
				t.Fatal(err)
			}
			got, err := Parse(save, fixtureFamily[s.fixture], s.backend)
			if err != nil {
				t.Fatal(err)
			}
			if d := cmp.Diff(sortTables(expected(s.fixture, s.backend)), sortTables(got), equateNetip); d != "" {
				t.Errorf("Parse(%s) (-want +got):\n%s", s.file, d)
			}
		})
	}
}

// parseRule parses one rule in a filter INPUT chain that also has a user
// chain "web".
func parseRule(t *testing.T, family, table, rule string) *firewall.Rule {
	t.Helper()
	chain := map[string]string{"raw": "PREROUTING", "mangle": "PREROUTING", "nat": "PREROUTING"}[table]
	if chain == "" {
		chain = "INPUT"
	}
	decl := ":" + chain + " ACCEPT [0:0]\n:web - [0:0]\n"
	// A rule of another chain (kube-proxy's, Calico's) declares it.
	if f := strings.Fields(rule); len(f) > 1 && f[0] == "-A" && f[1] != chain {
		decl = ":" + f[1] + " - [0:0]\n" + decl
	}
	save := "*" + table + "\n" + decl + rule + "\nCOMMIT\n"
	tables, err := Parse([]byte(save), family, legacy)
	if err != nil {
		t.Fatalf("Parse(%q): %v", rule, err)
	}
	for _, c := range tables[0].Chains {
		if len(c.Rules) > 0 {
			return c.Rules[0]
		}
	}
	t.Fatalf("Parse(%q): no rule", rule)
	return nil
}

// TestParseRule covers forms the fixtures cannot hold: hand-written
// restore input, targets iptables-nft refuses, and edge values.
func TestParseRule(t *testing.T) {
	ip, ip6 := firewall.FamilyIP, firewall.FamilyIP6
	tests := []struct {
		name, family, table, line string
		want                      *firewall.Rule
	}{
		{"counters -c are cut from the text", ip, "filter", "-A INPUT -c 10 200 -p tcp -m tcp --dport 22 -c 1 2 -j ACCEPT",
			r("-A INPUT -p tcp -m tcp --dport 22 -j ACCEPT", accept, l4(6), dport(tcp, one(22)))},
		{"counter prefix", ip, "filter", "[5:300] -A INPUT -j DROP", r("-A INPUT -j DROP", drop)},
		{"long option names", ip, "filter", "--append INPUT --source 10.0.0.0/8 --protocol udp --match udp --destination-port 53 --jump ACCEPT",
			r("--append INPUT --source 10.0.0.0/8 --protocol udp --match udp --destination-port 53 --jump ACCEPT", accept,
				saddr("10.0.0.0/8"), l4(17), dport(udp, one(53)))},
		{"contiguous netmask", ip, "filter", "-A INPUT -d 10.1.0.0/255.255.0.0 -j ACCEPT",
			r("-A INPUT -d 10.1.0.0/255.255.0.0 -j ACCEPT", accept, daddr("10.1.0.0/16"))},
		{"host bits are masked off", ip, "filter", "-A INPUT -s 10.1.2.3/8 -j ACCEPT",
			r("-A INPUT -s 10.1.2.3/8 -j ACCEPT", accept, saddr("10.0.0.0/8"))},
		{"address of the other family", ip, "filter", "-A INPUT -s fd00::1 -j ACCEPT",
			u("-s fd00::1", "-A INPUT -s fd00::1 -j ACCEPT", accept)},
		{"hostname", ip, "filter", "-A INPUT -s example.com -j ACCEPT",
			u("-s example.com", "-A INPUT -s example.com -j ACCEPT", accept)},
		{"interface wildcard", ip, "filter", "-A INPUT ! -i veth+ -j DROP", r("-A INPUT ! -i veth+ -j DROP", drop, not(iif("veth+")))},
		{"literal star in an interface name", ip, "filter", "-A INPUT -i eth* -j DROP",
			u(`interface name "eth*"`, "-A INPUT -i eth* -j DROP", drop)},
		{"protocol names are case-insensitive", ip, "filter", "-A INPUT -p UDP -j DROP", r("-A INPUT -p UDP -j DROP", drop, l4(17))},
		{"icmpv6 alias", ip6, "filter", "-A INPUT -p icmpv6 -j DROP", r("-A INPUT -p icmpv6 -j DROP", drop, l4(58))},
		{"unknown protocol", ip, "filter", "-A INPUT -p foo -j DROP", u(`protocol "foo"`, "-A INPUT -p foo -j DROP", drop)},
		{"negated all", ip, "filter", "-A INPUT ! -p all -j DROP", u("! -p all", "-A INPUT ! -p all -j DROP", drop)},
		{"port service name", ip, "filter", "-A INPUT -p tcp -m tcp --dport ssh -j ACCEPT",
			u(`match "tcp": --dport ssh`, "-A INPUT -p tcp -m tcp --dport ssh -j ACCEPT", accept, l4(6))},
		{"open port range", ip, "filter", "-A INPUT -p udp -m udp --dport :1023 -j DROP",
			r("-A INPUT -p udp -m udp --dport :1023 -j DROP", drop, l4(17), dport(udp, rng(0, 1023)))},
		{"reversed port range", ip, "filter", "-A INPUT -p udp -m udp --dport 90:80 -j DROP",
			u(`match "udp": --dport 90:80`, "-A INPUT -p udp -m udp --dport 90:80 -j DROP", drop, l4(17))},
		{"--syn", ip, "filter", "-A INPUT -p tcp -m tcp --syn -j ACCEPT",
			r("-A INPUT -p tcp -m tcp --syn -j ACCEPT", accept, l4(6), flags(0x17, 0x02))},
		{"--syn negated", ip, "filter", "-A INPUT -p tcp -m tcp ! --syn -j DROP",
			r("-A INPUT -p tcp -m tcp ! --syn -j DROP", drop, l4(6), not(flags(0x17, 0x02)))},
		{"--tcp-flags ALL NONE", ip, "filter", "-A INPUT -p tcp -m tcp --tcp-flags FIN,SYN,RST,PSH,ACK,URG NONE -j DROP",
			r("-A INPUT -p tcp -m tcp --tcp-flags FIN,SYN,RST,PSH,ACK,URG NONE -j DROP", drop, l4(6), flags(0x3f, 0))},
		{"--tcp-flags ALL", ip, "filter", "-A INPUT -p tcp -m tcp --tcp-flags ALL FIN,URG,PSH -j DROP",
			r("-A INPUT -p tcp -m tcp --tcp-flags ALL FIN,URG,PSH -j DROP", drop, l4(6), flags(0x3f, 0x29))},
		{"--tcp-flags unknown flag", ip, "filter", "-A INPUT -p tcp -m tcp --tcp-flags SYN,XYZ SYN -j DROP",
			u(`match "tcp": --tcp-flags SYN,XYZ SYN`, "-A INPUT -p tcp -m tcp --tcp-flags SYN,XYZ SYN -j DROP", drop, l4(6))},
		{"--tcp-option", ip, "filter", "-A INPUT -p tcp -m tcp --tcp-option 2 -j DROP",
			u(`match "tcp": --tcp-option 2`, "-A INPUT -p tcp -m tcp --tcp-option 2 -j DROP", drop, l4(6))},
		{"multiport without -p", ip, "filter", "-A INPUT -m multiport --dports 1,2 -j DROP",
			u(`match "multiport": --dports 1,2`, "-A INPUT -m multiport --dports 1,2 -j DROP", drop)},
		{"multiport sctp", ip, "filter", "-A INPUT -p sctp -m multiport --dports 1,2 -j DROP",
			r("-A INPUT -p sctp -m multiport --dports 1,2 -j DROP", drop, l4(132), dport(132, one(1), one(2)))},
		{"state lower-cased", ip, "filter", "-A INPUT -m state --state NEW,RELATED -j ACCEPT",
			r("-A INPUT -m state --state NEW,RELATED -j ACCEPT", accept, ctstate("new", "related"))},
		{"conntrack --ctstatus", ip, "filter", "-A INPUT -m conntrack --ctstatus ASSURED -j ACCEPT",
			r("-A INPUT -m conntrack --ctstatus ASSURED -j ACCEPT", accept, firewall.Match{Field: firewall.FieldCTStatus, Names: []string{"assured"}})},
		{"conntrack virtual state DNAT", ip, "filter", "-A INPUT -m conntrack ! --ctstate RELATED,ESTABLISHED,DNAT -j DROP",
			r("-A INPUT -m conntrack ! --ctstate RELATED,ESTABLISHED,DNAT -j DROP", drop, not(ctstate("related", "established", "dnat")))},
		{"addrtype multicast in ip6", ip6, "filter", "-A INPUT -m addrtype ! --src-type MULTICAST -j DROP",
			r("-A INPUT -m addrtype ! --src-type MULTICAST -j DROP", drop, not(saddrType("multicast")))},
		{"addrtype unicast in ip6", ip6, "filter", "-A INPUT -m addrtype --dst-type UNICAST -j DROP",
			u(`match "addrtype": --dst-type UNICAST`, "-A INPUT -m addrtype --dst-type UNICAST -j DROP", drop)},
		{"icmp type 255 is any", ip, "filter", "-A INPUT -p icmp -m icmp --icmp-type 255 -j ACCEPT",
			r("-A INPUT -p icmp -m icmp --icmp-type 255 -j ACCEPT", accept, l4(1), icmpType(rng(0, 255)))},
		{"icmp type name", ip, "filter", "-A INPUT -p icmp -m icmp --icmp-type echo-request -j ACCEPT",
			r("-A INPUT -p icmp -m icmp --icmp-type echo-request -j ACCEPT", accept, l4(1), icmpType(one(8)))},
		{"icmp code name", ip, "filter", "-A INPUT -p icmp -m icmp --icmp-type port-unreachable -j ACCEPT",
			u(`match "icmp": --icmp-type port-unreachable`, "-A INPUT -p icmp -m icmp --icmp-type port-unreachable -j ACCEPT", accept, l4(1))},
		{"icmp6 type name", ip6, "filter", "-A INPUT -p ipv6-icmp -m icmp6 --icmpv6-type neighbor-solicitation -j ACCEPT",
			r("-A INPUT -p ipv6-icmp -m icmp6 --icmpv6-type neighbor-solicitation -j ACCEPT", accept, l4(58), icmpv6Type(135))},
		{"icmp match in ip6", ip6, "filter", "-A INPUT -p icmp -m icmp --icmp-type 8 -j ACCEPT",
			u(`match "icmp" in family ip6`, "-A INPUT -p icmp -m icmp --icmp-type 8 -j ACCEPT", accept, l4(1))},
		{"iprange whole space", ip, "filter", "-A INPUT -m iprange --src-range 0.0.0.0-255.255.255.255 -j DROP",
			r("-A INPUT -m iprange --src-range 0.0.0.0-255.255.255.255 -j DROP", drop, saddr("0.0.0.0/0"))},
		{"iprange reversed", ip, "filter", "-A INPUT -m iprange --src-range 10.0.0.9-10.0.0.1 -j DROP",
			u(`match "iprange": --src-range 10.0.0.9-10.0.0.1`, "-A INPUT -m iprange --src-range 10.0.0.9-10.0.0.1 -j DROP", drop)},
		{"set", ip, "filter", "-A INPUT -m set --match-set blocked src -j DROP",
			r("-A INPUT -m set --match-set blocked src -j DROP", drop, firewall.Match{Field: firewall.FieldIPSet, Set: "blocked", Names: []string{"src"}})},
		{"set with two directions, negated", ip, "filter", "-A INPUT -m set ! --match-set svc dst,dst -j DROP",
			r("-A INPUT -m set ! --match-set svc dst,dst -j DROP", drop, firewall.Match{Field: firewall.FieldIPSet, Negate: true, Set: "svc", Names: []string{"dst", "dst"}})},
		{"no target", ip, "filter", "-A INPUT -p tcp", r("-A INPUT -p tcp", none, l4(6))},
		{"QUEUE", ip, "filter", "-A INPUT -j QUEUE", r("-A INPUT -j QUEUE", queue)},
		{"jump to a user chain", ip, "filter", "-A INPUT -j web", r("-A INPUT -j web", jump("web"))},
		{"jump to a builtin chain", ip, "filter", "-A INPUT -j INPUT", effect(`target "INPUT"`, "-A INPUT -j INPUT", none)},
		{"unknown target", ip, "mangle", "-A PREROUTING -p tcp -j TPROXY --on-port 1",
			effect(`target "TPROXY"`, "-A PREROUTING -p tcp -j TPROXY --on-port 1", none, l4(6))},
		{"ACCEPT with an option", ip, "filter", "-A INPUT -j ACCEPT --foo",
			effect(`target "ACCEPT": --foo`, "-A INPUT -j ACCEPT --foo", accept)},
		{"REJECT default ip6", ip6, "filter", "-A INPUT -j REJECT", r("-A INPUT -j REJECT", reject("icmpv6 port-unreachable"))},
		{"REJECT ip4 reply in ip6", ip6, "filter", "-A INPUT -j REJECT --reject-with icmp-host-prohibited",
			effect(`target "REJECT": --reject-with icmp-host-prohibited`, "-A INPUT -j REJECT --reject-with icmp-host-prohibited", reject("icmpv6 port-unreachable"))},
		{"DNAT ip6 port only", ip6, "nat", "-A PREROUTING -p tcp -j DNAT --to-destination :8080",
			r("-A PREROUTING -p tcp -j DNAT --to-destination :8080", dnat("", 8080), l4(6))},
		{"DNAT ip6 unbracketed with port", ip6, "nat", "-A PREROUTING -p tcp -j DNAT --to-destination [fd00::1]:80-90",
			effect(`target "DNAT": --to-destination [fd00::1]:80-90`, "-A PREROUTING -p tcp -j DNAT --to-destination [fd00::1]:80-90", dnat("", 0), l4(6))},
		{"DNAT twice", ip, "nat", "-A PREROUTING -j DNAT --to-destination 10.0.0.1 --to-destination 10.0.0.2",
			effect(`target "DNAT": --to-destination 10.0.0.2`, "-A PREROUTING -j DNAT --to-destination 10.0.0.1 --to-destination 10.0.0.2", dnat("10.0.0.1", 0))},
		{"DNAT without destination", ip, "nat", "-A PREROUTING -j DNAT",
			effect(`target "DNAT" without --to-destination`, "-A PREROUTING -j DNAT", dnat("", 0))},
		{"MARK --set-mark", ip, "mangle", "-A PREROUTING -j MARK --set-mark 7",
			setMark(7, r("-A PREROUTING -j MARK --set-mark 7", none))},
		{"MARK --set-mark V/M covering all bits", ip, "mangle", "-A PREROUTING -j MARK --set-mark 0xffff0000/0xffff",
			setMark(0xffff0000, r("-A PREROUTING -j MARK --set-mark 0xffff0000/0xffff", none))},
		{"MARK --or-mark", ip, "mangle", "-A PREROUTING -j MARK --or-mark 1",
			markOp(^uint32(1), 1, r("-A PREROUTING -j MARK --or-mark 1", none))},
		{"MARK --and-mark", ip, "mangle", "-A PREROUTING -j MARK --and-mark 0xffffbfff",
			markOp(0xffffbfff, 0, r("-A PREROUTING -j MARK --and-mark 0xffffbfff", none))},
		{"MARK --xor-mark", ip, "mangle", "-A PREROUTING -j MARK --xor-mark 0x4000",
			markOp(^uint32(0), 0x4000, r("-A PREROUTING -j MARK --xor-mark 0x4000", none))},
		{"MARK --set-xmark as kube-proxy's KUBE-MARK-MASQ", ip, "nat", "-A KUBE-MARK-MASQ -j MARK --set-xmark 0x4000/0x4000",
			markOp(^uint32(0x4000), 0x4000, r("-A KUBE-MARK-MASQ -j MARK --set-xmark 0x4000/0x4000", none))},
		{"MARK --set-xmark as Calico's", ip, "filter", "-A cali-INPUT -j MARK --set-xmark 0x0/0xf0000",
			markOp(^uint32(0xf0000), 0, r("-A cali-INPUT -j MARK --set-xmark 0x0/0xf0000", none))},
		{"MARK --or-mark with a mask", ip, "mangle", "-A PREROUTING -j MARK --or-mark 1/2",
			effect(`target "MARK": --or-mark 1/2`, "-A PREROUTING -j MARK --or-mark 1/2", none)},
		{"limit", ip, "filter", "-A INPUT -m limit --limit 3/min --limit-burst 10 -j LOG",
			r("-A INPUT -m limit --limit 3/min --limit-burst 10 -j LOG", none,
				assumed(false, "fewer than 3/min reach the rule (-m limit --limit 3/min --limit-burst 10)"))},
		{"hashlimit above per source", ip, "filter", "-A INPUT -m hashlimit --hashlimit-above 10/sec --hashlimit-mode srcip --hashlimit-name x -j DROP",
			r("-A INPUT -m hashlimit --hashlimit-above 10/sec --hashlimit-mode srcip --hashlimit-name x -j DROP", drop,
				assumed(true, "fewer than 10/sec per srcip in x (-m hashlimit --hashlimit-above 10/sec --hashlimit-mode srcip --hashlimit-name x)"))},
		{"recent --update with a hitcount", ip, "filter", "-A INPUT -m recent --update --seconds 30 --hitcount 6 --name DEFAULT --rsource -j DROP",
			r("-A INPUT -m recent --update --seconds 30 --hitcount 6 --name DEFAULT --rsource -j DROP", drop,
				assumed(true, "the source has no earlier entry in the recent list DEFAULT (-m recent --update --seconds 30 --hitcount 6 --name DEFAULT --rsource)"))},
		{"recent --rcheck sees a --set on the same way", ip, "filter", "-A INPUT -m recent --rcheck --name knock -j ACCEPT",
			r("-A INPUT -m recent --rcheck --name knock -j ACCEPT", accept, firewall.Match{Field: firewall.FieldAssumed, Negate: true, Set: "recent:knock",
				Assume: "the source has no earlier entry in the recent list knock (-m recent --rcheck --name knock)"})},
		{"connlimit above", ip, "filter", "-A INPUT -p tcp -m connlimit --connlimit-above 20 --connlimit-mask 32 --connlimit-saddr -j REJECT",
			r("-A INPUT -p tcp -m connlimit --connlimit-above 20 --connlimit-mask 32 --connlimit-saddr -j REJECT", reject("icmp port-unreachable"), l4(6),
				assumed(true, "no other connection from the source is open (-m connlimit --connlimit-above 20 --connlimit-mask 32 --connlimit-saddr)"))},
		{"statistic random", ip, "nat", "-A KUBE-SVC-X -m statistic --mode random --probability 0.50000000000 -j web",
			r("-A KUBE-SVC-X -m statistic --mode random --probability 0.50000000000 -j web", jump("web"), firewall.Match{Field: firewall.FieldRandom})},
		{"rt in ip6", ip6, "filter", "-A ufw6-before-input -m rt --rt-type 0 -j DROP",
			r("-A ufw6-before-input -m rt --rt-type 0 -j DROP", drop, firewall.Match{Field: firewall.FieldExtHdr, Names: []string{"rt"}})},
		{"rpfilter inverted", ip6, "raw", "-A PREROUTING -m rpfilter --invert -j DROP",
			r("-A PREROUTING -m rpfilter --invert -j DROP", drop, firewall.Match{Field: firewall.FieldRPF, Negate: true})},
		{"pkttype", ip, "filter", "-A INPUT -m pkttype --pkt-type broadcast -j DROP",
			r("-A INPUT -m pkttype --pkt-type broadcast -j DROP", drop, firewall.Match{Field: firewall.FieldPktType, Names: []string{"broadcast"}})},
		{"policy none", ip, "filter", "-A INPUT -m policy --dir in --pol none -j ACCEPT",
			r("-A INPUT -m policy --dir in --pol none -j ACCEPT", accept, firewall.Match{Field: firewall.FieldIPsec, Negate: true})},
		{"CT helper changes nothing", ip, "raw", "-A PREROUTING -p tcp -m tcp --dport 21 -j CT --helper ftp",
			r("-A PREROUTING -p tcp -m tcp --dport 21 -j CT --helper ftp", none, l4(6), dport(tcp, one(21)))},
		{"CONNMARK --restore-mark changes the mark", ip, "mangle", "-A PREROUTING -j CONNMARK --restore-mark --nfmask 0xffffffff --ctmask 0xffffffff",
			effect(`target "CONNMARK": --restore-mark`, "-A PREROUTING -j CONNMARK --restore-mark --nfmask 0xffffffff --ctmask 0xffffffff", none)},
		{"goto", ip, "filter", "-A INPUT -g web", r("-A INPUT -g web", gotoV("web"))},
		{"quotes glue and end words", ip, "filter", `-A INPUT -m comment --comment a"b c" -j ACCEPT`,
			r(`-A INPUT -m comment --comment a"b c" -j ACCEPT`, accept)},
		{"empty quoted comment", ip, "filter", `-A INPUT -m comment --comment "" -j ACCEPT`,
			r(`-A INPUT -m comment --comment "" -j ACCEPT`, accept)},
		{"quoted value that looks like an option", ip, "filter", `-A INPUT -m foo --bar "-j" -j ACCEPT`,
			u(`match "foo"`, `-A INPUT -m foo --bar "-j" -j ACCEPT`, accept)},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tt.want.Number = 1
			got := parseRule(t, tt.family, tt.table, tt.line)
			if d := cmp.Diff(tt.want, got, equateNetip); d != "" {
				t.Errorf("%s (-want +got):\n%s", tt.line, d)
			}
		})
	}
}

func TestParseErrors(t *testing.T) {
	tests := []struct{ name, save, want string }{
		{"unknown table", "*foo\nCOMMIT\n", `line 1: unknown table "foo"`},
		{"rule before a table", "-A INPUT -j ACCEPT\n", "line 1: "},
		{"undeclared chain", "*filter\n:INPUT ACCEPT [0:0]\n-A FORWARD -j ACCEPT\nCOMMIT\n", `line 3: -A to undeclared chain "FORWARD"`},
		{"missing COMMIT", "# header\n*filter\n:INPUT ACCEPT [0:0]\n", "line 2: table filter has no COMMIT"},
		{"table inside a table", "*filter\n*nat\nCOMMIT\n", "line 2: "},
		{"table twice", "*filter\nCOMMIT\n*filter\nCOMMIT\n", "line 3: table filter appears twice"},
		{"unbalanced quotes", "*filter\n:INPUT ACCEPT [0:0]\n-A INPUT -m comment --comment \"abc -j ACCEPT\nCOMMIT\n", "line 3: unbalanced quotes"},
		{"bad policy", "*filter\n:INPUT REJECT [0:0]\nCOMMIT\n", "line 2: "},
		{"policy on a user chain", "*filter\n:web ACCEPT [0:0]\nCOMMIT\n", "line 2: "},
		{"builtin of another table", "*filter\n:PREROUTING ACCEPT [0:0]\nCOMMIT\n", "line 2: "},
		{"chain twice", "*filter\n:web - [0:0]\n:web - [0:0]\nCOMMIT\n", "line 3: chain web declared twice"},
		{"goto a missing chain", "*filter\n:INPUT ACCEPT [0:0]\n-A INPUT -g nowhere\nCOMMIT\n", "line 3: -g nowhere: no such user-defined chain"},
		{"other command", "*filter\n:INPUT ACCEPT [0:0]\n-I INPUT -j ACCEPT\nCOMMIT\n", "line 3: "},
		{"dangling !", "*filter\n:INPUT ACCEPT [0:0]\n-A INPUT -j ACCEPT !\nCOMMIT\n", "line 3: ! at the end of the rule"},
		{"missing argument", "*filter\n:INPUT ACCEPT [0:0]\n-A INPUT -s\nCOMMIT\n", "line 3: -s needs an argument"},
		{"option outside -m", "*filter\n:INPUT ACCEPT [0:0]\n-A INPUT -p tcp --dport 22\nCOMMIT\n", "line 3: option --dport before any -m or -j"},
		{"two targets", "*filter\n:INPUT ACCEPT [0:0]\n-A INPUT -j ACCEPT -j DROP\nCOMMIT\n", "line 3: more than one -j or -g"},
		{"stray word", "*filter\n:INPUT ACCEPT [0:0]\n-A INPUT -j ACCEPT foo\nCOMMIT\n", `line 3: unexpected "foo"`},
		{"incompatible nft table", "# Table `filter' is incompatible, use 'nft' tool.\n", "line 1: table filter holds rules iptables-nft cannot show"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := Parse([]byte(tt.save), firewall.FamilyIP, legacy)
			if err == nil || !strings.HasPrefix(err.Error(), tt.want) {
				t.Errorf("Parse = %v, want an error starting %q", err, tt.want)
			}
		})
	}
	if _, err := Parse(nil, "inet", legacy); err == nil {
		t.Error(`Parse with family "inet" succeeded`)
	}
	if _, err := Parse(nil, firewall.FamilyIP, firewall.BackendNftables); err == nil {
		t.Error(`Parse with backend "nftables" succeeded`)
	}
}

func TestParseEmpty(t *testing.T) {
	got, err := Parse([]byte("# Warning: iptables-legacy tables present\n\n"), firewall.FamilyIP6, nft)
	if err != nil || got == nil || len(got) != 0 {
		t.Errorf("Parse of no tables = %v, %v; want an empty slice", got, err)
	}
}

func TestPriority(t *testing.T) {
	tests := []struct {
		table, hook string
		want        int
	}{
		{"raw", firewall.HookPrerouting, -300},
		{"mangle", firewall.HookOutput, -150},
		{"nat", firewall.HookPrerouting, -100},
		{"nat", firewall.HookOutput, -100},
		{"nat", firewall.HookInput, 100},
		{"nat", firewall.HookPostrouting, 100},
		{"filter", firewall.HookForward, 0},
		{"security", firewall.HookInput, 50},
	}
	for _, tt := range tests {
		if got := Priority(tt.table, tt.hook); got != tt.want {
			t.Errorf("Priority(%s, %s) = %d, want %d", tt.table, tt.hook, got, tt.want)
		}
	}
}

// TestTokenize pins iptables-restore's quoting: backslash escapes only
// inside quotes, and a closing quote ends the word.
func TestTokenize(t *testing.T) {
	toks, err := tokenize(`-m comment  --comment "a \"b\" \\ c\'d" x\y x"y z"w ""`)
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, tok := range toks {
		got = append(got, tok.text)
	}
	want := []string{"-m", "comment", "--comment", `a "b" \ c'd`, `x\y`, "xy z", "w", ""}
	if d := cmp.Diff(want, got); d != "" {
		t.Errorf("tokens (-want +got):\n%s", d)
	}
}

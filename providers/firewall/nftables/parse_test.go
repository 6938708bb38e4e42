package nftables

import (
	"fmt"
	"net/netip"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"

	fw "github.com/portcheck/portcheck/providers/firewall"
)

func readFixture(t testing.TB, name string) (jsonOut, text []byte) {
	t.Helper()
	jsonOut, err := os.ReadFile(filepath.Join("testdata", name+".json"))
	if err != nil {
		t.Fatal(err)
	}
	text, err = os.ReadFile(filepath.Join("testdata", name+".txt"))
	if err != nil {
		t.Fatal(err)
	}
	return jsonOut, text
}

// TestParse translates the listings real nft printed for each fixture.
func TestParse(t *testing.T) {
	for _, fx := range fixtures {
		t.Run(fx.name, func(t *testing.T) {
			got, err := Parse(readFixture(t, fx.name))
			if err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(want[fx.name], got, netipEqual); diff != "" {
				t.Errorf("Parse mismatch (-want +got):\n%s", diff)
			}
		})
	}
}

// TestParseWithoutText checks the texts rendered from the JSON when no
// listing is given (big rulesets): they read like nft's own listing.
func TestParseWithoutText(t *testing.T) {
	for _, name := range []string{"families", "inet", "unsupported"} {
		jsonOut, text := readFixture(t, name)
		listed, err := Parse(jsonOut, text)
		if err != nil {
			t.Fatal(err)
		}
		got, err := Parse(jsonOut, nil)
		if err != nil {
			t.Fatal(err)
		}
		n, same := 0, 0
		for i, tb := range got {
			for j, c := range tb.Chains {
				for k, r := range c.Rules {
					n++
					want := listed[i].Chains[j].Rules[k].Text
					if r.Text == "" || strings.HasPrefix(r.Text, "handle ") {
						t.Errorf("%s %s %s handle %d: rendered %q", tb.Family, tb.Name, c.Name, r.Handle, r.Text)
					}
					if r.Text == want {
						same++
					} else {
						t.Logf("%s handle %d: rendered %q, nft lists %q", c.Name, r.Handle, r.Text, want)
					}
				}
			}
		}
		// The renderer follows nft's grammar closely, not to the letter
		// (numbers in hex, names of constants).
		if n == 0 || same*10 < n*7 {
			t.Errorf("%s: %d of %d rendered texts equal nft's listing, want at least 70%%", name, same, n)
		}
	}
}

// TestParseIptablesWarning: nft's warning in the listing marks a table as
// iptables-nft's even when none of its rules needed an xt expression.
func TestParseIptablesWarning(t *testing.T) {
	jsonOut, text := readFixture(t, "families")
	text = append([]byte("# Warning: table ip filter is managed by iptables-nft, do not touch!\n"), text...)
	got, err := Parse(jsonOut, text)
	if err != nil {
		t.Fatal(err)
	}
	for _, tb := range got {
		wantBackend := fw.BackendNftables
		if tb.Family == "ip" && tb.Name == "filter" {
			wantBackend = fw.BackendIptablesNft
		}
		if tb.Backend != wantBackend {
			t.Errorf("table %s %s: backend %q, want %q", tb.Family, tb.Name, tb.Backend, wantBackend)
		}
	}
}

// ruleset wraps rules' expression lists into nft JSON with one inet (or
// family) table, chain c and set s of the given type.
func ruleset(family, setType string, exprs ...string) []byte {
	var b strings.Builder
	fmt.Fprintf(&b, `{"nftables":[{"table":{"family":%q,"name":"t"}},`, family)
	fmt.Fprintf(&b, `{"chain":{"family":%q,"table":"t","name":"c"}},`, family)
	fmt.Fprintf(&b, `{"set":{"family":%q,"table":"t","name":"s","type":%q,"elem":[1]}}`, family, setType)
	for i, e := range exprs {
		fmt.Fprintf(&b, `,{"rule":{"family":%q,"table":"t","chain":"c","handle":%d,"expr":%s}}`, family, i+1, e)
	}
	b.WriteString("]}")
	return []byte(b.String())
}

// TestParseForms covers JSON forms nft 1.0.6 does not print but other
// versions or hand-written input may hold.
func TestParseForms(t *testing.T) {
	tcp22 := `{"match":{"op":"==","left":{"payload":{"protocol":"tcp","field":"dport"}},"right":"ssh"}}`
	tests := []struct {
		name, family, expr string
		want               *fw.Rule
	}{
		{"service name and absent op", "inet",
			`[{"match":{"left":{"payload":{"protocol":"tcp","field":"dport"}},"right":"ssh"}},{"accept":null}]`,
			rule(1, "handle 1", accept, dport(6, 22))},
		{"unknown service name", "inet",
			`[{"match":{"op":"==","left":{"payload":{"protocol":"tcp","field":"dport"}},"right":"nosuchsvc"}},{"accept":null}]`,
			unsupportedMatch(1, "handle 1", `value "nosuchsvc"`, accept)},
		{"reject without arguments in ip", "ip", `[{"reject":null}]`,
			rule(1, "handle 1", reject("icmp port-unreachable"))},
		{"reject without arguments in ip6", "ip6", `[{"reject":null}]`,
			rule(1, "handle 1", reject("icmpv6 port-unreachable"))},
		{"reject without arguments in inet", "inet", `[{"reject":null}]`,
			rule(1, "handle 1", reject("icmpx port-unreachable"))},
		{"reject icmp without code", "inet", `[{"reject":{"type":"icmp"}}]`,
			rule(1, "handle 1", reject("icmp port-unreachable"), nf("ipv4"))},
		{"queue", "inet", `[` + tcp22 + `,{"queue":{"num":1}}]`,
			rule(1, "handle 1", fw.Verdict{Kind: fw.VerdictQueue}, dport(6, 22))},
		{"wrapped element and numeric strings", "inet",
			`[{"match":{"op":"==","left":{"meta":{"key":"mark"}},"right":{"set":[{"elem":{"val":"0x10","comment":"x"}},5]}}}]`,
			rule(1, "handle 1", none, fw.Match{Field: fw.FieldMark, Ranges: one(16, 5)})},
		{"ct original daddr with family key", "inet",
			`[{"match":{"op":"!=","left":{"ct":{"key":"daddr","dir":"original","family":"ip6"}},"right":"::1"}}]`,
			rule(1, "handle 1", none, nf("ipv6"), fw.Match{Field: fw.FieldCTOrigDaddr, Negate: true, Prefixes: pfx("::1/128")})},
		{"ct original daddr without family in inet", "inet",
			`[{"match":{"op":"==","left":{"ct":{"key":"daddr","dir":"original"}},"right":"10.0.0.1"}}]`,
			unsupportedMatch(1, "handle 1", `expression "ct original daddr"`, none)},
		{"greater than", "inet",
			`[{"match":{"op":">","left":{"meta":{"key":"l4proto"}},"right":250}}]`,
			rule(1, "handle 1", none, fw.Match{Field: fw.FieldL4Proto, Ranges: []fw.Range{span(251, 255)}})},
		{"comparison never true", "inet",
			`[{"match":{"op":">","left":{"payload":{"protocol":"udp","field":"sport"}},"right":65535}}]`,
			unsupportedMatch(1, "handle 1", "comparison > 65535 that never holds", none)},
		{"interface index without a name", "inet",
			`[{"match":{"op":"==","left":{"meta":{"key":"iif"}},"right":7}}]`,
			unsupportedMatch(1, "handle 1", `interface "7"`, none)},
		{"set of another type", "inet",
			`[{"match":{"op":"==","left":{"payload":{"protocol":"ip","field":"saddr"}},"right":"@s"}}]`,
			unsupportedMatch(1, "handle 1", `set "s" of type "mark" for this match`, none, nf("ipv4"))},
		{"mask zero", "inet",
			`[{"match":{"op":"==","left":{"&":[{"meta":{"key":"mark"}},0]},"right":0}}]`,
			unsupportedMatch(1, "handle 1", `expression "meta mark & 0"`, none)},
		{"dnat in inet infers the family", "inet",
			`[{"dnat":{"addr":"10.0.0.1","port":"http"}}]`,
			rule(1, "handle 1", dnat("10.0.0.1", 80), nf("ipv4"))},
		{"verdict then statement", "inet", `[{"accept":null},{"notrack":null}]`,
			&fw.Rule{Handle: 1, Verdict: accept, Unsupported: `expression "notrack" after the verdict`}},
		{"continue", "inet", `[` + tcp22 + `,{"counter":null},{"continue":null}]`,
			rule(1, "handle 1", none, dport(6, 22))},
		{"catch-all map element", "inet",
			`[{"vmap":{"key":{"meta":{"key":"iifname"}},"data":{"set":[["lo",{"accept":null}],["*",{"drop":null}]]}}}]`,
			unsupported(1, "handle 1", `catch-all element "*"`)},
		{"inner header", "inet",
			`[{"match":{"op":"==","left":{"payload":{"tunnel":"vxlan","protocol":"ip","field":"saddr"}},"right":"10.0.0.1"}}]`,
			unsupportedMatch(1, "handle 1", `expression "ip saddr"`, none)},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := Parse(ruleset(tt.family, "mark", tt.expr), nil)
			if err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(tt.want, got[0].Chains[0].Rules[0], netipEqual, cmpopts.IgnoreFields(fw.Rule{}, "Text")); diff != "" {
				t.Errorf("rule mismatch (-want +got):\n%s", diff)
			}
		})
	}
}

// TestParsePriority covers the priority forms of base chains.
func TestParsePriority(t *testing.T) {
	tests := []struct {
		prio string
		want int
		err  bool
	}{
		{`-150`, -150, false},
		{`"filter"`, 0, false},
		{`"raw"`, -300, false},
		{`"srcnat - 5"`, 95, false},
		{`"security+10"`, 60, false},
		{`"-7"`, -7, false},
		{`"mangle + x"`, 0, true},
		{`"nosuch"`, 0, true},
		{`{"offset":1}`, 0, true},
		{`null`, 0, true},
	}
	for _, tt := range tests {
		js := `{"nftables":[{"table":{"family":"inet","name":"t"}},` +
			`{"chain":{"family":"inet","table":"t","name":"c","type":"filter","hook":"input","prio":` + tt.prio + `}}]}`
		got, err := Parse([]byte(js), nil)
		if tt.err {
			if err == nil {
				t.Errorf("prio %s: no error", tt.prio)
			}
			continue
		}
		if err != nil {
			t.Errorf("prio %s: %v", tt.prio, err)
			continue
		}
		c := got[0].Chains[0]
		if c.Priority != tt.want || c.Policy != "accept" {
			t.Errorf("prio %s: priority %d policy %q, want %d accept", tt.prio, c.Priority, c.Policy, tt.want)
		}
	}
}

// TestParseErrors: malformed JSON or shapes are errors that say where.
func TestParseErrors(t *testing.T) {
	table := `{"table":{"family":"inet","name":"t"}}`
	chain := `{"chain":{"family":"inet","table":"t","name":"c"}}`
	tests := []struct {
		name, json, want string
	}{
		{"not JSON", `{"nftables":`, "nft JSON"},
		{"no list", `{"other":[]}`, `no "nftables" list`},
		{"object with two keys", `{"nftables":[{"table":{},"chain":{}}]}`, "object 0 has 2 keys"},
		{"table without name", `{"nftables":[{"table":{"family":"inet"}}]}`, "missing name"},
		{"table twice", `{"nftables":[` + table + `,` + table + `]}`, "listed twice"},
		{"chain in unknown table", `{"nftables":[` + chain + `]}`, "chain c in unknown table inet t"},
		{"bad policy", `{"nftables":[` + table + `,{"chain":{"family":"inet","table":"t","name":"c","hook":"input","prio":0,"policy":"reject"}}]}`, `policy "reject"`},
		{"rule in unknown chain", `{"nftables":[` + table + `,{"rule":{"family":"inet","table":"t","chain":"x","handle":3,"expr":[]}}]}`, `rule handle 3 in unknown chain "x"`},
		{"handle not a number", `{"nftables":[` + table + `,` + chain + `,{"rule":{"family":"inet","table":"t","chain":"c","handle":"3"}}]}`, "rule"},
		{"statement not an object", `{"nftables":[` + table + `,` + chain + `,{"rule":{"family":"inet","table":"t","chain":"c","handle":4,"expr":[1]}}]}`, "table inet t chain c rule handle 4: statement 0 is not a one-key object"},
		{"match without right", `{"nftables":[` + table + `,` + chain + `,{"rule":{"family":"inet","table":"t","chain":"c","handle":5,"expr":[{"match":{"op":"==","left":{"meta":{"key":"mark"}}}}]}}]}`, "rule handle 5: statement 0 (match)"},
		{"jump without target", `{"nftables":[` + table + `,` + chain + `,{"rule":{"family":"inet","table":"t","chain":"c","handle":6,"expr":[{"jump":{}}]}}]}`, "jump without a target"},
		{"map without data type", `{"nftables":[` + table + `,{"map":{"family":"inet","table":"t","name":"m","type":"mark"}}]}`, "map without a data type"},
		{"map element not a pair", `{"nftables":[` + table + `,{"map":{"family":"inet","table":"t","name":"m","type":"mark","map":"verdict","elem":[1]}}]}`, "not a [key, value] pair"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := Parse([]byte(tt.json), nil)
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("error %v, want one containing %q", err, tt.want)
			}
		})
	}
}

// TestParseEmpty: no output and an empty ruleset both give no tables.
func TestParseEmpty(t *testing.T) {
	for _, in := range []string{"", "\n", `{"nftables":[{"metainfo":{"version":"1.0.6"}}]}`} {
		got, err := Parse([]byte(in), nil)
		if err != nil || len(got) != 0 {
			t.Errorf("Parse(%q) = %v, %v; want no tables", in, got, err)
		}
	}
}

func TestRangePrefixes(t *testing.T) {
	tests := []struct {
		lo, hi string
		want   []netip.Prefix
	}{
		{"0.0.0.0", "255.255.255.255", pfx("0.0.0.0/0")},
		{"255.255.255.255", "255.255.255.255", pfx("255.255.255.255/32")},
		{"10.0.0.255", "10.0.1.0", pfx("10.0.0.255/32", "10.0.1.0/32")},
	}
	for _, tt := range tests {
		got := rangePrefixes(netip.MustParseAddr(tt.lo), netip.MustParseAddr(tt.hi))
		if diff := cmp.Diff(tt.want, got, netipEqual); diff != "" {
			t.Errorf("%s-%s (-want +got):\n%s", tt.lo, tt.hi, diff)
		}
	}
	// All but the last IPv6 address: one prefix per bit, ending in a /128.
	got := rangePrefixes(netip.MustParseAddr("::"), netip.MustParseAddr("ffff:ffff:ffff:ffff:ffff:ffff:ffff:fffe"))
	if len(got) != 128 || got[0] != netip.MustParsePrefix("::/1") || got[127] != netip.MustParsePrefix("ffff:ffff:ffff:ffff:ffff:ffff:ffff:fffe/128") {
		t.Errorf("IPv6 range: %d prefixes %v … %v", len(got), got[0], got[len(got)-1])
	}
}

package nftables

import (
	"encoding/json"
	"testing"
)

// FuzzParse checks that Parse never panics, whatever nft (or a corrupted
// snapshot) hands it, and that what it returns is consistent.
func FuzzParse(f *testing.F) {
	for _, fx := range fixtures {
		jsonOut, text := readFixture(f, fx.name)
		f.Add(jsonOut, text)
	}
	for _, e := range []string{
		`[{"vmap":{"key":{"payload":{"protocol":"ip","field":"saddr"}},"data":{"set":[[{"range":["10.0.0.1","10.0.0.9"]},{"jump":{"target":"c"}}]]}}}]`,
		`[{"match":{"op":"in","left":{"ct":{"key":"state"}},"right":["new","untracked"]}},{"mangle":{"key":{"meta":{"key":"mark"}},"value":1}},{"reject":{"type":"tcp reset"}}]`,
		`[{"match":{"op":"<=","left":{"&":[{"meta":{"key":"mark"}},255]},"right":"@s"}},{"dnat":{"family":"ip6","addr":"::1","port":80}}]`,
	} {
		f.Add(ruleset("inet", "mark", e), []byte(nil))
	}
	f.Fuzz(func(t *testing.T, jsonOut, text []byte) {
		tables, err := Parse(jsonOut, text)
		if err != nil {
			return
		}
		for _, tb := range tables {
			for _, c := range tb.Chains {
				for _, r := range c.Rules {
					if r.UnsupportedMatch && r.Unsupported == "" {
						t.Fatalf("unsupported match without a reason: %+v", r)
					}
				}
			}
		}
		if _, err := json.Marshal(tables); err != nil {
			t.Fatalf("model does not serialise: %v", err)
		}
	})
}

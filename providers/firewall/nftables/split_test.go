package nftables

import (
	"bytes"
	"encoding/json"
	"testing"
)

// splitRuleset cuts nft's JSON into the objects decodeRuleset finds, with
// strings that hold quotes, backslashes and braces; other shapes fall
// back to the standard decoder and its errors.
func TestSplitRuleset(t *testing.T) {
	inputs := [][]byte{
		[]byte(`{"nftables": [{"metainfo": {"version": "1.0.6"}}, {"rule": {"comment": "a \"quoted\" {brace} [x] \\", "expr": [{"accept": null}]}}, {"table": {"name": "t"}}]}`),
		[]byte(`  {"nftables":[]}  `),
		[]byte(``),
	}
	for _, name := range []string{"families", "inet", "unsupported", "iptables"} {
		j, _ := readFixture(t, name)
		inputs = append(inputs, j)
	}
	for _, in := range inputs {
		got, err1 := splitRuleset(in)
		want, err2 := decodeRuleset(in)
		if (err1 != nil) != (err2 != nil) || len(got) != len(want) {
			t.Fatalf("split %d objects (%v), decode %d (%v) of %.80s", len(got), err1, len(want), err2, in)
		}
		for i := range got {
			var a, b any
			if got[i].kind != want[i].kind || json.Unmarshal(got[i].raw, &a) != nil || json.Unmarshal(want[i].raw, &b) != nil {
				t.Fatalf("object %d: %s %s, want %s %s", i, got[i].kind, got[i].raw, want[i].kind, want[i].raw)
			}
			x, _ := json.Marshal(a)
			y, _ := json.Marshal(b)
			if !bytes.Equal(x, y) {
				t.Fatalf("object %d: %s, want %s", i, x, y)
			}
		}
	}
	for _, bad := range []string{`{"nftables": [{"a": 1, "b": 2}]}`, `{"nftables": [{"a": "unterminated}]}`, `{"other": []}`, `[1]`} {
		if _, err := splitRuleset([]byte(bad)); err == nil {
			t.Errorf("splitRuleset(%s): no error", bad)
		}
	}
}

package report

import (
	"bytes"
	"encoding/json"
	"testing"
)

// indentSeeds are compact documents of the shapes the report writes, and
// the corners of the format: empty values, escapes, nesting, numbers.
var indentSeeds = []string{
	`{}`, `[]`, `{"a":[]}`, `{"a":{}}`, `[[],{},[{}]]`,
	`{"name":"web","port":443,"ok":true,"none":null,"x":-1.5e-7}`,
	`{"s":"quote \" backslash \\ brace } bracket ] comma , colon :"}`,
	`{"u":"\u003c\u2028 ünï","t":"\\"}`,
	`[1,2,[3,[4,[5]]],{"k":[{"k":{}}]}]`,
	`"just a string"`, `42`, `null`,
}

func indentBoth(t testing.TB, src []byte, prefix, indent string, pieces int) (got, want []byte) {
	var w bytes.Buffer
	if err := json.Indent(&w, src, prefix, indent); err != nil {
		return nil, nil
	}
	var g bytes.Buffer
	in := newIndenter(&g, prefix, indent)
	// Fed in pieces: the state (an open bracket, a string, an escape)
	// must carry across writes.
	step := max(1, len(src)/max(1, pieces))
	for i := 0; i < len(src); i += step {
		in.Write(src[i:min(len(src), i+step)])
	}
	return g.Bytes(), w.Bytes()
}

func TestIndenterMatchesJSONIndent(t *testing.T) {
	for _, s := range indentSeeds {
		for _, pieces := range []int{1, 2, 3, 7, len(s)} {
			got, want := indentBoth(t, []byte(s), "    ", "  ", pieces)
			if want == nil {
				t.Fatalf("seed %s is not valid JSON", s)
			}
			if !bytes.Equal(got, want) {
				t.Errorf("%s in %d pieces:\ngot  %q\nwant %q", s, pieces, got, want)
			}
		}
	}
}

// FuzzIndenter compares the indenter with json.Indent on compact JSON
// (what encoding/json writes), whole and in pieces.
func FuzzIndenter(f *testing.F) {
	for _, s := range indentSeeds {
		f.Add([]byte(s), uint8(3))
	}
	f.Fuzz(func(t *testing.T, data []byte, pieces uint8) {
		var v any
		if json.Unmarshal(data, &v) != nil {
			return
		}
		var compact bytes.Buffer
		enc := json.NewEncoder(&compact)
		enc.SetEscapeHTML(false)
		if enc.Encode(v) != nil {
			return
		}
		src := bytes.TrimSuffix(compact.Bytes(), []byte("\n"))
		got, want := indentBoth(t, src, "  ", "\t", int(pieces))
		if !bytes.Equal(got, want) {
			t.Fatalf("%s in %d pieces:\ngot  %q\nwant %q", src, pieces, got, want)
		}
	})
}

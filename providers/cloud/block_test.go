package cloud

import (
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/hashicorp/hcl/v2"
	"github.com/hashicorp/hcl/v2/hclsyntax"
	"github.com/hashicorp/hcl/v2/json"
	"github.com/zclconf/go-cty/cty"
)

// blockCtx is what config hands a provider block: var.* and local.*.
func blockCtx() *hcl.EvalContext {
	return &hcl.EvalContext{Variables: map[string]cty.Value{
		"var":   cty.ObjectVal(map[string]cty.Value{"region": cty.StringVal("eu-west-1"), "later": cty.UnknownVal(cty.String)}),
		"local": cty.ObjectVal(map[string]cty.Value{"port": cty.NumberIntVal(8443)}),
	}}
}

func parseBody(t testing.TB, src string) hcl.Body {
	t.Helper()
	var f *hcl.File
	var diags hcl.Diagnostics
	if len(src) > 0 && src[0] == '{' {
		f, diags = json.Parse([]byte(src), "p.pc.json")
	} else {
		f, diags = hclsyntax.ParseConfig([]byte(src), "p.pc.hcl", hcl.InitialPos)
	}
	if diags.HasErrors() {
		t.Fatalf("parse: %s", diags.Error())
	}
	return f.Body
}

// got is what a test compares: each argument's value and state, and the
// diagnostics' line and summary.
type argGot struct {
	Value      string
	Set, Given bool
}

type diagGot struct {
	Line    int
	Summary string
	Detail  string
}

// Backends decode their blocks' string arguments through Block.Strings:
// values in the block's context, each mistake once, with its own range.
func TestBlockStrings(t *testing.T) {
	for _, tc := range []struct {
		name  string
		src   string
		nilCx bool
		want  map[string]argGot
		diags []diagGot
	}{
		{
			name: "literals and references",
			src:  "region = var.region\nendpoint = \"http://127.0.0.1:${local.port}\"\n",
			want: map[string]argGot{"region": {"eu-west-1", true, true}, "endpoint": {"http://127.0.0.1:8443", true, true}},
		},
		{
			name: "json syntax",
			src:  `{"region": "${var.region}", "endpoint": "http://x"}`,
			want: map[string]argGot{"region": {"eu-west-1", true, true}, "endpoint": {"http://x", true, true}},
		},
		{
			name: "a number converts, as config's strings do",
			src:  "region = 5\n",
			want: map[string]argGot{"region": {"5", true, true}},
		},
		{
			name: "null is not set",
			src:  "region = null\n",
			want: map[string]argGot{"region": {"", false, true}},
		},
		{
			name: "an unknown value is not set and not reported again",
			src:  "region = var.later\n",
			want: map[string]argGot{"region": {"", false, true}},
		},
		{
			name:  "a list",
			src:   "endpoint = \"x\"\nregion = [\"eu-west-1\"]\n",
			want:  map[string]argGot{"region": {"", false, true}, "endpoint": {"x", true, true}},
			diags: []diagGot{{2, "Incorrect attribute value type", `Inappropriate value for attribute "region": string required.`}},
		},
		{
			name:  "a number too large to print",
			src:   "region = 1e999999\n",
			want:  map[string]argGot{"region": {"", false, true}},
			diags: []diagGot{{1, "Incorrect attribute value type", `Inappropriate value for attribute "region": string required.`}},
		},
		{
			name:  "a host reference",
			src:   "\nregion = host.web.region\n",
			want:  map[string]argGot{"region": {"", false, true}},
			diags: []diagGot{{2, "Invalid reference", "A provider block can only refer to local.* and var.*."}},
		},
		{
			name:  "an undeclared variable",
			src:   "region = var.nope\n",
			want:  map[string]argGot{"region": {"", false, true}},
			diags: []diagGot{{1, "Reference to undeclared value", "var.nope is not declared."}},
		},
		{
			name:  "no context at all",
			src:   "region = var.region\n",
			nilCx: true,
			want:  map[string]argGot{"region": {"", false, true}},
			diags: []diagGot{{1, "Invalid reference", "A provider block can only refer to no variables (only literal values)."}},
		},
		{
			name: "an argument and a block the backend does not take",
			src:  "region = \"a\"\nregoin = \"b\"\nassume_role {\n}\n",
			want: map[string]argGot{"region": {"a", true, true}},
			diags: []diagGot{
				{2, "Unsupported argument", `An argument named "regoin" is not expected here.`},
				{3, "Unsupported block type", `Blocks of type "assume_role" are not expected here.`},
			},
		},
		{
			name: "nothing given",
			src:  "",
			want: map[string]argGot{},
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			b := Block{Type: "x", Body: parseBody(t, tc.src), EvalContext: blockCtx(), DeclRange: hcl.Range{Filename: "p", Start: hcl.Pos{Line: 99}}}
			if tc.nilCx {
				b.EvalContext = nil
			}
			args, diags := b.Strings("region", "endpoint")
			got := map[string]argGot{}
			for name, a := range args {
				if a.Given || a.Set || a.Value != "" {
					got[name] = argGot{a.Value, a.Set, a.Given}
				}
				if !a.Given && a.Range != b.DeclRange {
					t.Errorf("%s not given: range %v, want the block's header", name, a.Range)
				}
			}
			if diff := cmp.Diff(tc.want, got); diff != "" {
				t.Errorf("arguments (-want +got):\n%s", diff)
			}
			var gotDiags []diagGot
			for _, d := range diags {
				if d.Subject == nil {
					t.Fatalf("diagnostic without a range: %s", d.Summary)
				}
				gotDiags = append(gotDiags, diagGot{d.Subject.Start.Line, d.Summary, d.Detail})
			}
			if diff := cmp.Diff(tc.diags, gotDiags); diff != "" {
				t.Errorf("diagnostics (-want +got):\n%s", diff)
			}
		})
	}
	t.Run("no body", func(t *testing.T) {
		args, diags := Block{}.Strings("region")
		if len(diags) != 0 || args["region"].Given {
			t.Errorf("got %v %v, want nothing given and no diagnostics", args, diags)
		}
	})
}

// Whatever a provider block holds, decoding it gives diagnostics, never a
// panic.
func FuzzBlockStrings(f *testing.F) {
	for _, s := range []string{
		"region = var.region\n", "region = [1]\n", "region = host.x\n", "region = 1e999999\n",
		"a {\n}\n", `{"region": "${var.nope}"}`, "region = var.later\nendpoint = local.port\n",
		"region = \"${var}\"\n", "region = var[\"region\"]\n", "region = local.port.x\n",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, src string) {
		var file *hcl.File
		var diags hcl.Diagnostics
		if len(src) > 0 && src[0] == '{' {
			file, diags = json.Parse([]byte(src), "f.pc.json")
		} else {
			file, diags = hclsyntax.ParseConfig([]byte(src), "f.pc.hcl", hcl.InitialPos)
		}
		if diags.HasErrors() || file == nil {
			return
		}
		args, _ := Block{Body: file.Body, EvalContext: blockCtx()}.Strings("region", "endpoint")
		if len(args) != 2 {
			t.Fatalf("%d arguments, want 2", len(args))
		}
	})
}

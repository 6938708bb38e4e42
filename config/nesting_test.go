package config

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/hashicorp/hcl/v2"
	"github.com/hashicorp/hcl/v2/hclsyntax"
)

// astDepth is how deep the parsed syntax tree of a native file goes, as
// hclsyntax.Walk (and so the evaluator) descends it.
func astDepth(t testing.TB, f *hcl.File) int {
	t.Helper()
	body, ok := f.Body.(*hclsyntax.Body)
	if !ok {
		return 0
	}
	w := &depthWalker{}
	hclsyntax.Walk(body, w)
	return w.max
}

type depthWalker struct{ cur, max int }

func (w *depthWalker) Enter(hclsyntax.Node) hcl.Diagnostics {
	w.cur++
	w.max = max(w.max, w.cur)
	return nil
}

func (w *depthWalker) Exit(hclsyntax.Node) hcl.Diagnostics {
	w.cur--
	return nil
}

// astBound is how deep a tree the nesting count n allows: a block level
// is three tree levels (Blocks, Block, Body) and any other counted level
// at most two (an object and its item's key, an index and the traversal
// after it); a body's expressions start three levels down (Body,
// Attributes, Attribute), and a term can be wrapped in a traversal
// (`0.a`) on top of its own level.
func astBound(n int) int { return 3*n + 5 }

// nestCase builds a file nested r times by one construct; depth(r) is how
// many levels portcheck counts for it.
type nestCase struct {
	name  string
	file  string // the file name: its suffix picks the syntax
	src   func(r int) string
	depth func(r int) int
	line  func(r int) int // the line of the diagnostic when r is one too deep
}

func rep(s string, n int) string { return strings.Repeat(s, n) }

// local wraps an expression as the value of a local: the locals block is
// one level.
func local(expr string) string { return "locals {\n  v = " + expr + "\n}\n" }

var nestCases = []nestCase{
	{"parentheses", "x.pc.hcl", func(r int) string { return local(rep("(", r) + "1" + rep(")", r)) },
		func(r int) int { return 1 + r }, nil},
	{"tuples", "x.pc.hcl", func(r int) string { return local(rep("[", r) + "1" + rep("]", r)) },
		func(r int) int { return 1 + r }, nil},
	{"objects", "x.pc.hcl", func(r int) string { return local(rep("{a = ", r) + "1" + rep("}", r)) },
		func(r int) int { return 1 + r }, nil},
	{"mixed brackets", "x.pc.hcl", func(r int) string { return local(rep("([{a = ", r) + "1" + rep("}])", r)) },
		func(r int) int { return 1 + 3*r }, nil},
	{"function calls", "x.pc.hcl", func(r int) string { return local(rep("max(1, ", r) + "1" + rep(")", r)) },
		func(r int) int { return 1 + r }, nil},
	{"blocks", "x.pc.hcl", func(r int) string { return rep("a {\n", r) + rep("}\n", r) },
		func(r int) int { return r }, func(r int) int { return r }},
	{"unary minus", "x.pc.hcl", func(r int) string { return local(rep("-", r) + "1") },
		func(r int) int { return 1 + r }, nil},
	{"not", "x.pc.hcl", func(r int) string { return local(rep("!", r) + "true") },
		func(r int) int { return 1 + r }, nil},
	{"a chain of additions", "x.pc.hcl", func(r int) string { return local("1" + rep(" + 1", r)) },
		func(r int) int { return 1 + r }, nil},
	{"conditionals", "x.pc.hcl", func(r int) string { return local(rep("true ? 1 : ", r) + "1") },
		func(r int) int { return 1 + r }, nil},
	{"an index chain", "x.pc.hcl", func(r int) string { return local("[1]" + rep("[0]", r)) },
		func(r int) int { return 2 + r }, nil},
	{"interpolations", "x.pc.hcl", func(r int) string { return local(rep(`"${`, r) + "1" + rep(`}"`, r)) },
		func(r int) int { return 1 + 2*r }, nil},
	{"template directives", "x.pc.hcl", func(r int) string { return local(`"` + rep("%{ if true }", r) + "x" + rep("%{ endif }", r) + `"`) },
		func(r int) int { return 3 + r }, nil},
	{"JSON arrays", "x.pc.json", func(r int) string { return `{"locals": {"v": ` + rep("[", r) + "1" + rep("]", r) + "}}" },
		func(r int) int { return 2 + r }, func(int) int { return 1 }},
	{"a JSON string template", "x.pc.json", func(r int) string {
		return `{"locals": {"v": "${` + rep("(", r) + "1" + rep(")", r) + `}"}}`
	}, func(r int) int { return 3 + r }, func(int) int { return 1 }},
	{"a JSON type expression", "x.pc.json", func(r int) string {
		return `{"variable": {"x": {"type": "` + rep("list(", r) + "string" + rep(")", r) + `"}}}`
	}, func(r int) int { return 3 + r }, func(int) int { return 1 }},
}

func measure(t *testing.T, name string, src []byte) int {
	t.Helper()
	if isJSONName(name) {
		d, _ := jsonNesting(src, name)
		return d
	}
	d, _ := nativeNesting(src, name, hcl.InitialPos, lexConfig, 0)
	return d
}

// TestNestingLimit: every way to nest is counted as documented; a file
// nested to MaxNesting loads (with whatever else is wrong with it, but
// without a crash), and one more level is refused with one diagnostic on
// the line where the limit was passed. Before, 100,000 levels of any of
// these were a fatal stack overflow using over 1 GB.
func TestNestingLimit(t *testing.T) {
	for _, tt := range nestCases {
		t.Run(tt.name, func(t *testing.T) {
			r := 1
			for tt.depth(r+1) <= MaxNesting {
				r++
			}
			// (Short JSON strings are not measured at all: they cannot
			// reach the limit. These are long.)
			if got := measure(t, tt.file, []byte(tt.src(r))); got != tt.depth(r) {
				t.Fatalf("%d times %s measure %d, want %d", r, tt.name, got, tt.depth(r))
			}
			cfg, diags := LoadSources(map[string][]byte{tt.file: []byte(tt.src(r))}, Options{})
			for _, d := range diags {
				if d.Summary == "Nesting too deep" {
					t.Fatalf("%d levels (at the limit) refused:\n%s", tt.depth(r), diagText(cfg, diags))
				}
			}
			for r++; tt.depth(r) <= MaxNesting; r++ {
			}
			cfg, diags = LoadSources(map[string][]byte{tt.file: []byte(tt.src(r))}, Options{})
			if len(diags) != 1 || diags[0].Summary != "Nesting too deep" {
				t.Fatalf("%d levels: want one Nesting too deep, got:\n%s", tt.depth(r), diagText(cfg, diags))
			}
			line := 2
			if tt.line != nil {
				line = tt.line(r)
			}
			if s := diags[0].Subject; s == nil || s.Filename != tt.file || s.Start.Line != line {
				t.Errorf("subject %v, want %s line %d", s, tt.file, line)
			}
			if !strings.Contains(diags[0].Detail, fmt.Sprintf("column %d", diags[0].Subject.Start.Column)) {
				t.Errorf("detail does not name the column: %s", diags[0].Detail)
			}
		})
	}
}

// TestNestingNotMiscounted: brackets in strings, heredocs, comments and
// escaped template sequences are text, and the operators of separate
// expressions do not add up; none of these may be refused.
func TestNestingNotMiscounted(t *testing.T) {
	const n = 3 * MaxNesting
	var manyAttrs, manyItems strings.Builder
	for i := range n {
		fmt.Fprintf(&manyAttrs, "  a%d = 1 + 2 * 3 - -4 > 0 ? !false : true # (((\n", i)
		fmt.Fprintf(&manyItems, "    %d + 1 > 0 ? [%d][0] : -1,\n", i, i)
	}
	tests := []struct{ name, file, src string }{
		{"brackets in a string", "x.pc.hcl", local(`"` + rep("([{", n) + `"`)},
		{"escaped sequences in a string", "x.pc.hcl", local(`"` + rep("$${%%{(", n) + `"`)},
		{"brackets in a heredoc", "x.pc.hcl", "locals {\n  v = <<EOT\n" + rep("((([[[{{{\n", n) + "EOT\n}\n"},
		{"brackets in line comments", "x.pc.hcl", rep("# (((\n// [[[\n", n) + local("1")},
		{"brackets in a block comment", "x.pc.hcl", "/* " + rep("({[", n) + " */\n" + local("1")},
		{"operators of many attributes", "x.pc.hcl", "locals {\n" + manyAttrs.String() + "}\n"},
		{"operators of many list items", "x.pc.hcl", local("[\n" + manyItems.String() + "  ]")},
		{"deep but closed items, repeated", "x.pc.hcl", local("[" + rep(rep("(", 50)+"1"+rep(")", 50)+", ", n/50) + "1]")},
		{"JSON: brackets in keys and long strings", "x.pc.json", `{"locals": {"` + rep("a", n) + `": "x", "v": "` + rep("a", n) + `"}}`},
		{"JSON: many arrays side by side", "x.pc.json", `{"locals": {"v": [` + rep("[1], ", n) + `1]}}`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if d := checkNesting(tt.file, []byte(tt.src)); d != nil {
				t.Fatalf("refused: %s: %s (measured %d)", d.Summary, d.Detail, measure(t, tt.file, []byte(tt.src)))
			}
		})
	}
}

// TestNestingBoundsTheTree: the count is an upper bound of how deep the
// parser builds the tree (up to the constant factor of astBound) — the
// property the limit rests on; FuzzLoadSources checks it on random input.
func TestNestingBoundsTheTree(t *testing.T) {
	for _, tt := range nestCases {
		if isJSONName(tt.file) {
			continue
		}
		for _, r := range []int{1, 5, 40} {
			src := []byte(tt.src(r))
			f, _ := hclsyntax.ParseConfig(src, tt.file, hcl.InitialPos)
			if got, bound := astDepth(t, f), astBound(measure(t, tt.file, src)); got > bound {
				t.Errorf("%s x%d: tree %d deep, bound %d", tt.name, r, got, bound)
			}
		}
	}
}

// TestVariableValueNesting: -var and PORTCHECK_VAR_ values of structured
// types are parsed as HCL expressions, and a var-file as a file; all are
// measured first.
func TestVariableValueNesting(t *testing.T) {
	deep := rep("[", MaxNesting+1) + rep("]", MaxNesting+1)
	varFile := filepath.Join(t.TempDir(), "deep.vars.hcl")
	if err := os.WriteFile(varFile, []byte("list = "+deep+"\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name string
		opts Options
		file string
	}{
		{"-var", Options{Vars: []string{"list=" + deep}}, "<value for var.list>"},
		{"environment", Options{Env: []string{"PORTCHECK_VAR_list=" + deep}}, "<value for var.list>"},
		{"-var-file", Options{VarFiles: []string{varFile}}, varFile},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cfg, diags := LoadSources(map[string][]byte{"vars.pc.hcl": []byte(varsSource)}, tt.opts)
			if len(diags) != 1 || diags[0].Summary != "Nesting too deep" || diags[0].Subject == nil || diags[0].Subject.Filename != tt.file {
				t.Fatalf("want one Nesting too deep in %s, got:\n%s", tt.file, diagText(cfg, diags))
			}
		})
	}
}

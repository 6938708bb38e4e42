package config

import (
	"fmt"
	"os"
	"sort"
	"strings"

	"github.com/hashicorp/hcl/v2"
	"github.com/hashicorp/hcl/v2/ext/typeexpr"
	"github.com/hashicorp/hcl/v2/hclsyntax"
	"github.com/zclconf/go-cty/cty"
	"github.com/zclconf/go-cty/cty/convert"
)

// envPrefix names the environment variables that set input variables.
const envPrefix = "PORTCHECK_VAR_"

// variableDecl is a decoded variable block plus what assignment needs.
type variableDecl struct {
	*Variable
	defaults  *typeexpr.Defaults // optional() attribute defaults
	typeGiven bool
	// broken: the type or default had an error; the value stays unknown so
	// nothing downstream reports a second error about it.
	broken bool
}

func decodeVariableBlock(block *hcl.Block) (*variableDecl, hcl.Diagnostics) {
	v := &Variable{Name: block.Labels[0], Type: cty.DynamicPseudoType, DeclRange: block.DefRange}
	decl := &variableDecl{Variable: v}
	content, diags := block.Body.Content(variableSchema)
	if content == nil {
		decl.broken = true
		return decl, diags
	}
	if attr, ok := content.Attributes["type"]; ok {
		ty, defaults, d := typeexpr.TypeConstraintWithDefaults(attr.Expr)
		diags = append(diags, d...)
		if d.HasErrors() {
			decl.broken = true
		} else {
			v.Type, decl.defaults, decl.typeGiven = ty, defaults, true
		}
	}
	if attr, ok := content.Attributes["description"]; ok {
		// No EvalContext: a declaration cannot depend on values.
		val, d := attr.Expr.Value(nil)
		diags = append(diags, d...)
		if !d.HasErrors() && !val.IsNull() {
			if sv, err := convert.Convert(val, cty.String); err != nil || !sv.IsKnown() {
				diags = diags.Append(typeDiag(attr.Expr, "description", "string"))
			} else {
				v.Description = sv.AsString()
			}
		}
	}
	if attr, ok := content.Attributes["default"]; ok {
		val, d := attr.Expr.Value(nil)
		diags = append(diags, d...)
		switch {
		case d.HasErrors():
			decl.broken = true
		case decl.broken:
			v.Default = val // cannot check against a type that failed
		default:
			if decl.defaults != nil {
				val = decl.defaults.Apply(val)
			}
			conv, err := convert.Convert(val, v.Type)
			if err != nil {
				decl.broken = true
				diags = diags.Append(errorf(attr.Expr.Range(), "Invalid default value for variable",
					"The default is not suitable for the type %s: %s.", typeexpr.TypeString(v.Type), err))
			} else {
				v.Default = conv
			}
		}
	}
	return decl, diags
}

func (l *loader) declareVariables(blocks hcl.Blocks) hcl.Diagnostics {
	var diags hcl.Diagnostics
	for _, b := range blocks {
		name := b.Labels[0]
		diags = append(diags, checkName("variable", b)...)
		if first, dup := l.vars[name]; dup {
			diags = append(diags, duplicateDiag("variable", name, first.DeclRange, b.DefRange))
			continue
		}
		decl, d := decodeVariableBlock(b)
		diags = append(diags, d...)
		l.vars[name] = decl
		l.cfg.Variables = append(l.cfg.Variables, decl.Variable)
	}
	return diags
}

// assignment is the value a variable gets from one source.
type assignment struct {
	val    cty.Value
	source string // for messages: "-var", "-var-file x", ...
	rng    hcl.Range
	bad    bool // already reported
}

// assignVariables applies, lowest precedence first: default < -var-file <
// PORTCHECK_VAR_name < -var, then converts each value to its type.
func (l *loader) assignVariables(opts Options) hcl.Diagnostics {
	var diags hcl.Diagnostics
	chosen := map[string]assignment{}
	for _, v := range l.cfg.Variables {
		if v.Default != cty.NilVal {
			chosen[v.Name] = assignment{val: v.Default, source: "the default"}
		}
	}

	for _, path := range opts.VarFiles {
		f, d := l.parseVarFile(path)
		diags = append(diags, d...)
		if f == nil || f.Body == nil || d.HasErrors() {
			continue
		}
		attrs, d := f.Body.JustAttributes()
		diags = append(diags, d...)
		for _, attr := range sortedAttributes(attrs) {
			if _, ok := l.vars[attr.Name]; !ok {
				// A warning, as in Terraform: one file often serves several configurations.
				diags = diags.Append(warningf(attr.NameRange, "Value for undeclared variable",
					"The -var-file %s sets %q, but no variable %q is declared; the value is ignored.", path, attr.Name, attr.Name))
				continue
			}
			val, d := attr.Expr.Value(nil)
			diags = append(diags, d...)
			chosen[attr.Name] = assignment{val: val, source: "-var-file " + path, rng: attr.Expr.Range(), bad: d.HasErrors()}
		}
	}

	for _, kv := range opts.Env {
		key, raw, _ := strings.Cut(kv, "=")
		name, ok := strings.CutPrefix(key, envPrefix)
		if !ok || name == "" {
			continue
		}
		decl, ok := l.vars[name]
		if !ok {
			// A warning, not an error, as for a -var-file: one environment
			// often serves several configurations. But a typo in a name
			// must not pass unseen, as it did.
			diags = diags.Append(&hcl.Diagnostic{
				Severity: hcl.DiagWarning,
				Summary:  "Value for undeclared variable",
				Detail: fmt.Sprintf("The environment variable %s sets %q, but no variable %q is declared; the value is ignored.%s",
					key, name, name, l.suggestVariable(name)),
			})
			continue
		}
		a, d := parseRawValue(decl, raw, "the environment variable "+key)
		diags = append(diags, d...)
		chosen[name] = a
	}

	for _, opt := range opts.Vars {
		name, raw, found := strings.Cut(opt, "=")
		if !found || name == "" {
			diags = diags.Append(&hcl.Diagnostic{
				Severity: hcl.DiagError,
				Summary:  "Invalid -var option",
				Detail:   fmt.Sprintf("The option -var %q is not a variable name and value separated by an equals sign, like -var web_port=8080.", opt),
			})
			continue
		}
		decl, ok := l.vars[name]
		if !ok {
			diags = diags.Append(&hcl.Diagnostic{
				Severity: hcl.DiagError,
				Summary:  "Value for undeclared variable",
				Detail:   fmt.Sprintf("-var sets %q, but no variable %q is declared; declare it with a variable %q {} block.", name, name, name),
			})
			continue
		}
		a, d := parseRawValue(decl, raw, "-var")
		diags = append(diags, d...)
		chosen[name] = a
	}

	for _, v := range l.cfg.Variables {
		decl := l.vars[v.Name]
		v.Value = cty.DynamicVal
		a, ok := chosen[v.Name]
		switch {
		case decl.broken || (ok && a.bad):
			continue
		case !ok:
			diags = diags.Append(errorf(v.DeclRange, "No value for required variable",
				"The variable %q has no default, so it needs a value: -var %s=VALUE, a -var-file, or the environment variable %s%s.",
				v.Name, v.Name, envPrefix, v.Name))
			continue
		}
		val := a.val
		if decl.defaults != nil {
			val = decl.defaults.Apply(val)
		}
		conv, err := convert.Convert(val, v.Type)
		if err != nil {
			d := errorf(a.rng, "Invalid value for variable",
				"The value from %s is not suitable for var.%s (type %s, declared at %s): %s.",
				a.source, v.Name, typeexpr.TypeString(v.Type), SourceOf(v.DeclRange), err)
			if a.rng.Filename == "" {
				d.Subject = nil // the default is already checked; this cannot happen for it
			}
			diags = diags.Append(d)
			continue
		}
		v.Value = conv
	}
	return diags
}

// parseVarFile reads and parses a -var-file, refusing what Load refuses
// in a configuration file (not text, nested too deep).
func (l *loader) parseVarFile(path string) (*hcl.File, hcl.Diagnostics) {
	src, err := os.ReadFile(path)
	if err != nil {
		return nil, hcl.Diagnostics{{
			Severity: hcl.DiagError,
			Summary:  "Failed to read file",
			Detail:   fmt.Sprintf("The -var-file %q could not be read: %s.", path, err),
		}}
	}
	if d := checkSource(path, src); d != nil {
		l.parser.AddFile(path, printableSource(src))
		return nil, d
	}
	if isJSONName(path) {
		return l.parser.ParseJSON(src, path)
	}
	return l.parser.ParseHCL(src, path)
}

// parseRawValue turns a -var or environment value into a cty value. As in
// Terraform, a string or untyped variable takes the text as it is; other
// types read it as an HCL expression (8080, true, ["a", "b"], {a = 1}).
func parseRawValue(decl *variableDecl, raw, source string) (assignment, hcl.Diagnostics) {
	filename := fmt.Sprintf("<value for var.%s>", decl.Name)
	rng := hcl.Range{
		Filename: filename,
		Start:    hcl.InitialPos,
		End:      hcl.Pos{Line: 1, Column: len(raw) + 1, Byte: len(raw)},
	}
	a := assignment{source: source, rng: rng}
	if !decl.typeGiven || decl.Type == cty.String {
		a.val = cty.StringVal(raw)
		return a, nil
	}
	if decl.Type.IsPrimitiveType() {
		// number and bool: the text itself, converted with the declared type
		// later, so "abc" for a number says "a number is required" rather
		// than complaining about an HCL variable reference.
		a.val = cty.StringVal(strings.TrimSpace(raw))
		return a, nil
	}
	if d := checkExpressionNesting(rng, []byte(raw), fmt.Sprintf("The value from %s for var.%s", source, decl.Name)); d != nil {
		a.bad = true
		return a, hcl.Diagnostics{d}
	}
	expr, diags := hclsyntax.ParseExpression([]byte(raw), filename, hcl.InitialPos)
	if !diags.HasErrors() {
		var d hcl.Diagnostics
		a.val, d = expr.Value(nil)
		diags = append(diags, d...)
	}
	if diags.HasErrors() {
		a.bad = true
		var first *hcl.Diagnostic
		for _, d := range diags {
			if d.Severity == hcl.DiagError {
				first = d
				break
			}
		}
		return a, hcl.Diagnostics{errorf(rng, "Invalid value for variable",
			"The value %q from %s for var.%s (type %s) is not a valid expression: %s: %s",
			raw, source, decl.Name, typeexpr.TypeString(decl.Type), first.Summary, first.Detail)}
	}
	return a, diags
}

func sortedAttributes(attrs hcl.Attributes) []*hcl.Attribute {
	out := make([]*hcl.Attribute, 0, len(attrs))
	for _, a := range attrs {
		out = append(out, a)
	}
	sort.Slice(out, func(i, j int) bool {
		a, b := out[i].Range, out[j].Range
		if a.Filename != b.Filename {
			return a.Filename < b.Filename
		}
		return a.Start.Byte < b.Start.Byte
	})
	return out
}

func (l *loader) varObject() cty.Value {
	vals := make(map[string]cty.Value, len(l.vars))
	for name, decl := range l.vars {
		if decl.Value == cty.NilVal {
			vals[name] = cty.DynamicVal
		} else {
			vals[name] = decl.Value
		}
	}
	return cty.ObjectVal(vals)
}

// localValue is one attribute of a locals block.
type localValue struct {
	name  string
	expr  hcl.Expression
	rng   hcl.Range
	deps  []string
	value cty.Value
	done  bool
}

func (l *loader) localObject() cty.Value {
	vals := map[string]cty.Value{}
	for name, lv := range l.locals {
		if lv.done {
			vals[name] = lv.value
		}
	}
	return cty.ObjectVal(vals)
}

// resolveLocals evaluates locals in dependency order, whatever order they
// are written in: each round evaluates the locals whose dependencies are
// all known, until no round makes progress. What is left is a cycle or
// depends on one.
func (l *loader) resolveLocals(blocks hcl.Blocks) hcl.Diagnostics {
	var diags hcl.Diagnostics
	var all []*localValue
	for _, b := range blocks {
		attrs, d := b.Body.JustAttributes()
		diags = append(diags, d...)
		for _, attr := range sortedAttributes(attrs) {
			if first, dup := l.locals[attr.Name]; dup {
				diags = diags.Append(duplicateDiag("local value", attr.Name, first.rng, attr.NameRange))
				continue
			}
			lv := &localValue{name: attr.Name, expr: attr.Expr, rng: attr.NameRange}
			l.locals[attr.Name] = lv
			all = append(all, lv)
		}
	}

	s := l.scope(rootVar, rootLocal)
	s.denied = "A local value can only refer to var.* and local.*: locals are resolved before hosts exist."
	for _, lv := range all {
		if d := s.checkRefs(lv.expr); d.HasErrors() {
			diags = append(diags, d...)
			lv.value, lv.done = cty.DynamicVal, true
			continue
		}
		seen := map[string]bool{}
		for _, tr := range lv.expr.Variables() {
			if tr.RootName() != rootLocal {
				continue
			}
			name := traversalName(tr)
			if !seen[name] {
				seen[name] = true
				lv.deps = append(lv.deps, name)
			}
		}
	}

	for {
		var ready []*localValue
		for _, lv := range all {
			if lv.done {
				continue
			}
			ok := true
			for _, dep := range lv.deps {
				if !l.locals[dep].done {
					ok = false
					break
				}
			}
			if ok {
				ready = append(ready, lv)
			}
		}
		if len(ready) == 0 {
			break
		}
		s.ctx.Variables[rootLocal] = l.localObject()
		for _, lv := range ready {
			v, d := lv.expr.Value(s.ctx)
			diags = append(diags, d...)
			if d.HasErrors() {
				v = cty.DynamicVal
			}
			lv.value = v
		}
		for _, lv := range ready {
			lv.done = true
		}
	}

	for _, lv := range all {
		if lv.done {
			continue
		}
		if path := l.localCycle(lv); path != nil {
			diags = diags.Append(errorf(lv.expr.Range(), "Cycle in local values",
				"local.%s depends on itself: %s.", lv.name, strings.Join(path, " -> ")))
		}
	}
	for _, lv := range all {
		if !lv.done {
			lv.value, lv.done = cty.DynamicVal, true
		}
	}
	return diags
}

// localCycle returns a path local.a -> ... -> local.a through unresolved
// locals, or nil when start only depends on a cycle without being on one.
func (l *loader) localCycle(start *localValue) []string {
	visited := map[string]bool{}
	var path []string
	var walk func(lv *localValue) bool
	walk = func(lv *localValue) bool {
		path = append(path, "local."+lv.name)
		for _, dep := range lv.deps {
			next := l.locals[dep]
			if next.done {
				continue
			}
			if next == start {
				path = append(path, "local."+start.name)
				return true
			}
			if visited[dep] {
				continue
			}
			visited[dep] = true
			if walk(next) {
				return true
			}
		}
		path = path[:len(path)-1]
		return false
	}
	if walk(start) {
		return path
	}
	return nil
}

// traversalName is the NAME of root.NAME (checked by checkRefs before use).
func traversalName(tr hcl.Traversal) string {
	if len(tr) < 2 {
		return ""
	}
	switch step := tr[1].(type) {
	case hcl.TraverseAttr:
		return step.Name
	case hcl.TraverseIndex:
		if step.Key.Type() == cty.String && step.Key.IsKnown() && !step.Key.IsNull() {
			return step.Key.AsString()
		}
	}
	return ""
}

// suggestVariable returns ` Did you mean "port" (PORTCHECK_VAR_port)?` for
// a name one typo away from a declared variable's (two for longer
// names), or "".
func (l *loader) suggestVariable(name string) string {
	if len(name) > 64 { // not a typo of a name; and the distance is quadratic
		return ""
	}
	best, bestDist := "", 2
	if len(name) > 5 {
		bestDist = 3
	}
	for declared := range l.vars {
		if d := editDistance(strings.ToLower(name), strings.ToLower(declared)); d < bestDist || (d == bestDist && declared < best) {
			best, bestDist = declared, d
		}
	}
	if best == "" {
		return ""
	}
	return fmt.Sprintf(" Did you mean %q (%s%s)?", best, envPrefix, best)
}

// editDistance counts the insertions, deletions, substitutions and
// swaps of neighbours (prot -> port is one) that turn a into b, in bytes.
func editDistance(a, b string) int {
	rows := make([][]int, len(a)+1)
	for i := range rows {
		rows[i] = make([]int, len(b)+1)
		rows[i][0] = i
	}
	for j := range rows[0] {
		rows[0][j] = j
	}
	for i := 1; i <= len(a); i++ {
		for j := 1; j <= len(b); j++ {
			cost := 1
			if a[i-1] == b[j-1] {
				cost = 0
			}
			rows[i][j] = min(rows[i-1][j]+1, rows[i][j-1]+1, rows[i-1][j-1]+cost)
			if i > 1 && j > 1 && a[i-1] == b[j-2] && a[i-2] == b[j-1] {
				rows[i][j] = min(rows[i][j], rows[i-2][j-2]+1)
			}
		}
	}
	return rows[len(a)][len(b)]
}

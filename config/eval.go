package config

import (
	"fmt"
	"sort"
	"strings"
	"time"

	"github.com/hashicorp/hcl/v2"
	"github.com/zclconf/go-cty/cty"
	"github.com/zclconf/go-cty/cty/convert"
)

// The roots a reference may start with.
const (
	rootVar   = "var"
	rootLocal = "local"
	rootHost  = "host"
)

// state is what a decode helper found. Callers skip every check that
// depends on a value that is not valid, so one mistake gives one error.
type state int

const (
	absent  state = iota // not given, or null
	valid                // known and of the right type
	invalid              // an error was reported, or the value is unknown
)

// into takes what a decode helper returns: it keeps the diagnostics and
// stores the value in *dst only if it is valid, leaving the default
// otherwise. It covers the attributes that go straight into the model:
//
//	into(&x.Send, &diags)(s.str(spec.Send, "send"))
//
// Attributes that check or convert the value first spell the steps out.
func into[T any](dst *T, diags *hcl.Diagnostics) func(T, state, hcl.Diagnostics) {
	return func(v T, st state, d hcl.Diagnostics) {
		*diags = append(*diags, d...)
		if st == valid {
			*dst = v
		}
	}
}

// scope is where an expression is evaluated: the EvalContext plus which
// roots may be referenced there, so undefined references are reported with
// their own range before HCL reports something vaguer.
type scope struct {
	l      *loader
	ctx    *hcl.EvalContext
	roots  map[string]bool
	denied string // detail for an allowed-elsewhere root used here
}

// scope builds an evaluation scope for the given roots from what the loader
// has resolved so far.
func (l *loader) scope(roots ...string) *scope {
	s := &scope{
		l:     l,
		ctx:   &hcl.EvalContext{Variables: map[string]cty.Value{}, Functions: functions()},
		roots: map[string]bool{},
	}
	for _, r := range roots {
		s.roots[r] = true
		switch r {
		case rootVar:
			s.ctx.Variables[rootVar] = l.varObject()
		case rootLocal:
			s.ctx.Variables[rootLocal] = l.localObject()
		case rootHost:
			s.ctx.Variables[rootHost] = l.hostObject()
		}
	}
	return s
}

// checkRefs reports references to roots not allowed here and to names
// that are not declared.
func (s *scope) checkRefs(expr hcl.Expression) hcl.Diagnostics {
	var diags hcl.Diagnostics
	for _, tr := range expr.Variables() {
		root := tr.RootName()
		rng := tr.SourceRange()
		if !s.roots[root] {
			detail := fmt.Sprintf("There is no variable named %q; references look like var.NAME, local.NAME or host.NAME.", root)
			if root == rootVar || root == rootLocal || root == rootHost {
				detail = s.denied
			}
			diags = diags.Append(errorDiag(rng, "Invalid reference", detail))
			continue
		}
		if len(tr) < 2 {
			diags = diags.Append(errorf(rng, "Invalid reference", "A reference to %s must name one, like %s.NAME.", root, root))
			continue
		}
		var name string
		switch step := tr[1].(type) {
		case hcl.TraverseAttr:
			name = step.Name
		case hcl.TraverseIndex:
			if step.Key.Type() != cty.String || !step.Key.IsKnown() || step.Key.IsNull() {
				diags = diags.Append(errorf(rng, "Invalid reference", "A reference to %s must name one, like %s.NAME.", root, root))
				continue
			}
			name = step.Key.AsString()
		default:
			diags = diags.Append(errorf(rng, "Invalid reference", "A reference to %s must name one, like %s.NAME.", root, root))
			continue
		}
		if !s.l.declared(root, name) {
			diags = diags.Append(undeclaredDiag(root, name, rng))
		}
	}
	return diags
}

func (l *loader) declared(root, name string) bool {
	switch root {
	case rootVar:
		_, ok := l.vars[name]
		return ok
	case rootLocal:
		_, ok := l.locals[name]
		return ok
	case rootHost:
		_, ok := l.hosts[name]
		return ok
	}
	return false
}

func undeclaredDiag(root, name string, rng hcl.Range) *hcl.Diagnostic {
	switch root {
	case rootVar:
		return errorf(rng, "Reference to undeclared input variable", "An input variable named %q has not been declared; add a variable %q {} block.", name, name)
	case rootLocal:
		return errorf(rng, "Reference to undeclared local value", "A local value named %q has not been declared in a locals block.", name)
	default:
		return errorf(rng, "Reference to undeclared host", "A host named %q has not been declared; add a host %q {} block.", name, name)
	}
}

// eval checks the references of expr and evaluates it.
func (s *scope) eval(expr hcl.Expression) (cty.Value, state, hcl.Diagnostics) {
	diags := s.checkRefs(expr)
	if diags.HasErrors() {
		return cty.DynamicVal, invalid, diags
	}
	v, d := expr.Value(s.ctx)
	diags = append(diags, d...)
	switch {
	case d.HasErrors():
		return cty.DynamicVal, invalid, diags
	case !v.IsKnown():
		return v, invalid, diags
	case v.IsNull():
		return v, absent, diags
	case !v.IsWhollyKnown():
		return v, invalid, diags
	}
	return v, valid, diags
}

func typeDiag(expr hcl.Expression, attr, want string) *hcl.Diagnostic {
	return errorf(expr.Range(), "Incorrect attribute value type", "Inappropriate value for attribute %q: %s required.", attr, want)
}

// hugeNumber guards conversions that would print a number digit by digit.
func hugeNumber(v cty.Value) bool {
	if v.Type() != cty.Number {
		return false
	}
	bf := v.AsBigFloat()
	return bf.IsInf() || bf.MantExp(nil) > 256
}

func (s *scope) str(expr hcl.Expression, attr string) (string, state, hcl.Diagnostics) {
	v, st, diags := s.eval(expr)
	if st != valid {
		return "", st, diags
	}
	if hugeNumber(v) {
		return "", invalid, append(diags, typeDiag(expr, attr, "string"))
	}
	sv, err := convert.Convert(v, cty.String)
	if err != nil {
		return "", invalid, append(diags, typeDiag(expr, attr, "string"))
	}
	return sv.AsString(), valid, diags
}

func (s *scope) boolean(expr hcl.Expression, attr string) (bool, state, hcl.Diagnostics) {
	v, st, diags := s.eval(expr)
	if st != valid {
		return false, st, diags
	}
	bv, err := convert.Convert(v, cty.Bool)
	if err != nil {
		return false, invalid, append(diags, typeDiag(expr, attr, "bool"))
	}
	return bv.True(), valid, diags
}

// wholeNumber converts a known number to an int within [min, max].
func wholeNumber(v cty.Value, rng hcl.Range, attr string, min, max int) (int, *hcl.Diagnostic) {
	bf := v.AsBigFloat()
	if bf.IsInf() || !bf.IsInt() {
		return 0, errorf(rng, "Invalid number", "%s must be a whole number; got %s.", attr, bf.Text('g', 10))
	}
	i, acc := bf.Int64()
	if acc != 0 || i < int64(min) || i > int64(max) {
		return 0, errorf(rng, "Value out of range", "%s must be between %d and %d; got %s.", attr, min, max, bf.Text('g', 10))
	}
	return int(i), nil
}

func (s *scope) integer(expr hcl.Expression, attr string, min, max int) (int, state, hcl.Diagnostics) {
	v, st, diags := s.eval(expr)
	if st != valid {
		return 0, st, diags
	}
	nv, err := convert.Convert(v, cty.Number)
	if err != nil {
		return 0, invalid, append(diags, typeDiag(expr, attr, "number"))
	}
	i, d := wholeNumber(nv, expr.Range(), attr, min, max)
	if d != nil {
		return 0, invalid, append(diags, d)
	}
	return i, valid, diags
}

// maxTimeout bounds every timeout so a typo cannot stall a run for hours.
const maxTimeout = 5 * time.Minute

func (s *scope) duration(expr hcl.Expression, attr string) (time.Duration, state, hcl.Diagnostics) {
	str, st, diags := s.str(expr, attr)
	if st != valid {
		return 0, st, diags
	}
	d, err := time.ParseDuration(str)
	if err != nil {
		return 0, invalid, append(diags, errorf(expr.Range(), "Invalid duration",
			"%q is not a duration: use a number and a unit, like \"2s\", \"500ms\" or \"1m30s\".", str))
	}
	if d <= 0 || d > maxTimeout {
		return 0, invalid, append(diags, errorf(expr.Range(), "Invalid timeout",
			"%s must be more than 0 and at most %s; got %s.", attr, maxTimeout, d))
	}
	return d, valid, diags
}

// stringList returns the strings of a list and, where the list is written
// out literally, the range of each element.
func (s *scope) stringList(expr hcl.Expression, attr string) ([]string, []hcl.Range, state, hcl.Diagnostics) {
	v, st, diags := s.eval(expr)
	if st != valid {
		return nil, nil, st, diags
	}
	lv, err := convert.Convert(v, cty.List(cty.String))
	if err != nil {
		return nil, nil, invalid, append(diags, typeDiag(expr, attr, "list of string"))
	}
	ranges := elemRanges(expr, lv.LengthInt())
	out := make([]string, 0, len(ranges))
	ok := true
	for i, ev := range lv.AsValueSlice() {
		if ev.IsNull() {
			diags = diags.Append(inContext(errorf(ranges[i], "Invalid value", "Elements of %s must not be null.", attr), expr.Range()))
			ok = false
			continue
		}
		out = append(out, ev.AsString())
	}
	if !ok {
		return nil, nil, invalid, diags
	}
	return out, ranges, valid, diags
}

func elemRanges(expr hcl.Expression, n int) []hcl.Range {
	out := make([]hcl.Range, n)
	exprs, d := hcl.ExprList(expr)
	for i := range out {
		if !d.HasErrors() && len(exprs) == n {
			out[i] = exprs[i].Range()
		} else {
			out[i] = expr.Range()
		}
	}
	return out
}

// stringMap returns a map of strings and, where the object is written out
// literally, the range of each value by key.
func (s *scope) stringMap(expr hcl.Expression, attr string) (map[string]string, map[string]hcl.Range, state, hcl.Diagnostics) {
	v, st, diags := s.eval(expr)
	if st != valid {
		return nil, nil, st, diags
	}
	mv, err := convert.Convert(v, cty.Map(cty.String))
	if err != nil {
		return nil, nil, invalid, append(diags, typeDiag(expr, attr, "map of string"))
	}
	ranges := map[string]hcl.Range{}
	if pairs, d := hcl.ExprMap(expr); !d.HasErrors() {
		for _, p := range pairs {
			k, d := p.Key.Value(s.ctx)
			if d.HasErrors() || !k.IsKnown() || k.IsNull() || hugeNumber(k) {
				continue
			}
			if ks, err := convert.Convert(k, cty.String); err == nil {
				ranges[ks.AsString()] = p.Value.Range()
			}
		}
	}
	out := map[string]string{}
	ok := true
	for k, ev := range mv.AsValueMap() {
		if _, found := ranges[k]; !found {
			ranges[k] = expr.Range()
		}
		if ev.IsNull() {
			diags = diags.Append(inContext(errorf(ranges[k], "Invalid value", "The value of %q in %s must not be null.", k, attr), expr.Range()))
			ok = false
			continue
		}
		out[k] = ev.AsString()
	}
	if !ok {
		return nil, nil, invalid, diags
	}
	return out, ranges, valid, diags
}

// sortedKeys gives map keys in a stable order so diagnostics are stable.
func sortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}

// article picks "a" or "an" for a noun in a message.
func article(noun string) string {
	if noun != "" && strings.ContainsRune("aeiou", rune(noun[0])) {
		return "An"
	}
	return "A"
}

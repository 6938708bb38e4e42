package cloud

import (
	"fmt"
	"slices"
	"strings"

	"github.com/hashicorp/hcl/v2"
	"github.com/zclconf/go-cty/cty"
	"github.com/zclconf/go-cty/cty/convert"
)

// This file holds what backends share to decode their provider blocks:
// string arguments evaluated in the block's context, with diagnostics as
// config gives them elsewhere (the reference or value at fault, never a
// panic on odd input).

// StringArg is one string argument of a provider block.
type StringArg struct {
	Value string
	// Set is true when the argument is given, not null, and its value
	// could be decoded.
	Set bool
	// Given is true when the argument is written in the block at all
	// (even with a value that failed to decode).
	Given bool
	// Range is the value's range when given, else the block's header.
	Range hcl.Range
}

// Strings decodes a body whose arguments are all strings, named by names:
// any other argument, and any nested block, is HCL's "Unsupported
// argument" / "Unsupported block type" at its range. Every name is in the
// result; those not given have Set false.
func (b Block) Strings(names ...string) (map[string]StringArg, hcl.Diagnostics) {
	out := make(map[string]StringArg, len(names))
	for _, n := range names {
		out[n] = StringArg{Range: b.DeclRange}
	}
	if b.Body == nil {
		return out, nil
	}
	schema := &hcl.BodySchema{}
	for _, n := range names {
		schema.Attributes = append(schema.Attributes, hcl.AttributeSchema{Name: n})
	}
	content, diags := b.Body.Content(schema)
	if content == nil {
		return out, diags
	}
	for _, n := range names {
		a, ok := content.Attributes[n]
		if !ok {
			continue
		}
		v, set, d := b.String(a.Expr, n)
		diags = append(diags, d...)
		out[n] = StringArg{Value: v, Set: set, Given: true, Range: a.Expr.Range()}
	}
	return out, diags
}

// String evaluates one expression of the block as a string. set is false
// when the value is null, or unknown (a variable that failed to decode,
// reported where it is declared), or wrong (reported here).
func (b Block) String(expr hcl.Expression, attr string) (v string, set bool, diags hcl.Diagnostics) {
	if diags = b.checkRefs(expr); diags.HasErrors() {
		return "", false, diags
	}
	val, d := expr.Value(b.EvalContext)
	diags = append(diags, d...)
	if d.HasErrors() || !val.IsWhollyKnown() || val.IsNull() {
		return "", false, diags
	}
	if hugeNumber(val) {
		return "", false, diags.Append(typeDiag(expr, attr))
	}
	sv, err := convert.Convert(val, cty.String)
	if err != nil {
		return "", false, diags.Append(typeDiag(expr, attr))
	}
	return sv.AsString(), true, diags
}

// checkRefs reports references to what the block's context does not
// have, with the reference's own range, before HCL says something vaguer.
func (b Block) checkRefs(expr hcl.Expression) hcl.Diagnostics {
	var diags hcl.Diagnostics
	var vars map[string]cty.Value
	if b.EvalContext != nil {
		vars = b.EvalContext.Variables
	}
	for _, tr := range expr.Variables() {
		root := tr.RootName()
		rng := tr.SourceRange()
		obj, ok := vars[root]
		if !ok {
			diags = diags.Append(&hcl.Diagnostic{Severity: hcl.DiagError, Summary: "Invalid reference", Subject: rng.Ptr(),
				Detail: fmt.Sprintf("A provider block can only refer to %s.", rootsText(vars))})
			continue
		}
		if len(tr) < 2 {
			continue
		}
		step, ok := tr[1].(hcl.TraverseAttr)
		if !ok || !obj.IsKnown() || obj.IsNull() || !obj.Type().IsObjectType() || obj.Type().HasAttribute(step.Name) {
			continue
		}
		diags = diags.Append(&hcl.Diagnostic{Severity: hcl.DiagError, Summary: "Reference to undeclared value", Subject: rng.Ptr(),
			Detail: fmt.Sprintf("%s.%s is not declared.", root, step.Name)})
	}
	return diags
}

// rootsText is "local.* and var.*": what a block may refer to.
func rootsText(vars map[string]cty.Value) string {
	if len(vars) == 0 {
		return "no variables (only literal values)"
	}
	var roots []string
	for r := range vars {
		roots = append(roots, r+".*")
	}
	slices.Sort(roots)
	if len(roots) == 1 {
		return roots[0]
	}
	return strings.Join(roots[:len(roots)-1], ", ") + " and " + roots[len(roots)-1]
}

func typeDiag(expr hcl.Expression, attr string) *hcl.Diagnostic {
	return &hcl.Diagnostic{Severity: hcl.DiagError, Summary: "Incorrect attribute value type", Subject: expr.Range().Ptr(),
		Detail: fmt.Sprintf("Inappropriate value for attribute %q: string required.", attr)}
}

// hugeNumber guards a conversion that would print a number digit by digit.
func hugeNumber(v cty.Value) bool {
	if v.Type() != cty.Number {
		return false
	}
	bf := v.AsBigFloat()
	return bf.IsInf() || bf.MantExp(nil) > 256
}

// Errorf is a diagnostic for a backend's own checks of its block.
func Errorf(rng hcl.Range, summary, format string, args ...any) *hcl.Diagnostic {
	return &hcl.Diagnostic{Severity: hcl.DiagError, Summary: summary, Detail: fmt.Sprintf(format, args...), Subject: rng.Ptr()}
}

package config

import (
	"strings"
	"testing"

	"github.com/hashicorp/hcl/v2"
	"github.com/hashicorp/hcl/v2/hclsyntax"
	"github.com/zclconf/go-cty/cty"
)

func evalFunc(t *testing.T, src string) (cty.Value, hcl.Diagnostics) {
	t.Helper()
	expr, diags := hclsyntax.ParseExpression([]byte(src), "f.pc.hcl", hcl.InitialPos)
	if diags.HasErrors() {
		t.Fatalf("parse %s: %s", src, diags)
	}
	return expr.Value(&hcl.EvalContext{Functions: functions()})
}

func TestFunctions(t *testing.T) {
	strs := func(ss ...string) cty.Value {
		vals := make([]cty.Value, len(ss))
		for i, s := range ss {
			vals[i] = cty.StringVal(s)
		}
		return cty.ListVal(vals)
	}
	tests := []struct {
		expr string
		want cty.Value
	}{
		// The examples of Terraform's documentation, which these follow.
		{`cidrhost("10.12.112.0/20", 16)`, cty.StringVal("10.12.112.16")},
		{`cidrhost("10.12.112.0/20", 268)`, cty.StringVal("10.12.113.12")},
		{`cidrhost("fd00:fd12:3456:7890:00a2::/72", 34)`, cty.StringVal("fd00:fd12:3456:7890::22")},
		{`cidrhost("10.0.0.0/30", -1)`, cty.StringVal("10.0.0.3")},
		{`cidrhost("10.1.2.3/8", 0)`, cty.StringVal("10.0.0.0")},
		{`cidrhost("10.0.0.1/32", 0)`, cty.StringVal("10.0.0.1")},
		{`cidrnetmask("172.16.0.0/12")`, cty.StringVal("255.240.0.0")},
		{`cidrnetmask("0.0.0.0/0")`, cty.StringVal("0.0.0.0")},
		{`cidrnetmask("10.0.0.1/32")`, cty.StringVal("255.255.255.255")},
		{`cidrsubnet("172.16.0.0/12", 4, 2)`, cty.StringVal("172.18.0.0/16")},
		{`cidrsubnet("10.1.2.0/24", 4, 15)`, cty.StringVal("10.1.2.240/28")},
		{`cidrsubnet("fd00:fd12:3456:7890::/56", 16, 162)`, cty.StringVal("fd00:fd12:3456:7800:a200::/72")},
		{`cidrsubnet("10.0.0.0/8", 0, 0)`, cty.StringVal("10.0.0.0/8")},
		{`cidrsubnets("10.1.0.0/16", 4, 4, 8, 4)`, strs("10.1.0.0/20", "10.1.16.0/20", "10.1.32.0/24", "10.1.48.0/20")},
		{`cidrsubnets("fd00:fd12:3456:7890::/56", 16, 16, 16, 32)`,
			strs("fd00:fd12:3456:7800::/72", "fd00:fd12:3456:7800:100::/72", "fd00:fd12:3456:7800:200::/72", "fd00:fd12:3456:7800:300::/88")},
		{`cidrsubnets("10.0.0.0/30", 1, 1)`, strs("10.0.0.0/31", "10.0.0.2/31")},
		{`cidrsubnets("10.0.0.0/8")`, cty.ListValEmpty(cty.String)},
		// A sample of the stdlib under Terraform's names.
		{`upper("web")`, cty.StringVal("WEB")},
		{`format("%s:%d", "web", 80)`, cty.StringVal("web:80")},
		{`join(",", formatlist("h%d", [1, 2]))`, cty.StringVal("h1,h2")},
		{`split(",", "a,b")`, strs("a", "b")},
		{`length(concat([1], [2, 3]))`, cty.NumberIntVal(3)},
		{`max(1, 5, 3)`, cty.NumberIntVal(5)},
		{`lookup({a = 1}, "b", 2)`, cty.NumberIntVal(2)},
		{`element(["a", "b"], 3)`, cty.StringVal("b")},
		{`merge({a = 1}, {b = 2})`, cty.ObjectVal(map[string]cty.Value{"a": cty.NumberIntVal(1), "b": cty.NumberIntVal(2)})},
		{`tostring(8080)`, cty.StringVal("8080")},
		{`tonumber("8080")`, cty.NumberIntVal(8080)},
		{`range(2)`, cty.ListVal([]cty.Value{cty.NumberIntVal(0), cty.NumberIntVal(1)})},
		{`try(tonumber("x"), 7)`, cty.NumberIntVal(7)},
		{`can(cidrhost("bad", 1))`, cty.False},
	}
	for _, tt := range tests {
		t.Run(tt.expr, func(t *testing.T) {
			got, diags := evalFunc(t, tt.expr)
			if diags.HasErrors() {
				t.Fatal(diags)
			}
			if !got.RawEquals(tt.want) {
				t.Errorf("= %#v, want %#v", got, tt.want)
			}
		})
	}
}

func TestFunctionErrors(t *testing.T) {
	tests := []struct {
		expr   string
		detail string
	}{
		{`cidrhost("10.0.0.0", 1)`, `invalid CIDR prefix "10.0.0.0"`},
		{`cidrhost("10.0.0.0/33", 1)`, `invalid CIDR prefix "10.0.0.0/33"`},
		{`cidrhost("fe80::/64%eth0", 1)`, `invalid CIDR prefix`},
		{`cidrhost("10.0.0.0/30", 4)`, "has no host number 4"},
		{`cidrhost("10.0.0.0/30", -5)`, "has no host number -5"},
		{`cidrhost("10.0.0.0/8", 1.5)`, "not a whole number"},
		{`cidrhost("::/0", 1e100)`, "too large"},
		{`cidrnetmask("fd00::/64")`, "only IPv4 prefixes have a netmask"},
		{`cidrsubnet("10.0.0.0/24", 9, 0)`, "cannot extend the /24 prefix"},
		{`cidrsubnet("10.0.0.0/24", -1, 0)`, "cannot extend the /24 prefix"},
		{`cidrsubnet("10.0.0.0/24", 1e9, 0)`, "out of range"},
		{`cidrsubnet("10.0.0.0/24", 2, 4)`, "4 is out of range"},
		{`cidrsubnet("10.0.0.0/24", 2, -1)`, "-1 is out of range"},
		{`cidrsubnets("10.0.0.0/30", 1, 1, 1)`, "not enough address space left"},
		{`cidrsubnets("10.0.0.0/24", 0)`, "cannot extend"},
		{`cidrhost(null, 1)`, "must not be null"},
	}
	for _, tt := range tests {
		t.Run(tt.expr, func(t *testing.T) {
			_, diags := evalFunc(t, tt.expr)
			if !diags.HasErrors() {
				t.Fatal("want an error")
			}
			if d := diags[0]; d.Subject == nil || !strings.Contains(d.Detail, tt.detail) {
				t.Errorf("got %q (subject %v), want a subject and %q", d.Detail, d.Subject, tt.detail)
			}
		})
	}
}

// TestFunctionsUnknown: unknown arguments give unknown results, not errors,
// so a broken variable does not make every cidr call fail as well.
func TestFunctionsUnknown(t *testing.T) {
	expr, _ := hclsyntax.ParseExpression([]byte(`cidrsubnets(var.x, 1, 2)`), "f", hcl.InitialPos)
	ctx := &hcl.EvalContext{
		Functions: functions(),
		Variables: map[string]cty.Value{"var": cty.ObjectVal(map[string]cty.Value{"x": cty.UnknownVal(cty.String)})},
	}
	v, diags := expr.Value(ctx)
	if diags.HasErrors() || v.IsKnown() {
		t.Errorf("= %#v, %v; want unknown without errors", v, diags)
	}
}

package config

import (
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/hashicorp/hcl/v2"
	"github.com/zclconf/go-cty/cty"
)

const varsSource = `
variable "port" {
  type    = number
  default = 80
}
variable "name" {
  type    = string
  default = "default"
}
variable "untyped" {
  default = "u"
}
variable "any" {
  type    = any
  default = 1
}
variable "list" {
  type    = list(string)
  default = []
}
variable "obj" {
  type    = object({ a = string, b = optional(number, 7) })
  default = { a = "x" }
}
variable "flag" {
  type    = bool
  default = false
}
host "web" {
  address = "10.0.0.5"
}
endpoint "web" {
  host = host.web
  port = var.port
}
`

func varValue(cfg *Config, name string) cty.Value {
	for _, v := range cfg.Variables {
		if v.Name == name {
			return v.Value
		}
	}
	return cty.NilVal
}

func TestVariableValues(t *testing.T) {
	obj := func(a string, b int64) cty.Value {
		return cty.ObjectVal(map[string]cty.Value{"a": cty.StringVal(a), "b": cty.NumberIntVal(b)})
	}
	tests := []struct {
		name     string
		opts     Options
		variable string
		want     cty.Value
		warnings int
	}{
		{"default", Options{}, "port", cty.NumberIntVal(80), 0},
		{"optional attribute default", Options{}, "obj", obj("x", 7), 0},
		{"var-file over default", Options{VarFiles: []string{"testdata/varfiles/prod.vars.hcl"}}, "port", cty.NumberIntVal(8081), 1},
		{"var-file list", Options{VarFiles: []string{"testdata/varfiles/prod.vars.hcl"}}, "list",
			cty.ListVal([]cty.Value{cty.StringVal("a"), cty.StringVal("b")}), 1},
		{"later var-file wins", Options{VarFiles: []string{"testdata/varfiles/prod.vars.hcl", "testdata/varfiles/override.vars.json"}}, "port", cty.NumberIntVal(8082), 1},
		{"env over var-file", Options{
			VarFiles: []string{"testdata/varfiles/override.vars.json"},
			Env:      []string{"PORTCHECK_VAR_port=8083"},
		}, "port", cty.NumberIntVal(8083), 0},
		{"-var over env", Options{
			VarFiles: []string{"testdata/varfiles/override.vars.json"},
			Env:      []string{"PORTCHECK_VAR_port=8083"},
			Vars:     []string{"port=8084"},
		}, "port", cty.NumberIntVal(8084), 0},
		{"later -var wins", Options{Vars: []string{"port=1", "port=2"}}, "port", cty.NumberIntVal(2), 0},
		{"string takes the raw text", Options{Vars: []string{"name=8080"}}, "name", cty.StringVal("8080"), 0},
		{"string keeps quotes", Options{Vars: []string{`name="q"`}}, "name", cty.StringVal(`"q"`), 0},
		{"value may contain =", Options{Vars: []string{"name=a=b"}}, "name", cty.StringVal("a=b"), 0},
		{"untyped takes the raw text", Options{Vars: []string{"untyped=[1]"}}, "untyped", cty.StringVal("[1]"), 0},
		{"any parses an expression", Options{Vars: []string{"any=[1, 2]"}}, "any",
			cty.TupleVal([]cty.Value{cty.NumberIntVal(1), cty.NumberIntVal(2)}), 0},
		{"list parses an expression", Options{Vars: []string{`list=["x"]`}}, "list", cty.ListVal([]cty.Value{cty.StringVal("x")}), 0},
		{"object gets optional defaults", Options{Vars: []string{`obj={a = "y"}`}}, "obj", obj("y", 7), 0},
		{"bool from env", Options{Env: []string{"PORTCHECK_VAR_flag=true"}}, "flag", cty.True, 0},
		{"env ignores other names", Options{Env: []string{"PATH=/bin", "PORTCHECK_VAR_=x"}}, "port", cty.NumberIntVal(80), 0},
		{"env warns about undeclared names", Options{Env: []string{"PORTCHECK_VAR_nope=1", "PORTCHECK_VAR_prot=81"}}, "port", cty.NumberIntVal(80), 2},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cfg, diags := LoadSources(map[string][]byte{"vars.pc.hcl": []byte(varsSource)}, tt.opts)
			if diags.HasErrors() || len(diags) != tt.warnings {
				t.Fatalf("want %d warnings, got:\n%s", tt.warnings, diagText(cfg, diags))
			}
			if got := varValue(cfg, tt.variable); !got.RawEquals(tt.want) {
				t.Errorf("var.%s = %#v, want %#v", tt.variable, got, tt.want)
			}
			if tt.variable == "port" {
				if p := cfg.Endpoints[0].Ports.First(); int64(p) != bigInt(tt.want) {
					t.Errorf("endpoint port %d, want %v", p, tt.want)
				}
			}
		})
	}
}

func bigInt(v cty.Value) int64 {
	i, _ := v.AsBigFloat().Int64()
	return i
}

func TestVariableErrors(t *testing.T) {
	type want struct {
		Summary string
		File    string // "" = no subject (a command-line option)
		Detail  string // a substring
	}
	tests := []struct {
		name string
		opts Options
		want []want
	}{
		{"text for a number", Options{Vars: []string{"port=abc"}},
			[]want{{"Invalid value for variable", "<value for var.port>", "is not suitable for var.port (type number, declared at vars.pc.hcl:2): a number is required"}}},
		{"wrong type", Options{Vars: []string{"port=[1]"}},
			[]want{{"Invalid value for variable", "<value for var.port>", "The value from -var is not suitable for var.port (type number, declared at vars.pc.hcl:2)"}}},
		{"env wrong type", Options{Env: []string{"PORTCHECK_VAR_flag=maybe"}},
			[]want{{"Invalid value for variable", "<value for var.flag>", "the environment variable PORTCHECK_VAR_flag"}}},
		{"undeclared", Options{Vars: []string{"nope=1"}},
			[]want{{"Value for undeclared variable", "", `-var sets "nope"`}}},
		{"no equals sign", Options{Vars: []string{"port"}},
			[]want{{"Invalid -var option", "", `-var "port"`}}},
		{"var-file wrong type", Options{VarFiles: []string{"testdata/varfiles/bad.vars.hcl"}},
			[]want{{"Invalid value for variable", "testdata/varfiles/bad.vars.hcl", "-var-file testdata/varfiles/bad.vars.hcl"}}},
		{"var-file syntax", Options{VarFiles: []string{"testdata/varfiles/broken.vars.hcl"}},
			[]want{{"Invalid expression", "testdata/varfiles/broken.vars.hcl", ""}}},
		{"var-file missing", Options{VarFiles: []string{"testdata/varfiles/missing.vars.hcl"}},
			[]want{{"Failed to read file", "", ""}}},
		{"every error is reported", Options{Vars: []string{"nope=1", "port=x", "flag=2"}},
			[]want{
				{"Value for undeclared variable", "", ""},
				{"Invalid value for variable", "<value for var.port>", ""},
				{"Invalid value for variable", "<value for var.flag>", ""},
			}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cfg, diags := LoadSources(map[string][]byte{"vars.pc.hcl": []byte(varsSource)}, tt.opts)
			var got []want
			for _, d := range diags {
				w := want{Summary: d.Summary}
				if d.Subject != nil {
					w.File = d.Subject.Filename
				}
				got = append(got, w)
			}
			var wantNoDetail []want
			for i, w := range tt.want {
				wantNoDetail = append(wantNoDetail, want{w.Summary, w.File, ""})
				if w.Detail != "" && i < len(diags) && !strings.Contains(diags[i].Detail, w.Detail) {
					t.Errorf("detail %q lacks %q", diags[i].Detail, w.Detail)
				}
			}
			if diff := cmp.Diff(wantNoDetail, got); diff != "" {
				t.Errorf("diagnostics (-want +got):\n%s\n%s", diff, diagText(cfg, diags))
			}
		})
	}
}

// TestUndeclaredEnvVariable: PORTCHECK_VAR_name for a variable that is
// not declared was silently ignored, so a typo passed unseen. It is a
// warning (one environment often serves several configurations), with a
// suggestion when a declared name is one typo away.
func TestUndeclaredEnvVariable(t *testing.T) {
	tests := []struct {
		env, detail string
	}{
		{"PORTCHECK_VAR_prot=81", `The environment variable PORTCHECK_VAR_prot sets "prot", but no variable "prot" is declared; the value is ignored. Did you mean "port" (PORTCHECK_VAR_port)?`},
		{"PORTCHECK_VAR_Flag=true", `Did you mean "flag" (PORTCHECK_VAR_flag)?`},
		{"PORTCHECK_VAR_unrelated=1", `no variable "unrelated" is declared; the value is ignored.`},
	}
	for _, tt := range tests {
		t.Run(tt.env, func(t *testing.T) {
			cfg, diags := LoadSources(map[string][]byte{"vars.pc.hcl": []byte(varsSource)}, Options{Env: []string{tt.env}})
			if len(diags) != 1 || diags[0].Severity != hcl.DiagWarning || diags[0].Summary != "Value for undeclared variable" {
				t.Fatalf("want one warning, got:\n%s", diagText(cfg, diags))
			}
			if !strings.Contains(diags[0].Detail, tt.detail) {
				t.Errorf("detail %q lacks %q", diags[0].Detail, tt.detail)
			}
			if tt.env == "PORTCHECK_VAR_unrelated=1" && strings.Contains(diags[0].Detail, "Did you mean") {
				t.Errorf("suggestion for an unrelated name: %s", diags[0].Detail)
			}
		})
	}
}

func TestRequiredVariable(t *testing.T) {
	src := []byte(`variable "port" {
  type = number
}
host "web" {
  address = "10.0.0.5"
}
endpoint "web" {
  host = host.web
  port = var.port
}
`)
	cfg, diags := LoadSources(map[string][]byte{"r.pc.hcl": src}, Options{})
	if len(diags) != 1 || diags[0].Summary != "No value for required variable" || diags[0].Subject.Start.Line != 1 {
		t.Fatalf("want one error at the variable block:\n%s", diagText(cfg, diags))
	}
	cfg, diags = LoadSources(map[string][]byte{"r.pc.hcl": src}, Options{Env: []string{"PORTCHECK_VAR_port=9000"}})
	if len(diags) != 0 || cfg.Endpoints[0].Ports.First() != 9000 {
		t.Fatalf("env value not used:\n%s", diagText(cfg, diags))
	}
}

func TestLocals(t *testing.T) {
	// Locals refer to each other across blocks and files, in any order.
	files := map[string][]byte{
		"a.pc.hcl": []byte(`
locals {
  port = local.base + local.offset
}
host "web" {
  address = local.ip
}
endpoint "web" {
  host = host.web
  port = local.port
  expect {
    http { host_header = local.names[1] }
  }
}
`),
		"b.pc.hcl": []byte(`
variable "subnet" {
  default = "10.1.0.0/16"
}
locals {
  offset = length(local.names)
  names  = [for n in ["a", "b"] : upper(n)]
}
locals {
  base = 8000
  ip   = cidrhost(cidrsubnet(var.subnet, 8, 2), 9)
}
`),
	}
	cfg, diags := LoadSources(files, Options{})
	if len(diags) > 0 {
		t.Fatal(diagText(cfg, diags))
	}
	e := cfg.Endpoints[0]
	got := []any{e.Ports.First(), e.Host.Addresses[0].String(), e.Expect.HTTP.HostHeader}
	want := []any{8002, "10.1.2.9", "B"}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("(-want +got):\n%s", diff)
	}
}

func TestLocalCycles(t *testing.T) {
	src := []byte(`locals {
  a = local.b
  b = local.c
  c = local.a
  d = local.a
  e = "fine"
}
host "web" {
  address = local.d
}
`)
	cfg, diags := LoadSources(map[string][]byte{"c.pc.hcl": src}, Options{})
	var got []string
	for _, d := range diags {
		got = append(got, d.Summary+": "+d.Detail)
	}
	want := []string{
		"Cycle in local values: local.a depends on itself: local.a -> local.b -> local.c -> local.a.",
		"Cycle in local values: local.b depends on itself: local.b -> local.c -> local.a -> local.b.",
		"Cycle in local values: local.c depends on itself: local.c -> local.a -> local.b -> local.c.",
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("(-want +got):\n%s", diff)
	}
	if len(cfg.Hosts) != 1 {
		t.Errorf("host on a cyclic local: want it kept, got %d hosts", len(cfg.Hosts))
	}
}

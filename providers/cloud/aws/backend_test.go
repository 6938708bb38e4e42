package aws

import (
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/hashicorp/hcl/v2"
	"github.com/hashicorp/hcl/v2/hclsyntax"
	"github.com/hashicorp/hcl/v2/json"
	"github.com/zclconf/go-cty/cty"

	"github.com/portcheck/portcheck/providers/cloud"
)

func block(t *testing.T, src string) cloud.Block {
	t.Helper()
	var f *hcl.File
	var diags hcl.Diagnostics
	if src != "" && src[0] == '{' {
		f, diags = json.Parse([]byte(src), "p.pc.json")
	} else {
		f, diags = hclsyntax.ParseConfig([]byte(src), "p.pc.hcl", hcl.InitialPos)
	}
	if diags.HasErrors() {
		t.Fatal(diags.Error())
	}
	return cloud.Block{Type: cloud.AWS, Body: f.Body, EvalContext: &hcl.EvalContext{Variables: map[string]cty.Value{
		"var": cty.ObjectVal(map[string]cty.Value{"role": cty.StringVal("arn:aws:iam::123456789012:role/ro"), "empty": cty.StringVal("")}),
	}}}
}

// The registered aws backend decodes what Read needs from its block.
func TestBackendConfigure(t *testing.T) {
	b, ok := cloud.Lookup(cloud.AWS)
	if !ok {
		t.Fatal("aws is not registered")
	}
	for _, tc := range []struct {
		name, src string
		want      Config
		region    string
	}{
		{name: "empty: the SDK's chain decides", src: "", want: Config{}},
		{name: "every argument", src: `
region          = "eu-west-1"
profile         = "audit"
assume_role_arn = var.role
endpoint        = "http://127.0.0.1:4566"
`, want: Config{Region: "eu-west-1", Profile: "audit", AssumeRoleARN: "arn:aws:iam::123456789012:role/ro", Endpoint: "http://127.0.0.1:4566"}, region: "eu-west-1"},
		{name: "json", src: `{"region": "us-east-2", "assume_role_arn": "${var.role}"}`,
			want: Config{Region: "us-east-2", AssumeRoleARN: "arn:aws:iam::123456789012:role/ro"}, region: "us-east-2"},
		{name: "an empty vpc_endpoint is harmless", src: "vpc_endpoint = var.empty\n", want: Config{}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r, diags := b.Configure(block(t, tc.src))
			if len(diags) > 0 {
				t.Fatal(diags.Error())
			}
			if diff := cmp.Diff(tc.want, r.(configured).cfg); diff != "" {
				t.Errorf("config (-want +got):\n%s", diff)
			}
			if r.Region() != tc.region {
				t.Errorf("Region() = %q, want %q", r.Region(), tc.region)
			}
		})
	}
}

// What AWS cannot express in a declared rule.
func TestBackendCheckRule(t *testing.T) {
	b, _ := cloud.Lookup(cloud.AWS)
	for _, tc := range []struct {
		name  string
		rule  cloud.DeclaredRule
		attrs []string
	}{
		{"accept", cloud.DeclaredRule{Policy: cloud.Accept}, nil},
		{"no policy (accept)", cloud.DeclaredRule{}, nil},
		{"drop", cloud.DeclaredRule{Policy: cloud.Drop}, []string{"policy"}},
		{"priority", cloud.DeclaredRule{Priority: 1}, []string{"priority"}},
		{"both", cloud.DeclaredRule{Policy: cloud.Drop, Priority: 100}, []string{"policy", "priority"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var attrs []string
			for _, p := range b.CheckRule(tc.rule) {
				attrs = append(attrs, p.Attr)
				if p.Summary == "" || p.Detail == "" {
					t.Errorf("problem %+v lacks words", p)
				}
			}
			if diff := cmp.Diff(tc.attrs, attrs); diff != "" {
				t.Errorf("problems (-want +got):\n%s", diff)
			}
		})
	}
}

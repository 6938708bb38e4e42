package aliyun

import (
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/hashicorp/hcl/v2"
	"github.com/hashicorp/hcl/v2/hclsyntax"
	"github.com/zclconf/go-cty/cty"

	"github.com/portcheck/portcheck/providers/cloud"
)

// The registered aliyun backend decodes what Read needs from its block,
// and takes every rule config accepts (drop, priorities).
func TestBackendConfigure(t *testing.T) {
	b, ok := cloud.Lookup(cloud.Aliyun)
	if !ok {
		t.Fatal("aliyun is not registered")
	}
	for _, tc := range []struct {
		name, src string
		want      Config
	}{
		{name: "region only", src: `region = "cn-hangzhou"`, want: Config{Region: "cn-hangzhou"}},
		{name: "endpoints from locals", src: "region = \"cn-shanghai\"\nendpoint = local.ecs\nvpc_endpoint = local.vpc\n",
			want: Config{Region: "cn-shanghai", Endpoint: "http://127.0.0.1:1", VPCEndpoint: "http://127.0.0.1:2"}},
		{name: "an empty profile is harmless", src: "region = \"cn-beijing\"\nprofile = \"\"\n", want: Config{Region: "cn-beijing"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			f, diags := hclsyntax.ParseConfig([]byte(tc.src), "p.pc.hcl", hcl.InitialPos)
			if diags.HasErrors() {
				t.Fatal(diags.Error())
			}
			r, diags := b.Configure(cloud.Block{Type: cloud.Aliyun, Body: f.Body, EvalContext: &hcl.EvalContext{Variables: map[string]cty.Value{
				"local": cty.ObjectVal(map[string]cty.Value{"ecs": cty.StringVal("http://127.0.0.1:1"), "vpc": cty.StringVal("http://127.0.0.1:2")}),
			}}})
			if len(diags) > 0 {
				t.Fatal(diags.Error())
			}
			if diff := cmp.Diff(tc.want, r.(configured).cfg); diff != "" {
				t.Errorf("config (-want +got):\n%s", diff)
			}
			if r.Region() != tc.want.Region {
				t.Errorf("Region() = %q, want %q", r.Region(), tc.want.Region)
			}
		})
	}
	for _, r := range []cloud.DeclaredRule{{Policy: cloud.Drop, Priority: 1}, {Policy: cloud.Accept, Priority: 100}, {}} {
		if p := b.CheckRule(r); p != nil {
			t.Errorf("CheckRule(%+v) = %+v, want nothing", r, p)
		}
	}
}

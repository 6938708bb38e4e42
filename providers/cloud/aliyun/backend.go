package aliyun

import (
	"context"
	"slices"

	"github.com/hashicorp/hcl/v2"

	"github.com/portcheck/portcheck/providers/cloud"
)

// The aliyun backend: `provider "aliyun" {}` blocks, read through the ECS
// and VPC APIs, judged with Alibaba Cloud's semantics
// (cloud.EvaluateAliyun), fixed with the aliyun CLI.
func init() { cloud.Register(cloud.Aliyun, backend{}) }

type backend struct{}

// Configure decodes a provider "aliyun" block: region (required: Alibaba
// Cloud has no default region), endpoint and vpc_endpoint.
func (backend) Configure(b cloud.Block) (cloud.Reader, hcl.Diagnostics) {
	args, diags := b.Strings("region", "endpoint", "vpc_endpoint", "profile", "assume_role_arn")
	if !diags.HasErrors() && args["region"].Value == "" {
		diags = diags.Append(cloud.Errorf(b.DeclRange, "Missing region", "An aliyun provider needs region = \"cn-hangzhou\" or the like: Alibaba Cloud has no default region."))
	}
	// profile and assume_role_arn are taken only to say why they do not
	// apply here.
	for _, name := range []string{"profile", "assume_role_arn"} {
		if a := args[name]; a.Value != "" {
			diags = diags.Append(cloud.Errorf(a.Range, "Unsupported argument", "profile and assume_role_arn are aws arguments; the aliyun provider takes credentials from the environment, the CLI profile file or a RAM role."))
		}
	}
	return configured{Config{
		Region:      args["region"].Value,
		Endpoint:    args["endpoint"].Value,
		VPCEndpoint: args["vpc_endpoint"].Value,
	}}, diags
}

// CheckRule: Alibaba Cloud rules take both policies and priorities 1-100,
// everything config already checks.
func (backend) CheckRule(cloud.DeclaredRule) []cloud.RuleProblem { return nil }

func (backend) Resolve(s *cloud.Snapshot, target string) ([]cloud.Interface, error) {
	return Resolve(s, target)
}

func (backend) Evaluate(s *cloud.Snapshot, iface *cloud.Interface, f cloud.Flow) cloud.Verdict {
	return cloud.EvaluateAliyun(s, iface, f)
}

func (backend) Fix(s *cloud.Snapshot, iface *cloud.Interface, denials []cloud.Denial) []string {
	return Fix(s, iface, denials)
}

func (backend) RequiredActions() []string    { return slices.Clone(RequiredActions) }
func (backend) LeastPrivilegePolicy() string { return LeastPrivilegePolicy() }

// configured is a decoded provider "aliyun" block.
type configured struct{ cfg Config }

func (r configured) Region() string { return r.cfg.Region }

func (r configured) Read(ctx context.Context, scope cloud.Scope) (*cloud.Snapshot, error) {
	return Read(ctx, r.cfg, Scope{Targets: scope.Targets, All: scope.All, Groups: scope.Groups})
}

package aws

import (
	"context"
	"slices"

	"github.com/hashicorp/hcl/v2"

	"github.com/portcheck/portcheck/providers/cloud"
)

// The aws backend: `provider "aws" {}` blocks, read through the EC2 API,
// judged with AWS's semantics (cloud.EvaluateAWS), fixed with the aws CLI.
func init() { cloud.Register(cloud.AWS, backend{}) }

type backend struct{}

// Configure decodes a provider "aws" block: region, profile,
// assume_role_arn and endpoint, all optional (the SDK's chain supplies
// what is left out).
func (backend) Configure(b cloud.Block) (cloud.Reader, hcl.Diagnostics) {
	args, diags := b.Strings("region", "profile", "assume_role_arn", "endpoint", "vpc_endpoint")
	// vpc_endpoint is taken only to say why it does not apply here (an
	// empty one, from a variable shared with an aliyun block, is harmless).
	if a := args["vpc_endpoint"]; a.Value != "" {
		diags = diags.Append(cloud.Errorf(a.Range, "Unsupported argument", "vpc_endpoint is an aliyun argument; AWS network ACLs come from the EC2 endpoint."))
	}
	return configured{Config{
		Region:        args["region"].Value,
		Profile:       args["profile"].Value,
		AssumeRoleARN: args["assume_role_arn"].Value,
		Endpoint:      args["endpoint"].Value,
	}}, diags
}

// CheckRule: AWS security groups only allow, and their rules have no
// priority.
func (backend) CheckRule(r cloud.DeclaredRule) []cloud.RuleProblem {
	var out []cloud.RuleProblem
	if r.Policy == cloud.Drop {
		out = append(out, cloud.RuleProblem{Attr: "policy", Summary: "Invalid policy",
			Detail: "AWS security groups only allow; a drop rule needs a network ACL."})
	}
	if r.Priority != 0 {
		out = append(out, cloud.RuleProblem{Attr: "priority", Summary: "Unsupported argument",
			Detail: "AWS security group rules have no priority; priority is an aliyun argument."})
	}
	return out
}

func (backend) Resolve(s *cloud.Snapshot, target string) ([]cloud.Interface, error) {
	return Resolve(s, target)
}

func (backend) Evaluate(s *cloud.Snapshot, iface *cloud.Interface, f cloud.Flow) cloud.Verdict {
	return cloud.EvaluateAWS(s, iface, f)
}

func (backend) Fix(s *cloud.Snapshot, iface *cloud.Interface, denials []cloud.Denial) []string {
	return Fix(s, iface, denials)
}

func (backend) RequiredActions() []string    { return slices.Clone(RequiredActions) }
func (backend) LeastPrivilegePolicy() string { return LeastPrivilegePolicy() }

// configured is a decoded provider "aws" block.
type configured struct{ cfg Config }

func (r configured) Region() string { return r.cfg.Region }

func (r configured) Read(ctx context.Context, scope cloud.Scope) (*cloud.Snapshot, error) {
	return Read(ctx, r.cfg, Scope{Targets: scope.Targets, All: scope.All, Groups: scope.Groups})
}

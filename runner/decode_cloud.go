package runner

import (
	"fmt"
	"strings"

	"github.com/hashicorp/hcl/v2"

	"github.com/portcheck/portcheck/config"
	"github.com/portcheck/portcheck/providers/cloud"
)

// DecodeProviders decodes every cloud provider block of cfg through the
// backend registered for its type, and checks every declared security
// group rule against its cloud. Commands call it right after loading,
// before they do anything else, so that an unknown type, an argument the
// backend does not take or a rule its cloud cannot express is a
// configuration error (exit 2) pointing into the block; it is never a
// fallback to another cloud's semantics.
//
// The decoded blocks are not kept: a check decodes its provider again
// when it reads (configureCloud), the way Terraform evaluates a provider's
// body when it configures it. Decoding is pure and cheap, and config stays
// the one place a block lives.
func DecodeProviders(cfg *config.Config) hcl.Diagnostics {
	if cfg == nil {
		return nil
	}
	var diags hcl.Diagnostics
	for _, p := range cfg.Providers {
		_, _, d := configureCloud(p)
		diags = append(diags, d...)
	}
	for _, g := range cfg.SecurityGroups {
		if g.Provider == nil {
			continue // config reported the reference
		}
		b, ok := cloud.Lookup(g.Provider.Type)
		if !ok {
			continue // reported once, at the provider block
		}
		for _, r := range g.Rules {
			for _, pr := range b.CheckRule(declaredRule(r)) {
				rng, ok := r.AttrRanges[pr.Attr]
				if !ok {
					rng = r.DeclRange
				}
				diags = diags.Append(&hcl.Diagnostic{Severity: hcl.DiagError, Summary: pr.Summary, Detail: pr.Detail, Subject: rng.Ptr()})
			}
		}
	}
	return diags
}

// cloudBackend is the backend of a provider block's type.
func cloudBackend(p *config.CloudProvider) (cloud.Backend, hcl.Diagnostics) {
	if p == nil {
		return nil, hcl.Diagnostics{{Severity: hcl.DiagError, Summary: "Missing provider", Detail: "The cloud block names no provider block."}}
	}
	b, ok := cloud.Lookup(p.Type)
	if !ok {
		return nil, hcl.Diagnostics{{Severity: hcl.DiagError, Summary: "Unknown cloud provider",
			Detail: unknownCloud(p.Type), Subject: p.TypeRange.Ptr(), Context: p.DeclRange.Ptr()}}
	}
	return b, nil
}

// unknownCloud says which provider types this build has.
func unknownCloud(typ string) string {
	types := cloud.Types()
	if len(types) == 0 {
		return fmt.Sprintf("Provider %q is not supported: no cloud backend is built into this program.", typ)
	}
	quoted := make([]string, len(types))
	for i, t := range types {
		quoted[i] = fmt.Sprintf("%q", t)
	}
	list := quoted[0]
	if n := len(quoted); n > 1 {
		list = strings.Join(quoted[:n-1], ", ") + " or " + quoted[n-1]
	}
	return fmt.Sprintf("Provider %q is not supported; use %s.", typ, list)
}

// configureCloud decodes a provider block through its backend.
func configureCloud(p *config.CloudProvider) (cloud.Backend, cloud.Reader, hcl.Diagnostics) {
	b, diags := cloudBackend(p)
	if b == nil {
		return nil, nil, diags
	}
	r, diags := b.Configure(cloud.Block{Type: p.Type, Body: p.Body, EvalContext: p.EvalContext, DeclRange: p.DeclRange})
	return b, r, diags
}

// cloudReader is configureCloud for a read: its diagnostics (only when
// the caller skipped DecodeProviders) become the read's error.
func cloudReader(p *config.CloudProvider) (cloud.Reader, error) {
	_, r, diags := configureCloud(p)
	if diags.HasErrors() {
		return nil, diags
	}
	return r, nil
}

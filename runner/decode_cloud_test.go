package runner

import (
	"testing"

	"github.com/portcheck/portcheck/config"
	_ "github.com/portcheck/portcheck/providers/all"
)

// The built-in backends decode the provider blocks of the valid fixtures,
// in both syntaxes, with the region they declare.
func TestDecodeProvidersValid(t *testing.T) {
	for _, path := range []string{"../config/testdata/valid/full.pc.hcl", "../config/testdata/valid/full.pc.json", "../examples/cloud/cloud.pc.hcl"} {
		t.Run(path, func(t *testing.T) {
			cfg, diags := config.Load(path, config.Options{})
			diags = append(diags, DecodeProviders(cfg)...)
			if len(diags) > 0 {
				t.Fatal(diags.Error())
			}
			if len(cfg.Providers) == 0 {
				t.Fatal("no provider block")
			}
			for _, p := range cfg.Providers {
				_, r, diags := configureCloud(p)
				if len(diags) > 0 {
					t.Fatal(diags.Error())
				}
				if r.Region() != "eu-west-1" {
					t.Errorf("provider %q: region %q, want eu-west-1", p.Type, r.Region())
				}
			}
		})
	}
	if d := DecodeProviders(nil); d != nil {
		t.Errorf("DecodeProviders(nil) = %v", d)
	}
}

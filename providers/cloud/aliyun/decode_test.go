package aliyun_test

import (
	"testing"

	"github.com/hashicorp/hcl/v2"

	"github.com/portcheck/portcheck/config"
	"github.com/portcheck/portcheck/internal/diagfixture"
	"github.com/portcheck/portcheck/runner"
)

// The aliyun backend decodes its own provider block and checks the rules of
// its groups: config accepts each fixture, the backend's diagnostics land
// on the lines their `# ERROR:` comments name.
func TestDecodeErrorFixtures(t *testing.T) {
	diagfixture.Run(t, "testdata/errors/*.pc.hcl", func(t *testing.T, path string) hcl.Diagnostics {
		cfg, diags := config.Load(path, config.Options{})
		if diags.HasErrors() {
			t.Fatalf("config refused the fixture (its errors must be the backend's): %s", diags.Error())
		}
		return runner.DecodeProviders(cfg)
	})
}

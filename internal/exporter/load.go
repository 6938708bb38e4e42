package exporter

import (
	"bytes"
	"errors"
	"strings"

	"github.com/hashicorp/hcl/v2"

	"github.com/portcheck/portcheck/config"
	"github.com/portcheck/portcheck/runner"
)

// HCLLoader loads the configuration at path as verify does (variables,
// cloud provider blocks decoded by their backends) and plans every
// endpoint against this machine as it is at each load. Errors carry the
// diagnostics as Terraform-style text with source lines, for the log.
func HCLLoader(path string, opts config.Options) Loader {
	return func() (*runner.Plan, error) {
		cfg, diags := config.Load(path, opts)
		diags = append(diags, runner.DecodeProviders(cfg)...)
		if diags.HasErrors() {
			var files map[string]*hcl.File
			if cfg != nil {
				files = cfg.Files
			}
			var b bytes.Buffer
			config.WriteDiagnostics(&b, files, diags, false, 0)
			return nil, errors.New(strings.TrimSpace(b.String()))
		}
		return runner.BuildPlan(cfg, runner.PlanOptions{Env: runner.CurrentEnvironment()})
	}
}

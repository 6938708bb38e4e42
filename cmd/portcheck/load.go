package main

import (
	"flag"
	"fmt"
	"io"
	"os"

	"github.com/hashicorp/hcl/v2"

	"github.com/portcheck/portcheck/config"
	"github.com/portcheck/portcheck/runner"
)

// configFlags are the flags every command that reads HCL takes.
type configFlags struct {
	vars, varFiles listFlag
	noColor        bool
}

func (c *configFlags) register(fs *flag.FlagSet) {
	fs.Var(&c.vars, "var", "set a variable: -var name=value (repeatable; wins over -var-file and PORTCHECK_VAR_name)")
	fs.Var(&c.varFiles, "var-file", "read variables from an HCL file of name = value lines (repeatable)")
	fs.BoolVar(&c.noColor, "no-color", false, "no colour in output (also NO_COLOR=1)")
}

// read loads the configuration with the variables from the flags and
// the environment, and decodes its cloud provider blocks through their
// backends: every command that reads HCL sees their errors before it
// does anything else.
func (c *configFlags) read(path string) (*config.Config, hcl.Diagnostics) {
	cfg, diags := config.Load(path, config.Options{Vars: c.vars, VarFiles: c.varFiles, Env: os.Environ()})
	return cfg, append(diags, runner.DecodeProviders(cfg)...)
}

// printDiagnostics prints diagnostics Terraform-style, with source lines
// when the files were parsed.
func (c *configFlags) printDiagnostics(stderr io.Writer, cfg *config.Config, diags hcl.Diagnostics) {
	if len(diags) == 0 {
		return
	}
	var files map[string]*hcl.File
	if cfg != nil {
		files = cfg.Files
	}
	config.WriteDiagnostics(stderr, files, diags, style(stderr, c.noColor).Color, 0)
}

// load reads the configuration; on errors it prints the diagnostics
// Terraform-style to stderr and returns nil. Warnings are printed too.
func (c *configFlags) load(path string, stderr io.Writer) *config.Config {
	cfg, diags := c.read(path)
	c.printDiagnostics(stderr, cfg, diags)
	if diags.HasErrors() {
		return nil
	}
	return cfg
}

// parsePath parses a command's flags and its single PATH argument; when
// !ok the command exits with code.
func parsePath(fs *flag.FlagSet, args []string, stderr io.Writer) (path string, code int, ok bool) {
	positional, err := parseArgs(fs, args)
	if err != nil {
		return "", flagErr(err), false
	}
	switch len(positional) {
	case 1:
		return positional[0], exitOK, true
	case 0:
		fmt.Fprintf(stderr, "portcheck %s: missing PATH (a directory of *.pc.hcl files, or one file)\n", fs.Name())
	default:
		fmt.Fprintf(stderr, "portcheck %s: one PATH expected, got %d: %v\n", fs.Name(), len(positional), positional)
	}
	fs.Usage()
	return "", exitUsage, false
}

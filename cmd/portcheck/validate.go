package main

import (
	"fmt"
	"io"

	"github.com/portcheck/portcheck/config"
)

func cmdValidate(args []string, stdout, stderr io.Writer) int {
	fs := newFlagSet("validate", "[flags] PATH", stderr)
	var cf configFlags
	cf.register(fs)
	asJSON := fs.Bool("json", false, "print diagnostics as JSON [{severity, summary, detail, range}] on stdout")
	path, code, ok := parsePath(fs, args, stderr)
	if !ok {
		return code
	}
	cfg, diags := cf.read(path)
	if *asJSON {
		b, err := config.DiagnosticsJSON(diags)
		if err != nil {
			fmt.Fprintln(stderr, "portcheck validate:", err)
			return exitUsage
		}
		fmt.Fprintln(stdout, string(b))
	} else {
		cf.printDiagnostics(stderr, cfg, diags)
	}
	if diags.HasErrors() {
		if !*asJSON {
			fmt.Fprintf(stderr, "%d error(s) in %s.\n", len(diags.Errs()), path)
		}
		return exitUsage
	}
	if !*asJSON {
		cloud := ""
		if n := len(cfg.Providers); n > 0 {
			cloud = fmt.Sprintf(", %d cloud providers, %d security groups", n, len(cfg.SecurityGroups))
		}
		fmt.Fprintf(stdout, "Success! %s is valid: %d hosts, %d endpoints%s.\n", path, len(cfg.Hosts), len(cfg.Endpoints), cloud)
	}
	return exitOK
}

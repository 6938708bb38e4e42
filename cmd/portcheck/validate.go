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
			// The path is quoted: "in .." read as a typo for ".".
			warnings := len(diags) - len(diags.Errs())
			counts := count(len(diags.Errs()), "error")
			if warnings > 0 {
				counts += " and " + count(warnings, "warning")
			}
			fmt.Fprintf(stderr, "Configuration %q has %s.\n", path, counts)
		}
		return exitUsage
	}
	if !*asJSON {
		cloud := ""
		if n := len(cfg.Providers); n > 0 {
			cloud = fmt.Sprintf(", %s, %s", count(n, "cloud provider"), count(len(cfg.SecurityGroups), "security group"))
		}
		if n := len(cfg.Changes); n > 0 {
			cloud += ", " + count(n, "change")
		}
		fmt.Fprintf(stdout, "Success! Configuration %q is valid: %s, %s%s.\n", path,
			count(len(cfg.Hosts), "host"), count(len(cfg.Endpoints), "endpoint"), cloud)
	}
	return exitOK
}

// count is "1 host", "3 hosts" or "1,000,030 errors".
func count(n int, noun string) string {
	if n == 1 {
		return "1 " + noun
	}
	s := fmt.Sprint(n)
	for i := len(s) - 3; i > 0; i -= 3 {
		s = s[:i] + "," + s[i:]
	}
	return s + " " + noun + "s"
}

package main

import (
	"fmt"
	"io"

	"github.com/portcheck/portcheck/config"
)

func cmdFmt(args []string, stdout, stderr io.Writer) int {
	fs := newFlagSet("fmt", "[flags] PATH", stderr)
	check := fs.Bool("check", false, "only check: list files that are not canonical and exit 1 if any")
	noColor := fs.Bool("no-color", false, "no colour in diagnostics")
	path, code, ok := parsePath(fs, args, stderr)
	if !ok {
		return code
	}
	changed, files, diags := config.FormatPath(path, !*check)
	if len(diags) > 0 {
		// The parser's files, so errors show their source lines.
		config.WriteDiagnostics(stderr, files, diags, style(stderr, *noColor).Color, 0)
	}
	if diags.HasErrors() {
		return exitUsage
	}
	for _, f := range changed {
		fmt.Fprintln(stdout, f)
	}
	if *check && len(changed) > 0 {
		return exitFailed
	}
	return exitOK
}

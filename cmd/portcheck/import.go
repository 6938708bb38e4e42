package main

import (
	"fmt"
	"io"
	"os"
	"slices"
	"strings"

	"github.com/portcheck/portcheck/internal/inventory"
)

// maxImportFile bounds one input file: nmap XML of a large scan is big,
// but not this big.
const maxImportFile = 256 << 20

func cmdImport(args []string, stdout, stderr io.Writer) int {
	fs := newFlagSet("import", "[flags] FILE...", stderr)
	format := fs.String("format", "auto", "input format: batch (ip:port:service), list (host:port), nmap (nmap -oX), auto (nmap for XML, else batch or list by line)")
	out := fs.String("o", "", "write the HCL to this file (default: standard output)")
	statesFlag := fs.String("states", "open", "nmap port states to import, comma-separated: open, closed, filtered, closed|filtered (closed and filtered become state = \"closed\")")
	files, err := parseArgs(fs, args)
	if err != nil {
		return flagErr(err)
	}
	f := inventory.Format(*format)
	if !slices.Contains(inventory.Formats, f) {
		fmt.Fprintf(stderr, "portcheck import: -format %q: want batch, list, nmap or auto\n", *format)
		return exitUsage
	}
	var states []string
	for _, s := range strings.Split(*statesFlag, ",") {
		s = strings.TrimSpace(s)
		if !slices.Contains(inventory.NmapStates, s) {
			fmt.Fprintf(stderr, "portcheck import: -states: %q is not one of %s\n", s, strings.Join(inventory.NmapStates, ", "))
			return exitUsage
		}
		states = append(states, s)
	}
	if len(files) == 0 {
		fmt.Fprintln(stderr, "portcheck import: missing FILE (a batch file, a host:port list or an nmap XML scan)")
		fs.Usage()
		return exitUsage
	}

	var entries []inventory.Entry
	var errs inventory.Errors
	var notices []inventory.Notice
	for _, name := range files {
		data, err := readImportFile(name)
		if err != nil {
			errs = append(errs, &inventory.LineError{File: name, Msg: err.Error()})
			continue
		}
		e, n, es := inventory.Read(name, data, f, states)
		entries, notices, errs = append(entries, e...), append(notices, n...), append(errs, es...)
	}
	for _, n := range notices {
		fmt.Fprintf(stderr, "note: %s\n", n)
	}
	if len(errs) == 0 && len(entries) == 0 {
		fmt.Fprintln(stderr, "portcheck import: nothing to import: no entry in the input")
		return exitUsage
	}
	var hcl []byte
	if len(errs) == 0 {
		hcl, errs = inventory.HCL(entries, "Imported by `portcheck import` from "+strings.Join(files, ", ")+".\nReview it, then `portcheck verify` checks every port as declared here.")
	}
	if len(errs) > 0 {
		for _, e := range errs {
			fmt.Fprintln(stderr, importErr(e))
		}
		fmt.Fprintf(stderr, "portcheck import: %d lines could not be read; nothing written.\n", len(errs))
		return exitUsage
	}
	if *out == "" {
		stdout.Write(hcl)
		return exitOK
	}
	if err := writeFileAtomic(*out, hcl); err != nil {
		fmt.Fprintf(stderr, "portcheck import: %v\n", err)
		return exitFailed
	}
	fmt.Fprintf(stderr, "Wrote %s: %d entries read.\n", *out, len(entries))
	return exitOK
}

func importErr(e *inventory.LineError) string {
	if e.Line == 0 {
		return e.File + ": " + e.Msg
	}
	return e.Error()
}

func readImportFile(name string) ([]byte, error) {
	fi, err := os.Stat(name)
	if err != nil {
		return nil, err
	}
	if fi.IsDir() {
		return nil, fmt.Errorf("a directory, not a file")
	}
	if fi.Size() > maxImportFile {
		return nil, fmt.Errorf("%d bytes: more than the %d MiB an import reads", fi.Size(), maxImportFile>>20)
	}
	return os.ReadFile(name)
}

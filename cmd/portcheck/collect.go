package main

import (
	"io"

	"github.com/portcheck/portcheck/internal/collectcli"
)

// cmdCollect runs the server-side observers and writes the facts document
// (the same command line as portcheck-collector's).
func cmdCollect(args []string, stdout, stderr io.Writer) int {
	return collectcli.Collect("portcheck", version, args, stdout, stderr)
}

// writeFileAtomic writes through a temporary file and a rename, so a
// reader never sees half a document.
func writeFileAtomic(path string, b []byte) error { return collectcli.WriteFileAtomic(path, b) }

package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// The README's configuration example must stay valid and canonical.
func TestReadmeExampleIsValid(t *testing.T) {
	b, err := os.ReadFile("../../README.md")
	if err != nil {
		t.Fatal(err)
	}
	_, rest, ok := strings.Cut(string(b), "```hcl\n")
	if !ok {
		t.Fatal("README has no ```hcl block")
	}
	src, _, _ := strings.Cut(rest, "```")
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "readme.pc.hcl"), []byte(src), 0o644); err != nil {
		t.Fatal(err)
	}
	if code, _, errOut := runCmd(t, "validate", dir); code != 0 {
		t.Fatalf("README example does not validate:\n%s", errOut)
	}
	if code, out, _ := runCmd(t, "fmt", "-check", dir); code != 0 {
		t.Fatalf("README example is not canonical (portcheck fmt): %s", out)
	}
}

package config

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"github.com/hashicorp/hcl/v2"
	"github.com/hashicorp/hcl/v2/hclsyntax"
	"github.com/hashicorp/hcl/v2/hclwrite"
)

// Format returns the canonical formatting (hclwrite.Format) of one
// native-syntax file. It parses first: hclwrite formats token by token and
// would happily "format" a broken file.
func Format(filename string, src []byte) ([]byte, hcl.Diagnostics) {
	if _, diags := hclsyntax.ParseConfig(src, filename, hcl.InitialPos); diags.HasErrors() {
		return nil, diags
	}
	return hclwrite.Format(src), nil
}

// FormatPath formats path, a file or a directory's *.pc.hcl files (not
// recursive, like Load). With write it rewrites the files that change. It
// returns the names of the files that changed, or would change.
func FormatPath(path string, write bool) ([]string, hcl.Diagnostics) {
	info, err := os.Stat(path)
	if err != nil {
		return nil, hcl.Diagnostics{{Severity: hcl.DiagError, Summary: "Failed to read configuration", Detail: fmt.Sprintf("Cannot read %q: %s.", path, err)}}
	}
	names := []string{path}
	if info.IsDir() {
		entries, err := os.ReadDir(path)
		if err != nil {
			return nil, hcl.Diagnostics{{Severity: hcl.DiagError, Summary: "Failed to read configuration directory", Detail: fmt.Sprintf("Cannot list %q: %s.", path, err)}}
		}
		names = names[:0]
		for _, e := range entries {
			if !e.IsDir() && strings.HasSuffix(e.Name(), nativeSuffix) && !strings.HasPrefix(e.Name(), ".") {
				names = append(names, filepath.Join(path, e.Name()))
			}
		}
	}

	var changed []string
	var diags hcl.Diagnostics
	for _, name := range names {
		src, err := os.ReadFile(name)
		if err != nil {
			diags = diags.Append(&hcl.Diagnostic{Severity: hcl.DiagError, Summary: "Failed to read file", Detail: fmt.Sprintf("Cannot read %q: %s.", name, err)})
			continue
		}
		out, d := Format(name, src)
		diags = append(diags, d...)
		if d.HasErrors() || string(out) == string(src) {
			continue
		}
		changed = append(changed, name)
		if write {
			fi, err := os.Stat(name)
			if err == nil {
				err = os.WriteFile(name, out, fi.Mode().Perm())
			}
			if err != nil {
				diags = diags.Append(&hcl.Diagnostic{Severity: hcl.DiagError, Summary: "Failed to write file", Detail: fmt.Sprintf("Cannot write %q: %s.", name, err)})
			}
		}
	}
	return changed, diags
}

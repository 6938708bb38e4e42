package config

import (
	"fmt"
	"os"

	"github.com/hashicorp/hcl/v2"
	"github.com/hashicorp/hcl/v2/hclsyntax"
	"github.com/hashicorp/hcl/v2/hclwrite"
)

// Format returns the canonical formatting (hclwrite.Format) of one
// native-syntax file. It parses first: hclwrite formats token by token and
// would happily "format" a broken file.
func Format(filename string, src []byte) ([]byte, hcl.Diagnostics) {
	out, _, diags := formatFile(filename, src)
	return out, diags
}

// formatFile is Format that also returns the file as parsed (or, for a
// file refused before parsing, its bytes), so diagnostics can show source
// lines.
func formatFile(filename string, src []byte) ([]byte, *hcl.File, hcl.Diagnostics) {
	// hclwrite lexes the whole file too, and the parser recurses: the same
	// checks as Load, before either sees it.
	if diags := checkSource(filename, src); diags != nil {
		return nil, printableSource(src), diags
	}
	f, diags := hclsyntax.ParseConfig(src, filename, hcl.InitialPos)
	if diags.HasErrors() {
		return nil, f, diags
	}
	return hclwrite.Format(src), f, nil
}

// FormatPath formats path, a file or a directory's *.pc.hcl files (not
// recursive, like Load). With write it rewrites the files that change. It
// returns the names of the files that changed, or would change, and the
// files it read (for WriteDiagnostics).
func FormatPath(path string, write bool) ([]string, map[string]*hcl.File, hcl.Diagnostics) {
	files := map[string]*hcl.File{}
	info, err := os.Stat(path)
	if err != nil {
		return nil, files, hcl.Diagnostics{{Severity: hcl.DiagError, Summary: "Failed to read configuration", Detail: fmt.Sprintf("Cannot read %q: %s.", path, err)}}
	}
	names := []string{path}
	if info.IsDir() {
		list, d := listDir(path)
		if d != nil {
			return nil, files, hcl.Diagnostics{d}
		}
		if len(list.native) == 0 && len(list.json) == 0 {
			return nil, files, hcl.Diagnostics{list.nothingToRead(path)}
		}
		names = list.native // JSON files have no canonical format to apply
	}

	var changed []string
	var diags hcl.Diagnostics
	for _, name := range names {
		src, err := os.ReadFile(name)
		if err != nil {
			diags = diags.Append(&hcl.Diagnostic{Severity: hcl.DiagError, Summary: "Failed to read file", Detail: fmt.Sprintf("Cannot read %q: %s.", name, err)})
			continue
		}
		out, f, d := formatFile(name, src)
		if f != nil {
			files[name] = f
		}
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
	return changed, files, diags
}

package config

import (
	"encoding/json"
	"fmt"
	"io"
	"strings"

	"github.com/hashicorp/hcl/v2"
	"github.com/hashicorp/hcl/v2/hclsyntax"
)

// MaxDiagnosticsShown is how many diagnostics WriteDiagnostics prints;
// the rest are counted ("… and 1,120 more errors"). A file that is not
// HCL at all gave over a thousand; the first ones are what to fix first.
const MaxDiagnosticsShown = 20

// WriteDiagnostics prints diagnostics the way Terraform does: summary, the
// source line with the subject underlined, then the detail. files are the
// parser's files (Config.Files); width 0 means 78 columns. At most
// MaxDiagnosticsShown are printed; long source lines are shortened around
// the error, control characters escaped, and no printed line runs past
// maxOutputLine bytes.
func WriteDiagnostics(w io.Writer, files map[string]*hcl.File, diags hcl.Diagnostics, color bool, width uint) error {
	if width == 0 {
		width = 78
	}
	out := &lineLimiter{w: w, max: maxOutputLine, color: color}
	shown := 0
	var moreErrors, moreWarnings int
	for _, d := range diags {
		if d == nil {
			continue
		}
		if shown == MaxDiagnosticsShown {
			if d.Severity == hcl.DiagWarning {
				moreWarnings++
			} else {
				moreErrors++
			}
			continue
		}
		shown++
		if err := writeDiagnostic(out, files, clipDiagnostic(d), width, color); err != nil {
			return err
		}
	}
	if moreErrors+moreWarnings > 0 {
		var parts []string
		if moreErrors > 0 {
			parts = append(parts, plural(moreErrors, "more error", "more errors"))
		}
		if moreWarnings > 0 {
			parts = append(parts, plural(moreWarnings, "more warning", "more warnings"))
		}
		_, err := fmt.Fprintf(out, "… and %s not shown (portcheck validate -json lists them all).\n\n", strings.Join(parts, " and "))
		return err
	}
	return nil
}

// clipDiagnostic is d with its summary and detail shortened to what a
// reader can use and safe for a terminal: a detail can quote the source
// (a name, a value).
func clipDiagnostic(d *hcl.Diagnostic) *hcl.Diagnostic {
	summary, detail := terminalText(clipText(d.Summary, maxSummary)), terminalText(clipText(d.Detail, maxDetail))
	if summary == d.Summary && detail == d.Detail {
		return d
	}
	c := *d
	c.Summary, c.Detail = summary, detail
	return &c
}

// plural is "1 error" or "1,120 errors".
func plural(n int, one, many string) string {
	if n == 1 {
		return "1 " + one
	}
	s := fmt.Sprint(n)
	for i := len(s) - 3; i > 0; i -= 3 {
		s = s[:i] + "," + s[i:]
	}
	return s + " " + many
}

type jsonDiagnostic struct {
	Severity string     `json:"severity"`
	Summary  string     `json:"summary"`
	Detail   string     `json:"detail"`
	Range    *jsonRange `json:"range,omitempty"`
}

type jsonRange struct {
	Filename string  `json:"filename"`
	Start    jsonPos `json:"start"`
	End      jsonPos `json:"end"`
}

type jsonPos struct {
	Line   int `json:"line"`
	Column int `json:"column"`
	Byte   int `json:"byte"`
}

// DiagnosticsJSON renders diagnostics as a JSON array of
// {severity, summary, detail, range}; range is left out when a diagnostic
// has no subject (a command-line option, an unreadable directory).
func DiagnosticsJSON(diags hcl.Diagnostics) ([]byte, error) {
	out := make([]jsonDiagnostic, 0, len(diags))
	for _, d := range diags {
		if d == nil {
			continue
		}
		// All diagnostics, but texts shortened as on the terminal: a
		// detail can quote a 10 MB line.
		jd := jsonDiagnostic{Severity: "error", Summary: clipText(d.Summary, maxSummary), Detail: clipText(d.Detail, maxDetail)}
		if d.Severity == hcl.DiagWarning {
			jd.Severity = "warning"
		}
		if d.Subject != nil {
			r := d.Subject
			jd.Range = &jsonRange{
				Filename: r.Filename,
				Start:    jsonPos{Line: r.Start.Line, Column: r.Start.Column, Byte: r.Start.Byte},
				End:      jsonPos{Line: r.End.Line, Column: r.End.Column, Byte: r.End.Byte},
			}
		}
		out = append(out, jd)
	}
	return json.MarshalIndent(out, "", "  ")
}

// SourceOf renders a range as "file:line" for results ("declared at
// web.pc.hcl:14"); the file name is as it was given to Load.
func SourceOf(r hcl.Range) string {
	if r.Filename == "" {
		return ""
	}
	return fmt.Sprintf("%s:%d", r.Filename, r.Start.Line)
}

func errorDiag(rng hcl.Range, summary, detail string) *hcl.Diagnostic {
	return &hcl.Diagnostic{Severity: hcl.DiagError, Summary: summary, Detail: detail, Subject: rng.Ptr()}
}

func errorf(rng hcl.Range, summary, format string, args ...any) *hcl.Diagnostic {
	return errorDiag(rng, summary, fmt.Sprintf(format, args...))
}

// inContext adds a Context range (the whole list, the whole block) so the
// printed snippet shows what the subject is part of.
func inContext(d *hcl.Diagnostic, ctx hcl.Range) *hcl.Diagnostic {
	if d.Subject != nil && ctx.Filename == d.Subject.Filename && ctx != *d.Subject {
		c := hcl.RangeOver(ctx, *d.Subject)
		d.Context = &c
	}
	return d
}

func warningf(rng hcl.Range, summary, format string, args ...any) *hcl.Diagnostic {
	return &hcl.Diagnostic{Severity: hcl.DiagWarning, Summary: summary, Detail: fmt.Sprintf(format, args...), Subject: rng.Ptr()}
}

// duplicateDiag reports a second declaration, citing the first.
func duplicateDiag(kind, name string, first, dup hcl.Range) *hcl.Diagnostic {
	return errorf(dup, "Duplicate "+kind, "%s %s named %q was first declared at %s; %s names must be unique.",
		article(kind), kind, name, SourceOf(first), kind)
}

// checkName reports a block label that cannot be used in a reference.
func checkName(kind string, b *hcl.Block) hcl.Diagnostics {
	if len(b.Labels) == 0 || hclsyntax.ValidIdentifier(b.Labels[0]) {
		return nil
	}
	return hcl.Diagnostics{errorf(b.LabelRanges[0], "Invalid "+kind+" name",
		"%q is not a valid name: a name starts with a letter or underscore and contains only letters, digits, underscores and dashes.", b.Labels[0])}
}

package config

import (
	"bytes"
	"fmt"
	"io"
	"sort"
	"strings"
	"unicode/utf8"

	"github.com/hashicorp/hcl/v2"
	"github.com/mitchellh/go-wordwrap"
	"github.com/zclconf/go-cty/cty"
)

// Limits on what one diagnostic prints, so that a hostile or broken file
// cannot flood a terminal: a binary printed 585 KB of raw bytes, and a
// 10 MB line was echoed whole, once per diagnostic on it.
const (
	// maxSourceLine is the longest source line shown whole; a longer one
	// is shown as a window of sourceWindow bytes around the error.
	maxSourceLine = 200
	sourceWindow  = 120
	windowBefore  = 40 // of the window, bytes shown before the error's column
	// maxSnippetLines is the most source lines one diagnostic shows.
	maxSnippetLines = 12
	// maxSummary and maxDetail cap a diagnostic's texts, which can quote
	// the source (an attribute name, a -var value).
	maxSummary = 200
	maxDetail  = 2000
	// maxOutputLine cuts any printed line, whatever made it long (a long
	// word in a detail, a long string value in "with local.x as …").
	maxOutputLine = 500
)

// clipText shortens s to at most max bytes (on a character boundary),
// saying how much was cut.
func clipText(s string, max int) string {
	if len(s) <= max {
		return s
	}
	cut := max
	for cut > 0 && !utf8.RuneStart(s[cut]) {
		cut--
	}
	return fmt.Sprintf("%s… (%d more bytes)", s[:cut], len(s)-cut)
}

// terminalText is s with what needsEscape names escaped, newlines kept.
func terminalText(s string) string {
	if !strings.ContainsFunc(s, func(r rune) bool { return r != '\n' && needsEscape(r) }) {
		return s
	}
	var b bytes.Buffer
	for _, line := range strings.SplitAfter(s, "\n") {
		text := strings.TrimSuffix(line, "\n")
		budget := 6 * len(text)
		writeEscaped(&b, []byte(text), 0, len(text), &budget)
		b.WriteString(line[len(text):])
	}
	return b.String()
}

// srcLine is one source line to show: its number, and [start, end) in
// the file, without its newline.
type srcLine struct {
	num, start, end int
}

// writeDiagnostic prints d as HCL's diagnostic text writer does
// (Terraform's look: summary, "on FILE line N, in CONTEXT:", the source
// lines with the subject highlighted, the values of the variables of the
// expression, the detail), and exactly as it does for a diagnostic on a
// few short lines of plain text. It differs where HCL's has no bounds:
// it shows at most maxSnippetLines lines, a line longer than
// maxSourceLine as a window around the error, escapes control characters
// and bytes that are not UTF-8, and reads only the lines it shows (HCL's
// scans the whole file for every diagnostic: 10 s on a file of 3 million
// lines).
func writeDiagnostic(w io.Writer, files map[string]*hcl.File, d *hcl.Diagnostic, width uint, color bool) error {
	var colorCode, highlightCode, resetCode string
	if color {
		switch d.Severity {
		case hcl.DiagError:
			colorCode = "\x1b[31m"
		case hcl.DiagWarning:
			colorCode = "\x1b[33m"
		}
		resetCode, highlightCode = "\x1b[0m", "\x1b[1;4m"
	}
	severity := "Error"
	if d.Severity == hcl.DiagWarning {
		severity = "Warning"
	}
	var b bytes.Buffer
	fmt.Fprintf(&b, "%s%s%s: %s\n\n", colorCode, severity, resetCode, d.Summary)

	if d.Subject != nil {
		f := files[d.Subject.Filename]
		if f == nil || f.Bytes == nil {
			fmt.Fprintf(&b, "  on %s line %d:\n  (source code not available)\n\n", terminalText(d.Subject.Filename), d.Subject.Start.Line)
		} else {
			src := f.Bytes
			subject := clampRange(*d.Subject, len(src))
			in := ""
			if cs, ok := f.Nav.(interface{ ContextString(offset int) string }); ok {
				if c := cs.ContextString(subject.Start.Byte); c != "" {
					in = ", in " + terminalText(clipText(c, maxSummary))
				}
			}
			fmt.Fprintf(&b, "  on %s line %d%s:\n", terminalText(d.Subject.Filename), d.Subject.Start.Line, in)
			// An empty range is shown as the character it is before.
			highlight := subject
			if highlight.Empty() {
				highlight.End.Byte++
			}
			snip := subject
			if d.Context != nil {
				snip = hcl.RangeOver(subject, clampRange(*d.Context, len(src)))
			}
			lines := linesOver(src, snip)
			if len(lines) > maxSnippetLines && d.Context != nil {
				// A long context (a whole block or list) is less useful
				// than seeing the subject at all.
				lines = linesOver(src, subject)
			}
			for _, ln := range lines[:min(len(lines), maxSnippetLines)] {
				writeSourceLine(&b, src, ln, highlight, highlightCode, resetCode)
			}
			b.WriteByte('\n')
		}
		if d.Expression != nil && d.EvalContext != nil {
			writeValues(&b, d.Expression, d.EvalContext)
		}
	}
	if d.Detail != "" {
		detail := d.Detail
		if width != 0 {
			detail = wordwrap.WrapString(detail, width)
		}
		fmt.Fprintf(&b, "%s\n\n", detail)
	}
	_, err := w.Write(b.Bytes())
	return err
}

// writeSourceLine prints one source line with its number, the part of it
// that highlight overlaps highlighted, shortened around where the
// highlight starts when it is long.
func writeSourceLine(b *bytes.Buffer, src []byte, ln srcLine, highlight hcl.Range, highlightCode, resetCode string) {
	from, to := ln.start, ln.end
	if to-from > maxSourceLine {
		anchor := ln.start
		if highlight.Start.Byte >= ln.start && highlight.Start.Byte <= ln.end {
			anchor = highlight.Start.Byte
		}
		from = max(ln.start, anchor-windowBefore)
		to = min(ln.end, from+sourceWindow)
		from = max(ln.start, to-sourceWindow)
		for from > ln.start && !utf8.RuneStart(src[from]) {
			from--
		}
		for to < ln.end && !utf8.RuneStart(src[to]) {
			to++
		}
	}
	// The highlighted part, as hcl.Range.PartitionAround finds it.
	lineRange := hcl.Range{Start: hcl.Pos{Byte: ln.start}, End: hcl.Pos{Byte: ln.end}}
	hl := hcl.Range{Start: hcl.Pos{Byte: highlight.Start.Byte}, End: hcl.Pos{Byte: highlight.End.Byte}}
	hlFrom, hlTo := ln.end, ln.end
	if o := lineRange.Overlap(hl); !o.Empty() {
		hlFrom, hlTo = o.Start.Byte, o.End.Byte
	}
	fmt.Fprintf(b, "%4d: ", ln.num)
	if from > ln.start {
		b.WriteString("…")
	}
	clamp := func(i int) int { return min(max(i, from), to) }
	segments := []struct {
		from, to  int
		highlight bool
	}{{from, clamp(hlFrom), false}, {clamp(hlFrom), clamp(hlTo), true}, {clamp(hlTo), to, false}}
	budget, stop := maxSourceLine, from
	for _, s := range segments {
		if s.from == s.to || stop < s.from { // empty, or the budget ran out before it
			continue
		}
		if s.highlight {
			b.WriteString(highlightCode)
		}
		stop = writeEscaped(b, src, s.from, s.to, &budget)
		if s.highlight {
			b.WriteString(resetCode)
		}
	}
	if stop < ln.end {
		b.WriteString("…")
	}
	b.WriteByte('\n')
}

// writeValues prints the values of the variables expr refers to, as
// HCL's writer does ("with var.port as 8080,\n     local.x as "a".").
func writeValues(b *bytes.Buffer, expr hcl.Expression, ctx *hcl.EvalContext) {
	var stmts []string
	seen := map[string]bool{}
	for _, tr := range expr.Variables() {
		val, diags := tr.TraverseAbs(ctx)
		if diags.HasErrors() {
			continue // reported already, most likely
		}
		name := traversalText(tr)
		if seen[name] {
			continue
		}
		switch {
		case !val.IsKnown(), val.IsMarked():
			continue
		case val.IsNull():
			stmts = append(stmts, name+" set to null")
		default:
			stmts = append(stmts, name+" as "+valueText(val))
		}
		seen[name] = true
	}
	sort.Strings(stmts)
	for i, stmt := range stmts {
		if i == 0 {
			b.WriteString("with ")
		} else {
			b.WriteString("     ")
		}
		b.WriteString(terminalText(clipText(stmt, maxSummary)))
		if i == len(stmts)-1 {
			b.WriteString(".\n\n")
		} else {
			b.WriteString(",\n")
		}
	}
}

// traversalText is var.x.y[0] for a diagnostic.
func traversalText(tr hcl.Traversal) string {
	var b strings.Builder
	for _, step := range tr {
		switch s := step.(type) {
		case hcl.TraverseRoot:
			b.WriteString(s.Name)
		case hcl.TraverseAttr:
			b.WriteString("." + s.Name)
		case hcl.TraverseIndex:
			if s.Key.Type().IsPrimitiveType() {
				b.WriteString("[" + valueText(s.Key) + "]")
			} else {
				b.WriteString("[...]")
			}
		}
	}
	return b.String()
}

// valueText is a value in a few words, as HCL's writer shows it.
func valueText(v cty.Value) string {
	ty := v.Type()
	switch {
	case v.IsNull():
		return "null"
	case !v.IsKnown():
		return "(not yet known)"
	case ty == cty.Bool:
		if v.True() {
			return "true"
		}
		return "false"
	case ty == cty.Number:
		return v.AsBigFloat().Text('g', 10)
	case ty == cty.String:
		return fmt.Sprintf("%q", v.AsString())
	case ty.IsCollectionType() || ty.IsTupleType():
		switch n := v.LengthInt(); n {
		case 0:
			return "empty " + ty.FriendlyName()
		case 1:
			return ty.FriendlyName() + " with 1 element"
		default:
			return fmt.Sprintf("%s with %d elements", ty.FriendlyName(), n)
		}
	case ty.IsObjectType():
		attrs := ty.AttributeTypes()
		switch len(attrs) {
		case 0:
			return "object with no attributes"
		case 1:
			for name := range attrs {
				return fmt.Sprintf("object with 1 attribute %q", name)
			}
		}
		return fmt.Sprintf("object with %d attributes", len(attrs))
	}
	return ty.FriendlyName()
}

// clampRange keeps a range's byte offsets inside a file of n bytes (JSON
// template positions can be off: HCL does not see the escapes it removed).
func clampRange(r hcl.Range, n int) hcl.Range {
	r.Start.Byte = min(max(r.Start.Byte, 0), n)
	r.End.Byte = min(max(r.End.Byte, r.Start.Byte), n)
	return r
}

// linesOver returns the lines of src that HCL's writer shows for r: it
// widens an empty range by a byte and shows the non-empty lines that
// Range.Overlaps says r overlaps (which includes the line r ends at the
// start of).
func linesOver(src []byte, r hcl.Range) []srcLine {
	from, to := r.Start.Byte, max(r.End.Byte, r.Start.Byte+1)
	snip := hcl.Range{Start: hcl.Pos{Byte: from}, End: hcl.Pos{Byte: to}}
	start := bytes.LastIndexByte(src[:from], '\n') + 1
	num := bytes.Count(src[:start], []byte{'\n'}) + 1
	var out []srcLine
	for start <= len(src) && start <= to {
		end := bytes.IndexByte(src[start:], '\n')
		next := start + end + 1
		if end < 0 {
			end, next = len(src)-start, len(src)+1
		}
		end += start
		if end > start && src[end-1] == '\r' {
			end--
		}
		if (hcl.Range{Start: hcl.Pos{Byte: start}, End: hcl.Pos{Byte: end}}).Overlaps(snip) {
			out = append(out, srcLine{num: num, start: start, end: end})
			if len(out) > maxSnippetLines {
				break // the caller shows no more than that
			}
		}
		start, num = next, num+1
	}
	return out
}

// needsEscape: runes that must not reach a terminal as they are: control
// characters (a tab is fine), bytes that are not UTF-8 (decoded as
// RuneError), and the bidirectional overrides that make text read
// differently from what it is.
func needsEscape(r rune) bool {
	switch {
	case r == '\t':
		return false
	case r < 0x20 || r == 0x7f || (r >= 0x80 && r < 0xa0):
		return true
	case r == utf8.RuneError:
		return true
	case r >= 0x202a && r <= 0x202e, r >= 0x2066 && r <= 0x2069:
		return true
	}
	return false
}

// writeEscaped writes src[from:to] to b with control characters and
// bytes that are not UTF-8 escaped (\x00, \u202e) while the budget of
// bytes lasts, and returns the offset where it stopped.
func writeEscaped(b *bytes.Buffer, src []byte, from, to int, budget *int) int {
	i := from
	for i < to {
		r, size := utf8.DecodeRune(src[i:to])
		var piece []byte
		switch {
		case r == utf8.RuneError && size <= 1:
			piece, size = fmt.Appendf(nil, `\x%02x`, src[i]), 1
		case needsEscape(r) && r < 0x80:
			piece = fmt.Appendf(nil, `\x%02x`, r)
		case needsEscape(r):
			piece = fmt.Appendf(nil, `\u%04x`, r)
		default:
			piece = src[i : i+size]
		}
		if len(piece) > *budget {
			break
		}
		*budget -= len(piece)
		b.Write(piece)
		i += size
	}
	return i
}

// lineLimiter cuts every line written through it after max bytes (on a
// character boundary), marking the cut with "…".
type lineLimiter struct {
	w     interface{ Write([]byte) (int, error) }
	max   int
	color bool
	n     int  // bytes of the current line written
	cut   bool // the current line was cut
}

func (l *lineLimiter) Write(p []byte) (int, error) {
	var out []byte
	for _, c := range p {
		switch {
		case c == '\n':
			l.n, l.cut = 0, false
			out = append(out, c)
		case l.cut:
		case l.n < l.max || !utf8.RuneStart(c):
			l.n++
			out = append(out, c)
		default:
			l.cut = true
			out = append(out, "…"...)
			if l.color {
				out = append(out, "\x1b[0m"...)
			}
		}
	}
	if _, err := l.w.Write(out); err != nil {
		return 0, err
	}
	return len(p), nil
}

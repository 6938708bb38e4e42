package config

import (
	"bytes"
	"fmt"
	"strings"
	"unicode/utf8"

	"github.com/hashicorp/hcl/v2"
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
		writeEscaped(&b, []byte(text), 0, len(text), len(text)*6)
		b.WriteString(line[len(text):])
	}
	return b.String()
}

// srcLine is one source line to show: [start, end) in the file, without
// its newline, and the part of it kept, [keepFrom, keepTo).
type srcLine struct {
	num              int
	start, end       int
	keepFrom, keepTo int
}

// snippetView returns what to print d with: the file as given when every
// line the diagnostic shows is short, plain text and there are few of
// them (then the output is exactly HCL's); otherwise a stand-in file
// holding only those lines, shortened around the error and with control
// characters and bytes that are not UTF-8 escaped, and d with its ranges
// moved into it.
func snippetView(f *hcl.File, d *hcl.Diagnostic) (*hcl.File, *hcl.Diagnostic) {
	src := f.Bytes
	subject := clampRange(*d.Subject, len(src))
	snip := subject
	if d.Context != nil {
		snip = hcl.RangeOver(subject, clampRange(*d.Context, len(src)))
	}
	lines := linesOver(src, snip)
	dropContext, cutLines := false, false
	if len(lines) > maxSnippetLines && d.Context != nil {
		// A long context (a whole block or list) is less useful than
		// seeing the subject at all: show the subject's lines only.
		lines, dropContext = linesOver(src, subject), true
	}
	if len(lines) > maxSnippetLines {
		lines, cutLines = lines[:maxSnippetLines], true
	}
	if len(lines) == 0 || (!dropContext && !cutLines && plainLines(src, lines)) {
		return f, d
	}

	// Which part of each line to keep: a window around where the
	// highlighted subject starts, or the line's start.
	for i := range lines {
		ln := &lines[i]
		ln.keepFrom, ln.keepTo = ln.start, ln.end
		if ln.end-ln.start <= maxSourceLine {
			continue
		}
		anchor := ln.start
		if subject.Start.Byte >= ln.start && subject.Start.Byte <= ln.end {
			anchor = subject.Start.Byte
		}
		from := max(ln.start, anchor-windowBefore)
		to := min(ln.end, from+sourceWindow)
		from = max(ln.start, to-sourceWindow)
		for from > ln.start && !utf8.RuneStart(src[from]) {
			from--
		}
		for to < ln.end && !utf8.RuneStart(src[to]) {
			to++
		}
		ln.keepFrom, ln.keepTo = from, to
	}

	// Empty lines before and between the shown ones keep HCL's line
	// numbers those of the file (it shows no empty line).
	var b bytes.Buffer
	offsets := make([][]int, len(lines)) // per line: file byte - keepFrom -> stand-in byte
	ends := make([]int, len(lines))
	num := 1
	for i, ln := range lines {
		b.WriteString(strings.Repeat("\n", ln.num-num))
		num = ln.num + 1
		if ln.keepFrom > ln.start {
			b.WriteString("…")
		}
		offsets[i], lines[i].keepTo = writeEscaped(&b, src, ln.keepFrom, ln.keepTo, maxSourceLine)
		ln = lines[i]
		ends[i] = b.Len()
		if ln.keepTo < ln.end {
			b.WriteString("…")
		}
		b.WriteByte('\n')
	}
	view := &hcl.File{Bytes: b.Bytes(), Nav: contextAt{nav: f.Nav, at: subject.Start.Byte}}

	move := func(p hcl.Pos) hcl.Pos {
		i := 0
		for i < len(lines)-1 && p.Byte > lines[i].end {
			i++
		}
		ln := lines[i]
		at := min(max(p.Byte, ln.keepFrom), ln.keepTo)
		if p.Byte > ln.end { // past the last line shown
			at = ln.keepTo
		}
		nb := offsets[i][at-ln.keepFrom]
		if at == ln.keepTo {
			nb = ends[i]
		}
		lineStart := bytes.LastIndexByte(b.Bytes()[:nb], '\n') + 1
		return hcl.Pos{Line: ln.num, Column: utf8.RuneCount(b.Bytes()[lineStart:nb]) + 1, Byte: nb}
	}
	moved := *d
	sub := hcl.Range{Filename: subject.Filename, Start: move(subject.Start), End: move(subject.End)}
	moved.Subject = &sub
	moved.Context = nil
	if d.Context != nil && !dropContext {
		ctx := clampRange(*d.Context, len(src))
		c := hcl.Range{Filename: ctx.Filename, Start: move(ctx.Start), End: move(ctx.End)}
		moved.Context = &c
	}
	return view, &moved
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

// plainLines says whether lines can be printed as they are.
func plainLines(src []byte, lines []srcLine) bool {
	for _, ln := range lines {
		if ln.end-ln.start > maxSourceLine {
			return false
		}
		for _, r := range string(src[ln.start:ln.end]) {
			if needsEscape(r) {
				return false
			}
		}
	}
	return true
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
// bytes that are not UTF-8 escaped (\x00, \u202e), stopping before the
// written text passes budget bytes (escapes take up to 6 per byte). It
// returns where it stopped and where each file offset in [from, stop]
// landed in b (index: offset - from).
func writeEscaped(b *bytes.Buffer, src []byte, from, to, budget int) ([]int, int) {
	offsets := make([]int, to-from+1)
	start := b.Len()
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
		if b.Len()-start+len(piece) > budget {
			break
		}
		for j := i; j < i+size; j++ {
			offsets[j-from] = b.Len()
		}
		b.Write(piece)
		i += size
	}
	offsets[i-from] = b.Len()
	return offsets[:i-from+1], i
}

// contextAt gives HCL's writer the "in endpoint "web"" context of the
// original file for a stand-in, whose offsets are not the file's.
type contextAt struct {
	nav any
	at  int
}

func (c contextAt) ContextString(int) string {
	if cs, ok := c.nav.(interface{ ContextString(offset int) string }); ok {
		return clipText(cs.ContextString(c.at), maxSummary)
	}
	return ""
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

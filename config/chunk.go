package config

import (
	"bytes"
	"fmt"

	"github.com/hashicorp/hcl/v2"
	"github.com/hashicorp/hcl/v2/hclsyntax"
)

// A large native-syntax file is parsed in pieces. HCL's lexer turns the
// whole file into tokens of 96 bytes each before the parser starts, about
// 33 bytes of tokens per byte of source, and the slice they are appended
// to is copied as it grows: a 550 KB file of 10,000 endpoints held 31 MB
// of tokens at once and allocated five times that, more than the syntax
// tree it became, and the nesting check (nesting.go) lexed it once more.
// Pieces that each end at the top level parse to the same blocks with the
// same ranges, so only a piece's tokens are alive at a time.
//
// Where a piece may end is found by a scan that follows brackets,
// strings, templates, heredocs and comments (topLevelLines). It does not
// have to be right: a piece that does not end at the top level leaves
// something open, which is a parse error, and any diagnostic in any piece
// sends the file through the whole-file path. Diagnostics, nesting limits
// and the tree are therefore exactly those of parsing the file whole
// (TestChunkedParseMatchesWhole, FuzzChunkedParse).

// chunkMinFile is the size from which a native file is parsed in pieces,
// and chunkTarget the size a piece grows to before it ends at the next
// top-level line. Variables so tests can cut every file at every line.
var (
	chunkMinFile = 64 << 10
	chunkTarget  = 16 << 10
)

// chunk is src[start:end], starting at pos.
type chunk struct {
	start, end int
	pos        hcl.Pos
}

// parseNative parses a native-syntax file: in pieces when it is large and
// every piece parses cleanly, else whole (checkSource first, as always).
func parseNative(name string, src []byte) (*hcl.File, hcl.Diagnostics) {
	if len(src) >= chunkMinFile && checkText(name, src) == nil {
		if f := parseChunked(name, src, chunkTarget); f != nil {
			return f, nil
		}
	}
	if d := checkSource(name, src); d != nil {
		return printableSource(src), d
	}
	return hclsyntax.ParseConfig(src, name, hcl.InitialPos)
}

// parseChunked returns the file parsed piece by piece, or nil when the
// file has to be parsed whole: it cannot be cut, a piece has any
// diagnostic (too deep, a syntax error, something left open), or the file
// has top-level attributes (whose redefinition only a whole parse sees).
func parseChunked(name string, src []byte, target int) *hcl.File {
	chunks := cutChunks(src, target)
	if len(chunks) < 2 {
		return nil
	}
	bodies := make([]*hclsyntax.Body, len(chunks))
	failed := make([]bool, len(chunks))
	parallelFor(len(chunks), func(i int) {
		c := chunks[i]
		part := src[c.start:c.end]
		if _, at := nativeNesting(part, name, c.pos, lexConfig, 0); at != nil {
			failed[i] = true
			return
		}
		f, diags := hclsyntax.ParseConfig(part, name, c.pos)
		body, ok := f.Body.(*hclsyntax.Body)
		if len(diags) > 0 || !ok || len(body.Attributes) > 0 {
			failed[i] = true
			return
		}
		bodies[i] = body
	})
	n := 0
	for i := range chunks {
		if failed[i] {
			return nil
		}
		n += len(bodies[i].Blocks)
	}
	merged := &hclsyntax.Body{
		Attributes: hclsyntax.Attributes{},
		Blocks:     make(hclsyntax.Blocks, 0, n),
		SrcRange:   hcl.RangeBetween(bodies[0].SrcRange, bodies[len(bodies)-1].SrcRange),
		EndRange:   bodies[len(bodies)-1].EndRange,
	}
	for _, b := range bodies {
		merged.Blocks = append(merged.Blocks, b.Blocks...)
	}
	return &hcl.File{Body: merged, Bytes: src, Nav: navigation{merged}}
}

// cutChunks cuts src at top-level line starts into pieces of about target
// bytes (the last one takes the rest).
func cutChunks(src []byte, target int) []chunk {
	var out []chunk
	cur := chunk{pos: hcl.InitialPos}
	topLevelLines(src, func(offset, line int) bool {
		if offset-cur.start >= target {
			cur.end = offset
			out = append(out, cur)
			cur = chunk{start: offset, pos: hcl.Pos{Line: line, Column: 1, Byte: offset}}
		}
		return true
	})
	cur.end = len(src)
	if cur.end > cur.start || len(out) == 0 {
		out = append(out, cur)
	}
	return out
}

// topLevelLines calls fn with the offset and line number of every line
// that starts outside any bracket, string, heredoc or comment, as far as
// a light scan of the source can tell; it stops at the first thing it does
// not understand (a closer that matches nothing, a string that runs into
// a newline, an unterminated comment), or when fn returns false.
func topLevelLines(src []byte, fn func(offset, line int) bool) {
	// Frames: '{' '[' '(' brackets, '"' a quoted template, 'i' a ${ or %{
	// sequence in a template, 'h' a heredoc (its marker in markers).
	var stack []byte
	var markers [][]byte
	line := 1
	top := func() byte {
		if len(stack) == 0 {
			return 0
		}
		return stack[len(stack)-1]
	}
	pop := func() { stack = stack[:len(stack)-1] }
	i := 0
	// atLineStart handles a new line beginning at i: a heredoc's end, or a
	// top-level line.
	atLineStart := func() bool {
		line++
		switch {
		case top() == 'h':
			end := bytes.IndexByte(src[i:], '\n')
			if end < 0 {
				end = len(src) - i
			}
			if bytes.Equal(bytes.TrimSpace(src[i:i+end]), markers[len(markers)-1]) {
				pop()
				markers = markers[:len(markers)-1]
				i += end // the newline after the marker is read next
			}
		case len(stack) == 0 && i < len(src):
			return fn(i, line)
		}
		return true
	}
	for i < len(src) {
		c := src[i]
		switch top() {
		case '"', 'h':
			switch {
			case c == '\\' && top() == '"':
				if i+1 < len(src) && src[i+1] == '\n' {
					return
				}
				i += 2
			case c == '"' && top() == '"':
				pop()
				i++
			case (c == '$' || c == '%') && bytes.HasPrefix(src[i+1:], []byte{c, '{'}):
				i += 3 // $${ and %%{ are literal
			case (c == '$' || c == '%') && i+1 < len(src) && src[i+1] == '{':
				stack = append(stack, 'i')
				i += 2
			case c == '\n':
				if top() == '"' {
					return // the lexer ends a quoted string here; let the parser judge
				}
				i++
				if !atLineStart() {
					return
				}
			default:
				i++
			}
			continue
		}
		switch {
		case c == '#' || (c == '/' && i+1 < len(src) && src[i+1] == '/'):
			end := bytes.IndexByte(src[i:], '\n')
			if end < 0 {
				return
			}
			i += end
		case c == '/' && i+1 < len(src) && src[i+1] == '*':
			end := bytes.Index(src[i+2:], []byte("*/"))
			if end < 0 {
				return
			}
			line += bytes.Count(src[i:i+2+end], []byte{'\n'})
			i += 2 + end + 2
		case c == '"':
			stack = append(stack, '"')
			i++
		case c == '{' || c == '[' || c == '(':
			stack = append(stack, c)
			i++
		case c == '}' || c == ']' || c == ')':
			want := map[byte]byte{'}': '{', ']': '[', ')': '('}[c]
			switch t := top(); {
			case t == want, c == '}' && t == 'i':
				pop()
			default:
				return
			}
			i++
		case c == '<' && bytes.HasPrefix(src[i:], []byte("<<")):
			j := i + 2
			if j < len(src) && src[j] == '-' {
				j++
			}
			k := j
			for k < len(src) && (isAlpha(src[k]) || src[k] == '_' || (k > j && (src[k] == '-' || (src[k] >= '0' && src[k] <= '9')))) {
				k++
			}
			nl := k
			if nl < len(src) && src[nl] == '\r' {
				nl++
			}
			if k == j || nl >= len(src) || src[nl] != '\n' {
				i += 2 // not a heredoc: an operator the parser will judge
				continue
			}
			stack = append(stack, 'h')
			markers = append(markers, src[j:k])
			i = nl + 1
			if !atLineStart() {
				return
			}
		case c == '\n':
			i++
			if !atLineStart() {
				return
			}
		default:
			i++
		}
	}
}

// navigation gives diagnostics their context ("in endpoint "web"") for a
// file parsed in pieces, as hclsyntax does for one parsed whole.
type navigation struct{ root *hclsyntax.Body }

func (n navigation) block(offset int) *hclsyntax.Block {
	for _, b := range n.root.Blocks {
		if b.Range().ContainsOffset(offset) {
			return b
		}
	}
	return nil
}

func (n navigation) ContextString(offset int) string {
	b := n.block(offset)
	if b == nil {
		return ""
	}
	s := b.Type
	for _, l := range b.Labels {
		s += fmt.Sprintf(" %q", l)
	}
	return s
}

func (n navigation) ContextDefRange(offset int) hcl.Range {
	if b := n.block(offset); b != nil {
		return b.DefRange()
	}
	return hcl.Range{}
}

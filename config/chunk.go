package config

import (
	"bytes"
	"fmt"
	"sort"
	"sync"
	"unicode/utf8"

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
// Pieces holding only endpoint blocks (most of a fleet's file) are not
// parsed with the rest: they are parsed when endpoints are declared, after
// variables, locals and hosts, a few at a time, and each piece's tree is
// dropped once its endpoints are decoded. The syntax tree of 10,000
// endpoints (about 25 MB) is never alive at once. Anything unexpected in
// such a piece (a diagnostic, a block of another type) restarts the load
// with every file parsed whole.
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

// chunk is src[start:end], starting at pos. endpoints: every top-level
// line of it that is not blank or a comment starts an endpoint block, so
// its parse can wait (deferredChunk).
type chunk struct {
	start, end int
	pos        hcl.Pos
	endpoints  bool
}

// deferredChunk is a piece of endpoint blocks parsed when endpoints are
// declared.
type deferredChunk struct {
	name string
	src  []byte // the piece
	pos  hcl.Pos
	nav  *navigation
}

// parsedFile is a file as parsed before the declarations: its tree (of the
// pieces parsed so far, for a file in pieces) and the pieces left for
// later, in file order.
type parsedFile struct {
	file     *hcl.File
	diags    hcl.Diagnostics
	deferred []*deferredChunk
}

// parseNative parses a native-syntax file: in pieces when pieces are
// allowed, it is large and every piece parses cleanly, else whole
// (checkSource first, as always).
func parseNative(name string, src []byte, pieces bool) parsedFile {
	if pieces && len(src) >= chunkMinFile && checkText(name, src) == nil {
		if f, deferred := parseChunked(name, src, chunkTarget, true); f != nil {
			return parsedFile{file: f, deferred: deferred}
		}
	}
	if d := checkSource(name, src); d != nil {
		return parsedFile{file: printableSource(src), diags: d}
	}
	f, diags := hclsyntax.ParseConfig(src, name, hcl.InitialPos)
	return parsedFile{file: f, diags: diags}
}

// parseChunked returns the file parsed piece by piece, or nil when the
// file has to be parsed whole: it cannot be cut, a piece has any
// diagnostic (too deep, a syntax error, something left open), or the file
// has top-level attributes (whose redefinition only a whole parse sees).
// With defer, pieces of endpoint blocks are returned unparsed.
func parseChunked(name string, src []byte, target int, deferEndpoints bool) (*hcl.File, []*deferredChunk) {
	chunks := cutChunks(src, target)
	if len(chunks) < 2 {
		return nil, nil
	}
	bodies := make([]*hclsyntax.Body, len(chunks))
	failed := make([]bool, len(chunks))
	parallelFor(len(chunks), func(i int) {
		c := chunks[i]
		if deferEndpoints && c.endpoints {
			return
		}
		body, ok := parsePiece(name, src[c.start:c.end], c.pos)
		bodies[i], failed[i] = body, !ok
	})
	n := 0
	for i := range chunks {
		if failed[i] {
			return nil, nil
		}
		if bodies[i] != nil {
			n += len(bodies[i].Blocks)
		}
	}
	merged := &hclsyntax.Body{
		Attributes: hclsyntax.Attributes{},
		Blocks:     make(hclsyntax.Blocks, 0, n),
		SrcRange:   hcl.Range{Filename: name, Start: hcl.InitialPos, End: chunks[len(chunks)-1].pos},
	}
	nav := &navigation{}
	var deferred []*deferredChunk
	for i, b := range bodies {
		if b == nil {
			c := chunks[i]
			deferred = append(deferred, &deferredChunk{name: name, src: src[c.start:c.end], pos: c.pos, nav: nav})
			continue
		}
		merged.Blocks = append(merged.Blocks, b.Blocks...)
		nav.add(b.Blocks)
		merged.SrcRange = hcl.RangeBetween(merged.SrcRange, b.SrcRange)
		merged.EndRange = b.EndRange
	}
	if bodies[len(bodies)-1] == nil {
		// The last piece waits: the file's end is where it ends.
		end := endPos(src, chunks[len(chunks)-1].pos, len(src))
		merged.SrcRange.End = end
		merged.EndRange = hcl.Range{Filename: name, Start: end, End: end}
	}
	return &hcl.File{Body: merged, Bytes: src, Nav: nav}, deferred
}

// parsePiece nesting-checks and parses one piece; ok only when it has no
// diagnostic and no top-level attribute.
func parsePiece(name string, part []byte, pos hcl.Pos) (*hclsyntax.Body, bool) {
	if _, at := nativeNesting(part, name, pos, lexConfig, 0); at != nil {
		return nil, false
	}
	f, diags := hclsyntax.ParseConfig(part, name, pos)
	body, ok := f.Body.(*hclsyntax.Body)
	if len(diags) > 0 || !ok || len(body.Attributes) > 0 {
		return nil, false
	}
	return body, true
}

// blocks parses a deferred piece and returns its endpoint blocks as the
// root schema gives them; ok is false when the piece holds anything else
// or any diagnostic, and the load has to start again with whole files.
func (d *deferredChunk) blocks() (hcl.Blocks, bool) {
	body, ok := parsePiece(d.name, d.src, d.pos)
	if !ok {
		return nil, false
	}
	content, diags := body.Content(rootSchema)
	if len(diags) > 0 {
		return nil, false
	}
	for _, b := range content.Blocks {
		if b.Type != "endpoint" {
			return nil, false
		}
	}
	d.nav.add(body.Blocks)
	return content.Blocks, true
}

// endPos is the position of src[off], counted from pos at src[from].
func endPos(src []byte, pos hcl.Pos, off int) hcl.Pos {
	from := pos.Byte
	seg := src[from:off]
	if nl := bytes.Count(seg, []byte{'\n'}); nl > 0 {
		last := bytes.LastIndexByte(seg, '\n')
		return hcl.Pos{Line: pos.Line + nl, Column: utf8.RuneCount(seg[last+1:]) + 1, Byte: off}
	}
	return hcl.Pos{Line: pos.Line, Column: pos.Column + utf8.RuneCount(seg), Byte: off}
}

// cutChunks cuts src at top-level line starts into pieces of about target
// bytes (the last one takes the rest), and where the lines go from
// endpoint blocks to anything else or back, so that pieces of endpoint
// blocks can be parsed later.
func cutChunks(src []byte, target int) []chunk {
	var out []chunk
	cur := chunk{pos: hcl.InitialPos, endpoints: true}
	started := false // cur has a line that is not blank or a comment
	visit := func(offset, line int) bool {
		endpoint, neutral := lineKind(src[offset:])
		switch {
		case neutral:
			return true
		case !started:
			cur.endpoints = endpoint
		case offset-cur.start >= target || endpoint != cur.endpoints:
			cur.end = offset
			out = append(out, cur)
			cur = chunk{start: offset, pos: hcl.Pos{Line: line, Column: 1, Byte: offset}, endpoints: endpoint}
		}
		started = true
		return true
	}
	visit(0, 1)
	topLevelLines(src, visit)
	cur.end = len(src)
	if cur.end > cur.start || len(out) == 0 {
		out = append(out, cur)
	}
	return out
}

// lineKind says whether a top-level line starts an endpoint block, or is
// neutral (blank, or a comment, which belongs to no block).
func lineKind(rest []byte) (endpoint, neutral bool) {
	if nl := bytes.IndexByte(rest, '\n'); nl >= 0 {
		rest = rest[:nl]
	}
	rest = bytes.TrimLeft(rest, " \t\r")
	switch {
	case len(rest) == 0, rest[0] == '#', bytes.HasPrefix(rest, []byte("//")), bytes.HasPrefix(rest, []byte("/*")):
		return false, true
	}
	word, after, _ := bytes.Cut(rest, []byte(" "))
	return string(word) == "endpoint" && bytes.HasPrefix(bytes.TrimLeft(after, " \t"), []byte{'"'}), false
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
// file parsed in pieces, as hclsyntax does for one parsed whole. It keeps
// only the top-level blocks' headers and ranges (a deferred piece's tree
// is dropped once decoded); pieces add theirs as they are parsed, from
// several goroutines.
type navigation struct {
	mu     sync.Mutex
	blocks []navBlock // sorted by start when searched
	sorted bool
}

type navBlock struct {
	header string // `endpoint "web"`
	rng    hcl.Range
	def    hcl.Range
}

func (n *navigation) add(blocks hclsyntax.Blocks) {
	n.mu.Lock()
	defer n.mu.Unlock()
	for _, b := range blocks {
		h := b.Type
		for _, l := range b.Labels {
			h += fmt.Sprintf(" %q", l)
		}
		n.blocks = append(n.blocks, navBlock{header: h, rng: b.Range(), def: b.DefRange()})
	}
	n.sorted = false
}

func (n *navigation) block(offset int) (navBlock, bool) {
	n.mu.Lock()
	defer n.mu.Unlock()
	if !n.sorted {
		sort.Slice(n.blocks, func(i, j int) bool { return n.blocks[i].rng.Start.Byte < n.blocks[j].rng.Start.Byte })
		n.sorted = true
	}
	// The first block that ends after offset is the only one that can
	// contain it (top-level blocks do not overlap).
	i := sort.Search(len(n.blocks), func(i int) bool { return n.blocks[i].rng.End.Byte > offset })
	if i < len(n.blocks) && n.blocks[i].rng.ContainsOffset(offset) {
		return n.blocks[i], true
	}
	return navBlock{}, false
}

func (n *navigation) ContextString(offset int) string {
	b, _ := n.block(offset)
	return b.header
}

func (n *navigation) ContextDefRange(offset int) hcl.Range {
	b, _ := n.block(offset)
	return b.def
}

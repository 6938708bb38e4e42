package config

import (
	"bytes"
	"encoding/json"
	"unicode/utf8"

	"github.com/hashicorp/hcl/v2"
	"github.com/hashicorp/hcl/v2/hclsyntax"
)

// MaxNesting is how deep portcheck lets an expression or block nest.
//
// HCL's parser, its JSON parser and the evaluation of what they build all
// recurse once per level, and Go grows a goroutine's stack until the
// process dies: a 200 KB file of "((((…))))" took over 1 GB and then a
// fatal stack overflow, which no recover() catches. So the source is
// measured before it reaches the parser. Real configurations nest fewer
// than 20 levels; at 1,000 levels parsing and evaluating need a few MB of
// stack.
const MaxNesting = 1000

// A level is counted for every open bracket, brace, parenthesis, quoted
// string, heredoc, ${…} and %{…} sequence and template if/for directive,
// and for every operator of the expression being read at that level:
// HCL nests `a + b + c` as `(a + b) + c`, a unary operator or a
// conditional's `?` as a child of its operand, and an index `x[k]` (a
// bracket right after an operand) as a child of x, and each of those is
// a recursion when the expression is parsed or evaluated. The operators
// of an expression stop counting where the expression ends: at a comma,
// at the closing bracket, or at a newline where a newline ends an
// expression (a body, an object constructor). Counting this way can only
// overcount (a ? b : c counts once though its branches are siblings; a
// closer that does not match keeps its frame open), so a file that passes
// cannot recurse deeper than the count allows (TestNestingBoundsTheTree,
// FuzzLoadSources); a real expression has a handful of operators.

// nestFrame is one open bracket, string or template sequence.
type nestFrame struct {
	close hclsyntax.TokenType // the token that ends it
	// pending counts the operators of the expression being read directly
	// in this frame; directives counts the template if/for directives
	// open in it.
	pending, directives int
	// newlines: a newline ends an expression here (bodies and object
	// constructors, but not a {for …} expression).
	newlines bool
}

// nestCounter measures the nesting of native-syntax tokens as they come.
type nestCounter struct {
	stack []nestFrame
	depth int // levels open now: frames (less the base) + pending + directives
	max   int // deepest so far
}

func newNestCounter(base int, newlines bool) *nestCounter {
	return &nestCounter{stack: []nestFrame{{close: hclsyntax.TokenNil, newlines: newlines}}, depth: base, max: base}
}

// feed takes the token at index i of toks (lookahead decides whether a
// brace opens a for expression) and reports whether the limit was
// crossed at it.
func (c *nestCounter) feed(toks hclsyntax.Tokens, i int) bool {
	tok := toks[i]
	top := &c.stack[len(c.stack)-1]
	switch tok.Type {
	case hclsyntax.TokenOBrack:
		// An index or splat (a bracket right after an operand) nests
		// the collection it applies to; a tuple's bracket is only a frame.
		if endsOperand(prevSignificant(toks, i)) {
			top.pending++
			c.depth++
		}
		c.push(hclsyntax.TokenCBrack, false)
	case hclsyntax.TokenOParen:
		c.push(hclsyntax.TokenCParen, false)
	case hclsyntax.TokenOBrace:
		c.push(hclsyntax.TokenCBrace, !isForIntro(toks, i+1))
	case hclsyntax.TokenTemplateInterp:
		c.push(hclsyntax.TokenTemplateSeqEnd, false)
	case hclsyntax.TokenTemplateControl:
		// %{ if } and %{ for } nest what follows them up to their
		// %{ end… } inside the enclosing template.
		if i+1 < len(toks) && toks[i+1].Type == hclsyntax.TokenIdent {
			switch string(toks[i+1].Bytes) {
			case "if", "for":
				top.directives++
				c.depth++
			case "endif", "endfor":
				if top.directives > 0 {
					top.directives--
					c.depth--
				}
			}
		}
		c.push(hclsyntax.TokenTemplateSeqEnd, false)
	case hclsyntax.TokenOQuote:
		c.push(hclsyntax.TokenCQuote, false)
	case hclsyntax.TokenOHeredoc:
		c.push(hclsyntax.TokenCHeredoc, false)
	case hclsyntax.TokenCBrack, hclsyntax.TokenCParen, hclsyntax.TokenCBrace, hclsyntax.TokenTemplateSeqEnd,
		hclsyntax.TokenCQuote, hclsyntax.TokenCHeredoc:
		// Only a matching closer ends a frame: the parser stops at a
		// mismatched one too, so keeping the frame open only overcounts.
		if len(c.stack) > 1 && top.close == tok.Type {
			c.depth -= 1 + top.pending + top.directives
			c.stack = c.stack[:len(c.stack)-1]
		}
	case hclsyntax.TokenComma:
		c.endExpression(top)
	case hclsyntax.TokenNewline:
		if top.newlines {
			c.endExpression(top)
		}
	case hclsyntax.TokenComment:
		// A line comment ends with the newline it ate.
		if top.newlines && bytes.HasSuffix(tok.Bytes, []byte{'\n'}) {
			c.endExpression(top)
		}
	case hclsyntax.TokenPlus, hclsyntax.TokenMinus, hclsyntax.TokenStar, hclsyntax.TokenSlash, hclsyntax.TokenPercent,
		hclsyntax.TokenEqualOp, hclsyntax.TokenNotEqual, hclsyntax.TokenLessThan, hclsyntax.TokenLessThanEq,
		hclsyntax.TokenGreaterThan, hclsyntax.TokenGreaterThanEq, hclsyntax.TokenAnd, hclsyntax.TokenOr,
		hclsyntax.TokenBang, hclsyntax.TokenQuestion:
		top.pending++
		c.depth++
	}
	if c.depth > c.max {
		c.max = c.depth
	}
	return c.depth > MaxNesting
}

func (c *nestCounter) push(close hclsyntax.TokenType, newlines bool) {
	c.stack = append(c.stack, nestFrame{close: close, newlines: newlines})
	c.depth++
}

func (c *nestCounter) endExpression(top *nestFrame) {
	c.depth -= top.pending
	top.pending = 0
}

// prevSignificant is the type of the token before i, newlines and
// comments skipped (inside brackets the parser skips them too), or
// TokenNil.
func prevSignificant(toks hclsyntax.Tokens, i int) hclsyntax.TokenType {
	for i--; i >= 0; i-- {
		if t := toks[i].Type; t != hclsyntax.TokenNewline && t != hclsyntax.TokenComment {
			return t
		}
	}
	return hclsyntax.TokenNil
}

// endsOperand: a token an expression term can end with, so that a bracket
// after it is an index.
func endsOperand(t hclsyntax.TokenType) bool {
	switch t {
	case hclsyntax.TokenIdent, hclsyntax.TokenNumberLit, hclsyntax.TokenCParen, hclsyntax.TokenCBrack,
		hclsyntax.TokenCBrace, hclsyntax.TokenCQuote, hclsyntax.TokenCHeredoc:
		return true
	}
	return false
}

// isForIntro says whether the tokens from i start a for expression
// ("for NAME"), skipping newlines as the parser does there.
func isForIntro(toks hclsyntax.Tokens, i int) bool {
	for i < len(toks) && (toks[i].Type == hclsyntax.TokenNewline || toks[i].Type == hclsyntax.TokenComment) {
		i++
	}
	return i+1 < len(toks) && toks[i].Type == hclsyntax.TokenIdent && string(toks[i].Bytes) == "for" &&
		toks[i+1].Type == hclsyntax.TokenIdent
}

// lexMode is how a piece of native syntax is read.
type lexMode int

const (
	lexConfig     lexMode = iota // a whole file: a body
	lexExpression                // one expression (-var values, JSON strings used as expressions)
	lexTemplate                  // template text (JSON strings)
)

// prefixBytes is how much of a long source is measured first, and then
// four times as much, and so on. HCL's lexer hands back every token of
// what it lexes at once (about 100 bytes each), so measuring a 10 MB file
// of "((((" whole would take a GB; a file too deep is found out soon
// after its deep part starts. A file that is not too deep costs at most a
// third more lexing than measuring it whole.
const prefixBytes = 64 << 10

// nativeNesting lexes src and returns the deepest nesting found, starting
// from base levels, and the token where it first passed MaxNesting (nil
// when it did not).
func nativeNesting(src []byte, filename string, start hcl.Pos, mode lexMode, base int) (int, *hcl.Range) {
	for size := prefixBytes; 2*size < len(src); size *= 4 {
		// The tokens of a prefix are those of the whole up to where it is
		// cut, but for the last few; and the count at a token depends
		// only on the tokens before it.
		cut := size
		if nl := bytes.LastIndexByte(src[:cut], '\n'); nl > cut/2 {
			cut = nl + 1
		}
		if d, at, n, total := lexNesting(src[:cut], filename, start, mode, base); at != nil && n < total-3 {
			return d, at
		}
	}
	d, at, _, _ := lexNesting(src, filename, start, mode, base)
	return d, at
}

// lexNesting is nativeNesting over all of src; it also returns the index
// of the token that passed the limit and how many tokens there are.
func lexNesting(src []byte, filename string, start hcl.Pos, mode lexMode, base int) (int, *hcl.Range, int, int) {
	var toks hclsyntax.Tokens
	switch mode {
	case lexConfig:
		// The lexer's own diagnostics (invalid characters and such) are
		// the parser's to report.
		toks, _ = hclsyntax.LexConfig(src, filename, start)
	case lexExpression:
		toks, _ = hclsyntax.LexExpression(src, filename, start)
	default:
		toks, _ = hclsyntax.LexTemplate(src, filename, start)
	}
	c := newNestCounter(base, mode == lexConfig)
	for i := range toks {
		if c.feed(toks, i) {
			return c.max, toks[i].Range.Ptr(), i, len(toks)
		}
	}
	return c.max, nil, len(toks), len(toks)
}

// jsonNesting measures an HCL JSON file: its arrays and objects, and
// inside every string the native syntax HCL reads there (a template, or an
// expression where a type or a call is expected), on top of the JSON
// levels around it. The scan follows the HCL JSON scanner's rules for
// strings and stops where that scanner stops (an invalid character).
func jsonNesting(src []byte, filename string) (int, *hcl.Range) {
	type jframe struct{ close byte }
	var stack []jframe
	deepest := 0
	pos := func(i int) hcl.Range { return byteRange(src, filename, i, i+1) }
	for i := 0; i < len(src); {
		b := src[i]
		switch {
		case b == ' ' || b == '\n' || b == '\r' || b == '\t' || b == ',' || b == ':' || b == '=':
			i++
		case b == '[' || b == '{':
			stack = append(stack, jframe{close: b + 2}) // ']' and '}' are 2 above their openers
			deepest = max(deepest, len(stack))
			if len(stack) > MaxNesting {
				r := pos(i)
				return len(stack), &r
			}
			i++
		case b == ']' || b == '}':
			if len(stack) > 0 && stack[len(stack)-1].close == b {
				stack = stack[:len(stack)-1]
			}
			i++
		case b == '"':
			end := jsonStringEnd(src, i)
			d, at := jsonStringNesting(src, filename, i, end, len(stack))
			deepest = max(deepest, d)
			if at != nil {
				return d, at
			}
			i = end
		case b == '-' || b == '+' || b == '.' || (b >= '0' && b <= '9') || isAlpha(b):
			for i < len(src) && (isAlpha(src[i]) || src[i] == '_' || bytes.IndexByte([]byte("-+.eE0123456789"), src[i]) >= 0) {
				i++
			}
		default:
			return deepest, nil
		}
	}
	return deepest, nil
}

func isAlpha(b byte) bool { return (b >= 'a' && b <= 'z') || (b >= 'A' && b <= 'Z') }

// jsonStringEnd returns the index after the string token starting at the
// quote at i, as HCL's JSON scanner ends it: at an unescaped quote, or
// before a control character (an unterminated string).
func jsonStringEnd(src []byte, i int) int {
	escaping := false
	for i++; i < len(src); i++ {
		switch b := src[i]; {
		case b == '\\':
			escaping = !escaping
		case b == '"':
			if !escaping {
				return i + 1
			}
			escaping = false
		case b < 32:
			return i
		default:
			escaping = false
		}
	}
	return i
}

// jsonStringNesting measures the native syntax inside the JSON string
// src[start:end], read both as a template and as an expression, on top of
// base JSON levels.
func jsonStringNesting(src []byte, filename string, start, end, base int) (int, *hcl.Range) {
	tok := src[start:end]
	// Every level takes at least one byte: a short string cannot pass the
	// limit, and most strings are short.
	if base+len(tok) <= MaxNesting {
		return base, nil
	}
	var s string
	if err := json.Unmarshal(tok, &s); err != nil {
		return base, nil // the JSON parser reports it, and nothing is evaluated
	}
	r := byteRange(src, filename, start, start+1)
	at := hcl.Pos{Line: r.Start.Line, Column: r.Start.Column + 1, Byte: r.Start.Byte + 1}
	deepest := base
	for _, mode := range []lexMode{lexTemplate, lexExpression} {
		d, over := nativeNesting([]byte(s), filename, at, mode, base)
		deepest = max(deepest, d)
		if over != nil {
			return d, over
		}
	}
	return deepest, nil
}

// byteRange is the range of src[from:to] with line and column counted
// (columns in characters, as far as the bytes are UTF-8).
func byteRange(src []byte, filename string, from, to int) hcl.Range {
	from = min(max(from, 0), len(src))
	to = min(max(to, from), len(src))
	posAt := func(i int) hcl.Pos {
		lineStart := bytes.LastIndexByte(src[:i], '\n') + 1
		return hcl.Pos{Line: bytes.Count(src[:lineStart], []byte{'\n'}) + 1, Column: utf8.RuneCount(src[lineStart:i]) + 1, Byte: i}
	}
	return hcl.Range{Filename: filename, Start: posAt(from), End: posAt(to)}
}

// nestingDiag reports source nested deeper than MaxNesting at rng.
func nestingDiag(rng hcl.Range, what string) *hcl.Diagnostic {
	return errorf(rng, "Nesting too deep",
		"%s nests more than %d levels at %s (each open bracket, brace, parenthesis, string, heredoc and template "+
			"sequence counts one level, and so does each operator of an expression). portcheck refuses it before "+
			"parsing: parsing it could exhaust the stack. A real configuration nests a few levels; move parts into locals.",
		what, MaxNesting, where(rng))
}

// checkNesting reports a file nested deeper than MaxNesting, or nil.
func checkNesting(filename string, src []byte) *hcl.Diagnostic {
	if len(src) <= MaxNesting { // every level takes at least one byte
		return nil
	}
	var at *hcl.Range
	if isJSONName(filename) {
		_, at = jsonNesting(src, filename)
	} else {
		_, at = nativeNesting(src, filename, hcl.InitialPos, lexConfig, 0)
	}
	if at == nil {
		return nil
	}
	return nestingDiag(*at, "This file")
}

// checkExpressionNesting is checkNesting for one expression given as text
// (a -var or environment value).
func checkExpressionNesting(rng hcl.Range, src []byte, what string) *hcl.Diagnostic {
	if len(src) <= MaxNesting {
		return nil
	}
	if _, at := nativeNesting(src, rng.Filename, rng.Start, lexExpression, 0); at != nil {
		return nestingDiag(*at, what)
	}
	return nil
}

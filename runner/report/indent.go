package report

import "io"

// indenter writes compact JSON, as encoding/json produces it, indented as
// json.Indent would (prefix, then indent per level; empty objects and
// arrays stay "{}" and "[]"), to w. It exists because json.Indent runs
// every byte through the scanner's state machine: at 10,000 endpoints
// (40 MB of report) that was a fifth of the CPU verify -json spent after
// probing. It keeps its state between writes, so a value may come in
// pieces (an endpoint's head, then each check), but it trusts its input:
// only the report's own encoder feeds it, never outside bytes.
type indenter struct {
	w      io.Writer
	prefix string
	indent string
	depth  int
	// open is set after '{' or '[' until the next byte shows whether the
	// value is empty (closed at once) or needs a new line.
	open bool
	// inString and escaped carry a string across pieces.
	inString, escaped bool
	buf               []byte
}

func newIndenter(w io.Writer, prefix, indent string) *indenter {
	return &indenter{w: w, prefix: prefix, indent: indent}
}

func (in *indenter) newline(depth int) {
	in.buf = append(in.buf, '\n')
	in.buf = append(in.buf, in.prefix...)
	for range depth {
		in.buf = append(in.buf, in.indent...)
	}
}

// Write indents src (more of the same compact document) and writes it.
func (in *indenter) Write(src []byte) (int, error) {
	in.buf = in.buf[:0]
	for i := 0; i < len(src); {
		if in.inString {
			// Copy up to the closing quote in one go.
			j := i
			for ; j < len(src); j++ {
				c := src[j]
				if in.escaped {
					in.escaped = false
					continue
				}
				if c == '\\' {
					in.escaped = true
				} else if c == '"' {
					in.inString = false
					j++
					break
				}
			}
			in.buf = append(in.buf, src[i:j]...)
			i = j
			continue
		}
		c := src[i]
		if in.open {
			in.open = false
			if c == '}' || c == ']' {
				in.depth--
				in.buf = append(in.buf, c)
				i++
				continue
			}
			in.newline(in.depth)
		}
		switch c {
		case '"':
			in.inString = true
			in.buf = append(in.buf, c)
		case '{', '[':
			in.buf = append(in.buf, c)
			in.depth++
			in.open = true
		case '}', ']':
			in.depth--
			in.newline(in.depth)
			in.buf = append(in.buf, c)
		case ',':
			in.buf = append(in.buf, c)
			in.newline(in.depth)
		case ':':
			in.buf = append(in.buf, c, ' ')
		default:
			// A number, true, false or null: up to the next structural byte.
			j := i + 1
			for j < len(src) && !structural(src[j]) {
				j++
			}
			in.buf = append(in.buf, src[i:j]...)
			i = j
			continue
		}
		i++
	}
	_, err := in.w.Write(in.buf)
	if cap(in.buf) > 64<<10 {
		in.buf = nil // one huge piece must not stay held
	}
	return len(src), err
}

// structural reports whether c ends a number or literal in compact JSON.
func structural(c byte) bool {
	return c == ',' || c == ':' || c == ']' || c == '}'
}

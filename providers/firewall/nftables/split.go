package nftables

import (
	"bytes"
	"encoding/json"
)

// splitRuleset cuts `{"nftables": [{KEY: VALUE}, …]}` into its objects
// without decoding them: the values stay slices of b, each decoded once
// later (rules on several cores). Kube-proxy's rulesets print tens of MB
// of JSON; decoding it whole first, then each object again, doubled the
// time. Anything that does not have this shape falls back to the
// standard decoder, whose errors name the problem.
func splitRuleset(b []byte) ([]object, error) {
	s := scanner{b: b}
	objs, ok := s.ruleset()
	if ok {
		return objs, nil
	}
	return decodeRuleset(b)
}

type scanner struct {
	b []byte
	i int
}

func (s *scanner) ws() {
	for s.i < len(s.b) {
		switch s.b[s.i] {
		case ' ', '\t', '\n', '\r':
			s.i++
		default:
			return
		}
	}
}

func (s *scanner) byte(c byte) bool {
	s.ws()
	if s.i < len(s.b) && s.b[s.i] == c {
		s.i++
		return true
	}
	return false
}

// str reads a string and returns its content when it has no escapes
// (keys of nft's JSON never do; others are only skipped).
func (s *scanner) str() (string, bool) {
	s.ws()
	if s.i >= len(s.b) || s.b[s.i] != '"' {
		return "", false
	}
	start := s.i + 1
	end, plain := stringEnd(s.b, start)
	if end < 0 {
		return "", false
	}
	s.i = end + 1
	if !plain {
		return "", true
	}
	return string(s.b[start:end]), true
}

// stringEnd finds the closing quote of a string whose content starts at
// i; plain reports that it holds no escapes.
func stringEnd(b []byte, i int) (end int, plain bool) {
	plain = true
	for {
		j := bytes.IndexByte(b[i:], '"')
		if j < 0 {
			return -1, false
		}
		q := i + j
		// Escaped when preceded by an odd number of backslashes.
		n := 0
		for k := q - 1; k >= i && b[k] == '\\'; k-- {
			n++
		}
		if bytes.IndexByte(b[i:q], '\\') >= 0 {
			plain = false
		}
		if n%2 == 0 {
			return q, plain
		}
		i = q + 1
	}
}

// value skips one JSON value and returns its bytes.
func (s *scanner) value() ([]byte, bool) {
	s.ws()
	start := s.i
	if s.i >= len(s.b) {
		return nil, false
	}
	switch s.b[s.i] {
	case '"':
		if _, ok := s.str(); !ok {
			return nil, false
		}
	case '{', '[':
		depth := 0
		for s.i < len(s.b) {
			j := bytes.IndexAny(s.b[s.i:], "\"{}[]")
			if j < 0 {
				return nil, false
			}
			s.i += j
			switch s.b[s.i] {
			case '"':
				end, _ := stringEnd(s.b, s.i+1)
				if end < 0 {
					return nil, false
				}
				s.i = end + 1
				continue
			case '{', '[':
				depth++
			default:
				depth--
				if depth == 0 {
					s.i++
					return s.b[start:s.i], true
				}
			}
			s.i++
		}
		return nil, false
	default:
		for s.i < len(s.b) && bytes.IndexByte([]byte(",}] \t\n\r"), s.b[s.i]) < 0 {
			s.i++
		}
	}
	return s.b[start:s.i], s.i > start
}

// ruleset splits the document; ok is false for any other shape.
func (s *scanner) ruleset() ([]object, bool) {
	if len(bytes.TrimSpace(s.b)) == 0 {
		return nil, true
	}
	if !s.byte('{') {
		return nil, false
	}
	if k, ok := s.str(); !ok || k != "nftables" || !s.byte(':') || !s.byte('[') {
		return nil, false
	}
	var objs []object
	if s.byte(']') {
		return objs, s.byte('}') && s.end()
	}
	for {
		if !s.byte('{') {
			return nil, false
		}
		k, ok := s.str()
		if !ok || k == "" || !s.byte(':') {
			return nil, false
		}
		v, ok := s.value()
		if !ok || !s.byte('}') {
			return nil, false // more than one key, or broken
		}
		objs = append(objs, object{kind: k, raw: json.RawMessage(v)})
		if s.byte(',') {
			continue
		}
		if s.byte(']') && s.byte('}') && s.end() {
			return objs, true
		}
		return nil, false
	}
}

func (s *scanner) end() bool {
	s.ws()
	return s.i == len(s.b)
}

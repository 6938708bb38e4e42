package iptables

import (
	"errors"
	"fmt"
	"strings"
)

// token is one word of a rule line, split the way iptables-restore splits
// it. A quoted word is always a value, whatever it looks like.
type token struct {
	text       string
	quoted     bool
	start, end int // byte span in the line, to cut counters out of Rule.Text
}

// tokenize splits a line as iptables-restore does: blanks separate words,
// double quotes group them, and inside quotes a backslash escapes the next
// character. A closing quote ends the word.
func tokenize(line string) ([]token, error) {
	var toks []token
	var cur []byte
	start, inWord, inQuote, escaped, quoted := 0, false, false, false, false
	emit := func(end int) {
		toks = append(toks, token{text: string(cur), quoted: quoted, start: start, end: end})
		cur, inWord, quoted = cur[:0], false, false
	}
	for i := 0; i < len(line); i++ {
		c := line[i]
		if !inWord {
			start, inWord = i, true
		}
		switch {
		case escaped:
			cur, escaped = append(cur, c), false
		case inQuote && c == '\\':
			escaped = true
		case inQuote && c == '"':
			inQuote = false
			emit(i + 1)
		case inQuote:
			cur = append(cur, c)
		case c == '"':
			inQuote, quoted = true, true
		case c == ' ' || c == '\t':
			if len(cur) > 0 {
				emit(i)
			}
			inWord = false
		default:
			cur = append(cur, c)
		}
	}
	if inQuote {
		return nil, errors.New("unbalanced quotes")
	}
	if len(cur) > 0 {
		emit(len(line))
	}
	return toks, nil
}

// option is one option with its arguments, e.g. "--dport" ["22"].
type option struct {
	name   string
	args   []string
	negate bool
}

// extension is a -m match or the -j/-g target with the options that
// follow it.
type extension struct {
	name string
	opts []option
}

// ruleSyntax is an -A line split into its parts, not yet interpreted.
type ruleSyntax struct {
	chain   string
	text    string   // the line without counters
	ip      []option // -s -d -i -o -p -f, by short name
	matches []*extension
	target  *extension // nil when the rule has no -j or -g
	isGoto  bool
}

// longNames maps the long forms of iptables' own options to the short ones
// iptables-save prints.
var longNames = map[string]string{
	"--append": "-A", "--source": "-s", "--src": "-s", "--destination": "-d",
	"--dst": "-d", "--in-interface": "-i", "--out-interface": "-o",
	"--protocol": "-p", "--fragment": "-f", "--match": "-m", "--jump": "-j",
	"--goto": "-g", "--set-counters": "-c",
}

func shortName(s string) string {
	if n, ok := longNames[s]; ok {
		return n
	}
	return s
}

// stringOptions take one argument that iptables-save leaves unquoted when
// it consists of letters, digits, '-' and '_', so it may look like an
// option (`--comment -j`). Other options take the words up to the next
// option.
var stringOptions = map[string]bool{
	"--comment": true, "--log-prefix": true, "--nflog-prefix": true,
	"--ulog-prefix": true, "--helper": true, "--nfacct-name": true,
	"--string": true, "--name": true, "--hashlimit-name": true,
	"--physdev-in": true, "--physdev-out": true, "--selctx": true,
	"--label": true, "--uid-owner": true, "--gid-owner": true,
}

// isOption reports whether an unquoted word starts a new option ("-j",
// "--dport", "!") rather than being a value ("-1" is a value).
func isOption(t token) bool {
	if t.quoted {
		return false
	}
	s := t.text
	return s == "!" || (len(s) >= 2 && s[0] == '-' && (s[1] < '0' || s[1] > '9'))
}

// parseRuleSyntax splits an -A line ("[pkts:bytes] " prefix allowed) into
// options; it only rejects what iptables-restore itself would refuse to
// read.
func parseRuleSyntax(line string) (*ruleSyntax, error) {
	if strings.HasPrefix(line, "[") {
		_, rest, ok := strings.Cut(line, "]")
		if !ok {
			return nil, errors.New("unterminated counters")
		}
		line = strings.TrimLeft(rest, " \t")
	}
	toks, err := tokenize(line)
	if err != nil {
		return nil, err
	}
	if len(toks) < 2 || toks[0].quoted || shortName(toks[0].text) != "-A" {
		return nil, fmt.Errorf("expected -A CHAIN, got %q", line)
	}
	rs := &ruleSyntax{chain: toks[1].text}
	p := ruleParser{rs: rs, toks: toks, pos: 2, seen: map[string]bool{}}
	if err := p.parse(); err != nil {
		return nil, err
	}
	rs.text = cutSpans(line, p.cuts)
	return rs, nil
}

type ruleParser struct {
	rs     *ruleSyntax
	toks   []token
	pos    int
	ext    *extension // where --options go: the last -m, -j or -g
	seen   map[string]bool
	cuts   [][2]int // spans of -c counters
	negate bool
}

func (p *ruleParser) parse() error {
	for p.pos < len(p.toks) {
		t := p.toks[p.pos]
		p.pos++
		if !isOption(t) {
			return fmt.Errorf("unexpected %q", t.text)
		}
		if t.text == "!" {
			if p.negate {
				return errors.New("double !")
			}
			p.negate = true
			continue
		}
		if err := p.option(t); err != nil {
			return err
		}
		p.negate = false
	}
	if p.negate {
		return errors.New("! at the end of the rule")
	}
	return nil
}

// option handles one option word and consumes its arguments.
func (p *ruleParser) option(t token) error {
	name := shortName(t.text)
	switch name {
	case "-s", "-d", "-i", "-o", "-p", "-f":
		if p.seen[name] {
			return fmt.Errorf("multiple %s options", name)
		}
		p.seen[name] = true
		var args []string
		if name != "-f" {
			arg, err := p.arg(name)
			if err != nil {
				return err
			}
			args = []string{arg}
		}
		p.rs.ip = append(p.rs.ip, option{name: name, args: args, negate: p.negate})
		return nil
	case "-c", "-m", "-j", "-g":
		if p.negate {
			return fmt.Errorf("%s cannot be negated", name)
		}
	}
	switch name {
	case "-c":
		if p.pos+2 > len(p.toks) {
			return errors.New("-c needs packet and byte counts")
		}
		p.cuts = append(p.cuts, [2]int{t.start, p.toks[p.pos+1].end})
		p.pos += 2
	case "-m":
		arg, err := p.arg(name)
		if err != nil {
			return err
		}
		p.ext = &extension{name: arg}
		p.rs.matches = append(p.rs.matches, p.ext)
	case "-j", "-g":
		if p.rs.target != nil {
			return errors.New("more than one -j or -g")
		}
		arg, err := p.arg(name)
		if err != nil {
			return err
		}
		p.ext = &extension{name: arg}
		p.rs.target, p.rs.isGoto = p.ext, name == "-g"
	default:
		if !strings.HasPrefix(name, "--") {
			return fmt.Errorf("unknown option %q", name)
		}
		if p.ext == nil {
			return fmt.Errorf("option %s before any -m or -j", name)
		}
		o := option{name: name, negate: p.negate}
		if stringOptions[name] {
			arg, err := p.arg(name)
			if err != nil {
				return err
			}
			o.args = []string{arg}
		} else {
			for p.pos < len(p.toks) && !isOption(p.toks[p.pos]) {
				o.args = append(o.args, p.toks[p.pos].text)
				p.pos++
			}
		}
		p.ext.opts = append(p.ext.opts, o)
	}
	return nil
}

// arg consumes the single argument of an option.
func (p *ruleParser) arg(name string) (string, error) {
	if p.pos >= len(p.toks) {
		return "", fmt.Errorf("%s needs an argument", name)
	}
	p.pos++
	return p.toks[p.pos-1].text, nil
}

// cutSpans removes byte spans (and the blank before each) from line.
func cutSpans(line string, spans [][2]int) string {
	var b strings.Builder
	last := 0
	for _, s := range spans {
		b.WriteString(strings.TrimRight(line[last:s[0]], " \t"))
		last = s[1]
	}
	b.WriteString(line[last:])
	return strings.TrimSpace(b.String())
}

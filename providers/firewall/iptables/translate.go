package iptables

import (
	"fmt"
	"net/netip"
	"strings"

	"github.com/portcheck/portcheck/providers/firewall"
)

// builder translates one parsed rule into the model. What the model cannot
// express exactly goes into Rule.Unsupported (the first such construct)
// and adds no match: a rule is never made wider or narrower than the
// kernel's.
type builder struct {
	family string
	table  *tableState
	rule   *firewall.Rule
	// proto is the protocol of a "-p" without "!", 0 when there is none;
	// port matches that depend on it take it as Match.Proto.
	proto uint8
}

// translate builds the model rule for a parsed -A line.
func translate(ts *tableState, family string, rs *ruleSyntax) (*firewall.Rule, error) {
	b := &builder{family: family, table: ts, rule: &firewall.Rule{Text: rs.text}}
	for _, o := range rs.ip {
		b.ipOption(o)
	}
	for _, m := range rs.matches {
		b.match(m)
	}
	if rs.target != nil {
		if err := b.target(rs.target, rs.isGoto); err != nil {
			return nil, err
		}
	}
	return b.rule, nil
}

func (b *builder) add(m firewall.Match) { b.rule.Matches = append(b.rule.Matches, m) }

// unsupported records a match the model cannot express: it only decides
// whether the rule applies.
func (b *builder) unsupported(format string, args ...any) {
	b.fail(true, fmt.Sprintf(format, args...))
}

// unsupportedEffect records a target or option that does something the
// model cannot follow.
func (b *builder) unsupportedEffect(format string, args ...any) {
	b.fail(false, fmt.Sprintf(format, args...))
}

// fail keeps the first unmodelled construct, or the first effect: an
// effect matters even when the rule has no verdict.
func (b *builder) fail(match bool, why string) {
	r := b.rule
	switch {
	case r.Unsupported == "":
		r.Unsupported, r.UnsupportedMatch = why, match
	case !match && r.UnsupportedMatch:
		r.Unsupported, r.UnsupportedMatch = why, false
	}
}

// unsupportedOption names an option of a known match or target that the
// model cannot express, e.g. `match "tcp": --tcp-option 2`.
func (b *builder) unsupportedOption(kind string, ext *extension, o option) {
	b.fail(kind == "match", fmt.Sprintf("%s %q: %s", kind, ext.name, optionText(o)))
}

func optionText(o option) string {
	s := strings.Join(append([]string{o.name}, o.args...), " ")
	if o.negate {
		s = "! " + s
	}
	return s
}

// oneArg returns the only argument of an option.
func oneArg(o option) (string, bool) {
	if len(o.args) != 1 {
		return "", false
	}
	return o.args[0], true
}

// ipOption translates -s, -d, -i, -o, -p and -f.
func (b *builder) ipOption(o option) {
	if o.name == "-f" {
		// A fragment other than the first: never the packets judged.
		b.add(firewall.Match{Field: firewall.FieldFragment, Negate: o.negate})
		return
	}
	arg := o.args[0]
	switch o.name {
	case "-s", "-d":
		p, ok := parsePrefix(b.family, arg)
		if !ok {
			b.unsupported("%s", optionText(o))
			return
		}
		field := firewall.FieldSaddr
		if o.name == "-d" {
			field = firewall.FieldDaddr
		}
		b.add(firewall.Match{Field: field, Negate: o.negate, Prefixes: []netip.Prefix{p}})
	case "-i", "-o":
		// iptables only knows the "+" wildcard; a trailing "*" is part of
		// the name, but the model would read it as nft's wildcard.
		if strings.HasSuffix(arg, "*") {
			b.unsupported("interface name %q", arg)
			return
		}
		field := firewall.FieldIIF
		if o.name == "-o" {
			field = firewall.FieldOIF
		}
		b.add(firewall.Match{Field: field, Negate: o.negate, Names: []string{arg}})
	case "-p":
		b.protocol(o, arg)
	}
}

func (b *builder) protocol(o option, arg string) {
	n, ok := parseProto(arg)
	switch {
	case !ok:
		b.unsupported("protocol %q", arg)
	case n == 0 && o.negate:
		b.unsupported("%s", optionText(o)) // iptables refuses it: it would never match
	case n == 0:
		// "all": no protocol test
	default:
		b.add(firewall.Match{Field: firewall.FieldL4Proto, Negate: o.negate, Ranges: []firewall.Range{{From: uint32(n), To: uint32(n)}}})
		if !o.negate {
			b.proto = n
		}
	}
}

// target sets the verdict (and mark) of -j NAME or -g NAME.
func (b *builder) target(t *extension, isGoto bool) error {
	for _, o := range t.opts {
		if o.negate { // no target takes a negated option
			b.unsupportedOption("target", t, o)
		}
	}
	v := &b.rule.Verdict
	if isGoto {
		if !b.table.userChain(t.name) {
			return fmt.Errorf("-g %s: no such user-defined chain", t.name)
		}
		v.Kind, v.Chain = firewall.VerdictGoto, t.name
		b.noOptions(t)
		return nil
	}
	if tr, ok := targets[t.name]; ok {
		tr(b, t)
		return nil
	}
	if noModelledEffect[t.name] {
		return nil // no verdict, nothing later rules see
	}
	if b.table.userChain(t.name) {
		v.Kind, v.Chain = firewall.VerdictJump, t.name
		b.noOptions(t)
		return nil
	}
	b.unsupportedEffect("target %q", t.name)
	return nil
}

// noOptions marks options of a target that takes none.
func (b *builder) noOptions(t *extension) {
	for _, o := range t.opts {
		b.unsupportedOption("target", t, o)
	}
}

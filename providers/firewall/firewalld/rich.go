package firewalld

import (
	"errors"
	"fmt"
	"net/netip"
	"slices"
	"strconv"
	"strings"
	"unicode"
)

// Rich rules arrive in two shapes: as text over D-Bus and as XML in zone
// files. XML rules are rendered into the text firewalld itself prints (its
// Rich_Rule.__str__), so runtime and permanent rules compare as strings;
// evaluation parses the text.

type xmlLimited struct {
	Limit []xmlValue `xml:"limit"`
}

type xmlLog struct {
	Prefix string     `xml:"prefix,attr"`
	Level  string     `xml:"level,attr"`
	Limit  []xmlValue `xml:"limit"`
}

type xmlNFLog struct {
	Group     string     `xml:"group,attr"`
	Prefix    string     `xml:"prefix,attr"`
	QueueSize string     `xml:"queue-size,attr"`
	Limit     []xmlValue `xml:"limit"`
}

type xmlReject struct {
	Type  string     `xml:"type,attr"`
	Limit []xmlValue `xml:"limit"`
}

type xmlMark struct {
	Set   string     `xml:"set,attr"`
	Limit []xmlValue `xml:"limit"`
}

type xmlRule struct {
	Family      string           `xml:"family,attr"`
	Priority    string           `xml:"priority,attr"`
	Source      []xmlAddr        `xml:"source"`
	Destination []xmlAddr        `xml:"destination"`
	Service     []xmlName        `xml:"service"`
	Port        []xmlPort        `xml:"port"`
	Protocol    []xmlValue       `xml:"protocol"`
	ICMPBlock   []xmlName        `xml:"icmp-block"`
	ICMPType    []xmlName        `xml:"icmp-type"`
	Masquerade  []struct{}       `xml:"masquerade"`
	ForwardPort []xmlForwardPort `xml:"forward-port"`
	SourcePort  []xmlPort        `xml:"source-port"`
	TCPMSSClamp []xmlValue       `xml:"tcp-mss-clamp"`
	Log         []xmlLog         `xml:"log"`
	NFLog       []xmlNFLog       `xml:"nflog"`
	Audit       []xmlLimited     `xml:"audit"`
	Accept      []xmlLimited     `xml:"accept"`
	Reject      []xmlReject      `xml:"reject"`
	Drop        []xmlLimited     `xml:"drop"`
	Mark        []xmlMark        `xml:"mark"`
}

// errSkipRule marks a rule firewalld logs a warning for and leaves out.
var errSkipRule = errors.New("invalid rule")

// canonical renders the rule as firewalld prints it. ok is false for a
// rule firewalld would leave out; err is set only where firewalld rejects
// the whole file (a priority that is not a number).
func (r xmlRule) canonical() (text string, ok bool, err error) {
	prio := 0
	if r.Priority != "" {
		if prio, err = strconv.Atoi(strings.TrimSpace(r.Priority)); err != nil {
			return "", false, fmt.Errorf("rule priority %q is not a number", r.Priority)
		}
	}
	parts, err := r.parts(prio)
	if err != nil {
		return "", false, nil
	}
	return strings.Join(parts, " "), true, nil
}

func (r xmlRule) parts(prio int) ([]string, error) {
	head, err := r.head(prio)
	if err != nil {
		return nil, err
	}
	elems, err := r.elements()
	if err != nil || len(elems) > 1 {
		return nil, errSkipRule
	}
	logText, err := r.logText()
	if err != nil {
		return nil, err
	}
	auditText, err := r.auditText()
	if err != nil {
		return nil, err
	}
	actions, err := r.actions()
	if err != nil || len(actions) > 1 {
		return nil, errSkipRule
	}
	shape := ruleShape{
		element:    len(elems) > 0,
		actionless: len(r.ForwardPort)+len(r.ICMPBlock)+len(r.Masquerade)+len(r.TCPMSSClamp) > 0,
		log:        logText != "",
		audit:      auditText != "",
		action:     len(actions) > 0,
		addressed:  len(r.Source)+len(r.Destination) > 0,
	}
	if !shape.valid(prio) {
		return nil, errSkipRule
	}
	var logs []string
	for _, t := range []string{logText, auditText} {
		if t != "" {
			logs = append(logs, t)
		}
	}
	return slices.Concat(head, elems, logs, actions), nil
}

// head renders "rule", priority, family, source and destination.
func (r xmlRule) head(prio int) ([]string, error) {
	if prio < -32768 || prio > 32767 {
		return nil, errSkipRule
	}
	parts := []string{"rule"}
	if prio != 0 {
		parts = append(parts, fmt.Sprintf(`priority="%d"`, prio))
	}
	switch r.Family {
	case "":
		if len(r.Destination) > 0 || len(r.ForwardPort) > 0 || (len(r.Source) > 0 && r.Source[0].Address != "") {
			return nil, errSkipRule // firewalld: missing family
		}
	case "ipv4", "ipv6":
		parts = append(parts, `family="`+r.Family+`"`)
	default:
		return nil, errSkipRule
	}
	if len(r.Source) > 1 {
		return nil, errSkipRule
	}
	for _, s := range r.Source {
		text, err := addrText("source", s, r.Family, true)
		if err != nil {
			return nil, err
		}
		parts = append(parts, text)
	}
	// A second destination is ignored, not an error.
	if len(r.Destination) > 0 {
		text, err := addrText("destination", r.Destination[0], r.Family, false)
		if err != nil {
			return nil, err
		}
		parts = append(parts, text)
	}
	return parts, nil
}

// ruleShape says which parts a rule has.
type ruleShape struct {
	element    bool
	actionless bool // an element that needs no action (forward-port, masquerade, …)
	log, audit bool
	action     bool
	addressed  bool // has a source or destination
}

// valid mirrors the structural checks of firewalld's Rich_Rule.check.
func (s ruleShape) valid(prio int) bool {
	if !s.element && (!s.log || prio == 0) && (!s.action || (!s.addressed && prio == 0)) {
		return false
	}
	return s.actionless || s.log || s.audit || s.action
}

func addrText(kind string, a xmlAddr, family string, macOK bool) (string, error) {
	not := ""
	if v := strings.ToLower(a.Invert); v == "yes" || v == "true" {
		not = " NOT"
	}
	switch {
	case a.Address != "" && (a.MAC != "" || a.IPSet != ""):
		return "", errSkipRule
	case a.Address != "":
		if p, ok := parsePrefix(a.Address); !ok || familyOf(p.Addr()) != family {
			return "", errSkipRule
		}
		return kind + not + attr("address", a.Address), nil
	case a.MAC != "" && macOK:
		return kind + not + attr("mac", a.MAC), nil
	case a.IPSet != "":
		return kind + not + attr("ipset", a.IPSet), nil
	}
	return "", errSkipRule
}

func (r xmlRule) elements() ([]string, error) {
	var out []string
	for _, s := range r.Service {
		out = append(out, "service"+attr("name", s.Name))
	}
	for _, p := range r.Port {
		out = append(out, "port"+attr("port", p.Port)+attr("protocol", p.Protocol))
	}
	for _, p := range r.Protocol {
		if p.Value == nil {
			return nil, errSkipRule
		}
		out = append(out, "protocol"+attr("value", *p.Value))
	}
	for _, b := range r.ICMPBlock {
		out = append(out, "icmp-block"+attr("name", b.Name))
	}
	for _, t := range r.ICMPType {
		out = append(out, "icmp-type"+attr("name", t.Name))
	}
	for range r.Masquerade {
		out = append(out, "masquerade")
	}
	for _, f := range r.ForwardPort {
		out = append(out, "forward-port"+attr("port", f.Port)+attr("protocol", f.Protocol)+optAttr("to-port", f.ToPort)+optAttr("to-addr", f.ToAddr))
	}
	for _, p := range r.SourcePort {
		out = append(out, "source-port"+attr("port", p.Port)+attr("protocol", p.Protocol))
	}
	for _, c := range r.TCPMSSClamp {
		value := "pmtu"
		if c.Value != nil && *c.Value != "None" {
			value = *c.Value
		}
		out = append(out, "tcp-mss-clamp"+attr("value", value))
	}
	return out, nil
}

// logText renders the rule's log or nflog; firewalld keeps the first and
// ignores further ones (with log before nflog here: the XML order of two
// different elements is not kept).
func (r xmlRule) logText() (string, error) {
	if len(r.Log) > 0 {
		l := r.Log[0]
		limit, err := limitText(l.Limit)
		return "log" + optAttr("prefix", l.Prefix) + optAttr("level", l.Level) + limit, err
	}
	if len(r.NFLog) > 0 {
		l := r.NFLog[0]
		limit, err := limitText(l.Limit)
		return "nflog" + optAttr("group", l.Group) + optAttr("prefix", l.Prefix) + optAttr("queue-size", l.QueueSize) + limit, err
	}
	return "", nil
}

func (r xmlRule) auditText() (string, error) {
	switch len(r.Audit) {
	case 0:
		return "", nil
	case 1:
		limit, err := limitText(r.Audit[0].Limit)
		return "audit" + limit, err
	}
	return "", errSkipRule
}

func (r xmlRule) actions() ([]string, error) {
	var out []string
	add := func(word string, ls []xmlValue) error {
		limit, err := limitText(ls)
		out = append(out, word+limit)
		return err
	}
	var errs []error
	for _, a := range r.Accept {
		errs = append(errs, add("accept", a.Limit))
	}
	for _, a := range r.Reject {
		errs = append(errs, add("reject"+optAttr("type", a.Type), a.Limit))
	}
	for _, a := range r.Drop {
		errs = append(errs, add("drop", a.Limit))
	}
	for _, a := range r.Mark {
		errs = append(errs, add("mark set="+a.Set, a.Limit)) // firewalld prints it unquoted
	}
	return out, errors.Join(errs...)
}

// attr renders ` name="value"` as firewalld does: quoted, never escaped.
func attr(name, value string) string { return " " + name + `="` + value + `"` }

func optAttr(name, value string) string {
	if value == "" {
		return ""
	}
	return attr(name, value)
}

// limitText renders an optional limit, shortening the unit as firewalld
// does ("3/minute" -> "3/m").
func limitText(ls []xmlValue) (string, error) {
	switch {
	case len(ls) == 0:
		return "", nil
	case len(ls) > 1 || ls[0].Value == nil:
		return "", errSkipRule
	}
	value := *ls[0].Value
	if rate, unit, ok := strings.Cut(value, "/"); ok && !strings.Contains(unit, "/") {
		switch unit {
		case "second", "minute", "hour", "day":
			value = rate + "/" + unit[:1]
		}
	}
	return " limit" + attr("value", value), nil
}

// richRule is the part of a rich rule that decides whether it applies to
// a packet to a local port.
type richRule struct {
	text     string
	family   string
	priority int
	source   *richAddr
	dest     *richAddr
	element  string            // "service", "port", …; "" matches any packet
	attrs    map[string]string // the element's attributes
	action   string            // "accept", "reject", "drop", "mark"; "" for log/audit only
}

type richAddr struct {
	not         bool
	kind, value string // kind: "address", "mac" or "ipset"
}

var richElements = map[string]bool{"service": true, "port": true, "protocol": true, "icmp-block": true,
	"icmp-type": true, "masquerade": true, "forward-port": true, "source-port": true, "tcp-mss-clamp": true}

// parseRichRule parses a rule in firewalld's text form.
func parseRichRule(text string) (*richRule, error) {
	tokens, err := richTokens(text)
	if err != nil {
		return nil, err
	}
	r := &richRule{text: text}
	ctx := ""
	for _, tok := range tokens {
		key, value, isAttr := strings.Cut(tok, "=")
		if !isAttr {
			if err := r.word(tok, &ctx); err != nil {
				return nil, err
			}
			continue
		}
		if err := r.attr(ctx, key, value); err != nil {
			return nil, err
		}
	}
	if ctx == "" {
		return nil, errors.New("empty rule")
	}
	return r, nil
}

// word handles a keyword; ctx is the element later attributes belong to.
func (r *richRule) word(w string, ctx *string) error {
	switch {
	case w == "rule" || w == "log" || w == "nflog" || w == "audit" || w == "limit":
	case w == "source":
		r.source = &richAddr{}
	case w == "destination":
		r.dest = &richAddr{}
	case w == "NOT" && *ctx == "source" && r.source != nil:
		r.source.not = true
		return nil
	case w == "NOT" && *ctx == "destination" && r.dest != nil:
		r.dest.not = true
		return nil
	case richElements[w]:
		if r.element != "" {
			return fmt.Errorf("second element %q", w)
		}
		r.element, r.attrs = w, map[string]string{}
	case w == "accept" || w == "reject" || w == "drop" || w == "mark":
		r.action = w
	default:
		return fmt.Errorf("unknown keyword %q", w)
	}
	*ctx = w
	return nil
}

func (r *richRule) attr(ctx, key, value string) error {
	switch {
	case ctx == "rule" && key == "family":
		r.family = value
	case ctx == "rule" && key == "priority":
		p, err := strconv.Atoi(value)
		if err != nil {
			return fmt.Errorf("priority %q", value)
		}
		r.priority = p
	case ctx == "source" && r.source != nil:
		r.source.kind, r.source.value = key, value
	case ctx == "destination" && r.dest != nil:
		r.dest.kind, r.dest.value = key, value
	case ctx == r.element && ctx != "":
		r.attrs[key] = value
	case ctx == "":
		return fmt.Errorf("attribute %s before any keyword", key)
	}
	return nil // attributes of log, limit and actions do not matter here
}

// richTokens splits like firewalld's shlex.split: on blanks outside double
// quotes, quotes removed.
func richTokens(s string) ([]string, error) {
	var tokens []string
	var cur strings.Builder
	quoted, inToken := false, false
	for _, c := range s {
		switch {
		case c == '"':
			quoted, inToken = !quoted, true
		case unicode.IsSpace(c) && !quoted:
			if inToken {
				tokens = append(tokens, cur.String())
				cur.Reset()
				inToken = false
			}
		default:
			cur.WriteRune(c)
			inToken = true
		}
	}
	if quoted {
		return nil, errors.New("unbalanced quotes")
	}
	if inToken {
		tokens = append(tokens, cur.String())
	}
	return tokens, nil
}

// parsePrefix parses a firewalld address: "A", "A/BITS" or, for IPv4,
// "A/NETMASK".
func parsePrefix(s string) (netip.Prefix, bool) {
	addrText, maskText, hasMask := strings.Cut(s, "/")
	addr, err := netip.ParseAddr(addrText)
	if err != nil || addr.Zone() != "" {
		return netip.Prefix{}, false
	}
	addr = addr.Unmap()
	bits := addr.BitLen()
	if hasMask {
		if bits, err = strconv.Atoi(maskText); err != nil {
			if bits, err = netmaskBits(maskText); err != nil || !addr.Is4() {
				return netip.Prefix{}, false
			}
		}
	}
	p, err := addr.Prefix(bits)
	return p, err == nil
}

// netmaskBits turns a contiguous dotted IPv4 netmask into a prefix length.
func netmaskBits(s string) (int, error) {
	m, err := netip.ParseAddr(s)
	if err != nil || !m.Is4() {
		return 0, fmt.Errorf("netmask %q", s)
	}
	b := m.As4()
	v := uint32(b[0])<<24 | uint32(b[1])<<16 | uint32(b[2])<<8 | uint32(b[3])
	ones := 0
	for v&(1<<31) != 0 {
		v <<= 1
		ones++
	}
	if v != 0 {
		return 0, fmt.Errorf("netmask %q is not contiguous", s)
	}
	return ones, nil
}

func familyOf(a netip.Addr) string {
	if a.Unmap().Is4() {
		return "ipv4"
	}
	return "ipv6"
}

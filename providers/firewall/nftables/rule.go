package nftables

import (
	"fmt"
	"net/netip"
	"reflect"
	"slices"
	"strings"

	"github.com/portcheck/portcheck/providers/firewall"
)

// ruleBuilder translates one rule's statements in order.
type ruleBuilder struct {
	t *tableState
	r *firewall.Rule
	// final is set once a statement that ends the rule's evaluation (a
	// verdict, nat, reject, vmap) was seen.
	final bool
	// why is the first construct the model cannot express; whyMatch says
	// it only decides whether the rule applies (a match).
	why      string
	whyMatch bool
}

// translate fills r from the rule's expressions. A rule with a construct
// the model cannot express keeps its handle, text, Unsupported and the
// matches before that construct: the kernel evaluates expressions in
// order, so a packet one of them rules out never reaches it (firewalld's
// IPv6-only rp_filter rule, "meta nfproto ipv6 fib saddr . mark . iif oif
// missing drop", must not make every IPv4 verdict indeterminate). A packet
// that passes them gets an indeterminate verdict. The statements after an
// unmodelled match are still read for the rule's verdict and effects: a
// rule without either changes nothing, match or not (a LOG rule behind
// "-m limit"), and is skipped.
func (t *tableState) translate(r *firewall.Rule, exprs []any) (xt bool, err error) {
	b := &ruleBuilder{t: t, r: r}
	for i, e := range exprs {
		obj, _ := e.(map[string]any)
		key, val, ok := single(obj)
		if !ok {
			return xt, fmt.Errorf("statement %d is not a one-key object", i)
		}
		// One compat expression makes the whole table iptables-nft's.
		xt = xt || key == "xt"
		isMatch := matchLike(key, val)
		if b.why != "" && (isMatch || !b.whyMatch) {
			continue // after an unmodelled match only statements matter
		}
		why, err := b.statement(key, val)
		if err != nil {
			return xt, fmt.Errorf("statement %d (%s): %w", i, key, err)
		}
		if why != "" {
			// The dependencies the construct added before failing stay:
			// nft checks them first, so they still rule packets out.
			if b.why == "" {
				b.why, b.whyMatch = why, isMatch
			} else {
				b.why, b.whyMatch = why, false // an effect is unmodelled too
			}
		}
	}
	if b.why != "" {
		r.Unsupported, r.UnsupportedMatch = b.why, b.whyMatch
	}
	return xt, nil
}

// matchLike reports whether a statement only decides whether the rule
// goes on (a match, a rate or quota test), as opposed to acting.
func matchLike(key string, val any) bool {
	switch key {
	case "match", "limit", "quota", "ct count", "meter":
		return true
	case "xt":
		x, _ := val.(map[string]any)
		return x["type"] == "match"
	}
	return false
}

// statement translates one statement; it returns why the rule cannot be
// modelled, or "".
func (b *ruleBuilder) statement(key string, val any) (string, error) {
	switch key {
	case "counter", "log", "last", "flow", "ct helper", "ct timeout", "ct expectation", "secmark", "dup":
		// No effect on the verdict of a connection's first packet or on
		// anything a rule tests: flow offload only takes established
		// connections, a helper or timeout policy applies to the
		// connection, dup sends a copy elsewhere.
		return "", nil
	}
	if b.final {
		return fmt.Sprintf("expression %q after the verdict", key), nil
	}
	switch key {
	case "match":
		return b.match(val)
	case "accept", "drop", "return", "continue", "jump", "goto", "queue":
		v, why, err := verdict(key, val)
		if err != nil || why != "" {
			return why, err
		}
		return b.verdict(v), nil
	case "reject":
		return b.reject(val)
	case "dnat", "snat", "masquerade", "redirect":
		return b.nat(key, val)
	case "vmap":
		return b.vmap(val)
	case "mangle":
		return b.mangle(val)
	case "limit", "quota", "ct count", "meter":
		return b.rateMatch(key, val)
	case "xt":
		x, _ := val.(map[string]any)
		return fmt.Sprintf("iptables extension %q (read this table with iptables-nft-save)", describe(x["name"])), nil
	case "set", "map":
		return b.setUpdate(key, val)
	}
	return fmt.Sprintf("expression %q", key), nil
}

func (b *ruleBuilder) verdict(v firewall.Verdict) string {
	b.r.Verdict = v
	b.final = true
	return ""
}

// require adds a match the rule's evaluation depends on, unless the rule
// already has it.
func (b *ruleBuilder) require(m firewall.Match) string {
	for _, x := range b.r.Matches {
		if reflect.DeepEqual(x, m) {
			return ""
		}
	}
	return b.add(m)
}

// add appends a match. A match after "meta mark set" has no model: the
// mark is set even when the match fails.
func (b *ruleBuilder) add(m firewall.Match) string {
	if b.r.MarkSet != nil {
		return `match after "meta mark set"`
	}
	b.r.Matches = append(b.r.Matches, m)
	return ""
}

// requireFirst puts a dependency nft checks at the start of the rule (a
// reject's protocol) before the other matches, unless a match already
// implies it. Being first, it is never "after meta mark set".
func (b *ruleBuilder) requireFirst(m firewall.Match) {
	for _, x := range b.r.Matches {
		if reflect.DeepEqual(x, m) || impliesProto(x, m) {
			return
		}
	}
	b.r.Matches = append([]firewall.Match{m}, b.r.Matches...)
}

// impliesProto: "tcp dport 22" already requires l4proto tcp.
func impliesProto(x, dep firewall.Match) bool {
	if dep.Field != firewall.FieldL4Proto || len(dep.Ranges) != 1 || dep.Ranges[0].From != dep.Ranges[0].To {
		return false
	}
	return x.Proto != 0 && uint32(x.Proto) == dep.Ranges[0].From
}

// requireFamily adds nft's meta nfproto dependency when the table's family
// does not already imply it.
func (b *ruleBuilder) requireFamily(nfproto string) string {
	if nfproto == "" || nfproto == b.t.nfproto() {
		return ""
	}
	return b.require(firewall.Match{Field: firewall.FieldNfproto, Names: []string{nfproto}})
}

func (b *ruleBuilder) match(val any) (string, error) {
	m, ok := val.(map[string]any)
	if !ok {
		return "", fmt.Errorf("match is not an object")
	}
	left, lok := m["left"]
	right, rok := m["right"]
	op, opok := m["op"].(string)
	if !lok || !rok || (!opok && m["op"] != nil) {
		return "", fmt.Errorf("match %s: want left, right and a string op", describe(val))
	}
	if l, _ := left.(map[string]any); l["concat"] != nil && len(l) == 1 {
		return b.concatMatch(l["concat"], op, right)
	}
	spec, why, err := b.t.field(left)
	if err != nil || why != "" {
		return why, err
	}
	if why := b.requireFamily(spec.nfproto); why != "" {
		return why, nil
	}
	mt := firewall.Match{Field: spec.field, Proto: spec.proto, Mask: spec.mask}
	switch spec.kind {
	case kindBool:
		return b.presence(mt, spec, op, right), nil
	case kindFragOff:
		// frag-off & 0x1fff == 0: not a fragment; != 0: a fragment.
		n, why := kindNumber(right, 0xffff)
		if why != "" || n != 0 || (op != "==" && op != "!=") {
			return fmt.Sprintf("match %q", describe(left)+" "+op+" "+describe(right)), nil
		}
		mt.Mask, mt.Negate = 0, op == "=="
		return b.add(mt), nil
	case kindTCPFlags:
		if why := flagsOperand(&mt, op, right); why != "" {
			return why, nil
		}
		return b.add(mt), nil
	}
	if spec.field == firewall.FieldNumgen {
		// numgen compared with a number: a random (or per-packet
		// counter) choice, followed both ways.
		return b.add(firewall.Match{Field: firewall.FieldRandom}), nil
	}
	if why := b.t.operand(&mt, spec, op, right); why != "" {
		return why, nil
	}
	return b.add(mt), nil
}

// presence translates an existence test (exthdr NAME exists/missing, fib
// … oif missing, meta ipsec exists) and a test of an extension header's
// field, which needs the header: it fails without it, negated or not.
func (b *ruleBuilder) presence(mt firewall.Match, spec fieldSpec, op string, right any) string {
	if spec.field == firewall.FieldExtHdr {
		mt.Names = []string{spec.ext}
		if spec.extField {
			return b.add(mt)
		}
	}
	want, ok := right.(bool)
	if !ok || (op != "==" && op != "!=" && op != "") {
		return fmt.Sprintf("match %q", describe(right))
	}
	mt.Names = append(mt.Names, spec.rpf...)
	mt.Negate = !want != (op == "!=")
	return b.add(mt)
}

// flagsOperand fills a tcp flags match. nft's operators on a bitmask: a
// flag or flag list alone ("tcp flags syn", op in) tests that any of them
// is set; "==" and "!=" compare the (masked) byte; "!" tests that none is
// set; a set lists exact values.
func flagsOperand(mt *firewall.Match, op string, right any) string {
	if r, ok := right.(map[string]any); ok && r["set"] != nil && len(r) == 1 {
		var vs valueSet
		if why := addElements(&vs, kindTCPFlags, r["set"]); why != "" {
			return why
		}
		switch op {
		case "!=":
			mt.Negate = true
		case "==", "", "in":
		default:
			return fmt.Sprintf("operator %q on a set of tcp flags", op)
		}
		mt.Ranges = vs.ranges
		return ""
	}
	v, why := kindTCPFlags.number(right)
	if why != "" {
		return why
	}
	switch op {
	case "in", "":
		// (flags & V) != 0, within the mask if any.
		if mt.Mask != 0 {
			v &= mt.Mask
		}
		mt.Mask, mt.Ranges, mt.Negate = v, []firewall.Range{{From: 0, To: 0}}, true
	case "!":
		if mt.Mask != 0 {
			v &= mt.Mask
		}
		mt.Mask, mt.Ranges = v, []firewall.Range{{From: 0, To: 0}}
	case "==", "!=":
		mt.Ranges, mt.Negate = []firewall.Range{{From: v, To: v}}, op == "!="
	default:
		return fmt.Sprintf("operator %q on tcp flags", op)
	}
	if mt.Mask == 0 && (op == "in" || op == "" || op == "!") {
		return fmt.Sprintf("tcp flags test of no flag %q", describe(right))
	}
	return ""
}

// concatParts resolves the fields of a concatenated key and adds the
// dependencies nft adds for each (meta nfproto for an ip field in an inet
// table, meta l4proto for a tcp port).
func (b *ruleBuilder) concatParts(list any) ([]firewall.KeyField, []kind, string, error) {
	items, ok := list.([]any)
	if !ok || len(items) < 2 {
		return nil, nil, "", fmt.Errorf("concat %s is not a list of two or more", describe(list))
	}
	var parts []firewall.KeyField
	var kinds []kind
	for _, it := range items {
		spec, why, err := b.t.field(it)
		if err != nil || why != "" {
			return nil, nil, why, err
		}
		if why := b.requireFamily(spec.nfproto); why != "" {
			return nil, nil, why, nil
		}
		if spec.proto != 0 {
			if why := b.require(firewall.Match{Field: firewall.FieldL4Proto, Ranges: []firewall.Range{{From: uint32(spec.proto), To: uint32(spec.proto)}}}); why != "" {
				return nil, nil, why, nil
			}
		}
		if spec.mask != 0 || spec.kind == kindBool || spec.kind == kindFragOff || spec.field == firewall.FieldNumgen {
			return nil, nil, fmt.Sprintf("concatenated key part %q", describe(it)), nil
		}
		parts = append(parts, firewall.KeyField{Field: spec.field, Proto: spec.proto})
		kinds = append(kinds, spec.kind)
	}
	return parts, kinds, "", nil
}

// concatMatch translates a lookup of a concatenated key in a named set or
// an anonymous set of tuples.
func (b *ruleBuilder) concatMatch(list any, op string, right any) (string, error) {
	parts, kinds, why, err := b.concatParts(list)
	if err != nil || why != "" {
		return why, err
	}
	mt := firewall.Match{Field: firewall.FieldConcat, Concat: parts}
	switch op {
	case "==", "", "in":
	case "!=":
		mt.Negate = true
	default:
		return fmt.Sprintf("operator %q on a concatenated key", op), nil
	}
	if name, ok := setRef(right); ok {
		s := b.t.sets[name]
		switch {
		case s == nil:
			return fmt.Sprintf("lookup in unknown set %q", name), nil
		case s.set.Map != "":
			return fmt.Sprintf("lookup in map %q", name), nil
		case s.bad != "":
			return s.bad, nil
		case !slices.Equal(s.kinds, kinds):
			return fmt.Sprintf("set %q of type %q for this key", name, s.set.Type), nil
		}
		mt.Set = name
		return b.add(mt), nil
	}
	elems := right
	if r, ok := right.(map[string]any); ok && r["set"] != nil && len(r) == 1 {
		elems = r["set"]
	}
	list2, ok := elems.([]any)
	if !ok {
		list2 = []any{elems}
	}
	for _, e := range list2 {
		ts, why := tupleValues(kinds, e)
		if why != "" {
			return why, nil
		}
		mt.Tuples = append(mt.Tuples, ts...)
	}
	return b.add(mt), nil
}

// tupleValues converts one element of a set with a concatenated key
// ({"concat": [...]}, maybe wrapped in "elem") into tuples: one, or
// several when a part is an address range that no single prefix covers.
func tupleValues(kinds []kind, e any) ([][]firewall.Value, string) {
	obj, _ := e.(map[string]any)
	if el, ok := obj["elem"].(map[string]any); ok && len(obj) == 1 {
		return tupleValues(kinds, el["val"])
	}
	items, _ := obj["concat"].([]any)
	if len(items) != len(kinds) || len(obj) != 1 {
		return nil, fmt.Sprintf("element %q of a %d-part key", describe(e), len(kinds))
	}
	out := [][]firewall.Value{nil}
	for i, it := range items {
		var vs valueSet
		if why := kinds[i].add(&vs, it); why != "" {
			return nil, why
		}
		var alts []firewall.Value
		for _, p := range vs.prefixes {
			alts = append(alts, firewall.Value{Prefix: &p})
		}
		for _, r := range vs.ranges {
			alts = append(alts, firewall.Value{Range: &r})
		}
		for _, n := range vs.names {
			alts = append(alts, firewall.Value{Name: n})
		}
		var next [][]firewall.Value
		for _, t := range out {
			for _, a := range alts {
				next = append(next, append(slices.Clone(t), a))
			}
		}
		out = next
	}
	return out, ""
}

// operand fills the match's values from the operator and right-hand side.
func (t *tableState) operand(mt *firewall.Match, spec fieldSpec, op string, right any) string {
	// ct status is a bitmask that also holds flags nft has no name for
	// (the NAT "done" bits), so only a flag test can be modelled.
	if spec.kind == kindCTStatus && op != "in" && op != "" {
		return fmt.Sprintf("operator %q on ct status", op)
	}
	switch op {
	case "!=":
		mt.Negate = true
	case "<", ">", "<=", ">=":
		return comparison(mt, spec, op, right)
	case "", "==", "in":
	default:
		return fmt.Sprintf("operator %q", op)
	}
	if name, ok := setRef(right); ok {
		return t.useSet(mt, spec, name)
	}
	var vs valueSet
	switch r := right.(type) {
	case []any:
		// A list is a combination of flags: "ct state established,related"
		// tests whether the state is one of them (op "in"); compared with
		// == or != it is the combined value, which no state equals.
		if (spec.kind != kindCTState && spec.kind != kindCTStatus) || (op != "in" && op != "") {
			return fmt.Sprintf("flag list %q", describe(right))
		}
		for _, e := range r {
			if why := spec.kind.add(&vs, e); why != "" {
				return why
			}
		}
	case map[string]any:
		if elems, ok := r["set"]; ok && len(r) == 1 {
			if why := addElements(&vs, spec.kind, elems); why != "" {
				return why
			}
			break
		}
		if why := spec.kind.add(&vs, r); why != "" {
			return why
		}
	default:
		if why := spec.kind.add(&vs, r); why != "" {
			return why
		}
	}
	if vs.empty() {
		return "match on an empty set"
	}
	mt.Prefixes, mt.Ranges, mt.Names = vs.prefixes, vs.ranges, vs.names
	return ""
}

// comparison turns "tcp dport < 1024" into the range it means.
func comparison(mt *firewall.Match, spec fieldSpec, op string, right any) string {
	nk, ok := numeric[spec.kind]
	if !ok {
		return fmt.Sprintf("operator %q", op)
	}
	n, why := spec.kind.number(right)
	if why != "" {
		return why
	}
	r := firewall.Range{From: 0, To: nk.max}
	switch {
	case op == "<" && n == 0, op == ">" && n == nk.max:
		return fmt.Sprintf("comparison %s %d that never holds", op, n)
	case op == "<":
		r.To = n - 1
	case op == "<=":
		r.To = n
	case op == ">":
		r.From = n + 1
	case op == ">=":
		r.From = n
	}
	mt.Ranges = []firewall.Range{r}
	return ""
}

// useSet points the match at a named set of the table.
func (t *tableState) useSet(mt *firewall.Match, spec fieldSpec, name string) string {
	s := t.sets[name]
	switch {
	case s == nil:
		return fmt.Sprintf("lookup in unknown set %q", name)
	case s.set.Map != "":
		return fmt.Sprintf("lookup in map %q", name)
	case s.bad != "":
		return s.bad
	case s.kind != spec.kind:
		return fmt.Sprintf("set %q of type %q for this match", name, s.set.Type)
	}
	mt.Set = name
	return ""
}

// setRef reads a named set reference ("@name").
func setRef(v any) (string, bool) {
	s, ok := v.(string)
	if !ok || !strings.HasPrefix(s, "@") {
		return "", false
	}
	return s[1:], true
}

// addElements converts an anonymous or named set's element list (a single
// element may come unwrapped).
func addElements(vs *valueSet, k kind, elems any) string {
	list, ok := elems.([]any)
	if !ok {
		list = []any{elems}
	}
	for _, e := range list {
		if why := k.add(vs, e); why != "" {
			return why
		}
	}
	return ""
}

// verdict translates a verdict statement or a verdict map's data.
func verdict(key string, val any) (firewall.Verdict, string, error) {
	switch key {
	case "accept":
		return firewall.Verdict{Kind: firewall.VerdictAccept}, "", nil
	case "drop":
		return firewall.Verdict{Kind: firewall.VerdictDrop}, "", nil
	case "return":
		return firewall.Verdict{Kind: firewall.VerdictReturn}, "", nil
	case "continue":
		return firewall.Verdict{Kind: firewall.VerdictNone}, "", nil
	case "queue":
		return firewall.Verdict{Kind: firewall.VerdictQueue}, "", nil
	case "jump", "goto":
		args, _ := val.(map[string]any)
		target, ok := args["target"].(string)
		if !ok || target == "" {
			return firewall.Verdict{}, "", fmt.Errorf("%s without a target chain", key)
		}
		kind := firewall.VerdictJump
		if key == "goto" {
			kind = firewall.VerdictGoto
		}
		return firewall.Verdict{Kind: kind, Chain: target}, "", nil
	}
	return firewall.Verdict{}, fmt.Sprintf("verdict %q", key), nil
}

// reject translates a reject statement. Its implied dependencies become
// matches: tcp reset only applies to tcp, and in an inet table an icmp
// (icmpv6) reject only to IPv4 (IPv6).
func (b *ruleBuilder) reject(val any) (string, error) {
	var typ string
	var code any
	if val != nil {
		args, ok := val.(map[string]any)
		if !ok {
			return "", fmt.Errorf("reject is not an object")
		}
		typ, _ = args["type"].(string)
		code = args["expr"]
	}
	if typ == "" {
		typ = map[string]string{firewall.FamilyIP: "icmp", firewall.FamilyIP6: "icmpv6"}[b.t.table.Family]
		if typ == "" {
			typ = "icmpx"
		}
	}
	var why string
	switch typ {
	case "tcp reset":
		b.requireFirst(firewall.Match{Field: firewall.FieldL4Proto, Ranges: []firewall.Range{{From: 6, To: 6}}})
	case "icmp":
		why = b.requireFamily("ipv4")
	case "icmpv6":
		why = b.requireFamily("ipv6")
	case "icmpx":
	default:
		return fmt.Sprintf("statement %q", "reject with "+typ), nil
	}
	if why != "" {
		return why, nil
	}
	reason := typ
	if typ != "tcp reset" {
		if code == nil {
			code = "port-unreachable"
		}
		reason += " " + describe(code)
	}
	return b.verdict(firewall.Verdict{Kind: firewall.VerdictReject, Reject: reason}), nil
}

// nat translates dnat, redirect, snat and masquerade. A family on the
// statement restricts it: the kernel skips it for other packets.
func (b *ruleBuilder) nat(key string, val any) (string, error) {
	args, ok := val.(map[string]any)
	if !ok && val != nil {
		return "", fmt.Errorf("%s is not an object", key)
	}
	for k := range args {
		if k != "family" && k != "addr" && k != "port" && k != "flags" {
			return fmt.Sprintf("statement %q with %q", key, k), nil
		}
	}
	if f, ok := args["family"]; ok {
		nfproto := map[any]string{firewall.FamilyIP: "ipv4", firewall.FamilyIP6: "ipv6"}[f]
		if nfproto == "" {
			return fmt.Sprintf("statement %q", key+" "+describe(f)), nil
		}
		if why := b.requireFamily(nfproto); why != "" {
			return why, nil
		}
	}
	if key == "snat" || key == "masquerade" {
		return b.verdict(firewall.Verdict{Kind: firewall.VerdictSNAT}), nil
	}
	v := firewall.Verdict{Kind: firewall.VerdictDNAT}
	if key == "redirect" {
		v.Kind = firewall.VerdictRedirect
	}
	if addr, ok := args["addr"]; ok {
		a, why := natAddr(key, addr)
		if why == "" {
			why = b.requireFamily(addrFamily(a))
		}
		if why != "" {
			return why, nil
		}
		v.NATAddr = a
	}
	if port, ok := args["port"]; ok {
		n, why := kindPort.number(port)
		if why != "" || n == 0 {
			return fmt.Sprintf("statement %q", key+" to port "+describe(port)), nil
		}
		v.NATPort = uint16(n)
	}
	return b.verdict(v), nil
}

// natAddr reads a nat statement's single new address; ranges, prefixes
// and maps pick one of several.
func natAddr(key string, v any) (netip.Addr, string) {
	s, _ := v.(string)
	a, err := netip.ParseAddr(s)
	if key == "redirect" || err != nil || a.Zone() != "" {
		return netip.Addr{}, fmt.Sprintf("statement %q", key+" to "+describe(v))
	}
	return a, ""
}

func addrFamily(a netip.Addr) string {
	if a.Is4() {
		return "ipv4"
	}
	return "ipv6"
}

// vmap translates a verdict map statement: on one field, on a
// concatenated key (kube-proxy's "ip daddr . meta l4proto . th dport vmap
// @service-ips"), or on a numgen (kube-proxy's random pick of an
// endpoint, followed every way).
func (b *ruleBuilder) vmap(val any) (string, error) {
	args, ok := val.(map[string]any)
	if !ok {
		return "", fmt.Errorf("vmap is not an object")
	}
	key, data := args["key"], args["data"]
	var v firewall.Verdict
	var kinds []kind
	var keyKind kind
	if k, _ := key.(map[string]any); k["concat"] != nil && len(k) == 1 {
		parts, ks, why, err := b.concatParts(k["concat"])
		if err != nil || why != "" {
			return why, err
		}
		v = firewall.Verdict{Kind: firewall.VerdictVmap, Key: firewall.FieldConcat, Concat: parts}
		kinds = ks
	} else {
		spec, why, err := b.t.field(key)
		if err != nil || why != "" {
			return why, err
		}
		switch {
		case spec.mask != 0 || spec.kind == kindBool || spec.kind == kindFragOff:
			return fmt.Sprintf("verdict map on %q", describe(key)), nil
		case spec.field == firewall.FieldMark && b.r.MarkSet != nil:
			return `verdict map on the mark after "meta mark set"`, nil
		}
		// An address key needs no family dependency: an address of the
		// other family never equals an element, so the lookup just finds
		// nothing.
		if spec.field != firewall.FieldSaddr && spec.field != firewall.FieldDaddr {
			if why := b.requireFamily(spec.nfproto); why != "" {
				return why, nil
			}
		}
		v = firewall.Verdict{Kind: firewall.VerdictVmap, Key: spec.field, KeyProto: spec.proto, Mod: spec.mod, Offset: spec.offset}
		keyKind = spec.kind
	}
	if name, ok := setRef(data); ok {
		s := b.t.sets[name]
		switch {
		case s == nil || s.set.Map != "verdict":
			return fmt.Sprintf("verdict map lookup in %q", name), nil
		case s.bad != "":
			return s.bad, nil
		case kinds != nil && !slices.Equal(s.kinds, kinds), kinds == nil && s.kind != keyKind:
			return fmt.Sprintf("map %q of type %q for this key", name, s.set.Type), nil
		}
		v.Map = name
		return b.verdict(v), nil
	}
	d, _ := data.(map[string]any)
	elems, ok := d["set"]
	if !ok || len(d) != 1 {
		return "", fmt.Errorf("vmap data %s is neither a map name nor a set", describe(data))
	}
	els, why, err := mapElements(keyKind, kinds, elems)
	if err != nil || why != "" {
		return why, err
	}
	v.Elements = els
	return b.verdict(v), nil
}

// mapElements converts verdict map elements, each a [key, verdict] pair;
// kinds are the parts of a concatenated key, else k is the key's kind.
func mapElements(k kind, kinds []kind, elems any) ([]firewall.MapElement, string, error) {
	list, ok := elems.([]any)
	if !ok {
		return nil, "", fmt.Errorf("map elements %s are not a list", describe(elems))
	}
	var out []firewall.MapElement
	for _, e := range list {
		pair, ok := e.([]any)
		if !ok || len(pair) != 2 {
			return nil, "", fmt.Errorf("map element %s is not a [key, value] pair", describe(e))
		}
		obj, _ := pair[1].(map[string]any)
		vk, vv, ok := single(obj)
		if !ok {
			return nil, "", fmt.Errorf("map element %s: verdict is not a one-key object", describe(e))
		}
		v, why, err := verdict(vk, vv)
		if err != nil || why != "" {
			return nil, why, err
		}
		if kinds != nil {
			ts, why := tupleValues(kinds, pair[0])
			if why != "" {
				return nil, why, nil
			}
			for _, t := range ts {
				out = append(out, firewall.MapElement{Tuple: t, Verdict: v})
			}
			continue
		}
		var vs valueSet
		if why := k.add(&vs, pair[0]); why != "" {
			return nil, why, nil
		}
		for _, p := range vs.prefixes {
			out = append(out, firewall.MapElement{Prefix: &p, Verdict: v})
		}
		for _, r := range vs.ranges {
			out = append(out, firewall.MapElement{Range: &r, Verdict: v})
		}
		for _, n := range vs.names {
			out = append(out, firewall.MapElement{Name: n, Verdict: v})
		}
	}
	return out, "", nil
}

// mangle handles "meta mark set EXPR" where EXPR is a constant or the
// mark combined with constants (| & ^): a MarkOp. Changes of fields the
// model does not read (ct mark, dscp, ttl, nftrace, a TCP option) change
// nothing a modelled rule tests, and a later test of them is Unsupported
// anyway, so they are left out; changes of fields it reads (addresses,
// ports, a mark from elsewhere, the conntrack zone) make the rule
// Unsupported.
func (b *ruleBuilder) mangle(val any) (string, error) {
	args, ok := val.(map[string]any)
	if !ok {
		return "", fmt.Errorf("mangle is not an object")
	}
	target := describe(args["key"])
	if target != "meta mark" {
		if noModelledEffect[target] || strings.HasPrefix(target, "tcp option ") {
			return "", nil
		}
		return fmt.Sprintf("statement %q", target+" set"), nil
	}
	op, ok := markExpr(args["value"])
	if !ok {
		return fmt.Sprintf("statement %q", "meta mark set "+describe(args["value"])), nil
	}
	if b.r.MarkSet != nil {
		op = firewall.MarkOp{And: b.r.MarkSet.And & op.And, Xor: (b.r.MarkSet.Xor & op.And) ^ op.Xor}
	}
	b.r.MarkSet = &op
	return "", nil
}

// noModelledEffect are the targets of "… set" that no modelled match
// reads.
var noModelledEffect = map[string]bool{
	"meta nftrace": true, "meta priority": true, "meta secmark": true,
	"ct mark": true, "ct label": true, "ct secmark": true,
	"ip dscp": true, "ip6 dscp": true, "ip ecn": true, "ip6 ecn": true,
	"ip ttl": true, "ip6 hoplimit": true, "ip checksum": true,
}

// markExpr reads a mark value as an operation on the old mark: a
// constant, "meta mark", or one combined with a constant by &, | or ^.
func markExpr(v any) (firewall.MarkOp, bool) {
	if n, why := kindMark.number(v); why == "" {
		return firewall.MarkOp{And: 0, Xor: n}, true
	}
	obj, _ := v.(map[string]any)
	key, val, ok := single(obj)
	if !ok {
		return firewall.MarkOp{}, false
	}
	if key == "meta" {
		if m, _ := val.(map[string]any); m["key"] == "mark" && len(m) == 1 {
			return firewall.MarkOp{And: ^uint32(0)}, true
		}
		return firewall.MarkOp{}, false
	}
	ops, _ := val.([]any)
	if len(ops) != 2 {
		return firewall.MarkOp{}, false
	}
	inner, ok := markExpr(ops[0])
	c, why := kindMark.number(ops[1])
	if !ok || why != "" {
		return firewall.MarkOp{}, false
	}
	switch key {
	case "&":
		return firewall.MarkOp{And: inner.And & c, Xor: inner.Xor & c}, true
	case "|":
		return firewall.MarkOp{And: inner.And &^ c, Xor: inner.Xor&^c | c}, true
	case "^":
		return firewall.MarkOp{And: inner.And, Xor: inner.Xor ^ c}, true
	}
	return firewall.MarkOp{}, false
}

// rateMatch translates limit, quota, ct count and meter: their result
// depends on traffic before the connection judged. It is judged for that
// one new connection, under the assumption that no rate or quota is
// exceeded yet, which the decision states.
func (b *ruleBuilder) rateMatch(key string, val any) (string, error) {
	args, ok := val.(map[string]any)
	if !ok {
		if name, isName := val.(string); isName && (key == "limit" || key == "quota") {
			// A named limit or quota object.
			return b.addAssumed(false, fmt.Sprintf("the %s %q is not exceeded", key, name)), nil
		}
		return "", fmt.Errorf("%s is not an object", key)
	}
	inv, _ := args["inv"].(bool)
	switch key {
	case "limit":
		rate := limitText(args)
		return b.addAssumed(inv, fmt.Sprintf("fewer than %s reach the rule (limit rate %s%s)", rate, overText(inv), rate)), nil
	case "quota":
		q := describe(args["val"]) + " " + strings.TrimSpace(describe(args["val_unit"]))
		if _, ok := args["val_unit"]; !ok {
			q = describe(args["val"]) + " bytes"
		}
		return b.addAssumed(inv, fmt.Sprintf("the quota of %s is not used up (quota %s%s)", q, overText(inv), q)), nil
	case "ct count":
		n := describe(args["val"])
		return b.addAssumed(inv, fmt.Sprintf("at most %s connections are counted with this one (ct count %s%s)", n, overText(inv), n)), nil
	}
	// meter NAME { KEY STATEMENT }: the statement per key (a source).
	if why := b.keyDeps(args["key"]); why != "" {
		return why, nil
	}
	stmt, _ := args["stmt"].(map[string]any)
	skey, sval, ok := single(stmt)
	keyText := describe(args["key"])
	switch {
	case ok && skey == "limit":
		a, _ := sval.(map[string]any)
		sinv, _ := a["inv"].(bool)
		rate := limitText(a)
		return b.addAssumed(sinv, fmt.Sprintf("fewer than %s per %s (meter %s { %s limit rate %s%s })", rate, keyText, describe(args["name"]), keyText, overText(sinv), rate)), nil
	case ok && skey == "ct count":
		a, _ := sval.(map[string]any)
		sinv, _ := a["inv"].(bool)
		n := describe(a["val"])
		return b.addAssumed(sinv, fmt.Sprintf("at most %s connections per %s (meter %s { %s ct count %s%s })", n, keyText, describe(args["name"]), keyText, overText(sinv), n)), nil
	case ok && skey == "counter":
		return "", nil
	}
	return fmt.Sprintf("statement %q", "meter "+describe(args["name"])), nil
}

func overText(inv bool) string {
	if inv {
		return "over "
	}
	return ""
}

// limitText renders a limit's rate: "10/minute", "1 mbytes/second", with
// a burst other than nft's default of 5 packets.
func limitText(a map[string]any) string {
	s := describe(a["rate"])
	if u, ok := a["rate_unit"]; ok && describe(u) != "packets" {
		s += " " + describe(u)
	}
	s += "/" + describe(a["per"])
	if burst, ok := a["burst"]; ok && describe(burst) != "5" && describe(burst) != "0" {
		unit := "packets"
		if u, ok := a["burst_unit"]; ok {
			unit = describe(u)
		}
		s += " burst " + describe(burst) + " " + unit
	}
	return s
}

// addAssumed adds a rate or state match that holds under the assumption
// (fails under it when inv: "limit rate over").
func (b *ruleBuilder) addAssumed(inv bool, assume string) string {
	return b.add(firewall.Match{Field: firewall.FieldAssumed, Negate: inv, Assume: assume})
}

// setUpdate translates "add/update/delete @set { KEY }" (and @map): the
// set changes, which only a later lookup in it on the same packet's way
// could notice. A key carrying a limit ("add @s { ip saddr limit rate
// over 10/second }") also tests the rate, judged as a limit is.
func (b *ruleBuilder) setUpdate(key string, val any) (string, error) {
	args, ok := val.(map[string]any)
	if !ok {
		return "", fmt.Errorf("%s is not an object", key)
	}
	op, _ := args["op"].(string)
	name, ok := setRef(args[key])
	if !ok || (op != "add" && op != "update" && op != "delete") {
		return fmt.Sprintf("statement %q", describe(args["op"])+" "+describe(args[key])), nil
	}
	b.r.SetUpdates = append(b.r.SetUpdates, name)
	elem := args["elem"]
	elemKey := elem
	if m, _ := elem.(map[string]any); m != nil {
		if e, ok := m["elem"].(map[string]any); ok {
			elemKey = e["val"]
		}
	}
	if why := b.keyDeps(elemKey); why != "" {
		return why, nil
	}
	if m, _ := elem.(map[string]any); m != nil {
		if e, ok := m["elem"].(map[string]any); ok {
			for _, k := range []string{"stmt", "stmts"} {
				list, _ := e[k].([]any)
				for _, st := range list {
					sk, sv, ok := single(st.(map[string]any))
					if !ok {
						continue
					}
					switch sk {
					case "limit", "ct count", "quota":
						if why, err := b.rateMatch(sk, sv); why != "" || err != nil {
							return why, err
						}
					case "counter":
					default:
						return fmt.Sprintf("statement %q in a set element", sk), nil
					}
				}
			}
		}
	}
	return "", nil
}

// keyDeps adds the dependencies nft puts before a statement's key (a
// meter's, a set update's): meta nfproto for an ip field in an inet
// table, meta l4proto for a tcp port. A key the model cannot read adds
// none: the statement's effect does not depend on it.
func (b *ruleBuilder) keyDeps(key any) string {
	items := []any{key}
	if k, _ := key.(map[string]any); k["concat"] != nil && len(k) == 1 {
		items, _ = k["concat"].([]any)
	}
	for _, it := range items {
		spec, why, err := b.t.field(it)
		if err != nil || why != "" {
			continue
		}
		if why := b.requireFamily(spec.nfproto); why != "" {
			return why
		}
		if spec.proto != 0 {
			if why := b.require(firewall.Match{Field: firewall.FieldL4Proto, Ranges: []firewall.Range{{From: uint32(spec.proto), To: uint32(spec.proto)}}}); why != "" {
				return why
			}
		}
	}
	return ""
}

package nftables

import (
	"fmt"
	"net/netip"
	"reflect"
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
}

// translate fills r from the rule's expressions. A rule with a construct
// the model cannot express keeps its handle, text, Unsupported and the
// matches before that construct: the kernel evaluates expressions in
// order, so a packet one of them rules out never reaches it (firewalld's
// IPv6-only rp_filter rule, "meta nfproto ipv6 fib saddr . mark . iif oif
// missing drop", must not make every IPv4 verdict indeterminate). A packet
// that passes them gets an indeterminate verdict.
func (t *tableState) translate(r *firewall.Rule, exprs []any) error {
	b := &ruleBuilder{t: t, r: r}
	for i, e := range exprs {
		obj, _ := e.(map[string]any)
		key, val, ok := single(obj)
		if !ok {
			return fmt.Errorf("statement %d is not a one-key object", i)
		}
		// One compat expression makes the whole table iptables-nft's.
		t.xt = t.xt || key == "xt"
		if r.Unsupported != "" {
			continue
		}
		why, err := b.statement(key, val)
		if err != nil {
			return fmt.Errorf("statement %d (%s): %w", i, key, err)
		}
		if why != "" {
			*r = firewall.Rule{Handle: r.Handle, Text: r.Text, Matches: r.Matches, Unsupported: why}
		}
	}
	return nil
}

// statement translates one statement; it returns why the rule cannot be
// modelled, or "".
func (b *ruleBuilder) statement(key string, val any) (string, error) {
	switch key {
	case "counter", "log", "last", "flow":
		// No effect on the verdict of a connection's first packet (flow
		// offload only takes established connections).
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
	case "xt":
		x, _ := val.(map[string]any)
		return fmt.Sprintf("iptables extension %q (read this table with iptables-nft-save)", describe(x["name"])), nil
	case "set", "map":
		x, _ := val.(map[string]any)
		return fmt.Sprintf("statement %q", describe(x["op"])+" "+describe(x[key])), nil
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
	if b.r.SetMark != nil {
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
	if why := concatMatch(b.t, left, right); why != "" {
		return why, nil
	}
	spec, why, err := b.t.field(left)
	if err != nil || why != "" {
		return why, err
	}
	mt := firewall.Match{Field: spec.field, Proto: spec.proto, Mask: spec.mask}
	if why := b.t.operand(&mt, spec, op, right); why != "" {
		return why, nil
	}
	if why := b.requireFamily(spec.nfproto); why != "" {
		return why, nil
	}
	return b.add(mt), nil
}

// concatMatch names a match on concatenated fields, which has no model.
func concatMatch(t *tableState, left, right any) string {
	l, _ := left.(map[string]any)
	if _, ok := l["concat"]; !ok || len(l) != 1 {
		return ""
	}
	if name, ok := setRef(right); ok {
		if s := t.sets[name]; s != nil {
			return fmt.Sprintf("set lookup on concatenated key %q", s.set.Type)
		}
	}
	return fmt.Sprintf("match on concatenated key %q", describe(left))
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

// vmap translates a verdict map statement.
func (b *ruleBuilder) vmap(val any) (string, error) {
	args, ok := val.(map[string]any)
	if !ok {
		return "", fmt.Errorf("vmap is not an object")
	}
	key, data := args["key"], args["data"]
	if k, _ := key.(map[string]any); k["concat"] != nil {
		return fmt.Sprintf("verdict map on concatenated key %q", describe(key)), nil
	}
	spec, why, err := b.t.field(key)
	if err != nil || why != "" {
		return why, err
	}
	switch {
	case spec.mask != 0:
		return fmt.Sprintf("verdict map on %q", describe(key)), nil
	case spec.field == firewall.FieldMark && b.r.SetMark != nil:
		return `verdict map on the mark after "meta mark set"`, nil
	}
	// An address key needs no family dependency: an address of the other
	// family never equals an element, so the lookup just finds nothing.
	if spec.field != firewall.FieldSaddr && spec.field != firewall.FieldDaddr {
		if why := b.requireFamily(spec.nfproto); why != "" {
			return why, nil
		}
	}
	v := firewall.Verdict{Kind: firewall.VerdictVmap, Key: spec.field, KeyProto: spec.proto}
	if name, ok := setRef(data); ok {
		s := b.t.sets[name]
		switch {
		case s == nil || s.set.Map != "verdict":
			return fmt.Sprintf("verdict map lookup in %q", name), nil
		case s.bad != "":
			return s.bad, nil
		case s.kind != spec.kind:
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
	v.Elements, why, err = mapElements(spec.kind, elems)
	if err != nil || why != "" {
		return why, err
	}
	return b.verdict(v), nil
}

// mapElements converts verdict map elements, each a [key, verdict] pair.
func mapElements(k kind, elems any) ([]firewall.MapElement, string, error) {
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

// mangle handles "meta mark set CONSTANT"; other packet or conntrack
// changes may alter what later rules see, so they are Unsupported.
func (b *ruleBuilder) mangle(val any) (string, error) {
	args, ok := val.(map[string]any)
	if !ok {
		return "", fmt.Errorf("mangle is not an object")
	}
	target := describe(args["key"])
	if target != "meta mark" {
		return fmt.Sprintf("statement %q", target+" set"), nil
	}
	mark, why := kindMark.number(args["value"])
	if why != "" {
		return fmt.Sprintf("statement %q", "meta mark set "+describe(args["value"])), nil
	}
	b.r.SetMark = &mark
	return "", nil
}

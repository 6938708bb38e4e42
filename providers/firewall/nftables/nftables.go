// Package nftables reads a host's nftables ruleset (nft -j) and translates
// it into the backend-neutral model of package firewall. The translation is
// exact: nft's hidden protocol dependencies become matches, and whatever the
// model cannot express makes the rule Unsupported instead of approximated.
package nftables

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"runtime"
	"strconv"
	"strings"
	"sync"

	"github.com/portcheck/portcheck/providers/firewall"
)

// Read lists the ruleset of the network namespace at netnsPath ("" = the
// current one) with nft and translates it. The text listing, which
// supplies each Rule.Text as nft prints it, is read too unless the
// ruleset has more than TextListingLimit chains.
func Read(ctx context.Context, netnsPath string) ([]*firewall.Table, error) {
	chains, err := ListChains(ctx, netnsPath)
	if err != nil {
		return nil, err
	}
	return ReadRuleset(ctx, netnsPath, CountChains(chains) <= TextListingLimit)
}

// ReadRuleset lists the whole ruleset at once (with the text listing
// when withText) and translates it.
func ReadRuleset(ctx context.Context, netnsPath string, withText bool) ([]*firewall.Table, error) {
	tables, err := listAndParse(ctx, netnsPath, withText, "ruleset")
	if err != nil {
		return nil, fmt.Errorf("listing the nftables ruleset: %w", err)
	}
	return tables, nil
}

// Parse translates `nft -j list ruleset` output. text, the output of
// `nft -a -s list ruleset` (may be nil), supplies each Rule.Text.
func Parse(jsonOut, text []byte) ([]*firewall.Table, error) {
	objs, err := splitRuleset(jsonOut)
	if err != nil {
		return nil, err
	}
	p := &parser{tables: map[tableKey]*tableState{}, listing: parseListing(text)}
	// Rules refer to chains and sets, so those come first whatever the order.
	var rules []json.RawMessage
	for _, o := range objs {
		if o.kind == "rule" {
			rules = append(rules, o.raw)
			continue
		}
		if err := p.declare(o); err != nil {
			return nil, err
		}
	}
	// Rules translate independently: on all cores, then appended in
	// order.
	built := make([]builtRule, len(rules))
	workers := min(runtime.GOMAXPROCS(0), max(1, len(rules)/256))
	var wg sync.WaitGroup
	for w := range workers {
		wg.Go(func() {
			for i := w; i < len(rules); i += workers {
				built[i] = p.buildRule(rules[i])
			}
		})
	}
	wg.Wait()
	for _, br := range built {
		if br.err != nil {
			return nil, br.err
		}
		br.chain.Rules = append(br.chain.Rules, br.rule)
		br.table.xt = br.table.xt || br.xt
	}
	out := make([]*firewall.Table, 0, len(p.order))
	for _, t := range p.order {
		if t.xt || p.listing.iptablesNft[t.key()] || iptablesLayout(t.table) {
			t.table.Backend = firewall.BackendIptablesNft
		}
		out = append(out, t.table)
	}
	return out, nil
}

type tableKey struct{ family, name string }

type tableState struct {
	table  *firewall.Table
	chains map[string]*firewall.Chain
	sets   map[string]*setState
	// xt is set when a rule holds an iptables-nft compat expression.
	xt bool
}

func (t *tableState) key() tableKey { return tableKey{t.table.Family, t.table.Name} }

func (t *tableState) String() string { return "table " + t.table.Family + " " + t.table.Name }

// nfproto is the family every packet the table sees has ("" in inet,
// bridge and netdev tables, which see both).
func (t *tableState) nfproto() string {
	switch t.table.Family {
	case firewall.FamilyIP:
		return "ipv4"
	case firewall.FamilyIP6:
		return "ipv6"
	}
	return ""
}

// setState is a named set or map with what rules need to use it.
type setState struct {
	set  *firewall.Set
	kind kind
	// kinds are the parts of a concatenated key.
	kinds []kind
	// bad, when set, is why lookups in the set are Unsupported.
	bad string
}

type parser struct {
	tables  map[tableKey]*tableState
	order   []*tableState
	listing listing
}

type object struct {
	kind string
	raw  json.RawMessage
}

func decodeRuleset(b []byte) ([]object, error) {
	if len(bytes.TrimSpace(b)) == 0 {
		return nil, nil // nft printed nothing: no ruleset
	}
	var root struct {
		Nftables []map[string]json.RawMessage `json:"nftables"`
	}
	if err := json.Unmarshal(b, &root); err != nil {
		return nil, fmt.Errorf("nft JSON: %w", err)
	}
	if root.Nftables == nil {
		return nil, errors.New(`nft JSON: no "nftables" list`)
	}
	objs := make([]object, 0, len(root.Nftables))
	for i, m := range root.Nftables {
		if len(m) != 1 {
			return nil, fmt.Errorf("nft JSON: object %d has %d keys, want 1", i, len(m))
		}
		for k, v := range m {
			objs = append(objs, object{k, v})
		}
	}
	return objs, nil
}

// decode unmarshals keeping numbers exact (json.Number).
func decode(raw json.RawMessage, v any) error {
	d := json.NewDecoder(bytes.NewReader(raw))
	d.UseNumber()
	return d.Decode(v)
}

// declare records tables, chains, sets and maps; other objects (named
// counters, quotas, flowtables …) only matter through statements.
func (p *parser) declare(o object) error {
	switch o.kind {
	case "table":
		return p.addTable(o.raw)
	case "chain":
		return p.addChain(o.raw)
	case "set", "map":
		return p.addSet(o.raw, o.kind == "map")
	}
	return nil
}

func (p *parser) addTable(raw json.RawMessage) error {
	var j struct{ Family, Name string }
	if err := decode(raw, &j); err != nil {
		return fmt.Errorf("nft JSON: table: %w", err)
	}
	k := tableKey{j.Family, j.Name}
	if j.Family == "" || j.Name == "" || p.tables[k] != nil {
		return fmt.Errorf("nft JSON: table %q %q: missing name or listed twice", j.Family, j.Name)
	}
	t := &tableState{
		table:  &firewall.Table{Backend: firewall.BackendNftables, Family: j.Family, Name: j.Name, Chains: []*firewall.Chain{}},
		chains: map[string]*firewall.Chain{},
		sets:   map[string]*setState{},
	}
	p.tables[k] = t
	p.order = append(p.order, t)
	return nil
}

func (p *parser) table(what string, family, name string) (*tableState, error) {
	t := p.tables[tableKey{family, name}]
	if t == nil {
		return nil, fmt.Errorf("nft JSON: %s in unknown table %s %s", what, family, name)
	}
	return t, nil
}

func (p *parser) addChain(raw json.RawMessage) error {
	var j struct {
		Family, Table, Name, Type, Hook, Policy string
		Prio                                    any
	}
	if err := decode(raw, &j); err != nil {
		return fmt.Errorf("nft JSON: chain: %w", err)
	}
	t, err := p.table("chain "+j.Name, j.Family, j.Table)
	if err != nil {
		return err
	}
	if j.Name == "" || t.chains[j.Name] != nil {
		return fmt.Errorf("nft JSON: %s: chain %q without a name or listed twice", t, j.Name)
	}
	c := &firewall.Chain{Name: j.Name, Rules: []*firewall.Rule{}}
	if j.Hook != "" {
		c.Type, c.Hook = j.Type, j.Hook
		if c.Priority, err = priority(j.Prio); err != nil {
			return fmt.Errorf("nft JSON: %s chain %s: %w", t, j.Name, err)
		}
		switch j.Policy {
		case "", "accept":
			c.Policy = "accept"
		case "drop":
			c.Policy = "drop"
		default:
			return fmt.Errorf("nft JSON: %s chain %s: policy %q", t, j.Name, j.Policy)
		}
	}
	t.chains[j.Name] = c
	t.table.Chains = append(t.table.Chains, c)
	return nil
}

// namedPriorities are nft's standard chain priorities (ip, ip6 and inet
// values).
var namedPriorities = map[string]int{
	"raw": -300, "mangle": -150, "dstnat": -100, "filter": 0, "security": 50, "srcnat": 100,
}

// priority reads a base chain priority: a number, or as some nft versions
// write it a string such as "filter", "filter + 10" or "-5".
func priority(v any) (int, error) {
	var s string
	switch x := v.(type) {
	case json.Number:
		s = x.String()
	case string:
		s = strings.TrimSpace(x)
	default:
		return 0, fmt.Errorf("priority %s is neither a number nor a name", describe(v))
	}
	if n, err := strconv.ParseInt(s, 10, 32); err == nil {
		return int(n), nil
	}
	name, offset, sign := s, "0", 1
	if i := strings.IndexAny(s, "+-"); i >= 0 {
		name, offset = strings.TrimSpace(s[:i]), strings.TrimSpace(s[i+1:])
		if s[i] == '-' {
			sign = -1
		}
	}
	base, ok := namedPriorities[name]
	n, err := strconv.ParseUint(offset, 10, 16)
	if !ok || err != nil {
		return 0, fmt.Errorf("priority %q", s)
	}
	return base + sign*int(n), nil
}

func (p *parser) addSet(raw json.RawMessage, isMap bool) error {
	var j struct {
		Family, Table, Name string
		Type, Map, Elem     any
	}
	if err := decode(raw, &j); err != nil {
		return fmt.Errorf("nft JSON: set: %w", err)
	}
	t, err := p.table("set "+j.Name, j.Family, j.Table)
	if err != nil {
		return err
	}
	if j.Name == "" || t.sets[j.Name] != nil {
		return fmt.Errorf("nft JSON: %s: set %q without a name or listed twice", t, j.Name)
	}
	s, err := buildSet(j.Name, j.Type, j.Map, j.Elem, isMap)
	if err != nil {
		return fmt.Errorf("nft JSON: %s set %s: %w", t, j.Name, err)
	}
	if t.table.Sets == nil {
		t.table.Sets = map[string]*firewall.Set{}
	}
	t.sets[j.Name] = s
	t.table.Sets[j.Name] = s.set
	return nil
}

// buildSet converts a named set or map. Sets whose key the model cannot
// hold keep their name and type, and lookups in them are Unsupported.
func buildSet(name string, typ, dataType, elems any, isMap bool) (*setState, error) {
	types := stringList(typ)
	keyType := strings.Join(types, " . ")
	s := &setState{set: &firewall.Set{Name: name, Type: keyType}}
	if isMap {
		s.set.Map = strings.Join(stringList(dataType), " . ")
		if s.set.Map == "" {
			return nil, fmt.Errorf("map without a data type")
		}
	}
	if len(types) > 1 {
		for _, t := range types {
			k, ok := setTypes[t]
			if !ok {
				s.bad = fmt.Sprintf("set %q of type %q", name, keyType)
				break
			}
			s.kinds = append(s.kinds, k)
		}
	} else {
		k, ok := setTypes[keyType]
		s.kind = k
		if !ok {
			s.bad = fmt.Sprintf("set %q of type %q", name, keyType)
		}
	}
	// Of maps, only verdict maps' contents are modelled: rules cannot match
	// against other maps, and statements using them are Unsupported.
	if s.bad != "" || elems == nil || (isMap && s.set.Map != "verdict") {
		return s, nil
	}
	var why string
	var err error
	switch {
	case isMap:
		s.set.Elements, why, err = mapElements(s.kind, s.kinds, elems)
	case s.kinds != nil:
		list, ok := elems.([]any)
		if !ok {
			list = []any{elems}
		}
		for _, e := range list {
			ts, w := tupleValues(s.kinds, e)
			if w != "" {
				why = w
				break
			}
			s.set.Tuples = append(s.set.Tuples, ts...)
		}
	default:
		var vs valueSet
		why = addElements(&vs, s.kind, elems)
		s.set.Prefixes, s.set.Ranges, s.set.Names = vs.prefixes, vs.ranges, vs.names
	}
	if err != nil {
		return nil, err
	}
	if why != "" {
		// Partial contents would mislead; only the name and type stay.
		s.bad = fmt.Sprintf("set %q element: %s", name, why)
		s.set.Prefixes, s.set.Ranges, s.set.Names, s.set.Elements, s.set.Tuples = nil, nil, nil, nil, nil
	}
	return s, nil
}

// builtRule is one rule translated, with the chain it goes in.
type builtRule struct {
	table *tableState
	chain *firewall.Chain
	rule  *firewall.Rule
	xt    bool
	err   error
}

// buildRule translates one rule object. It only reads the parser's
// tables, so rules build concurrently.
func (p *parser) buildRule(raw json.RawMessage) builtRule {
	var j struct {
		Family, Table, Chain string
		Handle               int
		Expr                 []any
	}
	if err := decode(raw, &j); err != nil {
		return builtRule{err: fmt.Errorf("nft JSON: rule: %w", err)}
	}
	t, err := p.table("rule", j.Family, j.Table)
	if err != nil {
		return builtRule{err: err}
	}
	c := t.chains[j.Chain]
	if c == nil {
		return builtRule{err: fmt.Errorf("nft JSON: %s: rule handle %d in unknown chain %q", t, j.Handle, j.Chain)}
	}
	r := &firewall.Rule{Handle: j.Handle}
	if txt, ok := p.listing.rules[ruleKey{t.key(), j.Chain, j.Handle}]; ok {
		r.Text = txt
	} else {
		r.Text = renderRule(j.Expr)
	}
	xt, err := t.translate(r, j.Expr)
	if err != nil {
		return builtRule{err: fmt.Errorf("nft JSON: %s chain %s rule handle %d: %w", t, j.Chain, j.Handle, err)}
	}
	return builtRule{table: t, chain: c, rule: r, xt: xt}
}

// iptablesPriority is where iptables-nft puts each table's builtin chains.
var iptablesPriority = map[string]map[string]int{
	"raw":      {"PREROUTING": -300, "OUTPUT": -300},
	"mangle":   {"PREROUTING": -150, "INPUT": -150, "FORWARD": -150, "OUTPUT": -150, "POSTROUTING": -150},
	"nat":      {"PREROUTING": -100, "INPUT": 100, "OUTPUT": -100, "POSTROUTING": 100},
	"filter":   {"INPUT": 0, "FORWARD": 0, "OUTPUT": 0},
	"security": {"INPUT": 50, "FORWARD": 50, "OUTPUT": 50},
}

// iptablesLayout recognises a table iptables-nft made even when every rule
// translated to native expressions (no xt): an ip/ip6 table named like an
// iptables table whose base chains are exactly iptables' builtin chains, at
// iptables' priorities. Hand-written nft tables use lower-case chain names.
func iptablesLayout(t *firewall.Table) bool {
	if t.Family != firewall.FamilyIP && t.Family != firewall.FamilyIP6 {
		return false
	}
	prio, ok := iptablesPriority[t.Name]
	if !ok {
		return false
	}
	base := 0
	for _, c := range t.Chains {
		if c.Hook == "" {
			continue
		}
		base++
		if p, ok := prio[c.Name]; !ok || p != c.Priority || strings.ToUpper(c.Hook) != c.Name {
			return false
		}
	}
	return base > 0
}

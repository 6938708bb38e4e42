// Package iptables reads a host's iptables rulesets (iptables-save and
// ip6tables-save output, of iptables-legacy and iptables-nft) and
// translates them into the backend-neutral firewall model. Translation is
// exact or not done: a rule using anything the model cannot express keeps
// its other matches and names the construct in Rule.Unsupported.
package iptables

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"regexp"
	"slices"
	"strings"
	"sync"

	"github.com/portcheck/portcheck/internal/netns"
	"github.com/portcheck/portcheck/providers/firewall"
)

// builtinChains are each table's builtin chains, which the kernel hooks in.
var builtinChains = map[string][]string{
	"raw":      {"PREROUTING", "OUTPUT"},
	"mangle":   {"PREROUTING", "INPUT", "FORWARD", "OUTPUT", "POSTROUTING"},
	"nat":      {"PREROUTING", "INPUT", "OUTPUT", "POSTROUTING"},
	"filter":   {"INPUT", "FORWARD", "OUTPUT"},
	"security": {"INPUT", "FORWARD", "OUTPUT"},
}

// Priority is the hook priority the kernel registers an iptables table's
// chains at (iptables-nft creates its base chains with the same numbers).
// hook is lower-case (firewall.HookInput, …). Tables iptables does not
// have get 0.
func Priority(table, hook string) int {
	switch table {
	case "raw":
		return -300
	case "mangle":
		return -150
	case "nat":
		if hook == firewall.HookPrerouting || hook == firewall.HookOutput {
			return -100 // destination NAT
		}
		return 100 // source NAT
	case "security":
		return 50
	}
	return 0
}

// chainType is the nftables chain type iptables-nft gives a builtin chain.
func chainType(table, hook string) string {
	switch {
	case table == "nat":
		return "nat"
	case table == "mangle" && hook == firewall.HookOutput:
		return "route" // re-routes when the mark changes
	}
	return "filter"
}

// saveCommands are the programs Read runs per backend: IPv4, then IPv6.
var saveCommands = map[string][2]string{
	firewall.BackendIptablesLegacy: {"iptables-legacy-save", "ip6tables-legacy-save"},
	firewall.BackendIptablesNft:    {"iptables-nft-save", "ip6tables-nft-save"},
}

// Available reports whether both save commands of a backend are installed.
func Available(backend string) error {
	cmds, ok := saveCommands[backend]
	if !ok {
		return fmt.Errorf("unknown iptables backend %q", backend)
	}
	for _, name := range cmds {
		if _, err := exec.LookPath(name); err != nil {
			return fmt.Errorf("%s is not installed: %w", name, err)
		}
	}
	return nil
}

// Read runs the backend's iptables-save and ip6tables-save inside the
// network namespace at netnsPath ("" = this one) and translates their
// output: IPv4 tables first, then IPv6.
func Read(ctx context.Context, netnsPath, backend string) ([]*firewall.Table, error) {
	if err := Available(backend); err != nil {
		return nil, err
	}
	tables := []*firewall.Table{}
	for i, family := range []string{firewall.FamilyIP, firewall.FamilyIP6} {
		if backend == firewall.BackendIptablesLegacy && !LegacyLoaded(family) {
			continue
		}
		name := saveCommands[backend][i]
		out, err := netns.Output(ctx, netnsPath, nil, name)
		if err != nil {
			return nil, err
		}
		ts, err := Parse(out, family, backend)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", name, err)
		}
		tables = append(tables, ts...)
	}
	return tables, nil
}

// ReadSaved runs iptables-nft-save for the families asked for (IPv4 and
// IPv6 at once) and translates what it shows. Tables it cannot show
// (native nft expressions iptables does not know) are not an error here:
// incompatible names them ("ip filter"), for the caller to read with nft.
func ReadSaved(ctx context.Context, netnsPath string, families []string) (tables []*firewall.Table, incompatible []string, err error) {
	if err := Available(firewall.BackendIptablesNft); err != nil {
		return nil, nil, err
	}
	type result struct {
		tables []*firewall.Table
		incomp []string
		err    error
	}
	results := make([]result, len(families))
	var wg sync.WaitGroup
	for i, family := range families {
		wg.Go(func() {
			name := saveCommands[firewall.BackendIptablesNft][0]
			if family == firewall.FamilyIP6 {
				name = saveCommands[firewall.BackendIptablesNft][1]
			}
			out, err := netns.Output(ctx, netnsPath, nil, name)
			if err != nil {
				results[i].err = err
				return
			}
			ts, incomp, err := parse(out, family, firewall.BackendIptablesNft, false)
			if err != nil {
				err = fmt.Errorf("%s: %w", name, err)
			}
			results[i] = result{ts, incomp, err}
		})
	}
	wg.Wait()
	for _, r := range results {
		if r.err != nil {
			return nil, nil, r.err
		}
		tables = append(tables, r.tables...)
		incompatible = append(incompatible, r.incomp...)
	}
	return tables, incompatible, nil
}

// LegacyLoaded reports whether the kernel has the x_tables core of the
// family loaded. Without it there are no legacy tables, and the save tool
// would modprobe the module to find that out: reading must not change the
// host, not even its module list.
func LegacyLoaded(family string) bool {
	name := "/proc/net/ip_tables_names"
	if family == firewall.FamilyIP6 {
		name = "/proc/net/ip6_tables_names"
	}
	_, err := os.Stat(name)
	return err == nil
}

// Parse translates iptables-save (family "ip") or ip6tables-save (family
// "ip6") output; backend (firewall.BackendIptablesLegacy or
// firewall.BackendIptablesNft) is copied to Table.Backend. Malformed input
// is an error naming its line.
func Parse(save []byte, family, backend string) ([]*firewall.Table, error) {
	ts, _, err := parse(save, family, backend, true)
	return ts, err
}

// parse translates save output; strict makes a table the save tool
// could not show an error, else its name ("ip filter") is returned.
func parse(save []byte, family, backend string, strict bool) ([]*firewall.Table, []string, error) {
	if family != firewall.FamilyIP && family != firewall.FamilyIP6 {
		return nil, nil, fmt.Errorf("family %q is neither %q nor %q", family, firewall.FamilyIP, firewall.FamilyIP6)
	}
	if _, ok := saveCommands[backend]; !ok {
		return nil, nil, fmt.Errorf("unknown iptables backend %q", backend)
	}
	p := &parser{family: family, backend: backend, tables: []*firewall.Table{}, strict: strict}
	for i, line := range strings.Split(string(save), "\n") {
		if err := p.line(i+1, strings.TrimSpace(line)); err != nil {
			return nil, nil, fmt.Errorf("line %d: %w", i+1, err)
		}
	}
	if p.cur != nil {
		return nil, nil, fmt.Errorf("line %d: table %s has no COMMIT", p.cur.line, p.cur.t.Name)
	}
	return p.tables, p.incompatible, nil
}

type parser struct {
	family, backend string
	tables          []*firewall.Table
	cur             *tableState // the table between *name and COMMIT
	strict          bool
	incompatible    []string
}

// tableState is a table being read.
type tableState struct {
	t      *firewall.Table
	line   int // of its *name header
	chains map[string]*firewall.Chain
}

// userChain reports whether name is a user-defined chain of the table, a
// valid target of -j and -g.
func (ts *tableState) userChain(name string) bool {
	c, ok := ts.chains[name]
	return ok && c.Hook == ""
}

// incompatible is the comment iptables-nft-save prints instead of a table
// holding rules it cannot show.
var incompatible = regexp.MustCompile("^# Table `(.*)' is incompatible")

func (p *parser) line(n int, line string) error {
	switch {
	case line == "":
		return nil
	case strings.HasPrefix(line, "#"):
		if m := incompatible.FindStringSubmatch(line); m != nil {
			// Leaving the table out would hide its rules.
			if p.strict {
				return fmt.Errorf("table %s holds rules iptables-nft cannot show (read it with nft)", m[1])
			}
			p.incompatible = append(p.incompatible, p.family+" "+m[1])
		}
		return nil
	case strings.HasPrefix(line, "*"):
		return p.table(n, line[1:])
	case p.cur == nil:
		return fmt.Errorf("%q outside a table", line)
	case line == "COMMIT":
		p.tables = append(p.tables, p.cur.t)
		p.cur = nil
		return nil
	case strings.HasPrefix(line, ":"):
		return p.chain(line[1:])
	}
	return p.rule(line)
}

func (p *parser) table(n int, name string) error {
	if p.cur != nil {
		return fmt.Errorf("table %s starts before table %s (line %d) has a COMMIT", name, p.cur.t.Name, p.cur.line)
	}
	if _, ok := builtinChains[name]; !ok {
		return fmt.Errorf("unknown table %q", name)
	}
	if slices.ContainsFunc(p.tables, func(t *firewall.Table) bool { return t.Name == name }) {
		return fmt.Errorf("table %s appears twice", name)
	}
	p.cur = &tableState{
		t:      &firewall.Table{Backend: p.backend, Family: p.family, Name: name, Chains: []*firewall.Chain{}},
		line:   n,
		chains: map[string]*firewall.Chain{},
	}
	return nil
}

// chain reads ":NAME POLICY [packets:bytes]"; POLICY is "-" for a
// user-defined chain.
func (p *parser) chain(decl string) error {
	f := strings.Fields(decl)
	if len(f) < 2 || len(f) > 3 {
		return fmt.Errorf("malformed chain %q", ":"+decl)
	}
	name, policy := f[0], f[1]
	ts := p.cur
	if _, dup := ts.chains[name]; dup {
		return fmt.Errorf("chain %s declared twice", name)
	}
	c := &firewall.Chain{Name: name, Rules: []*firewall.Rule{}}
	builtin := slices.Contains(builtinChains[ts.t.Name], name)
	switch {
	case builtin && (policy == "ACCEPT" || policy == "DROP"):
		c.Hook = strings.ToLower(name)
		c.Type = chainType(ts.t.Name, c.Hook)
		c.Priority = Priority(ts.t.Name, c.Hook)
		c.Policy = strings.ToLower(policy)
	case builtin:
		return fmt.Errorf("builtin chain %s has policy %q, not ACCEPT or DROP", name, policy)
	case policy != "-":
		return fmt.Errorf("chain %s is not a builtin chain of table %s but has policy %s", name, ts.t.Name, policy)
	}
	ts.chains[name] = c
	ts.t.Chains = append(ts.t.Chains, c)
	return nil
}

func (p *parser) rule(line string) error {
	if !strings.HasPrefix(line, "-") && !strings.HasPrefix(line, "[") {
		return fmt.Errorf("unexpected %q", line)
	}
	rs, err := parseRuleSyntax(line)
	if err != nil {
		return err
	}
	c, ok := p.cur.chains[rs.chain]
	if !ok {
		return fmt.Errorf("-A to undeclared chain %q", rs.chain)
	}
	r, err := translate(p.cur, p.family, rs)
	if err != nil {
		return err
	}
	r.Number = len(c.Rules) + 1
	c.Rules = append(c.Rules, r)
	return nil
}

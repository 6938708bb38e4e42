package fwbackup

import (
	"fmt"
	"regexp"
	"sort"
	"strings"
)

// lines splits text into lines without their line endings.
func lines(data []byte) []string {
	s := strings.ReplaceAll(string(data), "\r\n", "\n")
	s = strings.TrimSuffix(s, "\n")
	if s == "" {
		return nil
	}
	return strings.Split(s, "\n")
}

// parseTables reads `nft list tables`: "table FAMILY NAME" lines.
func parseTables(out []byte) []Table {
	var ts []Table
	for _, l := range lines(out) {
		f := strings.Fields(l)
		if len(f) >= 3 && f[0] == "table" {
			ts = append(ts, Table{f[1], f[2]})
		}
	}
	return ts
}

// nameRE is what nft's grammar accepts as an unquoted table name.
var nameRE = regexp.MustCompile(`^[A-Za-z_.][A-Za-z0-9/_.-]*$`)

var families = map[string]bool{"ip": true, "ip6": true, "inet": true, "arp": true, "bridge": true, "netdev": true}

// checkTableName refuses a table that cannot be named in an nft script.
func checkTableName(t Table) error {
	if !families[t.Family] || !nameRE.MatchString(t.Name) {
		return fmt.Errorf("nftables table %q (family %q) cannot be written in an nft script, so it cannot be backed up or restored", t.Name, t.Family)
	}
	return nil
}

// nftBlock is one table of an `nft list` output.
type nftBlock struct {
	Table Table
	Text  string // from "table …{" to its closing "}", with a final newline
}

// splitNFT splits `nft list ruleset` output into its tables. Lines outside
// a table (warnings) are dropped.
func splitNFT(data []byte) []nftBlock {
	var out []nftBlock
	var cur *nftBlock
	var b strings.Builder
	for _, l := range lines(data) {
		if cur == nil {
			f := strings.Fields(l)
			if len(f) >= 4 && f[0] == "table" && f[len(f)-1] == "{" && !strings.HasPrefix(l, " ") && !strings.HasPrefix(l, "\t") {
				cur = &nftBlock{Table: Table{f[1], f[2]}}
				b.Reset()
				b.WriteString(l + "\n")
			}
			continue
		}
		b.WriteString(l + "\n")
		if l == "}" {
			cur.Text = b.String()
			out = append(out, *cur)
			cur = nil
		}
	}
	return out
}

// saveTable is one table of iptables-save output.
type saveTable struct {
	Name   string
	Chains []saveChain
	Rules  int
}

type saveChain struct{ Name, Policy string } // Policy "-" for a user chain

// builtinOnlyAccept reports whether the table is empty: only built-in
// chains, all with policy ACCEPT, and no rules. An empty legacy table
// filters nothing, like an absent one.
func (t saveTable) builtinOnlyAccept() bool {
	if t.Rules > 0 {
		return false
	}
	for _, c := range t.Chains {
		if c.Policy != "ACCEPT" {
			return false
		}
	}
	return true
}

func (t saveTable) hasChain(name string) bool {
	for _, c := range t.Chains {
		if c.Name == name {
			return true
		}
	}
	return false
}

// parseSave reads iptables-save output.
func parseSave(data []byte) []saveTable {
	var out []saveTable
	var cur *saveTable
	for _, l := range lines(data) {
		l = strings.TrimSpace(l)
		switch {
		case l == "" || strings.HasPrefix(l, "#"):
		case strings.HasPrefix(l, "*"):
			out = append(out, saveTable{Name: strings.TrimSpace(l[1:])})
			cur = &out[len(out)-1]
		case cur == nil:
		case l == "COMMIT":
			cur = nil
		case strings.HasPrefix(l, ":"):
			f := strings.Fields(l[1:])
			c := saveChain{Policy: "-"}
			if len(f) > 0 {
				c.Name = f[0]
			}
			if len(f) > 1 {
				c.Policy = f[1]
			}
			cur.Chains = append(cur.Chains, c)
		default:
			cur.Rules++
		}
	}
	return out
}

func tableNames(ts []saveTable) map[string]bool {
	m := map[string]bool{}
	for _, t := range ts {
		m[t.Name] = true
	}
	return m
}

// incompatibleRE matches the warnings iptables-nft-save prints for tables
// it cannot show ("# Table `filter' is incompatible, use 'nft' tool.",
// "# Table `mangle' contains incompatible base-chains, …").
var incompatibleRE = regexp.MustCompile("(?m)^# Table `([^']+)' (is incompatible|contains incompatible)")

func incompatibleTables(out []byte) map[string]bool {
	m := map[string]bool{}
	for _, g := range incompatibleRE.FindAllStringSubmatch(string(out), -1) {
		m[g[1]] = true
	}
	return m
}

// nativeObjects are the nft objects iptables-nft never creates.
var nativeObjects = map[string]bool{
	"set": true, "map": true, "flowtable": true, "counter": true, "quota": true, "limit": true,
	"ct": true, "secmark": true, "synproxy": true,
}

// foreignObject returns what an nft table holds that iptables-nft-save
// does not show ("" when nothing): a named set or other object, or a chain
// the save output lacks. Such a table is native nftables even when
// iptables-nft-save prints a table of its name.
func foreignObject(block string, st saveTable) string {
	for _, l := range strings.Split(block, "\n") {
		if !strings.HasPrefix(l, "\t") || strings.HasPrefix(l, "\t\t") {
			continue
		}
		f := strings.Fields(l)
		if len(f) == 0 {
			continue
		}
		if nativeObjects[f[0]] {
			return strings.TrimSuffix(strings.TrimSpace(l), " {")
		}
		if f[0] == "chain" && len(f) > 1 && !st.hasChain(f[1]) {
			return "chain " + f[1]
		}
	}
	return ""
}

// filterSave removes the named tables' blocks from iptables-save output.
func filterSave(data []byte, drop map[string]bool) []byte {
	var b strings.Builder
	skipping := false
	for _, l := range lines(data) {
		t := strings.TrimSpace(l)
		if strings.HasPrefix(t, "*") && drop[strings.TrimSpace(t[1:])] {
			skipping = true
		}
		if !skipping {
			b.WriteString(l + "\n")
		}
		if skipping && t == "COMMIT" {
			skipping = false
		}
	}
	return []byte(b.String())
}

var (
	chainCounterRE = regexp.MustCompile(`^(:\S+\s+\S+)\s+\[\d+:\d+\]$`)
	ruleCounterRE  = regexp.MustCompile(`^\[\d+:\d+\]\s+`)
)

// normSave normalises iptables-save output for comparison: comment lines
// and [packets:bytes] counters go, tables are sorted by name, and with
// dropEmpty a table with nothing in it (see builtinOnlyAccept) counts as
// absent.
func normSave(data []byte, dropEmpty bool) []string {
	type block struct {
		name  string
		lines []string
	}
	var blocks []block
	var cur *block
	for _, l := range lines(data) {
		l = strings.TrimSpace(l)
		if l == "" || strings.HasPrefix(l, "#") {
			continue
		}
		l = chainCounterRE.ReplaceAllString(l, "$1")
		l = ruleCounterRE.ReplaceAllString(l, "")
		if strings.HasPrefix(l, "*") {
			blocks = append(blocks, block{name: strings.TrimSpace(l[1:])})
			cur = &blocks[len(blocks)-1]
		}
		if cur == nil {
			continue
		}
		cur.lines = append(cur.lines, l)
		if l == "COMMIT" {
			cur = nil
		}
	}
	if dropEmpty {
		kept := blocks[:0]
		for _, b := range blocks {
			st := parseSave([]byte(strings.Join(b.lines, "\n")))
			if len(st) == 1 && st[0].builtinOnlyAccept() {
				continue
			}
			kept = append(kept, b)
		}
		blocks = kept
	}
	sort.SliceStable(blocks, func(i, j int) bool { return blocks[i].name < blocks[j].name })
	var out []string
	for _, b := range blocks {
		out = append(out, b.lines...)
	}
	return out
}

// normNFT normalises `nft -s list` output for comparison: tables sorted by
// family and name, trailing blanks and lines outside tables dropped.
func normNFT(data []byte) []string {
	blocks := splitNFT(data)
	sort.SliceStable(blocks, func(i, j int) bool { return blocks[i].Table.String() < blocks[j].Table.String() })
	var out []string
	for _, b := range blocks {
		for _, l := range lines([]byte(b.Text)) {
			out = append(out, strings.TrimRight(l, " \t"))
		}
	}
	return out
}

// diffLines lists the lines that differ between a (the backup) and b (now)
// in unified style: "@@ -i +j @@" hunk headers, then "-" lines only in a
// and "+" lines only in b.
func diffLines(a, b []string) []string {
	// Common prefix and suffix first: most differences are small.
	p := 0
	for p < len(a) && p < len(b) && a[p] == b[p] {
		p++
	}
	s := 0
	for s < len(a)-p && s < len(b)-p && a[len(a)-1-s] == b[len(b)-1-s] {
		s++
	}
	am, bm := a[p:len(a)-s], b[p:len(b)-s]
	if len(am) == 0 && len(bm) == 0 {
		return nil
	}
	type op struct {
		kind byte // ' ', '-', '+'
		ai   int
		bi   int
	}
	var ops []op
	if len(am)*len(bm) > 4_000_000 {
		// Too large for a table of common subsequences: everything in the
		// middle differs.
		for i := range am {
			ops = append(ops, op{'-', i, 0})
		}
		for j := range bm {
			ops = append(ops, op{'+', len(am), j})
		}
	} else {
		// lcs[i][j] = length of the longest common subsequence of am[i:], bm[j:].
		lcs := make([][]int32, len(am)+1)
		for i := range lcs {
			lcs[i] = make([]int32, len(bm)+1)
		}
		for i := len(am) - 1; i >= 0; i-- {
			for j := len(bm) - 1; j >= 0; j-- {
				if am[i] == bm[j] {
					lcs[i][j] = lcs[i+1][j+1] + 1
				} else {
					lcs[i][j] = max(lcs[i+1][j], lcs[i][j+1])
				}
			}
		}
		i, j := 0, 0
		for i < len(am) || j < len(bm) {
			switch {
			case i < len(am) && j < len(bm) && am[i] == bm[j]:
				ops = append(ops, op{' ', i, j})
				i++
				j++
			case i < len(am) && (j == len(bm) || lcs[i+1][j] >= lcs[i][j+1]):
				ops = append(ops, op{'-', i, j})
				i++
			default:
				ops = append(ops, op{'+', i, j})
				j++
			}
		}
	}
	var out []string
	inHunk := false
	for _, o := range ops {
		if o.kind == ' ' {
			inHunk = false
			continue
		}
		if !inHunk {
			out = append(out, fmt.Sprintf("@@ -%d +%d @@", p+o.ai+1, p+o.bi+1))
			inHunk = true
		}
		if o.kind == '-' {
			out = append(out, "-"+am[o.ai])
		} else {
			out = append(out, "+"+bm[o.bi])
		}
	}
	return out
}

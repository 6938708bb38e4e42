package runner

import (
	"fmt"
	"net/netip"
	"strings"

	"github.com/portcheck/portcheck/internal/addrrange"
	"github.com/portcheck/portcheck/providers/cloud"
)

// This file gathers the fix of a denied L6 check: every denied part of the
// declared sources, grouped by the stage and rule that deny it, for the
// cloud's backend to turn into its CLI's commands (next to its reader, in
// providers/cloud/<type>).

// hintIndent starts each further command of a hint, under the first one
// in the text report ("  Fix: ").
const hintIndent = "\n       "

// ruleKey tells the rules (or defaults) that deny apart.
func ruleKey(stage string, r *cloud.RuleRef) string {
	if r == nil {
		return stage
	}
	return fmt.Sprintf("%s %s %s %s %d %s", stage, r.Kind, r.ID, r.RuleID, r.Number, r.Default)
}

// deniedFixes groups the denied stretches by the stage and rule that deny
// them, in address order of their first stretch, each group's addresses
// as the fewest prefixes that cover them and nothing else.
func deniedFixes(denied []cloudStretch) []cloud.Denial {
	var out []cloud.Denial
	index := map[string]int{}
	ranges := map[string][][2]netip.Addr{}
	for _, st := range denied {
		k := ruleKey(st.verdict.Stage, st.verdict.Rule)
		if _, ok := index[k]; !ok {
			index[k] = len(out)
			out = append(out, cloud.Denial{Stage: st.verdict.Stage, Rule: st.verdict.Rule, Flow: st.flow})
		}
		rs := ranges[k]
		if n := len(rs); n > 0 && rs[n-1][1].Next() == st.lo {
			rs[n-1][1] = st.hi // adjacent stretches merge
		} else {
			rs = append(rs, [2]netip.Addr{st.lo, st.hi})
		}
		ranges[k] = rs
	}
	for k, i := range index {
		for _, r := range ranges[k] {
			out[i].Prefixes = append(out[i].Prefixes, addrrange.Prefixes(r[0], r[1])...)
		}
	}
	return out
}

// deniedPrefixes are all the denied addresses as the fewest prefixes.
func deniedPrefixes(denied []cloudStretch) []netip.Prefix {
	var out []netip.Prefix
	var lo, hi netip.Addr
	flush := func() {
		if lo.IsValid() {
			out = append(out, addrrange.Prefixes(lo, hi)...)
		}
	}
	for _, st := range denied {
		if lo.IsValid() && hi.Next() == st.lo {
			hi = st.hi
			continue
		}
		flush()
		lo, hi = st.lo, st.hi
	}
	flush()
	return out
}

// prefixesText lists prefixes, at most max of them and how many more.
func prefixesText(ps []netip.Prefix, max int) string {
	var parts []string
	for i, p := range ps {
		if i == max {
			parts = append(parts, fmt.Sprintf("and %d more", len(ps)-max))
			break
		}
		parts = append(parts, p.String())
	}
	return strings.Join(parts, ", ")
}

// cloudHint is the backend's commands that let every denied part in, one
// per line (further lines indented under the first).
func cloudHint(b cloud.Backend, s *cloud.Snapshot, iface *cloud.Interface, denied []cloudStretch) string {
	lines := b.Fix(s, iface, deniedFixes(denied))
	if len(lines) == 0 {
		return "check the security groups and network ACLs of " + iface.ID
	}
	return strings.Join(lines, hintIndent)
}

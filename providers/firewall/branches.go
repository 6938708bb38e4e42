package firewall

import (
	"fmt"
	"slices"
	"strings"
)

// maxBranches bounds how many ways through random choices one evaluation
// follows (a service with many endpoints behind another random choice).
const maxBranches = 256

// evalRun is what the packets of one way through the ruleset share: the
// original, its reply and a reject's answer.
type evalRun struct {
	ch chooser
	// assume lists the assumptions the verdict rests on, in order.
	assume []string
	// updated holds the sets ("family table set") a rule added the
	// packet's key to on the way.
	updated map[string]string
	// rec records the walk when one was asked for (RecordWalk); nil
	// otherwise, and then nothing is recorded.
	rec *walkRec
}

func (r *evalRun) assumeThat(a string) {
	r.assume = appendNew(r.assume, a)
}

func appendNew(list []string, items ...string) []string {
	for _, a := range items {
		if !slices.Contains(list, a) {
			list = append(list, a)
		}
	}
	return list
}

// chooser takes random choices along a prescribed script: the first
// len(script) choices as written, later ones the first way. arity records
// how many ways each choice had, refs the rules that made them.
type chooser struct {
	script []int
	pos    int
	arity  []int
	refs   []RuleRef
}

// choose returns which of n ways to follow at the next random choice.
func (c *chooser) choose(n int, ref RuleRef) int {
	i := c.pos
	c.pos++
	c.arity = append(c.arity, n)
	c.refs = append(c.refs, ref)
	if i < len(c.script) {
		return min(c.script[i], n-1)
	}
	c.script = append(c.script, 0)
	return 0
}

// taken is the script of the choices this run made.
func (c *chooser) taken() []int { return slices.Clone(c.script[:c.pos]) }

// nextScript is the next combination of choices after taken, depth first:
// the last choice that has another way takes it, and the choices after it
// (which may differ on that way) start over.
func nextScript(taken, arity []int) ([]int, bool) {
	for i := len(taken) - 1; i >= 0; i-- {
		if i < len(arity) && taken[i]+1 < arity[i] {
			next := slices.Clone(taken[:i+1])
			next[i]++
			return next, true
		}
	}
	return nil, false
}

// outcomeKey is what the client sees, which the ways must agree on.
func outcomeKey(d Decision) string {
	seen := d.Seen()
	if seen == Reject {
		return seen + " " + d.Reject
	}
	return seen
}

// mergeBranches combines the decisions of every way through the random
// choices: the first when they all agree, else an indeterminate decision
// that says which outcomes the choice leads to.
func mergeBranches(branches []Decision, assume []string, refs []RuleRef) Decision {
	first := branches[0]
	var keys []string
	examples := map[string]Decision{}
	for _, d := range branches {
		k := outcomeKey(d)
		if _, ok := examples[k]; !ok {
			keys = append(keys, k)
			examples[k] = d
		}
	}
	first.Assumptions = assume
	first.Branches = len(branches)
	if len(keys) == 1 && keys[0] != Indeterminate {
		return first
	}
	var parts []string
	for _, k := range keys {
		d := examples[k]
		s := k
		switch {
		case k == Indeterminate:
			s += " (" + d.Reason + ")"
		case d.Rule != nil:
			s += " by " + d.Rule.String()
		}
		parts = append(parts, s)
	}
	var who []string
	for _, r := range refs {
		who = appendNew(who, r.String())
	}
	d := Decision{Verdict: Indeterminate, IIF: first.IIF, OIF: first.OIF, Hook: first.Hook, Trace: first.Trace,
		Assumptions: assume, Branches: len(branches)}
	d.Reason = fmt.Sprintf("the verdict depends on a random choice (%s): %s", strings.Join(who, "; "), strings.Join(parts, ", or "))
	return d
}

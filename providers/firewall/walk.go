package firewall

import (
	"cmp"
	"fmt"
	"strings"
)

// maxJumpDepth bounds jump nesting; nftables itself allows 16 levels, so a
// deeper stack can only come from a loop in hand-made input.
const maxJumpDepth = 64

// outcome is how one base chain left the packet.
type outcome struct {
	verdict string // accept, drop, reject, dnat, indeterminate
	reject  string
	ref     RuleRef
	reason  string
}

// walk runs every base chain of one hook in priority order. It returns the
// final outcome when a chain dropped, rejected or could not be evaluated,
// nil when the packet goes on.
func (e *Evaluator) walk(d *Decision, st *packetState, k hookKey) *outcome {
	natDone := false
	rec := st.run.rec
	if rec != nil {
		rec.hook(st, k.hook)
	}
	for _, bc := range e.hooks[k] {
		if bc.c.c.Type == "nat" && natDone {
			if rec != nil {
				rec.chain(bc, st, k.hook, "a nat chain of this hook set a mapping already, and the kernel asks no more")
			}
			continue // the kernel stops asking nat chains once one set a mapping
		}
		out, stop := e.step(d, st, bc, k.hook)
		if stop {
			final := out // a copy: taking out's own address would move it to the heap every iteration
			return &final
		}
		switch out.verdict {
		case VerdictSNAT:
			st.snat = true
			natDone = true
		case VerdictDNAT:
			natDone = true
		}
	}
	return nil
}

// step runs one base chain and records it in the trace. stop is set when
// the chain ended the packet's way (drop, reject, undecidable); the
// decision then names the hook.
func (e *Evaluator) step(d *Decision, st *packetState, bc *baseChain, hook string) (out outcome, stop bool) {
	st.noCT = st.noConn || (!st.ctEarly && beforeConntrack(bc.c.c, hook))
	rec, at := st.run.rec, 0
	if rec != nil {
		at = rec.chain(bc, st, hook, "")
	}
	out = e.runBase(bc, st, hook)
	if rec != nil {
		rec.chainVerdict(at, out.verdict)
	}
	d.Trace = append(d.Trace, Step{Hook: hook, Ref: out.ref, Verdict: out.verdict, nat: bc.c.c.Type == "nat"})
	switch out.verdict {
	case Drop, Reject, Indeterminate:
		d.Hook = hook
		return out, true
	}
	return out, false
}

func (e *Evaluator) final(d Decision, out outcome) Decision {
	d.Verdict, d.Reject, d.Reason = out.verdict, out.reject, out.reason
	ref := out.ref
	d.Rule = &ref
	return d
}

// acceptingRule picks the rule to show for an accepted packet among the
// base chains of the deciding hook that accepted it: an explicit accept
// in a chain that filters (not a nat chain, whose policy every packet
// passes), else such a chain's policy, else a nat chain's rule or policy;
// the last one of the best kind. (An iptables host's INPUT hook also
// runs nat INPUT: "accepted by ip nat INPUT policy accept" says nothing.)
func acceptingRule(trace []Step, hook string) *RuleRef {
	var best *RuleRef
	bestRank := -1
	for i := range trace {
		s := &trace[i]
		if s.Hook != hook {
			continue
		}
		rank := 0
		if !s.nat {
			rank += 2
		}
		if s.Ref.Policy == "" {
			rank++
		}
		if rank >= bestRank {
			r := s.Ref
			best, bestRank = &r, rank
		}
	}
	return best
}

// frame is a place to come back to: a chain, its candidate rules for this
// packet, and the next candidate to try.
type frame struct {
	c     *cchain
	cands []int32
	ci    int
}

// runBase evaluates one base chain with its jumps, gotos and returns.
// With a walk asked for (st.run.rec) it records every rule it tries.
func (e *Evaluator) runBase(bc *baseChain, st *packetState, hook string) outcome {
	c := bc.c
	rec := st.run.rec
	cands, ci := st.candidates(c), 0
	var stack []frame
	policy := func() outcome {
		pol := cmp.Or(bc.c.c.Policy, Accept)
		ref := e.ref(bc.c, nil)
		ref.Policy = pol
		if rec != nil {
			shown := ref // a copy: taking ref's own address would move it to the heap on every call
			rec.add(WalkStep{Kind: StepPolicy, Rule: &shown, Verdict: pol})
		}
		return outcome{verdict: pol, ref: ref}
	}
	for {
		if ci >= len(cands) {
			if len(stack) == 0 {
				return policy()
			}
			top := stack[len(stack)-1]
			if rec != nil {
				rec.add(WalkStep{Kind: StepReturn, Depth: len(stack), Text: "end of chain " + c.c.Name + ": back to " + top.c.c.Name})
			}
			stack = stack[:len(stack)-1]
			c, cands, ci = top.c, top.cands, top.ci
			continue
		}
		r := c.rules[cands[ci]]
		ci++
		if r.inert {
			if rec != nil {
				rec.rule(e, c, r, len(stack), st, ResultInert, -1, "changes nothing whether it matches or not")
			}
			continue
		}
		ok, why, at := e.matches(c, r, st, hook)
		if why != "" {
			if rec != nil {
				rec.rule(e, c, r, len(stack), st, ResultNotModelled, at, why)
			}
			return e.indeterminate(c, r, why)
		}
		if !ok {
			if rec != nil {
				rec.rule(e, c, r, len(stack), st, ResultNoMatch, at, "")
			}
			continue
		}
		if rec != nil {
			rec.rule(e, c, r, len(stack), st, ResultMatch, -1, "")
		}
		if r.r.MarkSet != nil {
			st.Mark = r.r.MarkSet.Apply(st.Mark)
		}
		for _, name := range r.r.SetUpdates {
			if st.run.updated == nil {
				st.run.updated = map[string]string{}
			}
			st.run.updated[c.t.setKey(name)] = e.ref(c, r.r).String()
		}
		v := r.r.Verdict
		if v.Kind == VerdictVmap {
			mv, found, why := e.lookupVmap(c, r, st)
			if why != "" {
				if rec != nil {
					rec.action("verdict map lookup cannot be decided: " + why)
				}
				return e.indeterminate(c, r, why)
			}
			if !found {
				if rec != nil {
					rec.action("no element of the verdict map matches: continue")
				}
				continue
			}
			v = mv
		}
		ref := e.ref(c, r.r)
		if rec != nil && v.Kind != VerdictDNAT && v.Kind != VerdictRedirect {
			rec.action(ruleAction(r.r, v, st))
		}
		switch v.Kind {
		case VerdictNone:
			continue
		case VerdictAccept:
			return outcome{verdict: Accept, ref: ref}
		case VerdictDrop:
			return outcome{verdict: Drop, ref: ref}
		case VerdictReject:
			return outcome{verdict: Reject, reject: v.Reject, ref: ref}
		case VerdictJump, VerdictGoto:
			target, ok := c.t.chains[v.Chain]
			if !ok {
				why := fmt.Sprintf("%s to chain %q, which does not exist", v.Kind, v.Chain)
				if rec != nil {
					rec.action("cannot be followed: " + why)
				}
				return e.indeterminate(c, r, why)
			}
			if v.Kind == VerdictJump {
				if len(stack) >= maxJumpDepth {
					why := fmt.Sprintf("jumps nest deeper than %d (a loop?)", maxJumpDepth)
					if rec != nil {
						rec.action("cannot be followed: " + why)
					}
					return e.indeterminate(c, r, why)
				}
				stack = append(stack, frame{c, cands, ci})
			}
			c, cands, ci = target, st.candidates(target), 0
		case VerdictReturn:
			if len(stack) == 0 {
				return policy()
			}
			top := stack[len(stack)-1]
			stack = stack[:len(stack)-1]
			c, cands, ci = top.c, top.cands, top.ci
		case VerdictDNAT, VerdictRedirect:
			if bc.c.c.Type != "nat" || (hook != HookPrerouting && hook != HookOutput) {
				if rec != nil {
					rec.action("cannot be followed: " + v.Kind + " outside a nat prerouting chain")
				}
				return e.indeterminate(c, r, v.Kind+" outside a nat prerouting chain")
			}
			if v.Kind == VerdictRedirect {
				addr := e.host.primary(st.IIF, st.Dst.Is6())
				if !addr.IsValid() {
					if rec != nil {
						rec.action("cannot be followed: interface " + st.IIF + " has no address")
					}
					return e.indeterminate(c, r, "redirect: interface "+st.IIF+" has no address")
				}
				st.Dst = addr
			} else if v.NATAddr.IsValid() {
				st.Dst = v.NATAddr.Unmap()
			}
			if v.NATPort != 0 {
				st.DPort = v.NATPort
			}
			st.cands = nil // candidates depend on the destination port
			// The connection is marked DNATed (ct status dnat, ctstate
			// DNAT) only when the mapping changes its tuple
			// (nf_nat_setup_info).
			st.dnat = st.dnat || st.Dst != st.origDst || st.DPort != st.origDPort
			if rec != nil {
				rec.action(ruleAction(r.r, v, st))
			}
			return outcome{verdict: VerdictDNAT, ref: ref}
		case VerdictSNAT:
			return outcome{verdict: VerdictSNAT, ref: ref}
		case VerdictQueue:
			return e.indeterminate(c, r, "the packet is queued to a user-space program (NFQUEUE), which decides")
		default:
			return e.indeterminate(c, r, fmt.Sprintf("unknown verdict %q", v.Kind))
		}
	}
}

// setKey names a set of the table across tables; iptables' recent lists
// ("recent:NAME") are the namespace's, whichever table uses them.
func (t *ctable) setKey(name string) string {
	if strings.HasPrefix(name, "recent:") {
		return name
	}
	return t.t.Family + " " + t.t.Name + " " + name
}

func (e *Evaluator) ref(c *cchain, r *Rule) RuleRef {
	ref := RuleRef{Backend: c.t.t.Backend, Family: c.t.t.Family, Table: c.t.t.Name, Chain: c.c.Name}
	if r != nil {
		ref.Handle, ref.Number, ref.Text = r.Handle, r.Number, r.Text
	}
	return ref
}

func (e *Evaluator) indeterminate(c *cchain, r *crule, why string) outcome {
	ref := e.ref(c, r.r)
	return outcome{verdict: Indeterminate, ref: ref, reason: why + " in rule " + ref.String()}
}

// String names a rule the way its tool would: "inet filter input handle 7"
// or "ip filter INPUT #3".
func (r RuleRef) String() string {
	s := r.Family + " " + r.Table + " " + r.Chain
	switch {
	case r.Policy != "":
		s += " policy " + r.Policy
	case r.Handle != 0:
		s += fmt.Sprintf(" handle %d", r.Handle)
	case r.Number != 0:
		s += fmt.Sprintf(" #%d", r.Number)
	}
	if r.Text != "" && r.Policy == "" {
		s += ": " + r.Text
	}
	return s
}

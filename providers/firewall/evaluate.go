package firewall

import (
	"fmt"
	"net/netip"
)

// Evaluate decides the kernel's verdict for the first packet (conntrack
// state new) of a connection arriving at the host and, for the protocols
// with replies (TCP, UDP, SCTP, UDP-Lite), for the first packet the host
// sends back: the reply when the packet is accepted (Decision.Reply), the
// TCP reset or ICMP error when it is rejected (Decision.Answer).
//
// Rules that pick one of several ways at random (kube-proxy's endpoint
// choice: statistic, numgen) are followed every way; the verdict stands
// when all ways agree (Decision.Branches), else it is indeterminate.
// Rate and state matches are judged for this one new connection, and the
// assumptions that takes are listed (Decision.Assumptions).
//
// RecordWalk(&w) among opts records the full walk in w as well; without
// it nothing beyond the Decision is recorded.
func (e *Evaluator) Evaluate(p Packet, opts ...Option) Decision {
	var walk *Walk
	for _, o := range opts {
		if o.walk != nil {
			walk = o.walk
		}
	}
	run := &evalRun{}
	if walk != nil {
		*walk = Walk{}
		run.rec = &walkRec{}
	}
	first := e.evaluateRun(p, run)
	if walk != nil {
		walk.Ways = append(walk.Ways, run.rec.way(run))
	}
	if len(run.ch.arity) == 0 {
		return first
	}
	branches := []Decision{first}
	assume, refs := run.assume, run.ch.refs
	script := run.ch.taken()
	for {
		next, ok := nextScript(script, run.ch.arity)
		if !ok {
			break
		}
		if len(branches) == maxBranches {
			d := first
			d.Verdict, d.Reject, d.Reply, d.Answer = Indeterminate, "", nil, nil
			d.Reason = fmt.Sprintf("more than %d combinations of random choices (%s) lead to different rules; not all were followed", maxBranches, refs[0])
			if walk != nil {
				walk.Incomplete = d.Reason
			}
			return d
		}
		run = &evalRun{ch: chooser{script: next}}
		if walk != nil {
			run.rec = &walkRec{}
		}
		d := e.evaluateRun(p, run)
		if walk != nil {
			walk.Ways = append(walk.Ways, run.rec.way(run))
		}
		branches = append(branches, d)
		assume = appendNew(assume, run.assume...)
		refs = append(refs, run.ch.refs...)
		script = run.ch.taken()
	}
	return mergeBranches(branches, assume, refs)
}

// evaluateRun is one way through the ruleset, with the random choices run
// prescribes.
func (e *Evaluator) evaluateRun(p Packet, run *evalRun) Decision {
	d, st := e.evaluateOriginal(p, run)
	rec := run.rec
	if rec != nil {
		rec.end(d)
	}
	if hasPorts(st.Proto) {
		switch d.Verdict {
		case Accept:
			r := e.evaluateReply(st, d.Hook == HookInput)
			if rec != nil {
				rec.end(r)
			}
			d.Reply = &r
			if r.Verdict != Accept {
				d.Verdict, d.Reject, d.Hook, d.Rule = r.Verdict, r.Reject, r.Hook, r.Rule
				d.Reason = replyReason(st, r)
			}
		case Reject:
			a := e.evaluateAnswer(st, d.Reject)
			if rec != nil {
				rec.end(a)
			}
			d.Answer = &a
			if a.Verdict != Accept {
				d.Reason = answerReason(d, a)
			}
		}
	}
	d.Assumptions = run.assume
	return d
}

// evaluateOriginal decides the first packet of the connection and returns
// it as it left the last hook.
func (e *Evaluator) evaluateOriginal(p Packet, run *evalRun) (Decision, *packetState) {
	st := &packetState{Packet: p, origDst: p.Dst, origDPort: p.DPort, tcpFlags: tcpSYN, run: run}
	st.Src, st.Dst = st.Src.Unmap(), st.Dst.Unmap()
	v6 := st.Dst.Is6()
	d := Decision{}
	if st.IIF == "" {
		// Unknown when there is no route back to the source; only rules
		// that test the interface then become undecidable.
		st.IIF = e.host.ingress(st.Src)
	}
	st.ctEarly = st.IIF == "lo"
	st.confirmedCT = st.ctEarly
	d.IIF = st.IIF
	if run.rec != nil {
		run.rec.begin(LegPacket, st)
	}

	if out := e.walk(&d, st, hookKey{v6, HookPrerouting}); out != nil {
		return e.final(d, *out), st
	}
	if st.Dst != st.origDst || st.DPort != st.origDPort {
		d.DNATAddr, d.DNATPort = st.Dst, st.DPort
		if run.rec != nil {
			run.rec.add(WalkStep{Kind: StepNAT, Text: fmt.Sprintf("destination %s becomes %s (DNAT)",
				netip.AddrPortFrom(st.origDst, st.origDPort), netip.AddrPortFrom(st.Dst, st.DPort))})
		}
	}

	forward, routed := e.routeInput(&d, st)
	if run.rec != nil {
		run.rec.add(WalkStep{Kind: StepRouting, Text: routingText(d, st, routed)})
	}
	if !routed {
		return d, st
	}
	hooks := []string{HookInput}
	if forward {
		hooks = []string{HookForward, HookPostrouting}
	}
	for _, h := range hooks {
		if out := e.walk(&d, st, hookKey{v6, h}); out != nil {
			return e.final(d, *out), st
		}
	}
	d.Verdict, d.Hook = Accept, hooks[0]
	d.Rule = acceptingRule(d.Trace, hooks[0])
	return d, st
}

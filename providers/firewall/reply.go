package firewall

import (
	"fmt"
	"net/netip"
)

// answerReason says that a reject's answer does not reach the client.
func answerReason(d Decision, a Decision) string {
	what := "its answer"
	if d.Reject != "" {
		what = "the " + d.Reject + " it answers with"
	}
	s := ""
	switch {
	case a.Verdict == Indeterminate:
		s = "whether " + what + " reaches the client cannot be decided: " + a.Reason
	case a.Rule != nil:
		s = fmt.Sprintf("%s is %s by %s", what, verdictWord(a.Verdict), a.Rule)
		if a.Hook != HookOutput && a.Hook != HookInput {
			s += " in " + a.Hook
		}
		s += ", so the client sees no answer (a timeout)"
	default:
		s = what + " is not delivered: " + a.Reason
	}
	if d.Reason != "" {
		return d.Reason + "; " + s
	}
	return s
}

func verdictWord(v string) string {
	switch v {
	case Drop:
		return "dropped"
	case Reject:
		return "rejected"
	}
	return v
}

// replyReason says that the reply, not the packet, is stopped.
func replyReason(orig *packetState, r Decision) string {
	what := "the reply"
	switch orig.Proto {
	case ProtoTCP:
		what = "the reply (SYN-ACK)"
	case ProtoUDP:
		what = "the reply datagram"
	}
	what += " to " + orig.Src.String()
	if r.Verdict == Indeterminate {
		return what + " cannot be decided: " + r.Reason
	}
	if r.Rule == nil {
		return what + " is not delivered: " + r.Reason
	}
	words := "dropped"
	if r.Verdict == Reject {
		words = "rejected"
		if r.Reject != "" {
			words += " with " + r.Reject
		}
	}
	s := fmt.Sprintf("%s is %s by %s", what, words, r.Rule)
	if r.Hook != HookOutput && r.Hook != HookInput {
		s += " in " + r.Hook
	}
	if r.Verdict == Reject {
		s += " (the reject answers the reply's sender, not the client, which sees no answer)"
	}
	return s
}

// natFix is a translation the NAT core applies to a packet going back to
// the client: it reverses the original packet's NAT on every later packet
// of the connection, without consulting nat chains (nf_nat_inet_fn only
// runs them for new connections; nf_nat_packet does the rest). A DNAT is
// reversed on the source at the source-NAT hooks (postrouting and input,
// priority srcnat 100), an SNAT on the destination at the destination-NAT
// hooks (prerouting and output, dstnat -100): HOOK2MANIP with the
// direction inverted.
type natFix struct {
	hooks [2]string
	prio  int
	apply func(st *packetState)
	done  bool
	// reverses is the translation undone ("DNAT", "SNAT"), for the walk.
	reverses string
}

// run applies the translation to st, once, and records it in the walk.
func (f *natFix) run(st *packetState) {
	src, dst := netip.AddrPortFrom(st.Src, st.SPort), netip.AddrPortFrom(st.Dst, st.DPort)
	f.apply(st)
	f.done = true
	if rec := st.run.rec; rec != nil {
		what := "the destination is the client's again"
		if f.reverses == "DNAT" {
			what = fmt.Sprintf("source %s becomes %s", src, netip.AddrPortFrom(st.Src, st.SPort))
		} else if dst != netip.AddrPortFrom(st.Dst, st.DPort) {
			what = fmt.Sprintf("destination %s becomes %s", dst, netip.AddrPortFrom(st.Dst, st.DPort))
		}
		rec.add(WalkStep{Kind: StepNAT, Text: what + " (the NAT core reverses the connection's " + f.reverses + ")"})
	}
}

// backPhase is one hook of the way back and what the packet looks like
// there.
type backPhase struct {
	hook    string
	iif     string // "" with noIIF: made here
	noIIF   bool
	oif     string // "" before routing (prerouting, input)
	oifWhy  string
	ctEarly bool
}

// natFixes are the reverse translations for a packet of the connection
// orig going back to the client.
func natFixes(orig, st *packetState, withPort bool) []*natFix {
	var fixes []*natFix
	if orig.dnat {
		to, port := orig.origDst, orig.origDPort
		fixes = append(fixes, &natFix{hooks: [2]string{HookPostrouting, HookInput}, prio: 100, reverses: "DNAT", apply: func(st *packetState) {
			st.Src = to
			if withPort {
				st.SPort = port
			}
			st.cands = nil // candidates depend on the source
		}})
	}
	if orig.snat {
		st.dstWhy = fmt.Sprintf("the packet to %s still carries the connection's source NAT address here, which is not modelled", orig.Src)
		fixes = append(fixes, &natFix{hooks: [2]string{HookPrerouting, HookOutput}, prio: -100, reverses: "SNAT", apply: func(st *packetState) { st.dstWhy = "" }})
	}
	return fixes
}

// localPhases is the way of a packet the host makes for client: output
// and postrouting, then over lo through prerouting and input when the
// client is the host itself. main is the hook that decides it.
func (e *Evaluator) localPhases(client netip.Addr) (phases []backPhase, main, oif string) {
	oif, oifWhy := e.host.egress(client), ""
	if oif == "" {
		oifWhy = fmt.Sprintf("no route back to %s, so the interface the packet leaves by is unknown", client)
	}
	phases = []backPhase{
		{hook: HookOutput, noIIF: true, oif: oif, oifWhy: oifWhy},
		{hook: HookPostrouting, noIIF: true, oif: oif, oifWhy: oifWhy},
	}
	if oif != "lo" {
		return phases, HookOutput, oif
	}
	// Received again over lo, with its connection already attached.
	return append(phases, backPhase{hook: HookPrerouting, iif: "lo", ctEarly: true}, backPhase{hook: HookInput, iif: "lo", ctEarly: true}), HookInput, oif
}

// evaluateReply decides the first reply of the accepted connection orig:
// from the address the client reached (after DNAT) back to the client,
// ports swapped, conntrack state established, with no nat chains asked.
// local says the original was delivered locally (the reply is made by the
// host and leaves through output and postrouting); otherwise it was
// forwarded and the reply comes back from where it went (prerouting,
// forward, postrouting).
func (e *Evaluator) evaluateReply(orig *packetState, local bool) Decision {
	client := orig.Src
	st := &packetState{
		Packet:    Packet{Src: orig.Dst, Dst: client, Proto: orig.Proto, SPort: orig.DPort, DPort: orig.SPort},
		origDst:   orig.origDst,
		origDPort: orig.origDPort,
		dnat:      orig.dnat,
		snat:      orig.snat,
		reply:     true,
		// Confirmed at the end of the original's input or postrouting.
		confirmedCT: true,
		tcpFlags:    tcpSYN | tcpACK,
		run:         orig.run,
	}
	fixes := natFixes(orig, st, true)
	if st.run.rec != nil {
		st.run.rec.begin(LegReply, st)
	}
	if local {
		phases, main, oif := e.localPhases(client)
		return e.walkBack(st, phases, fixes, main, oif)
	}
	// From where the original went: its egress interface.
	iif := orig.oif
	phases := []backPhase{{hook: HookPrerouting, iif: iif}}
	if e.host.isLocal(client) {
		return e.walkBack(st, append(phases, backPhase{hook: HookInput, iif: iif}), fixes, HookInput, "lo")
	}
	oif, oifWhy := e.host.egress(client), ""
	if oif == "" {
		oifWhy = fmt.Sprintf("no route back to %s, so the interface the reply leaves by is unknown", client)
	}
	phases = append(phases, backPhase{hook: HookForward, iif: iif, oif: oif, oifWhy: oifWhy},
		backPhase{hook: HookPostrouting, iif: iif, oif: oif, oifWhy: oifWhy})
	return e.walkBack(st, phases, fixes, HookForward, oif)
}

// evaluateAnswer decides the answer of a reject of kind (the TCP reset or
// the ICMP error) on its way to the client. Whatever hook rejected, the
// host makes the answer itself: it leaves through output and postrouting.
// The reject attaches it to the connection as related, so every chain
// sees it related, even before conntrack; a reject that ran before
// conntrack has no connection to attach, and its answer is invalid
// everywhere.
func (e *Evaluator) evaluateAnswer(orig *packetState, kind string) Decision {
	client := orig.Src
	v6 := client.Is6()
	st := &packetState{
		Packet:    Packet{Src: orig.Dst, Dst: client},
		origDst:   orig.origDst,
		origDPort: orig.origDPort,
		dnat:      orig.dnat,
		snat:      orig.snat,
		// A reset answering a SYN acknowledges it (nf_send_reset).
		tcpFlags: tcpRST | tcpACK,
		run:      orig.run,
	}
	tcp := kind == "tcp reset" && orig.Proto == ProtoTCP
	if tcp {
		// From the address and port the SYN reached.
		st.Proto, st.SPort, st.DPort = ProtoTCP, orig.DPort, orig.SPort
	} else {
		st.Proto, st.ICMPType = ProtoICMP, 3 // destination unreachable
		if v6 {
			st.Proto, st.ICMPType = ProtoICMPv6, 1
		}
		if !e.host.isLocal(orig.Dst) {
			// icmp_send picks the source of the route back for a packet
			// that was not for the host.
			if a := e.host.primary(e.host.egress(client), v6); a.IsValid() {
				st.Src = a
			}
		}
	}
	var fixes []*natFix
	if orig.noCT {
		st.noConn = true
	} else {
		st.related, st.ctEarly = true, true
		fixes = natFixes(orig, st, tcp)
	}
	if st.run.rec != nil {
		st.run.rec.begin(LegAnswer, st)
	}
	phases, main, oif := e.localPhases(client)
	return e.walkBack(st, phases, fixes, main, oif)
}

// walkBack runs a packet going back to the client through its phases.
func (e *Evaluator) walkBack(st *packetState, phases []backPhase, fixes []*natFix, main, oif string) Decision {
	v6 := st.Dst.Is6()
	r := Decision{IIF: phases[0].iif, OIF: oif}
	if rec := st.run.rec; rec != nil {
		rec.add(WalkStep{Kind: StepRouting, Text: backText(phases, oif)})
	}
	early := st.ctEarly
	for _, ph := range phases {
		st.IIF, st.noIIF, st.oif, st.oifWhy = ph.iif, ph.noIIF, ph.oif, ph.oifWhy
		st.ctEarly = early || ph.ctEarly
		if out := e.walkBackHook(&r, st, hookKey{v6, ph.hook}, fixes); out != nil {
			return e.final(r, *out)
		}
	}
	r.Verdict, r.Hook = Accept, main
	r.Rule = acceptingRule(r.Trace, main)
	for i := len(phases) - 1; r.Rule == nil && i >= 0; i-- {
		r.Rule = acceptingRule(r.Trace, phases[i].hook)
	}
	return r
}

// walkBackHook runs the base chains of one hook for a packet of an
// existing connection: every type but nat, applying the NAT core's
// reverse translations where it runs among them.
func (e *Evaluator) walkBackHook(d *Decision, st *packetState, k hookKey, fixes []*natFix) *outcome {
	rec := st.run.rec
	if rec != nil {
		rec.hook(st, k.hook)
	}
	for _, bc := range e.hooks[k] {
		if bc.c.c.Type == "nat" {
			if rec != nil {
				rec.chain(bc, st, k.hook, "nat chains see only a connection's first packet")
			}
			continue
		}
		for _, f := range fixes {
			if !f.done && (f.hooks[0] == k.hook || f.hooks[1] == k.hook) && e.afterNATCore(bc, k, f.prio) {
				f.run(st)
			}
		}
		out, stop := e.step(d, st, bc, k.hook)
		if stop {
			final := out // a copy: taking out's own address would move it to the heap every iteration
			return &final
		}
		if out.verdict == VerdictSNAT { // only nat chains may translate
			d.Hook = k.hook
			return &outcome{verdict: Indeterminate, ref: out.ref, reason: "snat outside a nat chain in rule " + out.ref.String()}
		}
	}
	for _, f := range fixes {
		if !f.done && (f.hooks[0] == k.hook || f.hooks[1] == k.hook) {
			f.run(st)
		}
	}
	return nil
}

// afterNATCore reports whether base chain bc runs after the NAT core's
// hook at prio. Among equal priorities the later registered runs first
// (see NewEvaluator); the NAT core registered with the family's first nat
// chain.
func (e *Evaluator) afterNATCore(bc *baseChain, k hookKey, prio int) bool {
	p := bc.c.c.Priority
	if p != prio {
		return p > prio
	}
	return bc.order < e.natOrder[famIndex(k.v6)]
}

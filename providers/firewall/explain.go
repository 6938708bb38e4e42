package firewall

import (
	"fmt"
	"net/netip"
	"slices"
	"strings"
)

// Option asks Evaluate for more than the Decision.
type Option struct {
	walk *Walk
}

// RecordWalk makes Evaluate record the full walk into w: every hook, every
// base chain by priority, every rule of every chain the packet goes
// through and how it came out, for the packet and for what goes back to
// the client. Without it Evaluate records nothing beyond Decision.Trace.
// With it every rule of a chain is tried (the index that skips rules which
// cannot match is not used), so that the walk shows why a rule does not
// match; the Decision is the same either way.
func RecordWalk(w *Walk) Option { return Option{walk: w} }

// Walk is the full account of one evaluation (RecordWalk), so that an
// operator sees why, not only which rule.
type Walk struct {
	// Ways are the ways through random choices (kube-proxy's pick of an
	// endpoint), each walked in full; one when there is no choice.
	Ways []WalkWay `json:"ways"`
	// Incomplete says why not every way was followed.
	Incomplete string `json:"incomplete,omitempty"`
}

// WalkWay is one way through the ruleset: the packet's leg, then its
// reply's (accepted) or the reject's answer's (rejected).
type WalkWay struct {
	// Choices says which way (0-based) each random choice took, in the
	// order they were met; Chosen names the rules that made them.
	Choices []int     `json:"choices,omitempty"`
	Chosen  []RuleRef `json:"chosen,omitempty"`
	Legs    []WalkLeg `json:"legs"`
}

// Leg kinds.
const (
	LegPacket = "packet" // the client's first packet
	LegReply  = "reply"  // its first reply (SYN-ACK, reply datagram)
	LegAnswer = "answer" // a reject's TCP reset or ICMP error
)

// WalkLeg is one packet's way through the host and where it ended.
type WalkLeg struct {
	Kind   string `json:"kind"` // LegPacket, LegReply or LegAnswer
	Packet Packet `json:"packet"`
	// TCPFlags of a TCP packet: "SYN", "SYN,ACK", "RST,ACK".
	TCPFlags string     `json:"tcp_flags,omitempty"`
	Steps    []WalkStep `json:"steps"`
	// How the leg ended: as Decision's fields of that packet.
	Verdict string   `json:"verdict"`
	Reject  string   `json:"reject,omitempty"`
	Hook    string   `json:"hook,omitempty"`
	Rule    *RuleRef `json:"rule,omitempty"`
	Reason  string   `json:"reason,omitempty"`
}

// StepKind says what a WalkStep records.
type StepKind string

const (
	StepHook    StepKind = "hook"    // the packet reaches a hook (Hook, IIF, OIF)
	StepChain   StepKind = "chain"   // a base chain of the hook (Chain; Result "skipped" when not run)
	StepRule    StepKind = "rule"    // a rule tried (Rule, Result, Match, Value, Action)
	StepReturn  StepKind = "return"  // the end of a regular chain: back to the one that jumped
	StepPolicy  StepKind = "policy"  // no rule decided: the base chain's policy applies
	StepRouting StepKind = "routing" // the routing decision (Text)
	StepNAT     StepKind = "nat"     // an address translation takes effect (Text)
)

// RuleResult is how a rule came out for the packet.
type RuleResult string

const (
	ResultMatch       RuleResult = "match"
	ResultNoMatch     RuleResult = "no match"     // Match names the match that failed
	ResultNotModelled RuleResult = "not modelled" // cannot be decided: Match and Text say why
	// ResultInert: the rule changes nothing whether it matches or not (a
	// LOG or counter rule, a jump to such rules), so it is not evaluated.
	ResultInert RuleResult = "inert"
	// ResultSkipped: a base chain the kernel does not run for this packet.
	ResultSkipped RuleResult = "skipped"
)

// WalkStep is one thing that happened to the packet.
type WalkStep struct {
	Kind StepKind `json:"kind"`
	Hook string   `json:"hook,omitempty"`
	// IIF and OIF at a hook ("" = none or not known yet).
	IIF string `json:"iif,omitempty"`
	OIF string `json:"oif,omitempty"`
	// Chain is the base chain of a StepChain or StepPolicy step.
	Chain *WalkChain `json:"chain,omitempty"`
	// Depth is how many jumps deep the step is within its base chain.
	Depth int `json:"depth,omitempty"`
	// Rule is the rule tried (its chain, handle or number, text).
	Rule   *RuleRef   `json:"rule,omitempty"`
	Result RuleResult `json:"result,omitempty"`
	// Match is the match that decided a rule that did not match or could
	// not be decided, as text ("tcp dport 22"); Value the packet's value
	// of that field ("8080").
	Match string `json:"match,omitempty"`
	Value string `json:"value,omitempty"`
	// Action is what a matching rule did: "accept", "jump DOCKER",
	// "dnat to 172.17.0.2:80", "mark set 0x4000", "continue".
	Action string `json:"action,omitempty"`
	// Verdict is how the packet left a base chain (StepChain) or the
	// verdict of a policy (StepPolicy).
	Verdict string `json:"verdict,omitempty"`
	Text    string `json:"text,omitempty"`
}

// WalkChain is a base chain as the kernel hooks it in.
type WalkChain struct {
	Backend  string `json:"backend"`
	Family   string `json:"family"`
	Table    string `json:"table"`
	Name     string `json:"name"`
	Type     string `json:"type"`
	Priority int    `json:"priority"`
	Policy   string `json:"policy,omitempty"`
	// CTState is the conntrack state the packet has in this chain (new,
	// established, related, or invalid before conntrack saw it).
	CTState string `json:"ct_state"`
}

// Seen is what the client sees according to the walk alone (its legs'
// ends), as Decision.Seen says it for the decision: the verdict, and the
// reject's kind when it is Reject. Ways that disagree, or ways not all
// followed, are Indeterminate.
func (w *Walk) Seen() (verdict, reject string) {
	if w.Incomplete != "" || len(w.Ways) == 0 {
		return Indeterminate, ""
	}
	for i, way := range w.Ways {
		v, r := way.seen()
		if i == 0 {
			verdict, reject = v, r
			continue
		}
		if v != verdict || r != reject {
			return Indeterminate, ""
		}
	}
	return verdict, reject
}

func (way *WalkWay) seen() (string, string) {
	if len(way.Legs) == 0 {
		return Indeterminate, ""
	}
	first := way.Legs[0]
	for _, l := range way.Legs[1:] {
		switch {
		case l.Verdict == Accept:
		case l.Verdict == Indeterminate:
			return Indeterminate, ""
		default:
			return Drop, "" // a stopped reply or answer: the client sees nothing
		}
	}
	if first.Verdict == Reject {
		return Reject, first.Reject
	}
	return first.Verdict, ""
}

// walkRec records the legs of one way while Evaluate runs. evalRun.rec is
// nil unless a walk was asked for, and nothing is recorded then.
type walkRec struct {
	legs []WalkLeg
}

func (r *walkRec) begin(kind string, st *packetState) {
	l := WalkLeg{Kind: kind, Packet: st.Packet}
	if st.Proto == ProtoTCP {
		l.TCPFlags = flagNames(st.tcpFlags)
	}
	r.legs = append(r.legs, l)
}

func (r *walkRec) add(s WalkStep) {
	l := &r.legs[len(r.legs)-1]
	l.Steps = append(l.Steps, s)
}

// end records how the current leg ended.
func (r *walkRec) end(d Decision) {
	l := &r.legs[len(r.legs)-1]
	l.Verdict, l.Reject, l.Hook, l.Reason = d.Verdict, d.Reject, d.Hook, d.Reason
	if d.Rule != nil {
		ref := *d.Rule
		l.Rule = &ref
	}
}

// hook records a hook the packet reaches.
func (r *walkRec) hook(st *packetState, hook string) {
	s := WalkStep{Kind: StepHook, Hook: hook, IIF: st.IIF, OIF: st.oif}
	if st.noIIF {
		s.IIF = ""
	}
	r.add(s)
}

// chain records a base chain and returns its index, so that the verdict
// it leaves the packet with can be filled in.
func (r *walkRec) chain(bc *baseChain, st *packetState, hook string, skipped string) int {
	c := bc.c.c
	wc := &WalkChain{Backend: bc.t.t.Backend, Family: bc.t.t.Family, Table: bc.t.t.Name, Name: c.Name, Type: c.Type,
		Priority: c.Priority, Policy: c.Policy, CTState: st.ctState()}
	s := WalkStep{Kind: StepChain, Hook: hook, Chain: wc}
	if skipped != "" {
		s.Result, s.Text = ResultSkipped, skipped
		wc.CTState = ""
	}
	r.add(s)
	return len(r.legs[len(r.legs)-1].Steps) - 1
}

func (r *walkRec) chainVerdict(i int, verdict string) {
	r.legs[len(r.legs)-1].Steps[i].Verdict = verdict
}

// rule records a rule tried: at is the match that decided it (-1: none or
// a statement of the rule itself).
func (r *walkRec) rule(e *Evaluator, c *cchain, cr *crule, depth int, st *packetState, result RuleResult, at int, text string) {
	ref := e.ref(c, cr.r)
	s := WalkStep{Kind: StepRule, Depth: depth, Rule: &ref, Result: result, Text: text}
	if at >= 0 && at < len(cr.r.Matches) {
		// As written (an ipset match before its resolution), with the
		// packet's value of the field the compiled match tests.
		s.Match = cr.r.Matches[at].String()
		s.Value = st.valueOf(cr.matches[at].m)
		if cr.matches[at].m.Field == FieldRandom && result == ResultNoMatch {
			s.Text = "this way does not take it"
		}
	}
	r.add(s)
}

// action fills in what the last recorded rule did.
func (r *walkRec) action(a string) {
	l := &r.legs[len(r.legs)-1]
	l.Steps[len(l.Steps)-1].Action = a
}

// ruleAction is what a matching rule does, as the walk shows it.
func ruleAction(r *Rule, v Verdict, st *packetState) string {
	var parts []string
	if r.MarkSet != nil {
		parts = append(parts, fmt.Sprintf("mark set 0x%x", st.Mark))
	}
	for _, s := range r.SetUpdates {
		parts = append(parts, "add to @"+s)
	}
	switch v.Kind {
	case VerdictNone:
		parts = append(parts, "continue")
	case VerdictReject:
		if v.Reject != "" {
			parts = append(parts, "reject with "+v.Reject)
		} else {
			parts = append(parts, "reject")
		}
	case VerdictJump, VerdictGoto:
		parts = append(parts, v.Kind+" "+v.Chain)
	case VerdictDNAT, VerdictRedirect:
		parts = append(parts, fmt.Sprintf("%s to %s", v.Kind, netip.AddrPortFrom(st.Dst, st.DPort)))
	case VerdictSNAT:
		parts = append(parts, "snat (source NAT; the packet goes on)")
	default:
		parts = append(parts, v.Kind)
	}
	return strings.Join(parts, ", ")
}

// flagNames spells TCP flags: "SYN,ACK".
func flagNames(f uint8) string {
	names := []struct {
		bit  uint8
		name string
	}{{tcpFIN, "FIN"}, {tcpSYN, "SYN"}, {tcpRST, "RST"}, {0x08, "PSH"}, {tcpACK, "ACK"}, {0x20, "URG"}, {tcpECE, "ECE"}, {tcpCWR, "CWR"}}
	var out []string
	for _, n := range names {
		if f&n.bit != 0 {
			out = append(out, n.name)
		}
	}
	return strings.Join(out, ",")
}

// way is the walk of one run, with the random choices it took.
func (r *walkRec) way(run *evalRun) WalkWay {
	w := WalkWay{Legs: r.legs}
	if n := run.ch.pos; n > 0 {
		w.Choices = run.ch.taken()
		w.Chosen = slices.Clone(run.ch.refs[:n])
	}
	return w
}

// routingText is the routing decision as the walk shows it.
func routingText(d Decision, st *packetState, routed bool) string {
	switch {
	case !routed && d.Reject != "":
		return d.Reason + ": " + d.Verdict + " with " + d.Reject
	case !routed:
		return d.Reason + ": " + d.Verdict
	case st.oif == "":
		return st.Dst.String() + " is an address of this host: delivered locally (input)"
	}
	return st.Dst.String() + " is not an address of this host: forwarded out " + st.oif + " (forward, then postrouting)"
}

// backText is the way of a packet going back to the client.
func backText(phases []backPhase, oif string) string {
	hooks := make([]string, len(phases))
	for i, ph := range phases {
		hooks[i] = ph.hook
	}
	s := "back to the client through " + strings.Join(hooks, ", ")
	switch {
	case phases[0].noIIF:
		s = "made by this host; " + s
	case phases[0].iif != "":
		s = "comes in on " + phases[0].iif + "; " + s
	}
	if oif == "" {
		return s + "; no route back to the client"
	}
	return s + "; out " + oif
}

package firewall

import "net/netip"

// Protocol numbers the evaluator knows by name.
const (
	ProtoICMP   uint8 = 1
	ProtoTCP    uint8 = 6
	ProtoUDP    uint8 = 17
	ProtoICMPv6 uint8 = 58
)

// Packet is the first packet of a new connection arriving at the host.
type Packet struct {
	// IIF is the interface it arrives on ("lo" for traffic from the host
	// itself); empty lets the evaluator pick it from the routes back to Src.
	IIF   string     `json:"iif,omitempty"`
	Src   netip.Addr `json:"src"`
	Dst   netip.Addr `json:"dst"`
	Proto uint8      `json:"proto"`
	SPort uint16     `json:"sport,omitempty"`
	DPort uint16     `json:"dport"`
	// ICMPType for ICMP echo and the like; unused for TCP/UDP.
	ICMPType uint8  `json:"icmp_type,omitempty"`
	Mark     uint32 `json:"mark,omitempty"`
}

// Final verdicts of an evaluation.
const (
	Accept        = "accept"
	Drop          = "drop"
	Reject        = "reject"
	Indeterminate = "indeterminate"
)

// RuleRef names the rule (or chain policy) that decided, for evidence and
// fix hints.
type RuleRef struct {
	Backend string `json:"backend"`
	Family  string `json:"family"`
	Table   string `json:"table"`
	Chain   string `json:"chain"`
	Handle  int    `json:"handle,omitempty"`
	Number  int    `json:"number,omitempty"`
	// Policy is set when no rule decided and the base chain's policy did.
	Policy string `json:"policy,omitempty"`
	Text   string `json:"text,omitempty"`
}

// Step is one base chain the packet went through and how it left it.
type Step struct {
	Hook    string  `json:"hook"`
	Ref     RuleRef `json:"ref"`
	Verdict string  `json:"verdict"` // accept, drop, reject, dnat, indeterminate
	// nat: the chain is a nat chain, whose policy is not what a reader
	// means by "accepted by" (see acceptingRule).
	nat bool
}

// Decision is the evaluator's answer for one packet.
type Decision struct {
	Verdict string `json:"verdict"` // Accept, Drop, Reject or Indeterminate
	// Reject is how a reject answers ("tcp reset", "icmp port-unreachable" …).
	Reject string `json:"reject,omitempty"`
	// Rule decided the verdict (the last accepting base chain's rule or
	// policy when accepted).
	Rule *RuleRef `json:"rule,omitempty"`
	// Hook where the final verdict fell: input for local delivery, forward
	// when DNAT or routing sent the packet on.
	Hook string `json:"hook,omitempty"`
	// DNAT is the destination after nat prerouting, when rewritten.
	DNATAddr netip.Addr `json:"dnat_addr,omitzero"`
	DNATPort uint16     `json:"dnat_port,omitempty"`
	IIF      string     `json:"iif,omitempty"`
	OIF      string     `json:"oif,omitempty"`
	// Reason explains an indeterminate verdict (unsupported match and the
	// rule it is in, unknown interface, …), a routing verdict, and a
	// reply or reject answer that is stopped on its way back.
	Reason string `json:"reason,omitempty"`
	// Trace lists every base chain traversed, in order.
	Trace []Step `json:"trace,omitempty"`
	// Reply is the decision for the first reply of an accepted TCP or UDP
	// connection (the SYN-ACK, the reply datagram): conntrack state
	// established, leaving through output (local delivery) or coming back
	// through prerouting and forward (DNAT to a container, routed
	// traffic), with the NAT reversed. When it is not accepted, Verdict,
	// Reject, Rule and Hook above are the reply's and Reason says that it
	// is the reply that is stopped: the connection cannot be made. (A
	// rejected reply answers the host or the container that sent it, not
	// the client, which sees no answer at all.) Reply.Trace lists the
	// chains the reply went through; Trace stays the original packet's.
	Reply *Decision `json:"reply,omitempty"`
	// Answer is, for a rejected TCP or UDP packet, the decision for the
	// reject's answer (the TCP reset or ICMP error) on its way to the
	// client: the host makes it, so it leaves through output and
	// postrouting, related to the connection. Verdict stays Reject; when
	// the answer is stopped, Reason says so and the client sees a timeout
	// (see Seen).
	Answer *Decision `json:"answer,omitempty"`
	// Assumptions are what the verdict rests on besides the ruleset, for
	// the one new connection judged: "fewer than 10/minute (limit rate
	// 10/minute)", "no earlier connection from the source in the last 60
	// seconds (-m recent …)", "the client's SYN does not request ECN".
	// The verdict holds while they do.
	Assumptions []string `json:"assumptions,omitempty"`
	// Branches is how many ways through random choices (kube-proxy's pick
	// of an endpoint, statistic and numgen rules) were followed; the
	// verdict is theirs when they agree, indeterminate otherwise. 0 when
	// there was no choice.
	Branches int `json:"branches,omitempty"`
}

// ReplyBlocked reports whether the original packet was accepted but its
// reply is not.
func (d *Decision) ReplyBlocked() bool {
	return d.Reply != nil && d.Reply.Verdict != Accept
}

// AnswerBlocked reports whether a reject's answer does not reach the
// client (indeterminate included).
func (d *Decision) AnswerBlocked() bool {
	return d.Verdict == Reject && d.Answer != nil && d.Answer.Verdict != Accept
}

// Seen is what the client sees: Accept (the connection is made), Reject
// (a TCP reset or ICMP error comes back), Drop (nothing comes back: the
// packet, its reply or the reject's answer is dropped, or the reply is
// rejected, which answers the host or container that sent it) or
// Indeterminate.
func (d *Decision) Seen() string {
	switch {
	case d.ReplyBlocked() && d.Verdict != Indeterminate:
		return Drop
	case d.AnswerBlocked():
		if d.Answer.Verdict == Indeterminate {
			return Indeterminate
		}
		return Drop
	}
	return d.Verdict
}

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
	// rule it is in, unknown interface, …).
	Reason string `json:"reason,omitempty"`
	// Trace lists every base chain traversed, in order.
	Trace []Step `json:"trace,omitempty"`
}

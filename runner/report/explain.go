package report

import (
	"encoding/json"
	"fmt"
	"io"
	"net/netip"
	"strconv"
	"strings"

	"github.com/portcheck/portcheck/providers/firewall"
	"github.com/portcheck/portcheck/runner"
)

// ExplainVersion is the version of the explain -json document; later
// versions only add fields.
const ExplainVersion = 1

// ExplainReport is the document `explain -json` writes.
type ExplainReport struct {
	Version      int                  `json:"version"`
	Explanations []runner.Explanation `json:"explanations"`
	ExitCode     int                  `json:"exit_code"`
}

// WriteExplainJSON writes the explanations as one JSON document.
func WriteExplainJSON(w io.Writer, xs []runner.Explanation, exitCode int) error {
	if xs == nil {
		xs = []runner.Explanation{}
	}
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	enc.SetEscapeHTML(false)
	return enc.Encode(ExplainReport{Version: ExplainVersion, Explanations: xs, ExitCode: exitCode})
}

// WriteExplain prints each explanation as the packet's walk: every hook,
// every base chain by priority (its type, priority, policy and owner, how
// the packet left it), one line per rule tried (chain, handle or number,
// its text, and how it came out: the action of a match, the match that
// failed with the packet's value, why it cannot be decided), indented per
// jump; NAT and the routing decision between hooks; then the reply's or
// the reject answer's way back, and the result the client sees.
func WriteExplain(w io.Writer, xs []runner.Explanation, s Style) {
	for i, x := range xs {
		if i > 0 {
			fmt.Fprintln(w)
		}
		writeExplanation(w, x, s)
	}
}

func writeExplanation(w io.Writer, x runner.Explanation, s Style) {
	head := fmt.Sprintf("# %s from %s", x.Endpoint, x.From)
	if x.Packet != nil {
		head += fmt.Sprintf(" (%s %s -> %s)", protoWord(x.Packet.Proto), netip.AddrPortFrom(x.Packet.Src, x.Packet.SPort), netip.AddrPortFrom(x.Packet.Dst, x.Packet.DPort))
	}
	fmt.Fprintln(w, s.paint(ansiBold, head))
	if x.Error != "" {
		fmt.Fprintf(w, "  %s cannot explain: %s\n", s.mark(runner.StatusError), x.Error)
		return
	}
	fmt.Fprintf(w, "  host %s (%s); rules managed by %s\n", x.Server, x.Executor, x.Manager)
	for _, n := range x.Notes {
		fmt.Fprintf(w, "  note: %s\n", n)
	}
	ways := x.Walk.Ways
	for i, way := range ways {
		if len(ways) > 1 {
			fmt.Fprintf(w, "way %d of %d%s\n", i+1, len(ways), choicesText(way))
		}
		for _, leg := range way.Legs {
			writeLeg(w, leg, s)
		}
	}
	if x.Walk.Incomplete != "" {
		fmt.Fprintf(w, "not every way was followed: %s\n", x.Walk.Incomplete)
	}
	fmt.Fprintf(w, "%s %s\n", s.paint(ansiBold, "Result:"), resultText(x))
}

// choicesText says which way each random choice of a way took.
func choicesText(way firewall.WalkWay) string {
	if len(way.Choices) == 0 {
		return ""
	}
	parts := make([]string, len(way.Choices))
	for i, c := range way.Choices {
		who := ""
		if i < len(way.Chosen) {
			who = way.Chosen[i].String() + ": "
		}
		parts[i] = fmt.Sprintf("%sway %d", who, c+1)
	}
	return " (random choices: " + strings.Join(parts, "; ") + ")"
}

func writeLeg(w io.Writer, leg firewall.WalkLeg, s Style) {
	fmt.Fprintln(w, s.paint(ansiBold, legTitle(leg)))
	base := "" // the base chain whose rules are being shown
	for _, st := range leg.Steps {
		switch st.Kind {
		case firewall.StepHook:
			fmt.Fprintf(w, "  %s%s\n", st.Hook, ifaces(st))
		case firewall.StepChain:
			c := st.Chain
			base = c.Name
			line := fmt.Sprintf("    %s %s %s [%s, priority %d", c.Family, c.Table, c.Name, c.Type, c.Priority)
			if c.Policy != "" {
				line += ", policy " + c.Policy
			}
			line += ", " + c.Backend + "]"
			switch {
			case st.Result == firewall.ResultSkipped:
				line += ": skipped, " + st.Text
			default:
				line += fmt.Sprintf(" ct %s -> %s", c.CTState, st.Verdict)
			}
			fmt.Fprintln(w, line)
		case firewall.StepRule:
			fmt.Fprintf(w, "%s%s -> %s\n", indent(st.Depth), ruleLabel(st.Rule, base), ruleOutcome(st, s))
		case firewall.StepReturn:
			fmt.Fprintf(w, "%s%s\n", indent(st.Depth), st.Text)
		case firewall.StepPolicy:
			fmt.Fprintf(w, "%spolicy %s\n", indent(0), st.Verdict)
		case firewall.StepRouting:
			fmt.Fprintf(w, "  routing: %s\n", st.Text)
		case firewall.StepNAT:
			fmt.Fprintf(w, "  nat: %s\n", st.Text)
		}
	}
	fmt.Fprintf(w, "  => %s\n", legEnd(leg))
}

// legTitle is "packet tcp 10.0.0.2:40000 -> 10.0.0.1:8080 SYN".
func legTitle(l firewall.WalkLeg) string {
	p := l.Packet
	var t string
	if p.Proto == firewall.ProtoTCP || p.Proto == firewall.ProtoUDP {
		t = fmt.Sprintf("%s %s %s -> %s", l.Kind, protoWord(p.Proto), netip.AddrPortFrom(p.Src, p.SPort), netip.AddrPortFrom(p.Dst, p.DPort))
	} else {
		t = fmt.Sprintf("%s %s %s -> %s", l.Kind, protoWord(p.Proto), p.Src, p.Dst)
		if p.Proto == firewall.ProtoICMP || p.Proto == firewall.ProtoICMPv6 {
			t += " type " + strconv.Itoa(int(p.ICMPType))
		}
	}
	if l.TCPFlags != "" {
		t += " " + l.TCPFlags
	}
	if p.IIF != "" && l.Kind == firewall.LegPacket {
		t += " in " + p.IIF
	}
	return t
}

func ifaces(st firewall.WalkStep) string {
	var parts []string
	if st.IIF != "" {
		parts = append(parts, "in "+st.IIF)
	}
	if st.OIF != "" {
		parts = append(parts, "out "+st.OIF)
	}
	if len(parts) == 0 {
		return ""
	}
	return " (" + strings.Join(parts, ", ") + ")"
}

func indent(depth int) string { return strings.Repeat("  ", 3+depth) }

// ruleLabel is "#3 -A INPUT …" or "handle 7 tcp dport 22 accept", with
// the chain's name when it is not the base chain's (after a jump).
func ruleLabel(r *firewall.RuleRef, base string) string {
	id := ""
	switch {
	case r.Handle != 0:
		id = "handle " + strconv.Itoa(r.Handle)
	case r.Number != 0:
		id = "#" + strconv.Itoa(r.Number)
	}
	if r.Chain != base {
		id = r.Chain + " " + id
	}
	if r.Text == "" {
		return id
	}
	return id + ": " + r.Text
}

func ruleOutcome(st firewall.WalkStep, s Style) string {
	switch st.Result {
	case firewall.ResultMatch:
		return "match: " + st.Action
	case firewall.ResultNoMatch:
		out := "no match"
		if st.Match != "" {
			out += ": " + st.Match
			if st.Value != "" {
				out += " (packet: " + st.Value + ")"
			}
		}
		if st.Text != "" {
			out += ": " + st.Text
		}
		return s.paint(ansiDim, out)
	case firewall.ResultNotModelled:
		out := "not modelled: " + st.Text
		if st.Match != "" {
			out += " (match " + st.Match + ")"
		}
		return s.paint(ansiPurple, out)
	case firewall.ResultInert:
		return s.paint(ansiDim, "skipped: "+st.Text)
	}
	return string(st.Result)
}

func legEnd(l firewall.WalkLeg) string {
	if l.Verdict == firewall.Indeterminate {
		return "cannot be decided: " + l.Reason // the reason names the rule
	}
	v := l.Verdict
	if l.Reject != "" {
		v += " with " + l.Reject
	}
	switch {
	case l.Rule != nil:
		v += " by " + l.Rule.String()
		if l.Hook != "" {
			v += " (" + l.Hook + ")"
		}
	case l.Hook != "":
		v += " at " + l.Hook
	}
	if l.Reason != "" && l.Verdict != firewall.Accept {
		v += ": " + l.Reason
	}
	return v
}

// resultText is what the client sees, from the decision.
func resultText(x runner.Explanation) string {
	d := x.Decision
	who := "the packet"
	if x.Packet != nil {
		who = fmt.Sprintf("%s/%d from %s", protoWord(x.Packet.Proto), x.Packet.DPort, x.Packet.Src)
	}
	var s string
	switch d.Seen() {
	case firewall.Accept:
		s = who + " is accepted"
		if d.Rule != nil {
			s += " by " + d.Rule.String()
		}
		if d.Reply != nil {
			s += ", and its reply goes back: the connection is made"
		}
	case firewall.Reject:
		s = fmt.Sprintf("%s is rejected (%s)", who, d.Reject)
		if d.Rule != nil {
			s += " by " + d.Rule.String()
		}
		if d.Answer != nil {
			s += ", and the answer reaches the client: it is refused"
		}
	case firewall.Drop:
		switch {
		case d.ReplyBlocked(), d.AnswerBlocked():
			s = who + ": " + d.Reason
		case d.Rule != nil:
			s = who + " is dropped by " + d.Rule.String()
		default:
			s = who + " is dropped: " + d.Reason
		}
		s += " (the client sees a timeout)"
	default:
		s = who + " cannot be decided: " + d.Reason
	}
	if d.Branches > 1 && d.Verdict != firewall.Indeterminate {
		s += fmt.Sprintf("; the same whichever of the %d ways random choices take", d.Branches)
	}
	if len(d.Assumptions) > 0 {
		s += " (assuming " + strings.Join(d.Assumptions, "; ") + ")"
	}
	return s
}

func protoWord(p uint8) string {
	switch p {
	case firewall.ProtoTCP:
		return "tcp"
	case firewall.ProtoUDP:
		return "udp"
	case firewall.ProtoICMP:
		return "icmp"
	case firewall.ProtoICMPv6:
		return "icmpv6"
	}
	return strconv.Itoa(int(p))
}

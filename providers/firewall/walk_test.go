package firewall

import (
	"net/netip"
	"reflect"
	"strconv"
	"strings"
	"testing"
)

// walked evaluates p twice, as verify does (no walk) and as explain does
// (RecordWalk, every rule tried), and fails unless both give the same
// Decision and the walk's own ending says what the Decision does. Every
// evaluator test goes through it, so the walk is checked on all of them.
func walked(t *testing.T, e *Evaluator, p Packet) Decision {
	t.Helper()
	d := e.Evaluate(p)
	var w Walk
	dw := e.Evaluate(p, RecordWalk(&w))
	if !reflect.DeepEqual(d, dw) {
		t.Errorf("Evaluate with a walk decides otherwise:\n without %+v\n with    %+v", d, dw)
	}
	if problem := walkAgrees(d, &w); problem != "" {
		t.Errorf("%s\n%s", problem, dumpWalk(&w))
	}
	return d
}

// walkAgrees says how a walk contradicts its decision, or "".
func walkAgrees(d Decision, w *Walk) string {
	v, r := w.Seen()
	if v != d.Seen() || (v == Reject && r != d.Reject) {
		return "the walk ends in " + v + " " + r + ", the decision is " + d.Seen() + " " + d.Reject
	}
	if d.Branches <= 1 && len(w.Ways) != 1 {
		return "a walk of one way has " + itoa(len(w.Ways)) + " ways"
	}
	if d.Branches > 1 && len(w.Ways) != d.Branches {
		return "the decision followed " + itoa(d.Branches) + " ways, the walk " + itoa(len(w.Ways))
	}
	for _, way := range w.Ways {
		if len(way.Legs) == 0 || way.Legs[0].Kind != LegPacket {
			return "a way does not start with the packet's leg"
		}
		for _, l := range way.Legs {
			if l.Verdict == "" {
				return "leg " + l.Kind + " has no verdict"
			}
		}
	}
	return ""
}

func itoa(n int) string { return strconv.Itoa(n) }

func dumpWalk(w *Walk) string {
	var b strings.Builder
	for i, way := range w.Ways {
		b.WriteString("way " + itoa(i) + "\n")
		for _, l := range way.Legs {
			b.WriteString("  " + l.Kind + " -> " + l.Verdict + " " + l.Reject + "\n")
			for _, s := range l.Steps {
				b.WriteString("    " + string(s.Kind) + " " + s.Hook + " ")
				if s.Chain != nil {
					b.WriteString(s.Chain.Table + "/" + s.Chain.Name + " ")
				}
				if s.Rule != nil {
					b.WriteString(s.Rule.String() + " ")
				}
				b.WriteString(string(s.Result) + " " + s.Match + " " + s.Value + " " + s.Action + " " + s.Verdict + " " + s.Text + "\n")
			}
		}
	}
	return b.String()
}

// The walk of Docker's published port with a DOCKER-USER drop: the nat
// chain's jump and DNAT, the routing decision to forward, every rule of
// FORWARD and DOCKER-USER with why it does not match, the return, and the
// reply's way back with the NAT core's reverse translation.
func TestWalkDockerPublished(t *testing.T) {
	nat := &Table{Backend: BackendIptablesNft, Family: FamilyIP, Name: "nat", Chains: []*Chain{
		{Name: "PREROUTING", Type: "nat", Hook: HookPrerouting, Priority: -100, Policy: "accept", Rules: []*Rule{
			{Number: 1, Text: "-A PREROUTING -m addrtype --dst-type LOCAL -j DOCKER", Matches: []Match{{Field: FieldDaddrType, Names: []string{"local"}}}, Verdict: Verdict{Kind: VerdictJump, Chain: "DOCKER"}},
		}},
		{Name: "DOCKER", Rules: []*Rule{
			{Number: 1, Text: "-A DOCKER -i docker0 -j RETURN", Matches: []Match{{Field: FieldIIF, Names: []string{"docker0"}}}, Verdict: Verdict{Kind: VerdictReturn}},
			{Number: 2, Text: "-A DOCKER ! -i docker0 -p tcp --dport 8080 -j DNAT --to-destination 172.17.0.2:80", Matches: []Match{{Field: FieldIIF, Negate: true, Names: []string{"docker0"}}, dport(8080)},
				Verdict: Verdict{Kind: VerdictDNAT, NATAddr: addr("172.17.0.2"), NATPort: 80}},
		}},
	}}
	filter := &Table{Backend: BackendIptablesNft, Family: FamilyIP, Name: "filter", Chains: []*Chain{
		{Name: "FORWARD", Type: "filter", Hook: HookForward, Policy: "drop", Rules: []*Rule{
			{Number: 1, Text: "-A FORWARD -j DOCKER-USER", Verdict: Verdict{Kind: VerdictJump, Chain: "DOCKER-USER"}},
			{Number: 2, Text: "-A FORWARD -o docker0 -j ACCEPT", Matches: []Match{{Field: FieldOIF, Names: []string{"docker0"}}}, Verdict: accept},
			{Number: 3, Text: "-A FORWARD -i docker0 ! -o docker0 -j ACCEPT", Matches: []Match{{Field: FieldIIF, Names: []string{"docker0"}}, {Field: FieldOIF, Negate: true, Names: []string{"docker0"}}}, Verdict: accept},
		}},
		{Name: "DOCKER-USER", Rules: []*Rule{
			{Number: 1, Text: "-A DOCKER-USER -s 10.0.0.128/25 -j DROP", Matches: []Match{{Field: FieldSaddr, Prefixes: []netip.Prefix{pfx("10.0.0.128/25")}}}, Verdict: drop},
			{Number: 2, Text: "-A DOCKER-USER -j LOG", Verdict: Verdict{}},
			{Number: 3, Text: "-A DOCKER-USER -j RETURN", Verdict: Verdict{Kind: VerdictReturn}},
		}},
	}}
	e := NewEvaluator(&Ruleset{Tables: []*Table{nat, filter}}, server)
	var w Walk
	d := e.Evaluate(tcpTo("10.0.0.1", 8080), RecordWalk(&w))
	if d.Seen() != Accept || len(w.Ways) != 1 || len(w.Ways[0].Legs) != 2 {
		t.Fatalf("decision %+v; walk:\n%s", d, dumpWalk(&w))
	}
	packet, reply := w.Ways[0].Legs[0], w.Ways[0].Legs[1]
	type line struct {
		kind                                  StepKind
		rule                                  string // "CHAIN #N" for rules
		result                                RuleResult
		match, value, action, verdict, inText string
	}
	got := func(l WalkLeg) []line {
		var out []line
		for _, s := range l.Steps {
			ln := line{kind: s.Kind, result: s.Result, match: s.Match, value: s.Value, action: s.Action, verdict: s.Verdict}
			if s.Rule != nil && s.Kind == StepRule {
				ln.rule = s.Rule.Chain + " #" + itoa(s.Rule.Number)
			}
			if s.Chain != nil {
				ln.rule = s.Chain.Table + " " + s.Chain.Name
			}
			out = append(out, ln)
		}
		return out
	}
	want := []line{
		{kind: StepHook},
		{kind: StepChain, rule: "nat PREROUTING", verdict: VerdictDNAT},
		{kind: StepRule, rule: "PREROUTING #1", result: ResultMatch, action: "jump DOCKER"},
		{kind: StepRule, rule: "DOCKER #1", result: ResultNoMatch, match: "iif docker0", value: "eth0"},
		{kind: StepRule, rule: "DOCKER #2", result: ResultMatch, action: "dnat to 172.17.0.2:80"},
		{kind: StepNAT},
		{kind: StepRouting},
		{kind: StepHook},
		{kind: StepChain, rule: "filter FORWARD", verdict: Accept},
		{kind: StepRule, rule: "FORWARD #1", result: ResultMatch, action: "jump DOCKER-USER"},
		{kind: StepRule, rule: "DOCKER-USER #1", result: ResultNoMatch, match: "saddr 10.0.0.128/25", value: "10.0.0.2"},
		{kind: StepRule, rule: "DOCKER-USER #2", result: ResultInert},
		{kind: StepRule, rule: "DOCKER-USER #3", result: ResultMatch, action: "return"},
		{kind: StepRule, rule: "FORWARD #2", result: ResultMatch, action: "accept"},
		{kind: StepHook},
	}
	if g := got(packet); !reflect.DeepEqual(g, want) {
		t.Errorf("packet's walk:\n got %+v\nwant %+v\n%s", g, want, dumpWalk(&w))
	}
	if packet.Verdict != Accept || packet.Rule == nil || packet.Rule.Number != 2 || packet.TCPFlags != "SYN" {
		t.Errorf("packet leg ends %s by %v (flags %q)", packet.Verdict, packet.Rule, packet.TCPFlags)
	}
	// The reply: from the container, nat chains skipped, FORWARD #3
	// accepts it, and the NAT core gives it the published address back.
	var nats, skipped int
	for _, s := range reply.Steps {
		if s.Kind == StepNAT && strings.Contains(s.Text, "source 172.17.0.2:80 becomes 10.0.0.1:8080") {
			nats++
		}
		if s.Kind == StepChain && s.Result == ResultSkipped {
			skipped++
		}
	}
	if reply.Verdict != Accept || reply.Rule == nil || reply.Rule.Number != 3 || nats != 1 || skipped != 1 || reply.TCPFlags != "SYN,ACK" {
		t.Errorf("reply leg: %s by %v, %d reverse translations, %d nat chains skipped\n%s", reply.Verdict, reply.Rule, nats, skipped, dumpWalk(&w))
	}

	// From the blocked range: DOCKER-USER #1 matches and drops.
	bad := tcpTo("10.0.0.1", 8080)
	bad.Src = addr("10.0.0.200")
	d = walked(t, e, bad)
	if d.Verdict != Drop {
		t.Fatalf("blocked source: %+v", d)
	}
}

// A rule with a construct portcheck does not model: the walk names the
// match and says why, and stops there as the decision does; a rule the
// index would skip (another port) is still shown, with the port that
// rules it out.
func TestWalkNotModelled(t *testing.T) {
	input := inputChain("drop",
		rule(2, accept, dport(22)),
		&Rule{Handle: 3, Text: "ip ttl 64 tcp dport 8080 accept", Matches: []Match{dport(8080)}, Unsupported: `match "ip ttl"`, Verdict: accept},
	)
	e := NewEvaluator(&Ruleset{Tables: []*Table{nftTable(input)}}, server)
	var w Walk
	d := e.Evaluate(tcpTo("10.0.0.1", 8080), RecordWalk(&w))
	if d.Verdict != Indeterminate {
		t.Fatalf("decision %+v", d)
	}
	steps := w.Ways[0].Legs[0].Steps
	var rules []WalkStep
	for _, s := range steps {
		if s.Kind == StepRule {
			rules = append(rules, s)
		}
	}
	if len(rules) != 2 || rules[0].Result != ResultNoMatch || rules[0].Match != "tcp dport 22" || rules[0].Value != "8080" ||
		rules[1].Result != ResultNotModelled || !strings.Contains(rules[1].Text, `ip ttl`) {
		t.Errorf("rules tried:\n%s", dumpWalk(&w))
	}
	if problem := walkAgrees(d, &w); problem != "" {
		t.Error(problem)
	}
}

// A reject and its answer: the reject's TCP reset is walked through
// output, where a drop of everything but established traffic stops it
// (a reset is related, not established), so the client sees a timeout.
func TestWalkRejectAnswer(t *testing.T) {
	input := inputChain("accept", &Rule{Handle: 4, Text: "tcp dport 8080 reject with tcp reset", Matches: []Match{dport(8080)},
		Verdict: Verdict{Kind: VerdictReject, Reject: "tcp reset"}})
	output := &Chain{Name: "output", Type: "filter", Hook: HookOutput, Policy: "drop", Rules: []*Rule{
		rule(6, accept, Match{Field: FieldCTState, Names: []string{"established"}}),
	}}
	e := NewEvaluator(&Ruleset{Tables: []*Table{nftTable(input, output)}}, server)
	var w Walk
	d := e.Evaluate(tcpTo("10.0.0.1", 8080), RecordWalk(&w))
	if d.Verdict != Reject || d.Seen() != Drop || len(w.Ways[0].Legs) != 2 {
		t.Fatalf("decision %+v\n%s", d, dumpWalk(&w))
	}
	answer := w.Ways[0].Legs[1]
	if answer.Kind != LegAnswer || answer.TCPFlags != "RST,ACK" || answer.Verdict != Drop || answer.Rule == nil || answer.Rule.Policy != "drop" {
		t.Errorf("answer leg %+v\n%s", answer, dumpWalk(&w))
	}
	found := false
	for _, s := range answer.Steps {
		if s.Kind == StepRule && s.Result == ResultNoMatch && s.Match == "ct state established" && s.Value == "related" {
			found = true
		}
	}
	if !found {
		t.Errorf("the answer's walk does not show why the established rule misses it:\n%s", dumpWalk(&w))
	}
	if v, r := w.Seen(); v != Drop || r != "" {
		t.Errorf("walk sees %s %q, want drop", v, r)
	}
}

// Random choices: every way is walked, with the choice it took.
func TestWalkRandomWays(t *testing.T) {
	input := inputChain("drop",
		&Rule{Handle: 2, Text: "numgen random mod 2 0 accept", Matches: []Match{dport(8080), {Field: FieldRandom}}, Verdict: accept},
		rule(3, drop, dport(8080)),
	)
	e := NewEvaluator(&Ruleset{Tables: []*Table{nftTable(input)}}, server)
	var w Walk
	d := e.Evaluate(tcpTo("10.0.0.1", 8080), RecordWalk(&w))
	if d.Verdict != Indeterminate || d.Branches != 2 || len(w.Ways) != 2 {
		t.Fatalf("decision %+v, %d ways", d, len(w.Ways))
	}
	if w.Ways[0].Legs[0].Verdict != Accept || w.Ways[1].Legs[0].Verdict != Drop || !reflect.DeepEqual(w.Ways[1].Choices, []int{1}) || len(w.Ways[1].Chosen) != 1 {
		t.Errorf("ways:\n%s", dumpWalk(&w))
	}
	if v, _ := w.Seen(); v != Indeterminate {
		t.Errorf("walk sees %s, want indeterminate", v)
	}
}

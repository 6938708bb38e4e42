package lb

import (
	"encoding/json"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

// Two target groups mid-move: web-9090 has the new port, web-8080 the old
// one, draining on one host.
func moveFacts() *Facts {
	return &Facts{Kind: KindELBv2, Region: "eu-west-1", Pools: []Pool{
		{ID: "arn:tg/web-9090", Name: "web-9090", Type: PoolTargetGroup, Port: 9090, HealthReported: true, Members: []Member{
			{ID: "10.0.1.5", Address: "10.0.1.5", Port: 9090, State: StateHealthy},
			{ID: "10.0.1.6", Address: "10.0.1.6", Port: 9090, State: StateUnhealthy, Reason: "Target.FailedHealthChecks", Description: "Health checks failed"},
			{ID: "i-0abc", Port: 9090, State: StateInitial, Reason: "Elb.RegistrationInProgress"},
		}},
		{ID: "arn:tg/web-8080", Name: "web-8080", Type: PoolTargetGroup, Port: 8080, HealthReported: true, Members: []Member{
			{ID: "10.0.1.5", Address: "10.0.1.5", Port: 8080, State: StateDraining, Reason: "Target.DeregistrationInProgress"},
			{ID: "10.0.1.7", Address: "10.0.1.7", Port: 8080, State: StateUnused, Reason: "Target.NotInUse"},
		}},
		{ID: "arn:tg/admin", Name: "admin", Type: PoolTargetGroup, HealthReported: true, Members: []Member{
			{ID: "10.0.1.5", Address: "10.0.1.5", Port: 9090, State: StateHealthy},
		}},
	}}
}

func TestFind(t *testing.T) {
	f := moveFacts()
	for _, tc := range []struct {
		name       string
		target     Target
		pools      []string
		verdict    Verdict
		healthy    bool
		gone       bool // Deregistered(false)
		goneDrain  bool // Deregistered(true)
		inPools    []string
		notIn      []string
		missing    []string
		evidence   string
		noEvidence string
	}{
		{name: "healthy in the pool asked", target: Target{IDs: []string{"10.0.1.5"}, Port: 9090}, pools: []string{"web-9090"},
			verdict: VerdictHealthy, healthy: true, inPools: []string{"arn:tg/web-9090"}, evidence: "target group web-9090 (arn:tg/web-9090) has 10.0.1.5:9090: healthy"},
		{name: "healthy in both pools that have it, all pools", target: Target{IDs: []string{"10.0.1.5"}, Port: 9090},
			verdict: VerdictHealthy, healthy: true, inPools: []string{"arn:tg/web-9090", "arn:tg/admin"}},
		{name: "pool by ARN", target: Target{IDs: []string{"10.0.1.5"}, Port: 9090}, pools: []string{"arn:tg/web-9090"},
			verdict: VerdictHealthy, healthy: true, inPools: []string{"arn:tg/web-9090"}},
		{name: "unhealthy with the reason", target: Target{IDs: []string{"10.0.1.6"}, Port: 9090}, pools: []string{"web-9090"},
			verdict: VerdictRegistered, inPools: []string{"arn:tg/web-9090"}, evidence: "unhealthy (Target.FailedHealthChecks: Health checks failed)"},
		{name: "instance target by id, any case", target: Target{IDs: []string{"10.0.1.9", "I-0ABC"}, Port: 9090},
			verdict: VerdictRegistered, inPools: []string{"arn:tg/web-9090"}, evidence: "has i-0abc:9090: initial"},
		{name: "old port draining", target: Target{IDs: []string{"10.0.1.5"}, Port: 8080}, pools: []string{"web-8080"},
			verdict: VerdictDraining, goneDrain: true, inPools: []string{"arn:tg/web-8080"}, evidence: "draining (Target.DeregistrationInProgress)"},
		{name: "old port unused", target: Target{IDs: []string{"10.0.1.7"}, Port: 8080},
			verdict: VerdictUnused, inPools: []string{"arn:tg/web-8080"}},
		{name: "old port gone from the new group", target: Target{IDs: []string{"10.0.1.6"}, Port: 8080}, pools: []string{"web-9090"},
			verdict: VerdictAbsent, gone: true, goneDrain: true, notIn: []string{"target group web-9090 (arn:tg/web-9090)"},
			evidence: "10.0.1.6:8080 is no backend of target group web-9090 (arn:tg/web-9090)"},
		{name: "in one pool asked, not the other", target: Target{IDs: []string{"10.0.1.6"}, Port: 9090}, pools: []string{"web-9090", "admin"},
			verdict: VerdictRegistered, inPools: []string{"arn:tg/web-9090"}, notIn: []string{"target group admin (arn:tg/admin)"}, evidence: "10.0.1.6:9090 is not in target group admin"},
		{name: "healthy where it is, missing from a pool asked", target: Target{IDs: []string{"10.0.1.5"}, Port: 9090}, pools: []string{"admin", "web-8080"},
			verdict: VerdictRegistered, inPools: []string{"arn:tg/admin"}, notIn: []string{"target group web-8080 (arn:tg/web-8080)"}},
		{name: "a pool that was not read", target: Target{IDs: []string{"10.0.1.5"}, Port: 9090}, pools: []string{"web-9090", "nosuch"},
			verdict: VerdictHealthy, inPools: []string{"arn:tg/web-9090"}, missing: []string{"nosuch"}, evidence: `pool "nosuch" was not read`},
		{name: "absent everywhere", target: Target{IDs: []string{"10.9.9.9"}, Port: 9090},
			verdict: VerdictAbsent, gone: true, goneDrain: true, evidence: "is no backend of the 3 pools read"},
		{name: "IPv4-mapped spelling", target: Target{IDs: []string{"::ffff:10.0.1.5"}, Port: 9090}, pools: []string{"web-9090"},
			verdict: VerdictHealthy, healthy: true, inPools: []string{"arn:tg/web-9090"}},
	} {
		p := Find(f, tc.target, tc.pools...)
		var in []string
		for _, m := range p.In {
			in = append(in, m.Pool)
		}
		got := []any{p.Verdict, p.Healthy(), p.Deregistered(false), p.Deregistered(true), in, p.NotIn, p.MissingPools}
		want := []any{tc.verdict, tc.healthy, tc.gone, tc.goneDrain, tc.inPools, tc.notIn, tc.missing}
		if d := cmp.Diff(want, got); d != "" {
			t.Errorf("%s: verdict, healthy, gone, gone-or-draining, in, not in, missing (-want +got):\n%s\nevidence:\n%s", tc.name, d, strings.Join(p.Evidence, "\n"))
		}
		if !strings.Contains(strings.Join(p.Evidence, "\n"), tc.evidence) {
			t.Errorf("%s: evidence %q lacks %q", tc.name, p.Evidence, tc.evidence)
		}
	}
}

func TestLeastReady(t *testing.T) {
	for _, tc := range []struct {
		in   []State
		want State
	}{
		{nil, StateRegistered},
		{[]State{StateHealthy}, StateHealthy},
		{[]State{StateHealthy, StateUnhealthy}, StateUnhealthy},
		{[]State{StateUnavailable, StateHealthy, StateInitial}, StateUnavailable},
		{[]State{StateHealthy, StateRegistered}, StateRegistered},
	} {
		if got := LeastReady(tc.in...); got != tc.want {
			t.Errorf("LeastReady(%v) = %s, want %s", tc.in, got, tc.want)
		}
	}
}

// Facts and answers are plain JSON and round-trip unchanged, so a step
// can be judged later from recorded facts.
func TestJSONRoundTrip(t *testing.T) {
	f := moveFacts()
	b, err := json.Marshal(f)
	if err != nil {
		t.Fatal(err)
	}
	var back Facts
	if err := json.Unmarshal(b, &back); err != nil {
		t.Fatal(err)
	}
	if d := cmp.Diff(f, &back); d != "" {
		t.Errorf("round trip (-want +got):\n%s", d)
	}
	p := Find(&back, Target{IDs: []string{"10.0.1.5"}, Port: 8080})
	if _, err := json.Marshal(p); err != nil {
		t.Fatal(err)
	}
}

func TestNotFoundError(t *testing.T) {
	err := &NotFoundError{Kind: "target group", IDs: []string{"web-9091"}, Message: "One or more target groups not found"}
	if got, want := err.Error(), "target group not found: web-9091 (One or more target groups not found)"; got != want {
		t.Errorf("%q, want %q", got, want)
	}
}

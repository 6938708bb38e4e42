package runner

import (
	"context"
	"fmt"
	"net/netip"
	"strings"
	"time"

	"github.com/portcheck/portcheck/config"
	"github.com/portcheck/portcheck/providers"
	"github.com/portcheck/portcheck/providers/firewall"
)

// Phase of a port change: pre (before the window: the old port serves,
// a backup exists, the new port is free) or post (after it: the new port
// everywhere, the old one gone).
type Phase string

const (
	PhasePre  Phase = "pre"
	PhasePost Phase = "post"
)

// ParsePhase reads a -phase flag.
func ParsePhase(s string) (Phase, error) {
	switch Phase(s) {
	case PhasePre, PhasePost:
		return Phase(s), nil
	}
	return "", fmt.Errorf("-phase must be pre or post, not %q", s)
}

// StepStatus is what a step of a change is in a phase.
type StepStatus string

const (
	StepDone     StepStatus = "done"
	StepNotDone  StepStatus = "not_done"
	StepAttested StepStatus = "attested"
	StepSkipped  StepStatus = "skipped"
	// StepError: the step was declared but could not be checked (an
	// unreachable API, a namespace that does not exist). Never done.
	StepError StepStatus = "error"
	// StepNotInPhase: the step has nothing to check in this phase (SELinux
	// before the window); it neither holds the gate nor opens it.
	StepNotInPhase StepStatus = "not_in_phase"
)

// StepCheck is one thing a step verifies.
type StepCheck struct {
	// What is checked, in words: "port 9090/tcp listening (nginx)".
	What    string
	Status  Status // pass, fail, drift, error, skip: only the runner sets it
	Summary string
	// Commands make the check hold on this host (the layer's fix hint).
	Commands []string
	Layer    providers.Layer // 0 for checks no layer makes (DNS, LB…)
	Evidence any
	// Result is the layer check behind it, when a layer judged it.
	Result *Result
}

// StepResult is one step of a change in one phase.
type StepResult struct {
	Step    *config.ChangeStep
	Status  StepStatus
	Summary string
	Checks  []StepCheck
	// Attestation is the one that counts (attested steps).
	Attestation *config.Attestation
	// Rejected says why a declared attestation does not count.
	Rejected string
	// Rollback are the commands that undo this step (post phase), from
	// the layers' own fix hints for the state before the window.
	Rollback []string
}

// Commands are the commands of the step's open checks, in order, without
// repeats.
func (s *StepResult) Commands() []string {
	var out []string
	seen := map[string]bool{}
	for _, c := range s.Checks {
		if c.Status == StatusPass {
			continue
		}
		for _, cmd := range c.Commands {
			if !seen[cmd] {
				seen[cmd] = true
				out = append(out, cmd)
			}
		}
	}
	return out
}

// ChangeResult is a change judged in a phase.
type ChangeResult struct {
	Change *config.Change
	Phase  Phase
	Steps  []*StepResult
	// Checked is when the judgement was made.
	Checked time.Time
}

// FirstOpen is the first step that keeps the phase from being complete,
// nil when it is complete.
func (c *ChangeResult) FirstOpen() *StepResult {
	for _, s := range c.Steps {
		if s.Open() {
			return s
		}
	}
	return nil
}

// Open reports whether the step keeps its phase from being complete.
func (s *StepResult) Open() bool {
	return s.Status == StepNotDone || s.Status == StepError
}

// Complete reports whether every step of the phase is done, attested,
// skipped or not in the phase.
func (c *ChangeResult) Complete() bool { return c.FirstOpen() == nil }

// ChangeOptions tune a change run.
type ChangeOptions struct {
	Env    Environment
	Verify Options
	// Now is the clock attestations are judged by (default time.Now).
	Now func() time.Time
}

// VerifyChanges judges every change in the phase. It only reads: the
// layers observe as verify does, the other steps ask their services.
func VerifyChanges(ctx context.Context, changes []*config.Change, phase Phase, opts ChangeOptions) []*ChangeResult {
	if opts.Now == nil {
		opts.Now = time.Now
	}
	var out []*ChangeResult
	for _, c := range changes {
		out = append(out, verifyChange(ctx, c, phase, opts))
	}
	return out
}

// layerProbe is one layer check a step asks for, and how its result reads.
type layerProbe struct {
	step config.StepName
	what string
	// invert: the check passing means the step is not done (an old port
	// still listening); it is done when the check fails with doneCause.
	invert    bool
	doneCause string
	plan      *EndpointPlan
	layer     providers.Layer
	// rollback: a probe of the state before the window, judged only for
	// its fix hint, which undoes the step.
	rollback bool
	// byPolicyOK: the old port is "no longer accepted" when only a base
	// chain's accept policy lets it in: the step asks that no rule for it
	// be left over, and a host whose filter accepts every port by default
	// has none (the summary says so).
	byPolicyOK bool
}

func verifyChange(ctx context.Context, c *config.Change, phase Phase, opts ChangeOptions) *ChangeResult {
	cr := &ChangeResult{Change: c, Phase: phase, Checked: opts.Now().UTC()}
	var probes []*layerProbe
	for _, st := range c.Steps {
		if st.Mode != config.ModeVerify {
			continue
		}
		probes = append(probes, layerProbes(c, st, phase, opts.Env, false)...)
		if phase == PhasePost && hasRollback(c) {
			probes = append(probes, layerProbes(c, st, PhasePre, opts.Env, true)...)
		}
	}
	results := runProbes(ctx, probes, opts.Verify)
	// The backup is looked for once: the rollback step judges it, the
	// firewall step's undo restores it.
	var backup *StepCheck
	if hasRollback(c) {
		b := backupCheck(ctx, c, c.Step(config.StepRollback).Rollback, opts.Env)
		backup = &b
	}
	for _, st := range c.Steps {
		sr := &StepResult{Step: st}
		switch st.Mode {
		case config.ModeSkip:
			sr.Status, sr.Summary = StepSkipped, st.Reason
		case config.ModeAttest:
			if phase == PhasePre {
				// An attestation says a step was done: that is the post phase's question.
				sr.Status, sr.Summary = StepNotInPhase, "attested after the window: "+st.Reason
				break
			}
			judgeAttestation(sr, c, opts.Now())
		default:
			for _, p := range probes {
				if p.step == st.Name && !p.rollback {
					sr.Checks = append(sr.Checks, probeCheck(p, results[p]))
				}
			}
			if st.Name == config.StepRollback {
				sr.Checks = append(sr.Checks, *backup)
			} else {
				sr.Checks = append(sr.Checks, observeStep(ctx, c, st, phase, opts)...)
			}
			settle(sr, phase)
			if phase == PhasePost {
				for _, p := range probes {
					if p.step == st.Name && p.rollback {
						sr.Rollback = append(sr.Rollback, rollbackHint(results[p])...)
					}
				}
				sr.Rollback = append(sr.Rollback, stepRollback(c, st, backup)...)
			}
		}
		cr.Steps = append(cr.Steps, sr)
	}
	if rb := cr.step(config.StepRollback); rb != nil && rb.Step.Mode == config.ModeVerify && phase == PhasePost {
		// The rollback step lists every verified step's undo commands.
		for _, s := range cr.Steps {
			if s != rb && len(s.Rollback) > 0 {
				rb.Checks = append(rb.Checks, StepCheck{What: "rollback commands for " + string(s.Step.Name), Status: StatusPass,
					Summary: fmt.Sprintf("%d command(s) listed", len(s.Rollback)), Commands: s.Rollback})
			}
		}
	}
	return cr
}

func (cr *ChangeResult) step(n config.StepName) *StepResult {
	for _, s := range cr.Steps {
		if s.Step.Name == n {
			return s
		}
	}
	return nil
}

func hasRollback(c *config.Change) bool {
	st := c.Step(config.StepRollback)
	return st != nil && st.Mode == config.ModeVerify
}

// settle sums a verified step's checks into its status.
func settle(sr *StepResult, phase Phase) {
	if len(sr.Checks) == 0 {
		sr.Status, sr.Summary = StepNotInPhase, fmt.Sprintf("nothing to check before the window (%s phase)", phase)
		if phase == PhasePost {
			sr.Status, sr.Summary = StepError, "nothing could be checked"
		}
		return
	}
	sr.Status = StepDone
	var open []string
	for _, ch := range sr.Checks {
		switch ch.Status {
		case StatusPass:
		case StatusError, StatusSkip:
			sr.Status = StepError
			open = append(open, ch.What+": "+ch.Summary)
		default:
			if sr.Status != StepError {
				sr.Status = StepNotDone
			}
			open = append(open, ch.What+": "+ch.Summary)
		}
	}
	if sr.Status == StepDone {
		sr.Summary = fmt.Sprintf("%d check(s) hold", len(sr.Checks))
		return
	}
	sr.Summary = fmt.Sprintf("%d of %d checks open, first: %s", len(open), len(sr.Checks), open[0])
	if len(open) == 1 {
		sr.Summary = open[0]
	}
}

// judgeAttestation: an attestation counts when it was made at or after the
// window start and not in the future of the clock judging it.
func judgeAttestation(sr *StepResult, c *config.Change, now time.Time) {
	a := c.Attestations[sr.Step.Name]
	switch {
	case a == nil:
		sr.Status, sr.Summary = StepNotDone, fmt.Sprintf("needs an attestation: %s (attestation %q %q { by, at, ticket })", sr.Step.Reason, c.Name, sr.Step.Name)
	case a.At.Before(c.WindowStart):
		sr.Status = StepNotDone
		sr.Rejected = fmt.Sprintf("the attestation by %s at %s (%s) is older than the window start %s and does not count",
			a.By, a.At.Format(time.RFC3339), config.SourceOf(a.DeclRange), c.WindowStart.Format(time.RFC3339))
		sr.Summary = sr.Rejected
	case a.At.After(now.Add(5 * time.Minute)):
		sr.Status = StepNotDone
		sr.Rejected = fmt.Sprintf("the attestation by %s at %s (%s) is in the future and does not count", a.By, a.At.Format(time.RFC3339), config.SourceOf(a.DeclRange))
		sr.Summary = sr.Rejected
	default:
		sr.Status, sr.Attestation = StepAttested, a
		sr.Summary = fmt.Sprintf("attested by %s at %s, ticket %s", a.By, a.At.Format(time.RFC3339), a.Ticket)
	}
}

// stepEndpoint is the change's endpoint on one port with only the
// expectations a probe asks for.
func stepEndpoint(c *config.Change, port int, x config.Expectations) *config.Endpoint {
	e := *c.Endpoint
	e.Name = fmt.Sprintf("%s.%d", c.Name, port)
	e.Ports = config.SinglePort(port)
	e.State = "open"
	e.Expect = x
	return &e
}

// firewallSources are the sources a firewall step judges: declared, else
// the vantage hosts' addresses.
func firewallSources(c *config.Change, fw *config.FirewallStep) []netip.Prefix {
	if len(fw.Sources) > 0 {
		return fw.Sources
	}
	var out []netip.Prefix
	for _, h := range c.Endpoint.From {
		for _, a := range h.Addresses {
			out = append(out, netip.PrefixFrom(a, a.BitLen()))
		}
	}
	return out
}

// layerProbes plans the layer checks of a step in a phase.
func layerProbes(c *config.Change, st *config.ChangeStep, phase Phase, env Environment, rollback bool) []*layerProbe {
	var out []*layerProbe
	add := func(port int, x config.Expectations, layer providers.Layer, what string, invert bool, doneCause string, keep func(*Check) bool) {
		ep := stepEndpoint(c, port, x)
		plan, err := planEndpoint(ep, env)
		p := &layerProbe{step: st.Name, what: what, invert: invert, doneCause: doneCause, layer: layer, rollback: rollback}
		if err != nil {
			plan = &EndpointPlan{Endpoint: ep, Checks: []*Check{{Layer: layer, Name: "plan", Error: err.Error(), Source: st.DeclRange}}}
		}
		var checks []*Check
		for _, ch := range plan.Checks {
			if ch.Layer == layer && (keep == nil || keep(ch)) {
				checks = append(checks, ch)
			}
		}
		if len(checks) == 0 {
			checks = []*Check{{Layer: layer, Name: "step", Error: "no " + layer.String() + " check could be planned for " + what, Source: st.DeclRange}}
		}
		plan.Checks = checks
		p.plan = plan
		out = append(out, p)
	}
	from, to := c.FromPort, c.ToPort
	proto := c.Endpoint.Protocol
	portName := func(p int) string { return fmt.Sprintf("%d/%s", p, proto) }
	switch st.Name {
	case config.StepAppConfig:
		x := st.AppConfig
		listen := config.Expectations{Listening: &config.ExpectListening{Process: x.Process, DeclRange: st.DeclRange}}
		who := ""
		if x.Process != "" {
			who = " (" + x.Process + ")"
		}
		if phase == PhasePre {
			add(from, listen, providers.LayerListening, "old port "+portName(from)+" listening"+who, false, "", nil)
			if !rollback {
				add(to, config.Expectations{Listening: &config.ExpectListening{DeclRange: st.DeclRange}}, providers.LayerListening, "new port "+portName(to)+" free", true, CauseNotListening, nil)
			}
		} else {
			add(to, listen, providers.LayerListening, "new port "+portName(to)+" listening"+who, false, "", nil)
			add(from, config.Expectations{Listening: &config.ExpectListening{DeclRange: st.DeclRange}}, providers.LayerListening, "old port "+portName(from)+" no longer listening", true, CauseNotListening, nil)
		}
	case config.StepFirewall:
		fw := st.Firewall
		srcs := firewallSources(c, fw)
		srcText := prefixesText(srcs, 4)
		sourced := func(ch *Check) bool { return ch.Sources.IsValid() }
		allow := func(port int) config.Expectations {
			return config.Expectations{Firewall: &config.ExpectFirewall{AllowFrom: srcs, Backend: fw.Backend, Permanent: fw.Permanent, DeclRange: st.DeclRange}}
		}
		deny := func(port int) config.Expectations {
			return config.Expectations{Firewall: &config.ExpectFirewall{DenyFrom: srcs, Backend: fw.Backend, Permanent: fw.Permanent, DeclRange: st.DeclRange}}
		}
		if len(srcs) == 0 {
			add(to, config.Expectations{}, providers.LayerFirewall, "firewall sources", false, "", func(*Check) bool { return false })
			out[len(out)-1].plan.Checks[0].Error = "the firewall step has no sources: declare sources (or the endpoint's firewall allow_from, or vantage hosts with addresses)"
			break
		}
		if phase == PhasePre {
			add(from, allow(from), providers.LayerFirewall, "old port "+portName(from)+" accepted from "+srcText, false, "", sourced)
		} else {
			add(to, allow(to), providers.LayerFirewall, "new port "+portName(to)+" accepted from "+srcText, false, "", sourced)
			add(from, deny(from), providers.LayerFirewall, "old port "+portName(from)+" no longer accepted from "+srcText, false, "", sourced)
			out[len(out)-1].byPolicyOK = true
		}
	case config.StepSELinux:
		if phase == PhasePost {
			add(to, config.Expectations{SELinux: st.SELinux}, providers.LayerSELinux, "new port "+portName(to)+" has SELinux type "+st.SELinux.Type, false, "", nil)
		}
	case config.StepCloud:
		cl := *st.Cloud
		x := config.Expectations{Cloud: &cl}
		srcs := "the vantage hosts"
		if len(cl.Sources) > 0 {
			srcs = prefixesText(cl.Sources, 4)
		}
		if phase == PhasePre {
			add(from, x, providers.LayerCloud, "old port "+portName(from)+" allowed by the cloud from "+srcs, false, "", nil)
		} else {
			add(to, x, providers.LayerCloud, "new port "+portName(to)+" allowed by the cloud from "+srcs, false, "", nil)
			if !rollback {
				add(from, x, providers.LayerCloud, "old port "+portName(from)+" no longer allowed by the cloud (rule gone)", true, CauseCloudBlocked, nil)
			}
		}
	}
	return out
}

// runProbes runs every probe's checks in one verify run, every layer
// judged (no "blocked by"): each step stands on its own.
func runProbes(ctx context.Context, probes []*layerProbe, opts Options) map[*layerProbe]*EndpointResult {
	out := map[*layerProbe]*EndpointResult{}
	if len(probes) == 0 {
		return out
	}
	plan := &Plan{}
	byPlan := map[*EndpointPlan]*layerProbe{}
	for _, p := range probes {
		plan.Endpoints = append(plan.Endpoints, p.plan)
		byPlan[p.plan] = p
	}
	opts.AllLayers = true
	Verify(ctx, plan, opts, func(er *EndpointResult) { out[byPlan[er.Plan]] = er })
	return out
}

// probeCheck reads a probe's results as one step check.
func probeCheck(p *layerProbe, er *EndpointResult) StepCheck {
	sc := StepCheck{What: p.what, Layer: p.layer}
	if er == nil {
		sc.Status, sc.Summary = StatusError, "not run (interrupted)"
		return sc
	}
	sc.Status = StatusPass
	var sums []string
	var notes []string
	for _, r := range er.Results {
		st := r.Status
		if p.byPolicyOK && st == StatusFail && acceptedByPolicy(r) {
			st = StatusPass
			seen, _, _ := strings.Cut(r.Summary, ", but ")
			notes = appendNew(notes, "no rule for it is left: "+seen+" (the chain accepts every port by default)")
		}
		if p.invert {
			switch {
			case st == StatusPass:
				st = StatusFail
			case st == StatusFail && r.Cause == p.doneCause:
				st = StatusPass
			}
		}
		if sc.Result == nil || worse(st, sc.Status) {
			sc.Result = r
			sc.Evidence = r.Evidence
		}
		if worse(st, sc.Status) {
			sc.Status = st
		}
		if st != StatusPass {
			sums = append(sums, r.Summary)
			if !p.invert && r.Hint != "" {
				sc.Commands = appendNew(sc.Commands, hintCommands(r.Hint)...)
			}
		}
	}
	switch {
	case sc.Status == StatusPass && p.invert:
		sc.Summary = "gone: " + firstSummary(er.Results)
	case sc.Status == StatusPass && len(notes) > 0:
		sc.Summary = strings.Join(notes, "; ")
	case sc.Status == StatusPass:
		sc.Summary = firstSummary(er.Results)
	case p.invert && sc.Status == StatusFail:
		sc.Summary = "still there: " + strings.Join(sums, "; ")
		// No layer writes the command that takes a thing away; say what.
		port := p.plan.Endpoint.Ports.First()
		switch p.layer {
		case providers.LayerListening:
			sc.Commands = []string{fmt.Sprintf("stop or reconfigure what still listens on port %d (%s)", port, strings.Join(sums, "; "))}
		case providers.LayerCloud:
			sc.Commands = []string{fmt.Sprintf("revoke or narrow the rule that still allows port %d (%s)", port, strings.Join(sums, "; "))}
		}
	default:
		sc.Summary = strings.Join(sums, "; ")
	}
	return sc
}

// acceptedByPolicy: every packet the check judged was accepted, and by a
// base chain's policy, not by a rule.
func acceptedByPolicy(r *Result) bool {
	ev, ok := r.Evidence.(*FirewallEvidence)
	if !ok || ev == nil || len(ev.Judged) == 0 {
		return false
	}
	for _, j := range ev.Judged {
		d := j.Decision
		if d.Seen() != firewall.Accept || (d.Rule != nil && d.Rule.Policy == "") {
			return false
		}
	}
	return true
}

// worse orders statuses for a step: error over fail over drift over skip
// over pass.
func worse(a, b Status) bool {
	rank := map[Status]int{StatusPass: 0, StatusSkip: 1, StatusDrift: 2, StatusFail: 3, StatusError: 4}
	return rank[a] > rank[b]
}

func firstSummary(rs []*Result) string {
	if len(rs) == 0 {
		return ""
	}
	return rs[0].Summary
}

// hintCommands splits a layer's hint into its lines; the layers write one
// command (or one note) per line.
func hintCommands(hint string) []string {
	var out []string
	for _, l := range strings.Split(hint, "\n") {
		if l = strings.TrimSpace(l); l != "" {
			out = append(out, l)
		}
	}
	return out
}

// rollbackHint: a pre-window state that no longer holds gives, in its
// layer's fix hint, the commands that bring it back.
func rollbackHint(er *EndpointResult) []string {
	if er == nil {
		return nil
	}
	var out []string
	for _, r := range er.Results {
		if (r.Status == StatusFail || r.Status == StatusDrift) && r.Hint != "" {
			out = appendNew(out, hintCommands(r.Hint)...)
		}
	}
	return out
}

func appendNew(list []string, items ...string) []string {
	for _, it := range items {
		found := false
		for _, l := range list {
			if l == it {
				found = true
				break
			}
		}
		if !found {
			list = append(list, it)
		}
	}
	return list
}

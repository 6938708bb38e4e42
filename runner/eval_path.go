package runner

import (
	"context"
	"fmt"
	"slices"
	"strconv"
	"strings"

	"github.com/portcheck/portcheck/config"
	"github.com/portcheck/portcheck/providers"
	pathtrace "github.com/portcheck/portcheck/providers/path"
)

type pathExpected struct {
	MaxHops    int      `json:"max_hops"`
	Via        []string `json:"via,omitempty"`
	Mode       string   `json:"mode"`
	Rounds     int      `json:"rounds,omitempty"`
	MaxLoss    *float64 `json:"max_loss,omitempty"`
	MaxHopLoss *float64 `json:"max_hop_loss,omitempty"`
}

func (v *verifier) runPath(ctx context.Context, e *EndpointPlan, c *Check) *Result {
	x := e.Endpoint.Expect.Path
	facts, err := v.obs.Trace(ctx, c.Exec, c.Target, pathParams(x, string(c.Target.Protocol)))
	if err != nil {
		return errorResult(c, "tracing", err)
	}
	return evalPath(c, x, facts, serverUnchecked(e, c))
}

// pathParams maps a path block to the tracer's parameters; an unset mode
// follows the target's protocol.
func pathParams(x *config.ExpectPath, protocol string) pathtrace.Params {
	mode := x.Mode
	if mode == "" {
		mode = config.NewExpectPath(protocol, x.DeclRange).Mode
	}
	return pathtrace.Params{Mode: mode, MaxHops: x.MaxHops, Rounds: x.Rounds, Timeout: x.Timeout}
}

// serverUnchecked says whether L1 and L2 for the port could not be checked
// on the server: then a trace that stops is a suspect, not a verdict.
func serverUnchecked(e *EndpointPlan, c *Check) bool {
	for _, sc := range e.Checks {
		if sc.Layer < providers.LayerPath && sc.Layer != providers.LayerConnectivity && sc.Target.Port == c.Target.Port && sc.Skip == "" && sc.Error == "" {
			return false
		}
	}
	return true
}

// evalPath judges a trace. The rules, in order:
//   - out of hops (the hop at max_hops still forwards): error, the path is
//     longer than declared and nothing is known about the port beyond it;
//   - not reached: fail, path_broken, naming the last hop that answered;
//   - loss above max_loss at the target, or above max_hop_loss at a hop
//     whose loss carries on to the end: fail, path_broken;
//   - a via address not seen while some hop stayed silent (*): error, a
//     silent router may or may not be that address;
//   - a via address not seen, every hop answering: drift;
//   - else pass.
func evalPath(c *Check, x *config.ExpectPath, f *pathtrace.Facts, serverUnknown bool) *Result {
	exp := pathExpected{MaxHops: x.MaxHops, Mode: f.Mode, Rounds: x.Rounds, MaxLoss: x.MaxLoss, MaxHopLoss: x.MaxHopLoss}
	if exp.Mode == "" {
		exp.Mode = x.Mode
	}
	for _, a := range x.Via {
		exp.Via = append(exp.Via, a.String())
	}
	r := &Result{Check: c, Evidence: f, Expected: exp}
	var hops []string
	for _, h := range f.Hops {
		hops = append(hops, orStar(h.Addr))
	}
	route := strings.Join(hops, " → ")
	var missing []string
	for _, want := range exp.Via {
		if !slices.ContainsFunc(f.Hops, func(h pathtrace.Hop) bool { return h.Addr == want }) {
			missing = append(missing, want)
		}
	}
	var silent []string
	for _, h := range f.Hops {
		if h.Addr == "" && !h.Final {
			silent = append(silent, strconv.Itoa(h.TTL))
		}
	}
	switch {
	case !f.Reached && f.OutOfHops:
		r.Status = StatusError
		r.Summary = fmt.Sprintf("the path is longer than max_hops = %d: hop %d (%s) still forwards the %s probes, so the trace ended before the target: %s",
			f.MaxHops, f.MaxHops, f.StopsAfter, exp.Mode, route)
		r.Hint = fmt.Sprintf("raise max_hops above %d (the trace saw %d hops and more follow)", f.MaxHops, len(f.Hops))
		return r
	case !f.Reached:
		r.Status, r.Cause = StatusFail, CausePathBroken
		stop := "before the first hop"
		if f.StopsAfter != "" {
			stop = "after " + f.StopsAfter + fmt.Sprintf(" (hop %d)", f.StopsAfterTTL)
		}
		r.Summary = fmt.Sprintf("%s trace from %s stops %s: %s", exp.Mode, c.From, stop, route)
		r.Hint = brokenPathHint(f)
		if serverUnknown {
			r.Summary += " (the server's own layers L1/L2 were not checkable, so the server may be the cause)"
		}
		return r
	}
	if s := lossFailure(x, f); s != "" {
		r.Status, r.Cause = StatusFail, CausePathBroken
		r.Summary = fmt.Sprintf("reached in %d hops, but %s: %s", len(f.Hops), s, route)
		r.Hint = "the path loses packets: find the first hop whose loss carries on to the end (the hop table) and check that link and router (errors, drops, congestion, a policer)"
		return r
	}
	switch {
	case len(missing) > 0 && len(silent) > 0:
		r.Status = StatusError
		r.Summary = fmt.Sprintf("reached, but cannot confirm the path goes through %s: hop %s did not answer (*), and a silent router may or may not be it: %s",
			strings.Join(missing, ", "), strings.Join(silent, ", "), route)
		r.Hint = "let the silent router send ICMP time-exceeded (or stop rate-limiting it) so the trace can name it, or trace in another mode (mode = \"icmp\")"
		return r
	case len(missing) > 0:
		r.Status, r.Cause = StatusDrift, CausePathBroken
		r.Summary = fmt.Sprintf("reached, but not through %s: %s", strings.Join(missing, ", "), route)
		return r
	}
	r.Status = StatusPass
	r.Summary = fmt.Sprintf("reached in %d hops: %s", len(f.Hops), route)
	if end := f.Hops[len(f.Hops)-1]; end.LossPct > 0 {
		r.Summary += fmt.Sprintf("; %s%% loss at the target", fmtPct(end.LossPct))
	}
	if f.Ping != nil && f.Ping.Received == 0 && f.Reached {
		r.Summary += "; ICMP echo gets no answer (ping is blocked, the port is not)"
	}
	return r
}

// lossFailure says which declared loss limit the trace exceeds, if any.
// Per hop, only loss that carries on to later hops counts: a router that
// rate-limits its own ICMP loses nothing on the path.
func lossFailure(x *config.ExpectPath, f *pathtrace.Facts) string {
	if len(f.Hops) == 0 {
		return ""
	}
	end := f.Hops[len(f.Hops)-1]
	if x.MaxLoss != nil && end.LossPct > *x.MaxLoss {
		return fmt.Sprintf("%s%% of the probes to the target were lost (%d of %d), more than max_loss = %s%%",
			fmtPct(end.LossPct), end.Sent-end.Received, end.Sent, fmtPct(*x.MaxLoss))
	}
	if x.MaxHopLoss != nil {
		for _, h := range f.Hops {
			if h.Received == 0 && !h.Final || h.LossNotCarried {
				continue // a silent router, or one that rate-limits ICMP
			}
			if h.LossPct > *x.MaxHopLoss {
				return fmt.Sprintf("hop %d (%s) lost %s%% (%d of %d) and the loss carries on, more than max_hop_loss = %s%%",
					h.TTL, orStar(h.Addr), fmtPct(h.LossPct), h.Sent-h.Received, h.Sent, fmtPct(*x.MaxHopLoss))
			}
		}
	}
	return ""
}

// brokenPathHint names where to look for a trace that stops. A router
// checks the TTL before its forward hook, so it still answers the probe
// that expires there when its own forward chain drops the rest: the last
// hop that answered is the first suspect, then the next hop's prerouting.
func brokenPathHint(f *pathtrace.Facts) string {
	for _, n := range f.Notes {
		if strings.Contains(n, "the path ends at that router") {
			return "a router on the path answers with ICMP unreachable (see the notes): check its forward chain for a reject rule and its routes towards the target"
		}
	}
	if f.StopsAfter == "" {
		return "not even the first hop answers: check this host's routes and output chain, then the first router's prerouting chain (and security groups)"
	}
	return fmt.Sprintf("probes stop after %s (hop %d): check %s's forward chain first (a drop there still lets it answer hop %d), then the next hop's prerouting and input chains, and %s's routes towards the target (and security groups on that link)",
		f.StopsAfter, f.StopsAfterTTL, f.StopsAfter, f.StopsAfterTTL, f.StopsAfter)
}

func fmtPct(p float64) string { return strconv.FormatFloat(p, 'f', -1, 64) }

func orStar(s string) string {
	if s == "" {
		return "*"
	}
	return s
}

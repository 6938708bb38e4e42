package runner

import (
	"context"
	"fmt"
	"slices"
	"strings"

	"github.com/portcheck/portcheck/config"
	"github.com/portcheck/portcheck/providers"
	pathtrace "github.com/portcheck/portcheck/providers/path"
)

type pathExpected struct {
	MaxHops int      `json:"max_hops"`
	Via     []string `json:"via,omitempty"`
	Mode    string   `json:"mode"`
}

func (v *verifier) runPath(ctx context.Context, e *EndpointPlan, c *Check) *Result {
	x := e.Endpoint.Expect.Path
	facts, err := pathtrace.Trace(ctx, c.Exec, c.Target, pathtrace.Params{Mode: x.Mode, MaxHops: x.MaxHops})
	if err != nil {
		return errorResult(c, "tracing", err)
	}
	return evalPath(c, x, facts, serverUnchecked(e, c))
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

func evalPath(c *Check, x *config.ExpectPath, f *pathtrace.Facts, serverUnknown bool) *Result {
	exp := pathExpected{MaxHops: x.MaxHops, Mode: x.Mode}
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
	switch {
	case !f.Reached:
		r.Status, r.Cause = StatusFail, CausePathBroken
		stop := "before the first hop"
		if f.StopsAfter != "" {
			stop = "after " + f.StopsAfter + fmt.Sprintf(" (hop %d)", f.StopsAfterTTL)
		}
		r.Summary = fmt.Sprintf("%s trace from %s stops %s: %s", x.Mode, c.From, stop, route)
		r.Hint = "the next hop after " + orStar(f.StopsAfter) + " drops or misroutes the probes: check its forward chain, routes and security groups"
		if serverUnknown {
			r.Summary += " (the server's own layers L1/L2 were not checkable, so the server may be the cause)"
		}
	case len(missing) > 0:
		r.Status, r.Cause = StatusDrift, CausePathBroken
		r.Summary = fmt.Sprintf("reached, but not through %s: %s", strings.Join(missing, ", "), route)
	default:
		r.Status = StatusPass
		r.Summary = fmt.Sprintf("reached in %d hops: %s", len(f.Hops), route)
	}
	if f.Ping != nil && f.Ping.Received == 0 && f.Reached {
		r.Summary += "; ICMP echo gets no answer (ping is blocked, the port is not)"
	}
	return r
}

func orStar(s string) string {
	if s == "" {
		return "*"
	}
	return s
}

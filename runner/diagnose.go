package runner

import (
	"fmt"
	"slices"
	"strings"

	"github.com/portcheck/portcheck/providers"
)

// Diagnose names the lowest broken layer: the first failed check (results
// are in layer order), else drift (the lowest drifted layer, cause drift),
// else ok. Checks that could not run make an "ok" incomplete rather than
// inventing a cause.
func Diagnose(results []*Result) Diagnosis {
	for _, r := range results {
		if r.Status == StatusFail {
			if p := explainingTrace(results, r); p != nil {
				r = p
			}
			return Diagnosis{Layer: r.Check.Layer, Cause: r.Cause, Summary: r.Summary + otherPorts(results, r), Hint: r.Hint}
		}
	}
	if d, ok := diagnoseDrift(results); ok {
		return d
	}
	d := Diagnosis{Cause: CauseOK, Summary: "everything as declared"}
	var errs []*Result
	for _, r := range results {
		if r.Status == StatusError {
			errs = append(errs, r)
		}
	}
	if len(errs) > 0 {
		d.Incomplete = true
		d.Summary = fmt.Sprintf("no failure found, but %d check(s) could not run; first: L%d %s: %s",
			len(errs), int(errs[0].Check.Layer), errs[0].Check.Name, errs[0].Summary)
		d.Hint = errs[0].Hint
	}
	if allSkipped(results) {
		d.Summary = "nothing could be checked: every check was skipped"
		d.Incomplete = true
	}
	return d
}

// otherPorts says how many other ports of an endpoint of several failed
// too ("" when none): the diagnosis names the first failure only.
func otherPorts(results []*Result, first *Result) string {
	ports := map[int]bool{}
	for _, r := range results {
		if r.Status == StatusFail && r.Check.Target.Port != first.Check.Target.Port && r.Check.Target.Port != 0 {
			ports[r.Check.Target.Port] = true
		}
	}
	switch len(ports) {
	case 0:
		return ""
	case 1:
		return " (and 1 other port failed)"
	}
	return fmt.Sprintf(" (and %d other ports failed)", len(ports))
}

// diagnoseDrift sums up an endpoint that works but has drifted: the lowest
// drifted layer and what drifted there (the drift's own summary says when
// it bites: the next reload, reboot or apply), and how many other drifts.
func diagnoseDrift(results []*Result) (Diagnosis, bool) {
	var drifts []*Result
	for _, r := range results {
		if r.Status == StatusDrift {
			drifts = append(drifts, r)
		}
	}
	if len(drifts) == 0 {
		return Diagnosis{}, false
	}
	first := drifts[0]
	sum := "works now, but drifted from the declaration: " + first.Summary
	if n := len(drifts) - 1; n > 0 {
		var layers []string
		for _, r := range drifts[1:] {
			if n := LayerName(r.Check.Layer); !slices.Contains(layers, n) {
				layers = append(layers, n)
			}
		}
		sum += fmt.Sprintf(" (and %d more drift%s: %s)", n, plural(n), strings.Join(layers, ", "))
	}
	return Diagnosis{Layer: first.Check.Layer, Cause: CauseDrift, Summary: sum, Hint: first.Hint}, true
}

func plural(n int) string {
	if n == 1 {
		return ""
	}
	return "s"
}

// explainingTrace returns the L5 trace that explains an L4 timeout or
// unreachable from the same vantage point: the connection fails because
// the path stops at a named hop, which is the more useful diagnosis.
func explainingTrace(results []*Result, r *Result) *Result {
	if r.Check.Layer != providers.LayerConnectivity || (r.Cause != CauseFiltered && r.Cause != CauseUnreachable) {
		return nil
	}
	for _, p := range results {
		if p.Check.Layer == providers.LayerPath && p.Status == StatusFail && p.Check.From == r.Check.From && p.Check.Target == r.Check.Target {
			return p
		}
	}
	return nil
}

func allSkipped(rs []*Result) bool {
	for _, r := range rs {
		if r.Status != StatusSkip {
			return false
		}
	}
	return len(rs) > 0
}

// LayerName is "L4 connectivity".
func LayerName(l providers.Layer) string { return fmt.Sprintf("L%d %s", int(l), l) }

package report

import (
	"fmt"
	"io"
	"slices"
	"sort"
	"strings"

	"github.com/portcheck/portcheck/config"
	"github.com/portcheck/portcheck/providers"
	pathtrace "github.com/portcheck/portcheck/providers/path"
	"github.com/portcheck/portcheck/runner"
)

// Text prints each endpoint in plan order, as soon as it and every endpoint
// before it are done: a passing endpoint as one line, one that failed,
// drifted or could not be fully checked as a ladder of its layers.
type Text struct {
	W     io.Writer
	Style Style
	// Verbose prints every endpoint as a full ladder, with the layers that
	// were not declared and where passing checks were declared.
	Verbose bool
	// Ladder prints passing endpoints as a ladder too (diagnose: one
	// endpoint, and the on-call reader wants to see each layer).
	Ladder bool

	order *inPlanOrder[*runner.EndpointResult]
	used  map[string]bool
	// afterLine is set when the last thing printed was a one-line
	// endpoint, so a following ladder is set apart by a blank line.
	afterLine bool
	hosts     byHost
}

func (t *Text) Start(p *runner.Plan) {
	t.order = newInPlanOrder[*runner.EndpointResult](p)
	t.used = map[string]bool{}
}

func (t *Text) Endpoint(er *runner.EndpointResult) {
	for _, r := range t.order.add(er, er) {
		t.endpoint(r)
	}
}

func (t *Text) endpoint(er *runner.EndpointResult) {
	t.hosts.add(er)
	s := t.Style
	d := er.Diagnosis
	if !t.Verbose && !t.Ladder && d.Cause == runner.CauseOK && !d.Incomplete {
		t.oneLine(er)
		return
	}
	if t.afterLine {
		fmt.Fprintln(t.W)
		t.afterLine = false
	}
	fmt.Fprintf(t.W, "%s\n", s.paint(ansiBold, "# "+er.Plan.Title()))
	if o := origins(er); o != "" {
		fmt.Fprintf(t.W, "  %s\n", s.paint(ansiDim, "server-side checks judged from facts "+o))
	}
	byLayer := map[providers.Layer][]*runner.Result{}
	for _, r := range er.Results {
		byLayer[r.Check.Layer] = append(byLayer[r.Check.Layer], r)
	}
	for l := providers.LayerListening; l <= providers.LayerApplication; l++ {
		rs := byLayer[l]
		if len(rs) == 0 {
			if !t.Verbose {
				continue // not declared, not a default: nothing to say
			}
			t.used["−"] = true
			fmt.Fprintf(t.W, "  %s %s\n", s.mark(runner.StatusSkip), s.paint(ansiDim, fmt.Sprintf("%-17s not checked", runner.LayerName(l))))
			continue
		}
		if er.Plan.Endpoint.Ports.Len() > GroupPorts {
			t.grouped(l, rs)
			continue
		}
		for _, r := range rs {
			t.used[mark(r.Status)] = true
			label := runner.LayerName(l)
			if l == providers.LayerApplication {
				label = "L7 " + r.Check.Name
			}
			line := fmt.Sprintf("%-17s %s%s", label, where(r.Check), r.Summary)
			if r.Status == runner.StatusSkip {
				line = s.paint(ansiDim, line)
			}
			fmt.Fprintf(t.W, "  %s %s\n", s.mark(r.Status), line)
			if r.Status == runner.StatusFail || r.Status == runner.StatusDrift || (t.Verbose && r.Status != runner.StatusSkip) {
				fmt.Fprintf(t.W, "      %s\n", s.paint(ansiDim, "declared at "+config.SourceOf(r.Check.Source)))
			}
			t.hopTable(r)
		}
	}
	if d.Cause == runner.CauseOK {
		msg := "ok: " + d.Summary
		if d.Incomplete {
			fmt.Fprintf(t.W, "  Diagnosis: %s\n", s.paint(ansiYellow, msg))
		} else {
			fmt.Fprintf(t.W, "  Diagnosis: %s\n", s.paint(ansiGreen, msg))
		}
	} else if d.Cause == runner.CauseDrift {
		fmt.Fprintf(t.W, "  Diagnosis: %s\n", s.paint(ansiYellow, fmt.Sprintf("L%d %s: %s", int(d.Layer), d.Cause, d.Summary)))
	} else {
		fmt.Fprintf(t.W, "  Diagnosis: %s\n", s.paint(ansiRed, fmt.Sprintf("L%d %s: %s", int(d.Layer), d.Cause, d.Summary)))
	}
	if d.Hint != "" {
		fmt.Fprintf(t.W, "  Fix: %s\n", d.Hint)
	}
	fmt.Fprintln(t.W)
}

// oneLine prints an endpoint where everything declared holds:
// "✓ endpoint.web (10.0.0.5:8080/tcp) ok: 4 checks passed (L1 L2 L4 L7)".
func (t *Text) oneLine(er *runner.EndpointResult) {
	s := t.Style
	t.used[mark(runner.StatusPass)] = true
	var layers []string
	passed, skipped := 0, 0
	for _, r := range er.Results {
		switch r.Status {
		case runner.StatusPass:
			passed++
			if l := fmt.Sprintf("L%d", int(r.Check.Layer)); !slices.Contains(layers, l) {
				layers = append(layers, l)
			}
		case runner.StatusSkip:
			skipped++
		}
	}
	line := fmt.Sprintf("%s ok: %d check%s passed (%s)", er.Plan.Title(), passed, plural(passed), strings.Join(layers, " "))
	if skipped > 0 {
		line += fmt.Sprintf(", %d skipped", skipped)
	}
	if o := origins(er); o != "" {
		line += "; server facts " + o
	}
	fmt.Fprintf(t.W, "%s %s\n", s.mark(runner.StatusPass), line)
	t.afterLine = true
}

// origins lists the facts documents an endpoint's server-side checks were
// judged from ("" when observed live).
func origins(er *runner.EndpointResult) string {
	var out []string
	for _, r := range er.Results {
		if r.FactsOrigin != "" && !slices.Contains(out, r.FactsOrigin) {
			out = append(out, r.FactsOrigin)
		}
	}
	return strings.Join(out, ", ")
}

func plural(n int) string {
	if n == 1 {
		return ""
	}
	return "s"
}

// where says where a check ran, when that is not obvious.
func where(c *runner.Check) string {
	switch {
	case c.From != "" && c.Target.Address.IsValid():
		return fmt.Sprintf("[%s → %s] ", c.From, hostPort(c.Target))
	case c.From == "" && c.Exec.Host != "" && c.Provider != "":
		return fmt.Sprintf("[on %s] ", c.Exec.Host)
	}
	return ""
}

func hostPort(t providers.Target) string { return t.String() }

func (t *Text) Finish(sum runner.Summary) (int, error) {
	for _, r := range t.order.rest() {
		t.endpoint(r)
	}
	if t.afterLine {
		fmt.Fprintln(t.W)
	}
	s := t.Style
	if len(t.used) > 0 {
		var keys []string
		for k := range t.used {
			keys = append(keys, k)
		}
		sort.Slice(keys, func(i, j int) bool { return legendRank(keys[i]) < legendRank(keys[j]) })
		var parts []string
		for _, k := range keys {
			parts = append(parts, k+" "+markMeaning[k])
		}
		fmt.Fprintf(t.W, "%s\n", s.paint(ansiDim, "Legend: "+strings.Join(parts, ", ")))
	}
	t.hosts.write(t.W, s)
	if sum.Interrupted {
		fmt.Fprintf(t.W, "%s\n", s.paint(ansiYellow, fmt.Sprintf("Interrupted: %d of %d endpoints finished; the rest were not checked.", sum.Finished, sum.Planned)))
	}
	if sum.Unchecked > 0 {
		fmt.Fprintf(t.W, "%d endpoint(s) could not be checked at all (every check skipped).\n", sum.Unchecked)
	}
	eps := fmt.Sprintf("%d endpoint%s: %d ok", sum.Finished, plural(sum.Finished), sum.EndpointsOK)
	if sum.EndpointsDrifted > 0 {
		eps += fmt.Sprintf(", %d drifted", sum.EndpointsDrifted)
	}
	eps += fmt.Sprintf(", %d failed", sum.EndpointsFailed)
	if sum.EndpointsIncomplete > 0 {
		eps += fmt.Sprintf(", %d incomplete", sum.EndpointsIncomplete)
	}
	fmt.Fprintf(t.W, "Result: %s · %d check%s: %d passed, %d drifted, %d failed, %d skipped, %d errors.\n",
		eps, sum.Checks, plural(sum.Checks), sum.Passed, sum.Drifted, sum.Failed, sum.Skipped, sum.Errors)
	return sum.ExitCode(), nil
}

func legendRank(m string) int {
	return strings.Index("✓✗~!−", m)
}

// hopTable prints an L5 trace the way mtr users read it, under the L5
// line: always when the check did not pass, and with -v.
func (t *Text) hopTable(r *runner.Result) {
	f, ok := r.Evidence.(*pathtrace.Facts)
	if !ok || f == nil || len(f.Hops) == 0 {
		return
	}
	if r.Status == runner.StatusPass && !t.Verbose {
		return
	}
	s := t.Style
	const indent = "      "
	fmt.Fprintf(t.W, "%s%s\n", indent, s.paint(ansiDim, fmt.Sprintf("%3s  %-39s %6s %5s %5s %8s %8s %8s", "HOP", "ADDRESS", "LOSS%", "SENT", "RECV", "BEST", "AVG", "WORST")))
	for _, h := range f.Hops {
		addr := h.Addr
		if addr == "" {
			addr = "*"
		}
		line := fmt.Sprintf("%3d  %-39s %5.1f%% %5d %5d", h.TTL, addr, h.LossPct, h.Sent, h.Received)
		if h.Received > 0 {
			line += fmt.Sprintf(" %8.2f %8.2f %8.2f", h.MinMs, h.AvgMs, h.MaxMs)
		}
		switch {
		case h.Final:
			line += "  target"
		case h.LossNotCarried:
			line += "  (ICMP rate limit)"
		}
		fmt.Fprintf(t.W, "%s%s\n", indent, line)
	}
	if !f.Reached {
		fmt.Fprintf(t.W, "%s%s\n", indent, fmt.Sprintf("%3s  %s", "", "(the target was not reached)"))
	}
	if p := f.Ping; p != nil {
		fmt.Fprintf(t.W, "%s%s\n", indent, s.paint(ansiDim, fmt.Sprintf("ping: %d of %d answered", p.Received, p.Sent)))
	}
	for _, n := range f.Notes {
		fmt.Fprintf(t.W, "%s%s\n", indent, s.paint(ansiDim, "note: "+n))
	}
}

package report

import (
	"fmt"
	"io"
	"sort"
	"strings"

	"github.com/portcheck/portcheck/config"
	"github.com/portcheck/portcheck/providers"
	pathtrace "github.com/portcheck/portcheck/providers/path"
	"github.com/portcheck/portcheck/runner"
)

// Text prints each endpoint as a ladder of the seven layers, in plan order,
// as soon as it and every endpoint before it are done.
type Text struct {
	W     io.Writer
	Style Style
	// Verbose adds the evidence source of passing checks too.
	Verbose bool

	order *inPlanOrder
	used  map[string]bool
}

func (t *Text) Start(p *runner.Plan) {
	t.order = newInPlanOrder(p)
	t.used = map[string]bool{}
}

func (t *Text) Endpoint(er *runner.EndpointResult) {
	for _, r := range t.order.add(er) {
		t.endpoint(r)
	}
}

func (t *Text) endpoint(er *runner.EndpointResult) {
	s := t.Style
	fmt.Fprintf(t.W, "%s\n", s.paint(ansiBold, "# "+er.Plan.Title()))
	byLayer := map[providers.Layer][]*runner.Result{}
	for _, r := range er.Results {
		byLayer[r.Check.Layer] = append(byLayer[r.Check.Layer], r)
	}
	for l := providers.LayerListening; l <= providers.LayerApplication; l++ {
		rs := byLayer[l]
		if len(rs) == 0 {
			t.used["−"] = true
			fmt.Fprintf(t.W, "  %s %s\n", s.mark(runner.StatusSkip), s.paint(ansiDim, fmt.Sprintf("%-17s not checked", runner.LayerName(l))))
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
	d := er.Diagnosis
	if d.Cause == runner.CauseOK {
		msg := "ok: " + d.Summary
		if d.Incomplete {
			fmt.Fprintf(t.W, "  Diagnosis: %s\n", s.paint(ansiYellow, msg))
		} else {
			fmt.Fprintf(t.W, "  Diagnosis: %s\n", s.paint(ansiGreen, msg))
		}
	} else {
		fmt.Fprintf(t.W, "  Diagnosis: %s\n", s.paint(ansiRed, fmt.Sprintf("L%d %s: %s", int(d.Layer), d.Cause, d.Summary)))
	}
	if d.Hint != "" {
		fmt.Fprintf(t.W, "  Fix: %s\n", d.Hint)
	}
	fmt.Fprintln(t.W)
}

// where says where a check ran, when that is not obvious.
func where(c *runner.Check) string {
	switch {
	case c.From != "" && c.Target.Address != "":
		return fmt.Sprintf("[%s → %s] ", c.From, hostPort(c.Target))
	case c.From == "" && c.Exec.Host != "" && c.Provider != "":
		return fmt.Sprintf("[on %s] ", c.Exec.Host)
	}
	return ""
}

func hostPort(t providers.Target) string {
	if strings.Contains(t.Address, ":") {
		return fmt.Sprintf("[%s]:%d", t.Address, t.Port)
	}
	return fmt.Sprintf("%s:%d", t.Address, t.Port)
}

func (t *Text) Finish(sum runner.Summary) (int, error) {
	for _, r := range t.order.rest() {
		t.endpoint(r)
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
	if sum.Interrupted {
		fmt.Fprintf(t.W, "%s\n", s.paint(ansiYellow, fmt.Sprintf("Interrupted: %d of %d endpoints finished; the rest were not checked.", sum.Finished, sum.Planned)))
	}
	if sum.Unchecked > 0 {
		fmt.Fprintf(t.W, "%d endpoint(s) could not be checked at all (every check skipped).\n", sum.Unchecked)
	}
	fmt.Fprintf(t.W, "Result: %d passed, %d drifted, %d failed, %d skipped, %d errors.\n",
		sum.Passed, sum.Drifted, sum.Failed, sum.Skipped, sum.Errors)
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

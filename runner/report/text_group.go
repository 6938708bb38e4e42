package report

import (
	"fmt"
	"net/netip"
	"strings"

	"github.com/portcheck/portcheck/config"
	"github.com/portcheck/portcheck/providers"
	"github.com/portcheck/portcheck/providers/probe"
	"github.com/portcheck/portcheck/runner"
)

// GroupPorts is the most ports an endpoint may have and still be printed
// one line per check: above it each layer's checks are grouped (per check
// kind, vantage host and address) into one line of counts, followed by a
// line for each port that failed, drifted or could not be checked.
const GroupPorts = 16

// groupKey is one grouped line: the checks of a layer that differ only in
// their port.
type groupKey struct {
	name, from string
	addr       netip.Addr
}

// grouped prints one layer of a many-port endpoint.
func (t *Text) grouped(l providers.Layer, rs []*runner.Result) {
	var order []groupKey
	groups := map[groupKey][]*runner.Result{}
	for _, r := range rs {
		k := groupKey{r.Check.Name, r.Check.From, r.Check.Target.Address}
		if _, ok := groups[k]; !ok {
			order = append(order, k)
		}
		groups[k] = append(groups[k], r)
	}
	s := t.Style
	for _, k := range order {
		g := groups[k]
		worst := g[0].Status
		for _, r := range g {
			if groupRank(r.Status) > groupRank(worst) {
				worst = r.Status
			}
		}
		t.used[mark(worst)] = true
		label := runner.LayerName(l)
		if l == providers.LayerApplication {
			label = "L7 " + k.name
		}
		line := fmt.Sprintf("%-17s %s%s", label, groupWhere(g[0].Check), groupCounts(g))
		if worst == runner.StatusSkip {
			line = s.paint(ansiDim, line)
		}
		fmt.Fprintf(t.W, "  %s %s\n", s.mark(worst), line)
		if worst == runner.StatusPass || worst == runner.StatusSkip {
			continue
		}
		fmt.Fprintf(t.W, "      %s\n", s.paint(ansiDim, "declared at "+config.SourceOf(g[0].Check.Source)))
		for _, r := range g {
			if r.Status == runner.StatusPass || r.Status == runner.StatusSkip {
				continue
			}
			t.used[mark(r.Status)] = true
			why := r.Summary
			if r.Cause != "" {
				why = r.Cause + ": " + why
			}
			fmt.Fprintf(t.W, "      %s %-5d %s\n", s.mark(r.Status), r.Check.Target.Port, why)
		}
	}
}

// groupRank orders statuses for a group's mark: the most telling wins.
func groupRank(st runner.Status) int {
	return map[runner.Status]int{runner.StatusSkip: 0, runner.StatusPass: 1, runner.StatusDrift: 2, runner.StatusError: 3, runner.StatusFail: 4}[st]
}

// groupWhere is where() without the port: "[client → 10.0.0.5] ".
func groupWhere(c *runner.Check) string {
	switch {
	case c.From != "" && c.Target.Address.IsValid():
		return fmt.Sprintf("[%s → %s] ", c.From, c.Target.Address)
	case c.From == "" && c.Exec.Host != "" && c.Provider != "":
		return fmt.Sprintf("[on %s] ", c.Exec.Host)
	}
	return ""
}

// groupCounts is "10000 ports: 6000 passed, 4000 failed (3000 refused,
// 1000 filtered), 0 skipped; observed 6000 open, 3000 refused, 1000
// filtered" with only the counts that are not zero.
func groupCounts(g []*runner.Result) string {
	var statuses, causes, observed, skips counter
	for _, r := range g {
		statuses.add(statusWord[r.Status])
		if r.Cause != "" && r.Status != runner.StatusPass {
			causes.add(r.Cause)
		}
		if r.Status == runner.StatusSkip {
			skips.add(r.Summary)
		}
		if o, ok := r.Evidence.(probe.Outcome); ok && o.State != "" {
			observed.add(string(o.State))
		}
	}
	var parts []string
	for _, w := range []string{"passed", "failed", "drifted", "errors", "skipped"} {
		if statuses.n[w] == 0 {
			continue
		}
		p := fmt.Sprintf("%d %s", statuses.n[w], w)
		switch {
		case w == "failed" && len(causes.keys) > 0:
			p += " (" + causes.String() + ")"
		case w == "skipped" && len(skips.keys) <= 2:
			p += ": " + strings.Join(skips.keys, "; ")
		}
		parts = append(parts, p)
	}
	out := fmt.Sprintf("%d ports: %s", len(g), strings.Join(parts, ", "))
	if len(observed.keys) > 0 {
		out += "; observed " + observed.String()
	}
	return out
}

var statusWord = map[runner.Status]string{
	runner.StatusPass: "passed", runner.StatusFail: "failed", runner.StatusDrift: "drifted",
	runner.StatusSkip: "skipped", runner.StatusError: "errors",
}

// counter counts words in the order first seen.
type counter struct {
	keys []string
	n    map[string]int
}

func (c *counter) add(k string) {
	if c.n == nil {
		c.n = map[string]int{}
	}
	if c.n[k] == 0 {
		c.keys = append(c.keys, k)
	}
	c.n[k]++
}

func (c *counter) String() string {
	parts := make([]string, len(c.keys))
	for i, k := range c.keys {
		parts[i] = fmt.Sprintf("%d %s", c.n[k], k)
	}
	return strings.Join(parts, ", ")
}

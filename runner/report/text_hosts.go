package report

import (
	"fmt"
	"io"
	"sort"
	"strings"

	"github.com/portcheck/portcheck/runner"
)

// GroupHosts is how many server hosts a run must cover before the text
// report ends with a section per host: with a fleet, "which machines are
// broken, and is it the machine or the check?" comes before any endpoint.
const GroupHosts = 3

// hostTally is one server host's endpoints (counted as the run's summary
// counts them) and why its checks could not run (an unreachable host makes
// every check an error with the same reason).
type hostTally struct {
	name, where string
	sum         runner.Summary
	reasons     map[string]int
}

// byHost counts endpoints per server host as they are reported.
type byHost struct {
	hosts map[string]*hostTally
}

func (b *byHost) add(er *runner.EndpointResult) {
	if b.hosts == nil {
		b.hosts = map[string]*hostTally{}
	}
	name := "this machine"
	if h := er.Plan.Endpoint.Host; h != nil {
		name = h.Name
	}
	t := b.hosts[name]
	if t == nil {
		t = &hostTally{name: name, where: er.Plan.Server.String(), reasons: map[string]int{}}
		b.hosts[name] = t
	}
	t.sum.Add(er)
	for _, r := range er.Results {
		if r.Status == runner.StatusError {
			t.reasons[r.Summary]++
		}
	}
}

// write prints one line per host, the hosts with trouble first, when the
// run covered at least GroupHosts of them.
func (b *byHost) write(w io.Writer, s Style) {
	if len(b.hosts) < GroupHosts {
		return
	}
	hs := make([]*hostTally, 0, len(b.hosts))
	for _, t := range b.hosts {
		hs = append(hs, t)
	}
	troubled := func(t *hostTally) bool { return t.sum.EndpointsOK < t.sum.Finished }
	sort.Slice(hs, func(i, j int) bool {
		if bi, bj := troubled(hs[i]), troubled(hs[j]); bi != bj {
			return bi
		}
		return hs[i].name < hs[j].name
	})
	fmt.Fprintf(w, "%s\n", s.paint(ansiBold, fmt.Sprintf("By host (%d):", len(hs))))
	for _, t := range hs {
		sum := t.sum
		parts := []string{fmt.Sprintf("%d ok", sum.EndpointsOK)}
		for _, c := range []struct {
			n    int
			what string
		}{{sum.EndpointsDrifted, "drifted"}, {sum.EndpointsFailed, "failed"}, {sum.EndpointsIncomplete, "incomplete"}} {
			if c.n > 0 {
				parts = append(parts, fmt.Sprintf("%d %s", c.n, c.what))
			}
		}
		mark, colour := "✓", ansiGreen
		if troubled(t) {
			mark, colour = "✗", ansiRed
		}
		line := fmt.Sprintf("  %s %s (%s): %d endpoint%s, %s", mark, t.name, t.where, sum.Finished, plural(sum.Finished), strings.Join(parts, ", "))
		if sum.Errors > 0 {
			line += fmt.Sprintf("; %d check%s could not run: %s", sum.Errors, plural(sum.Errors), clip(commonest(t.reasons), 200))
		}
		fmt.Fprintln(w, s.paint(colour, line))
	}
}

// commonest is the reason given most often (the first by text on a tie).
func commonest(m map[string]int) string {
	best, n := "", 0
	for r, c := range m {
		if c > n || (c == n && r < best) {
			best, n = r, c
		}
	}
	return best
}

func clip(s string, n int) string {
	if r := []rune(s); len(r) > n {
		return string(r[:n-1]) + "…"
	}
	return s
}

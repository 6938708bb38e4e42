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

// hostTally is one server host's endpoints and the first reason its checks
// could not run (an unreachable host makes every check an error with the
// same reason).
type hostTally struct {
	name, where                            string
	ok, drifted, failed, incomplete, total int
	errors                                 int
	reasons                                map[string]int
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
	t.total++
	switch d := er.Diagnosis; {
	case d.Cause == runner.CauseOK && d.Incomplete:
		t.incomplete++
	case d.Cause == runner.CauseOK:
		t.ok++
	case d.Cause == runner.CauseDrift:
		t.drifted++
	default:
		t.failed++
	}
	for _, r := range er.Results {
		if r.Status == runner.StatusError {
			t.errors++
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
	sort.Slice(hs, func(i, j int) bool {
		bi, bj := hs[i].ok < hs[i].total, hs[j].ok < hs[j].total
		if bi != bj {
			return bi
		}
		return hs[i].name < hs[j].name
	})
	fmt.Fprintf(w, "%s\n", s.paint(ansiBold, fmt.Sprintf("By host (%d):", len(hs))))
	for _, t := range hs {
		parts := []string{fmt.Sprintf("%d ok", t.ok)}
		for _, c := range []struct {
			n    int
			what string
		}{{t.drifted, "drifted"}, {t.failed, "failed"}, {t.incomplete, "incomplete"}} {
			if c.n > 0 {
				parts = append(parts, fmt.Sprintf("%d %s", c.n, c.what))
			}
		}
		mark, colour := "✓", ansiGreen
		if t.ok < t.total {
			mark, colour = "✗", ansiRed
		}
		line := fmt.Sprintf("  %s %s (%s): %d endpoint%s, %s", mark, t.name, t.where, t.total, plural(t.total), strings.Join(parts, ", "))
		if t.errors > 0 {
			line += fmt.Sprintf("; %d check%s could not run: %s", t.errors, plural(t.errors), clip(commonest(t.reasons), 200))
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

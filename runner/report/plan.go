package report

import (
	"fmt"
	"io"
	"strconv"
	"strings"

	"github.com/portcheck/portcheck/config"
	"github.com/portcheck/portcheck/providers"
	"github.com/portcheck/portcheck/runner"
)

// WritePlan prints the plan in Terraform's grammar: a legend of the symbols
// in use, one header per endpoint, one line per check with its provider
// and where it runs, skips with their reason, and a closing count.
func WritePlan(w io.Writer, p *runner.Plan, s Style) {
	checks, skipped, errors := p.Counts()
	var legend []string
	if checks > skipped+errors {
		legend = append(legend, "  "+s.paint(ansiGreen, "+")+" check")
	}
	if skipped > 0 {
		legend = append(legend, "  "+s.paint(ansiDim, "−")+" skip (with the reason)")
	}
	if errors > 0 {
		legend = append(legend, "  "+s.paint(ansiRed, "!")+" declared but cannot run (an error when verified)")
	}
	if len(legend) > 0 {
		fmt.Fprintf(w, "portcheck will run the following checks. Symbols:\n%s\n\n", strings.Join(legend, "\n"))
	}
	for _, e := range p.Endpoints {
		fmt.Fprintf(w, "  %s\n", s.paint(ansiBold, "# "+e.Title()))
		if e.Endpoint.Ports.Len() > GroupPorts {
			writePlanGrouped(w, e, s)
			fmt.Fprintln(w)
			continue
		}
		for _, c := range e.Checks {
			fmt.Fprint(w, planLine(c, s))
		}
		fmt.Fprintln(w)
	}
	if errors > 0 {
		fmt.Fprintf(w, "Plan: %d checks on %d endpoints, %d skipped, %d cannot run.\n", checks, len(p.Endpoints), skipped, errors)
		return
	}
	fmt.Fprintf(w, "Plan: %d checks on %d endpoints, %d skipped.\n", checks, len(p.Endpoints), skipped)
}

// planLine is one check's line of the plan.
func planLine(c *runner.Check, s Style) string {
	label := runner.LayerName(c.Layer)
	if c.Layer == 7 {
		label = "L7 " + c.Name
	}
	src := ""
	if c.Declared {
		src = " (declared at " + config.SourceOf(c.Source) + ")"
	}
	if c.Error != "" {
		return fmt.Sprintf("  %s %s\n", s.paint(ansiRed, "!"), fmt.Sprintf("%-17s cannot run (%s): %s%s", label, whereFrom(c), c.Error, src))
	}
	if c.Skip != "" {
		what := "skip"
		if c.Layer == providers.LayerFirewall && c.From != "" {
			// Several L2 checks share a reason: say whose packet each judges.
			what = fmt.Sprintf("skip (%s → %s)", c.From, hostPort(c.Target))
		}
		return fmt.Sprintf("  %s %s\n", s.paint(ansiDim, "−"), s.paint(ansiDim, fmt.Sprintf("%-17s %s: %s%s", label, what, c.Skip, src)))
	}
	return fmt.Sprintf("  %s %-17s %s%s\n", s.paint(ansiGreen, "+"), label, planWhat(c), src)
}

// planPortMark stands for the port in a grouped plan line until the
// group's ports replace it where a port is written (":PORT", "/PORT").
const planPortMark = 65535

// writePlanGrouped prints the checks of an endpoint of many ports that
// differ only in their port as one line, the port replaced by the ports
// of the group and their count: "tcp/20000-29999 serves … (10000 ports)".
func writePlanGrouped(w io.Writer, e *runner.EndpointPlan, s Style) {
	type group struct {
		line  string
		ports config.PortSet
	}
	var order []string
	groups := map[string]*group{}
	mark := strconv.Itoa(planPortMark)
	for _, c := range e.Checks {
		cc := *c
		cc.Target.Port = planPortMark
		cc.Targets = make([]providers.Target, len(c.Targets))
		for i, t := range c.Targets {
			t.Port = planPortMark
			cc.Targets[i] = t
		}
		line := planLine(&cc, s)
		g, ok := groups[line]
		if !ok {
			g = &group{line: line}
			groups[line] = g
			order = append(order, line)
		}
		p := c.Target.Port
		if n := len(g.ports); n > 0 && g.ports[n-1].To+1 == p {
			g.ports[n-1].To = p
		} else {
			g.ports = append(g.ports, config.PortRange{From: p, To: p})
		}
	}
	for _, key := range order {
		g := groups[key]
		ports := shortPorts(g.ports)
		line := strings.NewReplacer(":"+mark, ":"+ports, "/"+mark, "/"+ports).Replace(strings.TrimSuffix(g.line, "\n"))
		if n := g.ports.Len(); n > 1 {
			line += fmt.Sprintf(" (%d ports)", n)
		}
		fmt.Fprintln(w, line)
	}
}

// shortPorts is the set's text, cut after three ranges for a long list:
// "1,3,5,…,99".
func shortPorts(ps config.PortSet) string {
	if len(ps) <= 4 {
		return ps.String()
	}
	return fmt.Sprintf("%s,%s,%s,…,%s", ps[0], ps[1], ps[2], ps[len(ps)-1])
}

// whereFrom names a check's place briefly: the vantage and target, or the
// server host.
func whereFrom(c *runner.Check) string {
	if c.From != "" {
		return c.From + " → " + hostPort(c.Target)
	}
	return "on " + c.Exec.String()
}

func planWhat(c *runner.Check) string {
	if c.Layer == providers.LayerSELinux {
		return fmt.Sprintf("%s on %s: type of %s/%d and who may bind it", c.Provider, c.Exec, c.Target.Protocol, c.Target.Port)
	}
	if c.From == "" {
		var addrs []string
		for _, t := range c.Targets {
			addrs = append(addrs, t.Address.String())
		}
		return fmt.Sprintf("%s on %s: %s/%d serves %s", c.Provider, c.Exec, c.Target.Protocol, c.Target.Port, strings.Join(addrs, ", "))
	}
	switch c.Layer {
	case providers.LayerFirewall:
		return fmt.Sprintf("%s on %s judges %s → %s/%s", c.Provider, c.Exec, c.From, hostPort(c.Target), c.Target.Protocol)
	case providers.LayerCloud:
		return fmt.Sprintf("%s API judges %s → %s/%s", c.Provider, c.From, hostPort(c.Target), c.Target.Protocol)
	}
	return fmt.Sprintf("%s from %s (%s) → %s/%s", c.Provider, c.From, c.Exec, hostPort(c.Target), c.Target.Protocol)
}

package report

import (
	"encoding/json"
	"fmt"
	"io"
	"strings"

	"github.com/portcheck/portcheck/providers/cloud"
	"github.com/portcheck/portcheck/runner"
)

// AuditJSONVersion is the audit report's contract version; like verify's,
// fields are only ever added.
const AuditJSONVersion = 1

// WriteAuditJSON writes the audit as one JSON document.
func WriteAuditJSON(w io.Writer, a *runner.AuditReport) error {
	doc := struct {
		Version  int                  `json:"version"`
		Summary  runner.AuditSummary  `json:"summary"`
		Scopes   []*runner.AuditScope `json:"scopes"`
		ExitCode int                  `json:"exit_code"`
	}{AuditJSONVersion, a.Summary, a.Scopes, a.ExitCode()}
	if doc.Scopes == nil {
		doc.Scopes = []*runner.AuditScope{}
	}
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(doc)
}

// WriteAuditMarkdown writes the audit for humans and change tickets:
// counts on top, then one section per provider, account and region, one
// subsection per group with something to say, and a list of clean groups.
func WriteAuditMarkdown(w io.Writer, a *runner.AuditReport) {
	s := a.Summary
	fmt.Fprintf(w, "# portcheck audit\n\n")
	fmt.Fprintf(w, "| | count |\n|---|---:|\n")
	for _, row := range []struct {
		name string
		n    int
	}{
		{"security groups read", s.Groups},
		{"declared groups", s.Declared},
		{"declared groups with drift", s.Drifted},
		{"rules that drifted", s.DriftRules},
		{"declared groups not found", s.MissingGroups},
		{"sensitive ports open to the world", s.OpenToWorld},
		{"groups attached to nothing", s.Unattached},
		{"rules referencing deleted groups", s.DeletedGroupRf},
		{"clouds that could not be read", s.Errors},
	} {
		fmt.Fprintf(w, "| %s | %d |\n", row.name, row.n)
	}
	verdict := "**Result: clean** — every declared group is as declared and nothing was found."
	if a.ExitCode() != 0 {
		verdict = "**Result: action needed** (exit code 1)."
	}
	fmt.Fprintf(w, "\n%s\n", verdict)

	for _, sc := range a.Scopes {
		account := sc.Account
		if account == "" {
			account = "account unknown"
		}
		fmt.Fprintf(w, "\n## %s · %s · %s\n\n", sc.Provider, account, sc.Region)
		if sc.Error != "" {
			fmt.Fprintf(w, "Could not read: %s\n", mdEscape(sc.Error))
			continue
		}
		var clean []string
		for _, g := range sc.Groups {
			if g.Clean() {
				clean = append(clean, "`"+g.ID+"`")
				continue
			}
			writeAuditGroup(w, g)
		}
		if len(clean) > 0 {
			fmt.Fprintf(w, "\nNothing to report for %d group(s): %s\n", len(clean), strings.Join(clean, ", "))
		}
	}
}

func writeAuditGroup(w io.Writer, g *runner.AuditGroup) {
	title := "`" + g.ID + "`"
	if g.Name != "" {
		title += " " + mdEscape(g.Name)
	}
	fmt.Fprintf(w, "### %s\n\n", title)
	var facts []string
	if g.Declared != "" {
		facts = append(facts, "declared at "+g.Declared)
	}
	switch {
	case g.Missing:
		facts = append(facts, "**not found in the cloud** (deleted, or a wrong id or region)")
	case g.Attachments == 0:
		facts = append(facts, "**attached to nothing**")
	default:
		facts = append(facts, fmt.Sprintf("attached to %d interface(s)", g.Attachments))
	}
	if g.VPC != "" {
		facts = append(facts, "VPC "+g.VPC)
	}
	fmt.Fprintf(w, "%s\n\n", strings.Join(facts, " · "))
	if len(g.Drift) > 0 {
		fmt.Fprintf(w, "| drift | direction | declared | actual | rule ids | detail |\n|---|---|---|---|---|---|\n")
		for _, d := range g.Drift {
			fmt.Fprintf(w, "| %s | %s | %s | %s | %s | %s |\n", d.Kind, d.Direction, atomText(d.Declared), atomText(d.Actual),
				strings.Join(d.RuleIDs, ", "), mdEscape(d.Detail))
		}
		fmt.Fprintln(w)
	}
	if len(g.Findings) > 0 {
		fmt.Fprintf(w, "| finding | rule | detail |\n|---|---|---|\n")
		for _, f := range g.Findings {
			fmt.Fprintf(w, "| %s | %s | %s |\n", f.Kind, f.RuleID, mdEscape(f.Detail))
		}
		fmt.Fprintln(w)
	}
}

func atomText(a *cloud.AtomicRule) string {
	if a == nil {
		return "—"
	}
	ports := ""
	switch {
	case a.Protocol == cloud.ProtoTCP || a.Protocol == cloud.ProtoUDP:
		if a.Ports.From == a.Ports.To {
			ports = fmt.Sprintf(" %d", a.Ports.From)
		} else {
			ports = fmt.Sprintf(" %d-%d", a.Ports.From, a.Ports.To)
		}
	}
	s := fmt.Sprintf("%s%s %s", a.Protocol, ports, a.Peer)
	if a.Policy != "" && a.Policy != cloud.Accept {
		s += " " + a.Policy
	}
	if a.Priority != 0 {
		s += fmt.Sprintf(" prio %d", a.Priority)
	}
	return mdEscape(s)
}

// mdEscape keeps table cells intact.
func mdEscape(s string) string {
	return strings.NewReplacer("|", `\|`, "\n", " ").Replace(s)
}

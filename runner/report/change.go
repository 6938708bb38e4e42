package report

import (
	"encoding/json"
	"encoding/xml"
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/portcheck/portcheck/config"
	"github.com/portcheck/portcheck/runner"
)

// ChangeExitCode is the gate: 0 when every change is complete in its
// phase, 1 while a step is not done or could not be checked.
func ChangeExitCode(rs []*runner.ChangeResult) int {
	for _, r := range rs {
		if !r.Complete() {
			return 1
		}
	}
	return 0
}

// stepMark is the symbol of a step status.
func (s Style) stepMark(st runner.StepStatus) string {
	switch st {
	case runner.StepDone:
		return s.paint(ansiGreen, "✓")
	case runner.StepAttested:
		return s.paint(ansiGreen, "✎")
	case runner.StepNotDone:
		return s.paint(ansiRed, "✗")
	case runner.StepError:
		return s.paint(ansiPurple, "!")
	}
	return s.paint(ansiDim, "−")
}

var stepWords = map[runner.StepStatus]string{
	runner.StepDone: "done", runner.StepAttested: "attested", runner.StepNotDone: "not done",
	runner.StepError: "cannot be checked", runner.StepSkipped: "skipped", runner.StepNotInPhase: "not in this phase",
}

func changeTitle(r *runner.ChangeResult) string {
	c := r.Change
	t := fmt.Sprintf("change.%s (endpoint.%s %d -> %d/%s), phase %s", c.Name, c.Endpoint.Name, c.FromPort, c.ToPort, c.Endpoint.Protocol, r.Phase)
	if c.Ticket != "" {
		t += ", ticket " + c.Ticket
	}
	return t
}

// WriteChangeText prints each change's steps in checklist order. As a
// runbook (plan -phase), every open step is followed by the commands that
// do it on this host; as a verify report, the first open step is named
// with its commands at the end.
func WriteChangeText(w io.Writer, rs []*runner.ChangeResult, s Style, runbook bool) {
	for _, r := range rs {
		fmt.Fprintf(w, "%s\n", s.paint(ansiBold, "# "+changeTitle(r)))
		fmt.Fprintf(w, "  window start %s; declared at %s\n", r.Change.WindowStart.Format(time.RFC3339), config.SourceOf(r.Change.DeclRange))
		for i, st := range r.Steps {
			fmt.Fprintf(w, "  %s %d. %-13s %s: %s\n", s.stepMark(st.Status), i+1, st.Step.Name, stepWords[st.Status], st.Summary)
			if runbook || st.Open() {
				for _, ch := range st.Checks {
					if ch.Status == runner.StatusPass && !runbook {
						continue
					}
					fmt.Fprintf(w, "       %s %s: %s\n", s.mark(ch.Status), ch.What, ch.Summary)
				}
			}
			if runbook && st.Open() {
				for _, cmd := range st.Commands() {
					fmt.Fprintf(w, "       $ %s\n", cmd)
				}
			}
			if runbook && len(st.Rollback) > 0 && st.Step.Name != config.StepRollback {
				fmt.Fprintf(w, "       rollback:\n")
				for _, cmd := range st.Rollback {
					fmt.Fprintf(w, "         $ %s\n", cmd)
				}
			}
		}
		if open := r.FirstOpen(); open != nil {
			fmt.Fprintf(w, "\n  First open step: %s (%s)\n", open.Step.Name, stepWords[open.Status])
			for _, cmd := range open.Commands() {
				fmt.Fprintf(w, "    $ %s\n", cmd)
			}
			if open.Status == runner.StepNotDone && open.Step.Mode == config.ModeAttest {
				fmt.Fprintf(w, "    attest it: attestation %q %q { by = \"…\"  at = \"%s\"  ticket = \"%s\" }\n",
					r.Change.Name, open.Step.Name, r.Checked.Format(time.RFC3339), firstNonEmpty(r.Change.Ticket, "…"))
			}
		}
		fmt.Fprintln(w)
	}
	done, open := 0, 0
	for _, r := range rs {
		if r.Complete() {
			done++
		} else {
			open++
		}
	}
	fmt.Fprintf(w, "Changes: %d complete, %d open.\n", done, open)
}

func firstNonEmpty(ss ...string) string {
	for _, s := range ss {
		if s != "" {
			return s
		}
	}
	return ""
}

// JSONChange is a change in the JSON report (added to version 1: the
// document gains "phase" and "changes"; nothing else changes).
type JSONChange struct {
	Name        string     `json:"name"`
	Address     string     `json:"address"` // "change.web_to_9090"
	Endpoint    string     `json:"endpoint"`
	FromPort    int        `json:"from_port"`
	ToPort      int        `json:"to_port"`
	Protocol    string     `json:"protocol"`
	WindowStart string     `json:"window_start"`
	Ticket      string     `json:"ticket,omitempty"`
	Description string     `json:"description,omitempty"`
	Phase       string     `json:"phase"`
	Complete    bool       `json:"complete"`
	FirstOpen   string     `json:"first_open,omitempty"`
	Source      string     `json:"source"`
	Checked     string     `json:"checked"`
	Steps       []JSONStep `json:"steps"`
}

type JSONStep struct {
	Name        string           `json:"name"`
	Mode        string           `json:"mode"`   // verify | attest | skip
	Status      string           `json:"status"` // done | not_done | attested | skipped | error | not_in_phase
	Summary     string           `json:"summary"`
	Reason      string           `json:"reason,omitempty"`
	Source      string           `json:"source"`
	Attestation *JSONAttestation `json:"attestation,omitempty"`
	Rejected    string           `json:"rejected_attestation,omitempty"`
	Checks      []JSONStepCheck  `json:"checks"`
	Commands    []string         `json:"commands"`
	Rollback    []string         `json:"rollback,omitempty"`
}

type JSONAttestation struct {
	By     string `json:"by"`
	At     string `json:"at"`
	Ticket string `json:"ticket"`
	Note   string `json:"note,omitempty"`
	Source string `json:"source"`
}

type JSONStepCheck struct {
	What     string   `json:"what"`
	Status   string   `json:"status"`
	Layer    int      `json:"layer,omitempty"`
	Summary  string   `json:"summary"`
	Commands []string `json:"commands,omitempty"`
	Evidence any      `json:"evidence"`
	Source   string   `json:"source,omitempty"` // the layer check's declaration
}

// ChangeJSON converts a change result.
func ChangeJSON(r *runner.ChangeResult) JSONChange {
	c := r.Change
	jc := JSONChange{Name: c.Name, Address: "change." + c.Name, Endpoint: "endpoint." + c.Endpoint.Name, FromPort: c.FromPort, ToPort: c.ToPort,
		Protocol: c.Endpoint.Protocol, WindowStart: c.WindowStart.Format(time.RFC3339), Ticket: c.Ticket, Description: c.Description,
		Phase: string(r.Phase), Complete: r.Complete(), Source: config.SourceOf(c.DeclRange), Checked: r.Checked.Format(time.RFC3339), Steps: []JSONStep{}}
	if o := r.FirstOpen(); o != nil {
		jc.FirstOpen = string(o.Step.Name)
	}
	for _, st := range r.Steps {
		js := JSONStep{Name: string(st.Step.Name), Mode: string(st.Step.Mode), Status: string(st.Status), Summary: st.Summary,
			Reason: st.Step.Reason, Source: config.SourceOf(st.Step.DeclRange), Rejected: st.Rejected,
			Checks: []JSONStepCheck{}, Commands: st.Commands(), Rollback: st.Rollback}
		if js.Commands == nil {
			js.Commands = []string{}
		}
		if a := st.Attestation; a != nil {
			js.Attestation = &JSONAttestation{By: a.By, At: a.At.Format(time.RFC3339), Ticket: a.Ticket, Note: a.Note, Source: config.SourceOf(a.DeclRange)}
		}
		for _, ch := range st.Checks {
			x := JSONStepCheck{What: ch.What, Status: string(ch.Status), Layer: int(ch.Layer), Summary: ch.Summary, Commands: ch.Commands, Evidence: ch.Evidence}
			if ch.Result != nil {
				x.Source = config.SourceOf(ch.Result.Check.Source)
			}
			js.Checks = append(js.Checks, x)
		}
		jc.Steps = append(jc.Steps, js)
	}
	return jc
}

// WriteChangeJSON writes the version 1 report of a change run: no
// endpoints (a change run verifies steps, not endpoints), the summary
// counting the steps' checks, and the added phase and changes.
func WriteChangeJSON(w io.Writer, rs []*runner.ChangeResult, phase runner.Phase) (int, error) {
	doc := JSONReport{Version: JSONVersion, Endpoints: []JSONEndpoint{}, Phase: string(phase), Changes: []JSONChange{}}
	for _, r := range rs {
		doc.Changes = append(doc.Changes, ChangeJSON(r))
		for _, st := range r.Steps {
			for _, ch := range st.Checks {
				doc.Summary.Checks++
				switch ch.Status {
				case runner.StatusPass:
					doc.Summary.Passed++
				case runner.StatusFail:
					doc.Summary.Failed++
				case runner.StatusDrift:
					doc.Summary.Drifted++
				case runner.StatusSkip:
					doc.Summary.Skipped++
				case runner.StatusError:
					doc.Summary.Errors++
				}
			}
		}
	}
	doc.ExitCode = ChangeExitCode(rs)
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	enc.SetEscapeHTML(false)
	return doc.ExitCode, enc.Encode(doc)
}

// WriteChangeJUnit writes one testsuite per change and one testcase per
// step: not done is a failure, cannot be checked an error, skipped and
// not in this phase are skipped; attested passes with who, when and the
// ticket in system-out.
func WriteChangeJUnit(w io.Writer, rs []*runner.ChangeResult) error {
	doc := junitSuites{Name: "portcheck changes"}
	for _, r := range rs {
		su := junitSuite{Name: "change." + r.Change.Name + " (" + string(r.Phase) + ")", Time: "0.000"}
		su.Properties = &junitProps{Property: []junitProp{{"endpoint", "endpoint." + r.Change.Endpoint.Name}, {"from_port", fmt.Sprint(r.Change.FromPort)},
			{"to_port", fmt.Sprint(r.Change.ToPort)}, {"phase", string(r.Phase)}, {"ticket", r.Change.Ticket}, {"source", config.SourceOf(r.Change.DeclRange)}}}
		for i, st := range r.Steps {
			jc := junitCase{Name: fmt.Sprintf("%d %s", i+1, st.Step.Name), Classname: "change." + r.Change.Name, Time: "0.000"}
			var out []string
			for _, ch := range st.Checks {
				out = append(out, fmt.Sprintf("%s %s: %s", mark(ch.Status), ch.What, ch.Summary))
			}
			for _, cmd := range st.Commands() {
				out = append(out, "$ "+cmd)
			}
			text := strings.Join(out, "\n")
			switch st.Status {
			case runner.StepNotDone:
				jc.Failure = &junitMessage{Message: st.Summary, Type: "not_done", Text: text}
				su.Failures++
			case runner.StepError:
				jc.Error = &junitMessage{Message: st.Summary, Type: "error", Text: text}
				su.Errors++
			case runner.StepSkipped, runner.StepNotInPhase:
				jc.Skipped = &junitMessage{Message: st.Summary}
				su.Skipped++
			case runner.StepAttested:
				jc.SystemOut = st.Summary
			default:
				jc.SystemOut = text
			}
			su.Tests++
			su.Cases = append(su.Cases, jc)
		}
		doc.Tests += su.Tests
		doc.Failures += su.Failures
		doc.Errors += su.Errors
		doc.Skipped += su.Skipped
		doc.Suites = append(doc.Suites, su)
	}
	doc.Time = "0.000"
	if _, err := io.WriteString(w, xml.Header); err != nil {
		return err
	}
	enc := xml.NewEncoder(w)
	enc.Indent("", "  ")
	if err := enc.Encode(doc); err != nil {
		return err
	}
	_, err := io.WriteString(w, "\n")
	return err
}

// WriteChangeMarkdown writes the change record for the ticket: every
// step with its status, evidence and commands, who attested what, and
// the rollback commands.
func WriteChangeMarkdown(w io.Writer, rs []*runner.ChangeResult) {
	for _, r := range rs {
		c := r.Change
		fmt.Fprintf(w, "# Change record: %s\n\n", mdEscape(c.Name))
		if c.Description != "" {
			fmt.Fprintf(w, "%s\n\n", mdEscape(c.Description))
		}
		fmt.Fprintf(w, "| | |\n|---|---|\n")
		fmt.Fprintf(w, "| Endpoint | `endpoint.%s` on host `%s` |\n", c.Endpoint.Name, c.Endpoint.Host.Name)
		fmt.Fprintf(w, "| Port | %d → %d/%s |\n", c.FromPort, c.ToPort, c.Endpoint.Protocol)
		fmt.Fprintf(w, "| Ticket | %s |\n", mdEscape(firstNonEmpty(c.Ticket, "(none declared)")))
		fmt.Fprintf(w, "| Window start | %s |\n", c.WindowStart.Format(time.RFC3339))
		fmt.Fprintf(w, "| Phase | %s, checked %s |\n", r.Phase, r.Checked.Format(time.RFC3339))
		state := "complete"
		if o := r.FirstOpen(); o != nil {
			state = fmt.Sprintf("**open** — first open step: %s (%s)", o.Step.Name, stepWords[o.Status])
		}
		fmt.Fprintf(w, "| Status | %s |\n", state)
		fmt.Fprintf(w, "| Declared at | `%s` |\n\n", config.SourceOf(c.DeclRange))

		fmt.Fprintf(w, "## Steps\n\n| # | Step | Status | How | Summary |\n|---|---|---|---|---|\n")
		for i, st := range r.Steps {
			fmt.Fprintf(w, "| %d | %s | %s | %s | %s |\n", i+1, st.Step.Name, stepWords[st.Status], st.Step.Mode, mdEscape(st.Summary))
		}
		fmt.Fprintln(w)
		for i, st := range r.Steps {
			fmt.Fprintf(w, "### %d. %s — %s\n\n", i+1, st.Step.Name, stepWords[st.Status])
			switch st.Step.Mode {
			case config.ModeSkip:
				fmt.Fprintf(w, "Skipped: %s\n\n", mdEscape(st.Step.Reason))
				continue
			case config.ModeAttest:
				fmt.Fprintf(w, "Attested by a person: %s\n\n", mdEscape(st.Step.Reason))
				if a := st.Attestation; a != nil {
					fmt.Fprintf(w, "- By **%s** at %s, ticket %s (`%s`)\n", mdEscape(a.By), a.At.Format(time.RFC3339), mdEscape(a.Ticket), config.SourceOf(a.DeclRange))
					if a.Note != "" {
						fmt.Fprintf(w, "- Note: %s\n", mdEscape(a.Note))
					}
				}
				if st.Rejected != "" {
					fmt.Fprintf(w, "- Not counted: %s\n", mdEscape(st.Rejected))
				}
				if st.Attestation == nil && st.Rejected == "" {
					fmt.Fprintf(w, "- No attestation yet.\n")
				}
				fmt.Fprintln(w)
				continue
			}
			for _, ch := range st.Checks {
				fmt.Fprintf(w, "- %s %s: %s\n", mark(ch.Status), mdEscape(ch.What), mdEscape(ch.Summary))
				if ch.Result != nil {
					fmt.Fprintf(w, "  - evidence: L%d %s, %s, declared at `%s`\n", int(ch.Layer), ch.Result.Check.Name, ch.Result.Check.Exec, config.SourceOf(ch.Result.Check.Source))
				}
			}
			if cmds := st.Commands(); len(cmds) > 0 {
				fmt.Fprintf(w, "\nCommands to complete it:\n\n```sh\n%s\n```\n", strings.Join(cmds, "\n"))
			}
			if len(st.Rollback) > 0 && st.Step.Name != config.StepRollback {
				fmt.Fprintf(w, "\nRollback:\n\n```sh\n%s\n```\n", strings.Join(st.Rollback, "\n"))
			}
			fmt.Fprintln(w)
		}
	}
}

package main

import (
	"bytes"
	"context"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"syscall"

	"github.com/portcheck/portcheck/config"
	"github.com/portcheck/portcheck/runner"
	"github.com/portcheck/portcheck/runner/report"
)

// phaseFlags select a change run: -phase pre|post and -change NAME.
type phaseFlags struct {
	phase   string
	changes listFlag
}

func (p *phaseFlags) register(fs *flag.FlagSet) {
	fs.StringVar(&p.phase, "phase", "", "judge the change blocks' steps in this phase: pre (before the window) or post (after it)")
	fs.Var(&p.changes, "change", "only this change, e.g. -change web_to_9090 (repeatable; with -phase)")
}

// selectChanges returns the changes asked for, or why not.
func (p *phaseFlags) selectChanges(cfg *config.Config) ([]*config.Change, runner.Phase, error) {
	phase, err := runner.ParsePhase(p.phase)
	if err != nil {
		return nil, "", err
	}
	if len(cfg.Changes) == 0 {
		return nil, "", fmt.Errorf("-phase %s: the configuration declares no change block", phase)
	}
	if len(p.changes) == 0 {
		return cfg.Changes, phase, nil
	}
	var out []*config.Change
	for _, name := range p.changes {
		found := false
		for _, c := range cfg.Changes {
			if c.Name == name || "change."+c.Name == name {
				out = append(out, c)
				found = true
			}
		}
		if !found {
			return nil, "", fmt.Errorf("-change %s: no such change", name)
		}
	}
	return out, phase, nil
}

// runChanges judges the selected changes, stopping cleanly on Ctrl-C.
func runChanges(changes []*config.Change, phase runner.Phase, env runner.Environment, obs runner.Observers) []*runner.ChangeResult {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	return runner.VerifyChanges(ctx, changes, phase, runner.ChangeOptions{Env: env, Verify: runner.Options{Observers: obs}})
}

// verifyChanges is `verify -phase`: the gate. Exit 0 when every step of
// the phase is done, attested, skipped or not in the phase; 1 otherwise.
func verifyChanges(cfg *config.Config, pf phaseFlags, env runner.Environment, of outputFlags, noColor bool, stdout, stderr io.Writer) int {
	changes, phase, err := pf.selectChanges(cfg)
	if err != nil {
		fmt.Fprintln(stderr, "portcheck verify:", err)
		return exitUsage
	}
	rs := runChanges(changes, phase, env, of.observers)
	code := report.ChangeExitCode(rs)
	if of.junit != "" {
		f, err := os.Create(of.junit)
		if err != nil {
			fmt.Fprintln(stderr, "portcheck: -junit:", err)
			return exitUsage
		}
		defer f.Close()
		if err := report.WriteChangeJUnit(f, rs); err != nil {
			fmt.Fprintln(stderr, "portcheck: writing the JUnit report:", err)
			code = exitFailed
		}
	}
	if of.json {
		if _, err := report.WriteChangeJSON(stdout, rs, phase); err != nil {
			fmt.Fprintln(stderr, "portcheck: writing the report:", err)
			return exitFailed
		}
		return code
	}
	report.WriteChangeText(stdout, rs, style(stdout, noColor), false)
	return code
}

// planChanges is `plan -phase`: the runbook. It reads the host (as verify
// does, read-only) so each open step's command is the one for this host;
// its exit code is 0, like plan's, whatever the steps' state.
func planChanges(cfg *config.Config, pf phaseFlags, env runner.Environment, noColor bool, stdout, stderr io.Writer) int {
	changes, phase, err := pf.selectChanges(cfg)
	if err != nil {
		fmt.Fprintln(stderr, "portcheck plan:", err)
		return exitUsage
	}
	rs := runChanges(changes, phase, env, runner.Observers{})
	report.WriteChangeText(stdout, rs, style(stdout, noColor), true)
	return exitOK
}

const changeUsage = `Usage: portcheck change report -phase pre|post [-change NAME] [-o FILE] PATH

  report   write the change record (Markdown, for the ticket): every step with its
           status and evidence, who attested what, the commands, the rollback commands
`

// cmdChange is `portcheck change report`.
func cmdChange(args []string, stdout, stderr io.Writer) int {
	if len(args) == 0 || args[0] != "report" {
		fmt.Fprint(stderr, changeUsage)
		return exitUsage
	}
	fs := newFlagSet("change report", "-phase pre|post [flags] PATH", stderr)
	var cf configFlags
	cf.register(fs)
	var pf phaseFlags
	pf.register(fs)
	out := fs.String("o", "", "write the record to this file (through a temporary file and a rename) instead of stdout")
	path, code, ok := parsePath(fs, args[1:], stderr)
	if !ok {
		return code
	}
	if pf.phase == "" {
		fmt.Fprintln(stderr, "portcheck change report: -phase pre or -phase post is required")
		return exitUsage
	}
	cfg := cf.load(path, stderr)
	if cfg == nil {
		return exitUsage
	}
	changes, phase, err := pf.selectChanges(cfg)
	if err != nil {
		fmt.Fprintln(stderr, "portcheck change report:", err)
		return exitUsage
	}
	rs := runChanges(changes, phase, runner.CurrentEnvironment(), runner.Observers{})
	if *out == "" {
		report.WriteChangeMarkdown(stdout, rs)
		return report.ChangeExitCode(rs)
	}
	var b bytes.Buffer
	report.WriteChangeMarkdown(&b, rs)
	if err := writeFileAtomic(*out, b.Bytes()); err != nil {
		fmt.Fprintln(stderr, "portcheck change report:", err)
		return exitFailed
	}
	return report.ChangeExitCode(rs)
}

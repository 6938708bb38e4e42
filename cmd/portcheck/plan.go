package main

import (
	"fmt"
	"io"

	"github.com/portcheck/portcheck/runner"
	"github.com/portcheck/portcheck/runner/report"
)

func cmdPlan(args []string, stdout, stderr io.Writer) int {
	fs := newFlagSet("plan", "[flags] PATH", stderr)
	var cf configFlags
	cf.register(fs)
	var targets listFlag
	fs.Var(&targets, "target", "plan only this endpoint, e.g. -target endpoint.web (repeatable)")
	var ff factsFlags
	ff.register(fs)
	var pf phaseFlags
	pf.register(fs)
	path, code, ok := parsePath(fs, args, stderr)
	if !ok {
		return code
	}
	cfg := cf.load(path, stderr)
	if cfg == nil {
		return exitUsage
	}
	env := runner.CurrentEnvironment()
	if !ff.apply("plan", &env, nil, stderr) {
		return exitUsage
	}
	if pf.phase != "" {
		return planChanges(cfg, pf, env, cf.noColor, stdout, stderr)
	}
	plan, err := runner.BuildPlan(cfg, runner.PlanOptions{Targets: targets, Env: env})
	if err != nil {
		fmt.Fprintln(stderr, "portcheck plan:", err)
		return exitUsage
	}
	report.WritePlan(stdout, plan, style(stdout, cf.noColor))
	return exitOK
}

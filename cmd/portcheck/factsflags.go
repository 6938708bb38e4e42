package main

import (
	"flag"
	"fmt"
	"io"

	"github.com/portcheck/portcheck/config"
	"github.com/portcheck/portcheck/providers"
	"github.com/portcheck/portcheck/providers/facts"
	"github.com/portcheck/portcheck/runner"
)

// factsFlags are -facts and -offline of plan and verify.
type factsFlags struct {
	path    string
	offline bool
}

func (f *factsFlags) register(fs *flag.FlagSet) {
	fs.StringVar(&f.path, "facts", "", "judge the servers' L1–L3 from facts documents (a file, or a directory of *.json written by portcheck collect) instead of observing them")
	fs.BoolVar(&f.offline, "offline", false, "with -facts: do not probe from the vantage hosts either (L4, L5, L7 are skipped)")
}

// apply loads the documents and points the environment and the run at
// them; ok is false (after a message) on a usage error or a bad document.
func (f *factsFlags) apply(cmd string, env *runner.Environment, obs *runner.Observers, stderr io.Writer) bool {
	if f.path == "" {
		if f.offline {
			fmt.Fprintf(stderr, "portcheck %s: -offline needs -facts (without documents there is nothing to judge offline)\n", cmd)
			return false
		}
		return true
	}
	docs, err := facts.Load(f.path)
	if err != nil {
		fmt.Fprintf(stderr, "portcheck %s: -facts: %v\n", cmd, err)
		return false
	}
	src := facts.Recorded(docs)
	env.Facts = func(h *config.Host) error {
		_, err := src.For(h.Name, h.Addresses, providers.Exec{Host: h.Name, Recorded: true})
		return err
	}
	env.Offline = f.offline
	if obs != nil {
		obs.Facts = src
	}
	return true
}

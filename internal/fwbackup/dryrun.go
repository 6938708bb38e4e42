package fwbackup

import (
	"context"
	"fmt"
)

// DryRun validates the restore without changing anything: the nftables
// transaction is checked by nft itself (`nft -c`: parsed and evaluated
// against the kernel's current state, not committed) and each iptables
// input by its restore tool's --test mode. The firewalld files are the
// backup's own, already checked against their checksums by Open. The
// first step that would fail is a *StepError naming it.
func (p *Plan) DryRun(ctx context.Context) error {
	for _, s := range p.steps {
		if s.check == nil {
			continue
		}
		if err := s.check(ctx); err != nil {
			return &StepError{s.title, fmt.Errorf("dry run: %w", err)}
		}
	}
	return nil
}

// Steps are the titles of the restore's steps, in order.
func (p *Plan) Steps() []string {
	out := make([]string, len(p.steps))
	for i, s := range p.steps {
		out[i] = s.title
	}
	return out
}

func testRun(opts Options, tool string, input []byte) func(ctx context.Context) error {
	return func(ctx context.Context) error {
		_, err := opts.run(ctx, input, tool, "--test")
		return err
	}
}

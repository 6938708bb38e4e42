package nftables

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os/exec"
	"sync"

	"github.com/portcheck/portcheck/internal/netns"
	"github.com/portcheck/portcheck/providers/firewall"
)

// TextListingLimit is the number of chains up to which Read and
// ReadTables also run nft's text listing for each rule's text as nft
// prints it. Above it (a kube-proxy node has tens of thousands) the second
// listing would cost seconds, and the text is rendered from the JSON.
const TextListingLimit = 2000

// TableID names a table.
type TableID struct{ Family, Name string }

func (id TableID) String() string { return id.Family + " " + id.Name }

// ListChains lists every chain of the namespace at netnsPath (`nft -j list
// chains`: no rules, cheap even on huge rulesets) as tables holding
// chains without rules, in the kernel's order. A table made by
// iptables-nft (by its layout) has Backend BackendIptablesNft: the caller
// can read it with iptables-nft-save instead of listing its rules with
// nft. Tables without chains are left out: nothing in them sees packets.
func ListChains(ctx context.Context, netnsPath string) ([]*firewall.Table, error) {
	if _, err := exec.LookPath("nft"); err != nil {
		return nil, errors.New("cannot read the nftables ruleset: nft is not installed (not found in PATH)")
	}
	out, err := netns.Output(ctx, netnsPath, nil, "nft", "-j", "list", "chains")
	if err != nil {
		return nil, fmt.Errorf("listing the nftables chains: %w", err)
	}
	return ParseChains(out)
}

// ParseChains translates `nft -j list chains` output.
func ParseChains(jsonOut []byte) ([]*firewall.Table, error) {
	objs, err := decodeRuleset(jsonOut)
	if err != nil {
		return nil, err
	}
	p := &parser{tables: map[tableKey]*tableState{}}
	for _, o := range objs {
		if o.kind != "chain" {
			continue
		}
		var j struct{ Family, Table string }
		if err := decode(o.raw, &j); err != nil {
			return nil, fmt.Errorf("nft JSON: chain: %w", err)
		}
		if p.tables[tableKey{j.Family, j.Table}] == nil {
			raw, _ := json.Marshal(map[string]string{"family": j.Family, "name": j.Table})
			if err := p.addTable(raw); err != nil {
				return nil, err
			}
		}
		if err := p.addChain(o.raw); err != nil {
			return nil, err
		}
	}
	out := make([]*firewall.Table, 0, len(p.order))
	for _, t := range p.order {
		if iptablesLayout(t.table) {
			t.table.Backend = firewall.BackendIptablesNft
		}
		out = append(out, t.table)
	}
	return out, nil
}

// CountChains is the number of chains of tables.
func CountChains(tables []*firewall.Table) int {
	n := 0
	for _, t := range tables {
		n += len(t.Chains)
	}
	return n
}

// ReadTables lists the named tables' rules (`nft -j list table`, with the
// text listing when withText) and translates them, in the order given.
func ReadTables(ctx context.Context, netnsPath string, ids []TableID, withText bool) ([]*firewall.Table, error) {
	type result struct {
		tables []*firewall.Table
		err    error
	}
	results := make([]result, len(ids))
	// Two at a time: the listings are mostly kernel time, and the machine
	// may have two cores.
	sem := make(chan struct{}, 2)
	var wg sync.WaitGroup
	for i, id := range ids {
		wg.Go(func() {
			sem <- struct{}{}
			defer func() { <-sem }()
			ts, err := listAndParse(ctx, netnsPath, withText, "table", id.Family, id.Name)
			results[i] = result{ts, err}
		})
	}
	wg.Wait()
	var out []*firewall.Table
	for i, r := range results {
		if r.err != nil {
			return nil, fmt.Errorf("table %s: %w", ids[i], r.err)
		}
		out = append(out, r.tables...)
	}
	return out, nil
}

// listAndParse runs `nft -j -p list WHAT…` (and the text listing at the
// same time when withText) and translates the result. -p keeps nft from
// looking protocol numbers up in /etc/protocols, once per rule.
func listAndParse(ctx context.Context, netnsPath string, withText bool, what ...string) ([]*firewall.Table, error) {
	var text []byte
	var textErr error
	done := make(chan struct{})
	go func() {
		defer close(done)
		if withText {
			text, textErr = netns.Output(ctx, netnsPath, nil, "nft", append([]string{"-a", "-s", "list"}, what...)...)
		}
	}()
	jsonOut, err := netns.Output(ctx, netnsPath, nil, "nft", append([]string{"-j", "-p", "list"}, what...)...)
	<-done
	if err == nil {
		err = textErr
	}
	if err != nil {
		return nil, err
	}
	return Parse(jsonOut, text)
}

// Package netfilter is the L2 provider: it reads every packet filter that
// can see a packet on a host — nftables tables (native and iptables-nft's),
// iptables-legacy tables, firewalld's runtime and permanent state, Docker's
// published ports — plus the routes evaluation needs, into one Snapshot.
// The kernel does not care which tool wrote a rule, so neither does the
// verdict: all tables are walked together by hook and priority.
package netfilter

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"slices"
	"sync"

	"github.com/portcheck/portcheck/internal/netns"
	"github.com/portcheck/portcheck/providers"
	"github.com/portcheck/portcheck/providers/firewall"
	"github.com/portcheck/portcheck/providers/firewall/docker"
	"github.com/portcheck/portcheck/providers/firewall/firewalld"
	"github.com/portcheck/portcheck/providers/firewall/ipset"
	"github.com/portcheck/portcheck/providers/firewall/iptables"
	"github.com/portcheck/portcheck/providers/firewall/nftables"
)

// Manager names the tool that manages a host's rules, as fix hints use it
// (the model's names).
const (
	ManagerFirewalld      = firewall.ManagerFirewalld
	ManagerNftables       = firewall.ManagerNftables
	ManagerIptablesNft    = firewall.ManagerIptablesNft
	ManagerIptablesLegacy = firewall.ManagerIptablesLegacy
	ManagerNone           = firewall.ManagerNone
)

// Snapshot is a host's packet filter as read at one moment. It is plain
// data: it can be saved as JSON (the firewall part of a facts document)
// and evaluated later or elsewhere. It is the firewall.View the runner
// judges.
type Snapshot struct {
	// Manager is the tool that manages the rules: firewalld when it runs
	// for this namespace, else the backend owning the base chains.
	Manager   string             `json:"manager"`
	Ruleset   firewall.Ruleset   `json:"ruleset"`
	Host      *firewall.Host     `json:"host"`
	Firewalld *firewalld.State   `json:"firewalld,omitempty"`
	Docker    []docker.Published `json:"docker_published,omitempty"`
	// Notes say what could not be read and why (a missing tool, an
	// unreadable table); evaluation of what was read still holds.
	Notes []string `json:"notes,omitempty"`

	once sync.Once
	eval *firewall.Evaluator
}

// Read takes a snapshot of the namespace at netnsPath ("" = this one). It
// only reads: list commands and D-Bus getters.
//
// nftables are read per table, and only once: `nft -j list chains` names
// the tables and their base chains cheaply; the tables iptables-nft made
// are read with iptables-nft-save (which shows the iptables extensions
// nft's JSON cannot), the others with `nft -j list table`, both at once.
// Listing an iptables-nft table with nft as well would cost seconds on a
// kube-proxy node for nothing.
func Read(ctx context.Context, netnsPath string) (*Snapshot, error) {
	s := &Snapshot{}
	// The sources are independent: read them at once.
	var (
		wg                sync.WaitGroup
		host              *firewall.Host
		hostErr           error
		nft, legacy       []*firewall.Table
		nftErr, legacyErr error
		fw                *firewalld.State
		fwErr             error
		hasLegacy         = iptables.Available(firewall.BackendIptablesLegacy) == nil
		nftNotes          = &Snapshot{} // notes of the nft reader, kept apart while it runs
	)
	wg.Go(func() { host, hostErr = firewall.ReadHost(netnsPath) })
	wg.Go(func() { nft, nftErr = nftNotes.readNftables(ctx, netnsPath) })
	if hasLegacy {
		wg.Go(func() { legacy, legacyErr = iptables.Read(ctx, netnsPath, firewall.BackendIptablesLegacy) })
	}
	wg.Go(func() { fw, fwErr = firewalld.Read(ctx, netnsPath) })
	wg.Wait()
	if hostErr != nil {
		return nil, fmt.Errorf("reading interfaces and routes: %w", hostErr)
	}
	if nftErr != nil && !hasLegacy {
		// Nothing of the packet filter could be read: an empty ruleset
		// would judge every packet accepted, a silent pass.
		return nil, fmt.Errorf("no packet filter could be read: nftables: %v; iptables-legacy is not installed either", nftErr)
	}
	s.Host = host
	s.Notes = append(s.Notes, nftNotes.Notes...)
	if nftErr != nil {
		s.note("nftables: %v", nftErr)
	}
	s.Ruleset.Tables = append(s.Ruleset.Tables, nft...)
	if legacyErr != nil {
		s.note("iptables-legacy: %v", legacyErr)
	}
	s.Ruleset.Tables = append(s.Ruleset.Tables, legacy...)
	switch {
	case fwErr == nil:
		s.Firewalld = fw
	case errors.Is(fwErr, firewalld.ErrNotRunning):
	default:
		s.note("firewalld: %v", fwErr)
	}
	if usesIPSets(&s.Ruleset) {
		sets, err := ipset.Read(ctx, netnsPath)
		if err != nil {
			s.note("ipset: %v; rules with -m set that a packet reaches cannot be decided", err)
		}
		s.Ruleset.IPSets = sets
	}
	s.Docker = docker.PublishedPorts(&s.Ruleset)
	s.Manager = s.manager()
	return s, nil
}

// usesIPSets reports whether a rule looks an ipset up (-m set): only then
// are the sets read (the kernel has them loaded).
func usesIPSets(rs *firewall.Ruleset) bool {
	for _, t := range rs.Tables {
		for _, c := range t.Chains {
			for _, r := range c.Rules {
				for _, m := range r.Matches {
					if m.Field == firewall.FieldIPSet {
						return true
					}
				}
			}
		}
	}
	return false
}

// readNftables reads every nftables table, iptables-nft's with
// iptables-nft-save, in the kernel's order.
func (s *Snapshot) readNftables(ctx context.Context, netnsPath string) ([]*firewall.Table, error) {
	if _, err := exec.LookPath("nft"); err != nil {
		return nil, errors.New("nft is not installed, so nftables tables (and iptables-nft's) cannot be read")
	}
	skeleton, err := nftables.ListChains(ctx, netnsPath)
	if err != nil {
		return nil, err
	}
	withText := nftables.CountChains(skeleton) <= nftables.TextListingLimit
	var native []nftables.TableID
	saveFamilies := map[string]bool{}
	for _, t := range skeleton {
		if t.Backend == firewall.BackendIptablesNft {
			saveFamilies[t.Family] = true
		} else {
			native = append(native, nftables.TableID{Family: t.Family, Name: t.Name})
		}
	}
	saveErr := iptables.Available(firewall.BackendIptablesNft)
	if len(saveFamilies) > 0 && saveErr != nil {
		s.note("iptables-nft: %v; its tables are evaluated from nft's view, where iptables extensions are unsupported", saveErr)
	}
	if len(saveFamilies) == 0 || saveErr != nil {
		return nftables.ReadRuleset(ctx, netnsPath, withText)
	}
	var families []string
	for _, f := range []string{firewall.FamilyIP, firewall.FamilyIP6} {
		if saveFamilies[f] {
			families = append(families, f)
		}
	}
	var nativeTables []*firewall.Table
	var nativeErr error
	done := make(chan struct{})
	go func() {
		defer close(done)
		nativeTables, nativeErr = nftables.ReadTables(ctx, netnsPath, native, withText)
	}()
	saved, incompatible, saveErr := iptables.ReadSaved(ctx, netnsPath, families)
	<-done
	if nativeErr != nil {
		return nil, nativeErr
	}
	if saveErr != nil {
		s.note("iptables-nft: %v; its tables are evaluated from nft's view, where iptables extensions are unsupported", saveErr)
	}
	return s.assemble(ctx, netnsPath, skeleton, nativeTables, saved, incompatible, withText)
}

// assemble puts the tables read both ways in the kernel's order. A table
// iptables-nft made that its save tool could not show, or did not show,
// is read with nft after all; builtin chains the save tool prints but the
// kernel does not have (iptables-nft creates base chains on first use)
// are dropped.
func (s *Snapshot) assemble(ctx context.Context, netnsPath string, skeleton, native, saved []*firewall.Table, incompatible []string, withText bool) ([]*firewall.Table, error) {
	key := func(t *firewall.Table) string { return t.Family + " " + t.Name }
	byKey := map[string]*firewall.Table{}
	for _, t := range native {
		byKey[key(t)] = t
	}
	savedBy := map[string]*firewall.Table{}
	for _, t := range saved {
		savedBy[key(t)] = t
	}
	var late []nftables.TableID
	for _, t := range skeleton {
		k := key(t)
		if t.Backend != firewall.BackendIptablesNft {
			continue
		}
		st, ok := savedBy[k]
		switch {
		case slices.Contains(incompatible, k):
			s.note("iptables-nft: table %s holds rules iptables-nft-save cannot show; evaluated from nft's view", k)
		case !ok:
		case !sameChains(st, t):
			s.note("iptables-nft: iptables-nft-save shows table %s with other chains than nft does; evaluated from nft's view", k)
		default:
			byKey[k] = pruneBuiltins(st, t)
			continue
		}
		late = append(late, nftables.TableID{Family: t.Family, Name: t.Name})
	}
	if len(late) > 0 {
		more, err := nftables.ReadTables(ctx, netnsPath, late, withText)
		if err != nil {
			return nil, err
		}
		for _, t := range more {
			byKey[key(t)] = t
		}
	}
	out := make([]*firewall.Table, 0, len(skeleton))
	for _, t := range skeleton {
		if rt, ok := byKey[key(t)]; ok {
			out = append(out, rt)
		}
	}
	return out, nil
}

// sameChains checks that iptables-nft-save printed the table nft holds:
// every chain nft has, and no user chain nft does not. It guards against
// a hand-written table that merely looks like iptables'.
func sameChains(saved, nft *firewall.Table) bool {
	has := map[string]bool{}
	for _, c := range nft.Chains {
		has[c.Name] = true
	}
	names := map[string]bool{}
	for _, c := range saved.Chains {
		names[c.Name] = true
		if c.Hook == "" && !has[c.Name] {
			return false
		}
	}
	for _, c := range nft.Chains {
		if !names[c.Name] {
			return false
		}
	}
	return true
}

// pruneBuiltins drops the builtin chains iptables-nft-save prints although
// they do not exist in the kernel (iptables-nft creates base chains on
// first use); an absent base chain has no hook, whatever policy is printed.
func pruneBuiltins(saved, nft *firewall.Table) *firewall.Table {
	exists := map[string]bool{}
	for _, c := range nft.Chains {
		exists[c.Name] = true
	}
	t := *saved
	t.Chains = nil
	for _, c := range saved.Chains {
		if c.Hook == "" || exists[c.Name] {
			t.Chains = append(t.Chains, c)
		}
	}
	return &t
}

func (s *Snapshot) note(format string, args ...any) {
	s.Notes = append(s.Notes, fmt.Sprintf(format, args...))
}

// manager names the tool in charge: firewalld when it runs; else the
// backend of the tables that hold base chains (nftables before iptables,
// since native nft tables are where hand-written rules go today).
func (s *Snapshot) manager() string {
	if s.Firewalld != nil {
		return ManagerFirewalld
	}
	has := map[string]bool{}
	for _, t := range s.Ruleset.Tables {
		for _, c := range t.Chains {
			if c.Hook != "" && (len(c.Rules) > 0 || c.Policy == firewall.Drop) {
				has[t.Backend] = true
			}
		}
	}
	for _, m := range []string{firewall.BackendNftables, firewall.BackendIptablesNft, firewall.BackendIptablesLegacy} {
		if has[m] {
			return m
		}
	}
	return ManagerNone
}

// Evaluator compiles the snapshot once.
func (s *Snapshot) Evaluator() *firewall.Evaluator {
	s.once.Do(func() { s.eval = firewall.NewEvaluator(&s.Ruleset, s.Host) })
	return s.eval
}

type provider struct{}

func init() { providers.Register(provider{}) }

func (provider) Name() string           { return "netfilter" }
func (provider) Layer() providers.Layer { return providers.LayerFirewall }

func (provider) Available(e providers.Exec) error {
	if err := netns.Check(e.Netns); err != nil {
		return err
	}
	if os.Geteuid() != 0 {
		return errors.New("reading nftables and iptables rulesets needs root (CAP_NET_ADMIN)")
	}
	return nil
}

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
	"sync"

	"github.com/portcheck/portcheck/internal/netns"
	"github.com/portcheck/portcheck/providers"
	"github.com/portcheck/portcheck/providers/firewall"
	"github.com/portcheck/portcheck/providers/firewall/docker"
	"github.com/portcheck/portcheck/providers/firewall/firewalld"
	"github.com/portcheck/portcheck/providers/firewall/iptables"
	"github.com/portcheck/portcheck/providers/firewall/nftables"
)

// Manager names the tool that manages a host's rules, as fix hints use it.
const (
	ManagerFirewalld      = "firewalld"
	ManagerNftables       = "nftables"
	ManagerIptablesNft    = "iptables-nft"
	ManagerIptablesLegacy = "iptables-legacy"
	ManagerNone           = "none"
)

// Snapshot is a host's packet filter as read at one moment. It is plain
// data: it can be saved as JSON and evaluated later or elsewhere.
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
func Read(ctx context.Context, netnsPath string) (*Snapshot, error) {
	s := &Snapshot{}
	host, err := firewall.ReadHost(netnsPath)
	if err != nil {
		return nil, fmt.Errorf("reading interfaces and routes: %w", err)
	}
	s.Host = host

	nft, err := readNft(ctx, netnsPath)
	if err != nil {
		s.note("nftables: %v", err)
	}
	s.Ruleset.Tables = append(s.Ruleset.Tables, s.iptablesNftTables(ctx, netnsPath, nft)...)
	if iptables.Available(firewall.BackendIptablesLegacy) == nil {
		legacy, err := iptables.Read(ctx, netnsPath, firewall.BackendIptablesLegacy)
		if err != nil {
			s.note("iptables-legacy: %v", err)
		}
		s.Ruleset.Tables = append(s.Ruleset.Tables, legacy...)
	}

	fw, err := firewalld.Read(ctx, netnsPath)
	switch {
	case err == nil:
		s.Firewalld = fw
	case errors.Is(err, firewalld.ErrNotRunning):
	default:
		s.note("firewalld: %v", err)
	}
	s.Docker = docker.PublishedPorts(&s.Ruleset)
	s.Manager = s.manager()
	return s, nil
}

func readNft(ctx context.Context, netnsPath string) ([]*firewall.Table, error) {
	if _, err := exec.LookPath("nft"); err != nil {
		return nil, errors.New("nft is not installed, so nftables tables (and iptables-nft's) cannot be read")
	}
	return nftables.Read(ctx, netnsPath)
}

// iptablesNftTables keeps nft's native tables and replaces the ones
// iptables-nft made with iptables-nft-save's reading of them: nft's JSON
// cannot show the iptables extensions (multiport, conntrack, addrtype …)
// those rules use.
func (s *Snapshot) iptablesNftTables(ctx context.Context, netnsPath string, nft []*firewall.Table) []*firewall.Table {
	need := false
	for _, t := range nft {
		need = need || t.Backend == firewall.BackendIptablesNft
	}
	if !need {
		return nft
	}
	var saved []*firewall.Table
	if err := iptables.Available(firewall.BackendIptablesNft); err != nil {
		s.note("iptables-nft: %v; its tables are evaluated from nft's view, where iptables extensions are unsupported", err)
		return nft
	}
	saved, err := iptables.Read(ctx, netnsPath, firewall.BackendIptablesNft)
	if err != nil {
		s.note("iptables-nft: %v; its tables are evaluated from nft's view, where iptables extensions are unsupported", err)
		return nft
	}
	byKey := map[string]*firewall.Table{}
	for _, t := range saved {
		byKey[t.Family+" "+t.Name] = t
	}
	out := make([]*firewall.Table, 0, len(nft))
	for _, t := range nft {
		if t.Backend == firewall.BackendIptablesNft {
			st, ok := byKey[t.Family+" "+t.Name]
			switch {
			case !ok:
			case !sameShape(st, t):
				s.note("iptables-nft: iptables-nft-save shows table %s %s with other chains or rule counts than nft does; evaluated from nft's view", t.Family, t.Name)
			default:
				out = append(out, pruneBuiltins(st, t))
				continue
			}
		}
		out = append(out, t)
	}
	return out
}

// sameShape checks that iptables-nft-save printed the table nft holds:
// every nft chain with as many rules. It guards against a hand-written
// table that merely looks like iptables', which the save tool may show
// wider than it is.
func sameShape(saved, nft *firewall.Table) bool {
	rules := map[string]int{}
	for _, c := range saved.Chains {
		rules[c.Name] = len(c.Rules)
	}
	for _, c := range nft.Chains {
		if n, ok := rules[c.Name]; !ok || n != len(c.Rules) {
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

// Params of an observation: the packets to judge.
type Params struct {
	Packets []firewall.Packet
}

// Facts are a snapshot's verdicts for the requested packets.
type Facts struct {
	Manager   string              `json:"manager"`
	Decisions []firewall.Decision `json:"decisions"`
	Notes     []string            `json:"notes,omitempty"`
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

// Observe reads the host's filter and judges the requested packets.
func (provider) Observe(ctx context.Context, req providers.Request) (any, error) {
	p, _ := req.Params.(Params)
	s, err := Read(ctx, req.Exec.Netns)
	if err != nil {
		return nil, err
	}
	f := &Facts{Manager: s.Manager, Notes: s.Notes}
	ev := s.Evaluator()
	for _, pkt := range p.Packets {
		f.Decisions = append(f.Decisions, ev.Evaluate(pkt))
	}
	return f, nil
}

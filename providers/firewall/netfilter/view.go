package netfilter

import (
	"context"
	"fmt"
	"net/netip"

	"github.com/portcheck/portcheck/providers/firewall"
	"github.com/portcheck/portcheck/providers/firewall/docker"
)

// A Snapshot is what the runner judges a host's filter by.
var _ firewall.View = (*Snapshot)(nil)

func init() { firewall.RegisterReader("netfilter", readView, advice{}) }

// readView is Read as the firewall package's reader: the one place a live
// read becomes a firewall.View.
func readView(ctx context.Context, netnsPath string) (firewall.View, error) {
	s, err := Read(ctx, netnsPath)
	if err != nil {
		return nil, err // not a typed nil in the interface
	}
	return s, nil
}

// ManagedBy is the tool that manages the rules (Manager).
func (s *Snapshot) ManagedBy() string { return s.Manager }

// ReadNotes are the snapshot's Notes.
func (s *Snapshot) ReadNotes() []string { return s.Notes }

// ManagedPort is firewalld's view of the port for the packet of d from
// src: the zone it falls in, what opens the port there now and after a
// reload, and the zone's drift. nil when firewalld does not run.
func (s *Snapshot) ManagedPort(d firewall.Decision, proto string, port int, src netip.Addr) *firewall.ManagedPort {
	st := s.Firewalld
	if st == nil {
		return nil
	}
	zone := st.ZoneFor(d.IIF, src)
	mp := &firewall.ManagedPort{Tool: ManagerFirewalld, Zone: zone}
	if how, ok := st.Opens(zone, proto, port, src); ok {
		mp.Runtime = how
	}
	if how, ok := st.OpensPermanent(zone, proto, port, src); ok {
		mp.Permanent = how
	}
	for _, dr := range st.Drift {
		if dr.Zone == zone {
			mp.Drift = append(mp.Drift, dr)
		}
	}
	return mp
}

// PublishedFor is the Docker published port d's DNAT came from.
func (s *Snapshot) PublishedFor(d firewall.Decision) (firewall.Published, bool) {
	return docker.For(s.Docker, d)
}

// NarrowFix: firewalld opens a port to every source of a zone with
// --add-port; admitting only some takes a rich rule instead.
func (s *Snapshot) NarrowFix(d firewall.Decision, sel Selector, netnsPath string) (Fix, bool) {
	if s.Manager != ManagerFirewalld || s.Firewalld == nil || d.Rule == nil || d.Rule.Table != "firewalld" {
		return Fix{}, false
	}
	zone := s.Firewalld.ZoneFor(d.IIF, sourceOf(sel))
	return Fix{Command: CommandIn(netnsPath, fmt.Sprintf("firewall-cmd --permanent --zone=%s --remove-port=%d/%s", zone, sel.Port, sel.Proto)),
		Note: fmt.Sprintf("zone %s opens the port to %s: restrict it with a rich rule for the allowed sources instead of --add-port", zone, sel.Sources)}, true
}

// PersistFix adds a port firewalld opens only at runtime to the permanent
// configuration of its zone.
func (s *Snapshot) PersistFix(mp *firewall.ManagedPort, sel Selector, netnsPath string) (Fix, bool) {
	if s.Firewalld == nil || mp == nil || mp.Zone == "" {
		return Fix{}, false
	}
	return Fix{Command: CommandIn(netnsPath, fmt.Sprintf("firewall-cmd --permanent --zone=%s --add-port=%d/%s", mp.Zone, sel.Port, sel.Proto)),
		Note: "or " + CommandIn(netnsPath, "firewall-cmd --runtime-to-permanent")}, true
}

// ApplyFix reloads firewalld, which makes its permanent configuration the
// running one.
func (s *Snapshot) ApplyFix(netnsPath string) (Fix, bool) {
	if s.Firewalld == nil {
		return Fix{}, false
	}
	return Fix{Command: CommandIn(netnsPath, "firewall-cmd --reload")}, true
}

// ShowCommand lists the chain that holds ref as its tool numbers the
// rules: nft with handles, iptables with line numbers.
func (s *Snapshot) ShowCommand(ref *firewall.RuleRef, netnsPath string) string {
	if ref == nil {
		return CommandIn(netnsPath, "nft -a list ruleset") + "; " + CommandIn(netnsPath, "iptables-save")
	}
	switch ref.Backend {
	case firewall.BackendIptablesNft, firewall.BackendIptablesLegacy:
		return CommandIn(netnsPath, fmt.Sprintf("%s -t %s -L %s -nv --line-numbers", iptablesCmd(ref), ref.Table, ref.Chain))
	}
	return CommandIn(netnsPath, fmt.Sprintf("nft -a list chain %s %s %s", ref.Family, ref.Table, ref.Chain))
}

// advice names the commands of the tools a Linux host may manage its
// filter with, for a host whose filter was not read: firewalld's and
// nft's (whose table and chain are the reader's to find in the listing).
type advice struct{}

func (advice) OpenCommand(proto string, port int) string {
	return fmt.Sprintf("firewall-cmd --add-port=%d/%s --permanent && firewall-cmd --reload; or nft insert rule FAMILY TABLE CHAIN %s dport %d accept in the input chain that `nft list ruleset` shows",
		port, proto, proto, port)
}

func (advice) CloseCommand(proto string, port int) string {
	return fmt.Sprintf("nft insert rule FAMILY TABLE CHAIN %s dport %d drop in the input chain that `nft list ruleset` shows (or firewall-cmd --remove-port=%d/%s --permanent && firewall-cmd --reload)",
		proto, port, port, proto)
}

func (advice) ZoneOpenCommand(proto string, port int) string {
	return fmt.Sprintf("firewall-cmd --add-port=%d/%s --permanent && firewall-cmd --reload", port, proto)
}

func (advice) ListCommands() string { return "nft list ruleset; iptables -S; firewall-cmd --list-all" }

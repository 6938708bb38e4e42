package cloud

import (
	"cmp"
	"fmt"
	"slices"
	"strconv"
	"strings"
)

// Finding is an audit finding about a security group.
type Finding struct {
	Kind     string // "open_to_world" | "unattached" | "deleted_group_reference"
	Provider string
	Account  string
	Region   string
	Group    string
	RuleID   string
	Protocol string
	Ports    PortRange
	Peer     string
	Detail   string
}

// Finding kinds.
const (
	FindingOpenToWorld           = "open_to_world"
	FindingUnattached            = "unattached"
	FindingDeletedGroupReference = "deleted_group_reference"
)

// DefaultSensitivePorts are ports that should not be reachable from the
// whole Internet: SSH, RDP, MySQL, PostgreSQL, Redis, Elasticsearch,
// MongoDB, SQL Server, Memcached, Docker API, Kibana, Cassandra — and,
// added here, Telnet (23), SMB (445), VNC (5900), etcd (2379) and the
// Kubernetes API server (6443).
var DefaultSensitivePorts = []int{22, 3389, 3306, 5432, 6379, 9200, 27017, 1433, 11211, 2375, 5601, 9042,
	23, 445, 5900, 2379, 6443}

// Findings audits every group of the snapshot:
//
//   - open_to_world: an ingress accept rule whose peer is 0.0.0.0/0 or ::/0
//     (or a prefix list containing one of them) and whose protocol and
//     ports cover a sensitive port (tcp or udp; protocol all covers every
//     port). On Alibaba a higher-priority drop rule could shadow it; that
//     is not analysed — any such accept rule is reported.
//   - unattached: a group that no interface uses (no Attachments, and no
//     interface of the snapshot lists it).
//   - deleted_group_reference: a rule whose peer group is in
//     s.MissingGroups.
//
// Results are sorted by group, kind, rule id, protocol, ports and peer.
func Findings(s *Snapshot, sensitive []int) []Finding {
	if s == nil {
		return nil
	}
	used := map[string]bool{}
	for i := range s.Interfaces {
		for _, g := range s.Interfaces[i].Groups {
			used[g] = true
		}
	}
	missing := map[string]bool{}
	for _, g := range s.MissingGroups {
		missing[g] = true
	}
	sens := slices.Clone(sensitive)
	slices.Sort(sens)
	sens = slices.Compact(sens)

	var out []Finding
	for _, g := range s.Groups {
		if g == nil {
			continue
		}
		base := Finding{Provider: cmp.Or(g.Provider, s.Provider), Account: cmp.Or(g.Account, s.Account),
			Region: cmp.Or(g.Region, s.Region), Group: g.ID}
		if len(g.Attachments) == 0 && !used[g.ID] {
			f := base
			f.Kind = FindingUnattached
			f.Detail = fmt.Sprintf("security group %s is not attached to any network interface", g.ID)
			out = append(out, f)
		}
		for i := range g.Rules {
			r := &g.Rules[i]
			f := base
			f.RuleID, f.Protocol, f.Ports, f.Peer = r.ID, normProto(r.Protocol), r.Ports, peerText(r.Peer)
			if r.Peer.Group != "" && missing[r.Peer.Group] {
				f.Kind = FindingDeletedGroupReference
				f.Detail = fmt.Sprintf("%s rule %s references security group %s, which no longer exists", r.Direction, ruleText(r), r.Peer.Group)
				out = append(out, f)
			}
			if r.Direction != Ingress || policyOf(r.Policy) != Accept {
				continue
			}
			world := worldPeer(s, r.Peer)
			if world == "" {
				continue
			}
			ports := coveredPorts(r, sens)
			if len(ports) == 0 {
				continue
			}
			f.Kind = FindingOpenToWorld
			f.Detail = fmt.Sprintf("%s is open to %s on sensitive port(s) %s", ruleText(r), world, joinInts(ports))
			out = append(out, f)
		}
	}
	slices.SortFunc(out, func(a, b Finding) int {
		return cmp.Or(
			cmp.Compare(a.Provider, b.Provider),
			cmp.Compare(a.Account, b.Account),
			cmp.Compare(a.Region, b.Region),
			cmp.Compare(a.Group, b.Group),
			cmp.Compare(a.Kind, b.Kind),
			cmp.Compare(a.RuleID, b.RuleID),
			cmp.Compare(a.Protocol, b.Protocol),
			cmp.Compare(a.Ports.From, b.Ports.From),
			cmp.Compare(a.Ports.To, b.Ports.To),
			cmp.Compare(a.Peer, b.Peer),
		)
	})
	return out
}

// worldPeer is "0.0.0.0/0", "::/0" or "pl-… (contains 0.0.0.0/0)" when the
// peer is the whole Internet, "" otherwise.
func worldPeer(s *Snapshot, p Peer) string {
	switch {
	case p.CIDR.IsValid():
		if p.CIDR.Bits() == 0 {
			return p.CIDR.String()
		}
	case p.PrefixList != "":
		if pl := s.PrefixLists[p.PrefixList]; pl != nil {
			for _, c := range pl.CIDRs {
				if c.IsValid() && c.Bits() == 0 {
					return fmt.Sprintf("%s (prefix list %s contains it)", c, p.PrefixList)
				}
			}
		}
	}
	return ""
}

// coveredPorts are the sensitive ports the rule covers.
func coveredPorts(r *Rule, sens []int) []int {
	var out []int
	switch p := normProto(r.Protocol); {
	case p == ProtoAll:
		return sens
	case isPortProto(p):
		for _, port := range sens {
			if inRange(r.Ports, port) {
				out = append(out, port)
			}
		}
	}
	return out
}

func joinInts(v []int) string {
	s := make([]string, len(v))
	for i, n := range v {
		s[i] = strconv.Itoa(n)
	}
	return strings.Join(s, ", ")
}

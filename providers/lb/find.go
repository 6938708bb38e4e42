package lb

import (
	"fmt"
	"net"
	"net/netip"
	"slices"
	"strconv"
	"strings"
)

// Target is the backend a checklist step asks about: the new port's
// backend that must be registered and healthy, or the old port's that
// must be gone.
type Target struct {
	// IDs are the names balancers may know the backend by — IP addresses,
	// instance or server ids, host names — any of which may match a
	// member's ID or Address. IP addresses match in any spelling
	// (::ffff:10.0.0.5 is 10.0.0.5); other ids match case-insensitively.
	IDs  []string
	Port int
}

func (t Target) String() string {
	return strings.Join(t.IDs, "|") + ":" + strconv.Itoa(t.Port)
}

// Verdict sums up where a target is.
type Verdict string

// Verdicts of Find, from the pools asked about (every pool of the facts
// when none is named).
const (
	// VerdictHealthy: in every pool asked about, healthy in each.
	VerdictHealthy Verdict = "healthy"
	// VerdictRegistered: a backend, but not healthy in every pool asked
	// about: failing or not yet passing health checks, health not
	// reported, or missing from one of the pools (Presence says which).
	VerdictRegistered Verdict = "registered"
	// VerdictUnused: registered, but every membership that is not
	// draining takes no traffic (unused, disabled).
	VerdictUnused Verdict = "unused"
	// VerdictDraining: its only memberships are being deregistered.
	VerdictDraining Verdict = "draining"
	// VerdictAbsent: not a backend of any pool asked about.
	VerdictAbsent Verdict = "absent"
)

// Membership is one pool that has the target.
type Membership struct {
	Pool     string `json:"pool"`
	PoolName string `json:"pool_name,omitempty"`
	Member   Member `json:"member"`
}

// Presence is Find's answer with its evidence.
type Presence struct {
	Target  string       `json:"target"`
	Verdict Verdict      `json:"verdict"`
	In      []Membership `json:"in"`
	// PortUnknown are members with the target's address but no port in
	// the configuration (HAProxy forwards to the client's port): they may
	// be the target, so an absent verdict with them is not certain.
	PortUnknown []Membership `json:"port_unknown,omitempty"`
	// NotIn are pools asked about that exist but do not have the target.
	NotIn []string `json:"not_in,omitempty"`
	// MissingPools are pools asked about that the facts do not hold.
	MissingPools []string `json:"missing_pools,omitempty"`
	// Unresolved is the facts' unresolved directives: a configuration
	// file whose includes were not followed may list the target there.
	Unresolved []Unresolved `json:"unresolved,omitempty"`
	// Evidence is one sentence per membership and per gap.
	Evidence []string `json:"evidence"`
}

// Healthy reports whether the target is registered and healthy in every
// pool asked about, with nothing left unknown.
func (p Presence) Healthy() bool {
	return p.Verdict == VerdictHealthy && len(p.NotIn) == 0 && len(p.MissingPools) == 0
}

// Deregistered reports whether the target is certainly no backend of the
// pools asked about: absent (or, with allowDraining, only draining), no
// member that might be it for lack of a port, every pool asked about
// read, and no configuration left unresolved.
func (p Presence) Deregistered(allowDraining bool) bool {
	ok := p.Verdict == VerdictAbsent || (allowDraining && p.Verdict == VerdictDraining)
	return ok && len(p.PortUnknown) == 0 && len(p.MissingPools) == 0 && len(p.Unresolved) == 0
}

// Find says where target is among the pools of f named by pools (ids or
// names; every pool when none is given) and in what state.
func Find(f *Facts, target Target, pools ...string) Presence {
	p := Presence{Target: target.String(), In: []Membership{}, Evidence: []string{}}
	ids := normalizeIDs(target.IDs)
	var scope []*Pool
	if len(pools) == 0 {
		for i := range f.Pools {
			scope = append(scope, &f.Pools[i])
		}
	} else {
		for _, name := range pools {
			pool := f.PoolByName(name)
			if pool == nil {
				p.MissingPools = append(p.MissingPools, name)
				p.Evidence = append(p.Evidence, fmt.Sprintf("%s %q was not read", poolNoun(""), name))
				continue
			}
			if !slices.Contains(scope, pool) {
				scope = append(scope, pool)
			}
		}
	}
	for _, pool := range scope {
		found := false
		for _, m := range pool.Members {
			if !memberIs(m, ids) {
				continue
			}
			ms := Membership{Pool: pool.ID, PoolName: pool.Name, Member: m}
			switch {
			case m.Port == target.Port:
				found = true
				p.In = append(p.In, ms)
				p.Evidence = append(p.Evidence, describe(pool, m, target))
			case m.Port == 0:
				p.PortUnknown = append(p.PortUnknown, ms)
				p.Evidence = append(p.Evidence, fmt.Sprintf("%s has %s without a port%s: it forwards to the port the client connected to, which may be %d",
					poolRef(pool), m.ID, lineRef(m.Line), target.Port))
			}
		}
		if !found && len(pools) > 0 {
			p.NotIn = append(p.NotIn, poolRef(pool))
		}
	}
	p.Verdict = verdict(p.In, len(p.NotIn) > 0)
	if p.Verdict == VerdictAbsent {
		p.Evidence = append(p.Evidence, fmt.Sprintf("%s is no backend of %s", p.Target, scopeRef(scope, len(pools) == 0)))
		// An absence that rests on an assumption of the read says so.
		p.Evidence = append(p.Evidence, f.Notes...)
	} else {
		for _, n := range p.NotIn {
			p.Evidence = append(p.Evidence, fmt.Sprintf("%s is not in %s", p.Target, n))
		}
	}
	if len(f.Unresolved) > 0 {
		p.Unresolved = slices.Clone(f.Unresolved)
		for _, u := range f.Unresolved {
			p.Evidence = append(p.Evidence, fmt.Sprintf("line %d %q was not followed (%s): backends there are not known", u.Line, u.Text, u.Why))
		}
	}
	return p
}

func verdict(in []Membership, missingSomewhere bool) Verdict {
	if len(in) == 0 {
		return VerdictAbsent
	}
	var live []State
	for _, m := range in {
		if m.Member.State != StateDraining {
			live = append(live, m.Member.State)
		}
	}
	switch {
	case len(live) == 0:
		return VerdictDraining
	case !slices.ContainsFunc(live, func(s State) bool { return s != StateUnused && s != StateDisabled }):
		return VerdictUnused
	case !missingSomewhere && len(live) == len(in) && !slices.ContainsFunc(live, func(s State) bool { return s != StateHealthy }):
		return VerdictHealthy
	}
	return VerdictRegistered
}

func describe(pool *Pool, m Member, t Target) string {
	s := fmt.Sprintf("%s has %s%s: %s", poolRef(pool), memberRef(m, t.Port), lineRef(m.Line), m.State)
	var why []string
	for _, w := range []string{m.Reason, m.Description} {
		if w != "" {
			why = append(why, w)
		}
	}
	if len(why) > 0 {
		s += " (" + strings.Join(why, ": ") + ")"
	}
	if len(m.Flags) > 0 {
		s += " [" + strings.Join(m.Flags, " ") + "]"
	}
	if !pool.HealthReported && m.State == StateRegistered {
		s += "; the balancer's health is not part of these facts"
	}
	return s
}

// memberRef names a member at port: "web1 (10.0.1.5:9090)", or the
// address alone when that is the member's id.
func memberRef(m Member, port int) string {
	if m.Address == "" {
		return m.ID + ":" + strconv.Itoa(port)
	}
	addr := net.JoinHostPort(m.Address, strconv.Itoa(port))
	if m.ID == "" || m.ID == m.Address || m.ID == addr {
		return addr
	}
	return m.ID + " (" + addr + ")"
}

func lineRef(line int) string {
	if line == 0 {
		return ""
	}
	return " (line " + strconv.Itoa(line) + ")"
}

func poolNoun(t PoolType) string {
	switch t {
	case PoolTargetGroup:
		return "target group"
	case PoolVServerGroup:
		return "VServer group"
	case PoolLoadBalancer:
		return "load balancer"
	case PoolServerGroup:
		return "server group"
	case PoolBackend:
		return "backend"
	case PoolListen:
		return "listen section"
	case PoolUpstream:
		return "upstream"
	}
	return "pool"
}

func poolRef(p *Pool) string {
	s := poolNoun(p.Type) + " " + p.ID
	if p.Name != "" && p.Name != p.ID {
		s = poolNoun(p.Type) + " " + p.Name + " (" + p.ID + ")"
	}
	return s
}

func scopeRef(scope []*Pool, all bool) string {
	if len(scope) == 0 {
		return "any pool (none was read)"
	}
	if all && len(scope) > 1 {
		return fmt.Sprintf("the %d pools read", len(scope))
	}
	var refs []string
	for _, p := range scope {
		refs = append(refs, poolRef(p))
	}
	return strings.Join(refs, ", ")
}

// normalizeID spells an id the way memberIs compares it.
func normalizeID(s string) string {
	s = strings.TrimSpace(s)
	if a, err := netip.ParseAddr(strings.Trim(s, "[]")); err == nil {
		return a.Unmap().WithZone("").String()
	}
	return strings.ToLower(s)
}

func normalizeIDs(ids []string) []string {
	var out []string
	for _, id := range ids {
		if n := normalizeID(id); n != "" {
			out = append(out, n)
		}
	}
	return out
}

func memberIs(m Member, ids []string) bool {
	for _, s := range []string{m.ID, m.Address} {
		if s != "" && slices.Contains(ids, normalizeID(s)) {
			return true
		}
	}
	return false
}

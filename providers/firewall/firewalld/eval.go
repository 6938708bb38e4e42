package firewalld

import (
	"cmp"
	"maps"
	"net/netip"
	"slices"
	"strings"
)

// ZoneFor returns the runtime zone that handles a packet from src arriving
// on interface iif, as firewalld 1.x dispatches in its nftables ruleset:
// source bindings come first, in zone-name order (not by prefix length),
// then the interface's zone, then the default zone. MAC and ipset sources
// cannot be matched from an address and are skipped; an invalid src matches
// no source binding. An interface wildcard ("eth+") is taken only when no
// zone names iif exactly (firewalld itself goes by insertion order).
func (s *State) ZoneFor(iif string, src netip.Addr) string {
	names := slices.Sorted(maps.Keys(s.Runtime))
	if z := s.sourceZone(names, src); z != "" {
		return z
	}
	if z := s.interfaceZone(names, iif); z != "" {
		return z
	}
	return s.DefaultZone
}

func (s *State) sourceZone(names []string, src netip.Addr) string {
	if !src.IsValid() {
		return ""
	}
	for _, name := range names {
		for _, b := range s.Runtime[name].Sources {
			if p, ok := parsePrefix(b); ok && p.Contains(src.Unmap()) {
				return name
			}
		}
	}
	return ""
}

func (s *State) interfaceZone(names []string, iif string) string {
	if iif == "" {
		return ""
	}
	wildcard := ""
	for _, name := range names {
		for _, i := range s.Runtime[name].Interfaces {
			if i == iif {
				return name
			}
			if prefix, ok := strings.CutSuffix(i, "+"); ok && strings.HasPrefix(iif, prefix) && wildcard == "" {
				wildcard = name
			}
		}
	}
	return wildcard
}

// Opens reports whether runtime zone zone accepts new connections to
// proto/port from src, and through what: "port
// 8080/tcp", "service http", "rich rule …", "target ACCEPT",
// "forward-port …". When ok is false, how is "" if nothing in the zone opens
// the port (firewalld's final reject applies), or names what closes it
// ("target DROP", a reject/drop rich rule) or what might open it but could
// not be evaluated ("rich rule not evaluated: …", a service limited to a
// destination address). When ok is true, how may end in "; rich rule not
// evaluated: …" for a rule earlier in the chain that might block. An
// invalid src is an unknown source: rules that depend on it are then not
// evaluated.
func (s *State) Opens(zone, proto string, port int, src netip.Addr) (how string, ok bool) {
	return opens(s.Runtime, s.Services, zone, proto, port, src)
}

// OpensPermanent is Opens for the permanent configuration: what holds after
// the next reload.
func (s *State) OpensPermanent(zone, proto string, port int, src netip.Addr) (how string, ok bool) {
	return opens(s.Permanent, s.PermanentServices, zone, proto, port, src)
}

// tri is a match result that may need information a port check lacks
// (the packet's destination address or source port, ipset contents).
// Ordered so that min is "and" and max is "or".
type tri int

const (
	no tri = iota
	unknown
	yes
)

type evaluator struct {
	zone     *Zone
	services map[string]*Service
	proto    string
	port     int
	src      netip.Addr
	// The first unevaluated item that might open, and that might close.
	mayOpen, mayClose string
}

func opens(zones map[string]*Zone, services map[string]*Service, zone, proto string, port int, src netip.Addr) (string, bool) {
	z := zones[zone]
	if z == nil {
		return "no zone " + zone, false
	}
	e := &evaluator{zone: z, services: services, proto: proto, port: port, src: src}
	how, ok := e.verdict()
	note := e.mayOpen
	if ok {
		note = e.mayClose
	}
	switch {
	case note == "":
		return how, ok
	case how == "":
		return note, ok
	}
	return how + "; " + note, ok
}

// verdict walks the zone the way firewalld's INPUT path does: DNAT of
// forward ports first (the filter accepts DNATed packets before any zone
// rule), then the zone chain's pre (priority < 0), deny, allow and post
// (priority > 0) parts, then the zone target.
func (e *evaluator) verdict() (string, bool) {
	for _, f := range e.zone.ForwardPorts {
		if f.Protocol == e.proto && inPortRange(f.Port, e.port) {
			return "forward-port " + f.String(), true
		}
	}
	var pre, deny, allow, post []*richRule
	for _, text := range e.zone.RichRules {
		r, err := parseRichRule(text)
		if err != nil {
			e.note(&e.mayOpen, "rich rule not evaluated: "+text)
			continue
		}
		if r.element == "forward-port" {
			if how, ok := e.forwardRule(r); ok {
				return how, true
			}
			continue
		}
		switch {
		case r.action == "" || r.action == "mark":
			// log, audit or mark only: no verdict
		case r.priority < 0:
			pre = append(pre, r)
		case r.priority > 0:
			post = append(post, r)
		case r.action == "accept":
			allow = append(allow, r)
		default:
			deny = append(deny, r)
		}
	}
	byPriority := func(a, b *richRule) int { return cmp.Compare(a.priority, b.priority) }
	slices.SortStableFunc(pre, byPriority)
	slices.SortStableFunc(post, byPriority)

	if how, ok, done := e.rules(pre); done {
		return how, ok
	}
	if how, ok, done := e.rules(deny); done {
		return how, ok
	}
	if how, ok := e.allowed(); ok {
		return how, true
	}
	if how, ok, done := e.rules(allow); done {
		return how, ok
	}
	if how, ok, done := e.rules(post); done {
		return how, ok
	}
	switch e.zone.Target {
	case "ACCEPT":
		return "target ACCEPT", true
	case "DROP", "%%REJECT%%":
		return "target " + e.zone.Target, false
	}
	return "", false
}

// note keeps the first unevaluated item of its kind.
func (e *evaluator) note(slot *string, msg string) {
	if *slot == "" {
		*slot = msg
	}
}

// rules returns the verdict of the first rule that matches; done is false
// when none does.
func (e *evaluator) rules(rs []*richRule) (how string, ok, done bool) {
	for _, r := range rs {
		accept := r.action == "accept"
		switch e.match(r) {
		case yes:
			return "rich rule " + r.text, accept, true
		case unknown:
			if accept {
				e.note(&e.mayOpen, "rich rule not evaluated: "+r.text)
			} else {
				e.note(&e.mayClose, "rich rule not evaluated: "+r.text)
			}
		}
	}
	return "", false, false
}

// allowed checks the zone's own ports, services and protocols.
func (e *evaluator) allowed() (string, bool) {
	for _, p := range e.zone.Ports {
		if p.Protocol == e.proto && inPortRange(p.Port, e.port) {
			return "port " + p.String(), true
		}
	}
	for _, name := range e.zone.Services {
		switch e.service(name, map[string]bool{}) {
		case yes:
			return "service " + name, true
		case unknown:
			e.note(&e.mayOpen, e.serviceNote(name))
		}
	}
	if slices.Contains(e.zone.Protocols, e.proto) {
		return "protocol " + e.proto, true
	}
	return "", false
}

// forwardRule handles a rich rule forward-port: like a zone forward-port
// it DNATs ahead of the filter, but only for packets the rule matches.
func (e *evaluator) forwardRule(r *richRule) (string, bool) {
	switch e.match(r) {
	case yes:
		return "rich rule " + r.text, true
	case unknown:
		e.note(&e.mayOpen, "rich rule not evaluated: "+r.text)
	}
	return "", false
}

func (e *evaluator) match(r *richRule) tri {
	m := yes
	if r.family != "" {
		switch {
		case !e.src.IsValid():
			m = unknown
		case familyOf(e.src) != r.family:
			return no
		}
	}
	if r.source != nil {
		m = min(m, e.sourceMatch(r.source))
	}
	if r.dest != nil {
		m = min(m, unknown) // the packet's destination address is not known here
	}
	return min(m, e.elementMatch(r))
}

func (e *evaluator) sourceMatch(a *richAddr) tri {
	if a.kind != "address" || !e.src.IsValid() {
		return unknown // MAC and ipset contents are not known here
	}
	p, ok := parsePrefix(a.value)
	if !ok {
		return unknown
	}
	if p.Contains(e.src.Unmap()) != a.not {
		return yes
	}
	return no
}

func (e *evaluator) elementMatch(r *richRule) tri {
	switch r.element {
	case "":
		return yes
	case "port", "forward-port":
		if r.attrs["protocol"] == e.proto && inPortRange(r.attrs["port"], e.port) {
			return yes
		}
	case "protocol":
		if r.attrs["value"] == e.proto {
			return yes
		}
	case "service":
		return e.service(r.attrs["name"], map[string]bool{})
	case "source-port":
		if r.attrs["protocol"] == e.proto {
			return unknown
		}
	}
	return no // ICMP, masquerade, tcp-mss-clamp: not about a port
}

// service says whether a service (with its includes) covers the port.
func (e *evaluator) service(name string, seen map[string]bool) tri {
	svc := e.services[name]
	switch {
	case seen[name]:
		return no // an include cycle adds nothing
	case svc == nil:
		return unknown
	}
	seen[name] = true
	m := no
	if slices.Contains(svc.Protocols, e.proto) {
		m = yes
	}
	for _, p := range svc.Ports {
		if p.Protocol == e.proto && inPortRange(p.Port, e.port) {
			m = yes
		}
	}
	if m == yes && len(svc.Destination) > 0 {
		// Only to the service's destination address, and not at all in a
		// family it has none for.
		if _, ok := svc.Destination[familyOf(e.src)]; e.src.IsValid() && !ok {
			return no
		}
		return unknown
	}
	for _, inc := range svc.Includes {
		m = max(m, e.service(inc, seen))
	}
	return m
}

// serviceNote explains why a service could not be evaluated.
func (e *evaluator) serviceNote(name string) string {
	svc := e.services[name]
	if svc == nil {
		return "service " + name + " not evaluated: definition not read"
	}
	dests := slices.Sorted(maps.Values(svc.Destination))
	if len(dests) == 0 {
		return "service " + name + " not evaluated"
	}
	return "service " + name + " only opens it to " + strings.Join(dests, ", ")
}

// inPortRange reports whether port is in spec ("80" or "8000-8100").
func inPortRange(spec string, port int) bool {
	lo, hi, ok := portRange(spec)
	return ok && lo <= port && port <= hi
}

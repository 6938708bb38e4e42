package runner

import (
	"fmt"
	"net/netip"
	"slices"
	"strings"
	"sync"

	"github.com/portcheck/portcheck/config"
	"github.com/portcheck/portcheck/providers/sockets"
)

// snapshot is one host's socket table with an index by protocol and port,
// shared by every L1 check of that host in a run.
type snapshot struct {
	once  sync.Once
	table *sockets.Table
	byKey map[sockKey][]sockets.Socket
	err   error
}

type sockKey struct {
	proto string
	port  int
}

// index keeps the table and indexes it by protocol and port.
func (s *snapshot) index(t *sockets.Table, err error) {
	if err != nil {
		s.err = err
		return
	}
	s.table = t
	s.byKey = map[sockKey][]sockets.Socket{}
	for _, so := range t.Sockets {
		k := sockKey{so.Protocol, so.Port}
		s.byKey[k] = append(s.byKey[k], so)
	}
}

// listeningEvidence is what an L1 result shows.
type listeningEvidence struct {
	Sockets  []sockets.Socket `json:"sockets"`
	Warnings []string         `json:"warnings,omitempty"`
	// DNAT is set when nothing listens on the host's port but its firewall
	// translates it: the translated destination and what listens there.
	DNAT *DNATListener `json:"dnat,omitempty"`
}

type listeningExpected struct {
	Protocol  string   `json:"protocol"`
	Port      int      `json:"port"`
	Serves    []string `json:"serves"` // addresses that must reach the socket
	Process   string   `json:"process,omitempty"`
	Addresses []string `json:"addresses,omitempty"`
}

func evalListening(c *Check, ep *config.Endpoint, snap *snapshot) *Result {
	port, proto := c.Target.Port, string(c.Target.Protocol)
	socks := snap.byKey[sockKey{proto, port}]
	exp := listeningExpected{Protocol: proto, Port: port}
	for _, t := range c.Targets {
		exp.Serves = append(exp.Serves, t.Address.String())
	}
	var want *config.ExpectListening
	if ep.Expect.Listening != nil {
		want = ep.Expect.Listening
		exp.Process = want.Process
		for _, a := range want.Addresses {
			exp.Addresses = append(exp.Addresses, a.String())
		}
	}
	r := &Result{Check: c, Expected: exp, Evidence: listeningEvidence{Sockets: socks, Warnings: snap.table.Warnings}}
	where := c.Exec.String()
	if c.Exec.Host != "" {
		where = "host " + c.Exec.Host
	}

	if len(socks) == 0 {
		r.Status, r.Cause = StatusFail, CauseNotListening
		r.Summary = fmt.Sprintf("nothing listens on %s/%d on %s", proto, port, where)
		r.Hint = fmt.Sprintf("start the service and check that its configuration listens on port %d (%s); confirm with: ss -%slnp 'sport = :%d'",
			port, proto, map[string]string{"tcp": "t", "udp": "u"}[proto], port)
		return r
	}

	// Every probed address must reach a socket.
	var serving []sockets.Socket
	for _, t := range c.Targets {
		dst := t.Address
		var hit []sockets.Socket
		for _, so := range socks {
			if so.Serves(dst) {
				hit = append(hit, so)
			}
		}
		if len(hit) == 0 {
			binds := bindList(socks)
			r.Status = StatusFail
			if allLoopback(socks) {
				r.Cause = CauseLoopbackOnly
				r.Summary = fmt.Sprintf("listening only on %s, so %s:%d cannot reach it", binds, t.Address, port)
				r.Hint = fmt.Sprintf("bind to 0.0.0.0 (or %s) instead of %s in the service's listen setting, then restart it", t.Address, socks[0].Address)
			} else {
				r.Cause = CauseNotListening
				r.Summary = fmt.Sprintf("listening on %s, but not on %s, the address it is probed at", binds, t.Address)
				r.Hint = fmt.Sprintf("make the service listen on %s:%d (or on 0.0.0.0 / ::), or probe the address it binds", t.Address, port)
				if dst.Is4() && hasV6OnlyWildcard(socks) {
					r.Hint = "the socket on [::] has IPV6_V6ONLY set, so it serves no IPv4: listen on 0.0.0.0 too, or clear IPV6_V6ONLY (net.ipv6.bindv6only=0)"
				}
			}
			return r
		}
		serving = append(serving, hit...)
	}

	if want != nil && want.Process != "" {
		owners := processNames(serving)
		if !slices.Contains(owners, want.Process) {
			r.Status, r.Cause = StatusFail, CauseWrongProcess
			if len(owners) == 0 {
				r.Summary = fmt.Sprintf("%s/%d is held by a process portcheck cannot see (no owner found), expected %s", proto, port, want.Process)
				r.Hint = "run portcheck as root so it can read every process's file descriptors"
			} else {
				r.Summary = fmt.Sprintf("%s/%d is held by %s, expected %s", proto, port, describeOwners(serving), want.Process)
				r.Hint = fmt.Sprintf("another service took the port: stop or reconfigure %s, then start %s", owners[0], want.Process)
			}
			return r
		}
	}
	if want != nil && len(want.Addresses) > 0 {
		var missing []string
		for _, a := range want.Addresses {
			if !slices.ContainsFunc(socks, func(s sockets.Socket) bool { return s.Address.Unmap() == a.Unmap() }) {
				missing = append(missing, a.String())
			}
		}
		if len(missing) > 0 {
			r.Status, r.Cause = StatusDrift, CauseNotListening
			r.Summary = fmt.Sprintf("not bound to the declared %s (bound to %s)", strings.Join(missing, ", "), bindList(socks))
			r.Hint = "set the service's listen address to the declared one, or update the declaration"
			return r
		}
	}
	r.Status = StatusPass
	r.Summary = fmt.Sprintf("%s on %s", describeOwners(serving), bindList(serving))
	return r
}

func allLoopback(socks []sockets.Socket) bool {
	for _, s := range socks {
		if !s.LoopbackOnly() {
			return false
		}
	}
	return true
}

func hasV6OnlyWildcard(socks []sockets.Socket) bool {
	for _, s := range socks {
		if s.V6Only && s.Address.IsUnspecified() {
			return true
		}
	}
	return false
}

func bindList(socks []sockets.Socket) string {
	var out []string
	for _, s := range socks {
		b := netip.AddrPortFrom(s.Address, uint16(s.Port)).String()
		if s.Interface != "" {
			b += "%" + s.Interface
		}
		if !slices.Contains(out, b) {
			out = append(out, b)
		}
	}
	return strings.Join(out, ", ")
}

func processNames(socks []sockets.Socket) []string {
	var out []string
	for _, s := range socks {
		for _, p := range s.Processes {
			if !slices.Contains(out, p.Name) {
				out = append(out, p.Name)
			}
		}
	}
	return out
}

func describeOwners(socks []sockets.Socket) string {
	var out []string
	for _, s := range socks {
		for _, p := range s.Processes {
			d := fmt.Sprintf("%s (pid %d)", p.Name, p.PID)
			if !slices.Contains(out, d) {
				out = append(out, d)
			}
		}
	}
	if len(out) == 0 {
		return "a socket with no visible owner"
	}
	if len(out) > 3 {
		out = append(out[:3], fmt.Sprintf("and %d more", len(out)-3))
	}
	return strings.Join(out, ", ")
}

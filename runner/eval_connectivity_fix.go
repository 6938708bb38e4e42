package runner

import (
	"context"

	"github.com/portcheck/portcheck/providers"
	"github.com/portcheck/portcheck/providers/firewall"
)

// serverFirewallHint replaces an L4 failure's generic hint with what the
// server's own packet filter says about the vantage host's packet, when
// the server can be read from here: the exact command in the tool, table
// and chain that decide it (runnable in the server's namespace as
// printed), or that the server's filter already does what is wanted, so
// the cause lies on the path or in the cloud.
func (v *verifier) serverFirewallHint(ctx context.Context, e *EndpointPlan, c *Check, r *Result) {
	var action string
	switch r.Cause {
	case CauseFiltered, CauseRefused, CauseUnreachable:
		action = firewall.Accept
	case CauseUnexpectedlyOpen:
		action = firewall.Drop
	default:
		return
	}
	server, ok := serverExec(e, c)
	if !ok {
		return
	}
	dst := c.Target.Address
	if c.Exec.Remote != "" {
		return // a vantage over ssh: its source address is not looked up here
	}
	src, err := v.sourceFor(c.Exec.Netns, dst)
	if err != nil {
		return
	}
	fs := v.filter(ctx, server)
	if fs.err != nil {
		return
	}
	p := firewall.Packet{Src: src, Dst: dst, Proto: firewall.ProtoTCP, SPort: ephemeralPort, DPort: uint16(c.Target.Port)}
	if c.Target.Protocol == "udp" {
		p.Proto = firewall.ProtoUDP
	}
	fix, ok := fs.snap.RuleCommand(p, firewall.Selector{Proto: string(c.Target.Protocol), Port: c.Target.Port, Src: src}, action, server.Netns)
	switch {
	case ok && action == firewall.Accept:
		r.Hint = "the server's firewall stops it; open it there: " + fix.String()
	case ok:
		r.Hint = "stop the service on the port, or block it in the server's firewall: " + fix.String()
	case action == firewall.Accept && accepted(fs.snap.Evaluator().Evaluate(p)):
		r.Hint = "the server's own firewall accepts this packet (L2), so it is stopped on the way: check the path (L5), routers' and cloud filters (security groups, network ACLs)"
	}
}

// serverExec is where the endpoint's server-side checks run, when this
// machine can read there (a local host or an enterable namespace).
func serverExec(e *EndpointPlan, c *Check) (providers.Exec, bool) {
	return e.Server, e.ServerReadable
}

func accepted(d firewall.Decision) bool { return d.Seen() == firewall.Accept }

package runner

import (
	"fmt"

	"github.com/portcheck/portcheck/config"
	"github.com/portcheck/portcheck/providers/firewall"
	"github.com/portcheck/portcheck/providers/probe"
)

type connectivityExpected struct {
	State string `json:"state"` // "open" or "closed"
}

func evalConnectivity(c *Check, ep *config.Endpoint, o probe.Outcome) *Result {
	want := ep.State
	if want == "" {
		want = "open"
	}
	r := &Result{Check: c, Evidence: o, Expected: connectivityExpected{State: want}}
	from := "from " + c.From
	dst := c.Target.String()

	if want == "closed" {
		switch o.State {
		case probe.StateOpen:
			r.Status, r.Cause = StatusFail, CauseUnexpectedlyOpen
			r.Summary = fmt.Sprintf("%s/%s is open %s, but it is declared closed", dst, c.Target.Protocol, from)
			r.Hint = fmt.Sprintf("stop the service on port %d or block it: %s", c.Target.Port, firewall.UnreadAdvice().CloseCommand(string(c.Target.Protocol), c.Target.Port))
		case probe.StateOpenFiltered:
			r.Status = StatusError
			r.Summary = fmt.Sprintf("no reply and no ICMP error from %s/udp %s: UDP cannot tell open from filtered, so closed is not confirmed", dst, from)
			r.Hint = "declare a payload the service would answer (HCL: expect { connectivity { payload = … } }; diagnose: -payload) or check L1 on the server"
		default:
			r.Status = StatusPass
			r.Summary = fmt.Sprintf("%s %s (%s)", o.State, from, o.Detail)
		}
		return r
	}

	switch o.State {
	case probe.StateOpen:
		r.Status = StatusPass
		r.Summary = fmt.Sprintf("open %s in %.1f ms", from, o.RTTms)
		if o.Detail != "" && c.Target.Protocol == "udp" {
			r.Summary = fmt.Sprintf("open %s: %s", from, o.Detail)
		}
	case probe.StateRefused, probe.StateClosed:
		r.Status, r.Cause = StatusFail, CauseRefused
		r.Summary = fmt.Sprintf("refused %s: %s", from, o.Detail)
		r.Hint = fmt.Sprintf("if L1 shows a listener, a firewall rejects the connection: look for a reject rule for port %d (%s)", c.Target.Port, firewall.UnreadAdvice().ListCommands())
	case probe.StateFiltered:
		r.Status, r.Cause = StatusFail, CauseFiltered
		r.Summary = fmt.Sprintf("filtered %s: %s", from, o.Detail)
		r.Hint = fmt.Sprintf("packets to port %d are dropped silently: open it in the server's firewall (%s), then check cloud security groups and network ACLs",
			c.Target.Port, firewall.UnreadAdvice().OpenCommand(string(c.Target.Protocol), c.Target.Port))
	case probe.StateUnreachable:
		r.Status, r.Cause = StatusFail, CauseUnreachable
		r.Summary = fmt.Sprintf("unreachable %s: %s", from, o.Detail)
		r.Hint = unreachableHint(o, c)
	case probe.StateOpenFiltered:
		r.Status = StatusError
		r.Summary = fmt.Sprintf("no reply and no ICMP error from %s/udp %s: UDP cannot tell open from filtered", dst, from)
		r.Hint = "declare a payload the service answers (HCL: expect { connectivity { payload = … } }; diagnose: -payload), e.g. a DNS query for port 53"
	default:
		r.Status = StatusError
		r.Summary = fmt.Sprintf("unknown probe state %q", o.State)
	}
	return r
}

func unreachableHint(o probe.Outcome, c *Check) string {
	if o.ICMP != nil {
		switch o.ICMP.Name {
		case "admin-prohibited", "host-prohibited", "net-prohibited":
			return fmt.Sprintf("a firewall at %s rejects the packet with ICMP %s (as firewalld's REJECT target and RHEL's classic iptables rules send): allow port %d/%s there (%s)",
				orDash(o.ICMP.From), o.ICMP.Name, c.Target.Port, c.Target.Protocol, firewall.UnreadAdvice().ZoneOpenCommand(string(c.Target.Protocol), c.Target.Port))
		}
	}
	return "no route to the target from this vantage point: check the address, routes (ip route get " + c.Target.Address.String() + ") and the path (L5)"
}

func orDash(s string) string {
	if s == "" {
		return "the target"
	}
	return s
}

package runner

import (
	"context"
	"fmt"
	"net/netip"
	"strings"

	"github.com/portcheck/portcheck/providers"
	"github.com/portcheck/portcheck/providers/firewall"
	"github.com/portcheck/portcheck/providers/sockets"
)

// DNATListener is L1's evidence when the host's port is DNATed: where the
// firewall sends it, and what listens there.
type DNATListener struct {
	From string            `json:"from"` // the host's address:port
	To   string            `json:"to"`   // the translated address:port
	Rule *firewall.RuleRef `json:"rule,omitempty"`
	// Netns is where the translated address lives (a container, a pod);
	// empty when it is the host itself (REDIRECT, DNAT to a local address).
	Netns   string           `json:"netns,omitempty"`
	Via     string           `json:"via,omitempty"`
	Sockets []sockets.Socket `json:"sockets"`
	// NotChecked says why the listener was not looked at (the translated
	// address is on no namespace of this machine, the firewall could not be
	// read there…).
	NotChecked string `json:"not_checked,omitempty"`
}

// docNets are the documentation ranges used as the client when no vantage
// host gives one: DNAT rules match the destination, and a source no rule
// names stands for "any client".
var docNets = map[bool]netip.Addr{true: netip.MustParseAddr("203.0.113.10"), false: netip.MustParseAddr("2001:db8::10")}

// followDNAT is L1 for a port nothing on the host listens on: when the
// host's firewall DNATs it (Docker with userland-proxy=false, kube-proxy,
// a port forward), the listener is looked for at the translated address,
// in the namespace that holds it. Never a false not_listening: when the
// translated listener cannot be looked at, the check says so instead.
func (v *verifier) followDNAT(ctx context.Context, e *EndpointPlan, c *Check, notListening *Result) *Result {
	fs := v.filter(ctx, c.Exec)
	if fs.err != nil {
		notListening.Summary += " (the firewall could not be read, so a DNAT of the port was not looked for: " + fs.err.Error() + ")"
		return notListening
	}
	ev := fs.snap.Evaluator()
	var dn *DNATListener
	var d firewall.Decision
	for _, t := range c.Targets {
		dst := t.Address
		for _, src := range dnatSources(e, c, t, dst, v.sourceFor) {
			p := firewall.Packet{Src: src, Dst: dst, Proto: firewall.ProtoTCP, SPort: ephemeralPort, DPort: uint16(t.Port)}
			if t.Protocol == "udp" {
				p.Proto = firewall.ProtoUDP
			}
			d = ev.Evaluate(p)
			if d.DNATAddr.IsValid() {
				port := d.DNATPort
				if port == 0 {
					port = uint16(t.Port)
				}
				dn = &DNATListener{From: t.String(), To: netip.AddrPortFrom(d.DNATAddr, port).String()}
				break
			}
		}
		if dn != nil {
			break
		}
	}
	if dn == nil {
		return notListening
	}
	dn.Rule = dnatRule(d)
	to, _ := netip.ParseAddrPort(dn.To)
	r := &Result{Check: c, Expected: notListening.Expected}
	ev2 := listeningEvidence{DNAT: dn}
	r.Evidence = &ev2
	where := "host " + c.Exec.Host
	if c.Exec.Host == "" {
		where = c.Exec.String()
	}
	lead := fmt.Sprintf("nothing listens on %s/%d on %s itself; the firewall DNATs it to %s", c.Target.Protocol, c.Target.Port, where, dn.To)
	if dn.Rule != nil {
		lead += " (" + dn.Rule.String() + ")"
	}

	notChecked := func(why string) *Result {
		dn.NotChecked = why
		r.Summary = lead + ": the listener behind it is not checked: " + why
		r.Hint = "check the listener where " + to.Addr().String() + " lives; L4 from the vantage hosts shows whether the port is served"
		r.Status = StatusSkip
		if c.Declared {
			r.Status = StatusError // a declared listening block must not pass unchecked
		}
		return r
	}
	// The host's own table for a DNAT to one of its addresses (REDIRECT);
	// else the namespace behind the host's route to the address.
	var table []sockets.Socket
	if ev.IsLocal(to.Addr()) {
		snap := v.snapshot(ctx, c.Exec)
		if snap.err != nil {
			return notChecked("reading the socket table: " + snap.err.Error())
		}
		table = snap.byKey[sockKey{string(c.Target.Protocol), int(to.Port())}]
	} else {
		hf, err := v.hostFactsOf(c.Exec)
		if err != nil {
			return notChecked(err.Error())
		}
		b, err := hf.Behind(ctx, to.Addr())
		switch {
		case err != nil:
			return notChecked(err.Error())
		case b.NotFound:
			return notChecked(to.Addr().String() + " is on no network namespace of this machine (a pod or backend elsewhere?)")
		case b.Error != "":
			return notChecked(b.Error)
		}
		dn.Netns, dn.Via = b.Netns, b.Via
		for _, so := range b.Sockets.Sockets {
			if so.Protocol == string(c.Target.Protocol) && so.Port == int(to.Port()) {
				table = append(table, so)
			}
		}
	}
	in := ""
	if dn.Netns != "" {
		in = " in " + providers.Exec{Netns: dn.Netns}.String() + " (" + dn.Via + ")"
	}
	var serving []sockets.Socket
	for _, so := range table {
		if so.Serves(to.Addr()) {
			serving = append(serving, so)
		}
	}
	dn.Sockets = serving
	if len(serving) == 0 {
		r.Status, r.Cause = StatusFail, CauseNotListening
		r.Summary = lead + ", but nothing listens there" + in
		r.Hint = fmt.Sprintf("start the service behind the DNAT (the container or pod at %s) and check that it listens on port %d; or fix the DNAT rule", to.Addr(), to.Port())
		return r
	}
	if want := notListening.Expected.(listeningExpected).Process; want != "" {
		owners := processNames(serving)
		if !containsString(owners, want) {
			r.Status, r.Cause = StatusFail, CauseWrongProcess
			r.Summary = fmt.Sprintf("%s, held by %s%s, expected %s", lead, describeOwners(serving), in, want)
			r.Hint = "another service took the port behind the DNAT: stop or reconfigure it, then start " + want
			return r
		}
	}
	r.Status = StatusPass
	r.Summary = fmt.Sprintf("%s, where %s listens on %s%s", lead, describeOwners(serving), bindList(serving), in)
	return r
}

// dnatSources are the clients whose packets are judged for a DNAT: each
// vantage host's (as L2 judges them), else one documentation address
// standing for any client.
func dnatSources(e *EndpointPlan, l1 *Check, t providers.Target, dst netip.Addr, sourceFor sourceFunc) []netip.Addr {
	var out []netip.Addr
	for _, c := range e.firewallChecks(t) {
		if c.Layer != providers.LayerFirewall || c.Sources.IsValid() || c.Target != t || c.Skip != "" || c.Error != "" {
			continue
		}
		if src, err := vantageSource(c, dst, sourceFor); err == nil && !containsAddr(out, src) {
			out = append(out, src)
		}
	}
	if len(out) == 0 {
		out = append(out, docNets[dst.Unmap().Is4()])
	}
	return out
}

// dnatRule is the nat rule that translated the packet, from the trace.
func dnatRule(d firewall.Decision) *firewall.RuleRef {
	for _, st := range d.Trace {
		if st.Verdict == firewall.VerdictDNAT || st.Verdict == firewall.VerdictRedirect {
			ref := st.Ref
			return &ref
		}
	}
	return nil
}

func containsString(list []string, s string) bool {
	for _, x := range list {
		if strings.EqualFold(x, s) {
			return true
		}
	}
	return false
}

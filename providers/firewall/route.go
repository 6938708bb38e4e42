package firewall

import "fmt"

// routeInput is the routing decision for a packet that came in, after
// prerouting: forward says it goes on through forward and postrouting
// (not one of the host's own addresses; st.oif is where it leaves), else
// it is delivered through input; when routing ends its way (a martian
// destination, forwarding off, a route that leads nowhere, no route), ok
// is false with d's verdict, hook and reason set. (It returns no slice of
// hooks: that would cost an allocation per packet.)
func (e *Evaluator) routeInput(d *Decision, st *packetState) (forward, ok bool) {
	v6 := st.Dst.Is6()
	if !v6 && st.Dst.IsLoopback() && st.IIF != "" && st.IIF != "lo" && !e.host.routeLocalnet(st.IIF) {
		// ip_route_input_slow: a loopback destination on a packet from
		// another interface is martian (DNAT to 127.0.0.1 included).
		d.Verdict, d.Hook = Drop, "routing"
		d.Reason = fmt.Sprintf("%s is a loopback address and the packet came in on %s: routing drops it as a martian destination "+
			"(net.ipv4.conf.%s.route_localnet=0)", st.Dst, st.IIF, st.IIF)
		return false, false
	}

	if e.host.isLocal(st.Dst) {
		return false, true
	}
	if !e.host.forwarding(v6) {
		d.Verdict, d.Hook = Drop, "routing"
		d.Reason = fmt.Sprintf("%s is not an address of this host and forwarding is off (%s)", st.Dst, forwardingSysctl(v6))
		return false, false
	}
	st.oif = e.host.egress(st.Dst)
	if r, ok := e.host.route(st.Dst); ok && r.Type != "" && r.Type != "throw" {
		// A route that leads nowhere: blackhole drops silently,
		// unreachable and prohibit answer (ip_error, ip6_pkt_discard).
		d.Verdict, d.Hook = Reject, "routing"
		d.Reason = fmt.Sprintf("the route to %s is %s %s", st.Dst, r.Type, r.Dst)
		switch {
		case r.Type == "blackhole":
			d.Verdict = Drop
		case r.Type == "prohibit" && v6:
			d.Reject = "icmpv6 admin-prohibited"
		case r.Type == "prohibit":
			d.Reject = "icmp admin-prohibited"
		case v6:
			d.Reject = "icmpv6 no-route"
		default:
			d.Reject = "icmp host-unreachable"
		}
		st.noCT = false // conntrack has seen it: the answer is related
		return false, false
	}
	if st.oif == "" {
		// A forwarding host answers a packet it has no route for
		// (ip_error / ip6_pkt_discard); only with forwarding off does
		// it drop silently.
		d.Verdict, d.Hook, d.Reject = Reject, "routing", "icmp net-unreachable"
		if v6 {
			d.Reject = "icmpv6 no-route"
		}
		d.Reason = fmt.Sprintf("no route to %s", st.Dst)
		st.noCT = false // conntrack has seen it: the answer is related
		return false, false
	}
	d.OIF = st.oif
	return true, true
}

func forwardingSysctl(v6 bool) string {
	if v6 {
		return "net.ipv6.conf.all.forwarding=0"
	}
	return "net.ipv4.ip_forward=0"
}

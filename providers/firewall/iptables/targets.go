package iptables

import (
	"net/netip"
	"strings"

	"github.com/portcheck/portcheck/providers/firewall"
)

// targets translate the -j targets the model can express; any other
// target (CONNMARK, CT, NOTRACK, TPROXY, …) makes the rule Unsupported.
var targets = map[string]func(*builder, *extension){
	"ACCEPT": plain(firewall.VerdictAccept),
	"DROP":   plain(firewall.VerdictDrop),
	"RETURN": plain(firewall.VerdictReturn),
	"QUEUE":  plain(firewall.VerdictQueue),
	// Queueing hands the verdict to a program; its options do not change that.
	"NFQUEUE": ignoringOptions(firewall.VerdictQueue),
	// Logging targets do not stop the packet or change what later rules see.
	"LOG":   ignoringOptions(firewall.VerdictNone),
	"NFLOG": ignoringOptions(firewall.VerdictNone),
	"ULOG":  ignoringOptions(firewall.VerdictNone),
	"TRACE": ignoringOptions(firewall.VerdictNone),
	// Source NAT accepts; the new source (and port) change nothing judged.
	"SNAT":       ignoringOptions(firewall.VerdictSNAT),
	"MASQUERADE": ignoringOptions(firewall.VerdictSNAT),
	"REJECT":     (*builder).reject,
	"DNAT":       (*builder).dnat,
	"REDIRECT":   (*builder).redirect,
	"MARK":       (*builder).setMark,
	"CT":         (*builder).ct,
	"CONNMARK":   (*builder).connmark,
}

func plain(kind string) func(*builder, *extension) {
	return func(b *builder, t *extension) {
		b.rule.Verdict.Kind = kind
		b.noOptions(t)
	}
}

func ignoringOptions(kind string) func(*builder, *extension) {
	return func(b *builder, _ *extension) { b.rule.Verdict.Kind = kind }
}

func (b *builder) badTargetOption(t *extension, o option) { b.unsupportedOption("target", t, o) }

// rejectWith maps --reject-with values to the names nft gives the replies.
var rejectWith = map[string]map[string]string{
	firewall.FamilyIP: {
		"icmp-net-unreachable":   "icmp net-unreachable",
		"icmp-host-unreachable":  "icmp host-unreachable",
		"icmp-port-unreachable":  "icmp port-unreachable",
		"icmp-proto-unreachable": "icmp prot-unreachable",
		"icmp-net-prohibited":    "icmp net-prohibited",
		"icmp-host-prohibited":   "icmp host-prohibited",
		"icmp-admin-prohibited":  "icmp admin-prohibited",
		"tcp-reset":              "tcp reset",
	},
	firewall.FamilyIP6: {
		"icmp6-no-route":         "icmpv6 no-route",
		"icmp6-adm-prohibited":   "icmpv6 admin-prohibited",
		"icmp6-addr-unreachable": "icmpv6 addr-unreachable",
		"icmp6-port-unreachable": "icmpv6 port-unreachable",
		"icmp6-policy-fail":      "icmpv6 policy-fail",
		"icmp6-reject-route":     "icmpv6 reject-route",
		"tcp-reset":              "tcp reset",
	},
}

// reject translates REJECT; without --reject-with it answers port
// unreachable.
func (b *builder) reject(t *extension) {
	v := &b.rule.Verdict
	v.Kind, v.Reject = firewall.VerdictReject, "icmp port-unreachable"
	if b.family == firewall.FamilyIP6 {
		v.Reject = "icmpv6 port-unreachable"
	}
	for _, o := range t.opts {
		arg, ok := oneArg(o)
		reply, known := rejectWith[b.family][arg]
		if o.name != "--reject-with" || !ok || !known {
			b.badTargetOption(t, o)
			continue
		}
		v.Reject = reply
	}
}

// dnat translates DNAT to one address and/or port. Address or port ranges
// spread connections over several destinations and are Unsupported.
func (b *builder) dnat(t *extension) {
	v := &b.rule.Verdict
	v.Kind = firewall.VerdictDNAT
	dests := 0
	for _, o := range t.opts {
		switch o.name {
		case "--random", "--persistent": // no effect with a single destination
		case "--to-destination":
			arg, ok := oneArg(o)
			addr, port, ok2 := parseNATDest(b.family, arg)
			if dests++; !ok || !ok2 || dests > 1 {
				b.badTargetOption(t, o)
				continue
			}
			v.NATAddr, v.NATPort = addr, port
		default:
			b.badTargetOption(t, o)
		}
	}
	if dests == 0 {
		b.unsupportedEffect("target %q without --to-destination", t.name)
	}
}

// parseNATDest reads "ADDR", "ADDR:PORT", ":PORT" and, for IPv6,
// "[ADDR]" and "[ADDR]:PORT". A missing address or port is left unchanged
// (invalid address, port 0).
func parseNATDest(family, s string) (netip.Addr, uint16, bool) {
	host, port, hasPort := s, "", false
	switch {
	case family == firewall.FamilyIP6 && strings.HasPrefix(s, "["):
		h, rest, ok := strings.Cut(s[1:], "]")
		if !ok || (rest != "" && !strings.HasPrefix(rest, ":")) {
			return netip.Addr{}, 0, false
		}
		host, port, hasPort = h, strings.TrimPrefix(rest, ":"), rest != ""
	case family == firewall.FamilyIP6 && strings.HasPrefix(s, ":") && !strings.HasPrefix(s, "::"):
		host, port, hasPort = "", s[1:], true
	case family == firewall.FamilyIP:
		host, port, hasPort = strings.Cut(s, ":")
	}
	var addr netip.Addr
	if host != "" {
		a, ok := parseAddr(family, host)
		if !ok {
			return netip.Addr{}, 0, false
		}
		addr = a
	}
	var p uint32
	if hasPort {
		var ok bool
		if p, ok = parsePort(port); !ok || p == 0 {
			return netip.Addr{}, 0, false
		}
	}
	return addr, uint16(p), addr.IsValid() || hasPort
}

// redirect translates REDIRECT, optionally to one port.
func (b *builder) redirect(t *extension) {
	v := &b.rule.Verdict
	v.Kind = firewall.VerdictRedirect
	for _, o := range t.opts {
		switch o.name {
		case "--random":
		case "--to-ports":
			arg, ok := oneArg(o)
			p, ok2 := parsePort(arg)
			if !ok || !ok2 || p == 0 {
				b.badTargetOption(t, o)
				continue
			}
			v.NATPort = uint16(p)
		default:
			b.badTargetOption(t, o)
		}
	}
}

// setMark translates MARK into the mark operation the kernel applies
// (xt_MARK revision 2: mark = (mark & ^mask) ^ value): --set-xmark V/M
// as is (how iptables-save prints every form), --set-mark V/M with mask
// V|M, --and-mark, --or-mark, --xor-mark.
func (b *builder) setMark(t *extension) {
	for _, o := range t.opts {
		arg, ok := oneArg(o)
		v, mask, ok2 := parseValueMask(arg)
		if !ok || !ok2 {
			b.badTargetOption(t, o)
			continue
		}
		var op firewall.MarkOp
		switch o.name {
		case "--set-xmark":
			op = firewall.MarkOp{And: ^mask, Xor: v}
		case "--set-mark":
			op = firewall.MarkOp{And: ^(v | mask), Xor: v}
		case "--and-mark":
			op = firewall.MarkOp{And: v}
		case "--or-mark":
			op = firewall.MarkOp{And: ^v, Xor: v}
		case "--xor-mark":
			op = firewall.MarkOp{And: ^uint32(0), Xor: v}
		default:
			b.badTargetOption(t, o)
			continue
		}
		if strings.Contains(arg, "/") && o.name != "--set-xmark" && o.name != "--set-mark" {
			b.badTargetOption(t, o)
			continue
		}
		b.rule.MarkSet = &op
	}
	if b.rule.MarkSet == nil && b.rule.Unsupported == "" {
		b.unsupportedEffect("target %q without a mark", t.name)
	}
}

// noModelledEffect are targets that change nothing a modelled match
// reads and no verdict: the packet goes on to the next rule. (MSS,
// checksums, DSCP/TOS/TTL, classes, SELinux labels, audit records,
// connection helpers and timeouts, the connection's own mark, ipset
// updates, copies to other hosts.) Their options do not matter.
var noModelledEffect = map[string]bool{
	"TCPMSS": true, "CHECKSUM": true, "DSCP": true, "TOS": true, "TTL": true, "HL": true,
	"CLASSIFY": true, "SECMARK": true, "CONNSECMARK": true, "AUDIT": true, "IDLETIMER": true,
	"LED": true, "RATEEST": true, "SET": true, "TEE": true, "TCPOPTSTRIP": true,
}

// ct translates CT: a helper, event mask or timeout policy changes
// nothing for this packet; --notrack and --zone change its conntrack
// state.
func (b *builder) ct(t *extension) {
	for _, o := range t.opts {
		switch o.name {
		case "--helper", "--ctevents", "--expevents", "--timeout":
		default:
			b.badTargetOption(t, o)
		}
	}
}

// connmark translates CONNMARK: saving to or setting the connection's
// mark changes nothing a modelled match reads; restoring it into the
// packet mark sets the mark from a value the model does not have.
func (b *builder) connmark(t *extension) {
	for _, o := range t.opts {
		if o.name == "--restore-mark" {
			b.badTargetOption(t, o)
		}
	}
}

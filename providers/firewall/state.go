package firewall

import (
	"net/netip"
)

// packetState is a packet as it moves through the hooks.
type packetState struct {
	Packet
	origDst   netip.Addr
	origDPort uint16
	oif       string
	cands     map[*cchain][]int32 // candidate rules per chain, for this packet
	dnat      bool                // a nat chain set a destination mapping
	snat      bool                // a nat chain set a source mapping
	// noCT: the base chain being run comes before conntrack (priority
	// below -200 in prerouting or output), so the packet has no
	// connection yet: ct state is invalid, ct original … never match.
	noCT bool
	// ctEarly: the packet carries its connection before conntrack looks
	// it up (nf_conntrack_in leaves a packet that has one alone), so
	// chains before conntrack see it too: traffic over loopback, which
	// got it in output, and a reject's answer, which the reject attaches
	// it to.
	ctEarly bool
	// noConn: conntrack finds no connection for the packet anywhere (the
	// answer of a reject that ran before conntrack): ct state invalid.
	noConn bool
	// confirmedCT: the connection is confirmed (in the table): for a new
	// connection only once it went out and came back over loopback
	// (confirmed at the end of postrouting).
	confirmedCT bool
	// reply: the first reply of the connection: ct state established, ct
	// status confirmed and seen-reply (nf_conntrack_in sets IPS_SEEN_REPLY
	// at -200, before the chains that see the connection).
	reply bool
	// related: a reject's answer, attached to the connection as related.
	related bool
	// noIIF: made by the host itself and not yet received (output and
	// postrouting of a local reply): there is no input interface, so
	// iif/iifname compare with none (0, "").
	noIIF bool
	// oifWhy says why the interface a reply leaves by is unknown (no
	// route back to the client); rules that test it cannot be decided.
	oifWhy string
	// dstWhy says why the destination is unknown where the chain runs: a
	// reply to a source-NATed connection carries the NAT address until
	// the NAT core restores the client's (not modelled: SNAT targets are
	// not in the snapshot).
	dstWhy string
	// tcpFlags are the packet's TCP flags: SYN for the first packet,
	// SYN|ACK for its reply, RST|ACK for a reject's reset.
	tcpFlags uint8
	// run is what the packets of one evaluation share: the random
	// choices taken, the assumptions made, the sets changed.
	run *evalRun
}

// TCP flag bits.
const (
	tcpFIN uint8 = 0x01
	tcpSYN uint8 = 0x02
	tcpRST uint8 = 0x04
	tcpACK uint8 = 0x10
	tcpECE uint8 = 0x40
	tcpCWR uint8 = 0x80
)

// conntrackPriority is where conntrack looks a packet up in prerouting and
// output (NF_IP_PRI_CONNTRACK).
const conntrackPriority = -200

func beforeConntrack(c *Chain, hook string) bool {
	return (hook == HookPrerouting || hook == HookOutput) && hookPriority(c, hook) < conntrackPriority
}

// candidates returns, in order, the rules of c that may match the packet
// (every rule when a walk is recorded).
func (st *packetState) candidates(c *cchain) []int32 {
	if cs, ok := st.cands[c]; ok {
		return cs
	}
	if st.cands == nil {
		st.cands = map[*cchain][]int32{}
	}
	var cs []int32
	if st.run.rec != nil {
		// A walk shows every rule, also those the index rules out.
		cs = make([]int32, len(c.rules))
		for i := range cs {
			cs[i] = int32(i)
		}
	} else {
		cs = c.idx.candidates(st.Src, st.DPort)
	}
	st.cands[c] = cs
	return cs
}

// ctState is the conntrack state the packet has where it is: new, or
// invalid before conntrack saw it (nft and xt_conntrack both call a packet
// without a connection invalid).
func (st *packetState) ctState() string {
	switch {
	case st.noCT:
		return "invalid"
	case st.reply:
		return "established"
	case st.related:
		return "related"
	}
	return "new"
}

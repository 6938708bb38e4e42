// Package firewall holds the backend-neutral model of a host's packet
// filter (what nftables, iptables-legacy and iptables-nft rulesets have in
// common) and the evaluator that walks a packet through it the way the
// kernel does. The backend packages (nftables, iptables, firewalld, docker)
// translate what they read into this model; the model is plain data that
// serialises to JSON, so a snapshot taken on one host can be evaluated
// elsewhere or later.
package firewall

import (
	"net/netip"
)

// Backend names who owns a table: the tool a fix hint should use.
const (
	BackendNftables       = "nftables"
	BackendIptablesNft    = "iptables-nft"
	BackendIptablesLegacy = "iptables-legacy"
)

// Family of a table as nftables names it. iptables tables are "ip"
// (iptables) or "ip6" (ip6tables).
const (
	FamilyIP     = "ip"
	FamilyIP6    = "ip6"
	FamilyInet   = "inet"
	FamilyBridge = "bridge"
	FamilyARP    = "arp"
	FamilyNetdev = "netdev"
)

// Hooks of the netfilter IPv4/IPv6 path.
const (
	HookPrerouting  = "prerouting"
	HookInput       = "input"
	HookForward     = "forward"
	HookOutput      = "output"
	HookPostrouting = "postrouting"
	HookIngress     = "ingress"
)

// Ruleset is every table a host's kernel holds that may see a packet,
// whichever tool made it.
type Ruleset struct {
	Tables []*Table `json:"tables"`
	// IPSets are the namespace's ipsets (ipset save), which iptables
	// rules look up with -m set (Match FieldIPSet), by name.
	IPSets map[string]*IPSet `json:"ipsets,omitempty"`
}

// IPSet is one ipset: its type names its dimensions ("hash:ip,port":
// an address, then a protocol and port); each entry holds one value per
// dimension. Nomatch entries of hash:net types exclude what they cover
// from the wider entries around them.
type IPSet struct {
	Name string `json:"name"`
	Type string `json:"type"` // hash:ip, hash:net, hash:ip,port, bitmap:port, list:set, …
	// Family is "inet" or "inet6" for sets of addresses.
	Family  string       `json:"family,omitempty"`
	Entries []IPSetEntry `json:"entries,omitempty"`
	// Members of a list:set, in order.
	Members []string `json:"members,omitempty"`
}

// IPSetEntry is one element: a Value per dimension (an address prefix, a
// port range with Proto set, an interface name).
type IPSetEntry struct {
	Values  []Value `json:"values"`
	Nomatch bool    `json:"nomatch,omitempty"`
}

// Table is one nftables table or one iptables table (filter, nat, …).
type Table struct {
	Backend string `json:"backend"` // one of the Backend constants
	Family  string `json:"family"`
	Name    string `json:"name"`
	// Chains in the order the backend listed them; base chains carry Hook.
	Chains []*Chain `json:"chains"`
	// Sets are the table's named sets and maps (nftables only), by name
	// without the "@".
	Sets map[string]*Set `json:"sets,omitempty"`
}

// Chain is a base chain (Hook set) or a regular chain reached by jump/goto.
type Chain struct {
	Name string `json:"name"`
	// Base chain properties; Hook == "" for a regular chain.
	Type     string `json:"type,omitempty"` // filter, nat, route
	Hook     string `json:"hook,omitempty"`
	Priority int    `json:"priority,omitempty"`
	// Policy of a base chain: "accept" or "drop" (iptables builtin chains:
	// ACCEPT/DROP lowered).
	Policy string  `json:"policy,omitempty"`
	Rules  []*Rule `json:"rules"`
}

// Rule is one rule: all Matches must hold, then Verdict applies.
type Rule struct {
	// Handle is the nftables rule handle (0 for iptables).
	Handle int `json:"handle,omitempty"`
	// Number is the 1-based position in an iptables chain (0 for nftables),
	// as `iptables -L --line-numbers` shows it.
	Number int `json:"number,omitempty"`
	// Text is the rule as its tool prints it (nft list / iptables-save),
	// shown as evidence.
	Text    string  `json:"text"`
	Matches []Match `json:"matches,omitempty"`
	// MarkSet is the rule's change of the packet mark (iptables' MARK,
	// nft's "meta mark set"), applied when the matches hold, before the
	// verdict. Other statements that change what later rules see make the
	// rule Unsupported; statements that change nothing a rule can test
	// (counters, log, ct helper, set updates) are left out.
	MarkSet *MarkOp `json:"mark_set,omitempty"`
	// SetUpdates names the sets the rule adds the packet's key to (nft
	// "add @set { ip saddr }", "update @set …"). The evaluator does not
	// model the new element: a later lookup on the same packet's way in
	// such a set cannot be decided, unless it finds the key anyway.
	SetUpdates []string `json:"set_updates,omitempty"`
	Verdict    Verdict  `json:"verdict"`
	// Unsupported, when not empty, names the match or statement this model
	// cannot evaluate (e.g. `match "u32"`). A packet that reaches this
	// rule gets an indeterminate verdict naming it; it is never guessed.
	Unsupported string `json:"unsupported,omitempty"`
	// UnsupportedMatch says that what is Unsupported only decides whether
	// the rule applies (a match), not what it does: a rule without a
	// verdict or effect then changes nothing whether it matches or not,
	// and is skipped (a LOG rule with "-m limit", a counter on "-m u32").
	UnsupportedMatch bool `json:"unsupported_match,omitempty"`
}

// MarkOp changes the packet mark to (mark & And) ^ Xor, the form every
// mark statement takes in the kernel: a constant is And 0; iptables'
// --set-xmark V/M is And ^M, Xor V; --or-mark V is And ^V, Xor V;
// --and-mark V is And V; --xor-mark V is And all ones, Xor V; nft's
// "meta mark set meta mark | V" is --or-mark.
type MarkOp struct {
	And uint32 `json:"and"`
	Xor uint32 `json:"xor"`
}

// Apply returns the new mark.
func (op MarkOp) Apply(mark uint32) uint32 { return (mark & op.And) ^ op.Xor }

// SetMarkTo is the operation that replaces the whole mark with v.
func SetMarkTo(v uint32) *MarkOp { return &MarkOp{And: 0, Xor: v} }

// Field is a packet property a match tests.
type Field string

const (
	FieldIIF     Field = "iif"      // ingress interface name (Names; "eth+" / "eth*" wildcard)
	FieldOIF     Field = "oif"      // egress interface name
	FieldSaddr   Field = "saddr"    // source address (Prefixes; family implied by prefix)
	FieldDaddr   Field = "daddr"    // destination address
	FieldNfproto Field = "nfproto"  // Names: "ipv4" / "ipv6" (inet tables)
	FieldL4Proto Field = "l4proto"  // Ranges of protocol numbers (6 tcp, 17 udp, 1 icmp, 58 icmpv6)
	FieldSport   Field = "sport"    // Ranges; implies l4proto tcp/udp (see Match.Proto)
	FieldDport   Field = "dport"    // Ranges
	FieldCTState Field = "ct state" // Names: new, established, related, invalid, untracked
	// FieldCTStatus tests conntrack status flags (Names: expected,
	// seen-reply, assured, confirmed, snat, dnat, dying); it holds when
	// any listed flag is set, as nft's "ct status dnat" does.
	FieldCTStatus Field = "ct status"
	FieldMark     Field = "mark" // Ranges; Mask optional
	FieldICMPType Field = "icmp type"
	// FieldICMPv6Type: Ranges of ICMPv6 types.
	FieldICMPv6Type Field = "icmpv6 type"
	// FieldDaddrType is iptables -m addrtype --dst-type / nft fib daddr
	// type: Names ("local", "unicast", "broadcast", "multicast", …).
	FieldDaddrType Field = "daddr type"
	FieldSaddrType Field = "saddr type"
	// FieldCTOrigDaddr / FieldCTOrigDport are the connection's original
	// destination before DNAT (-m conntrack --ctorigdst / --ctorigdstport,
	// nft ct original ip daddr / proto-dst), as Docker's docs use them.
	FieldCTOrigDaddr Field = "ct original daddr"
	FieldCTOrigDport Field = "ct original dport"
	// FieldTCPFlags tests the TCP flags byte: (flags & Mask) in Ranges
	// (Mask 0 = the whole byte). Proto is always tcp, so a UDP packet
	// never matches, negated or not.
	FieldTCPFlags Field = "tcp flags"
	// FieldExtHdr holds when the packet carries one of the IPv6 extension
	// headers in Names ("rt", "frag", "hbh", "dst", "mh", "ah", "esp"). A
	// test of a header's field (ip6tables -m rt --rt-type 0, nft "rt type
	// 0") needs the header and becomes this match: the kernel never
	// matches a packet without it, negated or not. The first packet of a
	// connection that portcheck judges carries none.
	FieldExtHdr Field = "exthdr"
	// FieldFragment holds for a fragment other than the first (iptables
	// -f): never for the packets judged.
	FieldFragment Field = "fragment"
	// FieldRPF is a reverse-path check (nft "fib saddr . iif oif", iptables
	// -m rpfilter): it holds when the host has a route back to the source,
	// through the interface the packet came in on unless Names holds
	// "loose". Names "mark" says the lookup uses the packet mark (policy
	// routing), "local" that the source may be one of the host's own
	// addresses (rpfilter --accept-local). Negate: the route is missing.
	FieldRPF Field = "rpf"
	// FieldPktType is the link-layer packet type (Names: "host",
	// "broadcast", "multicast", "otherhost"), from the destination.
	FieldPktType Field = "pkttype"
	// FieldIPsec holds when the packet came in through an IPsec policy
	// (iptables -m policy --pol ipsec, nft "meta secpath exists"): never
	// for the packets judged, which portcheck sends in the clear.
	FieldIPsec Field = "ipsec"
	// FieldAssumed is a rate or state match whose value for the one new
	// connection judged rests on an assumption (Match.Assume): limits and
	// hashlimits not exceeded, no earlier connections from the source
	// (recent, connlimit, ct count, meters). It holds under the
	// assumption unless Negate, and the decision lists the assumption.
	FieldAssumed Field = "assumed"
	// FieldRandom is a random or per-packet-counter choice (statistic,
	// numgen as a match): the evaluator follows both ways and gives a
	// verdict only when they agree.
	FieldRandom Field = "random"
	// FieldConcat is a lookup of several fields joined (nft's "ip daddr .
	// meta l4proto . th dport @set"): Concat lists the fields, Tuples (or
	// the named Set) the keys.
	FieldConcat Field = "concat"
	// FieldIPSet is iptables' -m set --match-set Set DIRS: Names holds
	// the direction of each dimension ("src", "dst"); the evaluator
	// resolves it against the ipset's type.
	FieldIPSet Field = "ipset"
	// FieldNumgen is the key of nft's "numgen random|inc mod N vmap": one
	// of 0..N-1 (plus Verdict.Offset), followed each way.
	FieldNumgen Field = "numgen"
)

// KeyField is one part of a concatenated key.
type KeyField struct {
	Field Field `json:"field"`
	// Proto is the L4 protocol the part implies (tcp dport: tcp), 0 for
	// th (any protocol with ports) and non-port fields.
	Proto uint8 `json:"proto,omitempty"`
}

// Value is one part of a concatenated key: an address prefix, a numeric
// range or a name.
type Value struct {
	Prefix *netip.Prefix `json:"prefix,omitempty"`
	Range  *Range        `json:"range,omitempty"`
	Name   string        `json:"name,omitempty"`
	// Proto is the protocol of an ipset port value ("tcp:80"); 0 for
	// other values.
	Proto uint8 `json:"proto,omitempty"`
}

// Match tests one packet field. Exactly one of Prefixes, Ranges, Names or
// Set carries the values; the match holds when the field's value is in
// them (not in them when Negate).
type Match struct {
	Field  Field `json:"field"`
	Negate bool  `json:"negate,omitempty"`
	// Proto restricts a port or icmp match to one L4 protocol number, as
	// "tcp dport 22" implies tcp: a packet of another protocol does not
	// match (also when Negate). 0 = any protocol that has ports.
	Proto    uint8          `json:"proto,omitempty"`
	Prefixes []netip.Prefix `json:"prefixes,omitempty"`
	Ranges   []Range        `json:"ranges,omitempty"`
	Names    []string       `json:"names,omitempty"`
	// Set names a set of the rule's table (without "@").
	Set string `json:"set,omitempty"`
	// Mask applies to FieldMark and FieldTCPFlags before comparing (0 =
	// no mask).
	Mask uint32 `json:"mask,omitempty"`
	// Concat and Tuples: the parts and keys of a FieldConcat match.
	Concat []KeyField `json:"concat,omitempty"`
	Tuples [][]Value  `json:"tuples,omitempty"`
	// Assume states the assumption a FieldAssumed match rests on, as the
	// evidence shows it: "fewer than 10/minute (limit rate 10/minute)".
	Assume string `json:"assume,omitempty"`
}

// Range is an inclusive numeric range; a single value has From == To.
type Range struct {
	From uint32 `json:"from"`
	To   uint32 `json:"to"`
}

// Set is a named nftables set or map. Elements use the same value forms
// as Match; for verdict maps Verdicts[i] belongs to element i.
type Set struct {
	Name string `json:"name"`
	// Type is the key type as nft names it ("ipv4_addr", "inet_service",
	// "ifname", "ipv4_addr . inet_service" …). Concatenated keys make
	// lookups Unsupported.
	Type     string         `json:"type"`
	Prefixes []netip.Prefix `json:"prefixes,omitempty"`
	Ranges   []Range        `json:"ranges,omitempty"`
	Names    []string       `json:"names,omitempty"`
	// Tuples are the keys of a set with a concatenated key, one Value per
	// part of Type.
	Tuples [][]Value `json:"tuples,omitempty"`
	// Map is the data type of a map ("verdict" for a vmap); "" for a set.
	Map string `json:"map,omitempty"`
	// Elements of a map in order, each with its key and verdict.
	Elements []MapElement `json:"elements,omitempty"`
}

// MapElement is one key of a verdict map with the verdict it selects.
type MapElement struct {
	Prefix *netip.Prefix `json:"prefix,omitempty"`
	Range  *Range        `json:"range,omitempty"`
	Name   string        `json:"name,omitempty"`
	// Tuple is the key of a map with a concatenated key.
	Tuple   []Value `json:"tuple,omitempty"`
	Verdict Verdict `json:"verdict"`
}

// Verdict kinds.
const (
	VerdictNone     = ""         // no verdict statement: continue with the next rule
	VerdictAccept   = "accept"   // iptables ACCEPT
	VerdictDrop     = "drop"     // iptables DROP
	VerdictReject   = "reject"   // iptables REJECT; Reject says how
	VerdictJump     = "jump"     // iptables -j USERCHAIN
	VerdictGoto     = "goto"     // iptables -g USERCHAIN
	VerdictReturn   = "return"   // iptables RETURN
	VerdictDNAT     = "dnat"     // rewrites the destination (nat chains)
	VerdictRedirect = "redirect" // DNAT to the host itself (REDIRECT)
	VerdictSNAT     = "snat"     // SNAT/MASQUERADE: accepts, changes nothing we judge
	VerdictVmap     = "vmap"     // verdict map lookup: Map says which key and map
	VerdictQueue    = "queue"    // NFQUEUE: decided in user space, indeterminate
)

// Verdict is what a rule does when it matches.
type Verdict struct {
	Kind string `json:"kind"`
	// Chain is the target of jump and goto.
	Chain string `json:"chain,omitempty"`
	// Reject is the reply a reject sends, as nft names it: "tcp reset",
	// "icmp port-unreachable", "icmp admin-prohibited",
	// "icmpv6 port-unreachable", "icmpx port-unreachable", ….
	Reject string `json:"reject,omitempty"`
	// NATAddr and NATPort are the new destination of dnat/redirect
	// (invalid address / 0 port = unchanged).
	NATAddr netip.Addr `json:"nat_addr,omitzero"`
	NATPort uint16     `json:"nat_port,omitempty"`
	// Vmap: the field looked up and either a named map of the table or
	// inline elements.
	Key      Field        `json:"key,omitempty"`
	KeyProto uint8        `json:"key_proto,omitempty"`
	Map      string       `json:"map,omitempty"`
	Elements []MapElement `json:"elements,omitempty"`
	// Concat lists the parts of a concatenated vmap key (Key FieldConcat).
	Concat []KeyField `json:"concat,omitempty"`
	// Mod and Offset: the values of a numgen key are Offset..Offset+Mod-1.
	Mod    uint32 `json:"mod,omitempty"`
	Offset uint32 `json:"offset,omitempty"`
}

// Route is one route of the host's main table, used to decide whether a
// packet is local and which interface it leaves by.
type Route struct {
	Dst netip.Prefix `json:"dst"`
	Dev string       `json:"dev"`
	// Local routes (table local) mark the host's own addresses.
	Local bool `json:"local,omitempty"`
	// Type of a route that leads nowhere: "blackhole", "unreachable",
	// "prohibit" or "throw" ("" for a unicast route).
	Type string `json:"type,omitempty"`
}

// Interface is one of the host's interfaces with its addresses.
type Interface struct {
	Name  string         `json:"name"`
	Addrs []netip.Prefix `json:"addrs,omitempty"`
}

// Host is what evaluation needs to know about the machine besides its
// ruleset: its addresses and routes.
type Host struct {
	Interfaces []Interface `json:"interfaces"`
	Routes     []Route     `json:"routes"`
	// Forwarding reports net.ipv4.ip_forward / net.ipv6.conf.all.forwarding.
	Forwarding4 bool `json:"forwarding4"`
	Forwarding6 bool `json:"forwarding6"`
	// RouteLocalnet lists the interfaces (or "all") with
	// net.ipv4.conf.*.route_localnet=1, where a loopback destination
	// arriving from outside is routed instead of dropped as martian.
	RouteLocalnet []string `json:"route_localnet,omitempty"`
	// PolicyRules lists the routing policy rules (ip rule) besides the
	// kernel's default three: with them a route lookup may not be the
	// main table's, so reverse-path checks that depend on it cannot be
	// decided.
	PolicyRules []string `json:"policy_rules,omitempty"`
}

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
	// Statements are non-terminal actions that change what later rules see
	// (only "meta mark set" is modelled; others that matter make the rule
	// Unsupported).
	SetMark *uint32 `json:"set_mark,omitempty"`
	Verdict Verdict `json:"verdict"`
	// Unsupported, when not empty, names the match or statement this model
	// cannot evaluate (e.g. `match "limit"`). A packet that reaches this
	// rule gets an indeterminate verdict naming it; it is never guessed.
	Unsupported string `json:"unsupported,omitempty"`
}

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
)

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
	// Mask applies to FieldMark before comparing (0 = no mask).
	Mask uint32 `json:"mask,omitempty"`
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
	// Map is the data type of a map ("verdict" for a vmap); "" for a set.
	Map string `json:"map,omitempty"`
	// Elements of a map in order, each with its key and verdict.
	Elements []MapElement `json:"elements,omitempty"`
}

// MapElement is one key of a verdict map with the verdict it selects.
type MapElement struct {
	Prefix  *netip.Prefix `json:"prefix,omitempty"`
	Range   *Range        `json:"range,omitempty"`
	Name    string        `json:"name,omitempty"`
	Verdict Verdict       `json:"verdict"`
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
}

// Route is one route of the host's main table, used to decide whether a
// packet is local and which interface it leaves by.
type Route struct {
	Dst netip.Prefix `json:"dst"`
	Dev string       `json:"dev"`
	// Local routes (table local) mark the host's own addresses.
	Local bool `json:"local,omitempty"`
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
}

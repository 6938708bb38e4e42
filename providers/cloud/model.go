// Package cloud holds the provider-neutral model of cloud packet filters —
// security groups, network ACLs, the interfaces they apply to, prefix
// lists — and the evaluators that apply each cloud's own semantics to a
// flow (AWS: stateful allow-only security groups, stateless ordered
// network ACLs; Alibaba Cloud: prioritised accept/drop security group
// rules). The readers (providers/cloud/aws, providers/cloud/aliyun) fill a
// Snapshot from the clouds' APIs; everything here works on that plain,
// JSON-serialisable data alone, so audits can be replayed and tested
// without an account.
package cloud

import "net/netip"

// Providers.
const (
	AWS    = "aws"
	Aliyun = "aliyun"
)

// Directions of a rule.
const (
	Ingress = "ingress"
	Egress  = "egress"
)

// Protocols, normalised: AWS "-1" and Alibaba "ALL" are ProtoAll; AWS
// numbers 6/17/1/58 and Alibaba TCP/UDP/ICMP/ICMPv6 become these names;
// any other protocol is its decimal number ("47").
const (
	ProtoAll    = "all"
	ProtoTCP    = "tcp"
	ProtoUDP    = "udp"
	ProtoICMP   = "icmp"
	ProtoICMPv6 = "icmpv6"
)

// Policies of a rule or ACL entry.
const (
	Accept = "accept"
	Drop   = "drop"
)

// PortRange is an inclusive port range for tcp and udp (0-65535 = all).
// For icmp and icmpv6 From is the ICMP type and To the code, -1 = any (the
// way AWS overloads FromPort/ToPort). Unused for other protocols.
type PortRange struct {
	From int `json:"from"`
	To   int `json:"to"`
}

// AllPorts is every tcp/udp port.
var AllPorts = PortRange{0, 65535}

// Peer is the other side of a rule: exactly one field is set.
type Peer struct {
	CIDR       netip.Prefix `json:"cidr,omitzero"`         // IPv4 or IPv6
	PrefixList string       `json:"prefix_list,omitempty"` // pl-…, resolved through Snapshot.PrefixLists
	Group      string       `json:"group,omitempty"`       // sg-…, membership resolved through Snapshot.Interfaces
	// GroupOwner is the account of a referenced group in another account.
	GroupOwner string `json:"group_owner,omitempty"`
}

// Rule is one security group rule as the API returns it (not split into
// atomic rules; Atomize does that for drift).
type Rule struct {
	ID        string    `json:"id,omitempty"` // sgr-… (AWS), SecurityGroupRuleId (Alibaba)
	Group     string    `json:"group"`        // the group that holds it
	Direction string    `json:"direction"`    // Ingress or Egress
	Protocol  string    `json:"protocol"`
	Ports     PortRange `json:"ports"`
	Peer      Peer      `json:"peer"`
	// Policy is Accept for every AWS rule; Alibaba rules are Accept or Drop.
	Policy string `json:"policy"`
	// Priority is Alibaba's 1 (first) to 100; 0 for AWS.
	Priority    int    `json:"priority,omitempty"`
	Description string `json:"description,omitempty"`
	// Local and SourcePorts narrow an Alibaba Cloud quintuple rule ("Security
	// group quintuple rules": source and destination address, source and
	// destination port, protocol). Local is the address on the group's side
	// the rule is limited to — DestCidrIp or Ipv6DestCidrIp of an inbound
	// rule, SourceCidrIp or Ipv6SourceCidrIp of an outbound one — and
	// SourcePorts the packet's source port range (SourcePortRange; for an
	// inbound rule the client's port). Unset (invalid prefix, zero range):
	// any address, any port.
	Local       netip.Prefix `json:"local,omitzero"`
	SourcePorts PortRange    `json:"source_ports,omitzero"`
}

// SecurityGroup is a group with all its rules.
type SecurityGroup struct {
	Provider string `json:"provider"`
	Account  string `json:"account,omitempty"`
	Region   string `json:"region"`
	ID       string `json:"id"`
	Name     string `json:"name,omitempty"`
	VPC      string `json:"vpc,omitempty"`
	// Type is Alibaba's "normal" (basic) or "enterprise"; "" for AWS.
	Type string `json:"type,omitempty"`
	// InnerAccessPolicy is Alibaba's "Accept" or "Drop" for traffic
	// between members of a basic group; "" for AWS.
	InnerAccessPolicy string `json:"inner_access_policy,omitempty"`
	Rules             []Rule `json:"rules"`
	// Attachments are the network interfaces that use the group; empty
	// means attached to nothing (an audit finding).
	Attachments []string `json:"attachments"`
	// MembersListed is set when the reader listed every member interface
	// of the group that its listing calls show (AWS: DescribeNetworkInterfaces
	// by group-id; Alibaba Cloud: DescribeInstances and
	// DescribeNetworkInterfaces by SecurityGroupId), so that an address no
	// interface of the snapshot holds is not a member. What those calls do
	// not show is stated as an assumption of each verdict that relies on it.
	MembersListed bool `json:"members_listed,omitempty"`
}

// ACLEntry is one network ACL rule.
type ACLEntry struct {
	// Number orders evaluation (AWS rule number; Alibaba: position, 1-based).
	Number   int          `json:"number"`
	ID       string       `json:"id,omitempty"` // Alibaba NetworkAclEntryId
	Egress   bool         `json:"egress"`
	Protocol string       `json:"protocol"`
	Ports    PortRange    `json:"ports"` // tcp/udp only; AllPorts otherwise
	CIDR     netip.Prefix `json:"cidr"`
	Policy   string       `json:"policy"` // Accept or Drop
	// System marks an entry the cloud adds and users cannot change
	// (Alibaba Cloud EntryType "system", listed after the custom entries).
	System bool `json:"system,omitempty"`
}

// NetworkACL is a subnet-level stateless filter.
type NetworkACL struct {
	Provider string     `json:"provider"`
	Account  string     `json:"account,omitempty"`
	Region   string     `json:"region"`
	ID       string     `json:"id"`
	VPC      string     `json:"vpc,omitempty"`
	Subnets  []string   `json:"subnets"` // subnets (AWS) / vSwitches (Alibaba) it is associated with
	Entries  []ACLEntry `json:"entries"` // as the API returns them, implicit default entries included
}

// Interface is a network interface (AWS ENI, Alibaba ENI or the primary
// interface of an ECS instance) and what filters it.
type Interface struct {
	ID         string       `json:"id"`
	Instance   string       `json:"instance,omitempty"`
	PrivateIPs []netip.Addr `json:"private_ips"`
	PublicIPs  []netip.Addr `json:"public_ips,omitempty"`
	Groups     []string     `json:"groups"`
	Subnet     string       `json:"subnet,omitempty"` // subnet / vSwitch, which selects the network ACL
	VPC        string       `json:"vpc,omitempty"`
}

// Subnet is a subnet (AWS) or vSwitch (Alibaba Cloud) with its address
// blocks: a client inside them is in the subnet even when it is no
// interface of the snapshot, and network ACLs do not filter its traffic.
type Subnet struct {
	ID    string         `json:"id"`
	VPC   string         `json:"vpc,omitempty"`
	CIDRs []netip.Prefix `json:"cidrs"` // IPv4 and IPv6 blocks
}

// PrefixList is a managed prefix list with its entries.
type PrefixList struct {
	ID    string         `json:"id"`
	Name  string         `json:"name,omitempty"`
	CIDRs []netip.Prefix `json:"cidrs"`
}

// Snapshot is what a reader saw in one account and region.
type Snapshot struct {
	Provider   string                    `json:"provider"`
	Account    string                    `json:"account,omitempty"`
	Region     string                    `json:"region"`
	Interfaces []Interface               `json:"interfaces"`
	Groups     map[string]*SecurityGroup `json:"groups"`
	ACLs       []*NetworkACL             `json:"acls"`
	// Subnets are the subnets (vSwitches) of the interfaces read, with
	// their CIDR blocks, sorted by ID.
	Subnets     []Subnet               `json:"subnets,omitempty"`
	PrefixLists map[string]*PrefixList `json:"prefix_lists,omitempty"`
	// MissingGroups are groups that rules reference but the API says do
	// not exist (deleted): an audit finding.
	MissingGroups []string `json:"missing_groups,omitempty"`
	// Complete is true when the reader listed every interface of the
	// region (audit scope), so group membership can be resolved for any
	// address; false when it read only what some targets need.
	Complete bool `json:"complete"`
}

// Flow is a connection to judge: from a client address to one address of
// an interface, with the client's ephemeral port range for the reply
// (network ACLs are stateless: the reply must pass the egress list).
type Flow struct {
	Src      netip.Addr `json:"src"`
	Dst      netip.Addr `json:"dst"`
	Protocol string     `json:"protocol"` // tcp, udp, icmp, icmpv6
	Port     int        `json:"port"`     // destination port (ICMP: type)
	// Ephemeral is the client's source port range; the reply goes to it.
	Ephemeral PortRange `json:"ephemeral"`
}

// Ephemeral port ranges: the seed's glossary (IANA), Linux's default, and
// what AWS advises for network ACLs.
var (
	EphemeralIANA  = PortRange{49152, 65535}
	EphemeralLinux = PortRange{32768, 60999}
	EphemeralAWS   = PortRange{1024, 65535}
)

// Verdict stages.
const (
	StageACLIngress    = "nacl_ingress"
	StageSecurityGroup = "security_group"
	StageACLEgress     = "nacl_egress" // the reply to the client's ephemeral port
)

// RuleRef names the deciding rule: a group and rule id, or an ACL and its
// rule number. Default is set when no rule matched and the cloud's
// default decided (AWS: no security group rule allows it; Alibaba: the
// group type's default).
type RuleRef struct {
	Kind    string `json:"kind"` // "security_group" or "network_acl"
	ID      string `json:"id"`   // sg-… or acl-…
	RuleID  string `json:"rule_id,omitempty"`
	Number  int    `json:"number,omitempty"`
	Default string `json:"default,omitempty"`
	// Text is the rule in one line, e.g. "tcp 443 from 0.0.0.0/0 accept".
	Text string `json:"text,omitempty"`
}

// Verdict is a cloud's answer for a flow.
type Verdict struct {
	Allowed bool `json:"allowed"`
	// Indeterminate, when set, says why the answer cannot be given without
	// guessing (a source group whose membership is unknown, a prefix list
	// that could not be read); Allowed is then meaningless.
	Indeterminate string `json:"indeterminate,omitempty"`
	// Stage is where a denied flow stops (StageACLIngress,
	// StageSecurityGroup, StageACLEgress); for an allowed flow, the stage
	// of Rule.
	Stage string `json:"stage,omitempty"`
	// Rule is the deciding rule of Stage; Allowing lists the rule of each
	// stage that let an allowed flow through.
	Rule     *RuleRef  `json:"rule,omitempty"`
	Allowing []RuleRef `json:"allowing,omitempty"`
	Reason   string    `json:"reason,omitempty"`
	// Assumptions the verdict rests on, in words: what the read could not
	// show and was taken to be absent (a member of a source group that the
	// member listing does not show).
	Assumptions []string `json:"assumptions,omitempty"`
}

package cloud

import (
	"context"
	"net/netip"

	"github.com/hashicorp/hcl/v2"
)

// Backend is one cloud behind L6, registered under its provider type (the
// label of `provider "aws" {}`). It is the whole of what the runner knows
// about a cloud: the runner decodes, reads, resolves, judges and writes
// fixes only through it, so adding a cloud is one package that calls
// Register in init plus one import line in providers/all.
//
// The seam is typed end to end. A backend decodes its own provider block
// (Configure, the way a Terraform provider validates its own
// configuration) and returns the result as a Reader already bound to its
// credentials and endpoints: the runner never holds a backend's decoded
// settings and never hands them back, so nothing crosses as `any` and no
// backend type-asserts what it gets. Everything else — snapshots,
// interfaces, flows, verdicts, denials — is this package's plain data.
type Backend interface {
	// Configure decodes and validates a provider block of this type
	// against the backend's own arguments. It never calls the cloud:
	// validate and plan run offline. Its diagnostics point into the block
	// (an argument's range, or the block's header for a missing one).
	Configure(b Block) (Reader, hcl.Diagnostics)

	// CheckRule reports what this cloud cannot express in a declared
	// security group rule (AWS: a drop policy, a priority); nil when
	// nothing. The runner turns each problem into a diagnostic on the
	// named attribute.
	CheckRule(r DeclaredRule) []RuleProblem

	// Resolve finds the interfaces of a target (an instance id, an
	// interface id or an address, as the cloud names them) in a snapshot
	// this backend read. An unknown form or no match is an error.
	Resolve(s *Snapshot, target string) ([]Interface, error)

	// Evaluate judges an inbound flow to iface with the cloud's own
	// semantics, on the snapshot alone (no calls).
	Evaluate(s *Snapshot, iface *Interface, f Flow) Verdict

	// Fix returns the cloud's commands that admit every denial, one per
	// line, in the order of denials; nil when it has none to offer (the
	// runner then says where to look).
	Fix(s *Snapshot, iface *Interface, denials []Denial) []string

	// RequiredActions are the permissions Read needs, all read-only (IAM
	// actions, RAM actions…); LeastPrivilegePolicy is the policy
	// document that grants exactly them.
	RequiredActions() []string
	LeastPrivilegePolicy() string
}

// Block is a provider block as config keeps it, for its backend to
// decode: the body undecoded, like Terraform's configs.Provider, and the
// context its expressions are evaluated in.
type Block struct {
	// Type is the block's label ("aws").
	Type string
	// Body is the block's body, decoded by the backend against its own
	// schema.
	Body hcl.Body
	// EvalContext evaluates the body's expressions: var.*, local.* and
	// the functions (a provider is configured before any host exists).
	EvalContext *hcl.EvalContext
	// DeclRange is the block's header, for a diagnostic about the whole
	// block such as a missing argument.
	DeclRange hcl.Range
}

// Reader is a provider block decoded by its backend: one account and
// region, with the credentials and endpoints the block names, ready to
// read. Configure builds it without calling the cloud.
type Reader interface {
	// Region is the region the block declares; "" when the cloud's own
	// configuration chooses it (AWS_REGION, a profile).
	Region() string
	// Read reads what scope needs into a snapshot.
	Read(ctx context.Context, scope Scope) (*Snapshot, error)
}

// Scope is what a read covers.
type Scope struct {
	// Targets are what L6 checks name (instance ids, interface ids,
	// addresses), in the backend's forms.
	Targets []string
	// Groups are security group ids to read in addition (the declared
	// ones).
	Groups []string
	// All reads every interface, group and network ACL of the region (an
	// audit); the snapshot is then Complete.
	All bool
}

// Denial is what one fix must admit: the addresses one stage denies by
// one rule (or default), as the fewest prefixes, and the flow of the first
// of them (protocol, port, ephemeral range).
type Denial struct {
	Stage    string // StageACLIngress, StageSecurityGroup, StageACLEgress
	Rule     *RuleRef
	Flow     Flow
	Prefixes []netip.Prefix
}

// RuleProblem is something a cloud cannot express in a declared rule.
type RuleProblem struct {
	// Attr is the rule's attribute at fault ("policy"); the diagnostic
	// points at it, or at the rule block when it is not set.
	Attr    string
	Summary string
	Detail  string
}

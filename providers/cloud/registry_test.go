package cloud

import (
	"fmt"
	"slices"
	"testing"

	"github.com/hashicorp/hcl/v2"
)

// nopBackend is a Backend that does nothing: the registry only stores it.
type nopBackend struct{ name string }

func (nopBackend) Configure(Block) (Reader, hcl.Diagnostics)      { return nil, nil }
func (nopBackend) CheckRule(DeclaredRule) []RuleProblem           { return nil }
func (nopBackend) Resolve(*Snapshot, string) ([]Interface, error) { return nil, nil }
func (nopBackend) Evaluate(*Snapshot, *Interface, Flow) Verdict   { return Verdict{} }
func (nopBackend) Fix(*Snapshot, *Interface, []Denial) []string   { return nil }
func (nopBackend) RequiredActions() []string                      { return nil }
func (nopBackend) LeastPrivilegePolicy() string                   { return "" }

// Register panics on what is a programming error (like database/sql),
// Lookup finds only what was registered, Types is sorted.
func TestRegistry(t *testing.T) {
	a, b := nopBackend{"a"}, nopBackend{"b"}
	type reg struct {
		typ string
		b   Backend
	}
	for _, tc := range []struct {
		name  string
		regs  []reg
		panic string // "" = none
		types []string
	}{
		{name: "empty", types: []string{}},
		{name: "sorted", regs: []reg{{"zcloud", a}, {"aws", b}, {"fake3", a}}, types: []string{"aws", "fake3", "zcloud"}},
		{name: "nil backend", regs: []reg{{"aws", nil}}, panic: `cloud: Register of a nil backend for "aws"`},
		{name: "duplicate", regs: []reg{{"aws", a}, {"aws", b}}, panic: `cloud: Register called twice for "aws"`},
		{name: "empty type", regs: []reg{{"", a}}, panic: `cloud: Register with type "", which is not an identifier (provider.TYPE could not refer to it)`},
		{name: "type with a dot", regs: []reg{{"my.cloud", a}}, panic: `cloud: Register with type "my.cloud", which is not an identifier (provider.TYPE could not refer to it)`},
		{name: "type with a leading digit", regs: []reg{{"3cloud", a}}, panic: `cloud: Register with type "3cloud", which is not an identifier (provider.TYPE could not refer to it)`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var r registry
			got := func() (msg string) {
				defer func() {
					if p := recover(); p != nil {
						msg = fmt.Sprint(p)
					}
				}()
				for _, x := range tc.regs {
					r.register(x.typ, x.b)
				}
				return ""
			}()
			if got != tc.panic {
				t.Fatalf("panic %q, want %q", got, tc.panic)
			}
			if tc.panic != "" {
				return
			}
			if types := r.types(); !slices.Equal(types, tc.types) {
				t.Errorf("types %q, want %q", types, tc.types)
			}
			for _, x := range tc.regs {
				if got, ok := r.lookup(x.typ); !ok || got != x.b {
					t.Errorf("lookup(%q) = %v, %v; want the registered backend", x.typ, got, ok)
				}
			}
			if _, ok := r.lookup("gcp"); ok {
				t.Error("lookup of an unregistered type succeeded")
			}
		})
	}
}

package cloud

import (
	"slices"
	"testing"
)

func TestFreeRuleNumbers(t *testing.T) {
	acl := &NetworkACL{ID: "acl-1", Entries: []ACLEntry{
		entry(90, false, ProtoAll, AllPorts, "192.0.2.0/24", Drop),
		entry(89, false, ProtoTCP, p1(22), "10.0.0.0/8", Accept),
		entry(100, false, ProtoTCP, AllPorts, "0.0.0.0/0", Accept),
		entry(32766, false, ProtoUDP, AllPorts, "10.0.0.0/8", Accept),
		entry(32767, false, ProtoAll, AllPorts, "0.0.0.0/0", Drop),
		entry(32768, false, ProtoAll, AllPorts, "::/0", Drop),
		entry(88, true, ProtoAll, AllPorts, "0.0.0.0/0", Accept),
		entry(32767, true, ProtoAll, AllPorts, "0.0.0.0/0", Drop),
	}}
	for _, tc := range []struct {
		name   string
		egress bool
		before int
		n      int
		want   []int
	}{
		{"below a deny, skipping a used number", false, 90, 2, []int{88, 87}},
		{"implicit deny: below the catch-all", false, 0, 1, []int{32765}},
		{"IPv6 catch-all: never 32767", false, 32768, 1, []int{32765}},
		{"IPv4 catch-all", false, 32767, 2, []int{32765, 32764}},
		{"each direction has its own numbers", true, 89, 1, []int{87}},
		{"no room below 1", false, 1, 1, nil},
		{"room for fewer than asked", true, 3, 5, []int{2, 1}},
	} {
		taken := map[int]bool{}
		if got := FreeRuleNumbers(acl, tc.egress, tc.before, tc.n, taken); !slices.Equal(got, tc.want) {
			t.Errorf("%s: FreeRuleNumbers = %v, want %v", tc.name, got, tc.want)
		}
	}
	// Numbers handed out are not handed out again.
	taken := map[int]bool{}
	a := FreeRuleNumbers(acl, false, 90, 1, taken)
	b := FreeRuleNumbers(acl, false, 90, 1, taken)
	if !slices.Equal(a, []int{88}) || !slices.Equal(b, []int{87}) {
		t.Errorf("successive calls: %v then %v, want [88] then [87]", a, b)
	}
}

func TestInsertPosition(t *testing.T) {
	sys := func(e ACLEntry) ACLEntry { e.System = true; return e }
	acl := &NetworkACL{ID: "nacl-1", Entries: []ACLEntry{
		entry(1, false, ProtoTCP, p1(22), "203.0.113.0/24", Accept),
		entry(2, false, ProtoTCP, p1(22), "0.0.0.0/0", Drop),
		entry(3, false, ProtoAll, AllPorts, "0.0.0.0/0", Accept),
		sys(entry(4, false, ProtoAll, AllPorts, "0.0.0.0/0", Drop)),
		entry(1, true, ProtoAll, AllPorts, "0.0.0.0/0", Accept),
		sys(entry(2, true, ProtoAll, AllPorts, "0.0.0.0/0", Drop)),
	}}
	for _, tc := range []struct {
		egress       bool
		before, want int
	}{
		{false, 2, 2}, // before the custom drop
		{false, 4, 4}, // a system entry: after the custom ones
		{false, 0, 4}, // nothing matched
		{true, 2, 2},
		{true, 0, 2},
		{true, 1, 1},
	} {
		if got := InsertPosition(acl, tc.egress, tc.before); got != tc.want {
			t.Errorf("InsertPosition(egress %v, before %d) = %d, want %d", tc.egress, tc.before, got, tc.want)
		}
	}
}

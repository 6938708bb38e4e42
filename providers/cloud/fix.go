package cloud

// This file holds what a fix needs to know about where a new network ACL
// entry goes: AWS numbers entries (1 to 32766 for users' entries, the
// catch-all "*" last), Alibaba Cloud orders them by position in a list
// that UpdateNetworkAclEntries replaces as a whole.

// MaxAWSRuleNumber is the highest number an AWS network ACL entry can
// have ("*", the catch-all, comes after it: 32767, and 32768 for ::/0).
const MaxAWSRuleNumber = 32766

// FreeRuleNumbers returns up to n AWS rule numbers that no entry of acl's
// inbound (egress false) or outbound entries has and taken does not hold,
// below the number of the entry a new one must precede — the highest
// first, closest to it. before 0 (no entry matched: the implicit deny) and
// the catch-all's numbers mean "before the catch-all". The numbers handed
// out are added to taken, so that successive calls never repeat one.
// Fewer than n come back when the room below is used up.
func FreeRuleNumbers(acl *NetworkACL, egress bool, before, n int, taken map[int]bool) []int {
	if before <= 0 || before > MaxAWSRuleNumber {
		before = MaxAWSRuleNumber + 1
	}
	used := map[int]bool{}
	if acl != nil {
		for _, e := range acl.Entries {
			if e.Egress == egress {
				used[e.Number] = true
			}
		}
	}
	var out []int
	for k := before - 1; k >= 1 && len(out) < n; k-- {
		if !used[k] && !taken[k] {
			out = append(out, k)
			taken[k] = true
		}
	}
	return out
}

// InsertPosition is the 1-based position in acl's entries of one direction
// (Alibaba Cloud evaluates them in list order: the custom entries, then
// the system ones) at which a new entry is evaluated before the entry at
// position before: that position when the entry is a custom one; when it
// is a system entry, or when no entry decided (before 0), right after the
// last custom entry.
func InsertPosition(acl *NetworkACL, egress bool, before int) int {
	custom := 0
	system := false
	for _, e := range acl.Entries {
		if e.Egress != egress {
			continue
		}
		if e.Number == before && e.System {
			system = true
		}
		if !e.System {
			custom++
		}
	}
	if before <= 0 || system || before > custom {
		return custom + 1
	}
	return before
}

// ACL returns the snapshot's network ACL with id, or nil: a fix inserts
// its entry relative to that ACL's own entries.
func (s *Snapshot) ACL(id string) *NetworkACL {
	for _, a := range s.ACLs {
		if a != nil && a.ID == id {
			return a
		}
	}
	return nil
}

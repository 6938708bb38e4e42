package iptables

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/portcheck/portcheck/providers/firewall"
)

// FuzzParse checks that Parse never panics and that what it accepts is a
// consistent model.
func FuzzParse(f *testing.F) {
	for _, pattern := range []string{"testdata/*.save", "testdata/*.rules"} {
		files, err := filepath.Glob(pattern)
		if err != nil {
			f.Fatal(err)
		}
		for _, file := range files {
			b, err := os.ReadFile(file)
			if err != nil {
				f.Fatal(err)
			}
			f.Add(b, filepath.Base(file)[:5] == "rich6")
		}
	}
	f.Fuzz(func(t *testing.T, save []byte, v6 bool) {
		family := firewall.FamilyIP
		if v6 {
			family = firewall.FamilyIP6
		}
		tables, err := Parse(save, family, firewall.BackendIptablesNft)
		if err != nil {
			return
		}
		for _, tb := range tables {
			checkTable(t, tb, family)
		}
	})
}

func checkTable(t *testing.T, tb *firewall.Table, family string) {
	user := map[string]bool{}
	for _, c := range tb.Chains {
		user[c.Name] = c.Hook == ""
	}
	for _, c := range tb.Chains {
		for i, r := range c.Rules {
			if r.Number != i+1 || r.Text == "" {
				t.Fatalf("%s %s rule %d: number %d, text %q", tb.Name, c.Name, i+1, r.Number, r.Text)
			}
			if k := r.Verdict.Kind; (k == firewall.VerdictJump || k == firewall.VerdictGoto) && !user[r.Verdict.Chain] {
				t.Fatalf("%s %s rule %d: %s to %q, not a user chain", tb.Name, c.Name, r.Number, k, r.Verdict.Chain)
			}
			for _, m := range r.Matches {
				for _, p := range m.Prefixes {
					if !p.IsValid() || p.Addr().Is4() != (family == firewall.FamilyIP) {
						t.Fatalf("%s %s rule %d: prefix %v in family %s", tb.Name, c.Name, r.Number, p, family)
					}
				}
				if len(m.Prefixes)+len(m.Ranges)+len(m.Names) == 0 && !valueless[m.Field] {
					t.Fatalf("%s %s rule %d: match on %s without values", tb.Name, c.Name, r.Number, m.Field)
				}
			}
		}
	}
}

// valueless are the fields whose matches carry no values: they hold or
// not by themselves.
var valueless = map[firewall.Field]bool{
	firewall.FieldFragment: true, firewall.FieldIPsec: true, firewall.FieldRandom: true,
	firewall.FieldAssumed: true, firewall.FieldRPF: true,
}

package config

import (
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/hashicorp/hcl/v2"
)

var updatePorts = flag.Bool("update-ports", false, "rewrite testdata/ports goldens")

func portsSrc(body string) []byte {
	return []byte("variable \"ports\" {\n  default = [443, \"9000-9002\"]\n}\n\nhost \"web\" {\n  address = \"10.0.0.5\"\n}\n\nendpoint \"web\" {\n  host = host.web\n" + body + "\n}\n")
}

// TestPortForms: each accepted form of port, stored as sorted ranges.
func TestPortForms(t *testing.T) {
	tests := []struct {
		name string
		body string
		want PortSet
		max  int
	}{
		{"number", `port = 80`, PortSet{{80, 80}}, 0},
		{"string", `port = "80"`, PortSet{{80, 80}}, 0},
		{"range", `port = "8000-8010"`, PortSet{{8000, 8010}}, 0},
		{"list sorted", `port = [443, 80, "8000-8010"]`, PortSet{{80, 80}, {443, 443}, {8000, 8010}}, 0},
		{"adjacent merged", `port = [81, 80, "82-90", 91]`, PortSet{{80, 91}}, 0},
		{"list of one", `port = [22]`, PortSet{{22, 22}}, 0},
		{"from a variable", `port = var.ports`, PortSet{{443, 443}, {9000, 9002}}, 0},
		{"from a for expression", `port = [for p in [3, 1, 2] : p + 8000]`, PortSet{{8001, 8003}}, 0},
		{"a set", `port = toset([5, 6])`, PortSet{{5, 6}}, 0},
		{"1024 without max_ports", `port = "1-1024"`, PortSet{{1, 1024}}, 0},
		{"every port with max_ports", "port = \"1-65535\"\nmax_ports = 65535", PortSet{{1, 65535}}, 65535},
		{"max_ports above the count", "port = [22, \"20000-29999\"]\nmax_ports = 20000", PortSet{{22, 22}, {20000, 29999}}, 20000},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cfg, diags := LoadSources(map[string][]byte{"p.pc.hcl": portsSrc(tt.body)}, Options{})
			if diags.HasErrors() {
				t.Fatalf("diagnostics:\n%s", diagText(cfg, diags))
			}
			e := cfg.Endpoints[0]
			if diff := cmp.Diff(tt.want, e.Ports); diff != "" {
				t.Errorf("ports (-want +got):\n%s", diff)
			}
			if e.MaxPorts != tt.max {
				t.Errorf("MaxPorts = %d, want %d", e.MaxPorts, tt.max)
			}
		})
	}
}

// TestPortErrorsGolden: the full text of each port diagnostic (summary,
// detail, file:line, source line) against testdata/ports/NAME.golden.
func TestPortErrorsGolden(t *testing.T) {
	tests := []struct{ name, body string }{
		{"empty_list", `port = []`},
		{"duplicate", `port = [80, 443, 80]`},
		{"overlap", `port = ["8000-8010", 22, "8005-8020"]`},
		{"overlap_earlier_range", `port = [8005, "8000-8010"]`},
		{"duplicate_from_variable", `port = concat(var.ports, [9001])`},
		{"bad_elements", `port = [80, "x", 0, "9-8", true, null]`},
		{"too_many", `port = "1-65535"`},
		{"too_many_list", `port = [22, "10000-12000"]`},
		{"over_max_ports", "port = \"20000-29999\"\nmax_ports = 5000"},
		{"max_ports_range", "port = 80\nmax_ports = 70000"},
		{"null", `port = null`},
		{"object", `port = {a = 1}`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cfg, diags := LoadSources(map[string][]byte{"p.pc.hcl": portsSrc(tt.body)}, Options{})
			if !diags.HasErrors() {
				t.Fatalf("no error for %s", tt.body)
			}
			for _, d := range diags {
				if d.Subject == nil || d.Subject.Start.Line < 11 {
					t.Errorf("diagnostic not on the port lines: %s (%v)", d.Summary, d.Subject)
				}
			}
			got := diagText(cfg, diags)
			golden := filepath.Join("testdata", "ports", tt.name+".golden")
			if *updatePorts {
				if err := os.MkdirAll(filepath.Dir(golden), 0o755); err != nil {
					t.Fatal(err)
				}
				if err := os.WriteFile(golden, []byte(got), 0o644); err != nil {
					t.Fatal(err)
				}
			}
			want, err := os.ReadFile(golden)
			if err != nil {
				t.Fatalf("%v (run with -update-ports)", err)
			}
			if diff := cmp.Diff(string(want), got); diff != "" {
				t.Errorf("diagnostics (-want +got):\n%s", diff)
			}
		})
	}
}

func TestPortSetMethods(t *testing.T) {
	s := PortSet{{80, 80}, {443, 443}, {8000, 8002}}
	if s.Len() != 5 || s.First() != 80 || s.Last() != 8002 || s.Single() || s.Contiguous() {
		t.Errorf("Len %d First %d Last %d Single %v Contiguous %v", s.Len(), s.First(), s.Last(), s.Single(), s.Contiguous())
	}
	if got := s.String(); got != "80,443,8000-8002" {
		t.Errorf("String = %q", got)
	}
	if got := slices.Collect(s.All()); !slices.Equal(got, []int{80, 443, 8000, 8001, 8002}) {
		t.Errorf("All = %v", got)
	}
	for p, want := range map[int]bool{79: false, 80: true, 81: false, 443: true, 7999: false, 8001: true, 8002: true, 8003: false} {
		if s.Contains(p) != want {
			t.Errorf("Contains(%d) = %v", p, !want)
		}
	}
	if !SinglePort(5).Single() || PortSet(nil).Len() != 0 || PortSet(nil).String() != "" {
		t.Error("single or empty set")
	}
}

// FuzzPorts: any port attribute loads without a panic; an accepted one is
// sorted, disjoint and not adjacent, holds exactly the ports written (each
// once), and stays within max_ports; a rejected one points at the port or
// max_ports line.
func FuzzPorts(f *testing.F) {
	for _, s := range []string{`80`, `"8000-8010"`, `[80, 443, "8000-8010"]`, `[]`, `[80, 80]`, `["1-65535"]`,
		`["8000-8010", "8005-8020"]`, `[1, "2-3", 4]`, `"-"`, `" 5 - 7 "`, `[65535, "1-2"]`, `"0-0"`, `[true]`, `var.ports`} {
		f.Add(s, 0)
		f.Add(s, 65535)
	}
	f.Fuzz(func(t *testing.T, expr string, maxPorts int) {
		if strings.ContainsAny(expr, "\n\r{}#/") {
			return // one attribute's expression, not a new block or comment
		}
		body := "port = " + expr
		if maxPorts != 0 {
			body += fmt.Sprintf("\nmax_ports = %d", maxPorts)
		}
		cfg, diags := LoadSources(map[string][]byte{"p.pc.hcl": portsSrc(body)}, Options{})
		if cfg == nil {
			t.Fatal("nil Config")
		}
		for _, d := range diags {
			if d.Severity == hcl.DiagError && d.Subject == nil {
				t.Errorf("error without a subject: %s", d.Summary)
			}
		}
		if diags.HasErrors() || len(cfg.Endpoints) != 1 {
			return
		}
		ps := cfg.Endpoints[0].Ports
		if len(ps) == 0 {
			t.Fatalf("accepted %q without ports", expr)
		}
		for i, r := range ps {
			if r.From < 1 || r.To > 65535 || r.From > r.To {
				t.Fatalf("bad range %v in %v", r, ps)
			}
			if i > 0 && ps[i-1].To+1 >= r.From {
				t.Fatalf("ranges not sorted, disjoint and merged: %v", ps)
			}
		}
		limit := maxPortsDefault
		if maxPorts != 0 {
			limit = maxPorts
		}
		if n := ps.Len(); n > limit {
			t.Fatalf("%d ports accepted over the limit %d", n, limit)
		}
		n := 0
		for p := range ps.All() {
			if !ps.Contains(p) {
				t.Fatalf("Contains(%d) false for a port of %v", p, ps)
			}
			n++
		}
		if n != ps.Len() {
			t.Fatalf("All yields %d, Len %d", n, ps.Len())
		}
	})
}

// FuzzParsePortRange: the string parser never panics and accepts only
// ranges within 1-65535.
func FuzzParsePortRange(f *testing.F) {
	for _, s := range []string{"80", "8000-8010", "1-65535", "0", "65536", "-", "5-", "-5", " 7 - 9 ", "9-8", "+5", "1--2", "٣"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		r, err := ParsePortRange(s)
		if err != nil {
			if err.summary == "" || err.detail == "" {
				t.Fatalf("empty error for %q", s)
			}
			return
		}
		if r.From < 1 || r.To > 65535 || r.From > r.To {
			t.Fatalf("%q accepted as %v", s, r)
		}
	})
}

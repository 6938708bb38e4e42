package firewalld

import (
	"testing"

	"github.com/google/go-cmp/cmp"
)

func TestDiff(t *testing.T) {
	base := func(edit func(z *Zone)) map[string]*Zone {
		z := &Zone{Name: "public", Target: "default", Services: []string{"ssh"}, Forward: true}
		if edit != nil {
			edit(z)
		}
		return map[string]*Zone{"public": z}
	}
	tests := []struct {
		name               string
		runtime, permanent map[string]*Zone
		want               []Drift
	}{
		{"same", base(nil), base(nil), nil},
		{"runtime-only port",
			base(func(z *Zone) { z.Ports = []Port{{"8080", "tcp"}} }), base(nil),
			[]Drift{{Zone: "public", Kind: "port", Item: "8080/tcp", Runtime: true}}},
		{"permanent-only port and service",
			base(nil), base(func(z *Zone) { z.Ports = []Port{{"9090", "tcp"}}; z.Services = append(z.Services, "http") }),
			[]Drift{
				{Zone: "public", Kind: "service", Item: "http", Permanent: true},
				{Zone: "public", Kind: "port", Item: "9090/tcp", Permanent: true},
			}},
		{"same ports, listed differently",
			base(func(z *Zone) { z.Ports = []Port{{"8000-8100", "tcp"}} }),
			base(func(z *Zone) { z.Ports = []Port{{"8000-8050", "tcp"}, {"8040-8100", "tcp"}} }),
			nil},
		{"protocol matters",
			base(func(z *Zone) { z.Ports = []Port{{"53", "udp"}} }),
			base(func(z *Zone) { z.Ports = []Port{{"53", "tcp"}} }),
			[]Drift{
				{Zone: "public", Kind: "port", Item: "53/tcp", Permanent: true},
				{Zone: "public", Kind: "port", Item: "53/udp", Runtime: true},
			}},
		{"partial range",
			base(func(z *Zone) { z.Ports = []Port{{"8000-8100", "tcp"}} }),
			base(func(z *Zone) { z.Ports = []Port{{"8000-8050", "tcp"}} }),
			[]Drift{{Zone: "public", Kind: "port", Item: "8000-8100/tcp", Runtime: true}}},
		{"bindings and flags",
			base(func(z *Zone) { z.Interfaces = []string{"eth0"}; z.Masquerade = true }),
			base(func(z *Zone) { z.Sources = []string{"10.0.0.0/8"}; z.Forward = false }),
			[]Drift{
				{Zone: "public", Kind: "masquerade", Item: "masquerade", Runtime: true},
				{Zone: "public", Kind: "forward", Item: "forward", Runtime: true},
				{Zone: "public", Kind: "interface", Item: "eth0", Runtime: true},
				{Zone: "public", Kind: "source", Item: "10.0.0.0/8", Permanent: true},
			}},
		{"target, rich rule, forward port",
			base(func(z *Zone) {
				z.RichRules = []string{`rule family="ipv4" source address="10.0.0.0/8" accept`}
				z.ForwardPorts = []ForwardPort{{Port: "2222", Protocol: "tcp", ToPort: "22"}}
			}),
			base(func(z *Zone) { z.Target = "DROP" }),
			[]Drift{
				{Zone: "public", Kind: "target", Item: "DROP", Permanent: true},
				{Zone: "public", Kind: "target", Item: "default", Runtime: true},
				{Zone: "public", Kind: "rich_rule", Item: `rule family="ipv4" source address="10.0.0.0/8" accept`, Runtime: true},
				{Zone: "public", Kind: "forward_port", Item: "port=2222:proto=tcp:toport=22:toaddr=", Runtime: true},
			}},
		{"zones on one side only, sorted by zone",
			map[string]*Zone{"b": {Name: "b"}, "new": {Name: "new"}},
			map[string]*Zone{"a": {Name: "a"}, "b": {Name: "b"}},
			[]Drift{
				{Zone: "a", Kind: "zone", Item: "a", Permanent: true},
				{Zone: "new", Kind: "zone", Item: "new", Runtime: true},
			}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := Diff(tt.runtime, tt.permanent)
			if d := cmp.Diff(tt.want, got); d != "" {
				t.Errorf("(-want +got):\n%s", d)
			}
		})
	}
}

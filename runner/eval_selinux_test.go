package runner

import (
	"net/netip"
	"strings"
	"testing"

	"github.com/portcheck/portcheck/config"
	"github.com/portcheck/portcheck/providers"
	"github.com/portcheck/portcheck/providers/selinux"
)

// The seed's case 2 and its neighbours, judged on recorded facts.
func TestEvalSELinux(t *testing.T) {
	yes, no := true, false
	c := &Check{Layer: providers.LayerSELinux, Name: "selinux", Target: providers.Target{Address: netip.MustParseAddr("10.0.0.5"), Port: 9090, Protocol: "tcp"}}
	want := &config.ExpectSELinux{Type: "http_port_t", Domain: "httpd_t", Mode: "enforcing"}
	enforcing := selinux.Facts{Enabled: true, RuntimeMode: "enforcing", ConfigMode: "enforcing", Domain: "httpd_t"}
	with := func(f selinux.Facts, edit func(*selinux.Facts)) *selinux.Facts { edit(&f); return &f }
	tests := []struct {
		name    string
		x       *config.ExpectSELinux
		f       *selinux.Facts
		status  Status
		summary string
		hint    string
	}{
		{"9090 is websm_port_t: -m, not -a", want,
			with(enforcing, func(f *selinux.Facts) { f.PortType, f.PortRange, f.NameBind = "websm_port_t", "9090-9090", &no }),
			StatusFail, "9090/tcp is websm_port_t, not http_port_t", "semanage port -m -t http_port_t -p tcp 9090"},
		{"unlabelled high port: -a", want,
			with(enforcing, func(f *selinux.Facts) { f.PortType, f.PortRange = "unreserved_port_t", "1024-32767" }),
			StatusFail, "is unreserved_port_t", "semanage port -a -t http_port_t -p tcp 9090"},
		{"bind denied without a declared type", &config.ExpectSELinux{Domain: "httpd_t"},
			with(enforcing, func(f *selinux.Facts) { f.PortType, f.NameBind = "websm_port_t", &no }),
			StatusFail, "does not let httpd_t bind", "sesearch -A -s httpd_t"},
		{"recent AVC denial", &config.ExpectSELinux{},
			with(enforcing, func(f *selinux.Facts) {
				f.PortType = "http_port_t"
				f.Denials = []selinux.Denial{{Line: "avc:  denied  { name_bind } for src=9090"}}
			}),
			StatusFail, "recent AVC denial", ""},
		{"labelled and allowed", want,
			with(enforcing, func(f *selinux.Facts) { f.PortType, f.NameBind = "http_port_t", &yes }),
			StatusPass, "9090/tcp is http_port_t; SELinux enforcing; httpd_t may bind it", ""},
		{"permissive now, enforcing after reboot", &config.ExpectSELinux{},
			with(enforcing, func(f *selinux.Facts) { f.RuntimeMode, f.PortType = "permissive", "http_port_t" }),
			StatusDrift, "changes at the next reboot", ""},
		{"declared enforcing, runs permissive", &config.ExpectSELinux{Mode: "enforcing"},
			with(enforcing, func(f *selinux.Facts) {
				f.RuntimeMode, f.ConfigMode, f.PortType = "permissive", "permissive", "http_port_t"
			}),
			StatusDrift, "SELinux is permissive, declared enforcing", ""},
		{"declared enforcing on a host without SELinux", want, &selinux.Facts{RuntimeMode: "disabled"},
			StatusDrift, "SELinux is disabled", ""},
		{"no SELinux and nothing declared about the mode", &config.ExpectSELinux{Type: "http_port_t"}, &selinux.Facts{RuntimeMode: "disabled"},
			StatusSkip, "not enabled", ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := evalSELinux(c, tt.x, tt.f)
			if r.Status != tt.status || !strings.Contains(r.Summary, tt.summary) || !strings.Contains(r.Hint, tt.hint) {
				t.Errorf("%s %q hint %q; want %s with %q, hint with %q", r.Status, r.Summary, r.Hint, tt.status, tt.summary, tt.hint)
			}
			if (r.Status == StatusFail || r.Status == StatusDrift) && r.Cause != CauseSELinuxDenied {
				t.Errorf("cause %q, want selinux_denied", r.Cause)
			}
		})
	}
}

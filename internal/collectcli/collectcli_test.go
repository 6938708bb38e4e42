package collectcli

import (
	"bytes"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

func TestParseObservers(t *testing.T) {
	tests := []struct {
		in   string
		want []string
		err  string
	}{
		{"", nil, ""},
		{"sockets", []string{"sockets"}, ""},
		{"sockets, firewall", []string{"sockets", "firewall"}, ""},
		{"selinux,nope", nil, `unknown observer "nope"`},
	}
	for _, tt := range tests {
		got, err := parseObservers(tt.in)
		if tt.err != "" {
			if err == nil || !strings.Contains(err.Error(), tt.err) {
				t.Errorf("%q: err %v, want %q", tt.in, err, tt.err)
			}
			continue
		}
		if err != nil || cmp.Diff(tt.want, got) != "" {
			t.Errorf("%q: %v %v, want %v", tt.in, got, err, tt.want)
		}
	}
}

func TestUsageErrors(t *testing.T) {
	for _, tt := range []struct {
		run  func(args []string, out, errw *bytes.Buffer) int
		args []string
		want string
	}{
		{func(a []string, o, e *bytes.Buffer) int { return Collect("pc", "v", a, o, e) }, []string{"-observers", "x"}, "-observers"},
		{func(a []string, o, e *bytes.Buffer) int { return Probe("pc", a, strings.NewReader(""), o, e) }, []string{"-target", "nope"}, "want -target ADDR:PORT"},
		{func(a []string, o, e *bytes.Buffer) int { return Probe("pc", a, strings.NewReader(""), o, e) }, []string{"-target", "127.0.0.1:1", "-proto", "sctp"}, "-proto tcp|udp"},
		{func(a []string, o, e *bytes.Buffer) int { return Probe("pc", a, strings.NewReader(""), o, e) }, []string{"-target", "127.0.0.1:1", "-payload-hex", "zz"}, "-payload-hex"},
		{func(a []string, o, e *bytes.Buffer) int { return Probe("pc", a, strings.NewReader(""), o, e) }, nil, "want -target ADDR:PORT"},
		{func(a []string, o, e *bytes.Buffer) int { return Probe("pc", a, strings.NewReader(""), o, e) }, []string{"-stdio", "-target", "127.0.0.1:1"}, "no -target or arguments"},
		{func(a []string, o, e *bytes.Buffer) int { return Probe("pc", a, strings.NewReader(""), o, e) }, []string{"-stdio", "10.0.0.1:80"}, "no -target or arguments"},
		{func(a []string, o, e *bytes.Buffer) int { return Probe("pc", a, strings.NewReader(""), o, e) }, []string{"-stdio", "-netns", "no-such-ns-portcheck-test"}, "-netns"},
	} {
		var o, e bytes.Buffer
		if code := tt.run(tt.args, &o, &e); code != ExitUsage || !strings.Contains(e.String(), tt.want) {
			t.Errorf("%v: exit %d %q, want 2 and %q", tt.args, code, e.String(), tt.want)
		}
	}
}

func FuzzParseObservers(f *testing.F) {
	for _, s := range []string{"", "sockets", "sockets,firewall,selinux", ",", " selinux "} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		got, err := parseObservers(s)
		if err == nil {
			for _, o := range got {
				if o != "sockets" && o != "firewall" && o != "selinux" {
					t.Fatalf("%q accepted %q", s, o)
				}
			}
		}
	})
}

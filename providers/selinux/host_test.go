package selinux

import (
	"context"
	"encoding/json"
	"reflect"
	"testing"
)

// TestCollectRecordedEqualsLive collects the host's facts once for two
// domains, sends them through JSON (as a facts document would) and checks
// that every port judged from the recorded facts equals Observe's live
// answer: a collection judged elsewhere must decide the same.
func TestCollectRecordedEqualsLive(t *testing.T) {
	requireTools(t)
	root := fakeRoot(t, "1", "SELINUX=enforcing\nSELINUXTYPE=default\n")
	h, err := Collect(context.Background(), CollectParams{Root: root, Domains: []string{"httpd_t", "sshd_t"}})
	if err != nil {
		t.Fatal(err)
	}
	b, err := json.Marshal(h)
	if err != nil {
		t.Fatal(err)
	}
	var rec HostFacts
	if err := json.Unmarshal(b, &rec); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		port   int
		proto  string
		domain string
	}{
		{80, "tcp", "httpd_t"}, {8080, "tcp", "httpd_t"}, {9090, "tcp", "httpd_t"}, {22, "tcp", "sshd_t"},
		{22, "tcp", "httpd_t"}, {21, "tcp", "httpd_t"}, {45678, "tcp", ""}, {9090, "udp", "httpd_t"},
	} {
		got, err := rec.Port(tc.port, tc.proto, tc.domain)
		if err != nil {
			t.Fatal(err)
		}
		live, err := Observe(context.Background(), tc.port, tc.proto, Params{Root: root, Domain: tc.domain})
		if err != nil {
			t.Fatal(err)
		}
		got.Entries, live.Entries = nil, nil
		if !reflect.DeepEqual(got, live) {
			t.Errorf("%d/%s %s:\nrecorded %+v\nlive     %+v", tc.port, tc.proto, tc.domain, got, live)
		}
	}
	// A domain the facts were not collected for is said so, never guessed.
	f, err := rec.Port(80, "tcp", "named_t")
	if err != nil {
		t.Fatal(err)
	}
	if f.NameBind != nil || !hasNote(f.Notes, "-selinux-domain named_t") {
		t.Errorf("uncollected domain: name_bind %v notes %q", deref(f.NameBind), f.Notes)
	}
}

func TestJudgeBind(t *testing.T) {
	rules := []BindRule{
		{Class: "tcp_socket", Types: []string{"http_port_t", "http_cache_port_t"}},
		{Class: "tcp_socket", Types: []string{"ftp_port_t"}, Cond: "[ httpd_enable_ftp_server ]:True"},
		{Class: "tcp_socket", Types: []string{"port_t"}, Cond: "[ allow_ypbind ]:True"},
		{Class: "udp_socket", Types: []string{"dns_port_t"}, Cond: "[ a && b ]:True"},
	}
	tests := []struct {
		name     string
		typ      string
		class    string
		booleans map[string]bool
		want     *bool
		note     string
	}{
		{"unconditional", "http_port_t", "tcp_socket", nil, ptr(true), ""},
		{"no rule", "websm_port_t", "tcp_socket", nil, ptr(false), ""},
		{"other class", "http_port_t", "udp_socket", nil, ptr(false), ""},
		{"boolean on", "ftp_port_t", "tcp_socket", map[string]bool{"httpd_enable_ftp_server": true}, ptr(true), "allowed by boolean"},
		{"boolean off", "ftp_port_t", "tcp_socket", map[string]bool{"httpd_enable_ftp_server": false}, ptr(false), "setsebool -P httpd_enable_ftp_server on"},
		{"boolean unknown", "ftp_port_t", "tcp_socket", nil, nil, "runtime value is unknown"},
		{"compound condition", "dns_port_t", "udp_socket", nil, nil, "only under the condition"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := judgeBind(rules, tt.booleans, tt.typ, tt.class)
			if !reflect.DeepEqual(r.allowed, tt.want) || (tt.note != "" && !hasNote(r.notes, tt.note)) {
				t.Errorf("got %v %q, want %v with a note %q", deref(r.allowed), r.notes, deref(tt.want), tt.note)
			}
		})
	}
}

func TestParseAllow(t *testing.T) {
	tests := []struct {
		line    string
		targets []string
		cond    string
	}{
		{"allow httpd_t http_port_t:tcp_socket name_bind;", []string{"http_port_t"}, ""},
		{"allow nsswitch_domain port_t:tcp_socket name_bind; [ allow_ypbind ]:True", []string{"port_t"}, "[ allow_ypbind ]:True"},
		{"allow httpd_t { http_port_t http_cache_port_t }:tcp_socket name_bind;", []string{"http_port_t", "http_cache_port_t"}, ""},
	}
	for _, tt := range tests {
		targets, cond, ok := parseAllow(tt.line)
		if !ok || !reflect.DeepEqual(targets, tt.targets) || cond != tt.cond {
			t.Errorf("%q: %q %q %v", tt.line, targets, cond, ok)
		}
	}
	if _, _, ok := parseAllow("Found 3 rules"); ok {
		t.Error("a header parsed as a rule")
	}
}

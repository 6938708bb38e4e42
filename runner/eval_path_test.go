package runner

import (
	"net/netip"
	"strings"
	"testing"

	"github.com/portcheck/portcheck/config"
	"github.com/portcheck/portcheck/providers"
	pathtrace "github.com/portcheck/portcheck/providers/path"
)

func TestEvalPath(t *testing.T) {
	c := &Check{Layer: providers.LayerPath, Name: "path", From: "client", Target: providers.Target{Address: "10.0.3.2", Port: 8080, Protocol: "tcp"}}
	x := &config.ExpectPath{MaxHops: 30, Mode: "tcp", Via: []netip.Addr{netip.MustParseAddr("10.0.1.2")}}
	hops := []pathtrace.Hop{{TTL: 1, Addr: "10.0.1.2"}, {TTL: 2, Addr: ""}, {TTL: 3, Addr: "10.0.3.2", Final: true}}
	tests := []struct {
		name          string
		f             *pathtrace.Facts
		serverUnknown bool
		status        Status
		summary       string
	}{
		{"reached through the declared hop; a silent router is not the break", &pathtrace.Facts{Reached: true, Hops: hops}, false,
			StatusPass, "reached in 3 hops: 10.0.1.2 → * → 10.0.3.2"},
		{"reached, not through the declared hop", &pathtrace.Facts{Reached: true, Hops: hops[2:]}, false,
			StatusDrift, "not through 10.0.1.2"},
		{"stops after r1", &pathtrace.Facts{Hops: hops[:2], StopsAfter: "10.0.1.2", StopsAfterTTL: 1}, false,
			StatusFail, "stops after 10.0.1.2 (hop 1)"},
		{"stops, but the server side was not checkable", &pathtrace.Facts{Hops: hops[:2], StopsAfter: "10.0.1.2", StopsAfterTTL: 1}, true,
			StatusFail, "the server may be the cause"},
		{"ping blocked, port fine", &pathtrace.Facts{Reached: true, Hops: hops, Ping: &pathtrace.PingFacts{Sent: 2}}, false,
			StatusPass, "ping is blocked, the port is not"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := evalPath(c, x, tt.f, tt.serverUnknown)
			if r.Status != tt.status || !strings.Contains(r.Summary, tt.summary) {
				t.Errorf("%s %q, want %s with %q", r.Status, r.Summary, tt.status, tt.summary)
			}
			if r.Status == StatusFail && r.Cause != CausePathBroken {
				t.Errorf("cause %q, want path_broken", r.Cause)
			}
		})
	}
}

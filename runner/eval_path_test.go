package runner

import (
	"net/netip"
	"strings"
	"testing"

	"github.com/portcheck/portcheck/config"
	"github.com/portcheck/portcheck/providers"
	pathtrace "github.com/portcheck/portcheck/providers/path"
)

func pct(f float64) *float64 { return &f }

func TestEvalPath(t *testing.T) {
	c := &Check{Layer: providers.LayerPath, Name: "path", From: "client", Target: providers.Target{Address: netip.MustParseAddr("10.0.3.2"), Port: 8080, Protocol: "tcp"}}
	x := &config.ExpectPath{MaxHops: 30, Mode: "tcp", Via: []netip.Addr{netip.MustParseAddr("10.0.1.2")}}
	hops := []pathtrace.Hop{{TTL: 1, Addr: "10.0.1.2", Sent: 10, Received: 10}, {TTL: 2, Addr: "", Sent: 10}, {TTL: 3, Addr: "10.0.3.2", Final: true, Sent: 10, Received: 10}}
	answering := []pathtrace.Hop{{TTL: 1, Addr: "10.0.9.2", Sent: 10, Received: 10}, {TTL: 2, Addr: "10.0.3.2", Final: true, Sent: 10, Received: 10}}
	lossy := func(h2, end float64, notCarried bool) []pathtrace.Hop {
		return []pathtrace.Hop{{TTL: 1, Addr: "10.0.1.2", Sent: 10, Received: 10},
			{TTL: 2, Addr: "10.0.2.2", Sent: 10, Received: 10 - int(h2/10), LossPct: h2, LossNotCarried: notCarried},
			{TTL: 3, Addr: "10.0.3.2", Final: true, Sent: 10, Received: 10 - int(end/10), LossPct: end}}
	}
	loss := func(end, hop float64) *config.ExpectPath {
		return &config.ExpectPath{MaxHops: 30, Mode: "tcp", MaxLoss: pct(end), MaxHopLoss: pct(hop)}
	}
	tests := []struct {
		name          string
		x             *config.ExpectPath
		f             *pathtrace.Facts
		serverUnknown bool
		status        Status
		summary       string
		hint          string
	}{
		{"reached through the declared hop; a silent router is not the break", x, &pathtrace.Facts{Reached: true, Hops: hops}, false,
			StatusPass, "reached in 3 hops: 10.0.1.2 → * → 10.0.3.2", ""},
		{"11.3: a via address missing while a hop is silent cannot be judged", x, &pathtrace.Facts{Reached: true, Hops: hops[1:]}, false,
			StatusError, "cannot confirm the path goes through 10.0.1.2: hop 2 did not answer (*)", "silent router"},
		{"a via address missing, every hop answering: drift", x, &pathtrace.Facts{Reached: true, Hops: answering}, false,
			StatusDrift, "not through 10.0.1.2", ""},
		{"stops after r1; 11.6: the hint names r1's forward chain", x, &pathtrace.Facts{Hops: hops[:2], StopsAfter: "10.0.1.2", StopsAfterTTL: 1}, false,
			StatusFail, "stops after 10.0.1.2 (hop 1)", "check 10.0.1.2's forward chain first"},
		{"stops, but the server side was not checkable", x, &pathtrace.Facts{Hops: hops[:2], StopsAfter: "10.0.1.2", StopsAfterTTL: 1}, true,
			StatusFail, "the server may be the cause", ""},
		{"11.2: out of hops is not a broken path", &config.ExpectPath{MaxHops: 2, Mode: "tcp"}, &pathtrace.Facts{Mode: "tcp", Hops: hops[:2], StopsAfter: "10.0.1.2", StopsAfterTTL: 2, MaxHops: 2, OutOfHops: true}, false,
			StatusError, "the path is longer than max_hops = 2", "raise max_hops"},
		{"ping blocked, port fine", x, &pathtrace.Facts{Reached: true, Hops: hops, Ping: &pathtrace.PingFacts{Sent: 2}}, false,
			StatusPass, "ping is blocked, the port is not", ""},
		{"11.4: end-to-end loss above max_loss", loss(10, 100), &pathtrace.Facts{Reached: true, Hops: lossy(30, 30, false)}, false,
			StatusFail, "30% of the probes to the target were lost (3 of 10), more than max_loss = 10%", "loses packets"},
		{"11.4: hop loss that carries on, above max_hop_loss", loss(100, 20), &pathtrace.Facts{Reached: true, Hops: lossy(30, 30, false)}, false,
			StatusFail, "hop 2 (10.0.2.2) lost 30% (3 of 10) and the loss carries on", ""},
		{"11.4: ICMP rate limiting at a hop is not path loss", loss(0, 20), &pathtrace.Facts{Reached: true, Hops: lossy(40, 0, true)}, false,
			StatusPass, "reached in 3 hops", ""},
		{"11.4: loss without a declared limit is reported, not judged", x, &pathtrace.Facts{Reached: true, Hops: append([]pathtrace.Hop{hops[0]}, lossy(0, 20, false)[1:]...)}, false,
			StatusPass, "20% loss at the target", ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := evalPath(c, tt.x, tt.f, tt.serverUnknown)
			if r.Status != tt.status || !strings.Contains(r.Summary, tt.summary) {
				t.Errorf("%s %q, want %s with %q", r.Status, r.Summary, tt.status, tt.summary)
			}
			if !strings.Contains(r.Hint, tt.hint) {
				t.Errorf("hint %q, want %q in it", r.Hint, tt.hint)
			}
			if r.Status == StatusFail && r.Cause != CausePathBroken {
				t.Errorf("cause %q, want path_broken", r.Cause)
			}
			if r.Status == StatusError && r.Cause != "" {
				t.Errorf("cause %q on an error, want none", r.Cause)
			}
		})
	}
}

// Issue 11.1: a path block without mode traces with the endpoint's
// protocol.
func TestPathParamsModeFromProtocol(t *testing.T) {
	for _, tc := range []struct{ mode, proto, want string }{
		{"", "udp", "udp"}, {"", "tcp", "tcp"}, {"icmp", "udp", "icmp"}, {"tcp", "udp", "tcp"},
	} {
		x := &config.ExpectPath{Mode: tc.mode, MaxHops: 5, Rounds: 4}
		if got := pathParams(x, tc.proto); got.Mode != tc.want || got.Rounds != 4 || got.MaxHops != 5 {
			t.Errorf("mode %q protocol %s: %+v, want mode %s", tc.mode, tc.proto, got, tc.want)
		}
	}
}

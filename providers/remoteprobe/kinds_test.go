package remoteprobe

import (
	"context"
	"encoding/json"
	"reflect"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/portcheck/portcheck/providers"
	"github.com/portcheck/portcheck/providers/app"
	pathtrace "github.com/portcheck/portcheck/providers/path"
	"github.com/portcheck/portcheck/providers/probe"
)

// fakeObservers record what each observer was asked and answer fixed facts.
type fakeObservers struct {
	http   app.HTTPParams
	tls    app.TLSParams
	grpc   app.GRPCParams
	banner app.BannerParams
	trace  pathtrace.Params
}

var (
	httpFacts   = &app.HTTPFacts{Status: 200, StatusText: "200 OK", Body: "ok", DurationMs: 1.5}
	tlsFacts    = &app.TLSFacts{Handshake: true, Version: "TLS1.3", Verified: true, DurationMs: 3}
	grpcFacts   = &app.GRPCFacts{Status: "SERVING", DurationMs: 2}
	bannerFacts = &app.BannerFacts{Banner: "SSH-2.0-OpenSSH_9.2", Bytes: 19}
	traceFacts  = &pathtrace.Facts{Mode: "tcp", Reached: true, Hops: []pathtrace.Hop{{TTL: 1, Addr: "10.0.0.1", Sent: 2, Received: 2, Final: true}}}
)

func (f *fakeObservers) observers() Observers {
	return Observers{
		Probe: func(context.Context, providers.Exec, providers.Target, probe.Params) (probe.Outcome, error) {
			return probe.Outcome{State: probe.StateOpen}, nil
		},
		HTTP: func(_ context.Context, _ providers.Exec, _ providers.Target, p app.HTTPParams) (*app.HTTPFacts, error) {
			f.http = p
			return httpFacts, nil
		},
		TLS: func(_ context.Context, _ providers.Exec, _ providers.Target, p app.TLSParams) (*app.TLSFacts, error) {
			f.tls = p
			return tlsFacts, nil
		},
		GRPC: func(_ context.Context, _ providers.Exec, _ providers.Target, p app.GRPCParams) (*app.GRPCFacts, error) {
			f.grpc = p
			return grpcFacts, nil
		},
		Banner: func(_ context.Context, _ providers.Exec, _ providers.Target, p app.BannerParams) (*app.BannerFacts, error) {
			f.banner = p
			return bannerFacts, nil
		},
		Trace: func(_ context.Context, _ providers.Exec, _ providers.Target, p pathtrace.Params) (*pathtrace.Facts, error) {
			f.trace = p
			return traceFacts, nil
		},
	}
}

func sameJSON(t *testing.T, what string, got, want any) {
	t.Helper()
	a, _ := json.Marshal(got)
	b, _ := json.Marshal(want)
	if string(a) != string(b) {
		t.Errorf("%s:\n got %s\nwant %s", what, a, b)
	}
}

// TestKindsRoundTrip: the L5 and L7 observers' parameters reach the
// prober as declared (the body pattern as the same expression) and their
// facts come back whole.
func TestKindsRoundTrip(t *testing.T) {
	f := &fakeObservers{}
	c, _ := pipeObservers(t, f.observers())
	ctx := context.Background()
	tg := providers.Target{Address: tcpTarget.Address, Port: 443, Protocol: "tcp"}

	tp := app.TLSParams{ServerName: "www.example.com", Timeout: 3 * time.Second, RefuseBelow: 0x0303}
	hp := app.HTTPParams{Scheme: "https", Method: "HEAD", Path: "/healthz?x=1", HostHeader: "www.example.com", Headers: map[string]string{"X-A": "b"},
		TLS: tp, Insecure: true, Timeout: 4 * time.Second, MaxBody: 1000, BodyPattern: regexp.MustCompile(`^ok\s*$`)}
	hf, err := c.HTTP(ctx, providers.Exec{}, tg, hp)
	if err != nil {
		t.Fatal(err)
	}
	sameJSON(t, "http facts", hf, httpFacts)
	if f.http.BodyPattern == nil || f.http.BodyPattern.String() != hp.BodyPattern.String() {
		t.Errorf("body pattern %v, want %v", f.http.BodyPattern, hp.BodyPattern)
	}
	got, want := f.http, hp
	got.BodyPattern, want.BodyPattern = nil, nil
	if !reflect.DeepEqual(got, want) {
		t.Errorf("http params\n got %+v\nwant %+v", got, want)
	}

	tf, err := c.TLS(ctx, providers.Exec{}, tg, tp)
	if err != nil {
		t.Fatal(err)
	}
	sameJSON(t, "tls facts", tf, tlsFacts)
	if !reflect.DeepEqual(f.tls, tp) {
		t.Errorf("tls params %+v, want %+v", f.tls, tp)
	}

	gp := app.GRPCParams{Service: "svc", TLS: true, TLSParams: app.TLSParams{ServerName: "g"}, Timeout: time.Second}
	gf, err := c.GRPC(ctx, providers.Exec{}, tg, gp)
	if err != nil {
		t.Fatal(err)
	}
	sameJSON(t, "grpc facts", gf, grpcFacts)
	if !reflect.DeepEqual(f.grpc, gp) {
		t.Errorf("grpc params %+v, want %+v", f.grpc, gp)
	}

	bp := app.BannerParams{Send: "PING\r\n", Timeout: time.Second, MaxBytes: 64, Until: "\n"}
	bf, err := c.Banner(ctx, providers.Exec{}, tg, bp)
	if err != nil {
		t.Fatal(err)
	}
	sameJSON(t, "banner facts", bf, bannerFacts)
	if f.banner != bp {
		t.Errorf("banner params %+v, want %+v", f.banner, bp)
	}

	pp := pathtrace.Params{Mode: "udp", MaxHops: 12, Rounds: 3, Timeout: time.Second, Interval: -1}
	pf, err := c.Trace(ctx, providers.Exec{}, tg, pp)
	if err != nil {
		t.Fatal(err)
	}
	sameJSON(t, "trace facts", pf, traceFacts)
	if f.trace != pp {
		t.Errorf("trace params %+v, want %+v", f.trace, pp)
	}
}

// TestKindsRefused: TLS settings naming files are refused before anything
// is sent (a client key never leaves this machine); a prober without an
// observer, an unknown kind and params it cannot read are per-request
// errors, and the stream goes on.
func TestKindsRefused(t *testing.T) {
	f := &fakeObservers{}
	obs := f.observers()
	obs.GRPC = nil
	c, _ := pipeObservers(t, obs)
	ctx := context.Background()
	for _, tp := range []app.TLSParams{{CAFile: "/etc/ca.pem", ServerName: "leak"}, {ClientCert: "c.pem", ClientKey: "k.pem", ServerName: "leak"}} {
		if _, err := c.TLS(ctx, providers.Exec{}, tcpTarget, tp); err == nil || !strings.Contains(err.Error(), "never leaves") {
			t.Errorf("TLS with files %+v: %v", tp, err)
		}
		if _, err := c.HTTP(ctx, providers.Exec{}, tcpTarget, app.HTTPParams{TLS: tp}); err == nil || !strings.Contains(err.Error(), "never leaves") {
			t.Errorf("HTTP with files %+v: %v", tp, err)
		}
	}
	if f.tls.ServerName != "" || f.http.TLS.ServerName != "" {
		t.Errorf("a request with files reached the prober: %+v %+v", f.tls, f.http)
	}
	if _, err := c.GRPC(ctx, providers.Exec{}, tcpTarget, app.GRPCParams{}); err == nil || !strings.Contains(err.Error(), "does not run grpc checks") {
		t.Errorf("grpc on a prober without it: %v", err)
	}
	for _, req := range []Request{
		{Kind: "ftp", Target: &tcpTarget, Params: json.RawMessage(`{}`)},
		{Kind: KindBanner, Target: &tcpTarget, Params: json.RawMessage(`{"Send":"x","Evil":1}`)},
		{Kind: KindBanner, Target: &tcpTarget},
		{Kind: KindHTTP, Target: &tcpTarget, Params: json.RawMessage(`{"tls":{},"body_pattern":"("}`)},
		{Kind: KindTrace, Target: &tcpTarget, Params: json.RawMessage(`{"max_hops":1000}`)},
		{Kind: KindTLS, Target: &tcpTarget, Params: json.RawMessage(`{"timeout":-1}`)},
	} {
		if _, err := c.roundTrip(ctx, req); err == nil {
			t.Errorf("request %+v (params %s) was answered without an error", req, req.Params)
		}
	}
	if o, err := c.Probe(ctx, providers.Exec{}, tcpTarget, probe.Params{}); err != nil || o.State != probe.StateOpen {
		t.Errorf("the stream after refused requests: %+v %v", o, err)
	}
}

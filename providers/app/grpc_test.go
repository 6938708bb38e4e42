package app

import (
	"net"
	"net/netip"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"
	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials"
	"google.golang.org/grpc/health"
	healthpb "google.golang.org/grpc/health/grpc_health_v1"

	"github.com/portcheck/portcheck/internal/testcert"
	"github.com/portcheck/portcheck/providers"
)

// serveGRPC runs a gRPC server on ln; withHealth registers the standard
// health service with svc.up SERVING and svc.down NOT_SERVING.
func serveGRPC(t testing.TB, ln net.Listener, withHealth bool, opts ...grpc.ServerOption) providers.Target {
	t.Helper()
	s := grpc.NewServer(opts...)
	if withHealth {
		h := health.NewServer() // "" (the whole server) starts SERVING
		h.SetServingStatus("svc.up", healthpb.HealthCheckResponse_SERVING)
		h.SetServingStatus("svc.down", healthpb.HealthCheckResponse_NOT_SERVING)
		healthpb.RegisterHealthServer(s, h)
	}
	go s.Serve(ln)
	t.Cleanup(s.Stop)
	return target(t, ln.Addr().String())
}

// grpcServer is serveGRPC on loopback.
func grpcServer(t testing.TB, withHealth bool, opts ...grpc.ServerOption) providers.Target {
	t.Helper()
	return serveGRPC(t, listenLoopback(t), withHealth, opts...)
}

func TestGRPC(t *testing.T) {
	ca := testcert.NewCA(t, "portcheck test CA")
	caFile := ca.WriteCA(t)
	good := leaf(t, ca, -day, 30*day, "grpc.example", "127.0.0.1")

	plain := grpcServer(t, true)
	bare := grpcServer(t, false)
	secure := grpcServer(t, true, grpc.Creds(credentials.NewTLS(serving(good))))
	silent := tcpServer(t, silentServer) // accepts, never speaks HTTP/2
	trusted := TLSParams{ServerName: "grpc.example", CAFile: caFile}

	tests := []struct {
		name    string
		target  providers.Target
		params  GRPCParams
		want    GRPCFacts
		wantErr string
		wantTLS func(t *testing.T, f *TLSFacts)
	}{
		{name: "server SERVING", target: plain, want: GRPCFacts{Status: "SERVING"}},
		{name: "service SERVING", target: plain, params: GRPCParams{Service: "svc.up"}, want: GRPCFacts{Status: "SERVING"}},
		{name: "service NOT_SERVING", target: plain, params: GRPCParams{Service: "svc.down"}, want: GRPCFacts{Status: "NOT_SERVING"}},
		{
			name: "unknown service", target: plain, params: GRPCParams{Service: "svc.nope"},
			want: GRPCFacts{Code: "NotFound", Phase: "request"}, wantErr: "unknown service",
		},
		{
			name: "no health service", target: bare,
			want: GRPCFacts{Code: "Unimplemented", Phase: "request"}, wantErr: "grpc.health.v1.Health",
		},
		{
			name: "connection refused", target: closedPort(t),
			want: GRPCFacts{Code: "Unavailable", Phase: "connect"}, wantErr: "connection refused",
		},
		{
			name: "TLS SERVING", target: secure, params: GRPCParams{Service: "svc.up", TLS: true, TLSParams: trusted},
			want: GRPCFacts{Status: "SERVING"},
			wantTLS: func(t *testing.T, f *TLSFacts) {
				if !f.Handshake || !f.Verified || f.ALPN != "h2" || f.ServerName != "grpc.example" || f.Version != "TLS1.3" {
					t.Errorf("TLS facts: %+v", f)
				}
			},
		},
		{
			name: "TLS without SNI verifies the IP", target: secure, params: GRPCParams{TLS: true, TLSParams: TLSParams{CAFile: caFile}},
			want: GRPCFacts{Status: "SERVING"},
			wantTLS: func(t *testing.T, f *TLSFacts) {
				if !f.Verified || f.ServerName != "" {
					t.Errorf("TLS facts: %+v", f)
				}
			},
		},
		{
			name: "TLS wrong name", target: secure, params: GRPCParams{TLS: true, TLSParams: TLSParams{ServerName: "other.example", CAFile: caFile}},
			want: GRPCFacts{Code: "Unavailable", Phase: "tls"}, wantErr: "certificate is valid for grpc.example, not other.example",
			wantTLS: func(t *testing.T, f *TLSFacts) {
				if !f.Handshake || f.Verified || len(f.Chain) != 1 || f.Chain[0].DNSNames[0] != "grpc.example" {
					t.Errorf("TLS facts: %+v", f)
				}
			},
		},
		{
			name: "TLS client, plaintext server", target: plain, params: GRPCParams{TLS: true, TLSParams: trusted},
			want: GRPCFacts{Code: "Unavailable", Phase: "tls"},
			wantTLS: func(t *testing.T, f *TLSFacts) {
				if f.Handshake || f.Error == "" {
					t.Errorf("TLS facts: %+v", f)
				}
			},
		},
		{
			name: "server never answers", target: silent, params: GRPCParams{Timeout: 300 * time.Millisecond},
			want: GRPCFacts{Code: "DeadlineExceeded", Phase: "request"}, wantErr: "timeout after 300ms",
		},
		{
			name: "TLS handshake never answered", target: silent, params: GRPCParams{TLS: true, TLSParams: trusted, Timeout: 300 * time.Millisecond},
			want: GRPCFacts{Code: "DeadlineExceeded", Phase: "tls"}, wantErr: "timeout after 300ms",
		},
		{
			name: "plaintext client, TLS server", target: secure,
			want: GRPCFacts{Code: "Unavailable", Phase: "request"},
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			got, err := GRPC(t.Context(), providers.Exec{}, tc.target, tc.params)
			if err != nil {
				t.Fatalf("GRPC: %v", err)
			}
			if diff := cmp.Diff(&tc.want, got, cmpopts.IgnoreFields(GRPCFacts{}, "Error", "TLS", "DurationMs")); diff != "" {
				t.Errorf("facts (-want +got):\n%s", diff)
			}
			if tc.want.Code != "" && got.Error == "" {
				t.Error("Error empty for a failed RPC")
			}
			if tc.wantErr != "" {
				wantContains(t, "Error", got.Error, tc.wantErr)
			}
			wantTLSFacts(t, got.TLS, tc.wantTLS)
			wantDuration(t, got.DurationMs)
		})
	}
}

func TestGRPCCannotAttempt(t *testing.T) {
	ok := providers.Target{Address: netip.MustParseAddr("127.0.0.1"), Port: 50051}
	testCannotAttempt(t, "GRPC", GRPC, []cannotAttempt[GRPCParams]{
		{"hostname", providers.Exec{}, providers.Target{Address: netip.Addr{}, Port: 50051}, GRPCParams{}},
		{"CA file", providers.Exec{}, ok, GRPCParams{TLS: true, TLSParams: TLSParams{CAFile: "/nonexistent"}}},
		{"namespace", providers.Exec{Netns: "/nonexistent/netns"}, ok, GRPCParams{}},
	})
}

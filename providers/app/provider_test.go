package app

import (
	"context"
	"fmt"
	"net"
	"strconv"
	"strings"
	"testing"

	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials"

	"github.com/portcheck/portcheck/internal/lab"
	"github.com/portcheck/portcheck/internal/testcert"
	"github.com/portcheck/portcheck/providers"
)

func TestRegistered(t *testing.T) {
	for _, name := range []string{"http", "tls", "grpc", "banner"} {
		p, ok := providers.Lookup(name)
		if !ok {
			t.Fatalf("provider %q not registered", name)
		}
		if p.Name() != name || p.Layer() != providers.LayerApplication {
			t.Errorf("%s: Name %q Layer %v", name, p.Name(), p.Layer())
		}
		if err := p.Available(providers.Exec{}); err != nil {
			t.Errorf("%s: Available(local) = %v", name, err)
		}
		if err := p.Available(providers.Exec{Netns: "/nonexistent/netns"}); err == nil {
			t.Errorf("%s: Available(missing namespace) = nil", name)
		}
	}
}

// TestFromNamespace runs every kind from a client namespace against
// servers in a server namespace. Lab addresses are only ever dialled
// from inside the client namespace.
func TestFromNamespace(t *testing.T) {
	l := lab.New(t)
	client, server := l.Pair()
	addr := server.Addr()
	ca := testcert.NewCA(t, "portcheck test CA")
	caFile := ca.WriteCA(t)
	tlsCfg := serving(leaf(t, ca, -day, 30*day, "web.example", addr.String()))

	listen := func(port int) net.Listener {
		return server.Listener("tcp", net.JoinHostPort(addr.String(), strconv.Itoa(port)))
	}
	web := serveHTTP(t, listen(8080), nil, webHandler())
	secure := serveHTTP(t, listen(8443), tlsCfg, webHandler())
	grpcPlain := serveGRPC(t, listen(50051), true)
	grpcSecure := serveGRPC(t, listen(50052), true, grpc.Creds(credentials.NewTLS(tlsCfg)))
	ssh := serveTCP(t, listen(2222), sshLike)
	refused := providers.Target{Address: addr, Port: 9, Protocol: "tcp"}

	trusted := TLSParams{CAFile: caFile} // no SNI: verified against the lab IP
	tests := []struct {
		name     string
		provider string
		target   providers.Target
		params   any
		check    func(t *testing.T, facts any)
	}{
		{"http", "http", web, HTTPParams{Path: "/old"}, func(t *testing.T, f any) {
			h := f.(*HTTPFacts)
			if h.Status != 301 || h.Headers["Location"] != "/new" || h.Error != "" {
				t.Errorf("facts: %+v", h)
			}
		}},
		{"https", "http", secure, HTTPParams{Scheme: "https", TLS: trusted}, func(t *testing.T, f any) {
			h := f.(*HTTPFacts)
			if h.Status != 200 || h.Body != "hello" || h.TLS == nil || !h.TLS.Verified {
				t.Errorf("facts: %+v tls %+v", h, h.TLS)
			}
		}},
		{"http refused", "http", refused, nil, func(t *testing.T, f any) {
			h := f.(*HTTPFacts)
			if h.Phase != "connect" || !strings.Contains(h.Error, "connection refused") {
				t.Errorf("facts: %+v", h)
			}
		}},
		{"tls", "tls", secure, &trusted, func(t *testing.T, f any) {
			tf := f.(*TLSFacts)
			if !tf.Verified || len(tf.Chain) != 1 || tf.Chain[0].IPAddresses[0] != addr.String() {
				t.Errorf("facts: %+v", tf)
			}
		}},
		{"tls wrong name", "tls", secure, TLSParams{ServerName: "b.example", CAFile: caFile}, func(t *testing.T, f any) {
			tf := f.(*TLSFacts)
			if tf.Verified || !strings.Contains(tf.VerifyError, "not b.example") || len(tf.Chain) != 1 {
				t.Errorf("facts: %+v", tf)
			}
		}},
		{"grpc", "grpc", grpcPlain, GRPCParams{Service: "svc.down"}, func(t *testing.T, f any) {
			g := f.(*GRPCFacts)
			if g.Status != "NOT_SERVING" || g.Error != "" {
				t.Errorf("facts: %+v", g)
			}
		}},
		{"grpc over tls", "grpc", grpcSecure, GRPCParams{Service: "svc.up", TLS: true, TLSParams: trusted}, func(t *testing.T, f any) {
			g := f.(*GRPCFacts)
			if g.Status != "SERVING" || g.TLS == nil || !g.TLS.Verified || g.TLS.ALPN != "h2" {
				t.Errorf("facts: %+v tls %+v", g, g.TLS)
			}
		}},
		{"grpc refused", "grpc", refused, nil, func(t *testing.T, f any) {
			g := f.(*GRPCFacts)
			if g.Code != "Unavailable" || g.Phase != "connect" {
				t.Errorf("facts: %+v", g)
			}
		}},
		{"banner", "banner", ssh, nil, func(t *testing.T, f any) {
			b := f.(*BannerFacts)
			if b.Banner != "SSH-2.0-OpenSSH_9.6\r\n" || b.Error != "" {
				t.Errorf("facts: %+v", b)
			}
		}},
	}
	exec := providers.Exec{Host: "client", Netns: client.Path()}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			p, _ := providers.Lookup(tc.provider)
			if err := p.Available(exec); err != nil {
				t.Fatalf("Available: %v", err)
			}
			facts, err := observeKind(t.Context(), tc.provider, exec, tc.target, tc.params)
			if err != nil {
				t.Fatalf("Observe: %v", err)
			}
			tc.check(t, facts)
		})
	}
}

// observeKind calls the typed observer of an L7 kind with params of its
// type (nil = the defaults): the table above stays one list of all kinds.
func observeKind(ctx context.Context, kind string, exec providers.Exec, target providers.Target, params any) (any, error) {
	switch kind {
	case "http":
		p, _ := deref[HTTPParams](params)
		return HTTP(ctx, exec, target, p)
	case "tls":
		p, _ := deref[TLSParams](params)
		return TLS(ctx, exec, target, p)
	case "grpc":
		p, _ := deref[GRPCParams](params)
		return GRPC(ctx, exec, target, p)
	case "banner":
		p, _ := deref[BannerParams](params)
		return Banner(ctx, exec, target, p)
	}
	return nil, fmt.Errorf("no kind %q", kind)
}

func deref[T any](v any) (T, bool) {
	switch p := v.(type) {
	case T:
		return p, true
	case *T:
		if p != nil {
			return *p, true
		}
	}
	var zero T
	return zero, v == nil
}

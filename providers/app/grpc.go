package app

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"net"
	"strings"
	"sync"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials"
	"google.golang.org/grpc/credentials/insecure"
	healthpb "google.golang.org/grpc/health/grpc_health_v1"
	"google.golang.org/grpc/status"

	"github.com/portcheck/portcheck/providers"
)

// GRPCParams configures a grpc.health.v1 Check.
type GRPCParams struct {
	Service   string // "" asks about the server as a whole
	TLS       bool
	TLSParams TLSParams // for TLS; its Timeout is ignored (Timeout covers all)
	Timeout   time.Duration
}

// GRPCFacts is the health service's answer, or why there was none.
type GRPCFacts struct {
	// Status is "SERVING", "NOT_SERVING", "UNKNOWN" or "SERVICE_UNKNOWN".
	Status string `json:"status,omitempty"`
	// Code is the gRPC status code name when the RPC failed, e.g.
	// "Unimplemented" (no health service), "NotFound" (unknown service),
	// "Unavailable" (no connection).
	Code  string `json:"code,omitempty"`
	Error string `json:"error,omitempty"`
	Phase string `json:"phase,omitempty"`
	// HTTP1 is the status line an HTTP/1 server answered the HTTP/2
	// preface with (e.g. "HTTP/1.1 400 Bad Request"): the port serves
	// HTTP/1, not gRPC. gRPC itself only says "http2: frame too large".
	HTTP1      string    `json:"http1,omitempty"`
	TLS        *TLSFacts `json:"tls,omitempty"`
	DurationMs float64   `json:"duration_ms"`
}

// grpcTrace records what the connection attempts got to, which the RPC
// error alone does not say. gRPC dials from its own goroutines.
type grpcTrace struct {
	mu        sync.Mutex
	dialed    bool  // a TCP connection was established
	dialErr   error // last dial failure
	nsErr     error // could not enter the namespace
	secured   bool  // a handshake completed and verified
	tls       *TLSFacts
	tlsFailed error
	first     []byte // the first bytes the server sent (after TLS)
}

// firstBytes keeps what a server sends first: an HTTP/1 server answers
// the HTTP/2 preface with a status line, which names the mismatch better
// than the frame error gRPC reports.
type firstBytes struct {
	net.Conn
	tr *grpcTrace
}

const firstBytesKept = 64

func (c firstBytes) Read(b []byte) (int, error) {
	n, err := c.Conn.Read(b)
	if n > 0 {
		c.tr.mu.Lock()
		if k := firstBytesKept - len(c.tr.first); k > 0 {
			c.tr.first = append(c.tr.first, b[:min(n, k)]...)
		}
		c.tr.mu.Unlock()
	}
	return n, err
}

// GRPC calls grpc.health.v1.Health/Check on t for p.Service. A failed RPC
// is a fact (Code, Error, Phase); over TLS a failed verification ends the
// attempt with Phase "tls" and the TLS facts filled.
func GRPC(ctx context.Context, exec providers.Exec, t providers.Target, p GRPCParams) (*GRPCFacts, error) {
	addr, err := hostPort("grpc", t)
	if err != nil {
		return nil, err
	}
	timeout := orDuration(p.Timeout, defaultTimeout)
	tr := &grpcTrace{}
	creds := insecure.NewCredentials()
	opts := []grpc.DialOption{
		grpc.WithContextDialer(func(ctx context.Context, a string) (net.Conn, error) {
			conn, err := dial(ctx, exec, a)
			tr.mu.Lock()
			defer tr.mu.Unlock()
			switch {
			case errors.As(err, new(errNamespace)):
				tr.nsErr = err
			case err != nil:
				tr.dialErr = err
			default:
				tr.dialed = true
				if !p.TLS {
					return firstBytes{conn, tr}, nil
				}
			}
			return conn, err
		}),
		// The address is dialled as given: no proxy, no name resolution,
		// no service config or retries that would blur the single attempt.
		grpc.WithNoProxy(),
		grpc.WithDisableServiceConfig(),
		grpc.WithDisableRetry(),
		grpc.WithUserAgent("portcheck"),
	}
	if p.TLS {
		tp := p.TLSParams
		tp.RefuseBelow = 0
		probe, err := newTLSProbe("grpc", t, tp, "", []string{"h2"}, timeout)
		if err != nil {
			return nil, err
		}
		creds = &probeCreds{probe: probe, trace: tr}
		if probe.sni != "" {
			opts = append(opts, grpc.WithAuthority(probe.sni))
		}
	}
	opts = append(opts, grpc.WithTransportCredentials(creds))

	start := time.Now()
	cc, err := grpc.NewClient("passthrough:///"+addr, opts...)
	if err != nil {
		return nil, fmt.Errorf("app/grpc: %w", err)
	}
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	resp, err := healthpb.NewHealthClient(cc).Check(ctx, &healthpb.HealthCheckRequest{Service: p.Service})
	facts := &GRPCFacts{DurationMs: msSince(start)}
	// Snapshot before Close: a dial or handshake that Close interrupts
	// would otherwise overwrite why the RPC really failed.
	tr.mu.Lock()
	seen := tr.snapshot()
	tr.mu.Unlock()
	cc.Close()

	if seen.nsErr != nil {
		return nil, seen.nsErr
	}
	facts.TLS = seen.tls
	if err == nil {
		facts.Status = resp.GetStatus().String()
		return facts, nil
	}
	st := status.Convert(err)
	facts.Code = st.Code().String()
	facts.Error = st.Message()
	if st.Code() == codes.DeadlineExceeded {
		facts.Error = fmt.Sprintf("timeout after %s: %s", timeout, st.Message())
	}
	if line, ok := http1StatusLine(seen.first); ok {
		facts.HTTP1 = line
		facts.Error = fmt.Sprintf("the server answered in HTTP/1 (%q), not HTTP/2: no gRPC on this port (gRPC said: %s)", line, facts.Error)
		facts.Phase = PhaseRequest
		return facts, nil
	}
	switch {
	case !seen.dialed:
		facts.Phase = PhaseConnect
		if seen.dialErr != nil {
			facts.Error = errText(ctx, seen.dialErr, timeout)
		}
	case p.TLS && !seen.secured:
		facts.Phase = PhaseTLS
		if seen.tlsFailed != nil {
			facts.Error = seen.tlsFailed.Error()
		}
	default:
		facts.Phase = PhaseRequest
	}
	return facts, nil
}

// snapshot copies the trace's findings; the caller holds mu.
func (tr *grpcTrace) snapshot() grpcTrace {
	return grpcTrace{dialed: tr.dialed, dialErr: tr.dialErr, nsErr: tr.nsErr, secured: tr.secured, tls: tr.tls, tlsFailed: tr.tlsFailed,
		first: append([]byte(nil), tr.first...)}
}

// http1StatusLine returns the status line when b starts like an HTTP/1
// response.
func http1StatusLine(b []byte) (string, bool) {
	if !bytes.HasPrefix(b, []byte("HTTP/1.")) {
		return "", false
	}
	line, _, _ := bytes.Cut(b, []byte("\r\n"))
	return strings.ToValidUTF8(string(line), "\uFFFD"), true
}

// probeCreds are gRPC transport credentials doing the probe's handshake,
// so the TLS facts and the verification details reach the report.
type probeCreds struct {
	probe tlsProbe
	trace *grpcTrace
}

func (c *probeCreds) ClientHandshake(ctx context.Context, _ string, raw net.Conn) (net.Conn, credentials.AuthInfo, error) {
	tc, facts := c.probe.handshake(ctx, raw)
	var err error
	var pre []byte
	switch {
	case tc == nil:
		err = errors.New(facts.Error)
	case !facts.Verified:
		err = errors.New("certificate verification failed: " + facts.VerifyError)
	default:
		// A TLS 1.3 server that rejects the client certificate says so
		// only now; gRPC would report a broken pipe instead.
		facts.Alert, pre = postHandshakeAlert(ctx, tc, facts)
		if facts.Alert != "" {
			err = errors.New("remote error: " + facts.Alert)
		}
	}
	c.trace.mu.Lock()
	c.trace.tls = facts
	c.trace.tlsFailed = err
	c.trace.secured = c.trace.secured || err == nil
	c.trace.mu.Unlock()
	if err != nil {
		raw.Close()
		return nil, nil, err
	}
	info := credentials.TLSInfo{
		State:          tc.ConnectionState(),
		CommonAuthInfo: credentials.CommonAuthInfo{SecurityLevel: credentials.PrivacyAndIntegrity},
	}
	return firstBytes{&replayConn{tc, pre}, c.trace}, info, nil
}

func (c *probeCreds) ServerHandshake(net.Conn) (net.Conn, credentials.AuthInfo, error) {
	return nil, nil, errors.New("app/grpc: probe credentials are client-only")
}

func (c *probeCreds) Info() credentials.ProtocolInfo {
	return credentials.ProtocolInfo{SecurityProtocol: "tls", ServerName: c.probe.sni}
}

func (c *probeCreds) Clone() credentials.TransportCredentials { cp := *c; return &cp }

func (c *probeCreds) OverrideServerName(string) error { return nil } // unused by gRPC

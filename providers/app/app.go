// Package app observes layer 7: whether the service behind a port speaks
// the expected application protocol (HTTP, TLS, gRPC health, raw banners).
//
// Every check dials the target from the vantage executor and records what
// happened as facts. A protocol-level failure (refused, handshake error,
// timeout, bad response) is a fact with an Error and the Phase it happened
// in; the Go error return only means the check could not be attempted.
package app

import (
	"context"
	"errors"
	"fmt"
	"net"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/portcheck/portcheck/internal/netns"
	"github.com/portcheck/portcheck/providers"
)

// Phases name where a check stopped.
const (
	PhaseConnect = "connect"
	PhaseTLS     = "tls"
	PhaseRequest = "request"
	PhaseRead    = "read"
)

// errNamespace marks failures to enter the vantage namespace: those mean
// the check could not be attempted, unlike a failed dial.
type errNamespace struct{ err error }

func (e errNamespace) Error() string { return e.err.Error() }
func (e errNamespace) Unwrap() error { return e.err }

// hostPort validates t for a TCP-based check and returns "ip:port"
// (bracketed for IPv6). Only IP literals are accepted so that no name is
// resolved from the wrong namespace.
func hostPort(kind string, t providers.Target) (string, error) {
	if t.Protocol != "" && t.Protocol != "tcp" {
		return "", fmt.Errorf("app/%s: protocol %q not supported, %s runs over tcp", kind, t.Protocol, kind)
	}
	if !t.Address.IsValid() {
		return "", fmt.Errorf("app/%s: no target address", kind)
	}
	if t.Port < 1 || t.Port > 65535 {
		return "", fmt.Errorf("app/%s: port %d out of range", kind, t.Port)
	}
	return net.JoinHostPort(t.Address.String(), strconv.Itoa(t.Port)), nil
}

// dial opens a TCP connection to addr from exec's namespace. A failure to
// enter the namespace is returned as errNamespace; anything else is a
// connect-phase fact for the caller to record.
func dial(ctx context.Context, exec providers.Exec, addr string) (net.Conn, error) {
	conn, err := netns.DialContext(ctx, exec.Netns, &net.Dialer{}, "tcp", addr)
	if err != nil {
		// Dial errors are always *net.OpError; anything else came from
		// netns.Do opening or entering the namespace.
		var op *net.OpError
		if exec.Netns != "" && !errors.As(err, &op) {
			return nil, errNamespace{err}
		}
		return nil, err
	}
	return conn, nil
}

// bindDeadline makes blocking I/O on conn honour ctx: its deadline becomes
// the conn's deadline and cancellation unblocks reads and writes at once.
// The returned func must be called when conn is no longer in use.
func bindDeadline(ctx context.Context, conn net.Conn) func() bool {
	if d, ok := ctx.Deadline(); ok {
		conn.SetDeadline(d)
	}
	return context.AfterFunc(ctx, func() { conn.SetDeadline(time.Unix(1, 0)) })
}

// errText describes err, naming the check's timeout when the deadline is
// what ended it (the raw "i/o timeout" does not say how long was waited).
func errText(ctx context.Context, err error, timeout time.Duration) string {
	// The conn deadline can fire a moment before ctx's own timer does.
	d, ok := ctx.Deadline()
	expired := errors.Is(ctx.Err(), context.DeadlineExceeded) || (ok && !time.Now().Before(d))
	var ne net.Error
	if expired && (errors.Is(err, context.DeadlineExceeded) || (errors.As(err, &ne) && ne.Timeout())) {
		return fmt.Sprintf("timeout after %s: %v", timeout, err)
	}
	return err.Error()
}

func msSince(start time.Time) float64 {
	return float64(time.Since(start).Nanoseconds()) / 1e6
}

func orDuration(d, def time.Duration) time.Duration {
	if d > 0 {
		return d
	}
	return def
}

// validText returns the first max bytes of b as valid UTF-8. A rune split
// by the limit is dropped whole rather than shown as a replacement char.
func validText(b []byte, max int) string {
	if len(b) > max {
		b = b[:max]
		for i := len(b) - 1; i >= 0 && i >= len(b)-utf8.UTFMax; i-- {
			if utf8.RuneStart(b[i]) {
				if !utf8.FullRune(b[i:]) {
					b = b[:i]
				}
				break
			}
		}
	}
	return strings.ToValidUTF8(string(b), "\uFFFD")
}

// provider is an L7 check kind as a plan knows it; observing goes through
// the typed functions HTTP, TLS, GRPC and Banner.
type provider struct{ name string }

func (p provider) Name() string                     { return p.name }
func (p provider) Layer() providers.Layer           { return providers.LayerApplication }
func (p provider) Available(e providers.Exec) error { return netns.Check(e.Netns) }

func init() {
	for _, name := range []string{"http", "tls", "grpc", "banner"} {
		providers.Register(provider{name})
	}
}

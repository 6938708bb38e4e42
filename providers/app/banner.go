package app

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"strings"
	"time"

	"github.com/portcheck/portcheck/providers"
)

// BannerParams configures a raw TCP exchange.
type BannerParams struct {
	// Send is written first when non-empty ("\r\n" escapes are already
	// decoded by config).
	Send     string
	Timeout  time.Duration // whole exchange; default 3s
	MaxBytes int           // default 1024
	// Until stops reading once the data read contains it. Without it,
	// reading stops after a short quiet spell once data has arrived.
	Until string
}

// BannerFacts is what the server said.
type BannerFacts struct {
	Banner     string  `json:"banner"` // invalid UTF-8 replaced
	Bytes      int     `json:"bytes"`
	Error      string  `json:"error,omitempty"`
	Phase      string  `json:"phase,omitempty"`
	DurationMs float64 `json:"duration_ms"`
}

// bannerQuiet ends a read without Until: banners (SSH, SMTP, FTP) arrive
// at once, and waiting out the full timeout would make every check as
// slow as its timeout.
const bannerQuiet = 200 * time.Millisecond

// Banner connects to t, optionally sends p.Send, and reads what the server
// says: up to MaxBytes, until Until appears, until the server closes, or
// (without Until) until it pauses after speaking.
func Banner(ctx context.Context, exec providers.Exec, t providers.Target, p BannerParams) (*BannerFacts, error) {
	addr, err := hostPort("banner", t)
	if err != nil {
		return nil, err
	}
	timeout := orDuration(p.Timeout, 3*time.Second)
	maxBytes := p.MaxBytes
	if maxBytes <= 0 {
		maxBytes = 1024
	}
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	start := time.Now()
	facts := &BannerFacts{}

	conn, err := dial(ctx, exec, addr)
	if err != nil {
		if errors.As(err, new(errNamespace)) {
			return nil, err
		}
		facts.Error, facts.Phase = errText(ctx, err, timeout), PhaseConnect
		facts.DurationMs = msSince(start)
		return facts, nil
	}
	defer conn.Close()
	defer bindDeadline(ctx, conn)()

	if p.Send != "" {
		if _, err := io.WriteString(conn, p.Send); err != nil {
			facts.Error, facts.Phase = errText(ctx, err, timeout), PhaseRequest
			facts.DurationMs = msSince(start)
			return facts, nil
		}
	}
	buf, err := readBanner(ctx, conn, maxBytes, p.Until)
	facts.Banner = strings.ToValidUTF8(string(buf), "\uFFFD")
	facts.Bytes = len(buf)
	if err != nil {
		facts.Error, facts.Phase = errText(ctx, err, timeout), PhaseRead
	}
	facts.DurationMs = msSince(start)
	return facts, nil
}

// readBanner reads until one of Banner's stop conditions; the error says
// why nothing (or not the awaited text) was read.
func readBanner(ctx context.Context, conn net.Conn, maxBytes int, until string) ([]byte, error) {
	deadline, _ := ctx.Deadline()
	buf := make([]byte, 0, maxBytes)
	for len(buf) < maxBytes {
		quiet := len(buf) > 0 && until == ""
		if quiet && ctx.Err() == nil {
			conn.SetReadDeadline(earliest(time.Now().Add(bannerQuiet), deadline))
		}
		n, err := conn.Read(buf[len(buf):maxBytes])
		buf = buf[:len(buf)+n]
		if until != "" && strings.Contains(string(buf), until) {
			return buf, nil
		}
		if err == nil {
			continue
		}
		var ne net.Error
		switch {
		case quiet && errors.As(err, &ne) && ne.Timeout() && ctx.Err() == nil:
			return buf, nil // the server paused after speaking
		case errors.Is(err, io.EOF) && len(buf) == 0:
			return buf, errors.New("connection closed by the server without sending data")
		case errors.Is(err, io.EOF) && until != "":
			return buf, fmt.Errorf("connection closed by the server before %q was read", until)
		case errors.Is(err, io.EOF):
			return buf, nil
		}
		return buf, err
	}
	return buf, nil
}

func earliest(a, b time.Time) time.Time {
	if !b.IsZero() && b.Before(a) {
		return b
	}
	return a
}

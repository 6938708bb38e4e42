package app

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/netip"
	"net/url"
	"regexp"
	"strconv"
	"strings"
	"time"

	"golang.org/x/net/http/httpguts"

	"github.com/portcheck/portcheck/providers"
)

// HTTPParams configures one HTTP request.
type HTTPParams struct {
	Scheme     string // "http" (default) or "https"
	Method     string // default GET
	Path       string // default "/"; may carry a query
	HostHeader string // Host header, and SNI when TLS.ServerName is ""
	Headers    map[string]string
	// TLS is used for https; its Timeout is ignored (Timeout covers all).
	TLS TLSParams
	// Insecure sends the request even when verification fails; the TLS
	// facts still say whether and why it failed.
	Insecure bool
	Timeout  time.Duration // whole exchange; default 5s
	MaxBody  int           // bytes read; default 64 KiB, at most 4 KiB kept
	// BodyPattern, when set, is searched in every byte read (up to
	// MaxBody), not only in the 4 KiB kept in the facts.
	BodyPattern *regexp.Regexp
}

// BodyMatch is where BodyPattern was found in the body read.
type BodyMatch struct {
	Pattern string `json:"pattern"`
	Matched bool   `json:"matched"`
	Offset  int    `json:"offset,omitempty"` // byte offset of the match
}

// HTTPFacts is what one HTTP exchange showed.
type HTTPFacts struct {
	URL string `json:"url"`
	// Host is the Host header sent: host_header, else the TLS server
	// name, else the address dialled.
	Host       string `json:"host,omitempty"`
	Status     int    `json:"status,omitempty"`
	StatusText string `json:"status_text,omitempty"` // reason phrase as sent
	Proto      string `json:"proto,omitempty"`
	// Headers maps canonical names to values joined by ", ".
	Headers map[string]string `json:"headers,omitempty"`
	// Body is the first 4 KiB as valid UTF-8 (invalid bytes replaced).
	Body      string `json:"body,omitempty"`
	BodyBytes int    `json:"body_bytes"` // bytes read, at most MaxBody
	// BodyTruncated is set when Body does not hold the whole body.
	BodyTruncated bool `json:"body_truncated,omitempty"`
	// BodyMatch is BodyPattern searched in all BodyBytes read.
	BodyMatch  *BodyMatch `json:"body_match,omitempty"`
	TLS        *TLSFacts  `json:"tls,omitempty"`
	Error      string     `json:"error,omitempty"`
	Phase      string     `json:"phase,omitempty"`
	DurationMs float64    `json:"duration_ms"`
}

const (
	defaultMaxBody = 64 << 10
	keptBody       = 4 << 10
)

// HTTP sends one HTTP/1.1 request to t and reports the response. Redirects
// are not followed: the 3xx and its Location header are the facts. For
// https with verification on, a failed verification stops before the
// request and is reported as Error with Phase "tls", TLS facts included.
func HTTP(ctx context.Context, exec providers.Exec, t providers.Target, p HTTPParams) (*HTTPFacts, error) {
	addr, err := hostPort("http", t)
	if err != nil {
		return nil, err
	}
	scheme := strings.ToLower(p.Scheme)
	if scheme == "" {
		scheme = "http"
	}
	if scheme != "http" && scheme != "https" {
		return nil, fmt.Errorf("app/http: scheme %q is not http or https", p.Scheme)
	}
	if p.HostHeader == "" && p.TLS.ServerName != "" && !hasHostHeader(p.Headers) {
		// A name-based virtual host is chosen by the Host header, and a
		// browser sends the name it connects to there and in SNI alike.
		p.HostHeader = p.TLS.ServerName
		if !(scheme == "https" && t.Port == 443 || scheme == "http" && t.Port == 80) {
			p.HostHeader = net.JoinHostPort(p.TLS.ServerName, strconv.Itoa(t.Port))
		}
	}
	req, err := newRequest(scheme, addr, p)
	if err != nil {
		return nil, err
	}
	timeout := orDuration(p.Timeout, defaultTimeout)
	maxBody := p.MaxBody
	if maxBody <= 0 {
		maxBody = defaultMaxBody
	}
	var probe tlsProbe
	if scheme == "https" {
		// Speak only HTTP/1.1, so only offer it.
		probe, err = newTLSProbe("http", t, p.TLS, sniFromHost(req.Host), []string{"http/1.1"}, timeout)
		if err != nil {
			return nil, err
		}
	}

	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	start := time.Now()
	facts := &HTTPFacts{URL: req.URL.String(), Host: req.Host}
	if facts.Host == "" {
		facts.Host = req.URL.Host
	}
	fail := func(phase string, err error) (*HTTPFacts, error) {
		facts.Error, facts.Phase = errText(ctx, err, timeout), phase
		// A TLS alert after the handshake (TLS 1.3 mTLS: "certificate
		// required") belongs to TLS, not to HTTP.
		if a := remoteAlert(err); a != "" && facts.TLS != nil {
			facts.TLS.Alert = a
			facts.Phase = PhaseTLS
		}
		facts.DurationMs = msSince(start)
		return facts, nil
	}

	conn, err := dial(ctx, exec, addr)
	if err != nil {
		if errors.As(err, new(errNamespace)) {
			return nil, err
		}
		return fail(PhaseConnect, err)
	}
	defer conn.Close()
	defer bindDeadline(ctx, conn)()

	if scheme == "https" {
		tc, tf := probe.handshake(ctx, conn)
		facts.TLS = tf
		if tc == nil {
			facts.Error, facts.Phase = tf.Error, PhaseTLS
			facts.DurationMs = msSince(start)
			return facts, nil
		}
		if !tf.Verified && !p.Insecure {
			return fail(PhaseTLS, errors.New("certificate verification failed: "+tf.VerifyError))
		}
		conn = tc
	}

	if err := req.Write(conn); err != nil {
		return fail(PhaseRequest, err)
	}
	resp, err := http.ReadResponse(bufio.NewReader(conn), req)
	if err != nil {
		return fail(PhaseRead, err)
	}
	defer resp.Body.Close()
	facts.Status = resp.StatusCode
	if reason, ok := strings.CutPrefix(resp.Status, strconv.Itoa(resp.StatusCode)+" "); ok {
		facts.StatusText = reason
	}
	facts.Proto = resp.Proto
	if len(resp.Header) > 0 {
		facts.Headers = make(map[string]string, len(resp.Header))
		for k, v := range resp.Header {
			facts.Headers[k] = strings.Join(v, ", ")
		}
	}
	// One byte past the limit tells a body of exactly MaxBody from a longer one.
	body, err := io.ReadAll(io.LimitReader(resp.Body, int64(maxBody)+1))
	over := len(body) > maxBody
	if over {
		body = body[:maxBody]
	}
	keep := min(keptBody, maxBody)
	facts.BodyBytes = len(body)
	facts.Body = validText(body, keep)
	facts.BodyTruncated = over || len(body) > keep
	if p.BodyPattern != nil {
		facts.BodyMatch = &BodyMatch{Pattern: p.BodyPattern.String()}
		if loc := p.BodyPattern.FindIndex(body); loc != nil {
			facts.BodyMatch.Matched, facts.BodyMatch.Offset = true, loc[0]
		}
	}
	if err != nil {
		return fail(PhaseRead, err)
	}
	facts.DurationMs = msSince(start)
	return facts, nil
}

// newRequest builds the request; invalid parameters are errors (the check
// cannot be attempted), not facts.
func newRequest(scheme, addr string, p HTTPParams) (*http.Request, error) {
	path := p.Path
	if path == "" {
		path = "/"
	} else if !strings.HasPrefix(path, "/") {
		path = "/" + path
	}
	ref, err := url.ParseRequestURI(path)
	if err != nil {
		return nil, fmt.Errorf("app/http: path %q: %w", p.Path, err)
	}
	u := &url.URL{Scheme: scheme, Host: addr, Path: ref.Path, RawPath: ref.RawPath, RawQuery: ref.RawQuery}
	method := p.Method
	if method == "" {
		method = http.MethodGet
	}
	req, err := http.NewRequest(method, u.String(), nil)
	if err != nil {
		return nil, fmt.Errorf("app/http: %w", err)
	}
	host := p.HostHeader
	for k, v := range p.Headers {
		if !httpguts.ValidHeaderFieldName(k) || !httpguts.ValidHeaderFieldValue(v) {
			return nil, fmt.Errorf("app/http: invalid header %q: %q", k, v)
		}
		// net/http ignores a Host entry in the header map; honour it.
		if strings.EqualFold(k, "Host") {
			if host == "" {
				host = v
			}
			continue
		}
		req.Header.Set(k, v)
	}
	if host != "" {
		if !httpguts.ValidHostHeader(host) {
			return nil, fmt.Errorf("app/http: invalid Host header %q", host)
		}
		req.Host = host
	}
	if req.Header.Get("User-Agent") == "" {
		req.Header.Set("User-Agent", "portcheck")
	}
	req.Close = true // one request per connection: sends "Connection: close"
	return req, nil
}

func hasHostHeader(h map[string]string) bool {
	for k := range h {
		if strings.EqualFold(k, "Host") {
			return true
		}
	}
	return false
}

// sniFromHost is the name a browser would send as SNI for a Host header:
// the host without port, none for an IP literal (or the dialled address).
func sniFromHost(host string) string {
	if h, _, err := net.SplitHostPort(host); err == nil {
		host = h
	}
	host = strings.Trim(host, "[]")
	if _, err := netip.ParseAddr(host); err == nil {
		return ""
	}
	return host
}

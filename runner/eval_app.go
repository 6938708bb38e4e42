package runner

import (
	"context"
	"crypto/tls"
	"encoding/hex"
	"fmt"
	"html"
	"net"
	"net/url"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/portcheck/portcheck/config"
	"github.com/portcheck/portcheck/providers"
	"github.com/portcheck/portcheck/providers/app"
)

// appKind is one L7 check kind: its observer and evaluator, typed end to
// end (parameters from the declaration, facts, judgement).
type appKind func(v *verifier, ctx context.Context, c *Check, ep *config.Endpoint) *Result

// appKinds are the L7 check kinds by check name, as planned.
var appKinds = map[string]appKind{
	"http": func(v *verifier, ctx context.Context, c *Check, ep *config.Endpoint) *Result {
		return observeApp(ctx, c, v.obs.HTTP, httpParams(ep), func(f *app.HTTPFacts) *Result { return evalHTTP(c, ep.Expect.HTTP, f) })
	},
	"tls": func(v *verifier, ctx context.Context, c *Check, ep *config.Endpoint) *Result {
		return observeApp(ctx, c, v.obs.TLS, tlsParams(ep), func(f *app.TLSFacts) *Result { return evalTLS(c, ep.Expect.TLS, f) })
	},
	"grpc": func(v *verifier, ctx context.Context, c *Check, ep *config.Endpoint) *Result {
		return observeApp(ctx, c, v.obs.GRPC, grpcParams(ep), func(f *app.GRPCFacts) *Result { return evalGRPC(c, ep.Expect.GRPC, f) })
	},
	"banner": func(v *verifier, ctx context.Context, c *Check, ep *config.Endpoint) *Result {
		return observeApp(ctx, c, v.obs.Banner, bannerParams(ep), func(f *app.BannerFacts) *Result { return evalBanner(c, ep.Expect.Banner, f) })
	},
}

// observeApp runs one typed L7 observer and its evaluator.
func observeApp[P, F any](ctx context.Context, c *Check, observe func(context.Context, providers.Exec, providers.Target, P) (*F, error), p P, eval func(*F) *Result) *Result {
	f, err := observe(ctx, c.Exec, c.Target, p)
	if err != nil {
		return errorResult(c, "observing", err)
	}
	return eval(f)
}

// runApp is L7: the check kind's observer and evaluator.
func runApp(v *verifier, ctx context.Context, e *EndpointPlan, c *Check) *Result {
	k, ok := appKinds[c.Name]
	if !ok {
		return &Result{Check: c, Status: StatusError, Summary: "no L7 check kind " + c.Name + " in this binary"}
	}
	return k(v, ctx, c, e.Endpoint)
}

type httpExpected struct {
	Status          []int             `json:"status"`
	Body            string            `json:"body,omitempty"`
	ResponseHeaders map[string]string `json:"response_headers,omitempty"`
}

// shownURL is the URL as the user thinks of it: with the Host header's
// name when one was sent, and the address dialled after it.
func shownURL(f *app.HTTPFacts) string {
	u, err := url.Parse(f.URL)
	if err != nil || f.Host == "" || f.Host == u.Host {
		return f.URL
	}
	addr := u.Host
	u.Host = f.Host
	return u.String() + " (" + addr + ")"
}

func evalHTTP(c *Check, x *config.ExpectHTTP, f *app.HTTPFacts) *Result {
	exp := httpExpected{Status: x.Status}
	if len(exp.Status) == 0 {
		exp.Status = []int{config.DefaultHTTPStatus}
	}
	if x.BodyRegexp != nil {
		exp.Body = x.BodyRegexp.String()
	}
	if len(x.ResponseHeaders) > 0 {
		exp.ResponseHeaders = map[string]string{}
		for k, v := range x.ResponseHeaders {
			exp.ResponseHeaders[k] = v.String()
		}
	}
	r := &Result{Check: c, Evidence: f, Expected: exp}
	u := shownURL(f)
	if f.Error != "" {
		r.Status = StatusFail
		if f.Phase == "tls" {
			r.Cause = CauseTLSError
			r.Summary = fmt.Sprintf("%s: TLS failed: %s", u, f.Error)
			if m := mtlsProblem(f.TLS); m != "" {
				r.Summary = fmt.Sprintf("%s: %s", u, m)
			}
			r.Hint = tlsHint(f.TLS, time.Now())
		} else {
			r.Cause = CauseAppMismatch
			r.Summary = fmt.Sprintf("%s: %s failed: %s", u, orWord(f.Phase, "request"), f.Error)
			r.Hint = "the port accepts connections but HTTP does not answer: check that the service on this port speaks HTTP (scheme " + orWord(x.Scheme, "http") + ") and look at its logs"
		}
		return r
	}
	if !slices.Contains(exp.Status, f.Status) {
		r.Status, r.Cause = StatusFail, CauseAppMismatch
		r.Summary = fmt.Sprintf("%s answered %d %s, expected %s", u, f.Status, f.StatusText, joinInts(exp.Status))
		if g := bodyGist(f.Body); g != "" && f.Status >= 400 {
			r.Summary += fmt.Sprintf(": %q", g)
		}
		switch {
		case f.Status == 400 && f.TLS != nil && f.TLS.ClientCertRequested && !f.TLS.ClientCertSent:
			// nginx's ssl_verify_client on answers a missing client
			// certificate with a 400 page, after the handshake.
			r.Cause = CauseTLSError
			r.Hint = mtlsHint
		case f.Status >= 500:
			r.Hint = "the service is up but failing: check its logs and its backends (database, upstreams)"
		case f.Status >= 300 && f.Status < 400:
			r.Hint = "redirected to " + f.Headers["Location"] + ": probe that URL, or accept the redirect status"
		case f.Status == 404 || f.Status == 421:
			r.Hint = "wrong path or virtual host (Host " + orWord(f.Host, "?") + "): check path, server_name and host_header"
		default:
			r.Hint = "compare the request (method, path, Host header " + orWord(f.Host, "?") + ") with what the service expects"
		}
		return r
	}
	if x.BodyRegexp != nil && !bodyMatches(x.BodyRegexp, f) {
		r.Status, r.Cause = StatusFail, CauseAppMismatch
		r.Summary = fmt.Sprintf("%s body does not match /%s/ (first bytes: %q)", u, x.BodyRegexp, excerpt(f.Body, 60))
		r.Hint = "the service answers, but not with the declared content: check which application serves this port (virtual host: Host " + orWord(f.Host, "?") + ")"
		if f.BodyTruncated {
			r.Hint += fmt.Sprintf(" (the first %d bytes of the body were searched)", f.BodyBytes)
		}
		return r
	}
	for _, name := range sortedNames(x.ResponseHeaders) {
		re := x.ResponseHeaders[name]
		v, ok := f.Headers[httpCanonical(name)]
		if !ok || !re.MatchString(v) {
			r.Status, r.Cause = StatusFail, CauseAppMismatch
			r.Summary = fmt.Sprintf("%s header %s = %q does not match /%s/", u, name, v, re)
			r.Hint = "the service answers with other headers than declared"
			return r
		}
	}
	r.Status = StatusPass
	r.Summary = fmt.Sprintf("%s answered %d %s", u, f.Status, f.StatusText)
	return r
}

// bodyMatches uses the provider's search of every byte read when it was
// made for this pattern, else the kept excerpt (facts recorded elsewhere).
func bodyMatches(re *regexp.Regexp, f *app.HTTPFacts) bool {
	if m := f.BodyMatch; m != nil && m.Pattern == re.String() {
		return m.Matched
	}
	return re.MatchString(f.Body)
}

func sortedNames[V any](m map[string]V) []string {
	names := make([]string, 0, len(m))
	for k := range m {
		names = append(names, k)
	}
	slices.Sort(names)
	return names
}

var (
	titleRe = regexp.MustCompile(`(?is)<title>\s*(.*?)\s*</title>`)
	h1Re    = regexp.MustCompile(`(?is)<h1>\s*(.*?)\s*</h1>`)
	tagRe   = regexp.MustCompile(`(?s)<[^>]*>`)
)

// bodyGist is what an error page says, in one line: its title, else its
// first heading, else its first line of text.
func bodyGist(body string) string {
	for _, re := range []*regexp.Regexp{titleRe, h1Re} {
		if m := re.FindStringSubmatch(body); m != nil {
			return excerpt(strings.Join(strings.Fields(html.UnescapeString(tagRe.ReplaceAllString(m[1], ""))), " "), 100)
		}
	}
	for _, line := range strings.Split(tagRe.ReplaceAllString(body, "\n"), "\n") {
		if line = strings.Join(strings.Fields(html.UnescapeString(line)), " "); line != "" {
			return excerpt(line, 100)
		}
	}
	return ""
}

type tlsExpected struct {
	ServerName   string `json:"server_name,omitempty"`
	MinDaysValid int    `json:"min_days_valid"`
	MinVersion   string `json:"min_version,omitempty"`
}

// Weak keys and signatures fail a TLS check even when the chain verifies.
const minRSABits = 2048

func evalTLS(c *Check, x *config.ExpectTLS, f *app.TLSFacts) *Result {
	exp := tlsExpected{ServerName: x.ServerName, MinDaysValid: x.MinDaysValid}
	if x.MinVersion != 0 {
		exp.MinVersion = tlsVersionName(x.MinVersion)
	}
	r := &Result{Check: c, Evidence: f, Expected: exp}
	now := time.Now()
	fail := func(summary string) *Result {
		r.Status, r.Cause, r.Summary = StatusFail, CauseTLSError, summary
		r.Hint = tlsHint(f, now)
		return r
	}
	if m := mtlsProblem(f); m != "" {
		return fail(m)
	}
	if f.Error != "" || !f.Handshake {
		return fail("TLS handshake failed: " + orWord(f.Error, "no handshake"))
	}
	if !f.Verified {
		s := "certificate not trusted: " + orWord(f.VerifyError, "verification failed")
		if cp := chainProblem(f); cp != "" {
			s = "certificate not trusted: " + cp + " (" + orWord(f.VerifyError, "verification failed") + ")"
		}
		if len(f.Chain) > 0 && f.Chain[0].NotBefore.After(now) {
			s = "certificate not trusted: not valid before " + f.Chain[0].NotBefore.Format("2006-01-02 15:04 MST") + " (" + orWord(f.VerifyError, "verification failed") + ")"
		}
		if len(f.Chain) > 0 {
			s += fmt.Sprintf(" (leaf %s, expires %s)", f.Chain[0].Subject, f.Chain[0].NotAfter.Format("2006-01-02"))
		}
		return fail(s)
	}
	if w := weakCert(f.Chain); w != "" {
		return fail(w)
	}
	if len(f.Chain) > 0 && f.Chain[0].DaysLeft < x.MinDaysValid {
		return fail(fmt.Sprintf("certificate %s expires in %d days (%s), less than the declared %d",
			f.Chain[0].Subject, f.Chain[0].DaysLeft, f.Chain[0].NotAfter.Format("2006-01-02"), x.MinDaysValid))
	}
	if x.MinVersion != 0 && tlsVersionValue(f.Version) < x.MinVersion {
		return fail(fmt.Sprintf("negotiated %s, below the declared minimum %s", f.Version, tlsVersionName(x.MinVersion)))
	}
	if b := f.BelowMin; x.MinVersion > tls.VersionTLS10 {
		switch {
		case b == nil:
			r.Status = StatusError
			r.Summary = "min_version " + tlsVersionName(x.MinVersion) + " declared, but no handshake offering the versions below it was made"
			return r
		case b.Accepted:
			return fail(fmt.Sprintf("the server still accepts %s (offered only %s), below the declared minimum %s",
				b.Version, strings.Join(b.Offered, ", "), tlsVersionName(x.MinVersion)))
		case strings.HasPrefix(b.Error, "connect:"):
			r.Status = StatusError
			r.Summary = "could not check min_version: the second handshake (offering only " + strings.Join(b.Offered, ", ") + ") could not connect: " + b.Error
			return r
		}
	}
	r.Status = StatusPass
	r.Summary = fmt.Sprintf("%s %s, certificate valid", f.Version, f.CipherSuite)
	if len(f.Chain) > 0 {
		l := f.Chain[0]
		r.Summary = fmt.Sprintf("%s, certificate %s (%s) valid for %d more days", f.Version, l.Subject, keyText(l), l.DaysLeft)
	}
	if b := f.BelowMin; b != nil && !b.Accepted {
		r.Summary += "; " + strings.Join(b.Offered, " and ") + " refused"
	}
	if f.ClientCertRequested {
		r.Summary += "; the server asks for a client certificate"
	}
	return r
}

func keyText(c app.Cert) string {
	if c.KeyBits > 0 {
		return fmt.Sprintf("%s-%d, %s", c.KeyAlgorithm, c.KeyBits, c.SignatureAlgorithm)
	}
	return orWord(c.KeyAlgorithm, "key ?")
}

// weakCert names the first weak key or signature in the presented chain:
// RSA or DSA keys under 2048 bits, ECDSA under 224, and SHA-1 or MD5
// signatures on any certificate but a self-signed root (whose signature
// nobody checks).
func weakCert(chain []app.Cert) string {
	for i, c := range chain {
		what := "the leaf"
		if i > 0 {
			what = "chain certificate " + c.Subject
		}
		switch {
		case (c.KeyAlgorithm == "RSA" || c.KeyAlgorithm == "DSA") && c.KeyBits > 0 && c.KeyBits < minRSABits:
			return fmt.Sprintf("weak key: %s (%s) has a %d-bit %s key, less than %d", what, c.Subject, c.KeyBits, c.KeyAlgorithm, minRSABits)
		case c.KeyAlgorithm == "ECDSA" && c.KeyBits > 0 && c.KeyBits < 224:
			return fmt.Sprintf("weak key: %s (%s) has a %d-bit ECDSA key, less than 224", what, c.Subject, c.KeyBits)
		case !(c.SelfSigned && i > 0) && weakSignature(c.SignatureAlgorithm):
			return fmt.Sprintf("weak signature: %s (%s) is signed with %s", what, c.Subject, c.SignatureAlgorithm)
		}
	}
	return ""
}

func weakSignature(alg string) bool {
	a := strings.ToUpper(alg)
	return strings.Contains(a, "SHA1") || strings.Contains(a, "MD5") || strings.Contains(a, "MD2")
}

// chainProblem names why an untrusted chain is untrusted, from the
// presented certificates: a self-signed leaf, a chain that ends at a root
// the client does not trust, or a leaf sent without its intermediate.
func chainProblem(f *app.TLSFacts) string {
	if !strings.Contains(f.VerifyError, "unknown authority") || len(f.Chain) == 0 {
		return ""
	}
	leaf, top := f.Chain[0], f.Chain[len(f.Chain)-1]
	switch {
	case leaf.SelfSigned:
		return "self-signed certificate " + leaf.Subject + ": no CA issued it"
	case top.SelfSigned:
		return "unknown root: the chain ends at " + top.Subject + ", which is not among the trusted roots"
	case top.IsCA:
		return "unknown root: the chain ends at " + top.Subject + ", issued by " + top.Issuer + ", which is not among the trusted roots"
	default:
		return "missing intermediate: the server sends only " + top.Subject + ", issued by " + top.Issuer + ", and the client cannot find that issuer"
	}
}

// mtlsProblem names a rejected or missing client certificate.
func mtlsProblem(f *app.TLSFacts) string {
	if f == nil || !f.ClientCertRequested {
		return ""
	}
	reason := f.Alert
	if reason == "" && f.Error != "" {
		reason = f.Error
	}
	if reason == "" {
		return ""
	}
	if f.ClientCertSent {
		return "the server rejected the client certificate (mTLS): " + reason
	}
	return "the server requires a client certificate (mTLS) and none was given: " + reason
}

const mtlsHint = "the server requires a client certificate (mTLS): give client_cert and client_key (diagnose: -client-cert/-client-key), or relax the server's verify setting (nginx ssl_verify_client, haproxy verify)"

func tlsHint(f *app.TLSFacts, now time.Time) string {
	if f == nil {
		return "check the server's TLS configuration (certificate, key, protocols)"
	}
	var leaf *app.Cert
	if len(f.Chain) > 0 {
		leaf = &f.Chain[0]
	}
	switch {
	case f.ClientCertRequested && f.ClientCertSent && (f.Alert != "" || f.Error != ""):
		return "the server does not accept the client certificate given: check that the CA it trusts (nginx ssl_client_certificate, haproxy ca-file) issued it, and that it has not expired"
	case f.ClientCertRequested && (f.Alert != "" || f.Error != ""):
		return mtlsHint
	case f.BelowMin != nil && f.BelowMin.Accepted:
		return "disable the old protocol versions on the server (nginx: ssl_protocols TLSv1.2 TLSv1.3; haproxy: ssl-min-ver TLSv1.2; Apache: SSLProtocol -all +TLSv1.2 +TLSv1.3) and reload it"
	case f.Error != "" && strings.Contains(f.Error, "first record does not look like a TLS handshake"):
		return "the port speaks plain text, not TLS: probe it with http/banner, or enable TLS on the server"
	case leaf != nil && leaf.NotBefore.After(now):
		return "the certificate is not valid yet (from " + leaf.NotBefore.Format("2006-01-02 15:04 MST") + "): check the clocks of the server's CA and of this machine, or wait"
	case leaf != nil && leaf.DaysLeft < 0:
		return "renew the certificate (it expired on " + leaf.NotAfter.Format("2006-01-02") + ") and reload the server"
	case strings.Contains(f.VerifyError, "valid for") || strings.Contains(f.VerifyError, "not valid for"):
		return "the certificate does not cover the name asked for (SNI " + orWord(f.ServerName, "none") + "): fix server_name, or serve a certificate with that name in its SANs"
	case strings.Contains(f.VerifyError, "unknown authority"):
		switch p := chainProblem(f); {
		case strings.HasPrefix(p, "self-signed"):
			return "the server presents a self-signed certificate: give it as ca_file if you trust it, or serve a certificate issued by a CA"
		case strings.HasPrefix(p, "unknown root"):
			return "the chain leads to a root this machine does not trust: give that root as ca_file (a private CA), or serve a chain to a public root"
		default:
			return "the server does not send the intermediate certificate(s): serve the full chain (nginx: ssl_certificate with leaf then intermediates), or give the issuer as ca_file if it is a private root"
		}
	case weakCert(f.Chain) != "":
		return "replace the certificate: an RSA key of 2048 bits or more (or ECDSA P-256), signed with SHA-256 or better"
	case leaf != nil:
		return "renew the certificate before it expires and reload the server"
	}
	return "check the server's TLS configuration (certificate, key, protocols)"
}

func evalGRPC(c *Check, x *config.ExpectGRPC, f *app.GRPCFacts) *Result {
	r := &Result{Check: c, Evidence: f, Expected: map[string]string{"service": x.Service, "status": "SERVING"}}
	svc := x.Service
	if svc == "" {
		svc = "the server (service \"\")"
	}
	switch {
	case mtlsProblem(f.TLS) != "" || strings.Contains(f.Error, "certificate required"):
		r.Status, r.Cause = StatusFail, CauseTLSError
		r.Summary = "gRPC TLS failed: " + orWord(mtlsProblem(f.TLS), "the server requires a client certificate (mTLS): "+f.Error)
		r.Hint = mtlsHint
	case f.Phase == "tls" && f.Error != "":
		r.Status, r.Cause = StatusFail, CauseTLSError
		r.Summary = "gRPC TLS failed: " + f.Error
		r.Hint = tlsHint(f.TLS, time.Now())
	case f.HTTP1 != "":
		r.Status, r.Cause = StatusFail, CauseAppMismatch
		r.Summary = fmt.Sprintf("the port answers HTTP/1 (%q), not gRPC over HTTP/2", f.HTTP1)
		r.Hint = "this port serves plain HTTP/1: point the check at the gRPC port, or serve gRPC here (h2c, or TLS with ALPN h2 and tls = true)"
		if x.TLS {
			r.Hint = "this port serves HTTP/1 over TLS: point the check at the gRPC port, or let the server offer h2 by ALPN"
		}
	case f.Code == "Unimplemented":
		r.Status, r.Cause = StatusFail, CauseAppMismatch
		r.Summary = "the server does not implement grpc.health.v1.Health"
		r.Hint = "register the standard health service (google.golang.org/grpc/health) on the server"
	case f.Code == "NotFound" || f.Status == "SERVICE_UNKNOWN":
		r.Status, r.Cause = StatusFail, CauseAppMismatch
		r.Summary = fmt.Sprintf("health service does not know %s", svc)
		r.Hint = "check the service name (package.Service) and that the server sets its serving status"
	case f.Error != "":
		r.Status, r.Cause = StatusFail, CauseAppMismatch
		r.Summary = fmt.Sprintf("gRPC health check failed (%s): %s", orWord(f.Code, f.Phase), f.Error)
		r.Hint = "the port accepts TCP but gRPC does not answer: check that it serves gRPC (h2c or TLS, tls = …)"
		if f.TLS != nil && f.TLS.Handshake && f.TLS.ALPN != "h2" {
			r.Hint = "the TLS server did not agree to HTTP/2 (ALPN " + orWord(f.TLS.ALPN, "none") + "): it does not serve gRPC on this port"
		}
	case f.Status != "SERVING":
		r.Status, r.Cause = StatusFail, CauseAppMismatch
		r.Summary = fmt.Sprintf("health of %s is %s, expected SERVING", svc, f.Status)
		r.Hint = "the server reports itself unhealthy: check its dependencies and logs"
	default:
		r.Status = StatusPass
		r.Summary = fmt.Sprintf("health of %s is SERVING", svc)
	}
	return r
}

func evalBanner(c *Check, x *config.ExpectBanner, f *app.BannerFacts) *Result {
	exp := map[string]string{}
	if x.Match != nil {
		exp["match"] = x.Match.String()
	}
	if x.Send != "" {
		exp["send"] = x.Send
		if !utf8.ValidString(x.Send) || strings.ContainsFunc(x.Send, func(r rune) bool { return r < 0x20 && r != '\r' && r != '\n' && r != '\t' }) {
			exp["send"] = strconv.Quote(x.Send)
			exp["send_hex"] = hex.EncodeToString([]byte(x.Send))
		}
	}
	r := &Result{Check: c, Evidence: f, Expected: exp}
	matched := x.Match == nil || x.Match.MatchString(f.Banner)
	switch {
	case matched && f.Bytes > 0:
		r.Status = StatusPass
		r.Summary = fmt.Sprintf("banner %q", excerpt(f.Banner, 60))
	case f.Bytes == 0:
		r.Status, r.Cause = StatusFail, CauseAppMismatch
		r.Summary = "no banner: " + orWord(f.Error, "the server sent nothing")
		r.Hint = "the port accepts connections but says nothing: is the right service on it? Some protocols wait for the client: declare send"
	default:
		r.Status, r.Cause = StatusFail, CauseAppMismatch
		r.Summary = fmt.Sprintf("banner %q does not match /%s/", excerpt(f.Banner, 60), x.Match)
		r.Hint = bannerHint(f.Banner)
	}
	return r
}

// bannerHint reads a mismatching banner for what it says: some services
// answer, but with a refusal rather than their greeting.
func bannerHint(banner string) string {
	switch {
	case strings.HasPrefix(banner, "-DENIED"):
		return "Redis answers but refuses this client: protected mode is on (no password set, client not on loopback): set requirepass (and send AUTH), or bind it to the address you probe and set protected-mode no only behind a firewall"
	case strings.HasPrefix(banner, "-NOAUTH"):
		return "Redis answers and asks for authentication (-NOAUTH): the service is up; accept that answer in match (e.g. \"^(\\\\+PONG|-NOAUTH)\"), since send is printed in reports and must not carry a password"
	case strings.HasPrefix(banner, "-ERR"), strings.HasPrefix(banner, "-WRONGPASS"):
		return "the service (Redis protocol) answers with an error to what was sent: check send"
	}
	return "another service answers on this port than the one declared"
}

func tlsVersionName(v uint16) string {
	return strings.ReplaceAll(tls.VersionName(v), " ", "")
}

func tlsVersionValue(name string) uint16 {
	for _, v := range []uint16{tls.VersionTLS10, tls.VersionTLS11, tls.VersionTLS12, tls.VersionTLS13} {
		if tlsVersionName(v) == strings.ReplaceAll(name, " ", "") {
			return v
		}
	}
	return 0
}

func httpCanonical(name string) string {
	parts := strings.Split(strings.ToLower(name), "-")
	for i, p := range parts {
		if p != "" {
			parts[i] = strings.ToUpper(p[:1]) + p[1:]
		}
	}
	return strings.Join(parts, "-")
}

func joinInts(xs []int) string {
	s := make([]string, len(xs))
	for i, x := range xs {
		s[i] = strconv.Itoa(x)
	}
	return strings.Join(s, " or ")
}

func excerpt(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n] + "…"
}

func orWord(s, alt string) string {
	if s == "" {
		return alt
	}
	return s
}

func hostPort(addr string, port int) string { return net.JoinHostPort(addr, strconv.Itoa(port)) }

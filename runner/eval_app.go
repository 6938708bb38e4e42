package runner

import (
	"crypto/tls"
	"fmt"
	"net"
	"slices"
	"strconv"
	"strings"

	"github.com/portcheck/portcheck/config"
	"github.com/portcheck/portcheck/providers/app"
)

func evalApp(c *Check, ep *config.Endpoint, facts any) *Result {
	switch f := facts.(type) {
	case *app.HTTPFacts:
		return evalHTTP(c, ep.Expect.HTTP, f)
	case *app.TLSFacts:
		return evalTLS(c, ep.Expect.TLS, f)
	case *app.GRPCFacts:
		return evalGRPC(c, ep.Expect.GRPC, f)
	case *app.BannerFacts:
		return evalBanner(c, ep.Expect.Banner, f)
	}
	return &Result{Check: c, Status: StatusError, Summary: fmt.Sprintf("%s returned %T, not application facts", c.Provider, facts)}
}

type httpExpected struct {
	Status          []int             `json:"status"`
	Body            string            `json:"body,omitempty"`
	ResponseHeaders map[string]string `json:"response_headers,omitempty"`
}

func evalHTTP(c *Check, x *config.ExpectHTTP, f *app.HTTPFacts) *Result {
	exp := httpExpected{Status: x.Status}
	if len(exp.Status) == 0 {
		exp.Status = []int{200}
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
	if f.Error != "" {
		r.Status = StatusFail
		if f.Phase == "tls" {
			r.Cause = CauseTLSError
			r.Summary = fmt.Sprintf("%s: TLS failed: %s", f.URL, f.Error)
			r.Hint = tlsHint(f.TLS)
		} else {
			r.Cause = CauseAppMismatch
			r.Summary = fmt.Sprintf("%s: %s failed: %s", f.URL, orWord(f.Phase, "request"), f.Error)
			r.Hint = "the port accepts connections but HTTP does not answer: check that the service on this port speaks HTTP (scheme " + orWord(x.Scheme, "http") + ") and look at its logs"
		}
		return r
	}
	if !slices.Contains(exp.Status, f.Status) {
		r.Status, r.Cause = StatusFail, CauseAppMismatch
		r.Summary = fmt.Sprintf("%s answered %d %s, expected %s", f.URL, f.Status, f.StatusText, joinInts(exp.Status))
		switch {
		case f.Status >= 500:
			r.Hint = "the service is up but failing: check its logs and its backends (database, upstreams)"
		case f.Status >= 300 && f.Status < 400:
			r.Hint = "redirected to " + f.Headers["Location"] + ": probe that URL, or accept the redirect status"
		case f.Status == 404:
			r.Hint = "wrong path or virtual host: check path and host_header"
		default:
			r.Hint = "compare the request (method, path, Host header) with what the service expects"
		}
		return r
	}
	if x.BodyRegexp != nil && !x.BodyRegexp.MatchString(f.Body) {
		r.Status, r.Cause = StatusFail, CauseAppMismatch
		r.Summary = fmt.Sprintf("%s body does not match /%s/ (first bytes: %q)", f.URL, x.BodyRegexp, excerpt(f.Body, 60))
		r.Hint = "the service answers, but not with the declared content: check which application serves this port"
		if f.BodyTruncated {
			r.Hint += " (only the first 4 KiB of the body are matched)"
		}
		return r
	}
	for name, re := range x.ResponseHeaders {
		v, ok := f.Headers[httpCanonical(name)]
		if !ok || !re.MatchString(v) {
			r.Status, r.Cause = StatusFail, CauseAppMismatch
			r.Summary = fmt.Sprintf("%s header %s = %q does not match /%s/", f.URL, name, v, re)
			r.Hint = "the service answers with other headers than declared"
			return r
		}
	}
	r.Status = StatusPass
	r.Summary = fmt.Sprintf("%s answered %d %s", f.URL, f.Status, f.StatusText)
	return r
}

type tlsExpected struct {
	ServerName   string `json:"server_name,omitempty"`
	MinDaysValid int    `json:"min_days_valid"`
	MinVersion   string `json:"min_version,omitempty"`
}

func evalTLS(c *Check, x *config.ExpectTLS, f *app.TLSFacts) *Result {
	exp := tlsExpected{ServerName: x.ServerName, MinDaysValid: x.MinDaysValid}
	if x.MinVersion != 0 {
		exp.MinVersion = tlsVersionName(x.MinVersion)
	}
	r := &Result{Check: c, Evidence: f, Expected: exp}
	fail := func(summary string) *Result {
		r.Status, r.Cause, r.Summary = StatusFail, CauseTLSError, summary
		r.Hint = tlsHint(f)
		return r
	}
	if f.Error != "" || !f.Handshake {
		return fail("TLS handshake failed: " + orWord(f.Error, "no handshake"))
	}
	if !f.Verified {
		s := "certificate not trusted: " + orWord(f.VerifyError, "verification failed")
		if len(f.Chain) > 0 {
			s += fmt.Sprintf(" (leaf %s, expires %s)", f.Chain[0].Subject, f.Chain[0].NotAfter.Format("2006-01-02"))
		}
		return fail(s)
	}
	if len(f.Chain) > 0 && f.Chain[0].DaysLeft < x.MinDaysValid {
		return fail(fmt.Sprintf("certificate %s expires in %d days (%s), less than the declared %d",
			f.Chain[0].Subject, f.Chain[0].DaysLeft, f.Chain[0].NotAfter.Format("2006-01-02"), x.MinDaysValid))
	}
	if x.MinVersion != 0 && tlsVersionValue(f.Version) < x.MinVersion {
		return fail(fmt.Sprintf("negotiated %s, below the declared minimum %s", f.Version, tlsVersionName(x.MinVersion)))
	}
	r.Status = StatusPass
	r.Summary = fmt.Sprintf("%s %s, certificate valid", f.Version, f.CipherSuite)
	if len(f.Chain) > 0 {
		r.Summary = fmt.Sprintf("%s, certificate %s valid for %d more days", f.Version, f.Chain[0].Subject, f.Chain[0].DaysLeft)
	}
	return r
}

func tlsHint(f *app.TLSFacts) string {
	if f == nil {
		return "check the server's TLS configuration (certificate, key, protocols)"
	}
	switch {
	case f.Error != "" && strings.Contains(f.Error, "first record does not look like a TLS handshake"):
		return "the port speaks plain text, not TLS: probe it with http/banner, or enable TLS on the server"
	case len(f.Chain) > 0 && f.Chain[0].DaysLeft < 0:
		return "renew the certificate (it expired on " + f.Chain[0].NotAfter.Format("2006-01-02") + ") and reload the server"
	case strings.Contains(f.VerifyError, "valid for") || strings.Contains(f.VerifyError, "not valid for"):
		return "the certificate does not cover the name asked for (SNI " + orWord(f.ServerName, "none") + "): fix server_name, or serve a certificate with that name in its SANs"
	case strings.Contains(f.VerifyError, "unknown authority"):
		return "the chain does not lead to a trusted CA: serve the intermediate certificates, or give ca_file"
	case len(f.Chain) > 0:
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
	case f.Phase == "tls" && f.Error != "":
		r.Status, r.Cause = StatusFail, CauseTLSError
		r.Summary = "gRPC TLS failed: " + f.Error
		r.Hint = tlsHint(f.TLS)
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
		r.Hint = "another service answers on this port than the one declared"
	}
	return r
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

package config

import (
	"crypto/tls"
	"encoding/hex"
	"errors"
	"fmt"
	"path/filepath"
	"regexp"
	"strings"
	"time"

	"github.com/hashicorp/hcl/v2"
	"github.com/zclconf/go-cty/cty"
	"github.com/zclconf/go-cty/cty/convert"
)

// Defaults of the layer blocks, applied here so the runner sees concrete values.
const (
	defaultScheme = "http"
	defaultPath   = "/"
	// commLen is the most /proc/PID/comm holds (TASK_COMM_LEN - 1).
	commLen = 15
)

var tlsVersions = map[string]uint16{
	"1.0": tls.VersionTLS10,
	"1":   tls.VersionTLS10, // min_version = 1.0 written as a number prints as "1"
	"1.1": tls.VersionTLS11,
	"1.2": tls.VersionTLS12,
	"1.3": tls.VersionTLS13,
}

// decodeExpect decodes the expect blocks of e. A layer block may appear once
// per endpoint, across all its expect blocks. appTimeout is the endpoint's
// declared timeout (0 = none), the default of the L7 blocks' own.
func (l *loader) decodeExpect(blocks hcl.Blocks, s *scope, e *Endpoint, appTimeout time.Duration) hcl.Diagnostics {
	if appTimeout <= 0 {
		appTimeout = DefaultAppTimeout
	}
	var diags hcl.Diagnostics
	first := map[string]hcl.Range{}
	for _, eb := range blocks {
		content, d := eb.Body.Content(expectSchema)
		diags = append(diags, d...)
		if content == nil {
			continue
		}
		for _, b := range content.Blocks {
			if r, dup := first[b.Type]; dup {
				diags = diags.Append(errorf(b.DefRange, "Duplicate "+b.Type+" block",
					"Endpoint %q already has a %s block, first declared at %s; each layer block may appear once per endpoint.",
					e.Name, b.Type, SourceOf(r)))
				continue
			}
			first[b.Type] = b.DefRange
			var d hcl.Diagnostics
			switch b.Type {
			case "listening":
				e.Expect.Listening, d = decodeListeningBlock(b, s)
			case "firewall":
				e.Expect.Firewall, d = decodeFirewallBlock(b, s)
			case "cloud":
				e.Expect.Cloud, d = l.decodeCloudBlock(b, s)
			case "path":
				e.Expect.Path, d = decodePathBlock(b, s, e.Protocol)
			case "selinux":
				e.Expect.SELinux, d = decodeSELinuxBlock(b, s)
			case "connectivity":
				e.Expect.Connectivity, d = decodeConnectivityBlock(b, s)
			case "http":
				e.Expect.HTTP, d = decodeHTTPBlock(b, s, appTimeout)
			case "tls":
				e.Expect.TLS, d = decodeTLSBlock(b, s, appTimeout)
			case "grpc":
				e.Expect.GRPC, d = decodeGRPCBlock(b, s, appTimeout)
			case "banner":
				e.Expect.Banner, d = decodeBannerBlock(b, s, appTimeout)
			}
			diags = append(diags, d...)
		}
	}
	return diags
}

func decodeListeningBlock(b *hcl.Block, s *scope) (*ExpectListening, hcl.Diagnostics) {
	x := &ExpectListening{DeclRange: b.DefRange}
	var spec listeningSpec
	diags := decodeSpec(b.Body, &spec)
	p, st, d := s.str(spec.Process, "process")
	diags = append(diags, d...)
	switch {
	case st != valid:
	case p == "":
		diags = diags.Append(errorf(spec.Process.Range(), "Invalid process name", "process must not be empty; leave it out to accept any process."))
	case len(p) > commLen:
		diags = diags.Append(warningf(spec.Process.Range(), "Process name too long",
			"The kernel keeps only the first %d bytes of a process name in /proc/PID/comm, where %q appears as %q.", commLen, p, p[:commLen]))
		x.Process = p
	default:
		x.Process = p
	}
	into(&x.Addresses, &diags)(s.ipList(spec.Addresses, "addresses"))
	return x, diags
}

func decodeConnectivityBlock(b *hcl.Block, s *scope) (*ExpectConnectivity, hcl.Diagnostics) {
	x := &ExpectConnectivity{DeclRange: b.DefRange}
	var spec connectivitySpec
	diags := decodeSpec(b.Body, &spec)
	into(&x.Timeout, &diags)(s.duration(spec.Timeout, "timeout"))
	r, st, d := s.integer(spec.Retries, "retries", 0, maxRetries)
	diags = append(diags, d...)
	if st == valid {
		x.Retries = &r
	}
	p, st, d := s.str(spec.Payload, "payload")
	diags = append(diags, d...)
	if st == valid {
		x.Payload = []byte(p)
	}
	return x, diags
}

func decodeHTTPBlock(b *hcl.Block, s *scope, timeout time.Duration) (*ExpectHTTP, hcl.Diagnostics) {
	x := &ExpectHTTP{
		Timeout:   timeout,
		Scheme:    defaultScheme,
		Method:    DefaultHTTPMethod,
		Path:      defaultPath,
		Status:    []int{DefaultHTTPStatus},
		DeclRange: b.DefRange,
	}
	var spec httpSpec
	diags := decodeSpec(b.Body, &spec)

	v, st, d := s.str(spec.Scheme, "scheme")
	diags = append(diags, d...)
	if st == valid {
		if v != "http" && v != "https" {
			diags = diags.Append(errorf(spec.Scheme.Range(), "Invalid scheme", "scheme must be \"http\" or \"https\"; got %q.", v))
		} else {
			x.Scheme = v
		}
	}
	v, st, d = s.str(spec.Method, "method")
	diags = append(diags, d...)
	if st == valid {
		if !isToken(v) {
			diags = diags.Append(errorf(spec.Method.Range(), "Invalid HTTP method", "%q is not an HTTP method, like \"GET\" or \"HEAD\".", v))
		} else {
			x.Method = v
		}
	}
	v, st, d = s.str(spec.Path, "path")
	diags = append(diags, d...)
	if st == valid {
		if !strings.HasPrefix(v, "/") || strings.ContainsAny(v, " \t\r\n") {
			diags = diags.Append(errorf(spec.Path.Range(), "Invalid HTTP path", "path must start with \"/\" and contain no spaces; got %q.", v))
		} else {
			x.Path = v
		}
	}
	v, st, d = s.str(spec.HostHeader, "host_header")
	diags = append(diags, d...)
	if st == valid {
		if strings.ContainsAny(v, "\r\n\x00") {
			diags = diags.Append(errorf(spec.HostHeader.Range(), "Invalid header value", "host_header must be a single line."))
		} else {
			x.HostHeader = v
		}
	}

	headers, ranges, st, d := s.stringMap(spec.Headers, "headers")
	diags = append(diags, d...)
	if st == valid {
		ok := true
		for _, k := range sortedKeys(headers) {
			switch {
			case !isToken(k):
				diags = diags.Append(inContext(errorf(ranges[k], "Invalid header name", "%q is not an HTTP header name.", k), spec.Headers.Range()))
				ok = false
			case strings.ContainsAny(headers[k], "\r\n\x00"):
				diags = diags.Append(inContext(errorf(ranges[k], "Invalid header value", "The value of header %q must be a single line.", k), spec.Headers.Range()))
				ok = false
			}
		}
		if ok {
			x.Headers = headers
		}
	}

	into(&x.Status, &diags)(s.statusList(spec.Status))
	into(&x.BodyRegexp, &diags)(s.regexp(spec.Body, "body"))

	rh, ranges, st, d := s.stringMap(spec.ResponseHeaders, "response_headers")
	diags = append(diags, d...)
	if st == valid {
		x.ResponseHeaders = map[string]*regexp.Regexp{}
		for _, k := range sortedKeys(rh) {
			if !isToken(k) {
				diags = diags.Append(inContext(errorf(ranges[k], "Invalid header name", "%q is not an HTTP header name.", k), spec.ResponseHeaders.Range()))
				continue
			}
			re, err := regexp.Compile(rh[k])
			if err != nil {
				diags = diags.Append(inContext(regexpDiag(ranges[k], rh[k], err), spec.ResponseHeaders.Range()))
				continue
			}
			x.ResponseHeaders[k] = re
		}
	}

	into(&x.ServerName, &diags)(s.str(spec.ServerName, "server_name"))
	into(&x.CAFile, &diags)(s.path(spec.CAFile, "ca_file"))
	into(&x.Insecure, &diags)(s.boolean(spec.Insecure, "insecure"))
	into(&x.ClientCert, &diags)(s.clientCert(spec.ClientCert, spec.ClientKey))
	into(&x.Timeout, &diags)(s.duration(spec.Timeout, "timeout"))
	return x, diags
}

// clientCert decodes client_cert and client_key, which come as a pair.
func (s *scope) clientCert(certExpr, keyExpr hcl.Expression) (ClientCert, state, hcl.Diagnostics) {
	cert, cst, diags := s.path(certExpr, "client_cert")
	key, kst, d := s.path(keyExpr, "client_key")
	diags = append(diags, d...)
	switch {
	case cst == invalid || kst == invalid:
		return ClientCert{}, invalid, diags
	case cst == absent && kst == absent:
		return ClientCert{}, absent, diags
	case cst == absent:
		return ClientCert{}, invalid, diags.Append(errorf(keyExpr.Range(), "Missing client_cert",
			"client_key is given without client_cert; a client certificate needs both (PEM files)."))
	case kst == absent:
		return ClientCert{}, invalid, diags.Append(errorf(certExpr.Range(), "Missing client_key",
			"client_cert is given without client_key; a client certificate needs both (PEM files)."))
	}
	return ClientCert{CertFile: cert, KeyFile: key}, valid, diags
}

func decodeTLSBlock(b *hcl.Block, s *scope, timeout time.Duration) (*ExpectTLS, hcl.Diagnostics) {
	x := &ExpectTLS{MinDaysValid: DefaultMinDaysValid, Timeout: timeout, DeclRange: b.DefRange}
	var spec tlsSpec
	diags := decodeSpec(b.Body, &spec)
	into(&x.ServerName, &diags)(s.str(spec.ServerName, "server_name"))
	into(&x.CAFile, &diags)(s.path(spec.CAFile, "ca_file"))
	into(&x.ClientCert, &diags)(s.clientCert(spec.ClientCert, spec.ClientKey))
	into(&x.Timeout, &diags)(s.duration(spec.Timeout, "timeout"))
	into(&x.MinDaysValid, &diags)(s.integer(spec.MinDaysValid, "min_days_valid", 0, 36500))
	mv, st, d := s.str(spec.MinVersion, "min_version")
	diags = append(diags, d...)
	if st == valid {
		if ver, ok := tlsVersions[mv]; ok {
			x.MinVersion = ver
		} else {
			diags = diags.Append(errorf(spec.MinVersion.Range(), "Invalid TLS version",
				"min_version must be \"1.0\", \"1.1\", \"1.2\" or \"1.3\"; got %q.", mv))
		}
	}
	return x, diags
}

func decodeGRPCBlock(b *hcl.Block, s *scope, timeout time.Duration) (*ExpectGRPC, hcl.Diagnostics) {
	x := &ExpectGRPC{Timeout: timeout, DeclRange: b.DefRange}
	var spec grpcSpec
	diags := decodeSpec(b.Body, &spec)
	into(&x.Service, &diags)(s.str(spec.Service, "service"))
	into(&x.TLS, &diags)(s.boolean(spec.TLS, "tls"))
	into(&x.ServerName, &diags)(s.str(spec.ServerName, "server_name"))
	into(&x.CAFile, &diags)(s.path(spec.CAFile, "ca_file"))
	into(&x.ClientCert, &diags)(s.clientCert(spec.ClientCert, spec.ClientKey))
	into(&x.Timeout, &diags)(s.duration(spec.Timeout, "timeout"))
	if !x.TLS && (x.ClientCert != ClientCert{} || x.CAFile != "" || x.ServerName != "") {
		diags = diags.Append(warningf(b.DefRange, "TLS settings without tls = true",
			"server_name, ca_file and client_cert only apply to gRPC over TLS; set tls = true, or remove them."))
	}
	return x, diags
}

func decodeBannerBlock(b *hcl.Block, s *scope, timeout time.Duration) (*ExpectBanner, hcl.Diagnostics) {
	x := &ExpectBanner{Timeout: timeout, DeclRange: b.DefRange}
	var spec bannerSpec
	diags := decodeSpec(b.Body, &spec)
	send, sst, d := s.str(spec.Send, "send")
	diags = append(diags, d...)
	hexSend, hst, d := s.hexBytes(spec.SendHex, "send_hex")
	diags = append(diags, d...)
	switch {
	case sst == valid && hst == valid:
		diags = diags.Append(errorf(spec.SendHex.Range(), "Conflicting attributes",
			"send and send_hex both say what to send; keep one (send_hex for bytes a string cannot hold)."))
	case sst == valid:
		x.Send = send
	case hst == valid:
		x.Send = hexSend
	}
	into(&x.Match, &diags)(s.regexp(spec.Match, "match"))
	into(&x.Timeout, &diags)(s.duration(spec.Timeout, "timeout"))
	return x, diags
}

// hexBytes decodes bytes written as hex digits; spaces and colons between
// bytes are allowed ("00 00 00 08 04 d2 16 2f").
func (s *scope) hexBytes(expr hcl.Expression, attr string) (string, state, hcl.Diagnostics) {
	v, st, diags := s.str(expr, attr)
	if st != valid {
		return "", st, diags
	}
	b, err := DecodeHex(v)
	if err != nil {
		return "", invalid, diags.Append(errorf(expr.Range(), "Invalid hex bytes", "%s: %s.", attr, err))
	}
	return string(b), valid, diags
}

// DecodeHex reads hex digit pairs, ignoring spaces, colons and a leading
// 0x.
func DecodeHex(s string) ([]byte, error) {
	clean := strings.NewReplacer(" ", "", ":", "", "\t", "", "\n", "").Replace(strings.TrimPrefix(strings.TrimSpace(s), "0x"))
	if clean == "" {
		return nil, errors.New("no hex digits")
	}
	b, err := hex.DecodeString(clean)
	if err != nil {
		return nil, fmt.Errorf("%q is not pairs of hex digits (like \"0000000804d2162f\")", s)
	}
	return b, nil
}

// statusList decodes status: one code or a list of codes.
func (s *scope) statusList(expr hcl.Expression) ([]int, state, hcl.Diagnostics) {
	v, st, diags := s.eval(expr)
	if st != valid {
		return nil, st, diags
	}
	var vals []cty.Value
	var ranges []hcl.Range
	if v.Type() == cty.Number {
		vals, ranges = []cty.Value{v}, []hcl.Range{expr.Range()}
	} else {
		lv, err := convert.Convert(v, cty.List(cty.Number))
		if err != nil {
			return nil, invalid, diags.Append(typeDiag(expr, "status", "number or list of number"))
		}
		vals, ranges = lv.AsValueSlice(), elemRanges(expr, lv.LengthInt())
	}
	if len(vals) == 0 {
		return nil, invalid, diags.Append(errorf(expr.Range(), "Invalid HTTP status", "status must list at least one code."))
	}
	out := make([]int, 0, len(vals))
	for i, ev := range vals {
		if ev.IsNull() {
			diags = diags.Append(inContext(errorf(ranges[i], "Invalid HTTP status", "A status code must not be null."), expr.Range()))
			st = invalid
			continue
		}
		code, d := wholeNumber(ev, ranges[i], "An HTTP status", 100, 599)
		if d != nil {
			d.Summary = "Invalid HTTP status"
			diags = diags.Append(inContext(d, expr.Range()))
			st = invalid
			continue
		}
		out = append(out, code)
	}
	if st != valid {
		return nil, st, diags
	}
	return out, valid, diags
}

func (s *scope) regexp(expr hcl.Expression, attr string) (*regexp.Regexp, state, hcl.Diagnostics) {
	v, st, diags := s.str(expr, attr)
	if st != valid {
		return nil, st, diags
	}
	re, err := regexp.Compile(v)
	if err != nil {
		return nil, invalid, diags.Append(regexpDiag(expr.Range(), v, err))
	}
	return re, valid, diags
}

func regexpDiag(rng hcl.Range, re string, err error) *hcl.Diagnostic {
	return errorf(rng, "Invalid regular expression", "%q is not a valid regular expression (Go RE2 syntax): %s.", re, err)
}

// path decodes a file path, relative to the directory of the file that
// declares it, so a configuration directory can be run from anywhere.
func (s *scope) path(expr hcl.Expression, attr string) (string, state, hcl.Diagnostics) {
	v, st, diags := s.str(expr, attr)
	if st != valid || v == "" || filepath.IsAbs(v) {
		return v, st, diags
	}
	return filepath.Join(filepath.Dir(expr.Range().Filename), v), valid, diags
}

// isToken reports whether s is an RFC 9110 token (methods, header names).
func isToken(s string) bool {
	if s == "" {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || strings.IndexByte("!#$%&'*+-.^_`|~", c) >= 0 {
			continue
		}
		return false
	}
	return true
}

// Package cloudfake holds local stand-ins for the cloud APIs portcheck
// reads, for tests: servers that speak the real wire format to the real
// SDKs and check it strictly, so the SDKs' serializers, signers,
// paginators, retryers and deserializers all run as they do against the
// cloud. What each API answers (its fixtures, filters and pages) stays in
// the test that uses it; this package holds the protocol.
package cloudfake

import (
	"bytes"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
)

// ACSCall is one request an ACS fake served: the operation and its
// query parameters.
type ACSCall struct {
	Action string
	Query  url.Values
}

// ACS is an Alibaba Cloud OpenAPI endpoint as the V2 (darabonba) SDK
// calls the RPC-style products (ECS, VPC, SLB, ALB):
//
//   - POST to "/", the operation in the x-acs-action header and the API
//     version in x-acs-version — no Action/Version query parameters, which
//     only the old signature-v1 RPC path sends;
//   - the operation's parameters in the query string, an empty body whose
//     hash is x-acs-content-sha256;
//   - an ACS3-HMAC-SHA256 Authorization header, verified with Secret (so
//     the credential chain really supplied the test's AccessKey).
//
// Check adds the product's own rules (which operations, which
// parameters, the region); Answer answers a checked call from the
// product's fixtures. A request that breaks a rule fails the test and
// gets the API's IncompleteSignature error.
type ACS struct {
	Product string // for messages: "ecs", "slb", …
	Version string // the x-acs-version the product's SDK sends
	KeyID   string
	Secret  string
	// Check returns why a call is not one the readers may make, or nil.
	Check func(action string, q url.Values) error
	// Answer is the status and JSON body of a checked call.
	Answer func(action string, q url.Values) (int, map[string]any)

	t   testing.TB
	srv *httptest.Server

	mu    sync.Mutex
	calls []ACSCall
	// hook can answer a call instead of Answer: n counts the calls of
	// c.Action so far, this one included.
	hook func(c ACSCall, n int) (status int, fixture string, ok bool)
}

// StartACS starts a's server; it is closed when the test ends.
func StartACS(t testing.TB, a *ACS) *ACS {
	t.Helper()
	a.t = t
	a.srv = httptest.NewServer(a)
	t.Cleanup(a.srv.Close)
	return a
}

// Endpoint is host:port, as the SDK's Endpoint setting takes it.
func (a *ACS) Endpoint() string { return strings.TrimPrefix(a.srv.URL, "http://") }

// URL is the server's http://host:port.
func (a *ACS) URL() string { return a.srv.URL }

// SetHook makes h answer calls before Answer does: when ok, the call gets
// status and the fixture file (relative to testdata/).
func (a *ACS) SetHook(h func(c ACSCall, n int) (status int, fixture string, ok bool)) {
	a.mu.Lock()
	defer a.mu.Unlock()
	a.hook = h
}

// Calls is every call served so far, in order.
func (a *ACS) Calls() []ACSCall {
	a.mu.Lock()
	defer a.mu.Unlock()
	return slices.Clone(a.calls)
}

// Count is how many calls of action (with match, when not nil) were
// served.
func (a *ACS) Count(action string, match func(url.Values) bool) int {
	n := 0
	for _, c := range a.Calls() {
		if c.Action == action && (match == nil || match(c.Query)) {
			n++
		}
	}
	return n
}

func (a *ACS) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	body, _ := io.ReadAll(r.Body)
	action := r.Header.Get("x-acs-action")
	q := r.URL.Query()
	err := a.checkWire(r, body, action, q)
	if err == nil && a.Check != nil {
		err = a.Check(action, q)
	}
	if err == nil {
		err = CheckACS3Signature(r, q, a.KeyID, a.Secret)
	}
	if err != nil {
		a.t.Errorf("%s %s: %v", a.Product, action, err)
		WriteJSON(w, http.StatusBadRequest, map[string]any{"RequestId": "FAKE", "Code": "IncompleteSignature", "Message": err.Error()})
		return
	}
	c := ACSCall{Action: action, Query: q}
	a.mu.Lock()
	a.calls = append(a.calls, c)
	n := 0
	for _, x := range a.calls {
		if x.Action == action {
			n++
		}
	}
	hook := a.hook
	a.mu.Unlock()
	if hook != nil {
		if status, fixture, ok := hook(c, n); ok {
			WriteJSON(w, status, LoadJSON(a.t, fixture))
			return
		}
	}
	status, answer := a.Answer(action, q)
	WriteJSON(w, status, answer)
}

// checkWire checks the request as the V2 SDK sends it, whatever the
// product.
func (a *ACS) checkWire(r *http.Request, body []byte, action string, q url.Values) error {
	switch {
	case r.Method != http.MethodPost || r.URL.Path != "/":
		return fmt.Errorf("%s %s, want POST /", r.Method, r.URL.Path)
	case action == "":
		return fmt.Errorf("no x-acs-action header")
	case q.Has("Action") || q.Has("Version"):
		return fmt.Errorf("Action/Version in the query string (signature v1 RPC), want the x-acs-* headers")
	case r.Header.Get("x-acs-version") != a.Version:
		return fmt.Errorf("x-acs-version %q, want %q", r.Header.Get("x-acs-version"), a.Version)
	case len(body) != 0:
		return fmt.Errorf("unexpected body %q", body)
	}
	sum := sha256.Sum256(body)
	if got := r.Header.Get("x-acs-content-sha256"); got != hex.EncodeToString(sum[:]) {
		return fmt.Errorf("x-acs-content-sha256 %q does not hash the body", got)
	}
	return nil
}

// CheckACS3Signature verifies ACS3-HMAC-SHA256 (Alibaba Cloud's V3
// request signature, which the darabonba client computes) with the
// AccessKey keyID/secret.
func CheckACS3Signature(r *http.Request, q url.Values, keyID, secret string) error {
	const alg = "ACS3-HMAC-SHA256"
	rest, ok := strings.CutPrefix(r.Header.Get("Authorization"), alg+" ")
	if !ok {
		return fmt.Errorf("Authorization %q: want %s", r.Header.Get("Authorization"), alg)
	}
	fields := map[string]string{}
	for _, kv := range strings.Split(rest, ",") {
		k, v, _ := strings.Cut(strings.TrimSpace(kv), "=")
		fields[k] = v
	}
	if fields["Credential"] != keyID {
		return fmt.Errorf("credential %q, want %q", fields["Credential"], keyID)
	}
	signed := strings.Split(fields["SignedHeaders"], ";")
	for _, h := range []string{"host", "x-acs-action", "x-acs-content-sha256", "x-acs-date", "x-acs-signature-nonce", "x-acs-version"} {
		if !slices.Contains(signed, h) {
			return fmt.Errorf("header %s not signed (SignedHeaders %q)", h, fields["SignedHeaders"])
		}
	}
	var headers strings.Builder
	for _, h := range signed {
		v := r.Header.Get(h)
		if h == "host" {
			v = r.Host
		}
		headers.WriteString(h + ":" + strings.TrimSpace(v) + "\n")
	}
	keys := make([]string, 0, len(q))
	for k := range q {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	query := make([]string, 0, len(keys))
	for _, k := range keys {
		query = append(query, url.QueryEscape(k)+"="+url.QueryEscape(q.Get(k)))
	}
	cq := strings.NewReplacer("+", "%20", "*", "%2A", "%7E", "~").Replace(strings.Join(query, "&"))
	canonical := r.Method + "\n/\n" + cq + "\n" + headers.String() + "\n" + fields["SignedHeaders"] + "\n" + r.Header.Get("x-acs-content-sha256")
	h := sha256.Sum256([]byte(canonical))
	mac := hmac.New(sha256.New, []byte(secret))
	mac.Write([]byte(alg + "\n" + hex.EncodeToString(h[:])))
	if want := hex.EncodeToString(mac.Sum(nil)); !hmac.Equal([]byte(want), []byte(fields["Signature"])) {
		return fmt.Errorf("signature does not verify with the test secret")
	}
	return nil
}

// AllowedParams says which parameter of q is not in allowed. "Name.*" in
// allowed admits the list members Name.1, Name.2, …
func AllowedParams(q url.Values, allowed []string) error {
	for k := range q {
		if !slices.ContainsFunc(allowed, func(a string) bool {
			if p, ok := strings.CutSuffix(a, "*"); ok {
				_, err := strconv.Atoi(strings.TrimPrefix(k, p))
				return strings.HasPrefix(k, p) && err == nil
			}
			return a == k
		}) {
			return fmt.Errorf("parameter %s is not implemented by the fake", k)
		}
	}
	return nil
}

// WriteJSON writes v as the API's JSON answer.
func WriteJSON(w http.ResponseWriter, status int, v any) {
	b, err := json.Marshal(v)
	if err != nil {
		panic(err) // fixtures are JSON already
	}
	w.Header().Set("Content-Type", "application/json;charset=utf-8")
	w.WriteHeader(status)
	_, _ = w.Write(b)
}

// LoadJSON reads testdata/rel as generic JSON, numbers kept as written.
// A missing fixture fails the test and answers an InternalError.
func LoadJSON(t testing.TB, rel string) map[string]any {
	b, err := os.ReadFile(filepath.Join("testdata", rel))
	if err != nil {
		t.Errorf("fixture: %v", err)
		return map[string]any{"RequestId": "FAKE", "Code": "InternalError", "Message": err.Error()}
	}
	d := json.NewDecoder(bytes.NewReader(b))
	d.UseNumber()
	var m map[string]any
	if err := d.Decode(&m); err != nil {
		t.Fatalf("fixture %s: %v", rel, err)
	}
	return m
}

// Exists says whether testdata/rel exists (an unknown resource's answer
// is the API's NotFound error, not a missing fixture).
func Exists(rel string) bool {
	_, err := os.Stat(filepath.Join("testdata", rel))
	return err == nil
}

// IsolateAliyunEnv gives the test an Alibaba Cloud environment of its
// own: the AccessKey keyID/secret where the default credential chain
// finds it, home as HOME (no CLI profile or credentials file), no ECS
// metadata service, no proxies.
func IsolateAliyunEnv(t testing.TB, keyID, secret, home string) {
	t.Helper()
	for k, v := range map[string]string{
		"HOME":                                home,
		"ALIBABA_CLOUD_ACCESS_KEY_ID":         keyID,
		"ALIBABA_CLOUD_ACCESS_KEY_SECRET":     secret,
		"ALIBABA_CLOUD_SECURITY_TOKEN":        "",
		"ALIBABA_CLOUD_ECS_METADATA_DISABLED": "true",
		"ALIBABA_CLOUD_ECS_METADATA":          "",
		"ALIBABA_CLOUD_CONFIG_FILE":           "",
		"ALIBABA_CLOUD_PROFILE":               "",
		"ALIBABA_CLOUD_CLI_PROFILE_DISABLED":  "",
		"ALIBABA_CLOUD_CREDENTIALS_FILE":      "",
		"ALIBABA_CLOUD_CREDENTIALS_URI":       "",
		"ALIBABA_CLOUD_ROLE_ARN":              "",
		"ALIBABA_CLOUD_OIDC_PROVIDER_ARN":     "",
		"ALIBABA_CLOUD_OIDC_TOKEN_FILE":       "",
		"HTTP_PROXY":                          "",
		"HTTPS_PROXY":                         "",
		"http_proxy":                          "",
		"https_proxy":                         "",
		"DEBUG":                               "",
	} {
		t.Setenv(k, v)
	}
}

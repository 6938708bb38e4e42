package elbv2

import (
	"bytes"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
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
	"time"
)

// A local stand-in for the ELBv2 (and STS) Query API. The real SDK client
// POSTs form-encoded requests to it; it verifies each request's SigV4
// signature with the secret of the key that signed it (so the credential
// chain, the assumed role and the signer really ran), checks that only
// Describe* actions of API version 2015-12-01 are called, and answers
// with the XML fixtures of testdata/, written as the API reference shows
// its responses (namespace, Result wrapper, <member> lists, ErrorResponse).

const (
	elbVersion = "2015-12-01"
	stsVersion = "2011-06-15"
	region     = "eu-west-1"

	testKeyID  = "AKIAPORTCHECKELBTEST"
	testSecret = "portcheck-elb-test-secret"
)

// secrets are the keys the fake accepts, by access key id.
var secrets = map[string]string{
	testKeyID:             testSecret,
	"ASIATESTASSUMEDROLE": "assumed-role-test-secret", // testdata/sts_assume_role.xml
	"AKIAPROFILETEST":     "profile-test-secret",
}

type reply struct {
	status int
	file   string
}

func ok(file string) []reply { return []reply{{http.StatusOK, file}} }

type fakeELB struct {
	t      *testing.T
	routes map[string][]reply

	mu       sync.Mutex
	requests []string
	counts   map[string]int
	ops      map[string]map[string]bool // per key: SDK invocation ids
	keyIDs   []string
}

func newFake(t *testing.T, routes map[string][]reply) (*fakeELB, *httptest.Server) {
	t.Helper()
	f := &fakeELB{t: t, routes: routes, counts: map[string]int{}, ops: map[string]map[string]bool{}}
	srv := httptest.NewServer(f)
	t.Cleanup(srv.Close)
	return f, srv
}

func (f *fakeELB) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	body, err := io.ReadAll(r.Body)
	if err != nil {
		f.fail(w, "reading the body: %v", err)
		return
	}
	if r.Method != http.MethodPost || r.URL.Path != "/" {
		f.fail(w, "%s %s, want POST /", r.Method, r.URL.Path)
		return
	}
	if ct := r.Header.Get("Content-Type"); !strings.HasPrefix(ct, "application/x-www-form-urlencoded") {
		f.fail(w, "content type %q, want a form", ct)
		return
	}
	form, err := url.ParseQuery(string(body))
	if err != nil {
		f.fail(w, "bad form: %v", err)
		return
	}
	action, version := form.Get("Action"), form.Get("Version")
	service := ""
	switch {
	case version == elbVersion && strings.HasPrefix(action, "Describe"):
		service = "elasticloadbalancing"
	case version == stsVersion && action == "AssumeRole":
		service = "sts"
	default:
		f.fail(w, "action %q of version %q: only ELBv2 Describe* (and STS AssumeRole) may be called", action, version)
		return
	}
	keyID, err := verifySigV4(r, body, service)
	if err != nil {
		// What AWS answers to a bad signature.
		w.Header().Set("Content-Type", "text/xml")
		w.WriteHeader(http.StatusForbidden)
		fmt.Fprintf(w, `<ErrorResponse xmlns="http://elasticloadbalancing.amazonaws.com/doc/2015-12-01/"><Error><Type>Sender</Type><Code>SignatureDoesNotMatch</Code><Message>%s</Message></Error><RequestId>0</RequestId></ErrorResponse>`, err)
		return
	}
	key := canonical(form)
	time.Sleep(2 * time.Millisecond) // answer as a remote endpoint would (see providers/cloud/aws's fake)

	f.mu.Lock()
	n := f.counts[key]
	f.counts[key]++
	if f.ops[key] == nil {
		f.ops[key] = map[string]bool{}
	}
	f.ops[key][r.Header.Get("Amz-Sdk-Invocation-Id")] = true
	f.requests = append(f.requests, key)
	f.keyIDs = append(f.keyIDs, keyID)
	f.mu.Unlock()

	replies := f.routes[key]
	if len(replies) == 0 {
		f.fail(w, "unexpected request %q", key)
		return
	}
	rep := replies[min(n, len(replies)-1)]
	data, err := os.ReadFile(filepath.Join("testdata", rep.file))
	if err != nil {
		f.fail(w, "fixture: %v", err)
		return
	}
	w.Header().Set("Content-Type", "text/xml")
	w.Header().Set("x-amzn-RequestId", "00000000-0000-0000-0000-000000000000")
	w.WriteHeader(rep.status)
	w.Write(data)
}

func (f *fakeELB) fail(w http.ResponseWriter, format string, args ...any) {
	f.t.Errorf("fake ELBv2: "+format, args...)
	w.WriteHeader(http.StatusBadRequest)
	w.Write([]byte(`<ErrorResponse><Error><Type>Sender</Type><Code>InvalidAction</Code><Message>rejected by the test server</Message></Error><RequestId>0</RequestId></ErrorResponse>`))
}

func (f *fakeELB) attempts(key string) int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.counts[key]
}

func (f *fakeELB) operations(key string) int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return len(f.ops[key])
}

func (f *fakeELB) seen() (requests, keyIDs []string) {
	f.mu.Lock()
	defer f.mu.Unlock()
	return slices.Clone(f.requests), slices.Clone(f.keyIDs)
}

// canonical names a request by its action and parameters, lists joined:
// "DescribeTargetGroups Names=web-8080,web-9090 Marker=x". Query lists are
// X.member.N.
func canonical(form url.Values) string {
	lists := map[string][]string{}
	for k, vs := range form {
		if k == "Action" || k == "Version" {
			continue
		}
		name := k
		if parts := strings.Split(k, "."); len(parts) == 3 && parts[1] == "member" {
			if _, err := strconv.Atoi(parts[2]); err == nil {
				name = parts[0]
			}
		}
		lists[name] = append(lists[name], vs...)
	}
	var params []string
	for k, v := range lists {
		slices.Sort(v)
		params = append(params, k+"="+strings.Join(v, ","))
	}
	slices.Sort(params)
	return strings.Join(append([]string{form.Get("Action")}, params...), " ")
}

// verifySigV4 checks the request's AWS Signature Version 4 against the
// secret of its access key, recomputing the canonical request from the
// headers the client signed, and returns the key id.
func verifySigV4(r *http.Request, body []byte, service string) (string, error) {
	const alg = "AWS4-HMAC-SHA256"
	rest, ok := strings.CutPrefix(r.Header.Get("Authorization"), alg+" ")
	if !ok {
		return "", fmt.Errorf("not signed with %s: %q", alg, r.Header.Get("Authorization"))
	}
	fields := map[string]string{}
	for _, kv := range strings.Split(rest, ",") {
		k, v, _ := strings.Cut(strings.TrimSpace(kv), "=")
		fields[k] = v
	}
	scope := strings.Split(fields["Credential"], "/")
	if len(scope) != 5 || scope[4] != "aws4_request" {
		return "", fmt.Errorf("credential scope %q", fields["Credential"])
	}
	keyID, date, reg, svc := scope[0], scope[1], scope[2], scope[3]
	secret, known := secrets[keyID]
	switch {
	case !known:
		return "", fmt.Errorf("unknown access key %s", keyID)
	case reg != region || svc != service:
		return "", fmt.Errorf("signed for %s/%s, want %s/%s", reg, svc, region, service)
	}
	amzDate := r.Header.Get("X-Amz-Date")
	if !strings.HasPrefix(amzDate, date) {
		return "", fmt.Errorf("X-Amz-Date %q outside the scope's date %s", amzDate, date)
	}
	signed := strings.Split(fields["SignedHeaders"], ";")
	for _, h := range []string{"host", "x-amz-date"} {
		if !slices.Contains(signed, h) {
			return "", fmt.Errorf("header %s not signed", h)
		}
	}
	var headers bytes.Buffer
	for _, h := range signed {
		var v string
		switch h {
		case "host":
			v = r.Host
		case "content-length":
			v = strconv.FormatInt(r.ContentLength, 10)
		default:
			v = strings.Join(r.Header.Values(h), ",")
		}
		headers.WriteString(h + ":" + strings.Join(strings.Fields(v), " ") + "\n")
	}
	payload := r.Header.Get("X-Amz-Content-Sha256")
	if payload == "" {
		sum := sha256.Sum256(body)
		payload = hex.EncodeToString(sum[:])
	}
	canonicalRequest := strings.Join([]string{r.Method, "/", r.URL.RawQuery, headers.String(), fields["SignedHeaders"], payload}, "\n")
	crHash := sha256.Sum256([]byte(canonicalRequest))
	toSign := strings.Join([]string{alg, amzDate, strings.Join(scope[1:], "/"), hex.EncodeToString(crHash[:])}, "\n")
	hmacOf := func(key []byte, s string) []byte {
		m := hmac.New(sha256.New, key)
		m.Write([]byte(s))
		return m.Sum(nil)
	}
	k := hmacOf([]byte("AWS4"+secret), date)
	k = hmacOf(k, reg)
	k = hmacOf(k, svc)
	k = hmacOf(k, "aws4_request")
	want := hex.EncodeToString(hmacOf(k, toSign))
	if !hmac.Equal([]byte(want), []byte(fields["Signature"])) {
		return "", fmt.Errorf("the signature does not verify with the secret of %s", keyID)
	}
	return keyID, nil
}

// isolateEnv gives the test an environment without the machine's AWS
// settings (no AWS_* variable, an empty HOME, no instance metadata) and
// quick retries.
func isolateEnv(t *testing.T) string {
	t.Helper()
	for _, kv := range os.Environ() {
		k, _, _ := strings.Cut(kv, "=")
		if strings.HasPrefix(k, "AWS_") {
			t.Setenv(k, "")
			os.Unsetenv(k)
		}
	}
	home := t.TempDir()
	t.Setenv("HOME", home)
	t.Setenv("AWS_CONFIG_FILE", filepath.Join(home, ".aws", "config"))
	t.Setenv("AWS_SHARED_CREDENTIALS_FILE", filepath.Join(home, ".aws", "credentials"))
	t.Setenv("AWS_EC2_METADATA_DISABLED", "true")
	saved := retryMaxBackoff
	retryMaxBackoff = 5 * time.Millisecond
	t.Cleanup(func() { retryMaxBackoff = saved })
	return home
}

func staticCredentials(t *testing.T, keyID, secret string) {
	t.Setenv("AWS_ACCESS_KEY_ID", keyID)
	t.Setenv("AWS_SECRET_ACCESS_KEY", secret)
}

package aws

import (
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"
)

// This file is a local stand-in for the EC2 (and STS) Query API: the real
// SDK client POSTs form-encoded requests to it and reads the XML answers of
// testdata/, so the SDK's serializers, signers, paginators, retryer and
// deserializers all run as they do against AWS.

const (
	ec2Version = "2016-11-15"
	stsVersion = "2011-06-15"
)

const answerDelay = 2 * time.Millisecond

// reply is one answer: an HTTP status and a fixture file of testdata/.
type reply struct {
	status int
	file   string
}

func ok(file string) []reply { return []reply{{http.StatusOK, file}} }

// fakeAWS answers requests by their canonical key (see canonical): the
// n-th request with a key gets the n-th reply of its route, the last reply
// repeating.
type fakeAWS struct {
	t      *testing.T
	routes map[string][]reply

	mu       sync.Mutex
	requests []string                   // canonical keys, in order
	counts   map[string]int             // HTTP requests (attempts) per key
	ops      map[string]map[string]bool // per key: SDK invocation ids (operations; retries share one)
	keyIDs   []string                   // access key id that signed each request
	scopes   []string                   // region/service of each signature
}

// newFake starts the server; it is closed when the test ends.
func newFake(t *testing.T, routes map[string][]reply) (*fakeAWS, *httptest.Server) {
	t.Helper()
	f := &fakeAWS{t: t, routes: routes, counts: map[string]int{}, ops: map[string]map[string]bool{}}
	srv := httptest.NewServer(f)
	t.Cleanup(srv.Close)
	return f, srv
}

var credentialRE = regexp.MustCompile(`Credential=([^/]+)/\d{8}/([^/]+)/([^/]+)/aws4_request`)

func (f *fakeAWS) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodPost {
		f.fail(w, "method %s, want POST", r.Method)
		return
	}
	if err := r.ParseForm(); err != nil {
		f.fail(w, "bad form: %v", err)
		return
	}
	action, version := r.PostForm.Get("Action"), r.PostForm.Get("Version")
	switch version {
	case ec2Version:
		// Reading must never change anything: only Describe*/Get*.
		if !strings.HasPrefix(action, "Describe") && !strings.HasPrefix(action, "Get") {
			f.fail(w, "EC2 action %q is not read-only", action)
			return
		}
	case stsVersion:
		if action != "AssumeRole" {
			f.fail(w, "STS action %q not expected", action)
			return
		}
	default:
		f.fail(w, "unknown API version %q (action %q)", version, action)
		return
	}
	key := canonical(r.PostForm)
	// Answer as a remote endpoint would, not within microseconds of the
	// request: on loopback an instant answer sometimes races the client's
	// own bookkeeping and the response body is read from a closed
	// connection ("use of closed network connection",
	// aws/aws-sdk-go-v2#2737), which the SDK then retries. The counts
	// below are robust to such a retry; the pause makes it rare.
	time.Sleep(answerDelay)
	m := credentialRE.FindStringSubmatch(r.Header.Get("Authorization"))
	if m == nil {
		f.fail(w, "request %s is not signed with SigV4: %q", key, r.Header.Get("Authorization"))
		return
	}

	f.mu.Lock()
	n := f.counts[key]
	f.counts[key]++
	if f.ops[key] == nil {
		f.ops[key] = map[string]bool{}
	}
	f.ops[key][r.Header.Get("Amz-Sdk-Invocation-Id")] = true
	f.requests = append(f.requests, key)
	f.keyIDs = append(f.keyIDs, m[1])
	f.scopes = append(f.scopes, m[2]+"/"+m[3])
	f.mu.Unlock()

	replies, found := f.routes[key]
	if !found || len(replies) == 0 {
		f.fail(w, "unexpected request %q", key)
		return
	}
	rep := replies[min(n, len(replies)-1)]
	body, err := os.ReadFile(filepath.Join("testdata", rep.file))
	if err != nil {
		f.fail(w, "fixture: %v", err)
		return
	}
	w.Header().Set("Content-Type", "text/xml;charset=UTF-8")
	w.Header().Set("x-amzn-RequestId", "00000000-0000-0000-0000-000000000000")
	w.WriteHeader(rep.status)
	w.Write(body)
}

func (f *fakeAWS) fail(w http.ResponseWriter, format string, args ...any) {
	f.t.Errorf("fake AWS: "+format, args...)
	w.WriteHeader(http.StatusBadRequest)
	w.Write([]byte(`<Response><Errors><Error><Code>InvalidAction</Code><Message>rejected by the test server</Message></Error></Errors><RequestID>0</RequestID></Response>`))
}

// attempts is how many HTTP requests had key.
func (f *fakeAWS) attempts(key string) int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.counts[key]
}

// operations is how many SDK operations (an invocation id, shared by its
// retries) made requests with key.
func (f *fakeAWS) operations(key string) int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return len(f.ops[key])
}

func (f *fakeAWS) seen() (requests, keyIDs, scopes []string) {
	f.mu.Lock()
	defer f.mu.Unlock()
	return slices.Clone(f.requests), slices.Clone(f.keyIDs), slices.Clone(f.scopes)
}

// assertEachRouteOnce checks that every route was asked by exactly one
// operation, and at least once for each of its replies (a throttled
// first answer needs a retry).
func (f *fakeAWS) assertEachRouteOnce() {
	f.t.Helper()
	f.mu.Lock()
	defer f.mu.Unlock()
	for key, replies := range f.routes {
		if got := len(f.ops[key]); got != 1 {
			f.t.Errorf("request %q made by %d operations, want 1", key, got)
		}
		if got := f.counts[key]; got < len(replies) {
			f.t.Errorf("request %q made %d times, want %d", key, got, len(replies))
		}
	}
}

// canonical names a request by its action and parameters, list members
// sorted: "DescribeNetworkInterfaces Filter:group-id=sg-a,sg-b NextToken=x".
// Filter.N.Name/Filter.N.Value.M become Filter:NAME=V1,V2; X.N lists
// become X=V1,V2.
func canonical(form url.Values) string {
	filterNames := map[string]string{}
	filterValues := map[string][]string{}
	lists := map[string][]string{}
	for k, vs := range form {
		if k == "Action" || k == "Version" {
			continue
		}
		parts := strings.Split(k, ".")
		switch {
		case parts[0] == "Filter" && len(parts) == 3 && parts[2] == "Name":
			filterNames[parts[1]] = vs[0]
		case parts[0] == "Filter" && len(parts) == 4 && parts[2] == "Value":
			filterValues[parts[1]] = append(filterValues[parts[1]], vs...)
		case len(parts) == 2 && isDigits(parts[1]):
			lists[parts[0]] = append(lists[parts[0]], vs...)
		default:
			lists[k] = append(lists[k], vs...)
		}
	}
	var params []string
	for n, name := range filterNames {
		v := filterValues[n]
		slices.Sort(v)
		params = append(params, "Filter:"+name+"="+strings.Join(v, ","))
	}
	for k, v := range lists {
		slices.Sort(v)
		params = append(params, k+"="+strings.Join(v, ","))
	}
	slices.Sort(params)
	return strings.Join(append([]string{form.Get("Action")}, params...), " ")
}

func isDigits(s string) bool {
	return s != "" && strings.Trim(s, "0123456789") == ""
}

// isolateEnv gives the test an environment without any AWS setting of the
// machine: no AWS_* variable, an empty HOME (no ~/.aws), no instance
// metadata, and quick retries. The SDK computes its default shared file
// paths from HOME once, when its package starts, so they are pointed at
// the new HOME explicitly.
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

const testKeyID = "AKIAPORTCHECKTEST"

// staticCredentials puts test credentials into the environment, where the
// SDK's default chain finds them.
func staticCredentials(t *testing.T) {
	t.Setenv("AWS_ACCESS_KEY_ID", testKeyID)
	t.Setenv("AWS_SECRET_ACCESS_KEY", "portcheck-test-secret")
}

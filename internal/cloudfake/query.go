package cloudfake

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

// Reply is one answer of a Query API fake: an HTTP status and an XML
// fixture file of testdata/.
type Reply struct {
	Status int
	File   string
}

// OK is a route answered by file with 200.
func OK(file string) []Reply { return []Reply{{http.StatusOK, file}} }

// Query is an AWS Query API endpoint (EC2, ELBv2, STS): the SDK POSTs
// form-encoded requests to "/" and reads XML answers. Requests are routed
// by their canonical key (see Canonical): the n-th request with a key
// gets the n-th reply of its route, the last reply repeating.
type Query struct {
	// Name is the API's name in messages ("EC2", "ELBv2").
	Name string
	// Routes are the replies by canonical key.
	Routes map[string][]Reply
	// Service says which SigV4 service an action of a version belongs
	// to, and "" when the readers must not call it (only read-only
	// actions are routed).
	Service func(action, version string) string
	// Secrets are the secret keys by access key id. When set, every
	// request's SigV4 signature is verified with its key's secret and
	// Region; when nil, a request only has to carry a SigV4 credential.
	Secrets map[string]string
	Region  string
	// ErrorXML is the body of an answer to a request the fake refuses:
	// code and message in the API's error document.
	ErrorXML func(code, message string) string

	t testing.TB

	mu       sync.Mutex
	requests []string                   // canonical keys, in order
	counts   map[string]int             // HTTP requests (attempts) per key
	ops      map[string]map[string]bool // per key: SDK invocation ids (operations; retries share one)
	keyIDs   []string                   // access key id that signed each request
	scopes   []string                   // region/service of each signature
}

// EC2ErrorXML is EC2's error document.
func EC2ErrorXML(code, message string) string {
	return `<Response><Errors><Error><Code>` + code + `</Code><Message>` + message + `</Message></Error></Errors><RequestID>0</RequestID></Response>`
}

// ErrorResponseXML is the error document of the other Query APIs (ELBv2,
// STS).
func ErrorResponseXML(code, message string) string {
	return `<ErrorResponse><Error><Type>Sender</Type><Code>` + code + `</Code><Message>` + message + `</Message></Error><RequestId>0</RequestId></ErrorResponse>`
}

// StartQuery starts q's server; it is closed when the test ends.
func StartQuery(t testing.TB, q *Query) (*Query, *httptest.Server) {
	t.Helper()
	q.t = t
	q.counts, q.ops = map[string]int{}, map[string]map[string]bool{}
	if q.ErrorXML == nil {
		q.ErrorXML = ErrorResponseXML
	}
	srv := httptest.NewServer(q)
	t.Cleanup(srv.Close)
	return q, srv
}

// AnswerDelay is how long the fake waits before it answers: as a remote
// endpoint would, not within microseconds of the request. On loopback an
// instant answer sometimes races the client's own bookkeeping and the
// response body is read from a closed connection ("use of closed network
// connection", aws/aws-sdk-go-v2#2737), which the SDK then retries. The
// counts are robust to such a retry; the pause makes it rare.
const AnswerDelay = 2 * time.Millisecond

func (q *Query) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	body, err := io.ReadAll(r.Body)
	if err != nil {
		q.fail(w, "reading the body: %v", err)
		return
	}
	if r.Method != http.MethodPost || r.URL.Path != "/" {
		q.fail(w, "%s %s, want POST /", r.Method, r.URL.Path)
		return
	}
	if ct := r.Header.Get("Content-Type"); !strings.HasPrefix(ct, "application/x-www-form-urlencoded") {
		q.fail(w, "content type %q, want a form", ct)
		return
	}
	form, err := url.ParseQuery(string(body))
	if err != nil {
		q.fail(w, "bad form: %v", err)
		return
	}
	action, version := form.Get("Action"), form.Get("Version")
	service := q.Service(action, version)
	if service == "" {
		q.fail(w, "action %q of version %q may not be called (read-only actions only)", action, version)
		return
	}
	keyID, scope, err := q.credential(r, body, service)
	if err != nil {
		// What AWS answers to a bad signature (a test may send one on
		// purpose: a wrong secret must fail as AWS fails it).
		w.Header().Set("Content-Type", "text/xml")
		w.WriteHeader(http.StatusForbidden)
		w.Write([]byte(q.ErrorXML("SignatureDoesNotMatch", err.Error())))
		return
	}
	key := Canonical(form)
	time.Sleep(AnswerDelay)

	q.mu.Lock()
	n := q.counts[key]
	q.counts[key]++
	if q.ops[key] == nil {
		q.ops[key] = map[string]bool{}
	}
	q.ops[key][r.Header.Get("Amz-Sdk-Invocation-Id")] = true
	q.requests = append(q.requests, key)
	q.keyIDs = append(q.keyIDs, keyID)
	q.scopes = append(q.scopes, scope)
	q.mu.Unlock()

	replies := q.Routes[key]
	if len(replies) == 0 {
		q.fail(w, "unexpected request %q", key)
		return
	}
	rep := replies[min(n, len(replies)-1)]
	data, err := os.ReadFile(filepath.Join("testdata", rep.File))
	if err != nil {
		q.fail(w, "fixture: %v", err)
		return
	}
	w.Header().Set("Content-Type", "text/xml;charset=UTF-8")
	w.Header().Set("x-amzn-RequestId", "00000000-0000-0000-0000-000000000000")
	w.WriteHeader(rep.Status)
	w.Write(data)
}

func (q *Query) fail(w http.ResponseWriter, format string, args ...any) {
	q.t.Errorf("fake "+q.Name+": "+format, args...)
	w.Header().Set("Content-Type", "text/xml")
	w.WriteHeader(http.StatusBadRequest)
	w.Write([]byte(q.ErrorXML("InvalidAction", "rejected by the test server")))
}

// Attempts is how many HTTP requests had key.
func (q *Query) Attempts(key string) int {
	q.mu.Lock()
	defer q.mu.Unlock()
	return q.counts[key]
}

// Operations is how many SDK operations (an invocation id, shared by its
// retries) made requests with key.
func (q *Query) Operations(key string) int {
	q.mu.Lock()
	defer q.mu.Unlock()
	return len(q.ops[key])
}

// Seen is every request's key, the access key id that signed it and its
// signature's region/service, in order.
func (q *Query) Seen() (requests, keyIDs, scopes []string) {
	q.mu.Lock()
	defer q.mu.Unlock()
	return slices.Clone(q.requests), slices.Clone(q.keyIDs), slices.Clone(q.scopes)
}

// AssertEachRouteOnce checks that every route was asked by exactly one
// operation, and at least once for each of its replies (a throttled
// first answer needs a retry).
func (q *Query) AssertEachRouteOnce() {
	q.t.Helper()
	q.mu.Lock()
	defer q.mu.Unlock()
	for key, replies := range q.Routes {
		if got := len(q.ops[key]); got != 1 {
			q.t.Errorf("request %q made by %d operations, want 1", key, got)
		}
		if got := q.counts[key]; got < len(replies) {
			q.t.Errorf("request %q made %d times, want %d", key, got, len(replies))
		}
	}
}

// Canonical names a request by its action and parameters, list members
// sorted: "DescribeNetworkInterfaces Filter:group-id=sg-a,sg-b NextToken=x".
// EC2's Filter.N.Name/Filter.N.Value.M become Filter:NAME=V1,V2; lists
// X.N (EC2) and X.member.N (the other Query APIs) become X=V1,V2.
func Canonical(form url.Values) string {
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
		case len(parts) == 2 && isDigits(parts[1]),
			len(parts) == 3 && parts[1] == "member" && isDigits(parts[2]):
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

// credential returns the access key id and region/service of the
// request's SigV4 signature, verified when q has Secrets.
func (q *Query) credential(r *http.Request, body []byte, service string) (keyID, scope string, err error) {
	const alg = "AWS4-HMAC-SHA256"
	rest, ok := strings.CutPrefix(r.Header.Get("Authorization"), alg+" ")
	if !ok {
		return "", "", fmt.Errorf("not signed with %s: %q", alg, r.Header.Get("Authorization"))
	}
	fields := map[string]string{}
	for _, kv := range strings.Split(rest, ",") {
		k, v, _ := strings.Cut(strings.TrimSpace(kv), "=")
		fields[k] = v
	}
	parts := strings.Split(fields["Credential"], "/")
	if len(parts) != 5 || parts[4] != "aws4_request" || !isDigits(parts[1]) || len(parts[1]) != 8 {
		return "", "", fmt.Errorf("credential scope %q", fields["Credential"])
	}
	keyID, date, reg, svc := parts[0], parts[1], parts[2], parts[3]
	if q.Secrets == nil {
		return keyID, reg + "/" + svc, nil
	}
	secret, known := q.Secrets[keyID]
	switch {
	case !known:
		return "", "", fmt.Errorf("unknown access key %s", keyID)
	case reg != q.Region || svc != service:
		return "", "", fmt.Errorf("signed for %s/%s, want %s/%s", reg, svc, q.Region, service)
	}
	amzDate := r.Header.Get("X-Amz-Date")
	if !strings.HasPrefix(amzDate, date) {
		return "", "", fmt.Errorf("X-Amz-Date %q outside the scope's date %s", amzDate, date)
	}
	signed := strings.Split(fields["SignedHeaders"], ";")
	for _, h := range []string{"host", "x-amz-date"} {
		if !slices.Contains(signed, h) {
			return "", "", fmt.Errorf("header %s not signed", h)
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
	toSign := strings.Join([]string{alg, amzDate, strings.Join(parts[1:], "/"), hex.EncodeToString(crHash[:])}, "\n")
	hmacOf := func(key []byte, s string) []byte {
		m := hmac.New(sha256.New, key)
		m.Write([]byte(s))
		return m.Sum(nil)
	}
	k := hmacOf([]byte("AWS4"+secret), date)
	k = hmacOf(k, reg)
	k = hmacOf(k, svc)
	k = hmacOf(k, "aws4_request")
	if want := hex.EncodeToString(hmacOf(k, toSign)); !hmac.Equal([]byte(want), []byte(fields["Signature"])) {
		return "", "", fmt.Errorf("the signature does not verify with the secret of %s", keyID)
	}
	return keyID, reg + "/" + svc, nil
}

// IsolateAWSEnv gives the test an environment without any AWS setting of
// the machine: no AWS_* variable, an empty HOME (no ~/.aws), no instance
// metadata. The SDK computes its default shared file paths from HOME once,
// when its package starts, so they are pointed at the new HOME
// explicitly. It returns the HOME.
func IsolateAWSEnv(t testing.TB) string {
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
	return home
}

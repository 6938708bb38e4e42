package aliyunlb

// A local Alibaba Cloud OpenAPI endpoint for SLB (2014-05-15) and ALB
// (2020-06-16), checked as strictly as providers/cloud/aliyun's fake for
// ECS and VPC: POST /, the operation in x-acs-action and the version in
// x-acs-version, parameters in the query string, an empty body, an
// ACS3-HMAC-SHA256 signature verified with the test secret (the credential
// chain really supplied it), read-only operations only. Answers are the
// documented response shapes of testdata/<product>/<Action>/<id>.json;
// the fake pages them (NextToken) so the reader must follow pages.

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

const (
	testRegion = "cn-hangzhou"
	testKeyID  = "LTAI5tLBTESTKEYID0000001"
	testSecret = "lB-tEsTsEcReT-do-not-print-0123456789"
	pageToken  = "FAKEPAGE"
)

var versions = map[string]string{"slb": "2014-05-15", "alb": "2020-06-16"}

// params are the parameters each operation may carry; the reader must
// not depend on one the fake does not implement.
var params = map[string][]string{
	"DescribeVServerGroupAttribute": {"RegionId", "VServerGroupId"},
	"DescribeHealthStatus":          {"RegionId", "LoadBalancerId"},
	"ListServerGroupServers":        {"ServerGroupId", "MaxResults", "NextToken"},
	"GetListenerHealthStatus":       {"ListenerId", "IncludeRule", "NextToken"},
}

type call struct {
	Action string
	Query  url.Values
}

type fakeAPI struct {
	t       *testing.T
	product string
	pageCap int
	srv     *httptest.Server

	mu    sync.Mutex
	calls []call
	// hook may answer instead of the fixtures: n counts the calls of the
	// action so far, this one included.
	hook func(c call, n int) (status int, fixture string, ok bool)
}

func newFake(t *testing.T, product string) *fakeAPI {
	t.Helper()
	f := &fakeAPI{t: t, product: product, pageCap: 2}
	f.srv = httptest.NewServer(f)
	t.Cleanup(f.srv.Close)
	return f
}

func (f *fakeAPI) setHook(h func(c call, n int) (int, string, bool)) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.hook = h
}

func (f *fakeAPI) count(action string) int {
	f.mu.Lock()
	defer f.mu.Unlock()
	n := 0
	for _, c := range f.calls {
		if c.Action == action {
			n++
		}
	}
	return n
}

func (f *fakeAPI) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	body, _ := io.ReadAll(r.Body)
	action := r.Header.Get("x-acs-action")
	q := r.URL.Query()
	if err := f.checkWire(r, body, action, q); err != nil {
		f.t.Errorf("%s %s: %v", f.product, action, err)
		writeJSON(w, http.StatusBadRequest, map[string]any{"RequestId": "FAKE", "Code": "IncompleteSignature", "Message": err.Error()})
		return
	}
	c := call{Action: action, Query: q}
	f.mu.Lock()
	f.calls = append(f.calls, c)
	n := 0
	for _, x := range f.calls {
		if x.Action == action {
			n++
		}
	}
	hook := f.hook
	f.mu.Unlock()
	if hook != nil {
		if status, fixture, ok := hook(c, n); ok {
			writeJSON(w, status, f.load(fixture))
			return
		}
	}
	status, answer := f.answer(action, q)
	writeJSON(w, status, answer)
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	b, err := json.Marshal(v)
	if err != nil {
		panic(err)
	}
	w.Header().Set("Content-Type", "application/json;charset=utf-8")
	w.WriteHeader(status)
	w.Write(b)
}

func (f *fakeAPI) checkWire(r *http.Request, body []byte, action string, q url.Values) error {
	allowed, known := params[action]
	switch {
	case r.Method != http.MethodPost || r.URL.Path != "/":
		return fmt.Errorf("%s %s, want POST /", r.Method, r.URL.Path)
	case !known:
		return fmt.Errorf("action %q is not one the readers may call", action)
	case (f.product == "slb") != strings.HasPrefix(action, "Describe"):
		return fmt.Errorf("action %s is not a %s operation", action, f.product)
	case q.Has("Action") || q.Has("Version"):
		return fmt.Errorf("Action/Version in the query string (signature v1 RPC), want the x-acs-* headers")
	case r.Header.Get("x-acs-version") != versions[f.product]:
		return fmt.Errorf("x-acs-version %q, want %q", r.Header.Get("x-acs-version"), versions[f.product])
	case f.product == "slb" && q.Get("RegionId") != testRegion:
		return fmt.Errorf("RegionId %q, want %q", q.Get("RegionId"), testRegion)
	case len(body) != 0:
		return fmt.Errorf("unexpected body %q", body)
	}
	for k := range q {
		if !slices.Contains(allowed, k) {
			return fmt.Errorf("parameter %s is not implemented by the fake", k)
		}
	}
	sum := sha256.Sum256(body)
	if got := r.Header.Get("x-acs-content-sha256"); got != hex.EncodeToString(sum[:]) {
		return fmt.Errorf("x-acs-content-sha256 %q does not hash the body", got)
	}
	return checkSignature(r, q)
}

// checkSignature verifies ACS3-HMAC-SHA256 with the test secret.
func checkSignature(r *http.Request, q url.Values) error {
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
	if fields["Credential"] != testKeyID {
		return fmt.Errorf("credential %q, want %q", fields["Credential"], testKeyID)
	}
	signed := strings.Split(fields["SignedHeaders"], ";")
	for _, h := range []string{"host", "x-acs-action", "x-acs-content-sha256", "x-acs-date", "x-acs-signature-nonce", "x-acs-version"} {
		if !slices.Contains(signed, h) {
			return fmt.Errorf("header %s not signed", h)
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
	var query []string
	for _, k := range keys {
		query = append(query, url.QueryEscape(k)+"="+url.QueryEscape(q.Get(k)))
	}
	cq := strings.NewReplacer("+", "%20", "*", "%2A", "%7E", "~").Replace(strings.Join(query, "&"))
	canonical := r.Method + "\n/\n" + cq + "\n" + headers.String() + "\n" + fields["SignedHeaders"] + "\n" + r.Header.Get("x-acs-content-sha256")
	h := sha256.Sum256([]byte(canonical))
	mac := hmac.New(sha256.New, []byte(testSecret))
	mac.Write([]byte(alg + "\n" + hex.EncodeToString(h[:])))
	if want := hex.EncodeToString(mac.Sum(nil)); !hmac.Equal([]byte(want), []byte(fields["Signature"])) {
		return fmt.Errorf("signature does not verify with the test secret")
	}
	return nil
}

func (f *fakeAPI) load(rel string) map[string]any {
	b, err := os.ReadFile(filepath.Join("testdata", rel))
	if err != nil {
		f.t.Errorf("fixture: %v", err)
		return map[string]any{"RequestId": "FAKE", "Code": "InternalError", "Message": err.Error()}
	}
	d := json.NewDecoder(bytes.NewReader(b))
	d.UseNumber()
	var m map[string]any
	if err := d.Decode(&m); err != nil {
		f.t.Fatalf("fixture %s: %v", rel, err)
	}
	return m
}

func exists(rel string) bool {
	_, err := os.Stat(filepath.Join("testdata", rel))
	return err == nil
}

func (f *fakeAPI) answer(action string, q url.Values) (int, map[string]any) {
	switch action {
	case "DescribeVServerGroupAttribute":
		rel := "slb/DescribeVServerGroupAttribute/" + filepath.Base(q.Get("VServerGroupId")) + ".json"
		if !exists(rel) {
			return http.StatusBadRequest, f.load("errors/VServerGroup.NotFound.json")
		}
		return http.StatusOK, f.load(rel)
	case "DescribeHealthStatus":
		rel := "slb/DescribeHealthStatus/" + filepath.Base(q.Get("LoadBalancerId")) + ".json"
		if !exists(rel) {
			return http.StatusNotFound, map[string]any{"RequestId": "FAKE-NF", "Code": "InvalidLoadBalancerId.NotFound", "Message": "The specified LoadBalancerId does not exist."}
		}
		return http.StatusOK, f.load(rel)
	case "ListServerGroupServers":
		rel := "alb/ListServerGroupServers/" + filepath.Base(q.Get("ServerGroupId")) + ".json"
		if !exists(rel) {
			return http.StatusNotFound, f.load("errors/ResourceNotFound.ServerGroup.json")
		}
		doc := f.load(rel)
		items, _ := doc["Servers"].([]any)
		size, err := strconv.Atoi(q.Get("MaxResults"))
		if err != nil || size < 1 || size > 100 {
			return http.StatusBadRequest, map[string]any{"RequestId": "FAKE", "Code": "IllegalParam.MaxResults", "Message": "MaxResults"}
		}
		size = min(size, f.pageCap)
		off := 0
		if tok := q.Get("NextToken"); tok != "" {
			n, err := strconv.Atoi(strings.TrimPrefix(tok, pageToken))
			if !strings.HasPrefix(tok, pageToken) || err != nil || n > len(items) {
				return http.StatusBadRequest, map[string]any{"RequestId": "FAKE", "Code": "IllegalParam.NextToken", "Message": "NextToken"}
			}
			off = n
		}
		end := min(off+size, len(items))
		doc["Servers"], doc["NextToken"] = items[off:end], ""
		if end < len(items) {
			doc["NextToken"] = pageToken + strconv.Itoa(end)
		}
		return http.StatusOK, doc
	case "GetListenerHealthStatus":
		if q.Get("IncludeRule") != "true" {
			f.t.Errorf("GetListenerHealthStatus without IncludeRule: forwarding rules' server groups would be missed")
		}
		rel := "alb/GetListenerHealthStatus/" + filepath.Base(q.Get("ListenerId")) + ".json"
		if !exists(rel) {
			return http.StatusNotFound, map[string]any{"RequestId": "FAKE-NF", "Code": "ResourceNotFound.Listener", "Message": "The specified resource is not found."}
		}
		doc := f.load(rel)
		// Two pages: the listener's report, then its rules'.
		switch q.Get("NextToken") {
		case "":
			doc["RuleHealthStatus"], doc["NextToken"] = []any{}, pageToken+"rules"
		case pageToken + "rules":
			doc["ListenerHealthStatus"], doc["NextToken"] = []any{}, ""
		default:
			return http.StatusBadRequest, map[string]any{"RequestId": "FAKE", "Code": "IllegalParam.NextToken", "Message": "NextToken"}
		}
		return http.StatusOK, doc
	}
	return http.StatusBadRequest, map[string]any{"RequestId": "FAKE", "Code": "InvalidAction.NotFound", "Message": action}
}

// testEnv isolates the Alibaba Cloud environment and puts the test's
// AccessKey in it, where the default credential chain finds it.
func testEnv(t *testing.T) {
	t.Helper()
	for k, v := range map[string]string{
		"HOME":                                t.TempDir(),
		"ALIBABA_CLOUD_ACCESS_KEY_ID":         testKeyID,
		"ALIBABA_CLOUD_ACCESS_KEY_SECRET":     testSecret,
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

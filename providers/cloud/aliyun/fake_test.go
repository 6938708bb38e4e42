package aliyun

// A local Alibaba Cloud OpenAPI endpoint for the tests: it speaks the
// protocol the V2 (darabonba) SDK uses for the RPC-style ECS 2014-05-26
// and VPC 2016-04-28 APIs and checks it strictly, so that the real SDK
// code path runs end to end:
//
//   - POST to "/", the operation in the x-acs-action header and the API
//     version in x-acs-version — no Action/Version query parameters, which
//     only the old signature-v1 RPC path sends;
//   - the operation's parameters in the query string, an empty body;
//   - an ACS3-HMAC-SHA256 Authorization header, verified with the test's
//     AccessKey secret (the credential chain really supplied it);
//   - Describe* operations only.
//
// Answers come from testdata/<product>/<Action>.json, documented response
// shapes holding the whole fake region; the server applies the request's
// filters to them and pages them (NextToken or PageNumber) with small
// pages so that the reader must follow pagination.

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
	testRegion  = "cn-hangzhou"
	testKeyID   = "LTAI5tTESTKEYID000000001"
	testSecret  = "tEsTsEcReT-do-not-print-0123456789abc"
	ecsVersion  = "2014-05-26"
	vpcVersion  = "2016-04-28"
	tokenPrefix = "AAAAAdDWBF2"
)

type fakeCall struct {
	Action string
	Query  url.Values
}

type fakeAPI struct {
	t       *testing.T
	product string // "ecs" or "vpc"
	version string
	keyID   string
	secret  string
	pageCap int // largest page the fake returns, whatever was asked

	srv *httptest.Server

	mu    sync.Mutex
	calls []fakeCall
	// hook can answer a call instead of the fixtures: n counts the calls
	// of c.Action so far, this one included.
	hook func(c fakeCall, n int) (status int, fixture string, ok bool)
}

func newFake(t *testing.T, product string) *fakeAPI {
	t.Helper()
	f := &fakeAPI{t: t, product: product, keyID: testKeyID, secret: testSecret, pageCap: 2}
	f.version = map[string]string{"ecs": ecsVersion, "vpc": vpcVersion}[product]
	f.srv = httptest.NewServer(f)
	t.Cleanup(f.srv.Close)
	return f
}

// endpoint is host:port, as Config.Endpoint takes it.
func (f *fakeAPI) endpoint() string { return strings.TrimPrefix(f.srv.URL, "http://") }

func (f *fakeAPI) setHook(h func(c fakeCall, n int) (int, string, bool)) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.hook = h
}

func (f *fakeAPI) callLog() []fakeCall {
	f.mu.Lock()
	defer f.mu.Unlock()
	return slices.Clone(f.calls)
}

func (f *fakeAPI) count(action string, match func(url.Values) bool) int {
	n := 0
	for _, c := range f.callLog() {
		if c.Action == action && (match == nil || match(c.Query)) {
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
	c := fakeCall{Action: action, Query: q}
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
	_, _ = w.Write(b)
}

// checkWire checks the request as the V2 SDK sends it.
func (f *fakeAPI) checkWire(r *http.Request, body []byte, action string, q url.Values) error {
	switch {
	case r.Method != http.MethodPost:
		return fmt.Errorf("method %s, want POST", r.Method)
	case r.URL.Path != "/":
		return fmt.Errorf("path %q, want /", r.URL.Path)
	case action == "":
		return fmt.Errorf("no x-acs-action header")
	case !strings.HasPrefix(action, "Describe"):
		return fmt.Errorf("action %s: only Describe* operations may be called", action)
	case q.Has("Action") || q.Has("Version"):
		return fmt.Errorf("Action/Version in the query string (signature v1 RPC), want the x-acs-* headers")
	case r.Header.Get("x-acs-version") != f.version:
		return fmt.Errorf("x-acs-version %q, want %q", r.Header.Get("x-acs-version"), f.version)
	case q.Get("RegionId") != testRegion:
		return fmt.Errorf("RegionId %q, want %q", q.Get("RegionId"), testRegion)
	case len(body) != 0:
		return fmt.Errorf("unexpected body %q", body)
	}
	sum := sha256.Sum256(body)
	if got := r.Header.Get("x-acs-content-sha256"); got != hex.EncodeToString(sum[:]) {
		return fmt.Errorf("x-acs-content-sha256 %q does not hash the body", got)
	}
	return f.checkSignature(r, q)
}

// checkSignature verifies ACS3-HMAC-SHA256 (Alibaba Cloud's V3 request
// signature, which the darabonba client computes).
func (f *fakeAPI) checkSignature(r *http.Request, q url.Values) error {
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
	if fields["Credential"] != f.keyID {
		return fmt.Errorf("credential %q, want %q", fields["Credential"], f.keyID)
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
	var query []string
	for _, k := range slices.Sorted(func(yield func(string) bool) {
		for k := range q {
			if !yield(k) {
				return
			}
		}
	}) {
		query = append(query, k+"="+url.QueryEscape(q.Get(k)))
	}
	cq := strings.NewReplacer("+", "%20", "*", "%2A", "%7E", "~").Replace(strings.Join(query, "&"))
	canonical := r.Method + "\n/\n" + cq + "\n" + headers.String() + "\n" + fields["SignedHeaders"] + "\n" + r.Header.Get("x-acs-content-sha256")
	h := sha256.Sum256([]byte(canonical))
	mac := hmac.New(sha256.New, []byte(f.secret))
	mac.Write([]byte(alg + "\n" + hex.EncodeToString(h[:])))
	if want := hex.EncodeToString(mac.Sum(nil)); !hmac.Equal([]byte(want), []byte(fields["Signature"])) {
		return fmt.Errorf("signature does not verify with the test secret")
	}
	return nil
}

// load reads a fixture as generic JSON (numbers kept as written).
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

// The parameters each operation may get; the reader must not depend on a
// filter the fake does not implement.
var fakeParams = map[string][]string{
	"DescribeInstances":              {"RegionId", "MaxResults", "NextToken", "InstanceIds", "SecurityGroupId"},
	"DescribeNetworkInterfaces":      {"RegionId", "MaxResults", "NextToken", "InstanceId", "NetworkInterfaceId.*", "PrimaryIpAddress", "PrivateIpAddress.*", "Ipv6Address.*", "SecurityGroupId"},
	"DescribeSecurityGroups":         {"RegionId", "MaxResults", "NextToken", "SecurityGroupIds"},
	"DescribeSecurityGroupAttribute": {"RegionId", "SecurityGroupId", "Direction", "MaxResults", "NextToken"},
	"DescribePrefixListAttributes":   {"RegionId", "PrefixListId"},
	"DescribePortRangeListEntries":   {"RegionId", "PortRangeListId"},
	"DescribeNetworkAcls":            {"RegionId", "PageNumber", "PageSize", "VpcId"},
	"DescribeVSwitches":              {"RegionId", "PageNumber", "PageSize", "VpcId"},
}

// vpcActions are the VPC API's operations; the rest are ECS's.
var vpcActions = []string{"DescribeNetworkAcls", "DescribeVSwitches"}

func invalid(code, msg string) (int, map[string]any) {
	return http.StatusBadRequest, map[string]any{"RequestId": "FAKE-INVALID", "Code": code, "Message": msg}
}

func (f *fakeAPI) answer(action string, q url.Values) (int, map[string]any) {
	allowed, ok := fakeParams[action]
	if !ok || (f.product == "vpc") != slices.Contains(vpcActions, action) {
		f.t.Errorf("%s: unexpected action %s", f.product, action)
		return invalid("InvalidAction.NotFound", "Specified api is not found, please check your url and method.")
	}
	for k := range q {
		if !slices.ContainsFunc(allowed, func(a string) bool {
			if p, ok := strings.CutSuffix(a, "*"); ok {
				_, err := strconv.Atoi(strings.TrimPrefix(k, p))
				return strings.HasPrefix(k, p) && err == nil
			}
			return a == k
		}) {
			f.t.Errorf("%s: parameter %s is not implemented by the fake", action, k)
		}
	}
	list := func(name string) []string { // NetworkInterfaceId.1, .2, …
		var out []string
		for i := 1; q.Has(name + "." + strconv.Itoa(i)); i++ {
			out = append(out, q.Get(name+"."+strconv.Itoa(i)))
		}
		return out
	}
	jsonList := func(name string) ([]string, bool) {
		if !q.Has(name) {
			return nil, true
		}
		var out []string
		return out, json.Unmarshal([]byte(q.Get(name)), &out) == nil
	}
	switch action {
	case "DescribeInstances":
		ids, ok := jsonList("InstanceIds")
		if !ok {
			return invalid("InvalidInstanceIds.Malformed", "The specified parameter InstanceIds is not valid.")
		}
		doc := f.load("ecs/DescribeInstances.json")
		items := filter(path(doc, "Instances", "Instance"), func(it map[string]any) bool {
			return (ids == nil || slices.Contains(ids, str(it["InstanceId"]))) &&
				(!q.Has("SecurityGroupId") || slices.Contains(strs(path(it, "SecurityGroupIds", "SecurityGroupId")), q.Get("SecurityGroupId")))
		})
		return f.tokenPage(doc, items, q, 100, "Instances", "Instance")
	case "DescribeNetworkInterfaces":
		ids, secondary, v6 := list("NetworkInterfaceId"), list("PrivateIpAddress"), list("Ipv6Address")
		doc := f.load("ecs/DescribeNetworkInterfaces.json")
		items := filter(path(doc, "NetworkInterfaceSets", "NetworkInterfaceSet"), func(it map[string]any) bool {
			if q.Has("InstanceId") && str(it["InstanceId"]) != q.Get("InstanceId") {
				return false
			}
			if len(ids) > 0 && !slices.Contains(ids, str(it["NetworkInterfaceId"])) {
				return false
			}
			if q.Has("PrimaryIpAddress") && str(it["PrivateIpAddress"]) != q.Get("PrimaryIpAddress") {
				return false
			}
			if len(secondary) > 0 && !slices.ContainsFunc(path(it, "PrivateIpSets", "PrivateIpSet"), func(p any) bool {
				m := p.(map[string]any)
				return m["Primary"] != true && slices.Contains(secondary, str(m["PrivateIpAddress"]))
			}) {
				return false
			}
			if len(v6) > 0 && !slices.ContainsFunc(path(it, "Ipv6Sets", "Ipv6Set"), func(p any) bool {
				return slices.Contains(v6, str(p.(map[string]any)["Ipv6Address"]))
			}) {
				return false
			}
			// Documented: this filter finds secondary ENIs only (primary
			// ones: DescribeInstances SecurityGroupId).
			if q.Has("SecurityGroupId") && (str(it["Type"]) != "Secondary" ||
				!slices.Contains(strs(path(it, "SecurityGroupIds", "SecurityGroupId")), q.Get("SecurityGroupId"))) {
				return false
			}
			return true
		})
		return f.tokenPage(doc, items, q, 500, "NetworkInterfaceSets", "NetworkInterfaceSet")
	case "DescribeSecurityGroups":
		ids, ok := jsonList("SecurityGroupIds")
		if !ok {
			return invalid("InvalidSecurityGroupIds.Malformed", "The specified parameter SecurityGroupIds is not valid.")
		}
		doc := f.load("ecs/DescribeSecurityGroups.json")
		items := filter(path(doc, "SecurityGroups", "SecurityGroup"), func(it map[string]any) bool {
			return ids == nil || slices.Contains(ids, str(it["SecurityGroupId"]))
		})
		return f.tokenPage(doc, items, q, 100, "SecurityGroups", "SecurityGroup")
	case "DescribeSecurityGroupAttribute":
		if d := q.Get("Direction"); d != "all" {
			f.t.Errorf("DescribeSecurityGroupAttribute: Direction %q, want all", d)
		}
		rel := "ecs/DescribeSecurityGroupAttribute/" + filepath.Base(q.Get("SecurityGroupId")) + ".json"
		if !exists(rel) {
			return http.StatusNotFound, f.load("errors/InvalidSecurityGroupId.NotFound.json")
		}
		doc := f.load(rel)
		return f.tokenPage(doc, path(doc, "Permissions", "Permission"), q, 1000, "Permissions", "Permission")
	case "DescribePrefixListAttributes":
		rel := "ecs/DescribePrefixListAttributes/" + filepath.Base(q.Get("PrefixListId")) + ".json"
		if !exists(rel) {
			return http.StatusNotFound, f.load("errors/InvalidPrefixListId.NotFound.json")
		}
		return http.StatusOK, f.load(rel)
	case "DescribePortRangeListEntries":
		rel := "ecs/DescribePortRangeListEntries/" + filepath.Base(q.Get("PortRangeListId")) + ".json"
		if !exists(rel) {
			return http.StatusNotFound, map[string]any{"RequestId": "FAKE-NF", "Code": "InvalidPortRangeListId.NotFound", "Message": "The specified port range list does not exist."}
		}
		return http.StatusOK, f.load(rel)
	case "DescribeNetworkAcls":
		doc := f.load("vpc/DescribeNetworkAcls.json")
		items := filter(path(doc, "NetworkAcls", "NetworkAcl"), func(it map[string]any) bool {
			return !q.Has("VpcId") || str(it["VpcId"]) == q.Get("VpcId")
		})
		// This answer spells its counts as strings (the SDK's fields are
		// *string).
		return numberPage(f, doc, items, q, strconv.Itoa, "NetworkAcls", "NetworkAcl")
	case "DescribeVSwitches":
		doc := f.load("vpc/DescribeVSwitches.json")
		items := filter(path(doc, "VSwitches", "VSwitch"), func(it map[string]any) bool {
			return !q.Has("VpcId") || str(it["VpcId"]) == q.Get("VpcId")
		})
		// Integers here (the SDK's fields are *int32).
		return numberPage(f, doc, items, q, func(n int) int { return n }, "VSwitches", "VSwitch")
	}
	return invalid("InvalidAction.NotFound", action)
}

// numberPage pages items PageNumber/PageSize-style (PageSize ≤ 50), the
// counts of the answer written by count.
func numberPage[T any](f *fakeAPI, doc map[string]any, items []any, q url.Values, count func(int) T, keys ...string) (int, map[string]any) {
	page, size := atoiDefault(q.Get("PageNumber"), 1), atoiDefault(q.Get("PageSize"), 10)
	if page < 1 || size < 1 || size > 50 {
		return invalid("InvalidParameter", "PageNumber/PageSize out of range")
	}
	size = min(size, f.pageCap)
	lo, hi := min((page-1)*size, len(items)), min(page*size, len(items))
	setPath(doc, items[lo:hi], keys...)
	doc["TotalCount"], doc["PageNumber"], doc["PageSize"] = count(len(items)), count(page), count(size)
	return http.StatusOK, doc
}

// tokenPage pages items NextToken-style (MaxResults ≤ max).
func (f *fakeAPI) tokenPage(doc map[string]any, items []any, q url.Values, max int, keys ...string) (int, map[string]any) {
	size := atoiDefault(q.Get("MaxResults"), 10)
	if size < 1 || size > max {
		return invalid("InvalidParameter.MaxResults", fmt.Sprintf("MaxResults %d out of range", size))
	}
	size = min(size, f.pageCap)
	off := 0
	if t := q.Get("NextToken"); t != "" {
		n, err := strconv.Atoi(strings.TrimPrefix(t, tokenPrefix))
		if !strings.HasPrefix(t, tokenPrefix) || err != nil || n > len(items) {
			return invalid("InvalidNextToken.Malformed", "The specified parameter NextToken is not valid.")
		}
		off = n
	}
	end := min(off+size, len(items))
	setPath(doc, items[off:end], keys...)
	doc["NextToken"] = ""
	if end < len(items) {
		doc["NextToken"] = fmt.Sprintf("%s%04d", tokenPrefix, end)
	}
	if _, ok := doc["TotalCount"]; ok {
		doc["TotalCount"] = len(items)
	}
	return http.StatusOK, doc
}

func path(m map[string]any, keys ...string) []any {
	var cur any = m
	for _, k := range keys {
		mm, ok := cur.(map[string]any)
		if !ok {
			return nil
		}
		cur = mm[k]
	}
	l, _ := cur.([]any)
	return l
}

func setPath(m map[string]any, v []any, keys ...string) {
	for _, k := range keys[:len(keys)-1] {
		m = m[k].(map[string]any)
	}
	if v == nil {
		v = []any{}
	}
	m[keys[len(keys)-1]] = v
}

func filter(items []any, keep func(map[string]any) bool) []any {
	out := []any{}
	for _, it := range items {
		if m, ok := it.(map[string]any); ok && keep(m) {
			out = append(out, it)
		}
	}
	return out
}

func str(v any) string { s, _ := v.(string); return s }

func strs(l []any) []string {
	var out []string
	for _, v := range l {
		out = append(out, str(v))
	}
	return out
}

func atoiDefault(s string, d int) int {
	if s == "" {
		return d
	}
	n, err := strconv.Atoi(s)
	if err != nil {
		return -1
	}
	return n
}

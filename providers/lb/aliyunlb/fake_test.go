package aliyunlb

// A local Alibaba Cloud OpenAPI endpoint for SLB (2014-05-15) and ALB
// (2020-06-16) (internal/cloudfake.ACS, as providers/cloud/aliyun's fake
// for ECS and VPC: the V2 SDK's wire format checked strictly, ACS3
// signatures verified with the test secret), read-only operations only. Answers are the
// documented response shapes of testdata/<product>/<Action>/<id>.json;
// the fake pages them (NextToken) so the reader must follow pages.

import (
	"fmt"
	"net/http"
	"net/url"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/portcheck/portcheck/internal/cloudfake"
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

type call = cloudfake.ACSCall

// fakeAPI is one product's endpoint (cloudfake.ACS) answering from this
// package's fixtures.
type fakeAPI struct {
	*cloudfake.ACS
	t       *testing.T
	product string
	pageCap int
}

func newFake(t *testing.T, product string) *fakeAPI {
	t.Helper()
	f := &fakeAPI{t: t, product: product, pageCap: 2}
	f.ACS = cloudfake.StartACS(t, &cloudfake.ACS{
		Product: product,
		Version: versions[product],
		KeyID:   testKeyID,
		Secret:  testSecret,
		Check:   f.check,
		Answer:  f.answer,
	})
	return f
}

func (f *fakeAPI) load(rel string) map[string]any { return cloudfake.LoadJSON(f.t, rel) }

func exists(rel string) bool { return cloudfake.Exists(rel) }

// check: the readers' operations of this product only (SLB's are
// Describe*, ALB's are not), SLB in the test's region, parameters the
// fake implements.
func (f *fakeAPI) check(action string, q url.Values) error {
	allowed, known := params[action]
	switch {
	case !known:
		return fmt.Errorf("action %q is not one the readers may call", action)
	case (f.product == "slb") != strings.HasPrefix(action, "Describe"):
		return fmt.Errorf("action %s is not a %s operation", action, f.product)
	case f.product == "slb" && q.Get("RegionId") != testRegion:
		return fmt.Errorf("RegionId %q, want %q", q.Get("RegionId"), testRegion)
	}
	return cloudfake.AllowedParams(q, allowed)
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
	cloudfake.IsolateAliyunEnv(t, testKeyID, testSecret, t.TempDir())
}

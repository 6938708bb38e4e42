package aliyun

// A local Alibaba Cloud OpenAPI endpoint for the tests
// (internal/cloudfake.ACS: the V2 SDK's wire format for the RPC-style ECS
// 2014-05-26 and VPC 2016-04-28 APIs, checked strictly, ACS3 signatures
// verified with the test's AccessKey secret), Describe* operations only.
//
// Answers come from testdata/<product>/<Action>.json, documented response
// shapes holding the whole fake region; the server applies the request's
// filters to them and pages them (NextToken or PageNumber) with small
// pages so that the reader must follow pagination.

import (
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/portcheck/portcheck/internal/cloudfake"
)

const (
	testRegion  = "cn-hangzhou"
	testKeyID   = "LTAI5tTESTKEYID000000001"
	testSecret  = "tEsTsEcReT-do-not-print-0123456789abc"
	ecsVersion  = "2014-05-26"
	vpcVersion  = "2016-04-28"
	tokenPrefix = "AAAAAdDWBF2"
)

type fakeCall = cloudfake.ACSCall

// fakeAPI is one product's endpoint (cloudfake.ACS) answering from this
// package's fixtures.
type fakeAPI struct {
	*cloudfake.ACS
	t       *testing.T
	product string // "ecs" or "vpc"
	pageCap int    // largest page the fake returns, whatever was asked
}

func newFake(t *testing.T, product string) *fakeAPI {
	t.Helper()
	f := &fakeAPI{t: t, product: product, pageCap: 2}
	f.ACS = cloudfake.StartACS(t, &cloudfake.ACS{
		Product: product,
		Version: map[string]string{"ecs": ecsVersion, "vpc": vpcVersion}[product],
		KeyID:   testKeyID,
		Secret:  testSecret,
		Check:   f.check,
		Answer:  f.answer,
	})
	return f
}

func (f *fakeAPI) load(rel string) map[string]any { return cloudfake.LoadJSON(f.t, rel) }

func exists(rel string) bool { return cloudfake.Exists(rel) }

// check: Describe* operations of this product only, in the test's
// region, with parameters the fake implements.
func (f *fakeAPI) check(action string, q url.Values) error {
	allowed, ok := fakeParams[action]
	switch {
	case !strings.HasPrefix(action, "Describe"):
		return fmt.Errorf("action %s: only Describe* operations may be called", action)
	case !ok || (f.product == "vpc") != slices.Contains(vpcActions, action):
		return fmt.Errorf("unexpected action %s", action)
	case q.Get("RegionId") != testRegion:
		return fmt.Errorf("RegionId %q, want %q", q.Get("RegionId"), testRegion)
	}
	return cloudfake.AllowedParams(q, allowed)
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

package aliyunlb

import "testing"

// StartFakeSLB isolates the Alibaba Cloud environment, puts the test's
// AccessKey in it and starts the SLB fake (VServer groups web-9090 with
// web-1 healthy on 9090 and web-2 failing one listener's check, web-8080
// with web-1 still on 8080). It returns the endpoint URL, the region,
// the groups' ids and web-1's instance id, for tests in other packages of
// this directory.
func StartFakeSLB(t *testing.T) (url, region string, groups []string, web1ID string) {
	testEnv(t)
	f := newFake(t, "slb")
	return f.URL(), testRegion, []string{rsp9090, rsp8080}, web1
}

package aliyun

import "testing"

// FakeRegion is the region of the fakes' fixtures.
const FakeRegion = testRegion

// StartFakes isolates the Alibaba Cloud environment of the test, puts test
// credentials in it and starts the ECS and VPC OpenAPI fakes. It returns
// their endpoint URLs. For tests in other packages of this directory.
func StartFakes(t *testing.T) (ecsURL, vpcURL string) {
	testEnv(t)
	f := newFakes(t)
	return "http://" + f.ecs.Endpoint(), "http://" + f.vpc.Endpoint()
}

package aws

import "testing"

// FakeRegion is the region of the fake's fixtures.
const FakeRegion = region

// StartFakeEC2 isolates the AWS environment of the test, puts test
// credentials in it and starts the EC2 Query API fake with the fixtures of
// a whole region (every interface, group, ACL and prefix list). It returns
// the endpoint URL. For tests in other packages of this directory.
func StartFakeEC2(t *testing.T) string {
	isolateEnv(t)
	staticCredentials(t)
	_, srv := newFake(t, allRoutes())
	return srv.URL
}

// StartFakeEC2DB is StartFakeEC2 answering only what verify reads for the
// target 10.0.3.30 (eni-db, in sg-db, whose rules name sg-web).
func StartFakeEC2DB(t *testing.T) string {
	isolateEnv(t)
	staticCredentials(t)
	_, srv := newFake(t, dbRoutes())
	return srv.URL
}

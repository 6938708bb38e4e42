package elbv2

import "testing"

// StartFakeMove starts the ELBv2 fake with the three target groups of the
// fixtures (web-9090: 10.0.1.5 healthy, 10.0.1.6 unhealthy, 10.0.1.7
// initial; web-8080: 10.0.1.5 and 10.0.1.6 draining; api-tcp) in an
// isolated AWS environment with test credentials. It returns the endpoint
// URL, the region and the groups' ARNs, for tests in other packages of
// this directory.
func StartFakeMove(t *testing.T) (url, reg string, arns []string) {
	isolateEnv(t)
	staticCredentials(t, testKeyID, testSecret)
	_, srv := newFake(t, routesByARN())
	return srv.URL, region, []string{tgAPI, tg8080, tg9090}
}

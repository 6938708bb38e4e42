package elbv2

import (
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/portcheck/portcheck/internal/cloudfake"
)

// A local stand-in for the ELBv2 (and STS) Query API (internal/cloudfake).
// The real SDK client POSTs form-encoded requests to it; it verifies each
// request's SigV4 signature with the secret of the key that signed it (so
// the credential chain, the assumed role and the signer really ran),
// routes only Describe* actions of API version 2015-12-01, and answers
// with the XML fixtures of testdata/, written as the API reference shows
// its responses (namespace, Result wrapper, <member> lists, ErrorResponse).

const (
	elbVersion = "2015-12-01"
	stsVersion = "2011-06-15"
	region     = "eu-west-1"

	testKeyID  = "AKIAPORTCHECKELBTEST"
	testSecret = "portcheck-elb-test-secret"
)

// secrets are the keys the fake accepts, by access key id.
var secrets = map[string]string{
	testKeyID:             testSecret,
	"ASIATESTASSUMEDROLE": "assumed-role-test-secret", // testdata/sts_assume_role.xml
	"AKIAPROFILETEST":     "profile-test-secret",
}

type reply = cloudfake.Reply

func ok(file string) []reply { return cloudfake.OK(file) }

func newFake(t *testing.T, routes map[string][]reply) (*cloudfake.Query, *httptest.Server) {
	t.Helper()
	return cloudfake.StartQuery(t, &cloudfake.Query{
		Name:    "ELBv2",
		Routes:  routes,
		Secrets: secrets,
		Region:  region,
		Service: func(action, version string) string {
			switch {
			case version == elbVersion && strings.HasPrefix(action, "Describe"):
				return "elasticloadbalancing"
			case version == stsVersion && action == "AssumeRole":
				return "sts"
			}
			return ""
		},
	})
}

// isolateEnv gives the test an environment without the machine's AWS
// settings (cloudfake.IsolateAWSEnv) and quick retries.
func isolateEnv(t *testing.T) string {
	t.Helper()
	home := cloudfake.IsolateAWSEnv(t)
	saved := retryMaxBackoff
	retryMaxBackoff = 5 * time.Millisecond
	t.Cleanup(func() { retryMaxBackoff = saved })
	return home
}

func staticCredentials(t *testing.T, keyID, secret string) {
	t.Setenv("AWS_ACCESS_KEY_ID", keyID)
	t.Setenv("AWS_SECRET_ACCESS_KEY", secret)
}

package aws

import (
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/portcheck/portcheck/internal/cloudfake"
)

// A local stand-in for the EC2 (and STS) Query API (internal/cloudfake):
// the real SDK client POSTs form-encoded requests to it and reads the XML
// answers of testdata/, so the SDK's serializers, signers, paginators,
// retryer and deserializers all run as they do against AWS. Reading must
// never change anything: only EC2 Describe*/Get* (and STS AssumeRole) are
// routed.

const (
	ec2Version = "2016-11-15"
	stsVersion = "2011-06-15"
)

type reply = cloudfake.Reply

func ok(file string) []reply { return cloudfake.OK(file) }

func newFake(t *testing.T, routes map[string][]reply) (*cloudfake.Query, *httptest.Server) {
	t.Helper()
	return cloudfake.StartQuery(t, &cloudfake.Query{
		Name:     "EC2",
		Routes:   routes,
		ErrorXML: cloudfake.EC2ErrorXML,
		Service: func(action, version string) string {
			switch {
			case version == ec2Version && (strings.HasPrefix(action, "Describe") || strings.HasPrefix(action, "Get")):
				return "ec2"
			case version == stsVersion && action == "AssumeRole":
				return "sts"
			}
			return ""
		},
	})
}

func canonical(form url.Values) string { return cloudfake.Canonical(form) }

// isolateEnv gives the test an environment without any AWS setting of the
// machine (cloudfake.IsolateAWSEnv) and quick retries.
func isolateEnv(t *testing.T) string {
	t.Helper()
	home := cloudfake.IsolateAWSEnv(t)
	saved := retryMaxBackoff
	retryMaxBackoff = 5 * time.Millisecond
	t.Cleanup(func() { retryMaxBackoff = saved })
	return home
}

const testKeyID = "AKIAPORTCHECKTEST"

// staticCredentials puts test credentials into the environment, where the
// SDK's default chain finds them.
func staticCredentials(t *testing.T) {
	t.Setenv("AWS_ACCESS_KEY_ID", testKeyID)
	t.Setenv("AWS_SECRET_ACCESS_KEY", "portcheck-test-secret")
}

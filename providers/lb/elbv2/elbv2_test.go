package elbv2

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/google/go-cmp/cmp"

	cloudaws "github.com/portcheck/portcheck/providers/cloud/aws"
	"github.com/portcheck/portcheck/providers/lb"
)

const (
	arnPrefix = "arn:aws:elasticloadbalancing:eu-west-1:111122223333:"
	tg9090    = arnPrefix + "targetgroup/web-9090/73e2d6bc24d8a067"
	tg8080    = arnPrefix + "targetgroup/web-8080/5e8a6c1e7f0b2d34"
	tgAPI     = arnPrefix + "targetgroup/api-tcp/1c2d3e4f5a6b7c8d"
	tgSpare   = arnPrefix + "targetgroup/spare-9090/0f1e2d3c4b5a6978"
	albWeb    = arnPrefix + "loadbalancer/app/web/50dc6c495c0c9188"
	nlbAPI    = arnPrefix + "loadbalancer/net/api/a1b2c3d4e5f60718"
)

func health(arn string) string { return "DescribeTargetHealth TargetGroupArn=" + arn }

// The three groups asked by ARN come in two pages (NextMarker); each
// group's health is one call.
func routesByARN() map[string][]reply {
	arns := "TargetGroupArns=" + strings.Join([]string{tgAPI, tg8080, tg9090}, ",")
	return map[string][]reply{
		"DescribeTargetGroups " + arns:                  ok("describe_target_groups_page1.xml"),
		"DescribeTargetGroups Marker=tg-page-2 " + arns: ok("describe_target_groups_page2.xml"),
		health(tg9090): ok("describe_target_health_web9090.xml"),
		health(tg8080): ok("describe_target_health_web8080.xml"),
		health(tgAPI):  ok("describe_target_health_api.xml"),
	}
}

// wantFacts is what the fixtures hold for the three groups.
func wantFacts() *lb.Facts {
	return &lb.Facts{Kind: lb.KindELBv2, Region: region, Pools: []lb.Pool{
		{ID: tg9090, Name: "web-9090", Type: lb.PoolTargetGroup, Protocol: "HTTP", Port: 9090, TargetType: "ip",
			LoadBalancers: []string{albWeb}, HealthReported: true, Members: []lb.Member{
				{ID: "10.0.1.5", Address: "10.0.1.5", Port: 9090, Zone: "eu-west-1a", State: lb.StateHealthy},
				{ID: "10.0.1.6", Address: "10.0.1.6", Port: 9090, Zone: "eu-west-1b", State: lb.StateUnhealthy,
					Reason: "Target.FailedHealthChecks", Description: "Health checks failed"},
				{ID: "10.0.1.7", Address: "10.0.1.7", Port: 9090, Zone: "eu-west-1a", State: lb.StateInitial,
					Reason: "Elb.InitialHealthChecking", Description: "Initial health checks in progress"},
			}},
		{ID: tg8080, Name: "web-8080", Type: lb.PoolTargetGroup, Protocol: "HTTP", Port: 8080, TargetType: "ip",
			LoadBalancers: []string{albWeb}, HealthReported: true, Members: []lb.Member{
				{ID: "10.0.1.5", Address: "10.0.1.5", Port: 8080, Zone: "eu-west-1a", State: lb.StateDraining,
					Reason: "Target.DeregistrationInProgress", Description: "Target deregistration is in progress"},
				{ID: "10.0.1.6", Address: "10.0.1.6", Port: 8080, Zone: "eu-west-1b", State: lb.StateDraining,
					Reason: "Target.DeregistrationInProgress", Description: "Target deregistration is in progress"},
			}},
		{ID: tgAPI, Name: "api-tcp", Type: lb.PoolTargetGroup, Protocol: "TCP", Port: 9090, TargetType: "instance",
			LoadBalancers: []string{nlbAPI}, HealthReported: true, Members: []lb.Member{
				{ID: "i-0abc123def4567890", Port: 9090, State: lb.StateHealthy, HealthCheckPort: "9091"},
			}},
	}}
}

func TestReadByARNFollowsPages(t *testing.T) {
	isolateEnv(t)
	staticCredentials(t, testKeyID, testSecret)
	fake, srv := newFake(t, routesByARN())
	got, err := Read(context.Background(), Config{Region: region, Endpoint: srv.URL}, Scope{TargetGroups: []string{tg9090, tg8080, tgAPI, tg9090}})
	if err != nil {
		t.Fatal(err)
	}
	if d := cmp.Diff(wantFacts(), got); d != "" {
		t.Errorf("facts (-want +got):\n%s", d)
	}
	requests, keys, _ := fake.Seen()
	if len(requests) != 5 {
		t.Errorf("requests %q, want 2 pages and 3 health calls", requests)
	}
	for _, k := range keys {
		if k != testKeyID {
			t.Errorf("signed by %s", k)
		}
	}
	// The checklist's questions on the read facts.
	if p := lb.Find(got, lb.Target{IDs: []string{"10.0.1.5"}, Port: 9090}, "web-9090"); !p.Healthy() {
		t.Errorf("new port not healthy: %+v", p)
	}
	if p := lb.Find(got, lb.Target{IDs: []string{"10.0.1.5"}, Port: 8080}, "web-8080"); p.Verdict != lb.VerdictDraining || p.Deregistered(false) || !p.Deregistered(true) {
		t.Errorf("old port: %+v", p)
	}
	if p := lb.Find(got, lb.Target{IDs: []string{"i-0abc123def4567890", "10.0.2.9"}, Port: 9090}, tgAPI); !p.Healthy() {
		t.Errorf("instance target: %+v", p)
	}
}

// Names and ARNs are asked in separate calls (the API takes one kind at a
// time); a group asked both ways is read once. A group that no load
// balancer uses is noted.
func TestReadByNameAndARN(t *testing.T) {
	isolateEnv(t)
	staticCredentials(t, testKeyID, testSecret)
	_, srv := newFake(t, map[string][]reply{
		"DescribeTargetGroups TargetGroupArns=" + tg9090: ok("describe_target_groups_web9090.xml"),
		"DescribeTargetGroups Names=spare-9090,web-9090": ok("describe_target_groups_unusedandweb.xml"),
		health(tg9090):  ok("describe_target_health_web9090.xml"),
		health(tgSpare): ok("describe_target_health_unused.xml"),
	})
	got, err := Read(context.Background(), Config{Region: region, Endpoint: srv.URL}, Scope{TargetGroups: []string{tg9090, "web-9090", "spare-9090"}})
	if err != nil {
		t.Fatal(err)
	}
	if len(got.Pools) != 2 || got.Pools[0].ID != tg9090 || got.Pools[1].ID != tgSpare {
		t.Fatalf("pools %+v", got.Pools)
	}
	if len(got.Notes) != 1 || !strings.Contains(got.Notes[0], "spare-9090 is used by no load balancer") {
		t.Errorf("notes %q", got.Notes)
	}
	if p := lb.Find(got, lb.Target{IDs: []string{"10.0.1.8"}, Port: 9090}); p.Verdict != lb.VerdictUnused {
		t.Errorf("target of an unused group: %+v", p)
	}
}

// A missing group fails the whole call without saying which; the reader
// asks for each alone and names it.
func TestTargetGroupNotFound(t *testing.T) {
	isolateEnv(t)
	staticCredentials(t, testKeyID, testSecret)
	notFound := []reply{{Status: http.StatusBadRequest, File: "error_target_group_not_found.xml"}}
	_, srv := newFake(t, map[string][]reply{
		"DescribeTargetGroups Names=web-9090,web-9091": notFound,
		"DescribeTargetGroups Names=web-9090":          ok("describe_target_groups_web9090.xml"),
		"DescribeTargetGroups Names=web-9091":          notFound,
	})
	_, err := Read(context.Background(), Config{Region: region, Endpoint: srv.URL}, Scope{TargetGroups: []string{"web-9090", "web-9091"}})
	var nf *lb.NotFoundError
	if !errors.As(err, &nf) || len(nf.IDs) != 1 || nf.IDs[0] != "web-9091" || nf.Kind != "target group" {
		t.Fatalf("error %v, want a NotFoundError for web-9091", err)
	}
	if !strings.Contains(err.Error(), "One or more target groups not found") {
		t.Errorf("error %q lacks the API's message", err)
	}
}

func TestThrottlingIsRetried(t *testing.T) {
	isolateEnv(t)
	staticCredentials(t, testKeyID, testSecret)
	fake, srv := newFake(t, map[string][]reply{
		"DescribeTargetGroups TargetGroupArns=" + tg9090: ok("describe_target_groups_web9090.xml"),
		health(tg9090): {{Status: http.StatusBadRequest, File: "error_throttling.xml"}, {Status: http.StatusBadRequest, File: "error_throttling.xml"}, {Status: http.StatusOK, File: "describe_target_health_web9090.xml"}},
	})
	got, err := Read(context.Background(), Config{Region: region, Endpoint: srv.URL}, Scope{TargetGroups: []string{tg9090}})
	if err != nil {
		t.Fatal(err)
	}
	if len(got.Pools) != 1 || len(got.Pools[0].Members) != 3 {
		t.Errorf("facts %+v", got)
	}
	if a, o := fake.Attempts(health(tg9090)), fake.Operations(health(tg9090)); a != 3 || o != 1 {
		t.Errorf("%d attempts in %d operations, want 3 in 1", a, o)
	}
}

func TestThrottlingGivesUp(t *testing.T) {
	isolateEnv(t)
	staticCredentials(t, testKeyID, testSecret)
	fake, srv := newFake(t, map[string][]reply{
		"DescribeTargetGroups TargetGroupArns=" + tg9090: {{Status: http.StatusBadRequest, File: "error_throttling.xml"}},
	})
	_, err := Read(context.Background(), Config{Region: region, Endpoint: srv.URL, MaxAttempts: 2}, Scope{TargetGroups: []string{tg9090}})
	if err == nil || !strings.Contains(err.Error(), "Throttling") {
		t.Fatalf("error %v, want the throttling error", err)
	}
	if a := fake.Attempts("DescribeTargetGroups TargetGroupArns=" + tg9090); a != 2 {
		t.Errorf("%d attempts, want MaxAttempts 2", a)
	}
}

func TestAccessDeniedNamesTheAction(t *testing.T) {
	isolateEnv(t)
	staticCredentials(t, testKeyID, testSecret)
	_, srv := newFake(t, map[string][]reply{
		"DescribeTargetGroups TargetGroupArns=" + tg9090: ok("describe_target_groups_web9090.xml"),
		health(tg9090): {{Status: http.StatusForbidden, File: "error_access_denied.xml"}},
	})
	_, err := Read(context.Background(), Config{Region: region, Endpoint: srv.URL}, Scope{TargetGroups: []string{tg9090}})
	var pe *cloudaws.PermissionError
	if !errors.As(err, &pe) || pe.Action != "elasticloadbalancing:DescribeTargetHealth" || pe.Code != "AccessDenied" {
		t.Fatalf("error %v, want a PermissionError for elasticloadbalancing:DescribeTargetHealth", err)
	}
	if !strings.Contains(err.Error(), "elasticloadbalancing:DescribeTargetHealth is not allowed") {
		t.Errorf("message %q", err)
	}
}

// The fake really verifies signatures: a secret it does not know for the
// key is rejected, and the reader says AWS rejected the credentials.
func TestWrongSecretIsRejected(t *testing.T) {
	isolateEnv(t)
	staticCredentials(t, testKeyID, "not-the-secret")
	_, srv := newFake(t, map[string][]reply{"DescribeTargetGroups TargetGroupArns=" + tg9090: ok("describe_target_groups_web9090.xml")})
	_, err := Read(context.Background(), Config{Region: region, Endpoint: srv.URL}, Scope{TargetGroups: []string{tg9090}})
	var ce *cloudaws.CredentialsError
	if !errors.As(err, &ce) || ce.Code != "SignatureDoesNotMatch" {
		t.Fatalf("error %v, want a CredentialsError (SignatureDoesNotMatch)", err)
	}
}

func TestEndpointFromEnvironment(t *testing.T) {
	isolateEnv(t)
	staticCredentials(t, testKeyID, testSecret)
	_, srv := newFake(t, map[string][]reply{
		"DescribeTargetGroups TargetGroupArns=" + tg9090: ok("describe_target_groups_web9090.xml"),
		health(tg9090): ok("describe_target_health_web9090.xml"),
	})
	t.Setenv("AWS_ENDPOINT_URL_ELASTIC_LOAD_BALANCING_V2", srv.URL)
	if _, err := Read(context.Background(), Config{Region: region}, Scope{TargetGroups: []string{tg9090}}); err != nil {
		t.Fatal(err)
	}
}

func TestProfileAndAssumeRole(t *testing.T) {
	home := isolateEnv(t)
	dir := filepath.Join(home, ".aws")
	if err := os.MkdirAll(dir, 0o700); err != nil {
		t.Fatal(err)
	}
	os.WriteFile(filepath.Join(dir, "config"), []byte("[profile audit]\nregion = "+region+"\n"), 0o600)
	os.WriteFile(filepath.Join(dir, "credentials"), []byte("[audit]\naws_access_key_id = AKIAPROFILETEST\naws_secret_access_key = profile-test-secret\n"), 0o600)
	const role = "arn:aws:iam::111122223333:role/portcheck-audit"
	fake, srv := newFake(t, map[string][]reply{
		"AssumeRole DurationSeconds=900 RoleArn=" + role + " RoleSessionName=portcheck": ok("sts_assume_role.xml"),
		"DescribeTargetGroups TargetGroupArns=" + tg9090:                                ok("describe_target_groups_web9090.xml"),
		health(tg9090): ok("describe_target_health_web9090.xml"),
	})
	t.Setenv("AWS_ENDPOINT_URL_STS", srv.URL)
	got, err := Read(context.Background(), Config{Profile: "audit", AssumeRoleARN: role, Endpoint: srv.URL}, Scope{TargetGroups: []string{tg9090}})
	if err != nil {
		t.Fatal(err)
	}
	if got.Region != region {
		t.Errorf("region %q, want the profile's", got.Region)
	}
	requests, keys, _ := fake.Seen()
	for i, req := range requests {
		want := "ASIATESTASSUMEDROLE"
		if strings.HasPrefix(req, "AssumeRole") {
			want = "AKIAPROFILETEST"
		}
		if keys[i] != want {
			t.Errorf("%s signed by %s, want %s", req, keys[i], want)
		}
	}
}

func TestBadScope(t *testing.T) {
	for _, s := range []Scope{{}, {TargetGroups: []string{" "}}, {TargetGroups: []string{"arn:aws:elasticloadbalancing:eu-west-1:1:loadbalancer/app/x/y"}}} {
		if _, err := Read(context.Background(), Config{Region: region, Endpoint: "http://127.0.0.1:1"}, s); err == nil {
			t.Errorf("scope %+v accepted", s)
		}
	}
}

// Reads run at once (verify reads per endpoint concurrently); with -race
// this shows the reader shares nothing.
func TestConcurrentReads(t *testing.T) {
	isolateEnv(t)
	staticCredentials(t, testKeyID, testSecret)
	_, srv := newFake(t, routesByARN())
	var wg sync.WaitGroup
	errs := make([]error, 6)
	for n := range errs {
		wg.Go(func() {
			got, err := Read(context.Background(), Config{Region: region, Endpoint: srv.URL}, Scope{TargetGroups: []string{tg9090, tg8080, tgAPI}})
			if err == nil && !cmp.Equal(wantFacts(), got) {
				err = errors.New("facts differ")
			}
			errs[n] = err
		})
	}
	wg.Wait()
	for n, err := range errs {
		if err != nil {
			t.Errorf("read %d: %v", n, err)
		}
	}
}

func TestLeastPrivilegePolicy(t *testing.T) {
	var doc struct {
		Statement []struct {
			Action   []string
			Resource string
		}
	}
	if err := json.Unmarshal([]byte(LeastPrivilegePolicy()), &doc); err != nil {
		t.Fatal(err)
	}
	if len(doc.Statement) != 1 || !cmp.Equal(doc.Statement[0].Action, RequiredActions) || doc.Statement[0].Resource != "*" {
		t.Errorf("policy %+v", doc)
	}
}

package aliyunlb

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"strings"
	"sync"
	"testing"

	"github.com/alibabacloud-go/tea/dara"
	"github.com/google/go-cmp/cmp"

	"github.com/portcheck/portcheck/providers/cloud/aliyun"
	"github.com/portcheck/portcheck/providers/lb"
)

const (
	lbWeb    = "lb-bp1web3lbq2z7x9k1y"
	rsp9090  = "rsp-bp1web9090x7k2m4"
	rsp8080  = "rsp-bp1web8080x7k2m4"
	sgp9090  = "sgp-web9090q1w2e3r4t5"
	sgp8080  = "sgp-web8080q1w2e3r4t5"
	sgpSpare = "sgp-spare0q1w2e3r4t5"
	lsnWeb   = "lsn-web443a1s2d3f4g5"
	web1     = "i-bp1web01a2b3c4d5e6f"
	web2     = "i-bp1web02a2b3c4d5e6f"
	web4     = "i-bp1web04a2b3c4d5e6f"
)

func w(n int) *int { return &n }

func slbConfig(f *fakeAPI) Config {
	return Config{Region: testRegion, SLBEndpoint: f.URL(), MaxAttempts: 3}
}

func albConfig(f *fakeAPI) Config {
	return Config{Region: testRegion, ALBEndpoint: f.URL(), MaxAttempts: 3}
}

func wantSLB() *lb.Facts {
	https443 := func(s lb.State) lb.ListenerHealth { return lb.ListenerHealth{Listener: "https:443", State: s} }
	http80 := func(s lb.State) lb.ListenerHealth { return lb.ListenerHealth{Listener: "http:80", State: s} }
	return &lb.Facts{Kind: lb.KindSLB, Region: testRegion, Pools: []lb.Pool{
		{ID: rsp9090, Name: "web-9090", Type: lb.PoolVServerGroup, LoadBalancers: []string{lbWeb}, HealthReported: true, Members: []lb.Member{
			{ID: web1, Address: "172.16.1.10", Port: 9090, Weight: w(100), Description: "web-1", State: lb.StateHealthy,
				Listeners: []lb.ListenerHealth{https443(lb.StateHealthy), http80(lb.StateHealthy)}},
			{ID: web2, Address: "172.16.1.11", Port: 9090, Weight: w(100), Description: "web-2", State: lb.StateUnhealthy, Reason: "https:443",
				Listeners: []lb.ListenerHealth{https443(lb.StateUnhealthy), http80(lb.StateHealthy)}},
			{ID: "eni-bp1web03a2b3c4d5e6", Address: "172.16.1.12", Port: 9090, Weight: w(50), Description: "web-3 (no listener uses it yet)",
				State: lb.StateRegistered, Reason: "no listener of " + lbWeb + " reports it (DescribeHealthStatus has no entry for this server and port)"},
		}},
		{ID: rsp8080, Name: "web-8080", Type: lb.PoolVServerGroup, LoadBalancers: []string{lbWeb}, HealthReported: true, Members: []lb.Member{
			{ID: web1, Address: "172.16.1.10", Port: 8080, Weight: w(100), Description: "web-1, old port", State: lb.StateHealthy,
				Listeners: []lb.ListenerHealth{{Listener: "tcp:8080", State: lb.StateHealthy}}},
		}},
		{ID: lbWeb, Type: lb.PoolLoadBalancer, LoadBalancers: []string{lbWeb}, HealthReported: true, Members: []lb.Member{
			{ID: web1, Address: "172.16.1.10", Port: 9090, State: lb.StateHealthy, Listeners: []lb.ListenerHealth{https443(lb.StateHealthy), http80(lb.StateHealthy)}},
			{ID: web2, Address: "172.16.1.11", Port: 9090, State: lb.StateUnhealthy, Reason: "https:443", Listeners: []lb.ListenerHealth{https443(lb.StateUnhealthy), http80(lb.StateHealthy)}},
			{ID: web1, Address: "172.16.1.10", Port: 8080, State: lb.StateHealthy, Listeners: []lb.ListenerHealth{{Listener: "tcp:8080", State: lb.StateHealthy}}},
			{ID: "i-bp1app01a2b3c4d5e6f", Address: "172.16.1.20", Port: 5000, State: lb.StateUnavailable, Reason: "udp:5000: health check not completed or disabled",
				Listeners: []lb.ListenerHealth{{Listener: "udp:5000", State: lb.StateUnavailable, Reason: "health check not completed or disabled"}}},
		}},
	}}
}

func TestReadSLB(t *testing.T) {
	testEnv(t)
	f := newFake(t, "slb")
	got, err := ReadSLB(context.Background(), slbConfig(f), SLBScope{VServerGroups: []string{rsp9090, rsp8080, rsp9090}, LoadBalancers: []string{lbWeb}})
	if err != nil {
		t.Fatal(err)
	}
	if d := cmp.Diff(wantSLB(), got); d != "" {
		t.Errorf("facts (-want +got):\n%s", d)
	}
	if n := f.Count("DescribeHealthStatus", nil); n != 1 {
		t.Errorf("DescribeHealthStatus called %d times, want once per load balancer", n)
	}
	// The checklist's questions: the new port is healthy on web-1, web-2
	// fails one listener's check, and web-1's old port is still a
	// backend (a leftover the step catches).
	for _, tc := range []struct {
		target lb.Target
		pools  []string
		want   lb.Verdict
	}{
		{lb.Target{IDs: []string{web1}, Port: 9090}, []string{"web-9090"}, lb.VerdictHealthy},
		{lb.Target{IDs: []string{"172.16.1.11"}, Port: 9090}, []string{rsp9090}, lb.VerdictRegistered},
		{lb.Target{IDs: []string{"172.16.1.10"}, Port: 8080}, nil, lb.VerdictHealthy},
		{lb.Target{IDs: []string{"172.16.1.10"}, Port: 8080}, []string{"web-9090"}, lb.VerdictAbsent},
	} {
		if p := lb.Find(got, tc.target, tc.pools...); p.Verdict != tc.want {
			t.Errorf("%s in %v: %s, want %s\n%s", tc.target, tc.pools, p.Verdict, tc.want, strings.Join(p.Evidence, "\n"))
		}
	}
}

func TestReadALB(t *testing.T) {
	testEnv(t)
	f := newFake(t, "alb")
	got, err := ReadALB(context.Background(), albConfig(f), ALBScope{ServerGroups: []string{sgp9090, sgp8080, sgpSpare}, Listeners: []string{lsnWeb}})
	if err != nil {
		t.Fatal(err)
	}
	listener := lsnWeb + " (https:443)"
	rule := lsnWeb + " rule rule-web9090a1s2d3f4"
	want := &lb.Facts{Kind: lb.KindALB, Region: testRegion, Pools: []lb.Pool{
		{ID: sgp9090, Type: lb.PoolServerGroup, HealthReported: true, Members: []lb.Member{
			{ID: web1, Address: "172.16.1.10", Port: 9090, Weight: w(100), Status: "Available", Description: "web-1", State: lb.StateHealthy,
				Listeners: []lb.ListenerHealth{{Listener: listener, State: lb.StateHealthy}, {Listener: rule, State: lb.StateHealthy}}},
			{ID: web2, Address: "172.16.1.11", Port: 9090, Weight: w(100), Status: "Available", Description: "web-2", State: lb.StateUnhealthy,
				Reason:    listener + ": RESPONSE_MISMATCH (expected HTTP_2xx, got 503)",
				Listeners: []lb.ListenerHealth{{Listener: listener, State: lb.StateUnhealthy, Reason: "RESPONSE_MISMATCH (expected HTTP_2xx, got 503)"}, {Listener: rule, State: lb.StateHealthy}}},
			{ID: "172.16.1.12", Address: "172.16.1.12", Port: 9090, Weight: w(100), Status: "Removing", Description: "web-3, leaving", State: lb.StateDraining, Reason: "Removing",
				Listeners: []lb.ListenerHealth{{Listener: listener, State: lb.StateHealthy}, {Listener: rule, State: lb.StateHealthy}}},
			{ID: web4, Address: "172.16.1.13", Port: 9090, Weight: w(100), Status: "Adding", Description: "web-4, joining", State: lb.StateInitial, Reason: listener + ": Initial",
				Listeners: []lb.ListenerHealth{{Listener: listener, State: lb.StateInitial, Reason: "Initial"}, {Listener: rule, State: lb.StateHealthy}}},
		}},
		{ID: sgp8080, Type: lb.PoolServerGroup, HealthReported: true, Members: []lb.Member{
			{ID: web1, Address: "172.16.1.10", Port: 8080, Weight: w(100), Status: "Available", Description: "web-1, old port", State: lb.StateUnavailable,
				Reason: listener + ": health checks are off", Listeners: []lb.ListenerHealth{{Listener: listener, State: lb.StateUnavailable, Reason: "health checks are off"}}},
		}},
		{ID: sgpSpare, Type: lb.PoolServerGroup, Members: []lb.Member{
			{ID: web1, Address: "172.16.1.10", Port: 9091, Weight: w(100), Status: "Available", State: lb.StateRegistered, Reason: "no listener read forwards to " + sgpSpare},
		}},
	}, Notes: []string{"server group " + sgpSpare + ": no listener read forwards to it, so its servers' health is not known"}}
	if d := cmp.Diff(want, got); d != "" {
		t.Errorf("facts (-want +got):\n%s", d)
	}
	// 4 servers in pages of 2; the listener report in two pages.
	if n := f.Count("ListServerGroupServers", nil); n != 4 {
		t.Errorf("ListServerGroupServers called %d times, want 2 pages for %s and 1 each for the others", n, sgp9090)
	}
	if n := f.Count("GetListenerHealthStatus", nil); n != 2 {
		t.Errorf("GetListenerHealthStatus called %d times, want 2 pages", n)
	}
	if p := lb.Find(got, lb.Target{IDs: []string{"172.16.1.12"}, Port: 9090}, sgp9090); p.Verdict != lb.VerdictDraining || !p.Deregistered(true) {
		t.Errorf("a server being removed: %+v", p)
	}
	if p := lb.Find(got, lb.Target{IDs: []string{web1}, Port: 9090}, sgp9090); !p.Healthy() {
		t.Errorf("new port: %+v", p)
	}
}

func TestPermissionNamesTheRAMAction(t *testing.T) {
	testEnv(t)
	f := newFake(t, "slb")
	f.SetHook(func(c call, n int) (int, string, bool) {
		if c.Action == "DescribeHealthStatus" {
			return http.StatusForbidden, "errors/Forbidden.RAM.json", true
		}
		return 0, "", false
	})
	_, err := ReadSLB(context.Background(), slbConfig(f), SLBScope{VServerGroups: []string{rsp9090}})
	var pe *aliyun.PermissionError
	if !errors.As(err, &pe) || pe.Action != "slb:DescribeHealthStatus" {
		t.Fatalf("error %v, want a PermissionError for slb:DescribeHealthStatus", err)
	}
}

func TestThrottlingIsRetried(t *testing.T) {
	testEnv(t)
	f := newFake(t, "alb")
	f.SetHook(func(c call, n int) (int, string, bool) {
		if c.Action == "ListServerGroupServers" && n == 1 {
			return http.StatusBadRequest, "errors/Throttling.json", true
		}
		return 0, "", false
	})
	got, err := ReadALB(context.Background(), albConfig(f), ALBScope{ServerGroups: []string{sgp8080}})
	if err != nil {
		t.Fatal(err)
	}
	if len(got.Pools) != 1 || len(got.Pools[0].Members) != 1 || f.Count("ListServerGroupServers", nil) != 2 {
		t.Errorf("facts %+v after %d calls", got, f.Count("ListServerGroupServers", nil))
	}
}

func TestNotFound(t *testing.T) {
	testEnv(t)
	s, a := newFake(t, "slb"), newFake(t, "alb")
	for _, tc := range []struct {
		name string
		read func() error
		kind string
		id   string
	}{
		{"VServer group", func() error {
			_, err := ReadSLB(context.Background(), slbConfig(s), SLBScope{VServerGroups: []string{"rsp-nosuch"}})
			return err
		}, "VServer group", "rsp-nosuch"},
		{"load balancer", func() error {
			_, err := ReadSLB(context.Background(), slbConfig(s), SLBScope{LoadBalancers: []string{"lb-nosuch"}})
			return err
		}, "load balancer", "lb-nosuch"},
		{"server group", func() error {
			_, err := ReadALB(context.Background(), albConfig(a), ALBScope{ServerGroups: []string{"sgp-nosuch"}})
			return err
		}, "server group", "sgp-nosuch"},
		{"listener", func() error {
			_, err := ReadALB(context.Background(), albConfig(a), ALBScope{ServerGroups: []string{sgp8080}, Listeners: []string{"lsn-nosuch"}})
			return err
		}, "listener", "lsn-nosuch"},
	} {
		err := tc.read()
		var nf *lb.NotFoundError
		if !errors.As(err, &nf) || nf.Kind != tc.kind || nf.IDs[0] != tc.id {
			t.Errorf("%s: error %v, want a NotFoundError for %s", tc.name, err, tc.id)
		}
	}
}

func TestBadScopeAndConfig(t *testing.T) {
	testEnv(t)
	for name, err := range map[string]error{
		"empty SLB scope": func() error {
			_, err := ReadSLB(context.Background(), Config{Region: testRegion}, SLBScope{})
			return err
		}(),
		"wrong id": func() error {
			_, err := ReadSLB(context.Background(), Config{Region: testRegion}, SLBScope{VServerGroups: []string{"sgp-x"}})
			return err
		}(),
		"no region": func() error {
			_, err := ReadALB(context.Background(), Config{}, ALBScope{ServerGroups: []string{sgp8080}})
			return err
		}(),
		"bad protocol": func() error {
			_, err := ReadALB(context.Background(), Config{Region: testRegion, Protocol: "ftp"}, ALBScope{ServerGroups: []string{sgp8080}})
			return err
		}(),
		"empty ALB scope": func() error {
			_, err := ReadALB(context.Background(), Config{Region: testRegion}, ALBScope{Listeners: []string{lsnWeb}})
			return err
		}(),
	} {
		if err == nil {
			t.Errorf("%s: accepted", name)
		}
	}
}

// Reads run at once — verify reads per endpoint concurrently. With the
// race detector this fails unless each read has its own HTTP client (the
// SDK runtime's shared one has its Timeout rewritten on every call).
func TestConcurrentReads(t *testing.T) {
	testEnv(t)
	s, a := newFake(t, "slb"), newFake(t, "alb")
	var wg sync.WaitGroup
	errs := make([]error, 12)
	for i := range errs {
		wg.Go(func() {
			if i%2 == 0 {
				got, err := ReadSLB(context.Background(), slbConfig(s), SLBScope{VServerGroups: []string{rsp9090, rsp8080}, LoadBalancers: []string{lbWeb}})
				if err == nil && !cmp.Equal(wantSLB(), got) {
					err = errors.New("SLB facts differ")
				}
				errs[i] = err
				return
			}
			_, errs[i] = ReadALB(context.Background(), albConfig(a), ALBScope{ServerGroups: []string{sgp9090}, Listeners: []string{lsnWeb}})
		})
	}
	wg.Wait()
	for i, err := range errs {
		if err != nil {
			t.Errorf("read %d: %v", i, err)
		}
	}
}

// The same without the race detector (CI's plain go test): every client
// gets its read's own HTTP client, never the runtime's shared default.
func TestEachReadHasItsOwnHTTPClient(t *testing.T) {
	testEnv(t)
	cfg := Config{Region: testRegion, SLBEndpoint: "http://127.0.0.1:1", ALBEndpoint: "http://127.0.0.1:1"}
	s1, h1, err := newSLB(cfg)
	if err != nil {
		t.Fatal(err)
	}
	s2, h2, err := newSLB(cfg)
	if err != nil {
		t.Fatal(err)
	}
	a1, h3, err := newALB(cfg)
	if err != nil {
		t.Fatal(err)
	}
	if h1 == h2 || h1 == h3 {
		t.Fatal("two reads share an HTTP client")
	}
	for name, pair := range map[string][2]dara.HttpClient{"SLB 1": {s1.HttpClient, h1}, "SLB 2": {s2.HttpClient, h2}, "ALB": {a1.HttpClient, h3}} {
		if pair[0] != pair[1] {
			t.Errorf("%s: the SDK client uses %v, not the read's own HTTP client", name, pair[0])
		}
	}
}

func TestLeastPrivilegePolicy(t *testing.T) {
	var doc struct {
		Statement []struct{ Action []string }
	}
	if err := json.Unmarshal([]byte(LeastPrivilegePolicy()), &doc); err != nil {
		t.Fatal(err)
	}
	if len(doc.Statement) != 1 || !cmp.Equal(doc.Statement[0].Action, RequiredActions) {
		t.Errorf("policy %+v", doc)
	}
}

package aliyun

import (
	"context"
	"sync"
	"testing"

	"github.com/alibabacloud-go/tea/dara"
	"github.com/google/go-cmp/cmp"

	"github.com/portcheck/portcheck/providers/cloud"
)

// Reads run at once — verify reads one snapshot per target concurrently.
// The SDK's default HTTP client is shared by every call to an endpoint and
// has its Timeout rewritten on each call while other calls read it in
// net/http (issue 9, item 11): with the race detector on (CI runs it),
// this test fails unless each read has its own client.
func TestConcurrentReads(t *testing.T) {
	testEnv(t)
	f := newFakes(t)
	const n = 6
	snaps := make([]*cloud.Snapshot, n)
	errs := make([]error, n)
	var wg sync.WaitGroup
	for i := range n {
		wg.Go(func() {
			snaps[i], errs[i] = Read(context.Background(), f.config(), Scope{Targets: []string{iWeb1, "172.16.2.10"}})
		})
	}
	wg.Wait()
	for i := range n {
		if errs[i] != nil {
			t.Errorf("read %d: %v", i, errs[i])
			continue
		}
		if d := cmp.Diff(wantTargets(), snaps[i], cmpNet); d != "" {
			t.Errorf("read %d: snapshot (-want +got):\n%s", i, d)
		}
	}
}

// The same, without relying on the race detector: each read's SDK clients
// get that read's own HTTP client, never the runtime's shared default.
func TestEachReadHasItsOwnHTTPClient(t *testing.T) {
	testEnv(t)
	f := newFakes(t)
	a, err := newAPI(f.config())
	if err != nil {
		t.Fatal(err)
	}
	b, err := newAPI(f.config())
	if err != nil {
		t.Fatal(err)
	}
	if a.http == nil || a.http == b.http {
		t.Fatalf("two reads share an HTTP client (%p, %p)", a.http, b.http)
	}
	for name, c := range map[string]dara.HttpClient{"ECS": a.ecs.HttpClient, "VPC": a.vpc.HttpClient} {
		if c != dara.HttpClient(a.http) {
			t.Errorf("the %s SDK client uses %v, not the read's own HTTP client", name, c)
		}
	}
}

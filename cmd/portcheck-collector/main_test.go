package main

import (
	"bytes"
	"os"
	"os/exec"
	"strings"
	"testing"

	"github.com/portcheck/portcheck/internal/lab"
	"github.com/portcheck/portcheck/providers/facts"
)

func TestMain(m *testing.M) {
	lab.MaybeServe()
	os.Exit(m.Run())
}

// TestNoHeavyDependencies keeps the uploaded binary small: no cloud SDKs,
// no HCL, no runner, no probes.
func TestNoHeavyDependencies(t *testing.T) {
	out, err := exec.Command("go", "list", "-deps", ".").Output()
	if err != nil {
		t.Fatalf("go list -deps: %v", err)
	}
	for _, dep := range strings.Fields(string(out)) {
		// gRPC is linked (the L7 gRPC health check from a vantage host runs
		// in the collector's prober): 13.8 MB stripped against 5.2 MB
		// without the vantage-side L5/L7 observers, still a fifth of
		// portcheck's 61 MB. The cloud SDKs and the HCL stack stay out.
		for _, bad := range []string{"aws-sdk", "aliyun", "alibabacloud", "hashicorp/hcl", "portcheck/runner", "portcheck/config", "portcheck/providers/cloud", "portcheck/providers/lb", "prometheus"} {
			if strings.Contains(dep, bad) {
				t.Errorf("the collector links %s", dep)
			}
		}
	}
}

func TestCollectCommand(t *testing.T) {
	l := lab.New(t)
	h := l.Host("web")
	h.ListenTCP("tcp4", "127.0.0.1:8080")
	var out, errb bytes.Buffer
	code := run([]string{"collect", "-netns", h.NS, "-name", "web"}, &out, &errb)
	if code != 0 && code != 1 {
		t.Fatalf("exit %d: %s", code, errb.String())
	}
	doc, err := facts.Decode(&out, "stdout")
	if err != nil {
		t.Fatalf("decode: %v", err)
	}
	if doc.Host.Name != "web" || doc.Sockets == nil || len(doc.Sockets.Sockets) != 1 {
		t.Errorf("document: host %q sockets %+v", doc.Host.Name, doc.Sockets)
	}
	for _, tt := range []struct {
		args []string
		code int
		want string
	}{
		{nil, 2, "Usage: portcheck-collector"},
		{[]string{"nope"}, 2, "unknown command"},
		{[]string{"collect", "extra"}, 2, "no arguments expected"},
		{[]string{"collect", "-netns", "pclab-none"}, 2, "-netns"},
	} {
		var o, e bytes.Buffer
		if c := run(tt.args, &o, &e); c != tt.code || !strings.Contains(e.String(), tt.want) {
			t.Errorf("%v: exit %d, stderr %q; want %d, %q", tt.args, c, e.String(), tt.code, tt.want)
		}
	}
}

package main

import (
	"github.com/portcheck/portcheck/providers/lb/aliyunlb"
	"github.com/portcheck/portcheck/providers/lb/elbv2"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/portcheck/portcheck/providers/cloud"
)

// The README's configuration example must stay valid and canonical.
func TestReadmeExampleIsValid(t *testing.T) {
	b, err := os.ReadFile("../../README.md")
	if err != nil {
		t.Fatal(err)
	}
	_, rest, ok := strings.Cut(string(b), "```hcl\n")
	if !ok {
		t.Fatal("README has no ```hcl block")
	}
	src, _, _ := strings.Cut(rest, "```")
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "readme.pc.hcl"), []byte(src), 0o644); err != nil {
		t.Fatal(err)
	}
	if code, _, errOut := runCmd(t, "validate", dir); code != 0 {
		t.Fatalf("README example does not validate:\n%s", errOut)
	}
	if code, out, _ := runCmd(t, "fmt", "-check", dir); code != 0 {
		t.Fatalf("README example is not canonical (portcheck fmt): %s", out)
	}
}

// Every cloud backend linked into the binary documents its permissions:
// the README's least-privilege policies list each action it needs, and
// its own policy document grants exactly them.
func TestReadmeListsEveryCloudBackendsActions(t *testing.T) {
	b, err := os.ReadFile("../../README.md")
	if err != nil {
		t.Fatal(err)
	}
	types := cloud.Types()
	if len(types) < 2 {
		t.Fatalf("cloud backends linked in: %q, want aws and aliyun at least", types)
	}
	for _, typ := range types {
		be, _ := cloud.Lookup(typ)
		actions := be.RequiredActions()
		if len(actions) == 0 {
			t.Errorf("%s: no required actions", typ)
		}
		for _, a := range actions {
			if !strings.Contains(string(b), `"`+a+`"`) {
				t.Errorf("%s: README's policies lack %q", typ, a)
			}
			if !strings.Contains(be.LeastPrivilegePolicy(), `"`+a+`"`) {
				t.Errorf("%s: its policy document lacks %q", typ, a)
			}
		}
	}
}

// TestReadmeListsLoadBalancerActions: the README's policies list every
// action the load-balancer readers call (one test for every reader, where
// each package had its own copy).
func TestReadmeListsLoadBalancerActions(t *testing.T) {
	b, err := os.ReadFile("../../README.md")
	if err != nil {
		t.Fatal(err)
	}
	for name, actions := range map[string][]string{"elbv2": elbv2.RequiredActions, "aliyunlb": aliyunlb.RequiredActions} {
		if len(actions) == 0 {
			t.Errorf("%s: no required actions", name)
		}
		for _, a := range actions {
			if !strings.Contains(string(b), `"`+a+`"`) {
				t.Errorf("%s: README's policies lack %q", name, a)
			}
		}
	}
}

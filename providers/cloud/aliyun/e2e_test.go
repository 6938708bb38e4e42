package aliyun_test

import (
	"context"
	"fmt"
	"strings"
	"testing"

	"github.com/portcheck/portcheck/config"
	"github.com/portcheck/portcheck/providers/cloud"
	"github.com/portcheck/portcheck/providers/cloud/aliyun"
	"github.com/portcheck/portcheck/runner"
)

// The L6 path for Alibaba Cloud through the V2 SDK: instance i-bp1web01…
// (172.16.1.10) is in sg-bp1web… (443 accepted at priority 1, every tcp
// port dropped at priority 100) and sg-bp1mgmt…, on a vSwitch whose ACL
// accepts ssh only from 203.0.113.0/24 and everything else.
func TestVerifyL6ThroughTheSDK(t *testing.T) {
	ecsURL, vpcURL := aliyun.StartFakes(t)
	src := fmt.Sprintf(`
provider "aliyun" {
  region       = %q
  endpoint     = %q
  vpc_endpoint = %q
}

host "web" {
  address = "172.16.1.10"
  local   = false
}

endpoint "https" {
  host = host.web
  port = 443
  expect {
    cloud {
      provider = provider.aliyun
      target   = "i-bp1web01a2b3c4d5e6f7"
      sources  = ["198.51.100.9"]
    }
  }
}

endpoint "alt" {
  host = host.web
  port = 8443
  expect {
    cloud {
      provider = provider.aliyun
      sources  = ["198.51.100.9"]
    }
  }
}

endpoint "ssh" {
  host = host.web
  port = 22
  expect {
    cloud {
      provider = provider.aliyun
      sources  = ["198.51.100.9"]
    }
  }
}
`, aliyun.FakeRegion, ecsURL, vpcURL)
	cfg, diags := config.LoadSources(map[string][]byte{"cloud.pc.hcl": []byte(src)}, config.Options{})
	if diags.HasErrors() {
		t.Fatal(diags)
	}
	plan, err := runner.BuildPlan(cfg, runner.PlanOptions{Env: runner.Environment{GOOS: "linux"}})
	if err != nil {
		t.Fatal(err)
	}
	// A source group's membership is only known when every interface of
	// the region is read (a targeted read leaves it undecided, which the
	// evaluator reports rather than guesses): read the region, as audit does.
	all := func(ctx context.Context, p *config.CloudProvider, _, groups []string, _ bool) (*cloud.Snapshot, error) {
		return runner.ReadCloud(ctx, p, nil, groups, true)
	}
	l6 := map[string]*runner.Result{}
	runner.Verify(context.Background(), plan, runner.Options{CloudRead: all}, func(er *runner.EndpointResult) {
		for _, r := range er.Results {
			if r.Check.Layer == 6 {
				l6[er.Plan.Endpoint.Name] = r
			}
		}
	})
	tests := []struct {
		endpoint, status, summary, hint string
	}{
		{"https", "pass", "is allowed", ""},
		{"alt", "fail", "denied at security_group by sg-bp1web0k8mbaqyn3klbx sgr-bp1web0000000000008",
			"aliyun ecs AuthorizeSecurityGroup --RegionId cn-hangzhou --SecurityGroupId sg-bp1"},
		{"ssh", "fail", "denied at nacl_ingress by nacl-bp1web5kfk6sq0yx3ra", "UpdateNetworkAclEntries"},
	}
	for _, tt := range tests {
		r := l6[tt.endpoint]
		if r == nil {
			t.Errorf("%s: no L6 result", tt.endpoint)
			continue
		}
		if string(r.Status) != tt.status || !strings.Contains(r.Summary, tt.summary) || !strings.Contains(r.Hint, tt.hint) {
			t.Errorf("%s: %s %s %q hint %q\nwant %s with %q, hint with %q", tt.endpoint, r.Status, r.Cause, r.Summary, r.Hint, tt.status, tt.summary, tt.hint)
		}
		if tt.status == "fail" && r.Cause != runner.CauseCloudBlocked {
			t.Errorf("%s: cause %q, want cloud_blocked", tt.endpoint, r.Cause)
		}
	}
}

// A targeted read does not list every interface, so a rule whose source is
// a group cannot be ruled out for a client it may or may not contain: the
// check says so instead of guessing.
func TestVerifyL6SourceGroupUnresolved(t *testing.T) {
	ecsURL, vpcURL := aliyun.StartFakes(t)
	src := fmt.Sprintf(`
provider "aliyun" {
  region       = %q
  endpoint     = %q
  vpc_endpoint = %q
}

host "web" {
  address = "172.16.1.10"
  local   = false
}

endpoint "alt" {
  host = host.web
  port = 8443
  expect {
    cloud {
      provider = provider.aliyun
      target   = "i-bp1web01a2b3c4d5e6f7"
      sources  = ["198.51.100.9"]
    }
  }
}
`, aliyun.FakeRegion, ecsURL, vpcURL)
	cfg, diags := config.LoadSources(map[string][]byte{"cloud.pc.hcl": []byte(src)}, config.Options{})
	if diags.HasErrors() {
		t.Fatal(diags)
	}
	plan, err := runner.BuildPlan(cfg, runner.PlanOptions{Env: runner.Environment{GOOS: "linux"}})
	if err != nil {
		t.Fatal(err)
	}
	var got *runner.Result
	runner.Verify(context.Background(), plan, runner.Options{}, func(er *runner.EndpointResult) {
		for _, r := range er.Results {
			if r.Check.Layer == 6 {
				got = r
			}
		}
	})
	if got == nil || got.Status != runner.StatusError || !strings.Contains(got.Summary, "membership of sg-bp1mgmt3t8p6ef0q3kyo not resolved") {
		t.Fatalf("L6 = %+v, want an error naming the unresolved source group", got)
	}
}

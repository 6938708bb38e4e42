package aws_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"testing"

	"github.com/portcheck/portcheck/config"
	"github.com/portcheck/portcheck/providers/cloud"
	"github.com/portcheck/portcheck/providers/cloud/aws"
	"github.com/portcheck/portcheck/runner"
	"github.com/portcheck/portcheck/runner/report"
)

// The whole L6 path: HCL → plan → verify, reading through the real SDK from
// the local EC2 server. The region's fixtures: eni-web0 (10.0.1.10) in
// sg-web and sg-ssh on subnet-web, whose ACL denies 198.51.100.0/24 first,
// allows tcp 443 and 1024-65535, and denies the rest; sg-web allows 443
// from anywhere and 8080-8081 from the office prefix list.
func TestVerifyL6ThroughTheSDK(t *testing.T) {
	url := aws.StartFakeEC2(t)
	src := fmt.Sprintf(`
provider "aws" {
  region   = %q
  endpoint = %q
}

security_group "web" {
  provider = provider.aws
  id       = "sg-web"

  ingress {
    protocol    = "tcp"
    ports       = 443
    cidr_blocks = ["0.0.0.0/0"]
    description = "HTTPS"
  }
  ingress {
    protocol    = "tcp"
    ports       = 80
    cidr_blocks = ["::/0"]
  }
  ingress {
    protocol     = "tcp"
    ports        = "8080-8081"
    prefix_lists = ["pl-office"]
    description  = "office"
  }
}

host "web" {
  address = "10.0.1.10"
  local   = false
}

endpoint "office" {
  host = host.web
  port = "8080"
  expect {
    cloud {
      provider = provider.aws
      target   = "i-0web"
      sources  = ["192.0.2.9", "198.51.100.70", "192.0.2.0/23"]
    }
  }
}

endpoint "ssh" {
  host = host.web
  port = 22
  expect {
    cloud {
      provider = provider.aws
      sources  = ["192.0.2.9"]
    }
  }
}

endpoint "mysql" {
  host = host.web
  port = 3306
  expect {
    cloud {
      provider = provider.aws
      sources  = ["203.0.113.5"]
    }
  }
}
`, aws.FakeRegion, url)
	cfg, diags := config.LoadSources(map[string][]byte{"cloud.pc.hcl": []byte(src)}, config.Options{})
	if diags.HasErrors() {
		t.Fatal(diags)
	}
	plan, err := runner.BuildPlan(cfg, runner.PlanOptions{Env: runner.Environment{GOOS: "linux"}})
	if err != nil {
		t.Fatal(err)
	}
	// The fake serves a whole region: read everything, as audit does.
	all := func(ctx context.Context, p *config.CloudProvider, _, groups []string, _ bool) (*cloud.Snapshot, error) {
		return runner.ReadCloud(ctx, p, nil, groups, true)
	}
	l6 := map[string]*runner.Result{}
	runner.Verify(context.Background(), plan, runner.Options{CloudRead: all}, func(er *runner.EndpointResult) {
		for _, r := range er.Results {
			if r.Check.Layer == 6 {
				l6[er.Plan.Endpoint.Name+" "+r.Check.From] = r
			}
		}
	})
	tests := []struct {
		key, status, cause, summary, hint string
	}{
		{"office 192.0.2.9/32", "pass", "", "is allowed (acl-web rule 110: #110 allow tcp 1024-65535 from 0.0.0.0/0; sg-web sgr-web-office: tcp 8080-8081 from pl-office accept; acl-web rule 100", ""},
		{"office 198.51.100.70/32", "fail", runner.CauseCloudBlocked, "denied at nacl_ingress by acl-web rule 90",
			"aws ec2 create-network-acl-entry --network-acl-id acl-web --ingress --rule-number 89 --protocol tcp --port-range From=8080,To=8080 --cidr-block 198.51.100.70/32 --rule-action allow"},
		// Half of the range is in the office prefix list: the other half is
		// found and named.
		{"office 192.0.2.0/23", "fail", runner.CauseCloudBlocked, "tcp/8080 from 192.0.3.0 to 10.0.1.10 (eni-web0) is denied at security_group", "--cidr 192.0.3.0/32"},
		{"ssh 192.0.2.9/32", "fail", runner.CauseCloudBlocked, "denied at nacl_ingress by acl-web rule 32767", "--ingress"},
		{"mysql 203.0.113.5/32", "fail", runner.CauseCloudBlocked, "denied at security_group",
			"aws ec2 authorize-security-group-ingress --group-id sg-"},
	}
	for _, tt := range tests {
		r := l6[tt.key]
		if r == nil {
			t.Errorf("%s: no L6 result (have %v)", tt.key, keys(l6))
			continue
		}
		if string(r.Status) != tt.status || r.Cause != tt.cause || !strings.Contains(r.Summary, tt.summary) || !strings.Contains(r.Hint, tt.hint) {
			t.Errorf("%s: %s %s %q hint %q\nwant %s %s with %q, hint with %q", tt.key, r.Status, r.Cause, r.Summary, r.Hint, tt.status, tt.cause, tt.summary, tt.hint)
		}
	}
}

func keys(m map[string]*runner.Result) []string {
	var out []string
	for k := range m {
		out = append(out, k)
	}
	return out
}

// audit: drift of a declared group, a declared group that does not exist,
// and findings, as Markdown and JSON.
func TestAuditThroughTheSDK(t *testing.T) {
	url := aws.StartFakeEC2(t)
	src := fmt.Sprintf(`
provider "aws" {
  region   = %q
  endpoint = %q
}

security_group "web" {
  provider = provider.aws
  id       = "sg-web"

  ingress {
    protocol    = "tcp"
    ports       = 443
    cidr_blocks = ["0.0.0.0/0"]
  }
  ingress {
    protocol    = "tcp"
    ports       = 8443
    cidr_blocks = ["0.0.0.0/0"]
  }
}
`, aws.FakeRegion, url)
	cfg, diags := config.LoadSources(map[string][]byte{"audit.pc.hcl": []byte(src)}, config.Options{})
	if diags.HasErrors() {
		t.Fatal(diags)
	}
	rep := runner.Audit(context.Background(), cfg, runner.AuditOptions{})
	if rep.ExitCode() != 1 {
		t.Errorf("exit code %d, want 1", rep.ExitCode())
	}
	s := rep.Summary
	if s.Errors != 0 || s.Declared != 1 || s.Drifted != 1 || s.Groups < 6 || s.Unattached == 0 || s.DeletedGroupRf == 0 {
		t.Errorf("summary %+v", s)
	}
	var web *runner.AuditGroup
	for _, g := range rep.Scopes[0].Groups {
		if g.ID == "sg-web" {
			web = g
		}
	}
	if web == nil {
		t.Fatal("sg-web not in the audit")
	}
	kinds := map[string]int{}
	for _, d := range web.Drift {
		kinds[d.Kind]++
	}
	// 8443 declared but absent; port 80 from ::/0 and the office rule
	// present but not declared; egress is not managed by the declaration.
	if kinds[cloud.DriftMissing] != 1 || kinds[cloud.DriftUnexpected] != 2 {
		t.Errorf("sg-web drift %+v", web.Drift)
	}
	var md bytes.Buffer
	report.WriteAuditMarkdown(&md, rep)
	for _, want := range []string{"# portcheck audit", "| declared groups with drift | 1 |", "### `sg-web` web", "declared at audit.pc.hcl:7", "**attached to nothing**", "missing"} {
		if !strings.Contains(md.String(), want) {
			t.Errorf("Markdown lacks %q:\n%s", want, md.String())
		}
	}
	var js bytes.Buffer
	if err := report.WriteAuditJSON(&js, rep); err != nil {
		t.Fatal(err)
	}
	var doc struct {
		Version  int `json:"version"`
		ExitCode int `json:"exit_code"`
		Summary  struct {
			Drifted int `json:"drifted"`
		} `json:"summary"`
	}
	if err := json.Unmarshal(js.Bytes(), &doc); err != nil || doc.Version != 1 || doc.ExitCode != 1 || doc.Summary.Drifted != 1 {
		t.Errorf("JSON %s (%v)", js.String(), err)
	}
}

package aws_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"slices"
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

# A client in web's subnet (10.0.1.0/24) that is no interface: the
# subnet's network ACL does not filter it.
endpoint "ssh_in_subnet" {
  host = host.web
  port = 22
  expect {
    cloud {
      provider = provider.aws
      sources  = ["10.0.1.98"]
    }
  }
}

host "web6" {
  address = "2001:db8:1::10"
  local   = false
}

# No inbound entry of acl-web matches IPv6 on 8080: the implicit deny.
endpoint "office6" {
  host = host.web6
  port = 8080
  expect {
    cloud {
      provider = provider.aws
      sources  = ["2001:db8:9::/64"]
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
		{"office 192.0.2.0/23", "fail", runner.CauseCloudBlocked, "tcp/8080 from 192.0.3.0 to 10.0.1.10 (eni-web0) is denied at security_group",
			"aws ec2 authorize-security-group-ingress --group-id sg-web --protocol tcp --port 8080 --cidr 192.0.3.0/24"},
		// A real free number below the catch-all "*" (32767).
		{"ssh 192.0.2.9/32", "fail", runner.CauseCloudBlocked, "denied at nacl_ingress by acl-web rule 32767",
			"aws ec2 create-network-acl-entry --network-acl-id acl-web --ingress --rule-number 32766 --protocol tcp --port-range From=22,To=22 --cidr-block 192.0.2.9/32 --rule-action allow"},
		// Was denied at nacl_ingress by rule 32767.
		{"ssh_in_subnet 10.0.1.98/32", "fail", runner.CauseCloudBlocked,
			"denied at security_group by sg-web,sg-ssh (no security group rule allows it): no rule of security group(s) sg-web,sg-ssh allows tcp 22 from 10.0.1.98; network ACLs do not filter traffic within subnet subnet-web (10.0.1.98 is in its CIDR block 10.0.1.0/24)",
			"--cidr 10.0.1.98/32"},
		// No entry matched (number 0): was "--rule-number 1 … (a free
		// number below 0)"; the whole declared range is admitted.
		{"office6 2001:db8:9::/64", "fail", runner.CauseCloudBlocked, "denied at nacl_ingress by acl-web (implicit deny)",
			"aws ec2 create-network-acl-entry --network-acl-id acl-web --ingress --rule-number 32766 --protocol tcp --port-range From=8080,To=8080 --ipv6-cidr-block 2001:db8:9::/64 --rule-action allow"},
		{"mysql 203.0.113.5/32", "fail", runner.CauseCloudBlocked, "denied at security_group",
			"aws ec2 authorize-security-group-ingress --group-id sg-"},
	}
	for _, tt := range tests {
		r := l6[tt.key]
		if r != nil {
			t.Logf("%s: %s %s\n  fix: %s", tt.key, r.Status, r.Summary, r.Hint)
		}
		if r == nil {
			t.Errorf("%s: no L6 result (have %v)", tt.key, keys(l6))
			continue
		}
		if string(r.Status) != tt.status || r.Cause != tt.cause || !strings.Contains(r.Summary, tt.summary) || !strings.Contains(r.Hint, tt.hint) {
			t.Errorf("%s: %s %s %q hint %q\nwant %s %s with %q, hint with %q", tt.key, r.Status, r.Cause, r.Summary, r.Hint, tt.status, tt.cause, tt.summary, tt.hint)
		}
	}
}

// verify reads only what a target needs: the members of the groups that
// rules name are listed, so a client that is none of them is denied (with
// the assumption stated), not "cannot decide" (issue 9, item 5). A
// declared range gets a fix for every part denied, as the fewest CIDRs,
// at the stage that denies each part.
func TestVerifyL6TargetedRead(t *testing.T) {
	url := aws.StartFakeEC2DB(t)
	endpoint := func(name, source string) string {
		return fmt.Sprintf(`
endpoint %q {
  host = host.db
  port = 5432
  expect {
    cloud {
      provider = provider.aws
      sources  = [%q]
    }
  }
}
`, name, source)
	}
	src := fmt.Sprintf(`
provider "aws" {
  region   = %q
  endpoint = %q
}

host "db" {
  address = "10.0.3.30"
  local   = false
}
`, aws.FakeRegion, url) +
		endpoint("from_web1", "10.0.1.20") + // eni-web1, in sg-web
		endpoint("from_elsewhere", "10.0.9.9") +
		endpoint("from_web_subnet", "10.0.1.0/24") +
		endpoint("from_two_nets", "198.51.100.0/23")
	cfg, diags := config.LoadSources(map[string][]byte{"db.pc.hcl": []byte(src)}, config.Options{})
	if diags.HasErrors() {
		t.Fatal(diags)
	}
	plan, err := runner.BuildPlan(cfg, runner.PlanOptions{Env: runner.Environment{GOOS: "linux"}})
	if err != nil {
		t.Fatal(err)
	}
	l6 := map[string]*runner.Result{}
	runner.Verify(context.Background(), plan, runner.Options{}, func(er *runner.EndpointResult) {
		for _, r := range er.Results {
			if r.Check.Layer == 6 {
				l6[er.Plan.Endpoint.Name] = r
			}
		}
	})
	tests := []struct {
		endpoint, status, summary string
		hint                      []string // lines
	}{
		{"from_web1", "pass", "sg-db sgr-db-pg: tcp 5432 from sg-web accept", nil},
		{"from_elsewhere", "fail", "denied at security_group by sg-db (no security group rule allows it): no rule of security group(s) sg-db allows tcp 5432 from 10.0.9.9; assuming 10.0.9.9 is no member of sg-web (no interface among the group's members the read listed holds it); 10.0.9.9 is no member of sg-db",
			[]string{"aws ec2 authorize-security-group-ingress --group-id sg-db --protocol tcp --port 5432 --cidr 10.0.9.9/32"}},
		// sg-web's members hold 10.0.1.10, .11, .20 and .99: the rest of
		// the /24 is denied, and admitted by 15 prefixes.
		{"from_web_subnet", "fail", "denied parts of 10.0.1.0/24: 10.0.1.0/29, 10.0.1.8/31, 10.0.1.12/30, 10.0.1.16/30, 10.0.1.21/32, 10.0.1.22/31, 10.0.1.24/29, 10.0.1.32/27, and 7 more",
			[]string{"aws ec2 authorize-security-group-ingress --group-id sg-db --ip-permissions 'IpProtocol=tcp,FromPort=5432,ToPort=5432,IpRanges=[" +
				"{CidrIp=10.0.1.0/29},{CidrIp=10.0.1.8/31},{CidrIp=10.0.1.12/30},{CidrIp=10.0.1.16/30},{CidrIp=10.0.1.21/32},{CidrIp=10.0.1.22/31},{CidrIp=10.0.1.24/29},{CidrIp=10.0.1.32/27}," +
				"{CidrIp=10.0.1.64/27},{CidrIp=10.0.1.96/31},{CidrIp=10.0.1.98/32},{CidrIp=10.0.1.100/30},{CidrIp=10.0.1.104/29},{CidrIp=10.0.1.112/28},{CidrIp=10.0.1.128/25}]'"}},
		// acl-web's rule 90 denies 198.51.100.0/24; no security group rule
		// admits 198.51.101.0/24: one fix at each stage.
		{"from_two_nets", "fail", "denied at nacl_ingress by acl-web rule 90",
			[]string{
				"aws ec2 create-network-acl-entry --network-acl-id acl-web --ingress --rule-number 89 --protocol tcp --port-range From=5432,To=5432 --cidr-block 198.51.100.0/24 --rule-action allow",
				"aws ec2 authorize-security-group-ingress --group-id sg-db --protocol tcp --port 5432 --cidr 198.51.101.0/24",
			}},
	}
	for _, tt := range tests {
		r := l6[tt.endpoint]
		if r == nil {
			t.Errorf("%s: no L6 result", tt.endpoint)
			continue
		}
		t.Logf("%s: %s %s\n  fix: %s", tt.endpoint, r.Status, r.Summary, r.Hint)
		if string(r.Status) != tt.status || !strings.Contains(r.Summary, tt.summary) {
			t.Errorf("%s: %s %q\nwant %s with %q", tt.endpoint, r.Status, r.Summary, tt.status, tt.summary)
		}
		var lines []string
		for _, l := range strings.Split(r.Hint, "\n") {
			if l = strings.TrimSpace(l); l != "" {
				lines = append(lines, l)
			}
		}
		if tt.hint != nil && !slices.Equal(lines, tt.hint) {
			t.Errorf("%s: fix\n%s\nwant\n%s", tt.endpoint, strings.Join(lines, "\n"), strings.Join(tt.hint, "\n"))
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

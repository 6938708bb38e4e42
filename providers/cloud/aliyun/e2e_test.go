package aliyun_test

import (
	"context"
	"fmt"
	"slices"
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
	// Read the whole region, as audit does (TestVerifyL6TargetedRead
	// reads what verify reads by default).
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

// A targeted read (what verify does) lists the members of every group it
// reads, so verdicts that hinge on group membership are decided, stating
// the assumption; the other answers of issue 9, item 5, through the SDK:
// internal communication Accept before custom rules, quintuple rules, and
// network ACLs that do not filter traffic within a vSwitch (whose CIDR
// block the read fetches with DescribeVSwitches).
func TestVerifyL6TargetedRead(t *testing.T) {
	ecsURL, vpcURL := aliyun.StartFakes(t)
	endpoint := func(name, proto string, port int, source, ephemeral string) string {
		eph := ""
		if ephemeral != "" {
			eph = fmt.Sprintf("\n      ephemeral_ports = %q", ephemeral)
		}
		return fmt.Sprintf(`
endpoint %q {
  host     = host.web
  port     = %d
  protocol = %q
  expect {
    cloud {
      provider = provider.aliyun
      sources  = [%q]%s
    }
  }
}
`, name, port, proto, source, eph)
	}
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
`, aliyun.FakeRegion, ecsURL, vpcURL) +
		endpoint("alt", "tcp", 8443, "198.51.100.9", "") +
		endpoint("mdns", "udp", 5353, "198.51.100.9", "") +
		endpoint("from_web2", "tcp", 8443, "172.16.1.20", "") +
		endpoint("quintuple_dest", "tcp", 7000, "198.51.100.9", "") +
		endpoint("quintuple_sport", "tcp", 7001, "198.51.100.9", "") +
		endpoint("quintuple_sport_low", "tcp", 7001, "198.51.100.9", "1000-2000") +
		endpoint("snmp_same_vswitch", "udp", 161, "172.16.1.99", "") +
		endpoint("snmp_other_vswitch", "udp", 161, "172.16.2.99", "") +
		endpoint("ssh", "tcp", 22, "198.51.100.9", "") +
		endpoint("partner", "tcp", 9000, "198.51.100.9", "")
	cfg, diags := config.LoadSources(map[string][]byte{"cloud.pc.hcl": []byte(src)}, config.Options{})
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
	const (
		sgWeb  = "sg-bp1web0k8mbaqyn3klbx"
		sgMgmt = "sg-bp1mgmt3t8p6ef0q3kyo"
	)
	tests := []struct {
		endpoint, status, summary, hint, assumption string
	}{
		// Was "cannot decide": sg-web's rule 4 admits sg-mgmt's members,
		// and the read listed them all.
		{"alt", "fail", "denied at security_group by " + sgWeb + " sgr-bp1web0000000000008", "--Priority 1",
			"198.51.100.9 is no member of " + sgMgmt},
		{"mdns", "fail", "denied at security_group by " + sgWeb + "," + sgMgmt + " (basic group: inbound denied by default except from members of the same group)", "--IpProtocol udp --PortRange 5353/5353",
			"is no member of " + sgWeb},
		// web-2 is in sg-web, whose internal communication Accept comes
		// before the priority 100 drop.
		{"from_web2", "pass", "internal communication policy Accept admits its members, before any custom rule", "", ""},
		// The drop of port 7000 is limited to web-2 (DestCidrIp); the
		// drop of port 7001 to client ports 1-1023 (SourcePortRange).
		{"quintuple_dest", "pass", "sgr-bp1web0000000000013", "", ""},
		{"quintuple_sport", "pass", "sgr-bp1web0000000000013", "", ""},
		{"quintuple_sport_low", "fail", "sgr-bp1web0000000000012: tcp 7001 from 0.0.0.0/0 source ports 1-1023 drop priority 1", "", ""},
		// Within web's vSwitch (172.16.1.0/24) its ACL does not apply; from
		// db's it drops udp.
		{"snmp_same_vswitch", "pass", "sgr-bp1mgmt000000000002: udp 161 from 172.16.0.0/12 accept", "", ""},
		{"snmp_other_vswitch", "fail", "denied at nacl_ingress by nacl-bp1web5kfk6sq0yx3ra nae-bp1web0000000000007",
			"--UpdateIngressAclEntries true --IngressAclEntries.3.Policy accept --IngressAclEntries.3.Protocol udp --IngressAclEntries.3.Port 161/161 --IngressAclEntries.3.SourceCidrIp 172.16.2.99/32", ""},
		{"ssh", "fail", "denied at nacl_ingress by nacl-bp1web5kfk6sq0yx3ra nae-bp1web0000000000002", "--IngressAclEntries.2.SourceCidrIp 198.51.100.9/32", ""},
		// What the read cannot cover stays undecided: rule 6 admits
		// another account's group, whose members this account cannot list.
		{"partner", "error", "cannot decide tcp/9000 from 198.51.100.9 to 172.16.1.10 (eni-bp1web01prim0a1b2c3): source is a group: membership of sg-bp1partner0s2n5ki8yh (account 1649796836582446) not resolved", "", ""},
	}
	for _, tt := range tests {
		r := l6[tt.endpoint]
		if r == nil {
			t.Errorf("%s: no L6 result", tt.endpoint)
			continue
		}
		t.Logf("%s: %s %s\n  fix: %s", tt.endpoint, r.Status, r.Summary, r.Hint)
		if string(r.Status) != tt.status || !strings.Contains(r.Summary, tt.summary) || !strings.Contains(r.Hint, tt.hint) {
			t.Errorf("%s: %s %s %q hint %q\nwant %s with %q, hint with %q", tt.endpoint, r.Status, r.Cause, r.Summary, r.Hint, tt.status, tt.summary, tt.hint)
		}
		if tt.status == "fail" && r.Cause != runner.CauseCloudBlocked {
			t.Errorf("%s: cause %q, want cloud_blocked", tt.endpoint, r.Cause)
		}
		ev, ok := r.Evidence.(*runner.CloudEvidence)
		if !ok {
			t.Errorf("%s: evidence %T", tt.endpoint, r.Evidence)
			continue
		}
		if tt.assumption != "" && !slices.ContainsFunc(ev.Verdict.Assumptions, func(a string) bool { return strings.Contains(a, tt.assumption) }) {
			t.Errorf("%s: assumptions %q lack %q", tt.endpoint, ev.Verdict.Assumptions, tt.assumption)
		}
		if tt.assumption != "" && (!strings.Contains(r.Summary, "; assuming ") || !strings.Contains(r.Summary, tt.assumption)) {
			t.Errorf("%s: summary %q does not state the assumption", tt.endpoint, r.Summary)
		}
		if tt.endpoint == "snmp_same_vswitch" {
			if want := "network ACLs do not filter traffic within vSwitch vsw-bp1web7ewvb6kkhvl8nfd (172.16.1.99 is in its CIDR block 172.16.1.0/24)"; !strings.Contains(ev.Verdict.Reason, want) {
				t.Errorf("%s: verdict reason %q lacks %q", tt.endpoint, ev.Verdict.Reason, want)
			}
		}
	}
}

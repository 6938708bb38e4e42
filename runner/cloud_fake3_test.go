package runner_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net/netip"
	"slices"
	"strings"
	"sync"
	"testing"

	"github.com/hashicorp/hcl/v2"

	"github.com/portcheck/portcheck/config"
	"github.com/portcheck/portcheck/internal/diagfixture"
	"github.com/portcheck/portcheck/providers/cloud"
	"github.com/portcheck/portcheck/runner"
	"github.com/portcheck/portcheck/runner/report"
)

// fake3 is a third cloud that exists only in this test: a firewall of
// allow-only rules per group, first match, an implied deny. Registering it
// is all it takes for L6 to decode, plan, read, judge and fix through it;
// the test proves that nothing in config, runner or cmd needs editing.
// Its Read returns fixed data (there is no fake3 API to call), the way a
// recorded snapshot would.
type fake3 struct{}

func init() { cloud.Register("fake3", fake3{}) }

// fake3Reads records what the runner asked to read.
var fake3Reads struct {
	sync.Mutex
	projects []string
	scopes   []cloud.Scope
}

type fake3Reader struct{ region, project string }

func (fake3) Configure(b cloud.Block) (cloud.Reader, hcl.Diagnostics) {
	args, diags := b.Strings("region", "project", "profile")
	if !diags.HasErrors() && args["region"].Value == "" {
		diags = diags.Append(cloud.Errorf(b.DeclRange, "Missing region", "A fake3 provider needs a region."))
	}
	if a := args["profile"]; a.Given {
		diags = diags.Append(cloud.Errorf(a.Range, "Unsupported argument", "fake3 takes its credentials from the moon."))
	}
	return fake3Reader{args["region"].Value, args["project"].Value}, diags
}

func (fake3) CheckRule(r cloud.DeclaredRule) []cloud.RuleProblem {
	if r.Policy == cloud.Drop {
		return []cloud.RuleProblem{{Attr: "policy", Summary: "Invalid policy", Detail: "fake3 rules only allow."}}
	}
	return nil
}

func (r fake3Reader) Region() string { return r.region }

func (r fake3Reader) Read(_ context.Context, scope cloud.Scope) (*cloud.Snapshot, error) {
	fake3Reads.Lock()
	fake3Reads.projects = append(fake3Reads.projects, r.project)
	fake3Reads.scopes = append(fake3Reads.scopes, scope)
	fake3Reads.Unlock()
	return &cloud.Snapshot{
		Provider: "fake3", Account: r.project, Region: r.region,
		Interfaces: []cloud.Interface{{ID: "nic-web", Instance: "vm-web", PrivateIPs: []netip.Addr{netip.MustParseAddr("10.8.0.10")}, Groups: []string{"fw-web"}}},
		Groups: map[string]*cloud.SecurityGroup{"fw-web": {Provider: "fake3", Region: r.region, ID: "fw-web", Attachments: []string{"nic-web"},
			Rules: []cloud.Rule{{ID: "allow-office", Group: "fw-web", Direction: cloud.Ingress, Protocol: cloud.ProtoTCP,
				Ports: cloud.PortRange{From: 443, To: 443}, Peer: cloud.Peer{CIDR: netip.MustParsePrefix("192.0.2.0/24")}, Policy: cloud.Accept}}}},
		Complete: scope.All,
	}, nil
}

func (fake3) Resolve(s *cloud.Snapshot, target string) ([]cloud.Interface, error) {
	addr, err := netip.ParseAddr(target)
	isAddr := err == nil
	if !isAddr && !strings.HasPrefix(target, "vm-") && !strings.HasPrefix(target, "nic-") {
		return nil, fmt.Errorf("fake3: target %q is neither a vm-…, a nic-… nor an address", target)
	}
	var out []cloud.Interface
	for _, ifc := range s.Interfaces {
		if ifc.Instance == target || ifc.ID == target || (isAddr && slices.Contains(ifc.PrivateIPs, addr)) {
			out = append(out, ifc)
		}
	}
	if len(out) == 0 {
		return nil, fmt.Errorf("fake3: no interface %s", target)
	}
	return out, nil
}

func (fake3) Evaluate(s *cloud.Snapshot, iface *cloud.Interface, f cloud.Flow) cloud.Verdict {
	for _, gid := range iface.Groups {
		g := s.Groups[gid]
		if g == nil {
			return cloud.Verdict{Indeterminate: "group " + gid + " was not read"}
		}
		for _, r := range g.Rules {
			if r.Direction == cloud.Ingress && r.Protocol == f.Protocol && r.Ports.From <= f.Port && f.Port <= r.Ports.To && r.Peer.CIDR.Contains(f.Src) {
				ref := cloud.RuleRef{Kind: "firewall", ID: gid, RuleID: r.ID, Text: "allow " + r.Peer.CIDR.String()}
				return cloud.Verdict{Allowed: true, Stage: cloud.StageSecurityGroup, Rule: &ref, Allowing: []cloud.RuleRef{ref}}
			}
		}
	}
	ref := cloud.RuleRef{Kind: "firewall", ID: strings.Join(iface.Groups, ","), Default: "implied deny"}
	return cloud.Verdict{Stage: cloud.StageSecurityGroup, Rule: &ref, Reason: "no fake3 rule allows it"}
}

func (fake3) Fix(s *cloud.Snapshot, iface *cloud.Interface, denials []cloud.Denial) []string {
	var out []string
	for _, d := range denials {
		var ranges []string
		for _, p := range d.Prefixes {
			ranges = append(ranges, p.String())
		}
		out = append(out, fmt.Sprintf("fake3 firewall-rules create --project %s --group %s --allow %s:%d --source-ranges %s",
			s.Account, iface.Groups[0], d.Flow.Protocol, d.Flow.Port, strings.Join(ranges, ",")))
	}
	return out
}

func (fake3) RequiredActions() []string    { return []string{"firewalls.list"} }
func (fake3) LeastPrivilegePolicy() string { return `{"allow": ["firewalls.list"]}` }

// A third cloud end to end: its HCL block decoded by its backend, the plan,
// verify reading through it, its evaluation and its fix, and the JSON v1
// report; config, runner and cmd untouched.
func TestThirdCloudBackendEndToEnd(t *testing.T) {
	fake3Reads.Lock()
	fake3Reads.projects, fake3Reads.scopes = nil, nil
	fake3Reads.Unlock()
	cfg, diags := config.Load("testdata/fake3/web.pc.hcl", config.Options{})
	diags = append(diags, runner.DecodeProviders(cfg)...)
	if len(diags) > 0 {
		t.Fatal(diags.Error())
	}
	plan, err := runner.BuildPlan(cfg, runner.PlanOptions{Env: runner.Environment{GOOS: "linux"}})
	if err != nil {
		t.Fatal(err)
	}
	var planned []string
	for _, c := range plan.Endpoints[0].Checks {
		if c.Layer == 6 {
			planned = append(planned, c.Provider+" from "+c.From+" "+c.Error)
		}
	}
	if want := []string{"fake3 from 192.0.2.0/25 ", "fake3 from 198.51.100.7/32 ", "fake3 from 192.0.2.0/23 "}; !slices.Equal(planned, want) {
		t.Fatalf("planned L6 checks %q, want %q", planned, want)
	}

	var buf bytes.Buffer
	rep := &report.JSON{W: &buf}
	rep.Start(plan)
	l6 := map[string]*runner.Result{}
	sum := runner.Verify(context.Background(), plan, runner.Options{}, func(er *runner.EndpointResult) {
		rep.Endpoint(er)
		for _, r := range er.Results {
			if r.Check.Layer == 6 {
				l6[r.Check.From] = r
			}
		}
	})
	if _, err := rep.Finish(sum); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		from, status, cause, summary, hint string
	}{
		{"192.0.2.0/25", "pass", "", "tcp/443 from 192.0.2.0 to 10.8.0.10 (nic-web) is allowed (fw-web allow-office: allow 192.0.2.0/24)", ""},
		{"198.51.100.7/32", "fail", runner.CauseCloudBlocked, "tcp/443 from 198.51.100.7 to 10.8.0.10 (nic-web) is denied at security_group by fw-web (implied deny): no fake3 rule allows it",
			"fake3 firewall-rules create --project apollo --group fw-web --allow tcp:443 --source-ranges 198.51.100.7/32"},
		// Half the range is allowed: the fix admits the other half only.
		{"192.0.2.0/23", "fail", runner.CauseCloudBlocked, "denied parts of 192.0.2.0/23: 192.0.3.0/24",
			"fake3 firewall-rules create --project apollo --group fw-web --allow tcp:443 --source-ranges 192.0.3.0/24"},
	} {
		r := l6[tc.from]
		if r == nil {
			t.Errorf("%s: no L6 result", tc.from)
			continue
		}
		if string(r.Status) != tc.status || r.Cause != tc.cause || !strings.Contains(r.Summary, tc.summary) || r.Hint != tc.hint {
			t.Errorf("%s: %s %s %q hint %q\nwant %s %s with %q, hint %q", tc.from, r.Status, r.Cause, r.Summary, r.Hint, tc.status, tc.cause, tc.summary, tc.hint)
		}
	}

	// The block was decoded through the backend (var.project) and each
	// target read once, with the declared group.
	fake3Reads.Lock()
	projects, scopes := slices.Clone(fake3Reads.projects), slices.Clone(fake3Reads.scopes)
	fake3Reads.Unlock()
	if len(scopes) != 1 || !slices.Equal(scopes[0].Targets, []string{"vm-web"}) || !slices.Equal(scopes[0].Groups, []string{"fw-web"}) || scopes[0].All || !slices.Equal(projects, []string{"apollo"}) {
		t.Errorf("reads %+v with projects %q, want one of vm-web with fw-web in apollo", scopes, projects)
	}

	// The JSON v1 report carries the third cloud's evidence as it does
	// AWS's.
	var doc struct {
		Endpoints []struct {
			Checks []struct {
				Layer    int    `json:"layer"`
				Status   string `json:"status"`
				Hint     string `json:"hint"`
				Evidence struct {
					Provider string `json:"provider"`
					Account  string `json:"account"`
					Region   string `json:"region"`
				} `json:"evidence"`
			} `json:"checks"`
		} `json:"endpoints"`
	}
	if err := json.Unmarshal(buf.Bytes(), &doc); err != nil {
		t.Fatalf("%v\n%s", err, buf.String())
	}
	var seen int
	for _, e := range doc.Endpoints {
		for _, c := range e.Checks {
			if c.Layer != 6 {
				continue
			}
			seen++
			if c.Evidence.Provider != "fake3" || c.Evidence.Account != "apollo" || c.Evidence.Region != "moon-1" {
				t.Errorf("JSON evidence %+v, want fake3 apollo moon-1", c.Evidence)
			}
		}
	}
	if seen != 3 {
		t.Errorf("%d L6 checks in the JSON report, want 3:\n%s", seen, buf.String())
	}
}

// The third backend's own checks land in the HCL like the built-in ones'.
func TestThirdCloudBackendDecodeErrors(t *testing.T) {
	diagfixture.Run(t, "testdata/fake3/errors.pc.hcl", func(t *testing.T, path string) hcl.Diagnostics {
		cfg, diags := config.Load(path, config.Options{})
		if diags.HasErrors() {
			t.Fatalf("config refused the fixture: %s", diags.Error())
		}
		return runner.DecodeProviders(cfg)
	})
}

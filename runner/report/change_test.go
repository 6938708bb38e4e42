package report_test

import (
	"bytes"
	"encoding/json"
	"encoding/xml"
	"strings"
	"testing"
	"time"

	"github.com/portcheck/portcheck/config"
	"github.com/portcheck/portcheck/internal/golden"
	"github.com/portcheck/portcheck/providers"
	"github.com/portcheck/portcheck/runner"
	"github.com/portcheck/portcheck/runner/report"
)

// changeResult is a post-phase result of the example change with recorded
// step outcomes: the reporters are tested on fixed results.
func changeResult(t *testing.T) *runner.ChangeResult {
	t.Helper()
	cfg, diags := config.Load("testdata/change", config.Options{})
	if diags.HasErrors() {
		t.Fatal(diags)
	}
	c := cfg.Changes[0]
	step := func(i int, st runner.StepStatus, summary string, checks ...runner.StepCheck) *runner.StepResult {
		return &runner.StepResult{Step: c.Steps[i], Status: st, Summary: summary, Checks: checks}
	}
	r := &runner.ChangeResult{Change: c, Phase: runner.PhasePost, Checked: time.Date(2026, 12, 3, 22, 50, 0, 0, time.UTC)}
	r.Steps = []*runner.StepResult{
		step(0, runner.StepDone, "3 check(s) hold",
			runner.StepCheck{What: "new port 9090/tcp listening (nginx)", Status: runner.StatusPass, Layer: providers.LayerListening, Summary: "nginx (pid 412) on 0.0.0.0:9090"}),
		step(1, runner.StepNotDone, "old port 8080/tcp no longer accepted from 10.20.0.0/24: accepted by firewalld zone public",
			runner.StepCheck{What: "new port 9090/tcp accepted from 10.20.0.0/24", Status: runner.StatusPass, Layer: providers.LayerFirewall, Summary: "accepted"},
			runner.StepCheck{What: "old port 8080/tcp no longer accepted from 10.20.0.0/24", Status: runner.StatusFail, Layer: providers.LayerFirewall, Summary: "accepted by firewalld zone public",
				Commands: []string{"ip netns exec web firewall-cmd --permanent --zone=public --remove-port=8080/tcp && ip netns exec web firewall-cmd --reload"}}),
		step(2, runner.StepNotDone, "new port 9090/tcp has SELinux type http_port_t: websm_port_t",
			runner.StepCheck{What: "new port 9090/tcp has SELinux type http_port_t", Status: runner.StatusFail, Layer: providers.LayerSELinux, Summary: "tcp/9090 is websm_port_t",
				Commands: []string{"semanage port -m -t http_port_t -p tcp 9090"}}),
		step(3, runner.StepError, "reading aws: no AWS credentials found",
			runner.StepCheck{What: "new port 9090/tcp allowed by the cloud from 10.20.0.0/24", Status: runner.StatusError, Layer: providers.LayerCloud, Summary: "reading aws: no AWS credentials found"}),
		step(4, runner.StepDone, "2 check(s) hold"),
		step(5, runner.StepDone, "2 check(s) hold"),
		step(6, runner.StepDone, "2 check(s) hold"),
		{Step: c.Steps[7], Status: runner.StepAttested, Summary: "attested by alice@example.com at 2026-12-03T22:47:00Z, ticket CHG-2041", Attestation: c.Attestations[config.StepDocument]},
		step(8, runner.StepDone, "1 check(s) hold",
			runner.StepCheck{What: "firewall backup of host web in /var/backups/portcheck taken before 2026-12-03T22:00:00Z, restore dry run valid", Status: runner.StatusPass,
				Summary: "backup /var/backups/portcheck/20261203T214500Z taken 2026-12-03T21:45:00Z; restore plan of 3 steps passes its dry run", Commands: []string{"portcheck restore -netns /run/netns/web --yes /var/backups/portcheck/20261203T214500Z"}}),
	}
	r.Steps[1].Rollback = []string{"portcheck restore -netns /run/netns/web --yes /var/backups/portcheck/20261203T214500Z"}
	return r
}

// TestChangeReportGoldens: the verify text, the runbook, JSON, JUnit and
// the Markdown record of one recorded result.
func TestChangeReportGoldens(t *testing.T) {
	rs := []*runner.ChangeResult{changeResult(t)}
	var txt, runbook, js, junit, md bytes.Buffer
	report.WriteChangeText(&txt, rs, report.Style{}, false)
	report.WriteChangeText(&runbook, rs, report.Style{}, true)
	code, err := report.WriteChangeJSON(&js, rs, runner.PhasePost)
	if err != nil || code != 1 {
		t.Fatalf("WriteChangeJSON: %d, %v; want 1", code, err)
	}
	if err := report.WriteChangeJUnit(&junit, rs); err != nil {
		t.Fatal(err)
	}
	report.WriteChangeMarkdown(&md, rs)
	golden.Compare(t, "testdata/change_post.1.txt", txt.Bytes())
	golden.Compare(t, "testdata/change_post.runbook.txt", runbook.Bytes())
	golden.Compare(t, "testdata/change_post.1.json", js.Bytes())
	golden.Compare(t, "testdata/change_post.1.xml", junit.Bytes())
	golden.Compare(t, "testdata/change_post.1.md", md.Bytes())

	// JUnit: one test case per step, each status where CI looks for it.
	var doc struct {
		Suites []struct {
			Cases []struct {
				Name    string    `xml:"name,attr"`
				Failure *struct{} `xml:"failure"`
				Error   *struct{} `xml:"error"`
				Skipped *struct{} `xml:"skipped"`
			} `xml:"testcase"`
		} `xml:"testsuite"`
	}
	if err := xml.Unmarshal(junit.Bytes(), &doc); err != nil {
		t.Fatal(err)
	}
	if len(doc.Suites) != 1 || len(doc.Suites[0].Cases) != 9 {
		t.Fatalf("JUnit: %d suites, want 1 with 9 cases", len(doc.Suites))
	}
	cs := doc.Suites[0].Cases
	if cs[1].Failure == nil || cs[2].Failure == nil || cs[3].Error == nil || cs[0].Failure != nil || cs[7].Failure != nil {
		t.Errorf("JUnit cases: %+v", cs)
	}
}

// TestChangeJSONExtendsV1: the change report is a version 1 document:
// every v1 field present with its v1 meaning, only "phase" and "changes"
// added.
func TestChangeJSONExtendsV1(t *testing.T) {
	var buf bytes.Buffer
	if _, err := report.WriteChangeJSON(&buf, []*runner.ChangeResult{changeResult(t)}, runner.PhasePost); err != nil {
		t.Fatal(err)
	}
	var doc map[string]json.RawMessage
	if err := json.Unmarshal(buf.Bytes(), &doc); err != nil {
		t.Fatal(err)
	}
	for _, k := range []string{"version", "endpoints", "summary", "exit_code", "phase", "changes"} {
		if _, ok := doc[k]; !ok {
			t.Errorf("no %q in the document", k)
		}
	}
	for k := range doc {
		if !strings.Contains(" version endpoints summary exit_code interrupted phase changes ", " "+k+" ") {
			t.Errorf("unexpected top-level field %q", k)
		}
	}
	if string(doc["version"]) != "1" || string(doc["exit_code"]) != "1" || string(doc["endpoints"]) != "[]" {
		t.Errorf("version %s, exit_code %s, endpoints %s", doc["version"], doc["exit_code"], doc["endpoints"])
	}
	var sum map[string]int
	if err := json.Unmarshal(doc["summary"], &sum); err != nil {
		t.Fatal(err)
	}
	// v1's summary fields, counting the steps' checks.
	if sum["checks"] != 6 || sum["passed"] != 3 || sum["failed"] != 2 || sum["errors"] != 1 {
		t.Errorf("summary %v", sum)
	}
	// A verify run without -phase has neither added field.
	var plain bytes.Buffer
	j := &report.JSON{W: &plain}
	j.Start(&runner.Plan{})
	if _, err := j.Finish(runner.Summary{}); err != nil {
		t.Fatal(err)
	}
	if strings.Contains(plain.String(), `"phase"`) || strings.Contains(plain.String(), `"changes"`) {
		t.Errorf("an endpoint report gained change fields:\n%s", plain.String())
	}
}

package report

import (
	"encoding/xml"
	"fmt"
	"io"
	"strings"

	"github.com/portcheck/portcheck/config"
	"github.com/portcheck/portcheck/runner"
)

// JUnit writes one testsuite per endpoint and one testcase per check, the
// shape CI systems (GitLab, Jenkins, GitHub test reporters) read.
type JUnit struct {
	W      io.Writer
	order  *inPlanOrder
	suites []junitSuite
}

type junitSuites struct {
	XMLName  xml.Name     `xml:"testsuites"`
	Name     string       `xml:"name,attr"`
	Tests    int          `xml:"tests,attr"`
	Failures int          `xml:"failures,attr"`
	Errors   int          `xml:"errors,attr"`
	Skipped  int          `xml:"skipped,attr"`
	Time     string       `xml:"time,attr"`
	Suites   []junitSuite `xml:"testsuite"`
}

type junitSuite struct {
	Name       string      `xml:"name,attr"`
	Tests      int         `xml:"tests,attr"`
	Failures   int         `xml:"failures,attr"`
	Errors     int         `xml:"errors,attr"`
	Skipped    int         `xml:"skipped,attr"`
	Time       string      `xml:"time,attr"`
	Properties *junitProps `xml:"properties,omitempty"`
	Cases      []junitCase `xml:"testcase"`
	SystemErr  string      `xml:"system-err,omitempty"`
	seconds    float64
}

type junitProps struct {
	Property []junitProp `xml:"property"`
}

type junitProp struct {
	Name  string `xml:"name,attr"`
	Value string `xml:"value,attr"`
}

type junitCase struct {
	Name      string        `xml:"name,attr"`
	Classname string        `xml:"classname,attr"`
	Time      string        `xml:"time,attr"`
	Failure   *junitMessage `xml:"failure,omitempty"`
	Error     *junitMessage `xml:"error,omitempty"`
	Skipped   *junitMessage `xml:"skipped,omitempty"`
	SystemOut string        `xml:"system-out,omitempty"`
}

type junitMessage struct {
	Message string `xml:"message,attr"`
	Type    string `xml:"type,attr,omitempty"`
	Text    string `xml:",chardata"`
}

func (j *JUnit) Start(p *runner.Plan) { j.order = newInPlanOrder(p) }

func (j *JUnit) Endpoint(er *runner.EndpointResult) {
	for _, r := range j.order.add(er) {
		j.suites = append(j.suites, junitEndpoint(r))
	}
}

// caseName is "L4 connectivity from client to 10.0.0.5:8080".
func caseName(c *runner.Check) string {
	name := fmt.Sprintf("L%d %s", int(c.Layer), c.Name)
	if c.From != "" {
		name += fmt.Sprintf(" from %s to %s", c.From, hostPort(c.Target))
	} else if c.Target.Port != 0 {
		name += fmt.Sprintf(" %s/%d", c.Target.Protocol, c.Target.Port)
	}
	return name
}

// junitInterrupted is the suite of an endpoint the run never finished:
// every planned check is an error, so a CI that reads only JUnit cannot
// take an interrupted run for a green one.
func junitInterrupted(e *runner.EndpointPlan) junitSuite {
	const why = "not checked: the run was interrupted before this endpoint finished"
	s := junitSuite{Name: e.Title(), Time: seconds(0), SystemErr: why,
		Properties: &junitProps{Property: []junitProp{{Name: "interrupted", Value: "true"}}}}
	for _, c := range e.Checks {
		tc := junitCase{Name: caseName(c), Classname: "portcheck." + e.Name(), Time: seconds(0)}
		if c.Skip != "" {
			tc.Skipped = &junitMessage{Message: c.Skip} // would not have run anyway
			s.Skipped++
		} else {
			tc.Error = &junitMessage{Message: why, Type: "interrupted"}
			s.Errors++
		}
		s.Tests++
		s.Cases = append(s.Cases, tc)
	}
	return s
}

func junitEndpoint(er *runner.EndpointResult) junitSuite {
	s := junitSuite{Name: er.Plan.Title()}
	for _, r := range er.Results {
		c := r.Check
		tc := junitCase{Name: caseName(c), Classname: "portcheck." + er.Plan.Name(), Time: seconds(r.Duration.Seconds())}
		detail := strings.TrimSpace(fmt.Sprintf("%s\ndeclared at %s\nfix: %s", r.Summary, config.SourceOf(c.Source), r.Hint))
		switch r.Status {
		case runner.StatusFail, runner.StatusDrift:
			tc.Failure = &junitMessage{Message: r.Summary, Type: r.Cause, Text: detail}
			s.Failures++
		case runner.StatusError:
			tc.Error = &junitMessage{Message: r.Summary, Text: detail}
			s.Errors++
		case runner.StatusSkip:
			tc.Skipped = &junitMessage{Message: r.Summary}
			s.Skipped++
		default:
			tc.SystemOut = r.Summary
		}
		s.Tests++
		s.seconds += r.Duration.Seconds()
		s.Cases = append(s.Cases, tc)
	}
	s.Time = seconds(s.seconds)
	return s
}

func seconds(f float64) string { return fmt.Sprintf("%.3f", f) }

func (j *JUnit) Finish(sum runner.Summary) (int, error) {
	for _, r := range j.order.rest() {
		j.suites = append(j.suites, junitEndpoint(r))
	}
	if sum.Interrupted {
		for _, e := range j.order.unfinished() {
			j.suites = append(j.suites, junitInterrupted(e))
		}
	}
	doc := junitSuites{Name: "portcheck verify", Suites: j.suites}
	if sum.Interrupted {
		doc.Name = "portcheck verify (interrupted)"
	}
	var total float64
	for _, s := range j.suites {
		doc.Tests += s.Tests
		doc.Failures += s.Failures
		doc.Errors += s.Errors
		doc.Skipped += s.Skipped
		total += s.seconds
	}
	doc.Time = seconds(total)
	if _, err := io.WriteString(j.W, xml.Header); err != nil {
		return sum.ExitCode(), err
	}
	enc := xml.NewEncoder(j.W)
	enc.Indent("", "  ")
	if err := enc.Encode(doc); err != nil {
		return sum.ExitCode(), err
	}
	_, err := io.WriteString(j.W, "\n")
	return sum.ExitCode(), err
}

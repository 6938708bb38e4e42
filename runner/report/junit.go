package report

import (
	"bytes"
	"encoding/xml"
	"fmt"
	"io"
	"strings"

	"github.com/portcheck/portcheck/config"
	"github.com/portcheck/portcheck/runner"
)

// JUnit writes one testsuite per endpoint and one testcase per check, the
// shape CI systems (GitLab, Jenkins, GitHub test reporters) read.
//
// The document's head counts every test, so nothing can be written before
// the run ends; each suite is kept encoded (its share of the output), not
// as results with their evidence.
type JUnit struct {
	W      io.Writer
	order  *inPlanOrder[encodedSuite]
	suites []encodedSuite
}

// encodedSuite is a testsuite element, indented as it is inside the
// document, with the counts the head sums.
type encodedSuite struct {
	xml                              []byte
	tests, failures, errors, skipped int
	seconds                          float64
}

func encodeSuite(s junitSuite) encodedSuite {
	var buf bytes.Buffer
	enc := xml.NewEncoder(&buf)
	enc.Indent("  ", "  ")
	err := enc.EncodeElement(s, xml.StartElement{Name: xml.Name{Local: "testsuite"}})
	if err == nil {
		err = enc.Close()
	}
	if err != nil {
		// Only text from our own results goes in; an error here is a bug,
		// kept visible in the report instead of a suite silently missing.
		buf.Reset()
		enc = xml.NewEncoder(&buf)
		enc.Indent("  ", "  ")
		_ = enc.EncodeElement(junitSuite{Name: s.Name, Tests: 1, Errors: 1, SystemErr: "encoding the suite: " + err.Error()}, xml.StartElement{Name: xml.Name{Local: "testsuite"}})
		s.Tests, s.Errors = s.Tests+1, s.Errors+1
	}
	return encodedSuite{xml: buf.Bytes(), tests: s.Tests, failures: s.Failures, errors: s.Errors, skipped: s.Skipped, seconds: s.seconds}
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

func (j *JUnit) Start(p *runner.Plan) { j.order = newInPlanOrder[encodedSuite](p) }

func (j *JUnit) Endpoint(er *runner.EndpointResult) {
	j.suites = append(j.suites, j.order.add(er, encodeSuite(junitEndpoint(er)))...)
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
	j.suites = append(j.suites, j.order.rest()...)
	if sum.Interrupted {
		for _, e := range j.order.unfinished() {
			j.suites = append(j.suites, encodeSuite(junitInterrupted(e)))
		}
	}
	doc := junitSuites{Name: "portcheck verify"}
	if sum.Interrupted {
		doc.Name = "portcheck verify (interrupted)"
	}
	var total float64
	for _, s := range j.suites {
		doc.Tests += s.tests
		doc.Failures += s.failures
		doc.Errors += s.errors
		doc.Skipped += s.skipped
		total += s.seconds
	}
	doc.Time = seconds(total)
	// The head is the document without its suites: "<testsuites …>" and,
	// when there are none, its end tag on the same line.
	var head bytes.Buffer
	enc := xml.NewEncoder(&head)
	enc.Indent("", "  ")
	if err := enc.Encode(doc); err != nil {
		return sum.ExitCode(), err
	}
	start, end, _ := bytes.Cut(head.Bytes(), []byte("</testsuites>"))
	w := &errWriter{w: j.W}
	w.Write([]byte(xml.Header))
	w.Write(start)
	for _, s := range j.suites {
		w.Write([]byte("\n"))
		w.Write(s.xml)
	}
	if len(j.suites) > 0 {
		w.Write([]byte("\n"))
	}
	w.Write([]byte("</testsuites>"))
	w.Write(end)
	w.Write([]byte("\n"))
	return sum.ExitCode(), w.err
}

// errWriter keeps the first write error and skips the writes after it.
type errWriter struct {
	w   io.Writer
	err error
}

// Write writes b unless an earlier write failed; the first error is kept
// (and returned again), so callers can write on and look once at the end.
func (e *errWriter) Write(b []byte) (int, error) {
	if e.err != nil {
		return 0, e.err
	}
	n, err := e.w.Write(b)
	e.err = err
	return n, err
}

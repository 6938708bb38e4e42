package runner

import (
	"time"

	"github.com/portcheck/portcheck/providers"
)

// Status of one check; only the runner sets it.
type Status string

const (
	StatusPass  Status = "pass"
	StatusFail  Status = "fail"
	StatusDrift Status = "drift"
	StatusSkip  Status = "skip"
	StatusError Status = "error"
)

// Cause codes: a fixed vocabulary that scripts rely on. Add one only when a
// new layer needs it.
const (
	CauseOK               = "ok"
	CauseNotListening     = "not_listening"
	CauseLoopbackOnly     = "loopback_only"
	CauseWrongProcess     = "wrong_process"
	CauseFirewallBlocked  = "firewall_blocked"
	CauseSELinuxDenied    = "selinux_denied"
	CauseFiltered         = "filtered"
	CauseRefused          = "refused"
	CauseUnreachable      = "unreachable"
	CausePathBroken       = "path_broken"
	CauseCloudBlocked     = "cloud_blocked"
	CauseAppMismatch      = "app_mismatch"
	CauseTLSError         = "tls_error"
	CauseUnexpectedlyOpen = "unexpectedly_open"
	// CauseDrift is the diagnosis of an endpoint that works but differs
	// from its declaration (its worst result is a drift): a firewalld port
	// open only at runtime, SELinux's mode about to change at reboot,
	// security-group rules that differ. Not a failure cause, so the layer's
	// own cause (firewall_blocked, …) would mislead.
	CauseDrift = "drift"
)

// Result is the outcome of one check.
type Result struct {
	Check    *Check
	Status   Status
	Cause    string // for fail and drift
	Summary  string // one line: what was observed
	Evidence any    // the facts it was judged on
	Expected any    // what was declared (or the default applied)
	Hint     string // how to fix, in the host's own tools
	Duration time.Duration
	// FactsOrigin names the facts document a server-side check was judged
	// from ("web1.json (collected …)"); "" when observed live.
	FactsOrigin string
}

// Diagnosis names the lowest broken layer of an endpoint.
type Diagnosis struct {
	Layer   providers.Layer
	Cause   string
	Summary string
	Hint    string
	// Incomplete is set when nothing failed but some check could not run,
	// so "ok" covers only what was checked.
	Incomplete bool
}

// EndpointResult is every check of one endpoint, in plan order.
type EndpointResult struct {
	Plan      *EndpointPlan
	Results   []*Result
	Diagnosis Diagnosis
	Duration  time.Duration
}

// Summary counts results over a run.
type Summary struct {
	Endpoints, Passed, Drifted, Failed, Skipped, Errors int
	// Interrupted is set when the run was cancelled; Finished counts the
	// endpoints that completed before that.
	Interrupted bool
	Finished    int
	Planned     int
	// Unchecked counts endpoints on which every check was skipped: nothing
	// was verified there, so a gate must not pass on them.
	Unchecked int
	// Checks counts every check result; Passed…Errors above split it.
	Checks int
	// Endpoints by diagnosis: ok (everything checked holds), drifted
	// (works, differs from the declaration), failed (a failure cause),
	// incomplete (nothing failed, but some check could not run).
	EndpointsOK, EndpointsDrifted, EndpointsFailed, EndpointsIncomplete int
}

// Add counts one endpoint's results.
func (s *Summary) Add(er *EndpointResult) {
	s.Finished++
	if allSkipped(er.Results) {
		s.Unchecked++
	}
	switch d := er.Diagnosis; {
	case d.Cause == CauseOK && d.Incomplete:
		s.EndpointsIncomplete++
	case d.Cause == CauseOK:
		s.EndpointsOK++
	case d.Cause == CauseDrift:
		s.EndpointsDrifted++
	default:
		s.EndpointsFailed++
	}
	s.Checks += len(er.Results)
	for _, r := range er.Results {
		switch r.Status {
		case StatusPass:
			s.Passed++
		case StatusDrift:
			s.Drifted++
		case StatusFail:
			s.Failed++
		case StatusSkip:
			s.Skipped++
		case StatusError:
			s.Errors++
		}
	}
}

// ExitCode is the contract: 0 everything as declared; 1 a check failed,
// drifted, could not run, an endpoint could not be checked at all, or the
// run was interrupted.
func (s Summary) ExitCode() int {
	if s.Failed+s.Drifted+s.Errors+s.Unchecked > 0 || s.Interrupted {
		return 1
	}
	return 0
}

package runner_test

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/portcheck/portcheck/config"
	"github.com/portcheck/portcheck/runner"
)

// attestConfig is a change whose only judged step is the attested
// document step, with the given attestation blocks.
func attestConfig(t *testing.T, attestations string) *config.Config {
	t.Helper()
	src := `
host "web" {
  address = "192.0.2.5"
  local   = false
}

endpoint "web" {
  host = host.web
  port = 9090
}

change "move" {
  endpoint     = endpoint.web
  from_port    = 8080
  to_port      = 9090
  window_start = "2026-12-03T22:00:00Z"
  ticket       = "CHG-1"

  app_config {
    skip = "unit test"
  }
  firewall {
    skip = "unit test"
  }
  selinux {
    skip = "unit test"
  }
  cloud {
    skip = "unit test"
  }
  load_balancer {
    attest = "the F5 belongs to the network team"
  }
  dns {
    skip = "unit test"
  }
  monitoring {
    skip = "unit test"
  }
  document {}
  rollback {
    skip = "unit test"
  }
}
` + attestations
	cfg, diags := config.LoadSources(map[string][]byte{"change.pc.hcl": []byte(src)}, config.Options{})
	if diags.HasErrors() {
		t.Fatalf("%v", diags)
	}
	return cfg
}

func attestation(step, by, at string) string {
	return fmt.Sprintf("attestation \"move\" %q {\n  by = %q\n  at = %q\n}\n", step, by, at)
}

// TestAttestationsCount: an attestation counts only from the window start
// on and not from the future; without one an attested step is not done;
// before the window (pre) attested steps are not in the phase.
func TestAttestationsCount(t *testing.T) {
	now := time.Date(2026, 12, 3, 23, 0, 0, 0, time.UTC)
	tests := []struct {
		name         string
		attestations string
		phase        runner.Phase
		document, lb runner.StepStatus
		rejected     string
		complete     bool
	}{
		{"none", "", runner.PhasePost, runner.StepNotDone, runner.StepNotDone, "", false},
		{"both in the window", attestation("document", "alice", "2026-12-03T22:30:00Z") + attestation("load_balancer", "bob", "2026-12-03T22:00:00Z"),
			runner.PhasePost, runner.StepAttested, runner.StepAttested, "", true},
		{"one before the window start", attestation("document", "alice", "2026-12-03T21:59:59Z") + attestation("load_balancer", "bob", "2026-12-03T22:10:00Z"),
			runner.PhasePost, runner.StepNotDone, runner.StepAttested, "older than the window start 2026-12-03T22:00:00Z and does not count", false},
		{"one from the future", attestation("document", "alice", "2026-12-04T09:00:00Z") + attestation("load_balancer", "bob", "2026-12-03T22:10:00Z"),
			runner.PhasePost, runner.StepNotDone, runner.StepAttested, "is in the future and does not count", false},
		{"another zone, same instant as the window start", attestation("document", "alice", "2026-12-03T23:00:00+01:00") + attestation("load_balancer", "bob", "2026-12-03T22:10:00Z"),
			runner.PhasePost, runner.StepAttested, runner.StepAttested, "", true},
		{"pre phase", "", runner.PhasePre, runner.StepNotInPhase, runner.StepNotInPhase, "", true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cfg := attestConfig(t, tt.attestations)
			rs := runner.VerifyChanges(context.Background(), cfg.Changes, tt.phase, runner.ChangeOptions{Env: runner.Environment{GOOS: "linux"}, Now: func() time.Time { return now }})
			r := rs[0]
			doc, lb := r.Steps[7], r.Steps[4]
			if doc.Status != tt.document || lb.Status != tt.lb {
				t.Errorf("document %s (%s), load_balancer %s (%s); want %s, %s", doc.Status, doc.Summary, lb.Status, lb.Summary, tt.document, tt.lb)
			}
			if tt.rejected != "" && !strings.Contains(doc.Rejected, tt.rejected) {
				t.Errorf("rejected %q, want it to say %q", doc.Rejected, tt.rejected)
			}
			if tt.rejected == "" && doc.Rejected != "" {
				t.Errorf("rejected %q, want none", doc.Rejected)
			}
			if r.Complete() != tt.complete {
				t.Errorf("complete %v, want %v (first open %v)", r.Complete(), tt.complete, r.FirstOpen())
			}
			if doc.Status == runner.StepAttested && (doc.Attestation == nil || doc.Attestation.By != "alice" || doc.Attestation.Ticket != "CHG-1") {
				t.Errorf("attestation %+v: want alice with the change's ticket", doc.Attestation)
			}
		})
	}
}

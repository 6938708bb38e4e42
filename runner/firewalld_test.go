package runner_test

import (
	"strings"
	"testing"

	"github.com/portcheck/portcheck/internal/lab"
	"github.com/portcheck/portcheck/runner"
)

// The seed's case 1 with a real firewalld in the server namespace: a port
// opened without --permanent works now (drift: it closes at the next
// reload), is blocked after the reload, is blocked while only the
// permanent configuration opens it, and passes once both agree.
func TestFirewalldCase1(t *testing.T) {
	lab.Require(t, "ip", "nft", "firewalld", "dbus-daemon")
	l := lab.New(t)
	client, server := l.Pair()
	server.ListenTCP("tcp4", "0.0.0.0:8080")
	fw := server.StartFirewalld(t)
	src := pairHosts(client, server) + `
endpoint "app" {
  host    = host.server
  from    = [host.client]
  port    = 8080
  timeout = "300ms"
  retries = 0
  expect {
    firewall {
      allow_from = [host.client.address]
      backend    = "firewalld"
    }
  }
}
`

	steps := []struct {
		name       string
		cmd        [][]string
		status     runner.Status
		summary    string // in the L2 vantage result's summary
		hint       string // in its hint
		wantL4Pass bool
	}{
		{
			name:   "runtime only",
			cmd:    [][]string{{"--add-port=8080/tcp"}},
			status: runner.StatusDrift, summary: "not in the permanent configuration",
			hint:       "firewall-cmd --permanent --zone=public --add-port=8080/tcp",
			wantL4Pass: true,
		},
		{
			name:   "after reload",
			cmd:    [][]string{{"--reload"}},
			status: runner.StatusFail, summary: "rejected (icmpx admin-prohibited) by inet firewalld",
			hint: "firewall-cmd --permanent --zone=public",
		},
		{
			name:   "permanent only",
			cmd:    [][]string{{"--permanent", "--add-port=8080/tcp"}},
			status: runner.StatusFail, summary: "rejected",
			hint: "firewall-cmd --reload applies it",
		},
		{
			name:       "both",
			cmd:        [][]string{{"--reload"}},
			status:     runner.StatusPass,
			summary:    "accepted by inet firewalld",
			wantL4Pass: true,
		},
	}
	for _, st := range steps {
		for _, c := range st.cmd {
			fw.Cmd(t, c...)
		}
		er := verifyOne(t, src, true)
		var l2 *runner.Result
		for _, r := range er.Results {
			if r.Check.Name == "firewall" && r.Check.From == "client" {
				l2 = r
			}
		}
		if l2 == nil {
			t.Fatalf("%s: no L2 result\n%s", st.name, dump(er))
		}
		if l2.Status != st.status || !strings.Contains(l2.Summary, st.summary) || !strings.Contains(l2.Hint, st.hint) {
			t.Errorf("%s: L2 = %s %q hint %q; want %s with %q and hint %q\n%s", st.name, l2.Status, l2.Summary, l2.Hint, st.status, st.summary, st.hint, dump(er))
		}
		// Issue 9.4: a port that works but is open only at runtime is a
		// drift, and the diagnosis says so and when it bites, not a block.
		if st.status == runner.StatusDrift {
			d := er.Diagnosis
			if d.Cause != runner.CauseDrift || d.Layer != 2 || !strings.Contains(d.Summary, "next reload or reboot") {
				t.Errorf("%s: diagnosis L%d %s %q, want L2 drift saying when it bites", st.name, d.Layer, d.Cause, d.Summary)
			}
		}
		if got := statusOf(er, "L4 connectivity") == runner.StatusPass; got != st.wantL4Pass {
			t.Errorf("%s: L4 passed = %v, want %v (the kernel must agree with L2)\n%s", st.name, got, st.wantL4Pass, dump(er))
		}
	}
}

package main

import (
	"encoding/json"
	"fmt"
	"net"
	"strings"
	"testing"

	"github.com/portcheck/portcheck/internal/lab"
)

// jsonReport is the part of the JSON v1 report these tests read.
type jsonReport struct {
	Endpoints []struct {
		Name      string `json:"name"`
		Diagnosis struct {
			Layer      int    `json:"layer"`
			Cause      string `json:"cause"`
			Summary    string `json:"summary"`
			Incomplete bool   `json:"incomplete"`
		} `json:"diagnosis"`
		Checks []struct {
			Layer    int    `json:"layer"`
			Check    string `json:"check"`
			Status   string `json:"status"`
			Summary  string `json:"summary"`
			Executor string `json:"executor"`
		} `json:"checks"`
	} `json:"endpoints"`
	ExitCode int `json:"exit_code"`
}

func decodeReport(t *testing.T, out string) jsonReport {
	t.Helper()
	var r jsonReport
	if err := json.Unmarshal([]byte(out), &r); err != nil {
		t.Fatalf("JSON report: %v\n%s", err, out)
	}
	return r
}

// TestDeclaredNamespaceMissingIsError pins issue 9.6: a declared netns
// that does not exist (a typo) must make its checks errors and the run exit
// 1, never skips and an "ok" with exit 0; the same for diagnose -on/-from.
func TestDeclaredNamespaceMissingIsError(t *testing.T) {
	dir := writeHCL(t, `
host "web" {
  address = "192.0.2.10"
  netns   = "pc-typo-no-such-ns"
}
host "client" {
  address = "192.0.2.20"
  netns   = "pc-typo-no-such-client"
}
endpoint "web" {
  host = host.web
  port = 8080
  from = [host.client]
}
`)
	code, out, errOut := runCmd(t, "verify", "-json", dir)
	if code != 1 {
		t.Fatalf("verify exit %d, want 1\n%s\n%s", code, out, errOut)
	}
	r := decodeReport(t, out)
	ep := r.Endpoints[0]
	if ep.Diagnosis.Cause != "ok" || !ep.Diagnosis.Incomplete {
		t.Errorf("diagnosis %+v: want ok marked incomplete (nothing failed, nothing ran)", ep.Diagnosis)
	}
	for _, c := range ep.Checks {
		if c.Status != "error" || !strings.Contains(c.Summary, "pc-typo-no-such") {
			t.Errorf("L%d %s: %s %q, want an error naming the namespace", c.Layer, c.Check, c.Status, c.Summary)
		}
	}
	code, out, _ = runCmd(t, "plan", dir)
	if code != 0 || !strings.Contains(out, "! L1 listening") || !strings.Contains(out, "cannot run") {
		t.Errorf("plan exit %d, want the checks marked as cannot run:\n%s", code, out)
	}

	for _, args := range [][]string{
		{"diagnose", "-json", "-on", "ns:pc-typo-no-such-ns", "192.0.2.10:8080"},
		{"diagnose", "-json", "-from", "ns:pc-typo-no-such-ns", "192.0.2.10:8080"},
	} {
		code, out, errOut := runCmd(t, args...)
		if code != 1 {
			t.Fatalf("%v: exit %d, want 1\n%s\n%s", args, code, out, errOut)
		}
		r := decodeReport(t, out)
		errs := 0
		for _, c := range r.Endpoints[0].Checks {
			if c.Status == "pass" {
				t.Errorf("%v: L%d %s passed: %s", args, c.Layer, c.Check, c.Summary)
			}
			if c.Status == "error" {
				errs++
			}
		}
		if errs == 0 {
			t.Errorf("%v: no check is an error:\n%s", args, out)
		}
	}
}

// TestDiagnoseLoopbackFromNamespace pins issue 9.2: 127.0.0.1 probed from
// a namespace is that namespace's loopback, so L1 must read the sockets
// there, not this machine's; and -on/-from that point at two different
// loopbacks are refused.
func TestDiagnoseLoopbackFromNamespace(t *testing.T) {
	l := lab.New(t)
	h := l.Host("lo")
	h.Exec("ip", "link", "set", "lo", "up")
	ln := h.ListenTCP("tcp4", "127.0.0.1:0")
	port := ln.Addr().(*net.TCPAddr).Port
	target := fmt.Sprintf("127.0.0.1:%d", port)

	for _, args := range [][]string{
		{"diagnose", "-json", "-from", "ns:" + h.NS, target},
		{"diagnose", "-json", "-on", "ns:" + h.NS, target},
		{"diagnose", "-json", "-on", "ns:" + h.NS, "-from", "ns:" + h.NS, target},
	} {
		code, out, errOut := runCmd(t, args...)
		if code != 0 {
			t.Fatalf("%v: exit %d, want 0 (the namespace's loopback serves it)\n%s\n%s", args, code, out, errOut)
		}
		for _, c := range decodeReport(t, out).Endpoints[0].Checks {
			if (c.Layer == 1 || c.Layer == 4) && c.Executor != "netns:"+h.NS {
				t.Errorf("%v: L%d ran on %s, want netns:%s", args, c.Layer, c.Executor, h.NS)
			}
		}
	}

	other := l.Host("other")
	code, _, errOut := runCmd(t, "diagnose", "-on", "ns:"+h.NS, "-from", "ns:"+other.NS, target)
	if code != 2 || !strings.Contains(errOut, "own loopback") {
		t.Errorf("-on and -from in different namespaces: exit %d, want 2 naming the loopback\n%s", code, errOut)
	}
	code, _, errOut = runCmd(t, "diagnose", "-from", "ns:"+h.NS, "-from", "ns:"+other.NS, target)
	if code != 2 || !strings.Contains(errOut, "one vantage point at a time") {
		t.Errorf("two -from namespaces: exit %d, want 2\n%s", code, errOut)
	}
}

// TestLoopbackFromOtherNamespaceInHCL pins the same rule for HCL: a vantage
// host in another namespace than the server cannot reach the server's
// 127.0.0.1, so its checks are errors naming why.
func TestLoopbackFromOtherNamespaceInHCL(t *testing.T) {
	l := lab.New(t)
	srv, cli := l.Host("srv"), l.Host("cli")
	dir := writeHCL(t, fmt.Sprintf(`
host "srv" {
  address = "127.0.0.1"
  netns   = %q
}
host "cli" {
  address = "10.255.0.9"
  netns   = %q
}
endpoint "web" {
  host = host.srv
  port = 8080
  from = [host.cli]
}
`, srv.NS, cli.NS))
	code, out, _ := runCmd(t, "verify", "-json", dir)
	if code != 1 {
		t.Fatalf("exit %d, want 1\n%s", code, out)
	}
	found := false
	for _, c := range decodeReport(t, out).Endpoints[0].Checks {
		if c.Layer == 4 {
			found = true
			if c.Status != "error" || !strings.Contains(c.Summary, "own loopback") {
				t.Errorf("L4: %s %q, want an error about the loopback", c.Status, c.Summary)
			}
		}
	}
	if !found {
		t.Error("no L4 check planned")
	}
}

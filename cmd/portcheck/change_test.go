package main

import (
	"fmt"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// TestChangeCommands: plan -phase, verify -phase (text, JSON, JUnit) and
// change report on a change of this machine's loopback service from a
// closed port to an open one; the firewall and the other steps are
// skipped (the host's own filter is not the test's) and judged in the
// runner's lab test.
func TestChangeCommands(t *testing.T) {
	ln, err := net.Listen("tcp4", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	newPort := ln.Addr().(*net.TCPAddr).Port
	closedLn, _ := net.Listen("tcp4", "127.0.0.1:0")
	oldPort := closedLn.Addr().(*net.TCPAddr).Port
	closedLn.Close()
	window := time.Now().UTC().Add(-time.Hour).Truncate(time.Second)

	dir := writeHCL(t, fmt.Sprintf(`
host "lo" {
  address = "127.0.0.1"
  local   = true
}

endpoint "svc" {
  host = host.lo
  port = %[1]d
}

change "svc_move" {
  endpoint     = endpoint.svc
  from_port    = %[2]d
  to_port      = %[1]d
  window_start = %[3]q
  ticket       = "CHG-7"

  app_config {}
  firewall {
    skip = "the host's own filter is not the test's"
  }
  selinux {
    skip = "no SELinux"
  }
  cloud {
    skip = "not in a cloud"
  }
  load_balancer {
    skip = "no balancer"
  }
  dns {
    skip = "clients use the address"
  }
  monitoring {
    skip = "not monitored"
  }
  document {}
  rollback {
    skip = "a test"
  }
}
`, newPort, oldPort, window.Format(time.RFC3339)))
	att := filepath.Join(dir, "attest.pc.hcl")
	writeAtt := func(at time.Time) {
		src := fmt.Sprintf("attestation \"svc_move\" \"document\" {\n  by = \"alice\"\n  at = %q\n}\n", at.Format(time.RFC3339))
		if err := os.WriteFile(att, []byte(src), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	noChanges := writeHCL(t, "host \"lo\" {\n  address = \"127.0.0.1\"\n}\n")
	junit := filepath.Join(t.TempDir(), "junit.xml")
	record := filepath.Join(t.TempDir(), "CHG-7.md")

	tests := []struct {
		name   string
		before func()
		args   []string
		code   int
		stdout string
		stderr string
	}{
		{"post, document not attested", nil, []string{"verify", "-phase", "post", dir}, 1, "First open step: document", ""},
		{"attested before the window", func() { writeAtt(window.Add(-time.Minute)) }, []string{"verify", "-phase", "post", dir}, 1, "older than the window start", ""},
		{"post complete", func() { writeAtt(window.Add(time.Minute)) }, []string{"verify", "-phase", "post", dir}, 0, "Changes: 1 complete, 0 open.", ""},
		{"post json", nil, []string{"verify", "-phase", "post", "-json", dir}, 0, `"phase": "post"`, ""},
		{"post junit", nil, []string{"verify", "-phase", "post", "-junit", junit, dir}, 0, "1 complete", ""},
		{"pre: the old port does not serve", nil, []string{"verify", "-phase", "pre", dir}, 1, "First open step: app_config", ""},
		{"runbook", nil, []string{"plan", "-phase", "pre", dir}, 0, fmt.Sprintf("old port %d/tcp listening", oldPort), ""},
		{"one change", nil, []string{"verify", "-phase", "post", "-change", "svc_move", dir}, 0, "1 complete", ""},
		{"unknown change", nil, []string{"verify", "-phase", "post", "-change", "nope", dir}, 2, "", "no such change"},
		{"bad phase", nil, []string{"verify", "-phase", "during", dir}, 2, "", "pre or post"},
		{"no change blocks", nil, []string{"verify", "-phase", "post", noChanges}, 2, "", "declares no change block"},
		{"record", nil, []string{"change", "report", "-phase", "post", "-o", record, dir}, 0, "", ""},
		{"record needs a phase", nil, []string{"change", "report", dir}, 2, "", "-phase pre or -phase post is required"},
		{"change without report", nil, []string{"change", dir}, 2, "", "Usage: portcheck change report"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if tt.before != nil {
				tt.before()
			}
			code, out, errOut := runCmd(t, tt.args...)
			if code != tt.code {
				t.Errorf("exit %d, want %d\nstdout:\n%s\nstderr:\n%s", code, tt.code, out, errOut)
			}
			if !strings.Contains(out, tt.stdout) {
				t.Errorf("stdout lacks %q:\n%s", tt.stdout, out)
			}
			if !strings.Contains(errOut, tt.stderr) {
				t.Errorf("stderr lacks %q:\n%s", tt.stderr, errOut)
			}
		})
	}
	x, err := os.ReadFile(junit)
	if err != nil {
		t.Fatal(err)
	}
	if n := strings.Count(string(x), "<testcase "); n != 9 {
		t.Errorf("JUnit has %d test cases, want 9 (one per step):\n%s", n, x)
	}
	md, err := os.ReadFile(record)
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"# Change record: svc_move", "By **alice**", "| 8 | document | attested | attest |"} {
		if !strings.Contains(string(md), want) {
			t.Errorf("record lacks %q:\n%s", want, md)
		}
	}
}

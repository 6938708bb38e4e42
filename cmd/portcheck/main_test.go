package main

import (
	"bytes"
	"encoding/json"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// runCmd runs the CLI in-process and returns exit code, stdout, stderr.
func runCmd(t *testing.T, args ...string) (int, string, string) {
	t.Helper()
	var out, errb bytes.Buffer
	code := run(args, &out, &errb)
	return code, out.String(), errb.String()
}

func writeHCL(t *testing.T, src string) string {
	t.Helper()
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "checks.pc.hcl"), []byte(src), 0o644); err != nil {
		t.Fatal(err)
	}
	return dir
}

func TestExitCodes(t *testing.T) {
	ln, err := net.Listen("tcp4", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			c.Close()
		}
	}()
	open := ln.Addr().(*net.TCPAddr).Port
	closedLn, _ := net.Listen("tcp4", "127.0.0.1:0")
	closed := closedLn.Addr().(*net.TCPAddr).Port
	closedLn.Close()

	good := writeHCL(t, fmt.Sprintf(`
host "lo" {
  address = "127.0.0.1"
  local   = true
}
endpoint "up" {
  host = host.lo
  port = %d
}
endpoint "down" {
  host  = host.lo
  port  = %d
  state = "closed"
}
`, open, closed))
	bad := writeHCL(t, fmt.Sprintf(`
host "lo" {
  address = "127.0.0.1"
  local   = true
}
endpoint "down" {
  host = host.lo
  port = %d
}
`, closed))
	broken := writeHCL(t, `
host "lo" {
  address = "127.0.0.1"
}
endpoint "x" {
  host = host.lo
  port = 70000
}
`)
	tests := []struct {
		name   string
		args   []string
		code   int
		stdout string
		stderr string
	}{
		{"verify as declared", []string{"verify", good}, 0, "2 endpoints: 2 ok, 0 failed · 5 checks: 4 passed", ""},
		{"flags after the path", []string{"verify", good, "-json"}, 0, `"version": 1`, ""},
		{"verify failure", []string{"verify", bad}, 1, "L1 not_listening", ""},
		{"verify all layers", []string{"verify", "-all-layers", bad}, 1, "refused", ""},
		{"verify json failure", []string{"verify", "-json", bad}, 1, `"cause": "not_listening"`, ""},
		{"target", []string{"verify", "-target", "endpoint.up", good}, 0, "1 endpoint: 1 ok, 0 failed · 3 checks: 3 passed, 0 drifted, 0 failed, 0 skipped", ""},
		{"unknown target", []string{"verify", "-target", "endpoint.nope", good}, 2, "", "no such endpoint"},
		{"config error", []string{"verify", broken}, 2, "", "checks.pc.hcl line 7"},
		{"validate error", []string{"validate", broken}, 2, "", "65535"},
		{"validate ok", []string{"validate", good}, 0, "Success!", ""},
		{"validate json", []string{"validate", "-json", broken}, 2, `"severity": "error"`, ""},
		{"plan", []string{"plan", good}, 0, "Plan: 5 checks on 2 endpoints, 1 skipped.", ""},
		{"no path", []string{"verify"}, 2, "", "missing PATH"},
		{"unknown flag", []string{"verify", "-nope", good}, 2, "", "flag provided but not defined"},
		{"unknown command", []string{"frobnicate"}, 2, "", "unknown command"},
		{"no command", nil, 2, "", "Usage"},
		{"bad parallelism", []string{"verify", "-parallelism", "0", good}, 2, "", "at least 1"},
		{"bad max-probes", []string{"verify", "-max-probes", "0", good}, 2, "", "-max-probes must be at least 1"},
		{"diagnose open", []string{"diagnose", fmt.Sprintf("127.0.0.1:%d", open)}, 0, "3 checks: 3 passed", ""},
		{"diagnose refused", []string{"diagnose", "-all-layers", fmt.Sprintf("127.0.0.1:%d", closed)}, 1, "refused", ""},
		{"diagnose closed", []string{"diagnose", fmt.Sprintf("127.0.0.1:%d", closed), "-closed"}, 0, "everything as declared", ""},
		{"diagnose bad target", []string{"diagnose", "nope"}, 2, "", "not ADDRESS:PORT"},
		{"diagnose bad port", []string{"diagnose", "127.0.0.1:0"}, 2, "", "1 to 65535"},
		{"diagnose bad from", []string{"diagnose", "-from", "elsewhere", "127.0.0.1:22"}, 2, "", "use local, ns:NAME"},
		{"audit without providers", []string{"audit", good}, 2, "", "declares no provider"},
		{"audit bad ports", []string{"audit", "-sensitive-ports", "22,x", good}, 2, "", `"x" is not a port`},
		{"audit config error", []string{"audit", broken}, 2, "", "checks.pc.hcl line 7"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
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
}

func TestVerifyJUnitAndJSONContract(t *testing.T) {
	dir := writeHCL(t, `
host "lo" {
  address = "127.0.0.1"
  local   = true
}
endpoint "down" {
  host = host.lo
  port = 1
}
`)
	junit := filepath.Join(t.TempDir(), "out.xml")
	code, out, _ := runCmd(t, "verify", "-json", "-junit", junit, dir)
	if code != 1 {
		t.Fatalf("exit %d, want 1", code)
	}
	var doc struct {
		Version   int `json:"version"`
		Endpoints []struct {
			Name      string `json:"name"`
			Port      int    `json:"port"`
			Diagnosis struct {
				Layer int    `json:"layer"`
				Cause string `json:"cause"`
			} `json:"diagnosis"`
			Checks []struct {
				Layer  int    `json:"layer"`
				Status string `json:"status"`
				Source string `json:"source"`
			} `json:"checks"`
		} `json:"endpoints"`
	}
	if err := json.Unmarshal([]byte(out), &doc); err != nil {
		t.Fatal(err)
	}
	if doc.Version != 1 || len(doc.Endpoints) != 1 || doc.Endpoints[0].Diagnosis.Layer != 1 || doc.Endpoints[0].Diagnosis.Cause != "not_listening" {
		t.Fatalf("unexpected report: %+v", doc)
	}
	if src := doc.Endpoints[0].Checks[0].Source; !strings.HasSuffix(src, "checks.pc.hcl:6") {
		t.Errorf("source = %q, want …checks.pc.hcl:6", src)
	}
	x, err := os.ReadFile(junit)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(x), `<failure message="nothing listens on tcp/1`) {
		t.Errorf("junit lacks the failure:\n%s", x)
	}
}

func TestFmtCheck(t *testing.T) {
	dir := writeHCL(t, "host \"a\" {\naddress=\"127.0.0.1\"\n}\n")
	if code, out, _ := runCmd(t, "fmt", "-check", dir); code != 1 || !strings.Contains(out, "checks.pc.hcl") {
		t.Fatalf("fmt -check: exit %d, out %q", code, out)
	}
	if code, _, errOut := runCmd(t, "fmt", dir); code != 0 {
		t.Fatalf("fmt: exit %d: %s", code, errOut)
	}
	if code, _, _ := runCmd(t, "fmt", "-check", dir); code != 0 {
		t.Fatalf("fmt -check after fmt: exit %d", code)
	}
}

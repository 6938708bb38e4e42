package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// export blackbox's exit codes: 0 when everything declared was exported,
// 1 when something was not (listed on stderr; the files are written all
// the same), 0 with -partial, 2 for usage and configuration errors.
func TestExportBlackboxExitCodes(t *testing.T) {
	all := writeHCL(t, `host "this" {
  address = "127.0.0.1"
}

endpoint "web" {
  host = host.this
  port = 8080
}
`)
	some := writeHCL(t, `host "this" {
  address = "127.0.0.1"
}

endpoint "web" {
  host = host.this
  port = 8080
}

endpoint "syslog" {
  host     = host.this
  port     = 514
  protocol = "udp"
}
`)
	broken := writeHCL(t, "endpoint \"x\" {\n")
	for _, tc := range []struct {
		name     string
		args     []string
		code     int
		files    bool
		inStderr string
	}{
		{"everything exported", []string{"export", "blackbox", all}, 0, true, ""},
		{"UDP not DNS is listed, exit 1", []string{"export", "blackbox", some}, 1, true, "endpoint.syslog: it is UDP and not DNS"},
		{"-partial accepts it", []string{"export", "blackbox", "-partial", some}, 0, true, "not exported: "},
		{"no format", []string{"export", all}, 2, false, "want a format: blackbox"},
		{"unknown format", []string{"export", "grafana", all}, 2, false, "want a format"},
		{"missing PATH", []string{"export", "blackbox"}, 2, false, "missing PATH"},
		{"broken HCL", []string{"export", "blackbox", broken}, 2, false, "Error"},
		{"unknown -from host", []string{"export", "blackbox", "-from", "nope", all}, 2, false, `no host "nope" is declared`},
		{"bad exporter address", []string{"export", "blackbox", "-exporter", "localhost", all}, 2, false, "want host:port"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			out := t.TempDir()
			code, _, stderr := runCmd(t, append(tc.args, "-o", out)...)
			if code != tc.code || !strings.Contains(stderr, tc.inStderr) {
				t.Fatalf("exit %d, stderr %q; want %d and %q", code, stderr, tc.code, tc.inStderr)
			}
			_, err := os.Stat(filepath.Join(out, "blackbox.yml"))
			if (err == nil) != tc.files {
				t.Errorf("blackbox.yml written: %v, want %v", err == nil, tc.files)
			}
		})
	}
}

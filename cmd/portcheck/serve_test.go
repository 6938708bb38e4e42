package main

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/portcheck/portcheck/config"
	"github.com/portcheck/portcheck/internal/exporter"
)

// lockedBuffer is stderr written by the exporter's goroutines.
type lockedBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *lockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *lockedBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

func serveHCL(port int, name, extra string) string {
	return fmt.Sprintf(`
host "lo" {
  address = "127.0.0.1"
  local   = true
}
endpoint %q {
  host = host.lo
  port = %d
}
%s`, name, port, extra)
}

// SIGHUP reloads the HCL: a broken file keeps the last good configuration
// in service and says so in the log (with the diagnostic) and in
// portcheck_config_last_reload_successful; a good one replaces it.
func TestServeSIGHUP(t *testing.T) {
	target, err := net.Listen("tcp4", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer target.Close()
	port := target.Addr().(*net.TCPAddr).Port
	dir := writeHCL(t, serveHCL(port, "up", ""))
	hcl := filepath.Join(dir, "checks.pc.hcl")

	var stderr lockedBuffer
	log := slog.New(slog.NewTextHandler(&stderr, nil))
	x, err := exporter.New(exporter.Options{Load: exporter.HCLLoader(dir, config.Options{}), Logger: log})
	if err != nil {
		t.Fatal(err)
	}
	ln, err := net.Listen("tcp4", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	code := make(chan int, 1)
	go func() { code <- serve(ctx, x, ln, "", log, &stderr) }()
	base := "http://" + ln.Addr().String()
	// SIGHUP is caught once serve listens (it subscribes first); sending
	// it earlier would end the test binary.
	waitFor(t, base+"/-/healthy", "Healthy")

	if err := os.WriteFile(hcl, []byte(serveHCL(port, "up", `endpoint "broken" { port = }`)), 0o644); err != nil {
		t.Fatal(err)
	}
	syscall.Kill(os.Getpid(), syscall.SIGHUP)
	waitFor(t, base+"/metrics", "portcheck_config_last_reload_successful 0")
	for _, want := range []string{"configuration reload failed; still serving the last good configuration", "Invalid expression", `endpoint \"broken\" { port = }`} {
		if !strings.Contains(stderr.String(), want) {
			t.Errorf("log lacks %q:\n%s", want, stderr.String())
		}
	}
	waitFor(t, base+"/probe?target=endpoint.up", `portcheck_endpoint_finished{endpoint="up"} 1`)

	if err := os.WriteFile(hcl, []byte(serveHCL(port, "again", "")), 0o644); err != nil {
		t.Fatal(err)
	}
	syscall.Kill(os.Getpid(), syscall.SIGHUP)
	waitFor(t, base+"/metrics", "portcheck_config_last_reload_successful 1")
	waitFor(t, base+"/probe?target=endpoint.again", `portcheck_endpoint_finished{endpoint="again"} 1`)
	waitFor(t, base+"/probe?target=endpoint.up", `unknown target "endpoint.up"`)

	cancel()
	select {
	case c := <-code:
		if c != exitOK {
			t.Errorf("serve exited %d after shutdown", c)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("serve did not stop")
	}
}

// waitFor polls u until its body holds want (bounded).
func waitFor(t *testing.T, u, want string) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	var last string
	for time.Now().Before(deadline) {
		resp, err := http.Get(u)
		if err == nil {
			b, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			if last = string(b); strings.Contains(last, want) {
				return
			}
		}
		time.Sleep(50 * time.Millisecond)
	}
	t.Fatalf("%s never held %q; last:\n%s", u, want, last)
}

// Usage and configuration errors exit 2 before anything is served.
func TestServeUsage(t *testing.T) {
	good := writeHCL(t, serveHCL(9, "up", ""))
	bad := writeHCL(t, `endpoint "x" { port = }`)
	webBad := filepath.Join(t.TempDir(), "web.yml")
	if err := os.WriteFile(webBad, []byte("tls_server_config: [\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		args []string
		want string
	}{
		{[]string{"serve"}, "missing PATH"},
		{[]string{"serve", bad}, "Invalid expression"},
		{[]string{"serve", "-interval", "-1s", good}, "-interval must not be negative"},
		{[]string{"serve", "-timeout", "0s", good}, "-timeout must be positive"},
		{[]string{"serve", "-max-concurrent", "0", good}, "must be at least 1"},
		{[]string{"serve", "-listen", "127.0.0.1:notaport", good}, "-listen"},
		{[]string{"serve", "-listen", "127.0.0.1:0", "-web.config.file", webBad, good}, "-web.config.file " + webBad},
	}
	for _, tc := range tests {
		code, _, stderr := runCmd(t, tc.args...)
		if code != exitUsage || !strings.Contains(stderr, tc.want) {
			t.Errorf("%v: exit %d, stderr %q; want 2 and %q", tc.args, code, stderr, tc.want)
		}
	}
}

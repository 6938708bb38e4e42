package lab

import (
	"context"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/portcheck/portcheck/internal/netns"
)

// Real servers from Debian's packages (nginx, haproxy, redis-server), run
// in the foreground inside a lab namespace with their own configuration
// and state in a temp dir: nothing is read from or written to /etc or
// /var, and nothing runs outside the namespace. Each stops on cleanup and
// dies with the test binary (see startDaemon).

// Server is a running real server.
type Server struct {
	Dir string // its temp dir: configuration, logs, pid file
	log string
	d   *daemon
}

// Stop stops the server before the test ends (a test that restarts a
// server with another configuration); stopping twice is harmless.
func (s *Server) Stop() { s.d.stop(5 * time.Second) }

// startServer runs argv inside h, logs to dir/log, and waits until addr
// (host:port as seen inside h) accepts TCP connections.
func (h *Host) startServer(t testing.TB, name, dir, addr string, argv ...string) *Server {
	t.Helper()
	s := &Server{Dir: dir, log: filepath.Join(dir, name+".log")}
	logFile, err := os.Create(s.log)
	if err != nil {
		t.Fatalf("lab: %v", err)
	}
	defer logFile.Close()
	cmd := exec.Command("ip", append([]string{"netns", "exec", h.NS}, argv...)...)
	cmd.Stdout, cmd.Stderr = logFile, logFile
	d, err := startDaemon(cmd)
	if err != nil {
		t.Fatalf("lab: start %s: %v", name, err)
	}
	s.d = d
	t.Cleanup(func() { d.stop(5 * time.Second) })
	t.Cleanup(func() {
		if t.Failed() {
			b, _ := os.ReadFile(s.log)
			t.Logf("%s log:\n%s", name, b)
		}
	})
	deadline := time.Now().Add(10 * time.Second)
	for {
		ctx, cancel := context.WithTimeout(context.Background(), 200*time.Millisecond)
		c, err := netns.DialContext(ctx, h.Path(), &net.Dialer{}, "tcp", addr)
		cancel()
		if err == nil {
			c.Close()
			return s
		}
		select {
		case <-d.done:
			b, _ := os.ReadFile(s.log)
			t.Fatalf("lab: %s exited before listening on %s:\n%s", name, addr, b)
		default:
		}
		if time.Now().After(deadline) {
			b, _ := os.ReadFile(s.log)
			t.Fatalf("lab: %s not listening on %s after 10s: %v\n%s", name, addr, err, b)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// serverDir is a short temp dir for a server's files, readable by the
// unprivileged users the servers drop to.
func serverDir(t testing.TB, prefix string) string {
	t.Helper()
	dir, err := os.MkdirTemp("", prefix)
	if err != nil {
		t.Fatalf("lab: %v", err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	if err := os.Chmod(dir, 0o755); err != nil {
		t.Fatalf("lab: %v", err)
	}
	return dir
}

// StartNginx runs Debian's nginx in h with the given server blocks (the
// inside of nginx's http {} block) and waits until addr accepts. It skips
// the test (fails in CI) when nginx is not installed.
func (h *Host) StartNginx(t testing.TB, addr, serverBlocks string) *Server {
	t.Helper()
	Require(t, "nginx")
	dir := serverDir(t, "pcnginx-")
	conf := fmt.Sprintf(`daemon off;
master_process off;
worker_processes 1;
pid %[1]s/nginx.pid;
error_log %[1]s/error.log info;
events { worker_connections 64; }
http {
  access_log off;
  client_body_temp_path %[1]s/body;
  proxy_temp_path %[1]s/proxy;
  fastcgi_temp_path %[1]s/fastcgi;
  uwsgi_temp_path %[1]s/uwsgi;
  scgi_temp_path %[1]s/scgi;
  default_type text/plain;
%[2]s
}
`, dir, serverBlocks)
	path := filepath.Join(dir, "nginx.conf")
	writeFile(t, path, conf)
	// -p: nginx's prefix, so nothing under /var/lib/nginx is needed.
	return h.startServer(t, "nginx", dir, addr, "nginx", "-p", dir, "-c", path, "-e", filepath.Join(dir, "error.log"))
}

// StartHAProxy runs Debian's haproxy in h (foreground, -db) with the given
// sections after a minimal global/defaults, and waits until addr accepts.
func (h *Host) StartHAProxy(t testing.TB, addr, sections string) *Server {
	t.Helper()
	Require(t, "haproxy")
	dir := serverDir(t, "pchaproxy-")
	conf := fmt.Sprintf(`global
  log stderr format raw local0 info
  pidfile %[1]s/haproxy.pid
defaults
  mode http
  log global
  timeout connect 2s
  timeout client 5s
  timeout server 5s
%[2]s
`, dir, sections)
	path := filepath.Join(dir, "haproxy.cfg")
	writeFile(t, path, conf)
	return h.startServer(t, "haproxy", dir, addr, "haproxy", "-db", "-f", path)
}

// StartRedis runs Debian's redis-server in h on addr (host:port), with
// no persistence and the extra directives given ("protected-mode yes").
func (h *Host) StartRedis(t testing.TB, addr string, directives ...string) *Server {
	t.Helper()
	Require(t, "redis-server")
	dir := serverDir(t, "pcredis-")
	host, port, err := net.SplitHostPort(addr)
	if err != nil {
		t.Fatalf("lab: redis address %q: %v", addr, err)
	}
	conf := fmt.Sprintf("bind %s\nport %s\ndir %s\nsave \"\"\nappendonly no\ndaemonize no\nlogfile \"\"\n%s\n", host, port, dir, strings.Join(directives, "\n"))
	path := filepath.Join(dir, "redis.conf")
	writeFile(t, path, conf)
	return h.startServer(t, "redis-server", dir, addr, "redis-server", path)
}

func writeFile(t testing.TB, path, content string) {
	t.Helper()
	if err := os.WriteFile(path, []byte(content), 0o644); err != nil {
		t.Fatalf("lab: %v", err)
	}
}

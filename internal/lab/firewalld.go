package lab

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"runtime"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/godbus/dbus/v5"
)

// Firewalld is a firewalld daemon serving one lab host, on a private
// D-Bus system bus.
type Firewalld struct {
	Bus       string // the bus address, also in DBUS_SYSTEM_BUS_ADDRESS
	ConfigDir string // firewalld's --system-config: its permanent configuration
	PID       int
	host      *Host
}

// StartFirewalld runs a private D-Bus system bus and firewalld --nofork
// inside h's namespace, with an empty permanent configuration in a temp
// dir (--system-config) over the distribution's defaults (--default-config
// /usr/lib/firewalld). It points DBUS_SYSTEM_BUS_ADDRESS at the private
// bus for the rest of the test (so the test cannot be parallel), waits
// until firewalld reports RUNNING, and stops both daemons on cleanup.
// firewalld only changes the nftables ruleset of the namespace it runs in.
// (Its log says firewalld.conf is missing: it then uses its built-in
// defaults, as intended.)
func (h *Host) StartFirewalld(t testing.TB) *Firewalld {
	t.Helper()
	Require(t, "dbus-daemon", "firewalld", "firewall-cmd")
	// Short and outside t.TempDir: the socket path must fit in sun_path.
	dir, err := os.MkdirTemp("", "pcfw-")
	if err != nil {
		t.Fatalf("lab: %v", err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })

	bus := startBus(t, dir)
	t.Setenv("DBUS_SYSTEM_BUS_ADDRESS", bus)
	f := &Firewalld{Bus: bus, ConfigDir: filepath.Join(dir, "etc"), host: h}
	if err := os.Mkdir(f.ConfigDir, 0o755); err != nil {
		t.Fatalf("lab: %v", err)
	}
	cleanRunDir(t)

	logPath := filepath.Join(dir, "firewalld.log")
	logFile, err := os.Create(logPath)
	if err != nil {
		t.Fatalf("lab: %v", err)
	}
	defer logFile.Close()
	cmd := exec.Command("ip", "netns", "exec", h.NS, "firewalld", "--nofork", "--nopid",
		"--system-config", f.ConfigDir, "--default-config", "/usr/lib/firewalld",
		"--log-target", "file", "--log-file", logPath)
	cmd.Env = append(os.Environ(), "DBUS_SYSTEM_BUS_ADDRESS="+bus)
	cmd.Stdout, cmd.Stderr = logFile, logFile
	d, err := startDaemon(cmd)
	if err != nil {
		t.Fatalf("lab: start firewalld: %v", err)
	}
	t.Cleanup(func() {
		if t.Failed() {
			log, _ := os.ReadFile(logPath)
			t.Logf("firewalld log:\n%s", log)
		}
	})
	t.Cleanup(func() { d.stop(5 * time.Second) })
	// ip netns exec execs firewalld, so this is firewalld's pid.
	f.PID = cmd.Process.Pid
	if err := waitRunning(bus, d.done, 20*time.Second); err != nil {
		log, _ := os.ReadFile(logPath)
		t.Fatalf("lab: firewalld in %s: %v\n%s", h.NS, err, log)
	}
	return f
}

// Cmd runs firewall-cmd against the lab's firewalld and returns its
// trimmed standard output; a failure fails the test.
func (f *Firewalld) Cmd(t testing.TB, args ...string) string {
	t.Helper()
	cmd := exec.Command("ip", append([]string{"netns", "exec", f.host.NS, "firewall-cmd"}, args...)...)
	cmd.Env = append(os.Environ(), "DBUS_SYSTEM_BUS_ADDRESS="+f.Bus)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		t.Fatalf("lab: firewall-cmd %s: %v\n%s%s", strings.Join(args, " "), err, stdout.String(), stderr.String())
	}
	return strings.TrimSpace(stdout.String())
}

// busConfigEdits turn the distribution's system bus configuration into one
// for a private bus run by root: no user switch, fork, pid file or syslog,
// and no service activation (it would start real system services, e.g.
// polkitd; without polkit firewalld authorises root by uid).
var busConfigEdits = []*regexp.Regexp{
	regexp.MustCompile(`<user>[^<]*</user>`),
	regexp.MustCompile(`<fork\s*/>`),
	regexp.MustCompile(`<pidfile>[^<]*</pidfile>`),
	regexp.MustCompile(`<syslog\s*/>`),
	regexp.MustCompile(`<standard_system_servicedirs\s*/>`),
	regexp.MustCompile(`<servicehelper>[^<]*</servicehelper>`),
}

var (
	listenRE     = regexp.MustCompile(`<listen>[^<]*</listen>`)
	includeDirRE = regexp.MustCompile(`<includedir>([^<]*)</includedir>`)
)

const systemBusConfig = "/usr/share/dbus-1/system.conf"

// startBus runs dbus-daemon with a copy of the system bus configuration
// listening in dir, and returns its address once it listens.
func startBus(t testing.TB, dir string) string {
	t.Helper()
	data, err := os.ReadFile(systemBusConfig)
	if err != nil {
		t.Fatalf("lab: %v", err)
	}
	conf := string(data)
	for _, re := range busConfigEdits {
		conf = re.ReplaceAllString(conf, "")
	}
	if len(listenRE.FindAllString(conf, -1)) != 1 {
		t.Fatalf("lab: %s does not have exactly one <listen>", systemBusConfig)
	}
	conf = listenRE.ReplaceAllString(conf, "<listen>unix:path="+filepath.Join(dir, "bus.sock")+"</listen>")
	// Relative include dirs are relative to the config file; the copy
	// lives elsewhere, and system.d holds firewalld's bus policy.
	conf = includeDirRE.ReplaceAllStringFunc(conf, func(m string) string {
		d := includeDirRE.FindStringSubmatch(m)[1]
		if !filepath.IsAbs(d) {
			d = filepath.Join(filepath.Dir(systemBusConfig), d)
		}
		return "<includedir>" + d + "</includedir>"
	})
	confPath := filepath.Join(dir, "bus.conf")
	if err := os.WriteFile(confPath, []byte(conf), 0o644); err != nil {
		t.Fatalf("lab: %v", err)
	}

	r, w, err := os.Pipe()
	if err != nil {
		t.Fatalf("lab: %v", err)
	}
	defer r.Close()
	var stderr bytes.Buffer
	cmd := exec.Command("dbus-daemon", "--config-file="+confPath, "--nofork", "--nopidfile", "--print-address")
	cmd.Stdout, cmd.Stderr = w, &stderr
	d, err := startDaemon(cmd)
	w.Close()
	if err != nil {
		t.Fatalf("lab: start dbus-daemon: %v", err)
	}
	t.Cleanup(func() { d.stop(5 * time.Second) })

	addr := make(chan string, 1)
	go func() {
		line, _ := bufio.NewReader(r).ReadString('\n')
		addr <- strings.TrimSpace(line)
	}()
	select {
	case a := <-addr:
		if a == "" {
			<-d.done
			t.Fatalf("lab: dbus-daemon did not start: %s", stderr.String())
		}
		return a
	case <-time.After(10 * time.Second):
		t.Fatalf("lab: dbus-daemon did not print its address within 10s")
	}
	return ""
}

// cleanRunDir removes /run/firewalld after the test if firewalld creates
// it: ip netns exec shares /run with the host, and firewalld makes that
// (empty) directory on start.
func cleanRunDir(t testing.TB) {
	const runDir = "/run/firewalld"
	if _, err := os.Stat(runDir); !errors.Is(err, fs.ErrNotExist) {
		return
	}
	t.Cleanup(func() { os.Remove(runDir) }) // only if still empty
}

// waitRunning polls firewalld's state property until it is RUNNING.
func waitRunning(bus string, exited <-chan struct{}, timeout time.Duration) error {
	deadline := time.Now().Add(timeout)
	var last error
	for time.Now().Before(deadline) {
		select {
		case <-exited:
			return errors.New("firewalld exited")
		case <-time.After(100 * time.Millisecond):
		}
		state, err := firewalldState(bus)
		if err == nil && state == "RUNNING" {
			return nil
		}
		last = fmt.Errorf("state %q, %v", state, err)
	}
	return fmt.Errorf("not RUNNING after %v: %v", timeout, last)
}

func firewalldState(bus string) (string, error) {
	conn, err := dbus.Connect(bus)
	if err != nil {
		return "", err
	}
	defer conn.Close()
	// A bounded call: a firewalld busy starting up answers late.
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	var state string
	err = conn.Object("org.fedoraproject.FirewallD1", "/org/fedoraproject/FirewallD1").
		CallWithContext(ctx, "org.freedesktop.DBus.Properties.Get", dbus.FlagNoAutoStart,
			"org.fedoraproject.FirewallD1", "state").Store(&state)
	return state, err
}

// daemon is a child process that must not outlive the test binary.
type daemon struct {
	cmd  *exec.Cmd
	done chan struct{} // closed once the process is reaped
}

// startDaemon starts cmd in its own process group with SIGKILL as parent
// death signal, so it dies with the test binary even when cleanups never
// run (go test -timeout). Linux sends that signal when the thread that
// forked the child ends, so the child is forked from a goroutine that keeps
// its thread locked until the child is reaped: the Go runtime can neither
// reuse nor retire that thread early.
func startDaemon(cmd *exec.Cmd) (*daemon, error) {
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}
	d := &daemon{cmd: cmd, done: make(chan struct{})}
	started := make(chan error, 1)
	go func() {
		runtime.LockOSThread() // never unlocked: the thread ends with the goroutine
		if err := cmd.Start(); err != nil {
			started <- err
			return
		}
		started <- nil
		cmd.Wait()
		close(d.done)
	}()
	return d, <-started
}

// stop sends SIGTERM and, if the daemon has not exited after grace,
// SIGKILL to its whole process group.
func (d *daemon) stop(grace time.Duration) {
	select {
	case <-d.done:
		return // already stopped
	default:
	}
	d.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-d.done:
	case <-time.After(grace):
		syscall.Kill(-d.cmd.Process.Pid, syscall.SIGKILL)
		<-d.done
	}
}

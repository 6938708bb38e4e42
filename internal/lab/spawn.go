package lab

import (
	"bufio"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

const helperEnv = "PORTCHECK_LAB_LISTENER"

// MaybeServe must be called first in TestMain of packages that use Spawn:
// when the test binary is re-executed as a lab listener it serves and
// never returns.
func MaybeServe() {
	spec := os.Getenv(helperEnv)
	if spec == "" {
		return
	}
	network, addr, _ := strings.Cut(spec, " ")
	var ready string
	switch network {
	case "udp", "udp4", "udp6":
		pc, err := net.ListenPacket(network, addr)
		if err != nil {
			fmt.Println("ERR", err)
			os.Exit(1)
		}
		ready = pc.LocalAddr().String()
	default:
		ln, err := net.Listen(network, addr)
		if err != nil {
			fmt.Println("ERR", err)
			os.Exit(1)
		}
		ready = ln.Addr().String()
		go func() {
			for {
				c, err := ln.Accept()
				if err != nil {
					return
				}
				c.Close()
			}
		}()
	}
	fmt.Println("READY", ready)
	// Serve until the parent closes our stdin (or dies).
	bufio.NewReader(os.Stdin).ReadString('\n')
	os.Exit(0)
}

// Spawn starts a separate process named comm (as /proc/PID/comm shows it)
// listening on network/addr inside the namespace ("" host = this machine's
// namespace); it returns the pid. It re-executes the test binary, so the
// package's TestMain must call MaybeServe.
func Spawn(t testing.TB, h *Host, comm, network, addr string) int {
	t.Helper()
	self, err := os.Executable()
	if err != nil {
		t.Fatalf("lab: %v", err)
	}
	// comm is taken from the name the binary is executed by.
	link := filepath.Join(t.TempDir(), comm)
	if err := os.Symlink(self, link); err != nil {
		t.Fatalf("lab: %v", err)
	}
	var cmd *exec.Cmd
	if h == nil {
		cmd = exec.Command(link)
	} else {
		cmd = exec.Command("ip", "netns", "exec", h.NS, link)
	}
	cmd.Env = append(os.Environ(), helperEnv+"="+network+" "+addr)
	stdin, err := cmd.StdinPipe()
	if err != nil {
		t.Fatalf("lab: %v", err)
	}
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatalf("lab: %v", err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatalf("lab: start %s: %v", comm, err)
	}
	t.Cleanup(func() {
		stdin.Close()
		done := make(chan struct{})
		go func() { cmd.Wait(); close(done) }()
		select {
		case <-done:
		case <-time.After(5 * time.Second):
			cmd.Process.Kill()
			<-done
		}
	})
	line, err := bufio.NewReader(stdout).ReadString('\n')
	if err != nil || !strings.HasPrefix(line, "READY") {
		t.Fatalf("lab: spawned %s did not start listening on %s %s: %q %v", comm, network, addr, line, err)
	}
	return cmd.Process.Pid
}

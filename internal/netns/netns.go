// Package netns runs code inside a Linux network namespace. Sockets created
// while inside stay in that namespace after the thread switches back, so a
// dial or a netlink socket opened in Do can be used from anywhere.
package netns

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io/fs"
	"net"
	"os"
	"os/exec"
	"runtime"
	"strings"

	"golang.org/x/sys/unix"
)

// Do runs fn with the calling OS thread switched into the network namespace
// at path; path "" runs fn in the current namespace. fn must not start
// goroutines that create sockets: they may run on other threads.
func Do(path string, fn func() error) error {
	if path == "" {
		return fn()
	}
	target, err := os.Open(path)
	if err != nil {
		return fmt.Errorf("open network namespace: %w", err)
	}
	defer target.Close()

	errc := make(chan error, 1)
	// A fresh goroutine: if switching back fails, the thread stays locked and
	// the runtime discards it when the goroutine ends, so no other goroutine
	// ever runs in the wrong namespace.
	go func() {
		runtime.LockOSThread()
		orig, err := os.Open(fmt.Sprintf("/proc/%d/task/%d/ns/net", os.Getpid(), unix.Gettid()))
		if err != nil {
			runtime.UnlockOSThread()
			errc <- fmt.Errorf("open current network namespace: %w", err)
			return
		}
		defer orig.Close()
		if err := unix.Setns(int(target.Fd()), unix.CLONE_NEWNET); err != nil {
			runtime.UnlockOSThread()
			errc <- fmt.Errorf("enter network namespace %s: %w", path, err)
			return
		}
		ferr := fn()
		if err := unix.Setns(int(orig.Fd()), unix.CLONE_NEWNET); err != nil {
			errc <- fmt.Errorf("leave network namespace %s: %w", path, err) // thread stays locked: dies with goroutine
			return
		}
		runtime.UnlockOSThread()
		errc <- ferr
	}()
	return <-errc
}

// Check reports whether path names a network namespace this process can
// enter, without entering it.
func Check(path string) error {
	if path == "" {
		return nil
	}
	fi, err := os.Stat(path)
	switch {
	case errors.Is(err, fs.ErrNotExist):
		return fmt.Errorf("network namespace %s does not exist", path)
	case errors.Is(err, fs.ErrPermission):
		return fmt.Errorf("network namespace %s is not accessible (permission denied)", path)
	case err != nil:
		return fmt.Errorf("network namespace %s: %w", path, err)
	}
	if fi.IsDir() {
		return fmt.Errorf("network namespace %s is a directory, not a namespace file", path)
	}
	if os.Geteuid() != 0 {
		return fmt.Errorf("entering network namespace %s needs root (CAP_SYS_ADMIN)", path)
	}
	return nil
}

// DialContext dials from inside the namespace at path ("" = here). The
// socket is created in the namespace; the connection is usable everywhere.
func DialContext(ctx context.Context, path string, d *net.Dialer, network, address string) (net.Conn, error) {
	if path == "" {
		return d.DialContext(ctx, network, address)
	}
	var conn net.Conn
	err := Do(path, func() error {
		var err error
		conn, err = d.DialContext(ctx, network, address)
		return err
	})
	return conn, err
}

// Listen opens a listener inside the namespace at path ("" = here).
func Listen(path, network, address string) (net.Listener, error) {
	var ln net.Listener
	err := Do(path, func() error {
		var err error
		ln, err = net.Listen(network, address)
		return err
	})
	return ln, err
}

// ListenPacket opens a packet listener inside the namespace at path.
func ListenPacket(path, network, address string) (net.PacketConn, error) {
	var pc net.PacketConn
	err := Do(path, func() error {
		var err error
		pc, err = net.ListenPacket(network, address)
		return err
	})
	return pc, err
}

// Output runs a program with the namespace at path as its network namespace
// ("" = here) and returns its standard output. The child is forked from a
// thread inside the namespace, so it starts there; its mount namespace is
// this process's (unlike `ip netns exec`, nothing is bind-mounted). stdin
// may be nil. A non-zero exit is an error carrying the program's stderr.
func Output(ctx context.Context, path string, stdin []byte, name string, args ...string) ([]byte, error) {
	var out []byte
	err := Do(path, func() error {
		cmd := exec.CommandContext(ctx, name, args...)
		if stdin != nil {
			cmd.Stdin = bytes.NewReader(stdin)
		}
		var stderr bytes.Buffer
		cmd.Stderr = &stderr
		var err error
		out, err = cmd.Output()
		if err != nil {
			msg := strings.TrimSpace(stderr.String())
			if len(msg) > 2000 {
				msg = msg[:2000] + "…"
			}
			if msg != "" {
				return fmt.Errorf("%s: %w: %s", name, err, msg)
			}
			return fmt.Errorf("%s: %w", name, err)
		}
		return nil
	})
	return out, err
}

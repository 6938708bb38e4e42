package sshconn

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"strings"
	"time"

	"golang.org/x/crypto/ssh"
)

// Command is one remote command.
type Command struct {
	// Args are the program and its arguments, each quoted for the remote
	// POSIX shell (the command runs as `exec ARGS`, so a cancel signals
	// the program itself, not a shell).
	Args []string
	// Script, when Args is empty, is a shell command line run as is: only
	// portcheck's own fixed scripts, never anything built from input.
	Script string
	// Sudo runs it with `sudo -n` (never a password prompt) when the
	// connection block says sudo = true.
	Sudo bool
	// Stdin is fed to the command (nil = none), Stdout receives its
	// output (nil = returned by Run).
	Stdin  io.Reader
	Stdout io.Writer
}

// ErrSudoPassword is wrapped by a command's error when sudo wanted a
// password.
var ErrSudoPassword = errors.New("sudo asks for a password")

// maxStderr is how much of a command's standard error is kept for its
// error message.
const maxStderr = 16 << 10

// Run runs cmd on the host. It returns the standard output (when
// cmd.Stdout is nil); a non-zero exit is an error carrying the command's
// standard error. When ctx ends the remote command is sent SIGTERM, its
// session closed (the remote sshd then kills what is left), and Run
// returns ctx's error at once.
func (c *Conn) Run(ctx context.Context, cmd Command) ([]byte, error) {
	if c.client == nil {
		return nil, errors.New("connection is closed")
	}
	s, err := c.client.NewSession()
	if err != nil {
		return nil, fmt.Errorf("%s: opening a session: %w", c.Target(), err)
	}
	defer s.Close()
	var out bytes.Buffer
	stderr := &capped{max: maxStderr}
	if cmd.Stdout != nil {
		s.Stdout = cmd.Stdout
	} else {
		s.Stdout = &out
	}
	s.Stderr = stderr
	if len(cmd.Args) == 0 && cmd.Script == "" {
		return nil, errors.New("empty remote command")
	}
	// A command without input runs under a watchdog that reads the
	// session's stdin: when it ends (a cancel closes it, a lost connection
	// makes sshd close it) the command is sent SIGTERM. sshd itself does not
	// kill a session's command when the channel closes, and refuses signal
	// requests for root logins.
	var hold io.WriteCloser
	line := c.commandLine(cmd)
	if cmd.Stdin != nil {
		s.Stdin = cmd.Stdin
	} else {
		if hold, err = s.StdinPipe(); err != nil {
			return nil, fmt.Errorf("%s: %w", c.Target(), err)
		}
		line = watchdog(line)
	}
	if err := s.Start(line); err != nil {
		return nil, fmt.Errorf("%s: starting %s: %w", c.Target(), cmd.name(), err)
	}
	done := make(chan error, 1)
	go func() { done <- s.Wait() }()
	select {
	case err = <-done:
	case <-ctx.Done():
		if hold != nil {
			hold.Close() // EOF to the watchdog: SIGTERM
		}
		s.Signal(ssh.SIGTERM) // honoured for unprivileged logins
		select {
		case <-done:
		case <-time.After(2 * time.Second):
		}
		s.Close()
		return nil, fmt.Errorf("%s: %s: %w", c.Target(), cmd.name(), context.Cause(ctx))
	}
	if err != nil {
		return nil, c.commandErr(cmd, err, stderr.String())
	}
	return out.Bytes(), nil
}

// watchdog runs line in the background and sends it SIGTERM when the
// session's stdin ends before it does; it exits with line's status.
func watchdog(line string) string {
	return "sh -c " + Quote(`exec 3<&0; sh -c "$1" </dev/null 3<&- & p=$!; { cat <&3 >/dev/null; kill -TERM $p; } 2>/dev/null & w=$!; exec 3<&-; wait $p; s=$?; kill $w 2>/dev/null; exit $s`) + " portcheck-watchdog " + Quote(line)
}

// commandLine is the remote shell's command: exec [sudo -n --] args.
func (c *Conn) commandLine(cmd Command) string {
	if len(cmd.Args) == 0 {
		return cmd.Script
	}
	parts := []string{"exec"}
	if cmd.Sudo && c.cfg.Sudo {
		parts = append(parts, "sudo", "-n", "--")
	}
	for _, a := range cmd.Args {
		parts = append(parts, Quote(a))
	}
	return strings.Join(parts, " ")
}

func (c *Conn) commandErr(cmd Command, err error, stderr string) error {
	stderr = strings.TrimSpace(stderr)
	if cmd.Sudo && c.cfg.Sudo && (strings.Contains(stderr, "a password is required") || strings.Contains(stderr, "a terminal is required")) {
		return fmt.Errorf("%s: %w (sudo -n: %q): portcheck never types passwords; allow the collector without one in sudoers on that host, e.g. `%s ALL=(root) NOPASSWD: %s`",
			c.Target(), ErrSudoPassword, firstLine(stderr), c.cfg.User, cmd.name())
	}
	var ee *ssh.ExitError
	var msg string
	if errors.As(err, &ee) {
		msg = fmt.Sprintf("exited %d", ee.ExitStatus())
		if ee.Signal() != "" {
			msg = "killed by SIG" + ee.Signal()
		}
	} else {
		msg = err.Error()
	}
	if stderr != "" {
		msg += ": " + stderr
	}
	return &CommandError{Target: c.Target(), Program: cmd.name(), Msg: msg, Stderr: stderr, Err: err}
}

// CommandError is a remote command that failed.
type CommandError struct {
	Target, Program, Msg, Stderr string
	Err                          error
}

func (e *CommandError) Error() string { return e.Target + ": " + e.Program + " " + e.Msg }
func (e *CommandError) Unwrap() error { return e.Err }

// ExitStatus is the remote exit status, -1 when it did not exit.
func (e *CommandError) ExitStatus() int {
	var ee *ssh.ExitError
	if errors.As(e.Err, &ee) {
		return ee.ExitStatus()
	}
	return -1
}

func (c Command) name() string {
	if len(c.Args) > 0 {
		return c.Args[0]
	}
	return "sh -c " + Quote(firstLine(c.Script))
}

func firstLine(s string) string {
	l, _, _ := strings.Cut(s, "\n")
	return l
}

// Quote quotes s for a POSIX shell.
func Quote(s string) string {
	if s != "" && strings.Trim(s, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-_=+./:@%,") == "" {
		return s
	}
	return "'" + strings.ReplaceAll(s, "'", `'\''`) + "'"
}

// capped keeps the first max bytes written to it.
type capped struct {
	buf bytes.Buffer
	max int
}

func (c *capped) Write(p []byte) (int, error) {
	if room := c.max - c.buf.Len(); room > 0 {
		c.buf.Write(p[:min(len(p), room)])
	}
	return len(p), nil
}

func (c *capped) String() string { return c.buf.String() }

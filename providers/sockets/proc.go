package sockets

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"syscall"
)

// procRoot is where procfs is mounted.
const procRoot = "/proc"

// maxCmdline caps a recorded command line: enough to identify a service,
// small enough to keep reports readable (JVM command lines run to kilobytes).
const maxCmdline = 4096

// scanProcesses finds, in one pass over root/*/fd, the processes holding
// each wanted socket inode. Socket inodes are unique across network
// namespaces (they belong to sockfs), so one /proc serves every namespace.
// Processes that exit during the scan are skipped; processes whose fds
// cannot be read are reported in the warnings.
func scanProcesses(ctx context.Context, root string, want map[uint64]bool) (map[uint64][]Process, []string) {
	if len(want) == 0 {
		return nil, nil
	}
	d, err := os.Open(root)
	if err != nil {
		return nil, []string{fmt.Sprintf("cannot scan processes, so no socket owners are shown: %v", err)}
	}
	names, err := d.Readdirnames(-1)
	d.Close()
	if err != nil {
		return nil, []string{fmt.Sprintf("cannot scan processes, so no socket owners are shown: %v", err)}
	}

	owners := map[uint64][]Process{}
	var denied []int
	var failed []string
	for _, name := range names {
		pid, err := strconv.Atoi(name)
		if err != nil || pid <= 0 {
			continue // not a process directory
		}
		if ctx.Err() != nil {
			failed = append(failed, fmt.Sprintf("process scan stopped: %v", ctx.Err()))
			break
		}
		dir := filepath.Join(root, name)
		inodes, err := socketInodes(filepath.Join(dir, "fd"), want)
		switch {
		case err == nil:
		case vanished(err):
			continue
		case errors.Is(err, fs.ErrPermission):
			denied = append(denied, pid)
		default:
			failed = append(failed, fmt.Sprintf("pid %d: %v", pid, err))
		}
		if len(inodes) == 0 {
			continue
		}
		p := readProcess(dir, pid)
		for _, ino := range inodes {
			owners[ino] = append(owners[ino], p)
		}
	}
	for _, ps := range owners {
		slices.SortFunc(ps, func(a, b Process) int { return a.PID - b.PID })
	}

	var warnings []string
	if len(denied) > 0 {
		slices.Sort(denied)
		// Reading another process's fds needs ptrace read access. Root
		// usually has it, but not without CAP_SYS_PTRACE, nor over a
		// process of a parent user namespace (a container's host side).
		fix := "run as root to see every owner"
		if os.Geteuid() == 0 {
			fix = "the kernel's ptrace access rules refused root (missing CAP_SYS_PTRACE, or another user namespace)"
		}
		warnings = append(warnings, fmt.Sprintf(
			"permission denied reading the open files of %d processes (pids %s); sockets they hold show no owner; %s",
			len(denied), listInts(denied, 10), fix))
	}
	if len(failed) > 0 {
		warnings = append(warnings, fmt.Sprintf("could not read the open files of %d processes: %s", len(failed), strings.Join(failed[:min(len(failed), 3)], "; ")))
	}
	return owners, warnings
}

// socketInodes returns the wanted socket inodes among the open files listed
// in fdDir (/proc/PID/fd), each once even if several fds refer to it.
func socketInodes(fdDir string, want map[uint64]bool) ([]uint64, error) {
	d, err := os.Open(fdDir)
	if err != nil {
		return nil, err
	}
	fds, err := d.Readdirnames(-1)
	d.Close()
	if err != nil {
		return nil, err
	}
	var found []uint64
	for _, fd := range fds {
		link, err := os.Readlink(filepath.Join(fdDir, fd))
		if err != nil {
			if vanished(err) {
				continue // fd closed since the listing, or the process exited
			}
			return found, err
		}
		if ino, ok := parseSocketLink(link); ok && want[ino] && !slices.Contains(found, ino) {
			found = append(found, ino)
		}
	}
	return found, nil
}

// parseSocketLink extracts N from a socket fd's link text "socket:[N]".
func parseSocketLink(link string) (uint64, bool) {
	rest, ok := strings.CutPrefix(link, "socket:[")
	if !ok {
		return 0, false
	}
	num, ok := strings.CutSuffix(rest, "]")
	if !ok {
		return 0, false
	}
	ino, err := strconv.ParseUint(num, 10, 64)
	return ino, err == nil
}

// readProcess reads a process's name and command line. They are display
// data: if the process exits meanwhile we still report its pid.
func readProcess(dir string, pid int) Process {
	p := Process{PID: pid}
	if b, err := os.ReadFile(filepath.Join(dir, "comm")); err == nil {
		p.Name = strings.TrimSuffix(string(b), "\n")
	}
	if b, err := os.ReadFile(filepath.Join(dir, "cmdline")); err == nil {
		// Arguments are NUL-terminated; kernel threads have none.
		s := strings.ReplaceAll(strings.TrimRight(string(b), "\x00"), "\x00", " ")
		if len(s) > maxCmdline {
			s = s[:maxCmdline] + "..."
		}
		p.Cmdline = s
	}
	// attr/current is also AppArmor's ("unconfined"): only a label read
	// while SELinux is enabled is an SELinux context.
	if selinuxEnabled() {
		if b, err := os.ReadFile(filepath.Join(dir, "attr/current")); err == nil {
			p.SELinuxContext = strings.TrimSpace(strings.TrimRight(string(b), "\x00\n"))
		}
	}
	return p
}

// selinuxEnabled reports whether selinuxfs is mounted (SELinux is on).
func selinuxEnabled() bool {
	_, err := os.Stat("/sys/fs/selinux/enforce")
	return err == nil
}

// vanished reports whether err means the process or fd no longer exists.
func vanished(err error) bool {
	return errors.Is(err, fs.ErrNotExist) || errors.Is(err, syscall.ESRCH)
}

func listInts(xs []int, max int) string {
	var b strings.Builder
	for i, x := range xs {
		if i == max {
			fmt.Fprintf(&b, ", and %d more", len(xs)-max)
			break
		}
		if i > 0 {
			b.WriteString(", ")
		}
		b.WriteString(strconv.Itoa(x))
	}
	return b.String()
}

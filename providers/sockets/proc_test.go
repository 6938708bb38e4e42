package sockets

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/google/go-cmp/cmp"
)

// TestScanProcessesTree runs the scan over a procfs-shaped tree, for the
// cases real /proc cannot produce on demand: a process that exits between
// the listing and the read, and a dup'ed fd. The real /proc is covered by
// the lab tests.
func TestScanProcessesTree(t *testing.T) {
	root := t.TempDir()
	proc := func(pid, comm, cmdline string, fds map[string]string) {
		dir := filepath.Join(root, pid)
		if err := os.MkdirAll(dir, 0o755); err != nil {
			t.Fatal(err)
		}
		os.WriteFile(filepath.Join(dir, "comm"), []byte(comm+"\n"), 0o644)
		os.WriteFile(filepath.Join(dir, "cmdline"), []byte(cmdline), 0o644)
		if fds == nil {
			return // like a process that exited: no fd directory
		}
		os.Mkdir(filepath.Join(dir, "fd"), 0o755)
		for fd, target := range fds {
			if err := os.Symlink(target, filepath.Join(dir, "fd", fd)); err != nil {
				t.Fatal(err)
			}
		}
	}
	proc("200", "nginx", "nginx: worker process\x00", map[string]string{"0": "/dev/null", "6": "socket:[1001]"})
	proc("100", "nginx", "nginx: master process\x00-c\x00/etc/nginx.conf\x00", map[string]string{"6": "socket:[1001]", "7": "socket:[1001]", "8": "socket:[1002]"})
	proc("300", "sshd", "", map[string]string{"3": "socket:[1003]", "4": "pipe:[77]"})
	proc("400", "gone", "", nil)
	os.Mkdir(filepath.Join(root, "sys"), 0o755) // not a process

	got, warnings := scanProcesses(t.Context(), root, map[uint64]bool{1001: true, 1002: true, 9999: true})
	want := map[uint64][]Process{
		1001: {{PID: 100, Name: "nginx", Cmdline: "nginx: master process -c /etc/nginx.conf"}, {PID: 200, Name: "nginx", Cmdline: "nginx: worker process"}},
		1002: {{PID: 100, Name: "nginx", Cmdline: "nginx: master process -c /etc/nginx.conf"}},
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("owners mismatch (-want +got):\n%s", diff)
	}
	if len(warnings) != 0 {
		t.Errorf("warnings = %q, want none (a vanished process is not a problem)", warnings)
	}
}

package main

import (
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/portcheck/portcheck/internal/lab"
)

// cliEnv makes the test binary act as the portcheck command (for tools
// the tests run, like ansible-playbook, that call portcheck).
const cliEnv = "PORTCHECK_TEST_AS_CLI"

func TestMain(m *testing.M) {
	if os.Getenv(cliEnv) == "1" {
		os.Exit(run(os.Args[1:], os.Stdout, os.Stderr))
	}
	os.Exit(m.Run())
}

// portcheckWrapper is an executable that runs this test binary as portcheck.
func portcheckWrapper(t *testing.T) string {
	t.Helper()
	self, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	p := filepath.Join(t.TempDir(), "portcheck")
	if err := os.WriteFile(p, []byte(fmt.Sprintf("#!/bin/sh\n%s=1 exec %q \"$@\"\n", cliEnv, self)), 0o755); err != nil {
		t.Fatal(err)
	}
	return p
}

// TestAnsibleExample runs examples/ansible/playbook.yml with the real
// ansible-playbook against two lab sshds: the collector is put on both,
// each host's document comes back to the controller, and the playbook's
// last play judges them with portcheck verify -facts. A second run copies
// no collector.
func TestAnsibleExample(t *testing.T) {
	lab.Require(t, "ip", "/usr/sbin/sshd", "ansible-playbook", "python3")
	collectorBin := buildCollector(t)
	portcheck := portcheckWrapper(t)
	l := lab.New(t)
	client := l.Host("client")
	key := lab.NewSSHKey(t, "")
	var inv, hcl strings.Builder
	var lines []string
	var homes []string
	inv.WriteString("[fleet]\n")
	for i, name := range []string{"web1", "web2"} {
		h := l.Host(name)
		_, addr := l.Link(client, h, fmt.Sprintf("10.80.%d", i))
		s := h.StartSSHD(t, lab.SSHDOptions{Addr: addr, Authorized: []*lab.SSHKey{key}})
		lines = append(lines, s.KnownHostsLine())
		homes = append(homes, s.Home)
		if name == "web1" {
			h.ListenTCP("tcp4", "0.0.0.0:443")
		}
		fmt.Fprintf(&inv, "%s ansible_host=%s ansible_user=root\n", name, addr)
		fmt.Fprintf(&hcl, "host %q {\n  address = %q\n}\nendpoint %q {\n  host = host.%s\n  port = 443\n}\n", name, addr, name+"_https", name)
	}
	kh := lab.WriteKnownHosts(t, lines...)
	fmt.Fprintf(&inv, "\n[all:vars]\nansible_ssh_private_key_file=%s\nansible_ssh_common_args='-o UserKnownHostsFile=%s -o StrictHostKeyChecking=yes'\nansible_python_interpreter=/usr/bin/python3\n", key.Path, kh)
	dir := t.TempDir()
	invPath := filepath.Join(dir, "inventory.ini")
	checks := filepath.Join(dir, "checks.pc.hcl")
	factsDir := filepath.Join(dir, "facts")
	os.WriteFile(invPath, []byte(inv.String()), 0o644)
	os.WriteFile(checks, []byte(hcl.String()), 0o644)
	os.WriteFile(filepath.Join(dir, "ansible.cfg"), []byte("[defaults]\n"), 0o644) // none of the machine's settings
	playbook, _ := filepath.Abs("../../examples/ansible/playbook.yml")

	play := func() string {
		t.Helper()
		cmd := exec.Command("ip", "netns", "exec", client.NS, "ansible-playbook", "-i", invPath, playbook,
			"-e", "collector="+collectorBin, "-e", "checks="+checks, "-e", "facts_dir="+factsDir, "-e", "portcheck="+portcheck, "-v")
		cmd.Env = append(os.Environ(), "ANSIBLE_NOCOLOR=1", "ANSIBLE_RETRY_FILES_ENABLED=false", "ANSIBLE_HOST_KEY_CHECKING=True",
			"ANSIBLE_LOCAL_TEMP="+filepath.Join(dir, "atmp"), "ANSIBLE_SSH_CONTROL_PATH_DIR="+filepath.Join(dir, "cp"), "ANSIBLE_CONFIG="+filepath.Join(dir, "ansible.cfg"))
		out, err := cmd.CombinedOutput()
		if err != nil {
			t.Fatalf("ansible-playbook: %v\n%s", err, out)
		}
		return string(out)
	}
	out := play()
	// Each document is named by its inventory host and holds its facts.
	for _, name := range []string{"web1", "web2"} {
		b, err := os.ReadFile(filepath.Join(factsDir, name+".json"))
		if err != nil {
			t.Fatalf("%s: %v\n%s", name, err, out)
		}
		var doc struct {
			Host struct {
				Name string `json:"name"`
			} `json:"host"`
		}
		if err := json.Unmarshal(b, &doc); err != nil || doc.Host.Name != name {
			t.Errorf("%s.json: host %q (%v)", name, doc.Host.Name, err)
		}
	}
	// The last play's verdict: web2 is not listening, so verify exits 1.
	if !strings.Contains(out, "portcheck verify exited 1") {
		t.Errorf("no verdict of exit 1 in the playbook's output:\n%s", out)
	}
	code, stdout, stderr := runCmd(t, "verify", "-facts", factsDir, "-offline", "-json", checks)
	if code != 1 || !strings.Contains(stdout, `"cause": "not_listening"`) {
		t.Errorf("verify -facts: exit %d\n%s%s", code, stdout, stderr)
	}
	before := map[string]os.FileInfo{}
	for _, home := range homes {
		m, _ := filepath.Glob(filepath.Join(home, ".cache/portcheck/collector-*"))
		if len(m) != 1 {
			t.Fatalf("collectors in %s: %v", home, m)
		}
		before[m[0]], _ = os.Stat(m[0])
	}
	// Second run: the collector is there already on both hosts, and is
	// not written again (copy would replace the file: a new inode).
	out = play()
	for path, fi := range before {
		now, err := os.Stat(path)
		if err != nil || !os.SameFile(fi, now) || !now.ModTime().Equal(fi.ModTime()) {
			t.Errorf("second run replaced %s (%v)\n%s", path, err, out)
		}
	}
}

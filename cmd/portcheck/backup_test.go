package main

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"sort"
	"strings"
	"testing"

	"github.com/portcheck/portcheck/internal/lab"
	"github.com/portcheck/portcheck/internal/netns"
)

// The parts of the verbs that need no namespace: argument errors and a
// directory that is not a backup (checked before anything is read).
func TestBackupRestoreUsage(t *testing.T) {
	notBackup := t.TempDir()
	tests := []struct {
		name   string
		args   []string
		code   int
		stderr string
	}{
		{"backup without DIR", []string{"backup"}, 2, "missing DIR"},
		{"backup two DIRs", []string{"backup", "a", "b"}, 2, "one DIR"},
		{"backup bad netns", []string{"backup", "-netns", "pc-no-such-namespace", t.TempDir()}, 2, "does not exist"},
		{"restore without dir", []string{"restore"}, 2, "missing BACKUPDIR"},
		{"restore not a backup", []string{"restore", notBackup}, 2, "no manifest.json"},
		{"restore missing dir", []string{"restore", filepath.Join(notBackup, "nope")}, 2, "does not exist"},
		{"restore unknown flag", []string{"restore", "-force", notBackup}, 2, "flag provided but not defined"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			code, out, errOut := runCmd(t, tt.args...)
			if code != tt.code || !strings.Contains(errOut, tt.stderr) {
				t.Errorf("exit %d (want %d), stderr lacks %q?\nstdout:\n%s\nstderr:\n%s", code, tt.code, tt.stderr, out, errOut)
			}
		})
	}
	if code, out, _ := runCmd(t, "help"); code != 0 || !strings.Contains(out, "backup DIR") || !strings.Contains(out, "restore BACKUPDIR") {
		t.Errorf("usage lacks the verbs:\n%s", out)
	}
}

// fwState is what the tests compare: the full nft ruleset and each save
// program's output, as the programs print them (stdout only).
type fwState struct {
	nft                                  string
	iptNFT, ip6NFT, iptLegacy, ip6Legacy string
}

func readState(t *testing.T, ns string) fwState {
	t.Helper()
	out := func(name string, args ...string) string {
		b, err := netns.Output(context.Background(), ns, nil, name, args...)
		if err != nil {
			t.Fatal(err)
		}
		return string(b)
	}
	return fwState{
		nft:       normTables(out("nft", "-s", "list", "ruleset"), "table ", "}"),
		iptNFT:    normSaveOut(out("iptables-nft-save"), false),
		ip6NFT:    normSaveOut(out("ip6tables-nft-save"), false),
		iptLegacy: normSaveOut(out("iptables-legacy-save"), true),
		ip6Legacy: normSaveOut(out("ip6tables-legacy-save"), true),
	}
}

// normTables sorts the blocks of a listing (from a line starting with
// start to a line equal to end) so that the order of tables, which a
// restore may change, does not count.
func normTables(s, start, end string) string {
	var blocks []string
	var cur []string
	for _, l := range strings.Split(s, "\n") {
		if cur == nil && !strings.HasPrefix(l, start) {
			continue
		}
		cur = append(cur, l)
		if l == end {
			blocks = append(blocks, strings.Join(cur, "\n"))
			cur = nil
		}
	}
	sort.Strings(blocks)
	return strings.Join(blocks, "\n")
}

var counters = regexp.MustCompile(`\s*\[\d+:\d+\]`)

// normSaveOut drops comments and counters, sorts the tables, and with
// dropEmpty leaves out legacy tables holding nothing (built-in chains with
// policy ACCEPT only): legacy tables cannot be deleted, only emptied.
func normSaveOut(s string, dropEmpty bool) string {
	var keep []string
	for _, l := range strings.Split(s, "\n") {
		if strings.HasPrefix(l, "#") || l == "" {
			continue
		}
		keep = append(keep, counters.ReplaceAllString(l, ""))
	}
	var blocks []string
	for _, b := range strings.SplitAfter(strings.Join(keep, "\n"), "COMMIT") {
		b = strings.TrimSpace(b)
		if b == "" {
			continue
		}
		empty := true
		for _, l := range strings.Split(b, "\n")[1:] {
			if l != "COMMIT" && !(strings.HasPrefix(l, ":") && strings.HasSuffix(l, " ACCEPT")) {
				empty = false
			}
		}
		if dropEmpty && empty {
			continue
		}
		blocks = append(blocks, b)
	}
	sort.Strings(blocks)
	return strings.Join(blocks, "\n")
}

func (a fwState) diff(t *testing.T, b fwState, what string) {
	t.Helper()
	for _, c := range []struct{ name, a, b string }{
		{"nft -s list ruleset", a.nft, b.nft},
		{"iptables-nft-save", a.iptNFT, b.iptNFT},
		{"ip6tables-nft-save", a.ip6NFT, b.ip6NFT},
		{"iptables-legacy-save", a.iptLegacy, b.iptLegacy},
		{"ip6tables-legacy-save", a.ip6Legacy, b.ip6Legacy},
	} {
		if c.a != c.b {
			t.Errorf("%s: %s differs:\n%s\nwant:\n%s", what, c.name, c.b, c.a)
		}
	}
}

// restoreFile loads iptables-save text with a restore program inside the
// namespace (a file argument: lab's Exec passes no stdin).
func restoreFile(t *testing.T, h *lab.Host, tool, rules string) {
	t.Helper()
	f := filepath.Join(t.TempDir(), "rules")
	if err := os.WriteFile(f, []byte(rules), 0o600); err != nil {
		t.Fatal(err)
	}
	h.Exec(tool, f)
}

func writeFiles(t *testing.T, dir string, files map[string]string) {
	t.Helper()
	for name, content := range files {
		p := filepath.Join(dir, name)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
	}
}

func readFile(t *testing.T, p string) string {
	t.Helper()
	b, err := os.ReadFile(p)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

type manifest struct {
	Version  int    `json:"version"`
	Created  string `json:"created"`
	Hostname string `json:"hostname"`
	Netns    string `json:"netns"`
	Files    []struct {
		Name   string `json:"name"`
		SHA256 string `json:"sha256"`
		Bytes  int64  `json:"bytes"`
		Source string `json:"source"`
	} `json:"files"`
	Notes        []string `json:"notes"`
	MissingTools []string `json:"missing_tools"`
}

func readManifest(t *testing.T, dir string) manifest {
	t.Helper()
	var m manifest
	if err := json.Unmarshal([]byte(readFile(t, filepath.Join(dir, "manifest.json"))), &m); err != nil {
		t.Fatal(err)
	}
	return m
}

// onlyDir returns the single entry of dir whose name matches re.
func onlyDir(t *testing.T, dir string, re string) string {
	t.Helper()
	entries, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	var found []string
	for _, e := range entries {
		if regexp.MustCompile(re).MatchString(e.Name()) {
			found = append(found, filepath.Join(dir, e.Name()))
		}
	}
	if len(found) != 1 {
		t.Fatalf("%s: want one entry matching %s, have %v", dir, re, found)
	}
	return found[0]
}

const nativeRuleset = `table inet pcfw {
	set allowed {
		type ipv4_addr
		flags interval
		elements = { 10.1.0.0/16, 192.0.2.7 }
	}
	map ports {
		type inet_service : verdict
		elements = { 22 : accept }
	}
	chain input {
		type filter hook input priority 0; policy accept;
		ip saddr @allowed tcp dport 8080 accept
		tcp dport vmap @ports
		jump helper
		tcp dport 9090 drop
	}
	chain helper {
		udp dport 53 counter accept
	}
}
`

const iptNFTRules = `*filter
:INPUT ACCEPT [0:0]
:FORWARD DROP [0:0]
:OUTPUT ACCEPT [0:0]
:PCCHAIN - [0:0]
-A INPUT -p tcp -m tcp --dport 22 -m comment --comment ssh -j ACCEPT
-A INPUT -s 198.51.100.0/24 -j PCCHAIN
-A PCCHAIN -j DROP
COMMIT
`

const ip6NFTRules = `*filter
:INPUT ACCEPT [0:0]
:FORWARD ACCEPT [0:0]
:OUTPUT ACCEPT [0:0]
-A INPUT -p tcp -m tcp --dport 443 -j ACCEPT
COMMIT
`

const legacyRules = `*filter
:INPUT ACCEPT [0:0]
:FORWARD ACCEPT [0:0]
:OUTPUT DROP [0:0]
-A INPUT -p tcp -m tcp --dport 23 -j REJECT --reject-with tcp-reset
-A OUTPUT -o lo -j ACCEPT
COMMIT
`

// Backup and restore end to end, in a lab namespace: nothing here changes
// the machine's own firewall.
func TestBackupRestoreLab(t *testing.T) {
	lab.Require(t, "nft", "iptables-nft-save", "iptables-legacy-save", "ip6tables-nft-save", "ip6tables-legacy-save",
		"iptables-nft-restore", "ip6tables-nft-restore", "iptables-legacy-restore", "iptables-nft", "iptables-legacy", "ip6tables-nft", "sha256sum")
	l := lab.New(t)
	h := l.Host("server")
	h.NFT(nativeRuleset)
	restoreFile(t, h, "iptables-nft-restore", iptNFTRules)
	restoreFile(t, h, "ip6tables-nft-restore", ip6NFTRules)
	restoreFile(t, h, "iptables-legacy-restore", legacyRules)
	fwd := filepath.Join(t.TempDir(), "firewalld")
	writeFiles(t, fwd, map[string]string{
		"firewalld.conf":          "DefaultZone=public\n",
		"zones/public.xml":        "<zone><service name=\"ssh\"/></zone>\n",
		"services/custom/app.xml": "<service><port port=\"8080\" protocol=\"tcp\"/></service>\n",
	})
	secret := filepath.Join(t.TempDir(), "secret")
	writeFiles(t, filepath.Dir(secret), map[string]string{"secret": "outside the config dir\n"})
	if err := os.Symlink(secret, filepath.Join(fwd, "zones", "link.xml")); err != nil {
		t.Fatal(err)
	}
	original := readState(t, h.Path())
	for _, want := range []string{"set allowed", "map ports", "chain helper"} {
		if !strings.Contains(original.nft, want) {
			t.Fatalf("lab setup: ruleset lacks %q:\n%s", want, original.nft)
		}
	}

	// Backup.
	backups := filepath.Join(t.TempDir(), "backups")
	code, out, errOut := runCmd(t, "backup", "-netns", h.Path(), "-firewalld-config", fwd, backups)
	if code != 0 {
		t.Fatalf("backup: exit %d\n%s\n%s", code, out, errOut)
	}
	dir := onlyDir(t, backups, `^\d{8}T\d{6}Z$`)
	if !strings.HasPrefix(out, dir+"\n") {
		t.Errorf("backup output does not start with the directory %s:\n%s", dir, out)
	}
	if fi, err := os.Stat(backups); err != nil || fi.Mode().Perm() != 0o700 {
		t.Errorf("%s: %v %v, want mode 0700", backups, fi.Mode().Perm(), err)
	}
	m := readManifest(t, dir)
	if m.Version != 1 || m.Netns != h.Path() || m.Created == "" || m.Hostname == "" {
		t.Errorf("manifest header: %+v", m)
	}
	var names []string
	for _, f := range m.Files {
		names = append(names, f.Name)
		if !strings.Contains(out, f.Name) {
			t.Errorf("backup output has no line for %s:\n%s", f.Name, out)
		}
		fi, err := os.Stat(filepath.Join(dir, f.Name))
		if err != nil || fi.Size() != f.Bytes || fi.Mode().Perm() != 0o600 {
			t.Errorf("%s: %v, size %d (manifest %d), mode %v", f.Name, err, fi.Size(), f.Bytes, fi.Mode().Perm())
		}
	}
	wantNames := []string{"nft.ruleset", "nft-full.ruleset", "iptables-nft.rules", "ip6tables-nft.rules", "iptables-legacy.rules",
		"firewalld/firewalld.conf", "firewalld/services/custom/app.xml", "firewalld/zones/public.xml"}
	if strings.Join(names, " ") != strings.Join(wantNames, " ") {
		t.Errorf("files %v, want %v", names, wantNames)
	}
	if !strings.Contains(strings.Join(m.Notes, "\n"), "link.xml: a symbolic link") {
		t.Errorf("notes do not mention the skipped link: %q", m.Notes)
	}
	cmd := exec.Command("sha256sum", "-c", "SHA256SUMS")
	cmd.Dir = dir
	if b, err := cmd.CombinedOutput(); err != nil {
		t.Errorf("sha256sum -c: %v\n%s", err, b)
	} else if strings.Count(string(b), ": OK") != len(m.Files)+1 {
		t.Errorf("sha256sum -c checked %d files, want %d:\n%s", strings.Count(string(b), ": OK"), len(m.Files)+1, b)
	}
	ruleset := readFile(t, filepath.Join(dir, "nft.ruleset"))
	if !strings.HasPrefix(ruleset, "table inet pcfw {") || strings.Contains(ruleset, "table ip filter") || strings.Contains(ruleset, "table ip6 filter") {
		t.Errorf("nft.ruleset should hold exactly the native table:\n%s", ruleset)
	}
	if strings.Contains(ruleset, "packets") {
		t.Errorf("nft.ruleset has counter values (not written with -s):\n%s", ruleset)
	}
	if !strings.Contains(readFile(t, filepath.Join(dir, "nft-full.ruleset")), "table ip filter") {
		t.Errorf("nft-full.ruleset lacks the iptables-nft table")
	}
	if r := readFile(t, filepath.Join(dir, "iptables-legacy.rules")); !strings.Contains(r, "--dport 23 -j REJECT") {
		t.Errorf("iptables-legacy.rules:\n%s", r)
	}
	if got := readFile(t, filepath.Join(dir, "firewalld/zones/public.xml")); !strings.Contains(got, `"ssh"`) {
		t.Errorf("firewalld copy: %q", got)
	}

	// Change all three rulesets and the firewalld configuration.
	h.NFT(`add element inet pcfw allowed { 203.0.113.9 }
flush chain inet pcfw input
delete map inet pcfw ports
add rule inet pcfw input tcp dport 7000 drop
table ip6 pcextra {
	chain c {
		type filter hook input priority 10; policy drop;
	}
}
`)
	h.Exec("iptables-nft", "-D", "PCCHAIN", "1")
	h.Exec("iptables-nft", "-P", "FORWARD", "ACCEPT")
	h.Exec("iptables-nft", "-t", "nat", "-A", "POSTROUTING", "-o", "lo", "-j", "MASQUERADE")
	h.Exec("ip6tables-nft", "-F", "INPUT")
	h.Exec("iptables-legacy", "-F", "INPUT")
	h.Exec("iptables-legacy", "-t", "nat", "-N", "PCLEGACY")
	h.Exec("iptables-legacy", "-t", "nat", "-A", "OUTPUT", "-p", "tcp", "--dport", "25", "-j", "PCLEGACY")
	writeFiles(t, fwd, map[string]string{"zones/public.xml": "<zone/>\n", "zones/extra.xml": "<zone>new</zone>\n"})
	if err := os.Remove(filepath.Join(fwd, "firewalld.conf")); err != nil {
		t.Fatal(err)
	}
	changed := readState(t, h.Path())
	if changed.nft == original.nft || changed.iptNFT == original.iptNFT || changed.ip6NFT == original.ip6NFT || changed.iptLegacy == original.iptLegacy {
		t.Fatalf("the changes did not change every ruleset")
	}

	// Without --yes: the plan, exit 2, nothing changed.
	code, out, errOut = runCmd(t, "restore", "-netns", h.Path(), "-firewalld-config", fwd, dir)
	if code != 2 || !strings.Contains(errOut, "restore changes the host's firewall; run again with --yes") {
		t.Fatalf("restore without --yes: exit %d\n%s\n%s", code, out, errOut)
	}
	for _, want := range []string{
		"delete table inet pcfw", "delete table ip6 pcextra", "delete table ip nat (iptables-nft table not in the backup)",
		"load nft.ruleset: table inet pcfw", "iptables-nft-restore < iptables-nft.rules", "ip6tables-nft-restore < ip6tables-nft.rules",
		"iptables-legacy-restore < iptables-legacy.rules", "empties tables not in the backup (built-in chains ACCEPT, no rules): nat",
		"copy 3 firewalld files", "left as they are: zones/extra.xml", "pre-restore-",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("plan lacks %q:\n%s", want, out)
		}
	}
	changed.diff(t, readState(t, h.Path()), "after restore without --yes")
	if readFile(t, filepath.Join(fwd, "zones/public.xml")) != "<zone/>\n" {
		t.Errorf("restore without --yes changed the firewalld configuration")
	}

	// A tampered copy: refused with exit 1 naming the file; nothing changed.
	tampered := filepath.Join(t.TempDir(), filepath.Base(dir))
	if b, err := exec.Command("cp", "-a", dir, tampered).CombinedOutput(); err != nil {
		t.Fatalf("cp: %v %s", err, b)
	}
	if err := os.WriteFile(filepath.Join(tampered, "nft.ruleset"), []byte(strings.Replace(ruleset, "tcp dport 9090 drop", "tcp dport 9090 accept", 1)), 0o600); err != nil {
		t.Fatal(err)
	}
	code, out, errOut = runCmd(t, "restore", "-netns", h.Path(), "-firewalld-config", fwd, "--yes", tampered)
	if code != 1 || !strings.Contains(errOut, "nft.ruleset does not match its checksum") {
		t.Fatalf("tampered restore: exit %d\n%s\n%s", code, out, errOut)
	}
	changed.diff(t, readState(t, h.Path()), "after the refused restore")
	if entries, _ := os.ReadDir(filepath.Dir(tampered)); len(entries) != 1 {
		t.Errorf("the refused restore wrote next to the backup: %v", entries)
	}

	// --yes: restored and verified.
	code, out, errOut = runCmd(t, "restore", "-netns", h.Path(), "-firewalld-config", fwd, "-yes", dir)
	if code != 0 || !strings.Contains(out, "restored and verified") {
		t.Fatalf("restore --yes: exit %d\n%s\n%s", code, out, errOut)
	}
	original.diff(t, readState(t, h.Path()), "after restore --yes")
	for name, want := range map[string]string{
		"firewalld.conf":          "DefaultZone=public\n",
		"zones/public.xml":        "<zone><service name=\"ssh\"/></zone>\n",
		"services/custom/app.xml": "<service><port port=\"8080\" protocol=\"tcp\"/></service>\n",
		"zones/extra.xml":         "<zone>new</zone>\n", // not in the backup: left as it is
	} {
		if got := readFile(t, filepath.Join(fwd, name)); got != want {
			t.Errorf("firewalld %s = %q, want %q", name, got, want)
		}
	}
	if readFile(t, secret) != "outside the config dir\n" {
		t.Errorf("the file behind the symbolic link changed")
	}
	if !strings.Contains(out, "firewalld not reloaded") {
		t.Errorf("restore output does not say firewalld was not reloaded:\n%s", out)
	}

	// The pre-restore backup holds the changed state and is itself verified.
	pre := onlyDir(t, backups, `^pre-restore-\d{8}T\d{6}Z$`)
	if !strings.Contains(out, "Saved the current firewall to "+pre) {
		t.Errorf("restore output does not name the pre-restore backup %s:\n%s", pre, out)
	}
	if r := readFile(t, filepath.Join(pre, "iptables-legacy.rules")); !strings.Contains(r, "--dport 25 -j PCLEGACY") {
		t.Errorf("pre-restore iptables-legacy.rules lacks the change:\n%s", r)
	}
	if r := readFile(t, filepath.Join(pre, "nft.ruleset")); !strings.Contains(r, "table ip6 pcextra") {
		t.Errorf("pre-restore nft.ruleset lacks the change:\n%s", r)
	}
	cmd = exec.Command("sha256sum", "-c", "--quiet", "SHA256SUMS")
	cmd.Dir = pre
	if b, err := cmd.CombinedOutput(); err != nil {
		t.Errorf("sha256sum -c in the pre-restore backup: %v\n%s", err, b)
	}

	// Rolling back with the pre-restore backup brings the changes back.
	code, out, errOut = runCmd(t, "restore", "-netns", h.Path(), "-firewalld-config", fwd, "--yes", pre)
	if code != 0 || !strings.Contains(out, "restored and verified") {
		t.Fatalf("restore of the pre-restore backup: exit %d\n%s\n%s", code, out, errOut)
	}
	// iptables-nft made only the chains it used (ip nat has POSTROUTING
	// alone); iptables-nft-restore makes every built-in chain of a table
	// it restores. So the native tables and the save outputs must match
	// here, not the nft listing of the iptables-nft tables.
	if n := changed.nativeOnly().nft; !strings.Contains(n, "table ip6 pcextra") || !strings.Contains(n, "table inet pcfw") {
		t.Fatalf("nativeOnly lost the native tables:\n%s", n)
	}
	changed.nativeOnly().diff(t, readState(t, h.Path()).nativeOnly(), "after rolling back")

	// A backup whose checksums match but whose ruleset nft lists
	// differently after loading it (written by hand, or by another nft
	// version): the restore runs, the verification finds the difference,
	// and the pre-restore backup is named for the roll back.
	odd := filepath.Join(t.TempDir(), filepath.Base(dir))
	if b, err := exec.Command("cp", "-a", dir, odd).CombinedOutput(); err != nil {
		t.Fatalf("cp: %v %s", err, b)
	}
	rewrite(t, odd, "nft.ruleset", strings.Replace(ruleset, "tcp dport 9090 drop", "ip daddr 10.9.9.9/8 drop", 1))
	code, out, errOut = runCmd(t, "restore", "-netns", h.Path(), "-firewalld-config", fwd, "--yes", odd)
	if code != 1 {
		t.Fatalf("restore of a ruleset that lists differently: exit %d\n%s\n%s", code, out, errOut)
	}
	preOdd := onlyDir(t, filepath.Dir(odd), `^pre-restore-`)
	for _, want := range []string{"--- nft.ruleset", "-\t\tip daddr 10.9.9.9/8 drop", "+\t\tip daddr 10.0.0.0/8 drop", "roll back with:", "--yes " + preOdd} {
		if !strings.Contains(errOut, want) {
			t.Errorf("verification failure output lacks %q:\n%s", want, errOut)
		}
	}

	// A ruleset nft refuses: the nft transaction fails as a whole, so
	// nothing changes, and the later steps do not run.
	before := readState(t, h.Path())
	rewrite(t, odd, "nft.ruleset", strings.Replace(ruleset, "@allowed", "@nosuchset", 1))
	code, out, errOut = runCmd(t, "restore", "-netns", h.Path(), "-firewalld-config", fwd, "--yes", odd)
	if code != 1 || !strings.Contains(errOut, "nosuchset") || !strings.Contains(errOut, "Nothing was changed") {
		t.Fatalf("restore of a ruleset nft refuses: exit %d\n%s\n%s", code, out, errOut)
	}
	if strings.Contains(out, "iptables-nft-restore") {
		t.Errorf("steps after the failed nft transaction ran:\n%s", out)
	}
	before.diff(t, readState(t, h.Path()), "after the failed nft transaction")
}

// rewrite replaces a file of a backup and updates its checksums, as a
// backup made elsewhere would have them.
func rewrite(t *testing.T, dir, name, content string) {
	t.Helper()
	if err := os.WriteFile(filepath.Join(dir, name), []byte(content), 0o600); err != nil {
		t.Fatal(err)
	}
	var m map[string]any
	if err := json.Unmarshal([]byte(readFile(t, filepath.Join(dir, "manifest.json"))), &m); err != nil {
		t.Fatal(err)
	}
	sum := func(b []byte) string { s := sha256.Sum256(b); return hex.EncodeToString(s[:]) }
	var sums strings.Builder
	for _, f := range m["files"].([]any) {
		f := f.(map[string]any)
		if f["name"] == name {
			f["sha256"] = sum([]byte(content))
			f["bytes"] = len(content)
		}
		fmt.Fprintf(&sums, "%s  %s\n", f["sha256"], f["name"])
	}
	mj, _ := json.MarshalIndent(m, "", "  ")
	fmt.Fprintf(&sums, "%s  manifest.json\n", sum(mj))
	if err := os.WriteFile(filepath.Join(dir, "manifest.json"), mj, 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "SHA256SUMS"), []byte(sums.String()), 0o600); err != nil {
		t.Fatal(err)
	}
}

// nativeOnly keeps the native nft tables of the listing.
func (a fwState) nativeOnly() fwState {
	var keep []string
	for _, b := range strings.Split(a.nft, "\n}") {
		b = strings.TrimPrefix(b, "\n")
		if strings.HasPrefix(b, "table inet pcfw ") || strings.HasPrefix(b, "table ip6 pcextra ") {
			keep = append(keep, b+"\n}")
		}
	}
	a.nft = strings.Join(keep, "\n")
	return a
}

// A program that is not installed is noted in the manifest, not an error,
// and a restore leaves what it would have saved alone.
func TestBackupMissingTools(t *testing.T) {
	lab.Require(t, "nft", "iptables-nft-save", "iptables-legacy-save", "iptables-legacy")
	l := lab.New(t)
	h := l.Host("server")
	h.NFT("table inet pconly {\n\tchain c {\n\t\ttype filter hook output priority 0;\n\t}\n}\n")
	bin := t.TempDir()
	nft, _ := exec.LookPath("nft")
	if err := os.Symlink(nft, filepath.Join(bin, "nft")); err != nil {
		t.Fatal(err)
	}
	fwd := filepath.Join(t.TempDir(), "absent")
	backups := t.TempDir()
	path := os.Getenv("PATH")

	t.Setenv("PATH", bin)
	code, out, errOut := runCmd(t, "backup", "-netns", h.Path(), "-firewalld-config", fwd, backups)
	t.Setenv("PATH", path)
	if code != 0 {
		t.Fatalf("backup: exit %d\n%s\n%s", code, out, errOut)
	}
	dir := onlyDir(t, backups, `^\d{8}T`)
	m := readManifest(t, dir)
	if strings.Join(m.MissingTools, " ") != "iptables-nft-save ip6tables-nft-save iptables-legacy-save ip6tables-legacy-save" {
		t.Errorf("missing_tools: %q", m.MissingTools)
	}
	notes := strings.Join(m.Notes, "\n")
	for _, want := range []string{"iptables-legacy-save is not installed", "absent does not exist"} {
		if !strings.Contains(notes, want) || !strings.Contains(out, want) {
			t.Errorf("notes (and output) lack %q:\nnotes: %s\noutput:\n%s", want, notes, out)
		}
	}
	if len(m.Files) != 2 || m.Files[0].Name != "nft.ruleset" || m.Files[1].Name != "nft-full.ruleset" {
		t.Errorf("files: %+v", m.Files)
	}

	h.NFT("table ip pcnew {\n\tchain c {\n\t\ttype filter hook input priority 0;\n\t}\n}\n")
	h.Exec("iptables-legacy", "-A", "INPUT", "-p", "tcp", "--dport", "2", "-j", "DROP")
	t.Setenv("PATH", bin)
	code, out, errOut = runCmd(t, "restore", "-netns", h.Path(), "-firewalld-config", fwd, "--yes", dir)
	t.Setenv("PATH", path)
	if code != 0 {
		t.Fatalf("restore: exit %d\n%s\n%s", code, out, errOut)
	}
	st, err := netns.Output(context.Background(), h.Path(), nil, "nft", "list", "tables")
	if err != nil {
		t.Fatal(err)
	}
	if strings.Contains(string(st), "pcnew") || !strings.Contains(string(st), "pconly") {
		t.Errorf("tables after restore:\n%s", st)
	}
	leg, err := netns.Output(context.Background(), h.Path(), nil, "iptables-legacy-save")
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(leg), "--dport 2 -j DROP") {
		t.Errorf("the legacy rule the backup could not save was not left alone:\n%s", leg)
	}
}

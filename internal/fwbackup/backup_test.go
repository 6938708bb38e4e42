package fwbackup

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/portcheck/portcheck/internal/lab"
	"github.com/portcheck/portcheck/internal/netns"
)

// handMade is a snapshot as Read would return it, without reading a host.
func handMade() *Snapshot {
	return &Snapshot{
		Opts: Options{Netns: "/run/netns/x"},
		Files: []Content{
			{Name: NFTName, Data: []byte(nftOut), Source: "nft -s list table inet fw"},
			{Name: "iptables-legacy.rules", Data: []byte(saveOut), Source: "iptables-legacy-save"},
			{Name: FirewalldPrefix + "zones/public.xml", Data: []byte("<zone/>\n"), Source: "/etc/firewalld/zones/public.xml", Mode: 0o640},
		},
		Notes:   []string{"iptables-nft-save is not installed"},
		Missing: []string{"iptables-nft-save", "ip6tables-nft-save", "ip6tables-legacy-save"},
		XT:      map[string][]saveTable{"iptables-legacy-save": parseSave([]byte(saveOut))},
	}
}

func TestWriteAndOpen(t *testing.T) {
	parent := filepath.Join(t.TempDir(), "backups")
	now := time.Date(2026, 11, 27, 3, 45, 12, 0, time.UTC)
	res, err := handMade().Write(parent, "", now)
	if err != nil {
		t.Fatal(err)
	}
	if want := filepath.Join(parent, "20261127T034512Z"); res.Dir != want {
		t.Errorf("dir %s, want %s", res.Dir, want)
	}
	// The same second again: a new directory, never the old one.
	res2, err := handMade().Write(parent, "", now)
	if err != nil {
		t.Fatal(err)
	}
	if res2.Dir != res.Dir+"-2" {
		t.Errorf("second backup in the same second: %s", res2.Dir)
	}
	for _, d := range []string{parent, res.Dir, filepath.Join(res.Dir, "firewalld", "zones")} {
		if fi, err := os.Stat(d); err != nil || fi.Mode().Perm() != 0o700 {
			t.Errorf("%s: mode %v, err %v; want 0700", d, fi.Mode().Perm(), err)
		}
	}
	for _, f := range []string{NFTName, ManifestName, SumsName, "firewalld/zones/public.xml"} {
		if fi, err := os.Stat(filepath.Join(res.Dir, f)); err != nil || fi.Mode().Perm() != 0o600 {
			t.Errorf("%s: mode %v, err %v; want 0600", f, fi.Mode().Perm(), err)
		}
	}
	cmd := exec.Command("sha256sum", "-c", SumsName)
	cmd.Dir = res.Dir
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Errorf("sha256sum -c: %v\n%s", err, out)
	}
	var m Manifest
	mj, _ := os.ReadFile(filepath.Join(res.Dir, ManifestName))
	if err := json.Unmarshal(mj, &m); err != nil {
		t.Fatal(err)
	}
	if m.Version != 1 || m.Created != "2026-11-27T03:45:12Z" || m.Netns != "/run/netns/x" || len(m.Files) != 3 || m.Files[2].Mode != "0640" {
		t.Errorf("manifest: %s", mj)
	}

	b, err := Open(res.Dir)
	if err != nil {
		t.Fatal(err)
	}
	if d, _ := b.Data(NFTName); string(d) != nftOut {
		t.Errorf("nft.ruleset read back: %q", d)
	}
	if b.modes["firewalld/zones/public.xml"] != 0o640 {
		t.Errorf("mode read back: %v", b.modes)
	}
}

func TestOpenRefusesTampering(t *testing.T) {
	write := func(t *testing.T) string {
		res, err := handMade().Write(t.TempDir(), "", time.Now())
		if err != nil {
			t.Fatal(err)
		}
		return res.Dir
	}
	tests := []struct {
		name   string
		tamper func(dir string) error
		want   string
	}{
		{"changed file", func(dir string) error {
			return os.WriteFile(filepath.Join(dir, "iptables-legacy.rules"), []byte("*filter\nCOMMIT\n"), 0o600)
		}, "iptables-legacy.rules does not match its checksum"},
		{"missing file", func(dir string) error {
			return os.Remove(filepath.Join(dir, "firewalld/zones/public.xml"))
		}, "firewalld/zones/public.xml is missing"},
		{"manifest points outside", func(dir string) error {
			return editManifest(dir, func(m *Manifest) { m.Files[0].Name = "firewalld/../../etc/passwd" })
		}, `lists "firewalld/../../etc/passwd"`},
		{"manifest edited", func(dir string) error {
			return editManifest(dir, func(m *Manifest) { m.Hostname = "elsewhere" })
		}, "manifest.json does not match its checksum in SHA256SUMS"},
		{"damaged manifest", func(dir string) error {
			return os.WriteFile(filepath.Join(dir, ManifestName), []byte("{"), 0o600)
		}, "manifest.json is damaged"},
		{"no SHA256SUMS", func(dir string) error {
			return os.Remove(filepath.Join(dir, SumsName))
		}, "SHA256SUMS is missing"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := write(t)
			if err := tt.tamper(dir); err != nil {
				t.Fatal(err)
			}
			_, err := Open(dir)
			var ie *IntegrityError
			if !errors.As(err, &ie) {
				t.Fatalf("Open: %v, want an IntegrityError", err)
			}
			if !strings.Contains(err.Error(), tt.want) {
				t.Errorf("error %q lacks %q", err, tt.want)
			}
		})
	}
	_, err := Open(t.TempDir())
	var nb *NotBackupError
	if !errors.As(err, &nb) || !strings.Contains(err.Error(), "no manifest.json") {
		t.Errorf("empty directory: %v", err)
	}
}

func editManifest(dir string, edit func(*Manifest)) error {
	p := filepath.Join(dir, ManifestName)
	b, err := os.ReadFile(p)
	if err != nil {
		return err
	}
	var m Manifest
	if err := json.Unmarshal(b, &m); err != nil {
		return err
	}
	edit(&m)
	b, _ = json.Marshal(m)
	return os.WriteFile(p, b, 0o600)
}

func TestCompare(t *testing.T) {
	res, err := handMade().Write(t.TempDir(), "", time.Now())
	if err != nil {
		t.Fatal(err)
	}
	b, err := Open(res.Dir)
	if err != nil {
		t.Fatal(err)
	}
	// The same state, with other counters, comments and an empty legacy
	// table: no difference.
	same := handMade()
	same.Native = []Table{{"inet", "fw"}}
	same.Files[1].Data = []byte(strings.NewReplacer("[10:600]", "[1:1]", "Generated", "Made", "*nat", "*raw").Replace(saveOut))
	if d := Compare(b, same); len(d) != 0 {
		t.Errorf("Compare of an equal state: %+v", d)
	}
	changed := handMade()
	changed.Native = []Table{{"inet", "fw"}}
	changed.Files[0].Data = []byte(strings.Replace(nftOut, "ip saddr @s accept", "ip saddr @s drop", 1))
	changed.Files[1].Data = []byte(strings.Replace(saveOut, "--dport 23", "--dport 24", 1))
	changed.Files = changed.Files[:2] // firewalld file gone
	d := Compare(b, changed)
	if len(d) != 3 {
		t.Fatalf("Compare: %+v, want 3 differing files", d)
	}
	if d[0].Name != NFTName || !contains(d[0].Lines, "-\t\tip saddr @s accept") || !contains(d[0].Lines, "+\t\tip saddr @s drop") {
		t.Errorf("nft diff: %+v", d[0])
	}
	if d[1].Name != "iptables-legacy.rules" || !contains(d[1].Lines, "+-A INPUT -p tcp -m tcp --dport 24 -j mine") {
		t.Errorf("legacy diff: %+v", d[1])
	}
	if d[2].Name != "firewalld/zones/public.xml" || !strings.Contains(d[2].Lines[0], "missing") {
		t.Errorf("firewalld diff: %+v", d[2])
	}
}

func contains(ls []string, s string) bool {
	for _, l := range ls {
		if l == s {
			return true
		}
	}
	return false
}

func nsOut(t *testing.T, ns string, name string, args ...string) string {
	t.Helper()
	out, err := netns.Output(context.Background(), ns, nil, name, args...)
	if err != nil {
		t.Fatal(err)
	}
	return string(out)
}

// A native table that has the name of an iptables table is native: it is
// saved in nft.ruleset, not as iptables-nft rules, and restored by nft even
// when iptables-nft has taken the name since.
func TestNativeTableNamedLikeIptables(t *testing.T) {
	lab.Require(t, "nft", "iptables-nft-save", "iptables-legacy-save", "iptables-nft", "iptables-nft-restore")
	l := lab.New(t)
	h := l.Host("server")
	h.NFT(`table ip raw {
	set blocked {
		type ipv4_addr
		elements = { 192.0.2.1 }
	}
}
table ip mangle {
	chain mine {
		type filter hook input priority -150; policy accept;
		ip saddr 192.0.2.2 drop
	}
}`)
	h.Exec("iptables-nft", "-A", "INPUT", "-p", "tcp", "--dport", "22", "-j", "ACCEPT")
	opts := Options{Netns: h.Path(), FirewalldDir: filepath.Join(t.TempDir(), "none")}
	ctx := context.Background()
	s, err := Read(ctx, opts)
	if err != nil {
		t.Fatal(err)
	}
	ruleset, _ := s.File(NFTName)
	if !strings.Contains(string(ruleset.Data), "table ip raw {") || !strings.Contains(string(ruleset.Data), "table ip mangle {") || strings.Contains(string(ruleset.Data), "table ip filter") {
		t.Errorf("nft.ruleset:\n%s", ruleset.Data)
	}
	rules, _ := s.File("iptables-nft.rules")
	if tabs := tableNames(parseSave(rules.Data)); !tabs["filter"] || tabs["raw"] || tabs["mangle"] {
		t.Errorf("iptables-nft.rules holds %v:\n%s", tabs, rules.Data)
	}
	res, err := s.Write(t.TempDir(), "", time.Now())
	if err != nil {
		t.Fatal(err)
	}
	native := func() string {
		return nsOut(t, h.Path(), "nft", "-s", "list", "table", "ip", "raw") + nsOut(t, h.Path(), "nft", "-s", "list", "table", "ip", "mangle")
	}
	want := native()

	// iptables-nft takes over the name raw; the native mangle table goes.
	h.Exec("nft", "delete", "table", "ip", "raw")
	h.Exec("nft", "delete", "table", "ip", "mangle")
	h.Exec("iptables-nft", "-t", "raw", "-A", "PREROUTING", "-p", "udp", "-j", "ACCEPT")

	b, err := Open(res.Dir)
	if err != nil {
		t.Fatal(err)
	}
	p, err := NewPlan(ctx, opts, b)
	if err != nil {
		t.Fatal(err)
	}
	var plan strings.Builder
	p.Print(&plan)
	if !strings.Contains(plan.String(), "delete table ip raw (iptables-nft table now, native in the backup)") {
		t.Errorf("plan:\n%s", plan.String())
	}
	out, err := p.Execute(ctx, io.Discard, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	if len(out.Diffs) != 0 {
		t.Fatalf("not verified: %+v", out.Diffs)
	}
	if got := native(); got != want {
		t.Errorf("after restore:\n%s\nwant:\n%s", got, want)
	}
	if _, err := os.Stat(filepath.Join(out.PreRestore, ManifestName)); err != nil {
		t.Errorf("pre-restore backup: %v", err)
	}
	if !strings.HasPrefix(filepath.Base(out.PreRestore), PreRestorePrefix) || filepath.Dir(out.PreRestore) != filepath.Dir(res.Dir) {
		t.Errorf("pre-restore backup at %s, want a %s… sibling of %s", out.PreRestore, PreRestorePrefix, res.Dir)
	}
}

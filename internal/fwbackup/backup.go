// Package fwbackup saves and restores the firewall of this machine or of a
// network namespace: the native nftables tables, the iptables-nft and
// iptables-legacy rules, and the firewalld permanent configuration.
//
// A backup is a directory of plain files named by the UTC time it was taken,
// with manifest.json (what each file holds, where it came from, its SHA-256)
// and SHA256SUMS for `sha256sum -c`. Taking a backup only runs list and save
// commands. A restore refuses a backup whose checksums do not match, saves
// the current state first, applies the native nftables tables as one
// transaction, and re-reads everything afterwards to verify the result.
package fwbackup

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/portcheck/portcheck/internal/netns"
	"github.com/portcheck/portcheck/providers/firewall/iptables"
)

// File names inside a backup directory.
const (
	ManifestName    = "manifest.json"
	SumsName        = "SHA256SUMS"
	NFTName         = "nft.ruleset"      // native nftables tables, restorable with nft -f
	NFTFullName     = "nft-full.ruleset" // the whole ruleset, for reference only
	FirewalldPrefix = "firewalld/"       // the firewalld permanent configuration
)

// DefaultFirewalldDir is where firewalld keeps its permanent configuration.
const DefaultFirewalldDir = "/etc/firewalld"

// TimeLayout names backup directories: 20261127T034512Z (UTC).
const TimeLayout = "20060102T150405Z"

// PreRestorePrefix starts the name of the backup a restore takes first.
const PreRestorePrefix = "pre-restore-"

// ManifestVersion is the manifest format this package writes and reads.
const ManifestVersion = 1

// Options say whose firewall is read or restored.
type Options struct {
	// Netns is the path of a network namespace file (/run/netns/NAME,
	// /proc/PID/ns/net); "" is this machine's namespace.
	Netns string
	// FirewalldDir is the firewalld permanent configuration directory;
	// "" is DefaultFirewalldDir.
	FirewalldDir string
}

func (o Options) firewalldDir() string {
	if o.FirewalldDir == "" {
		return DefaultFirewalldDir
	}
	return o.FirewalldDir
}

// where names the target for messages.
func (o Options) where() string {
	if o.Netns == "" {
		return "this machine"
	}
	return "network namespace " + o.Netns
}

// run runs a program in the target namespace and returns its stdout.
func (o Options) run(ctx context.Context, stdin []byte, name string, args ...string) ([]byte, error) {
	out, err := netns.Output(ctx, o.Netns, stdin, name, args...)
	if err != nil {
		cmd := strings.Join(append([]string{name}, args...), " ")
		if stdin != nil {
			cmd += " (with input)"
		}
		if o.Netns != "" {
			return nil, fmt.Errorf("command %q in %s failed: %w", cmd, o.where(), err)
		}
		return nil, fmt.Errorf("command %q failed: %w", cmd, err)
	}
	return out, nil
}

// have reports whether a program is on PATH.
func have(name string) bool {
	_, err := exec.LookPath(name)
	return err == nil
}

// xtable is one iptables variant and family.
type xtable struct {
	save, restore string
	file          string
	family        string // nft family of its tables: ip or ip6
	nft           bool   // iptables-nft (its tables live in nftables)
}

var xtables = []xtable{
	{"iptables-nft-save", "iptables-nft-restore", "iptables-nft.rules", "ip", true},
	{"ip6tables-nft-save", "ip6tables-nft-restore", "ip6tables-nft.rules", "ip6", true},
	{"iptables-legacy-save", "iptables-legacy-restore", "iptables-legacy.rules", "ip", false},
	{"ip6tables-legacy-save", "ip6tables-legacy-restore", "ip6tables-legacy.rules", "ip6", false},
}

// Manifest describes a backup; it is manifest.json.
type Manifest struct {
	Version  int      `json:"version"`
	Created  string   `json:"created"` // RFC 3339, UTC
	Hostname string   `json:"hostname"`
	Netns    string   `json:"netns"` // "" = the machine's own namespace
	Files    []File   `json:"files"`
	Notes    []string `json:"notes"`
	// MissingTools are the programs that were not installed, so the parts
	// of the firewall they read are not in the backup (and a restore
	// leaves those parts alone).
	MissingTools []string `json:"missing_tools,omitempty"`
}

// File is one saved file.
type File struct {
	Name   string `json:"name"` // slash-separated, relative to the backup directory
	SHA256 string `json:"sha256"`
	Bytes  int64  `json:"bytes"`
	Source string `json:"source"` // the command or path it came from
	// Mode is the permission of a firewalld file (octal, e.g. "0640"),
	// used when it is restored.
	Mode string `json:"mode,omitempty"`
}

// Content is one file of a snapshot.
type Content struct {
	Name   string
	Data   []byte
	Source string
	Mode   fs.FileMode // firewalld files only
}

// Table is an nftables table.
type Table struct{ Family, Name string }

func (t Table) String() string { return t.Family + " " + t.Name }

// Snapshot is one reading of the firewall.
type Snapshot struct {
	Opts    Options
	Files   []Content
	Notes   []string
	Missing []string // programs not installed
	// Native are the nftables tables not managed by iptables-nft; nil
	// when nft is not installed.
	Native []Table
	// XT holds the tables each save program printed (after removing the
	// ones that belong to native nftables), by program name; a program
	// that is not installed has no entry.
	XT map[string][]saveTable
}

func (s *Snapshot) note(format string, args ...any) {
	s.Notes = append(s.Notes, fmt.Sprintf(format, args...))
}

func (s *Snapshot) missing(tool, what string) {
	s.Missing = append(s.Missing, tool)
	s.note("%s is not installed: %s not saved", tool, what)
}

// File returns a file of the snapshot.
func (s *Snapshot) File(name string) (Content, bool) {
	for _, c := range s.Files {
		if c.Name == name {
			return c, true
		}
	}
	return Content{}, false
}

// fileRank orders the files of a backup.
func fileRank(name string) int {
	switch name {
	case NFTName:
		return 0
	case NFTFullName:
		return 1
	}
	for i, x := range xtables {
		if name == x.file {
			return 2 + i
		}
	}
	return 10
}

// Read reads the firewall of the target. It only runs list and save
// commands. A program that is not installed is noted; one that fails is an
// error.
func Read(ctx context.Context, opts Options) (*Snapshot, error) {
	s := &Snapshot{Opts: opts, XT: map[string][]saveTable{}}
	hasNFT := have("nft")
	var tables []Table
	var full []byte
	if hasNFT {
		out, err := opts.run(ctx, nil, "nft", "list", "tables")
		if err != nil {
			return nil, err
		}
		tables = parseTables(out)
		if full, err = opts.run(ctx, nil, "nft", "-s", "list", "ruleset"); err != nil {
			return nil, err
		}
	} else {
		s.missing("nft", "nftables")
	}
	listed := map[Table]bool{}
	for _, t := range tables {
		listed[t] = true
	}
	blocks := map[Table]string{}
	for _, b := range splitNFT(full) {
		blocks[b.Table] = b.Text
	}

	managed := map[Table]bool{}
	for _, x := range xtables {
		if !have(x.save) {
			what := "iptables rules"
			if x.family == "ip6" {
				what = "ip6tables rules"
			}
			if x.nft {
				what += " (nf_tables backend)"
			} else {
				what += " (legacy backend)"
			}
			s.missing(x.save, what)
			continue
		}
		if !x.nft && !iptables.LegacyLoaded(x.family) {
			// No x_tables core, so no legacy tables; the save tool would
			// modprobe it to find that out, and backup only reads.
			s.XT[x.save] = nil
			s.note("%s: not run: the kernel has no legacy %s tables (its x_tables core is not loaded)", x.save, x.family)
			continue
		}
		out, err := opts.run(ctx, nil, x.save)
		if err != nil {
			return nil, err
		}
		parsed := parseSave(out)
		var kept []saveTable
		drop := map[string]bool{}
		incompatible := incompatibleTables(out)
		for _, st := range parsed {
			t := Table{x.family, st.Name}
			if x.nft && hasNFT && listed[t] {
				if incompatible[st.Name] {
					drop[st.Name] = true
					s.note("%s: table %s is not iptables-nft's (%s calls it incompatible): saved with the native tables in %s", x.save, t, x.save, NFTName)
					continue
				}
				if what := foreignObject(blocks[t], st); what != "" {
					drop[st.Name] = true
					s.note("%s: table %s holds %s, which iptables-nft does not make: saved with the native tables in %s", x.save, t, what, NFTName)
					continue
				}
			}
			kept = append(kept, st)
		}
		s.XT[x.save] = kept
		if x.nft {
			for _, st := range kept {
				managed[Table{x.family, st.Name}] = true
			}
		}
		if len(kept) > 0 {
			if len(drop) > 0 {
				out = filterSave(out, drop)
			}
			s.Files = append(s.Files, Content{Name: x.file, Data: out, Source: x.save})
		}
	}

	if hasNFT {
		s.Native = []Table{}
		var buf []byte
		var srcs []string
		for _, t := range tables {
			if managed[t] {
				continue
			}
			if err := checkTableName(t); err != nil {
				return nil, err
			}
			out, err := opts.run(ctx, nil, "nft", "-s", "list", "table", t.Family, t.Name)
			if err != nil {
				return nil, err
			}
			s.Native = append(s.Native, t)
			buf = append(buf, out...)
			srcs = append(srcs, "nft -s list table "+t.String())
		}
		src := strings.Join(srcs, "; ")
		if len(srcs) == 0 {
			src = "nft list tables (no native tables)"
		}
		s.Files = append(s.Files,
			Content{Name: NFTName, Data: buf, Source: src},
			Content{Name: NFTFullName, Data: full, Source: "nft -s list ruleset"})
	}

	if err := readFirewalld(opts.firewalldDir(), s); err != nil {
		return nil, err
	}
	sort.SliceStable(s.Files, func(i, j int) bool { return fileRank(s.Files[i].Name) < fileRank(s.Files[j].Name) })
	return s, nil
}

// readFirewalld copies the regular files under dir into the snapshot. It
// never follows a symbolic link: links and other special files are noted
// and skipped, and every open is confined to dir.
func readFirewalld(dir string, s *Snapshot) error {
	fi, err := os.Stat(dir)
	if errors.Is(err, fs.ErrNotExist) {
		s.note("firewalld: %s does not exist: no firewalld configuration saved", dir)
		return nil
	}
	if err != nil {
		return fmt.Errorf("firewalld configuration %s: %w", dir, err)
	}
	if !fi.IsDir() {
		return fmt.Errorf("firewalld configuration %s is not a directory", dir)
	}
	root, err := os.OpenRoot(dir)
	if err != nil {
		return fmt.Errorf("open firewalld configuration %s: %w", dir, err)
	}
	defer root.Close()
	fsys := root.FS()
	n := 0
	err = fs.WalkDir(fsys, ".", func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return fmt.Errorf("read firewalld configuration %s: %w", filepath.Join(dir, filepath.FromSlash(p)), err)
		}
		if d.IsDir() {
			return nil
		}
		full := filepath.Join(dir, filepath.FromSlash(p))
		if !d.Type().IsRegular() {
			kind := "not a regular file"
			if d.Type()&fs.ModeSymlink != 0 {
				kind = "a symbolic link"
			}
			s.note("firewalld: skipped %s: %s", full, kind)
			return nil
		}
		if strings.ContainsAny(p, "\n\r\\") {
			s.note("firewalld: skipped %s: its name has a newline or backslash", full)
			return nil
		}
		data, err := fs.ReadFile(fsys, p)
		if err != nil {
			return fmt.Errorf("read firewalld file %s: %w", full, err)
		}
		info, err := d.Info()
		if err != nil {
			return fmt.Errorf("read firewalld file %s: %w", full, err)
		}
		s.Files = append(s.Files, Content{Name: FirewalldPrefix + p, Data: data, Source: full, Mode: info.Mode().Perm()})
		n++
		return nil
	})
	if err != nil {
		return err
	}
	if n == 0 {
		s.note("firewalld: %s holds no regular files", dir)
	}
	return nil
}

// Result is a backup just written.
type Result struct {
	Dir      string
	Manifest *Manifest
}

// Write stores the snapshot as a new directory under parent named prefix
// followed by now in TimeLayout (with -2, -3… appended if that name is
// taken: nothing is ever overwritten). parent is created with mode 0700
// when missing; the backup's directories are 0700 and its files 0600. A
// failed write removes the partial directory.
func (s *Snapshot) Write(parent, prefix string, now time.Time) (*Result, error) {
	now = now.UTC()
	if err := os.MkdirAll(parent, 0o700); err != nil {
		return nil, fmt.Errorf("create backup directory %s: %w", parent, err)
	}
	base := prefix + now.Format(TimeLayout)
	var dir string
	for i := 1; ; i++ {
		dir = filepath.Join(parent, base)
		if i > 1 {
			dir += "-" + strconv.Itoa(i)
		}
		err := os.Mkdir(dir, 0o700)
		if err == nil {
			break
		}
		if !errors.Is(err, fs.ErrExist) || i >= 100 {
			return nil, fmt.Errorf("create backup directory %s: %w", dir, err)
		}
	}
	m, err := s.write(dir, now)
	if err != nil {
		os.RemoveAll(dir)
		return nil, err
	}
	return &Result{Dir: dir, Manifest: m}, nil
}

func (s *Snapshot) write(dir string, now time.Time) (*Manifest, error) {
	host, _ := os.Hostname()
	m := &Manifest{
		Version: ManifestVersion, Created: now.Format(time.RFC3339), Hostname: host, Netns: s.Opts.Netns,
		Files: []File{}, Notes: append([]string{}, s.Notes...), MissingTools: s.Missing,
	}
	var sums strings.Builder
	for _, c := range s.Files {
		if err := writeNew(dir, c.Name, c.Data); err != nil {
			return nil, err
		}
		sum := sha256.Sum256(c.Data)
		f := File{Name: c.Name, SHA256: hex.EncodeToString(sum[:]), Bytes: int64(len(c.Data)), Source: c.Source}
		if strings.HasPrefix(c.Name, FirewalldPrefix) {
			f.Mode = fmt.Sprintf("%04o", c.Mode.Perm())
		}
		m.Files = append(m.Files, f)
		sums.WriteString(sumLine(f.SHA256, f.Name))
	}
	js, err := json.MarshalIndent(m, "", "  ")
	if err != nil {
		return nil, fmt.Errorf("encode %s: %w", ManifestName, err)
	}
	js = append(js, '\n')
	if err := writeNew(dir, ManifestName, js); err != nil {
		return nil, err
	}
	msum := sha256.Sum256(js)
	sums.WriteString(sumLine(hex.EncodeToString(msum[:]), ManifestName))
	if err := writeNew(dir, SumsName, []byte(sums.String())); err != nil {
		return nil, err
	}
	return m, nil
}

// sumLine is one line of sha256sum output (text mode).
func sumLine(sum, name string) string {
	return sum + "  " + name + "\n"
}

// writeNew creates a file (mode 0600) that must not exist yet, and its
// parent directories (0700).
func writeNew(dir, name string, data []byte) error {
	path := filepath.Join(dir, filepath.FromSlash(name))
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		return fmt.Errorf("write backup file %s: %w", path, err)
	}
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if err != nil {
		return fmt.Errorf("write backup file %s: %w", path, err)
	}
	if _, err := f.Write(data); err != nil {
		f.Close()
		return fmt.Errorf("write backup file %s: %w", path, err)
	}
	if err := f.Sync(); err != nil {
		f.Close()
		return fmt.Errorf("write backup file %s: %w", path, err)
	}
	if err := f.Close(); err != nil {
		return fmt.Errorf("write backup file %s: %w", path, err)
	}
	return nil
}

// Create reads the firewall and writes a backup under parent, named by the
// current UTC time.
func Create(ctx context.Context, opts Options, parent string) (*Result, error) {
	s, err := Read(ctx, opts)
	if err != nil {
		return nil, err
	}
	return s.Write(parent, "", time.Now())
}

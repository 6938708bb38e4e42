package fwbackup

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"strconv"
	"strings"
	"time"
)

// NotBackupError says a directory is not a backup this package can read.
type NotBackupError struct {
	Dir    string
	Reason string
}

func (e *NotBackupError) Error() string {
	return fmt.Sprintf("%s is not a portcheck firewall backup: %s", e.Dir, e.Reason)
}

// IntegrityError says a backup does not match its checksums; each problem
// names the file.
type IntegrityError struct {
	Dir      string
	Problems []string
}

func (e *IntegrityError) Error() string {
	return fmt.Sprintf("backup %s failed verification, so nothing was changed:\n  %s", e.Dir, strings.Join(e.Problems, "\n  "))
}

// MissingToolError says a program a restore needs is not installed.
type MissingToolError struct {
	Tool, Why string
}

func (e *MissingToolError) Error() string {
	return fmt.Sprintf("%s is not installed, but %s; nothing was changed", e.Tool, e.Why)
}

// StepError says a restore step failed after the restore began.
type StepError struct {
	Step string
	Err  error
}

func (e *StepError) Error() string { return fmt.Sprintf("restore step %q failed: %v", e.Step, e.Err) }
func (e *StepError) Unwrap() error { return e.Err }

// Backup is a backup directory whose checksums have been verified.
type Backup struct {
	Dir      string // absolute
	Manifest Manifest
	data     map[string][]byte
	modes    map[string]fs.FileMode
}

// Data returns the content of one file of the backup.
func (b *Backup) Data(name string) ([]byte, bool) {
	d, ok := b.data[name]
	return d, ok
}

func (b *Backup) missingTool(tool string) bool {
	for _, t := range b.Manifest.MissingTools {
		if t == tool {
			return true
		}
	}
	return false
}

// validName reports whether name is a file a backup may hold.
func validName(name string) bool {
	switch name {
	case NFTName, NFTFullName:
		return true
	}
	for _, x := range xtables {
		if name == x.file {
			return true
		}
	}
	rel, ok := strings.CutPrefix(name, FirewalldPrefix)
	return ok && rel != "." && fs.ValidPath(rel) && !strings.ContainsAny(rel, "\\\n\r")
}

func hexSum(data []byte) string {
	s := sha256.Sum256(data)
	return hex.EncodeToString(s[:])
}

// Open reads a backup directory and verifies it: every file manifest.json
// lists must be present with its checksum and size, and SHA256SUMS must
// agree. A mismatch is an *IntegrityError naming the files.
func Open(dir string) (*Backup, error) {
	abs, err := filepath.Abs(dir)
	if err != nil {
		return nil, fmt.Errorf("backup directory %s: %w", dir, err)
	}
	fi, err := os.Stat(abs)
	if err != nil {
		if errors.Is(err, fs.ErrNotExist) {
			return nil, &NotBackupError{dir, "it does not exist"}
		}
		return nil, fmt.Errorf("backup directory %s: %w", dir, err)
	}
	if !fi.IsDir() {
		return nil, &NotBackupError{dir, "it is not a directory"}
	}
	root, err := os.OpenRoot(abs)
	if err != nil {
		return nil, fmt.Errorf("open backup directory %s: %w", dir, err)
	}
	defer root.Close()
	mj, err := root.ReadFile(ManifestName)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, &NotBackupError{dir, "it has no " + ManifestName + " (give one timestamped directory that `portcheck backup` made)"}
	}
	if err != nil {
		return nil, fmt.Errorf("read %s: %w", filepath.Join(abs, ManifestName), err)
	}
	b := &Backup{Dir: abs, data: map[string][]byte{}, modes: map[string]fs.FileMode{}}
	if err := json.Unmarshal(mj, &b.Manifest); err != nil {
		return nil, &IntegrityError{abs, []string{fmt.Sprintf("%s is damaged: %v", ManifestName, err)}}
	}
	if b.Manifest.Version != ManifestVersion {
		return nil, &NotBackupError{dir, fmt.Sprintf("%s has version %d; this portcheck reads version %d", ManifestName, b.Manifest.Version, ManifestVersion)}
	}
	var problems []string
	for _, f := range b.Manifest.Files {
		if !validName(f.Name) {
			problems = append(problems, fmt.Sprintf("%s lists %q, which is not a file a backup holds", ManifestName, f.Name))
			continue
		}
		if _, dup := b.data[f.Name]; dup {
			problems = append(problems, fmt.Sprintf("%s lists %s twice", ManifestName, f.Name))
			continue
		}
		data, err := root.ReadFile(filepath.FromSlash(f.Name))
		if errors.Is(err, fs.ErrNotExist) {
			problems = append(problems, fmt.Sprintf("%s is missing", f.Name))
			continue
		}
		if err != nil {
			problems = append(problems, fmt.Sprintf("%s cannot be read: %v", f.Name, err))
			continue
		}
		if got := hexSum(data); got != strings.ToLower(f.SHA256) {
			problems = append(problems, fmt.Sprintf("%s does not match its checksum (manifest %s, file %s)", f.Name, f.SHA256, got))
			continue
		}
		if int64(len(data)) != f.Bytes {
			problems = append(problems, fmt.Sprintf("%s has %d bytes, the manifest says %d", f.Name, len(data), f.Bytes))
			continue
		}
		if strings.HasPrefix(f.Name, FirewalldPrefix) {
			mode := fs.FileMode(0o644)
			if f.Mode != "" {
				m, err := strconv.ParseUint(f.Mode, 8, 32)
				if err != nil || m > 0o777 {
					problems = append(problems, fmt.Sprintf("%s: mode %q in %s is not an octal permission", f.Name, f.Mode, ManifestName))
					continue
				}
				mode = fs.FileMode(m)
			}
			b.modes[f.Name] = mode
		}
		b.data[f.Name] = data
	}
	problems = append(problems, checkSums(root, b, mj)...)
	if len(problems) > 0 {
		return nil, &IntegrityError{abs, problems}
	}
	return b, nil
}

// checkSums compares SHA256SUMS with the manifest and manifest.json.
func checkSums(root *os.Root, b *Backup, manifest []byte) []string {
	sums, err := root.ReadFile(SumsName)
	if errors.Is(err, fs.ErrNotExist) {
		return []string{SumsName + " is missing"}
	}
	if err != nil {
		return []string{fmt.Sprintf("%s cannot be read: %v", SumsName, err)}
	}
	want := map[string]string{ManifestName: hexSum(manifest)}
	for _, f := range b.Manifest.Files {
		want[f.Name] = strings.ToLower(f.SHA256)
	}
	var problems []string
	seen := map[string]bool{}
	for i, l := range lines(sums) {
		sum, name, ok := strings.Cut(l, " ")
		if !ok || len(sum) != 64 || len(name) < 2 || (name[0] != ' ' && name[0] != '*') {
			problems = append(problems, fmt.Sprintf("%s line %d is not in sha256sum format", SumsName, i+1))
			continue
		}
		name = name[1:]
		seen[name] = true
		w, ok := want[name]
		switch {
		case !ok:
			problems = append(problems, fmt.Sprintf("%s lists %s, which %s does not", SumsName, name, ManifestName))
		case strings.ToLower(sum) != w:
			problems = append(problems, fmt.Sprintf("%s does not match its checksum in %s", name, SumsName))
		}
	}
	for _, f := range b.Manifest.Files {
		if !seen[f.Name] {
			problems = append(problems, fmt.Sprintf("%s does not list %s", SumsName, f.Name))
		}
	}
	if !seen[ManifestName] {
		problems = append(problems, fmt.Sprintf("%s does not list %s", SumsName, ManifestName))
	}
	return problems
}

// Plan is what a restore will do, worked out from a verified backup and a
// fresh reading of the firewall; making it changes nothing.
type Plan struct {
	Backup  *Backup
	Opts    Options
	Current *Snapshot // the firewall as it is now
	Notes   []string
	steps   []step
}

type step struct {
	title  string
	detail []string
	run    func(ctx context.Context, w io.Writer) error
	// check validates the step's input with the tool's own no-commit mode
	// (nft -c, *-restore --test); nil when the step has none.
	check  func(ctx context.Context) error
	atomic bool // a failure changes nothing
}

func (p *Plan) note(format string, args ...any) {
	p.Notes = append(p.Notes, fmt.Sprintf(format, args...))
}

func whereOf(ns string) string { return Options{Netns: ns}.where() }

// NewPlan reads the current firewall of the target and works out the
// restore of b. It only reads. A program the restore needs that is not
// installed is a *MissingToolError.
func NewPlan(ctx context.Context, opts Options, b *Backup) (*Plan, error) {
	cur, err := Read(ctx, opts)
	if err != nil {
		return nil, fmt.Errorf("reading the current firewall: %w", err)
	}
	p := &Plan{Backup: b, Opts: opts, Current: cur}
	if b.Manifest.Netns != opts.Netns {
		p.note("the backup was taken from %s and is restored into %s", whereOf(b.Manifest.Netns), opts.where())
	}

	// (1) The nftables transaction: delete the tables the backup replaces
	// or does not have, then load the native tables.
	var deletes []Table
	why := map[Table]string{}
	del := func(t Table, reason string) {
		if _, ok := why[t]; !ok {
			deletes = append(deletes, t)
			why[t] = reason
		}
	}
	ruleset, hasRuleset := b.data[NFTName]
	var loaded []nftBlock
	if hasRuleset {
		if cur.Native == nil {
			return nil, &MissingToolError{"nft", "the backup has native nftables tables (" + NFTName + ") to restore"}
		}
		for _, t := range cur.Native {
			del(t, "native table present now")
		}
		loaded = splitNFT(ruleset)
		now := map[Table]bool{}
		for _, x := range xtables {
			if x.nft {
				for _, st := range cur.XT[x.save] {
					now[Table{x.family, st.Name}] = true
				}
			}
		}
		for _, blk := range loaded {
			if err := checkTableName(blk.Table); err != nil {
				return nil, fmt.Errorf("%s: %w", NFTName, err)
			}
			if now[blk.Table] {
				del(blk.Table, "iptables-nft table now, native in the backup")
			}
		}
	} else {
		p.note("the backup has no %s (nft was not installed when it was taken): native nftables tables are left as they are", NFTName)
	}
	var later []step
	for _, x := range xtables {
		if b.missingTool(x.save) {
			p.note("the backup has no %s rules (%s was not installed when it was taken): those tables are left as they are", strings.TrimSuffix(x.save, "-save"), x.save)
			continue
		}
		curTabs, ok := cur.XT[x.save]
		if !ok {
			return nil, &MissingToolError{x.save, "it is needed to read the current tables and to verify the restore"}
		}
		data, has := b.data[x.file]
		parsed := parseSave(data)
		want := tableNames(parsed)
		var names []string
		for _, st := range parsed {
			names = append(names, st.Name)
		}
		if x.nft {
			for _, st := range curTabs {
				if !want[st.Name] {
					del(Table{x.family, st.Name}, "iptables-nft table not in the backup")
				}
			}
			if !has {
				continue
			}
			if !have(x.restore) {
				return nil, &MissingToolError{x.restore, "the backup has " + x.file + " to restore"}
			}
			later = append(later, step{
				title:  fmt.Sprintf("%s < %s", x.restore, x.file),
				detail: []string{"replaces tables " + strings.Join(names, ", ")},
				run:    restoreRun(p.Opts, x.restore, data),
				check:  testRun(p.Opts, x.restore, data),
			})
			continue
		}
		// Legacy tables cannot be deleted: the ones the backup does not
		// have are emptied (built-in chains with policy ACCEPT, no rules,
		// no user chains), which filters nothing, like an absent table.
		var reset bytes.Buffer
		var resets []string
		for _, st := range curTabs {
			if want[st.Name] || st.builtinOnlyAccept() {
				continue
			}
			fmt.Fprintf(&reset, "*%s\n", st.Name)
			for _, c := range st.Chains {
				if c.Policy != "-" {
					fmt.Fprintf(&reset, ":%s ACCEPT [0:0]\n", c.Name)
				}
			}
			reset.WriteString("COMMIT\n")
			resets = append(resets, st.Name)
		}
		if !has && len(resets) == 0 {
			continue
		}
		if !have(x.restore) {
			return nil, &MissingToolError{x.restore, "the legacy tables must be restored"}
		}
		input := append(append([]byte{}, data...), reset.Bytes()...)
		s := step{run: restoreRun(p.Opts, x.restore, input), check: testRun(p.Opts, x.restore, input)}
		if has {
			s.title = fmt.Sprintf("%s < %s", x.restore, x.file)
			s.detail = append(s.detail, "replaces tables "+strings.Join(names, ", "))
		} else {
			s.title = x.restore
		}
		if len(resets) > 0 {
			s.detail = append(s.detail, "empties tables not in the backup (built-in chains ACCEPT, no rules): "+strings.Join(resets, ", "))
		}
		later = append(later, s)
	}
	if len(deletes) > 0 || len(bytes.TrimSpace(ruleset)) > 0 {
		if !have("nft") {
			return nil, &MissingToolError{"nft", "iptables-nft tables that are not in the backup must be deleted"}
		}
		var script bytes.Buffer
		s := step{title: "nft -f - (one transaction: if any part fails, nothing changes)", atomic: true}
		for _, t := range deletes {
			if err := checkTableName(t); err != nil {
				return nil, err
			}
			fmt.Fprintf(&script, "delete table %s %s\n", t.Family, t.Name)
			s.detail = append(s.detail, fmt.Sprintf("delete table %s (%s)", t, why[t]))
		}
		script.Write(ruleset)
		if len(loaded) > 0 {
			var ts []string
			for _, blk := range loaded {
				ts = append(ts, blk.Table.String())
			}
			s.detail = append(s.detail, fmt.Sprintf("load %s: table %s", NFTName, strings.Join(ts, ", table ")))
		}
		s.check = func(ctx context.Context) error {
			_, err := p.Opts.run(ctx, script.Bytes(), "nft", "-c", "-f", "-")
			return err
		}
		s.run = func(ctx context.Context, w io.Writer) error {
			_, err := p.Opts.run(ctx, script.Bytes(), "nft", "-f", "-")
			if err != nil && len(deletes) > 0 {
				err = fmt.Errorf("%w\n(the script nft read is %d \"delete table\" lines, then %s: its line N is line N-%d of %s)", err, len(deletes), NFTName, len(deletes), NFTName)
			}
			return err
		}
		p.steps = append(p.steps, s)
	} else if hasRuleset {
		p.note("nftables: the backup has no native tables and there are none now")
	}
	p.steps = append(p.steps, later...)

	// (4) firewalld.
	dir := opts.firewalldDir()
	var fw []string
	for _, f := range b.Manifest.Files {
		if strings.HasPrefix(f.Name, FirewalldPrefix) {
			fw = append(fw, f.Name)
		}
	}
	if len(fw) == 0 {
		p.note("the backup holds no firewalld configuration: %s is left as it is", dir)
		return p, nil
	}
	inBackup := map[string]bool{}
	var rels []string
	for _, n := range fw {
		inBackup[n] = true
		rels = append(rels, strings.TrimPrefix(n, FirewalldPrefix))
	}
	var extra []string
	for _, c := range cur.Files {
		if strings.HasPrefix(c.Name, FirewalldPrefix) && !inBackup[c.Name] {
			extra = append(extra, strings.TrimPrefix(c.Name, FirewalldPrefix))
		}
	}
	s := step{
		title:  fmt.Sprintf("copy %d firewalld files from the backup into %s", len(fw), dir),
		detail: []string{strings.Join(rels, ", ")},
		run: func(ctx context.Context, w io.Writer) error {
			return restoreFirewalld(dir, b, fw)
		},
	}
	if len(extra) > 0 {
		s.detail = append(s.detail, "only files in the backup are written; these files in "+dir+" are not in the backup and are left as they are: "+strings.Join(extra, ", "))
	} else {
		s.detail = append(s.detail, "only files in the backup are written; other files in "+dir+" are left as they are")
	}
	p.steps = append(p.steps, s)
	reload := step{
		title: "firewall-cmd --reload, if firewall-cmd --state says firewalld is running",
		run: func(ctx context.Context, w io.Writer) error {
			return reloadFirewalld(ctx, opts, w)
		},
	}
	if opts.Netns != "" {
		reload.title = "firewalld: no reload"
		reload.detail = []string{"firewall-cmd talks over the machine's D-Bus to the firewalld of the machine's own namespace, not to " + opts.Netns}
	}
	p.steps = append(p.steps, reload)
	return p, nil
}

func restoreRun(opts Options, tool string, input []byte) func(ctx context.Context, w io.Writer) error {
	return func(ctx context.Context, w io.Writer) error {
		_, err := opts.run(ctx, input, tool)
		return err
	}
}

// restoreFirewalld writes the backup's firewalld files into dir, each via a
// temporary file renamed into place. Every path is confined to dir.
func restoreFirewalld(dir string, b *Backup, names []string) error {
	if err := os.MkdirAll(dir, 0o750); err != nil {
		return fmt.Errorf("create firewalld configuration directory %s: %w", dir, err)
	}
	root, err := os.OpenRoot(dir)
	if err != nil {
		return fmt.Errorf("open firewalld configuration directory %s: %w", dir, err)
	}
	defer root.Close()
	for _, n := range names {
		rel := filepath.FromSlash(strings.TrimPrefix(n, FirewalldPrefix))
		full := filepath.Join(dir, rel)
		if d := path.Dir(strings.TrimPrefix(n, FirewalldPrefix)); d != "." {
			if err := root.MkdirAll(filepath.FromSlash(d), 0o750); err != nil {
				return fmt.Errorf("restore %s: %w", full, err)
			}
		}
		tmp := rel + ".portcheck-restore"
		mode := b.modes[n]
		f, err := root.OpenFile(tmp, os.O_WRONLY|os.O_CREATE|os.O_TRUNC, mode)
		if err != nil {
			return fmt.Errorf("restore %s: %w", full, err)
		}
		_, werr := f.Write(b.data[n])
		if werr == nil {
			werr = f.Sync()
		}
		if cerr := f.Close(); werr == nil {
			werr = cerr
		}
		if werr == nil {
			werr = root.Chmod(tmp, mode)
		}
		if werr == nil {
			werr = root.Rename(tmp, rel)
		}
		if werr != nil {
			root.Remove(tmp)
			return fmt.Errorf("restore %s: %w", full, werr)
		}
	}
	return nil
}

func reloadFirewalld(ctx context.Context, opts Options, w io.Writer) error {
	if opts.Netns != "" {
		fmt.Fprintf(w, "  firewalld not reloaded: it serves the machine's own namespace, not %s\n", opts.Netns)
		return nil
	}
	if !have("firewall-cmd") {
		fmt.Fprintln(w, "  firewall-cmd is not installed: firewalld not reloaded")
		return nil
	}
	out, err := opts.run(ctx, nil, "firewall-cmd", "--state")
	if state := strings.TrimSpace(string(out)); err != nil || state != "running" {
		if err != nil {
			state = err.Error()
		}
		fmt.Fprintf(w, "  firewalld is not running (firewall-cmd --state: %s): not reloaded\n", state)
		return nil
	}
	if _, err := opts.run(ctx, nil, "firewall-cmd", "--reload"); err != nil {
		return err
	}
	fmt.Fprintln(w, "  firewalld reloaded")
	return nil
}

// Print writes what the restore would do.
func (p *Plan) Print(w io.Writer) {
	m := p.Backup.Manifest
	host := m.Hostname
	if host == "" {
		host = "an unnamed host"
	}
	fmt.Fprintf(w, "Backup %s\n  taken %s on %s from %s; %d files, all checksums match\n",
		p.Backup.Dir, m.Created, host, whereOf(m.Netns), len(m.Files))
	fmt.Fprintf(w, "Restore into %s would:\n", p.Opts.where())
	n := 1
	fmt.Fprintf(w, "  %d. save the current firewall to %s\n", n, filepath.Join(filepath.Dir(p.Backup.Dir), PreRestorePrefix+"<UTC time>"))
	for _, s := range p.steps {
		n++
		fmt.Fprintf(w, "  %d. %s\n", n, s.title)
		for _, d := range s.detail {
			fmt.Fprintf(w, "       %s\n", d)
		}
	}
	n++
	fmt.Fprintf(w, "  %d. re-read the firewall and compare it with the backup\n", n)
	notes := append([]string{NFTFullName + " is for reference only and is not restored"}, p.Notes...)
	fmt.Fprintln(w, "Notes:")
	for _, nt := range notes {
		fmt.Fprintf(w, "  - %s\n", nt)
	}
}

// Outcome is what a restore did.
type Outcome struct {
	// PreRestore is the backup of the state before the restore ("" when
	// it could not be written, and then nothing was changed).
	PreRestore string
	// Changed is true once a restore step has changed (or may have
	// changed) the firewall.
	Changed bool
	// Diffs are the differences between the backup and the firewall
	// re-read after the restore; none means verified.
	Diffs []FileDiff
}

// Execute saves the current firewall next to the backup (as
// pre-restore-<time>), runs the restore steps in order, stopping at the
// first failure, then re-reads the firewall and compares it with the
// backup. Progress goes to w.
func (p *Plan) Execute(ctx context.Context, w io.Writer, now time.Time) (*Outcome, error) {
	o := &Outcome{}
	pre, err := p.Current.Write(filepath.Dir(p.Backup.Dir), PreRestorePrefix, now)
	if err != nil {
		return o, fmt.Errorf("saving the current firewall before the restore failed, so nothing was changed: %w", err)
	}
	o.PreRestore = pre.Dir
	fmt.Fprintf(w, "Saved the current firewall to %s\n", pre.Dir)
	for _, s := range p.steps {
		fmt.Fprintf(w, "==> %s\n", s.title)
		if err := s.run(ctx, w); err != nil {
			if !s.atomic {
				o.Changed = true
			}
			return o, &StepError{s.title, err}
		}
		o.Changed = true
	}
	cur, err := Read(ctx, p.Opts)
	if err != nil {
		return o, fmt.Errorf("re-reading the firewall to verify the restore failed: %w", err)
	}
	o.Diffs = Compare(p.Backup, cur)
	return o, nil
}

// FileDiff is how the firewall differs from one file of the backup.
type FileDiff struct {
	Name  string
	Lines []string // "@@", "-" (in the backup) and "+" (now) lines
}

// Compare compares a reading of the firewall with a backup, after
// normalising what legitimately differs: iptables-save comments and
// counters, the order of tables, and legacy tables that hold nothing.
// Only the parts the backup holds are compared; firewalld files that are
// not in the backup are ignored.
func Compare(b *Backup, cur *Snapshot) []FileDiff {
	var diffs []FileDiff
	add := func(name string, want, got []string) {
		if d := diffLines(want, got); len(d) > 0 {
			diffs = append(diffs, FileDiff{name, d})
		}
	}
	if data, ok := b.data[NFTName]; ok {
		if c, ok := cur.File(NFTName); ok {
			add(NFTName, normNFT(data), normNFT(c.Data))
		} else {
			diffs = append(diffs, FileDiff{NFTName, []string{"cannot compare: nft is not installed"}})
		}
	}
	for _, x := range xtables {
		if b.missingTool(x.save) {
			continue
		}
		if _, ok := cur.XT[x.save]; !ok {
			diffs = append(diffs, FileDiff{x.file, []string{"cannot compare: " + x.save + " is not installed"}})
			continue
		}
		c, _ := cur.File(x.file)
		add(x.file, normSave(b.data[x.file], !x.nft), normSave(c.Data, !x.nft))
	}
	for _, f := range b.Manifest.Files {
		if !strings.HasPrefix(f.Name, FirewalldPrefix) {
			continue
		}
		c, ok := cur.File(f.Name)
		if !ok {
			diffs = append(diffs, FileDiff{f.Name, []string{"missing from " + cur.Opts.firewalldDir()}})
			continue
		}
		if !bytes.Equal(b.data[f.Name], c.Data) {
			d := diffLines(lines(b.data[f.Name]), lines(c.Data))
			if len(d) == 0 {
				d = []string{"the content differs in line endings or the final newline"}
			}
			diffs = append(diffs, FileDiff{f.Name, d})
		}
	}
	return diffs
}

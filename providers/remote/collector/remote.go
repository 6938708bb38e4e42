package collector

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"path"
	"slices"
	"strings"
	"time"

	"github.com/portcheck/portcheck/providers/facts"
	"github.com/portcheck/portcheck/providers/remote/sshconn"
	"github.com/portcheck/portcheck/providers/remoteprobe"
)

// DefaultDir is where collectors are kept on a remote, under the
// connecting user's home: ~/.cache/portcheck/collector-<sha256>.
const DefaultDir = ".cache/portcheck"

// longFactor bounds the upload and the collection: that many times the
// connection's timeout (60s by default), as they move megabytes and walk
// rulesets where the other commands answer at once.
const longFactor = 6

// Remote is the collector's side of one connection.
type Remote struct {
	Conn *sshconn.Conn
	// Dir is the directory collectors are kept in, relative to the remote
	// user's home unless absolute; "" = DefaultDir.
	Dir string

	// Platform and Home are the remote's, read by Prepare.
	Platform Platform
	Home     string
	// Path is the collector's path on the remote, Uploaded how many bytes
	// Prepare sent (0 when the cached copy matched).
	Path     string
	Uploaded int64
}

func (r *Remote) timeout() time.Duration { return r.Conn.Config().Timeout }

func (r *Remote) run(ctx context.Context, d time.Duration, cmd sshconn.Command) ([]byte, error) {
	ctx, cancel := context.WithTimeoutCause(ctx, d, fmt.Errorf("no answer within %v (timeout)", d))
	defer cancel()
	return r.Conn.Run(ctx, cmd)
}

// dir is the collectors' directory, absolute.
func (r *Remote) dir() string {
	d := r.Dir
	if d == "" {
		d = DefaultDir
	}
	if path.IsAbs(d) {
		return d
	}
	return path.Join(r.Home, d)
}

// Inspect reads the remote's platform and home directory.
func (r *Remote) Inspect(ctx context.Context) error {
	out, err := r.run(ctx, r.timeout(), sshconn.Command{Script: `uname -sm && printf '%s\n' "$HOME"`})
	if err != nil {
		return err
	}
	lines := strings.Split(strings.TrimRight(string(out), "\n"), "\n")
	if len(lines) != 2 || !strings.HasPrefix(lines[1], "/") {
		return fmt.Errorf("%s: unexpected answer to `uname -sm; echo $HOME`: %q", r.Conn.Target(), out)
	}
	p, err := ParseUname(lines[0])
	if err != nil {
		return fmt.Errorf("%s: %w", r.Conn.Target(), err)
	}
	r.Platform, r.Home = p, lines[1]
	return nil
}

// Prepare reads the remote's platform, finds a collector for it, and puts
// it at dir/collector-<sha256> unless a file with that content is there.
func (r *Remote) Prepare(ctx context.Context, f *Finder) error {
	if err := r.Inspect(ctx); err != nil {
		return err
	}
	bin, err := f.Find(ctx, r.Platform)
	if err != nil {
		return fmt.Errorf("%s: %w", r.Conn.Target(), err)
	}
	return r.Install(ctx, bin)
}

// Install uploads bin unless the remote holds it already (checked by its
// sha256 there).
func (r *Remote) Install(ctx context.Context, bin *Binary) error {
	dir := r.dir()
	p := path.Join(dir, "collector-"+bin.SHA256)
	q := sshconn.Quote(p)
	// The cached file counts only if its content still has the hash.
	out, err := r.run(ctx, r.timeout(), sshconn.Command{Script: `if [ -x ` + q + ` ]; then sha256sum ` + q + `; fi; if command -v gzip >/dev/null 2>&1; then echo gzip; fi`})
	if err != nil {
		return fmt.Errorf("checking the cached collector: %w", err)
	}
	lines := strings.Split(string(out), "\n")
	if sum, _, _ := strings.Cut(lines[0], " "); sum == bin.SHA256 {
		r.Path, r.Uploaded = p, 0
		return nil
	}
	// Compressed when the remote has gzip (5.0 MB become 2.1 MB).
	data, unpack := bin.Data, "cat"
	if slices.Contains(lines, "gzip") {
		data, unpack = bin.gzipped(), "gzip -dc"
	}
	// Written to a temporary name, checked, then renamed: a cut upload
	// never leaves a file under the hash's name.
	script := `set -e; umask 077; mkdir -p ` + sshconn.Quote(dir) + `; t=` + sshconn.Quote(dir) + `/.upload.$$; trap 'rm -f "$t"' EXIT; ` +
		unpack + ` >"$t"; s=$(sha256sum "$t"); [ "${s%% *}" = ` + bin.SHA256 + ` ] || { echo "uploaded collector has sha256 ${s%% *}, want ` + bin.SHA256 + `" >&2; exit 1; }; ` +
		`chmod 0755 "$t"; mv -f "$t" ` + q + `; trap - EXIT`
	if _, err := r.run(ctx, longFactor*r.timeout(), sshconn.Command{Script: script, Stdin: bytes.NewReader(data)}); err != nil {
		return fmt.Errorf("uploading the collector (%d bytes) to %s: %w", len(data), p, err)
	}
	r.Path, r.Uploaded = p, int64(len(data))
	return nil
}

// CollectOptions are collect's flags.
type CollectOptions struct {
	Name           string // -name: the HCL host name
	Netns          string // -netns: the namespace on the remote ("" = its own)
	SELinuxDomains []string
	Observers      []string // -observers (nil = all)
}

// Collect runs the installed collector (with sudo -n when the connection
// says sudo) and decodes the document it writes. A document with failed
// observers (exit 1) is returned with them named in it.
func (r *Remote) Collect(ctx context.Context, o CollectOptions) (*facts.Document, error) {
	if r.Path == "" {
		return nil, errors.New("collector not installed (Prepare first)")
	}
	args := []string{r.Path, "collect"}
	if o.Name != "" {
		args = append(args, "-name", o.Name)
	}
	if o.Netns != "" {
		args = append(args, "-netns", o.Netns)
	}
	if len(o.Observers) > 0 {
		args = append(args, "-observers", strings.Join(o.Observers, ","))
	}
	for _, d := range o.SELinuxDomains {
		args = append(args, "-selinux-domain", d)
	}
	var out bytes.Buffer
	_, err := r.run(ctx, longFactor*r.timeout(), sshconn.Command{Args: args, Sudo: true, Stdout: &out})
	var ce *sshconn.CommandError
	if err != nil && !(errors.As(err, &ce) && ce.ExitStatus() == 1 && out.Len() > 0) {
		return nil, fmt.Errorf("collecting: %w", err)
	}
	doc, derr := facts.Decode(&out, r.Conn.Origin())
	if derr != nil {
		if err != nil {
			return nil, fmt.Errorf("collecting: %w (and its output is no facts document: %v)", err, derr)
		}
		return nil, fmt.Errorf("collecting: %w", derr)
	}
	return doc, nil
}

// Clean removes every cached collector from the remote's directory and
// returns what it removed.
func (r *Remote) Clean(ctx context.Context) ([]string, error) {
	if err := r.Inspect(ctx); err != nil {
		return nil, err
	}
	d := sshconn.Quote(r.dir())
	out, err := r.run(ctx, r.timeout(), sshconn.Command{Script: `for f in ` + d + `/collector-* ` + d + `/.upload.*; do if [ -f "$f" ]; then rm -f "$f" && printf '%s\n' "$f"; fi; done; rmdir ` + d + ` 2>/dev/null; true`})
	if err != nil {
		return nil, err
	}
	var removed []string
	for _, l := range strings.Split(strings.TrimSpace(string(out)), "\n") {
		if l != "" {
			removed = append(removed, l)
		}
	}
	return removed, nil
}

// Prober starts the collector's prober on the remote (`probe -stdio`,
// from its namespace netns when given; with sudo when the connection says
// so, as entering a namespace and L5's raw ICMP sockets need root) and returns the client of its stream:
// every L4 probe from this vantage goes through that one session, paced
// by the prober's own RTT-adaptive scheduler where the probes leave.
// Closing the client ends the prober's input: it cancels what still runs
// and exits (sshd does not stop a session's command when the connection
// goes, so the end of its input is its signal).
func (r *Remote) Prober(ctx context.Context, netns string) (*remoteprobe.Client, error) {
	if r.Path == "" {
		return nil, errors.New("collector not installed (Prepare first)")
	}
	args := []string{r.Path, "probe", "-stdio"}
	if netns != "" {
		args = append(args, "-netns", netns)
	}
	reqR, reqW := io.Pipe()
	respR, respW := io.Pipe()
	// The stream lives as long as the client, not as the call that opened
	// it: its end is the client's Close or the connection's.
	runCtx, stop := context.WithCancel(context.WithoutCancel(ctx))
	go func() {
		defer stop()
		_, err := r.Conn.Run(runCtx, sshconn.Command{Args: args, Sudo: true, Stdin: reqR, Stdout: respW})
		if err == nil {
			err = io.EOF
		}
		respW.CloseWithError(err) // the client reads why the stream ended
		reqR.CloseWithError(err)
	}()
	hctx, cancel := context.WithTimeout(ctx, r.timeout())
	defer cancel()
	c, err := remoteprobe.NewClient(hctx, r.Conn.Target(), respR, reqW)
	if err != nil {
		stop()
		reqW.Close()
		return nil, err
	}
	return c, nil
}

// Package remote gives verify the server-side facts of hosts declared with
// a connection block: one SSH connection per host, the collector put there
// once, its facts document read back, hosts collected in parallel within
// a bound. It implements facts.Source, and Compose mixes it with the live
// or recorded source of the other hosts.
package remote

import (
	"context"
	"fmt"
	"net/netip"
	"sort"
	"strings"
	"sync"

	"github.com/portcheck/portcheck/config"
	"github.com/portcheck/portcheck/providers"
	"github.com/portcheck/portcheck/providers/app"
	"github.com/portcheck/portcheck/providers/facts"
	"github.com/portcheck/portcheck/providers/firewall/netfilter"
	pathtrace "github.com/portcheck/portcheck/providers/path"
	"github.com/portcheck/portcheck/providers/probe"
	"github.com/portcheck/portcheck/providers/remote/collector"
	"github.com/portcheck/portcheck/providers/remote/sshconn"
	"github.com/portcheck/portcheck/providers/remoteprobe"
	"github.com/portcheck/portcheck/providers/selinux"
	"github.com/portcheck/portcheck/providers/sockets"
)

// Options tune a Source.
type Options struct {
	// SSH are the transport's options (tests dial from a namespace).
	SSH sshconn.Options
	// Finder finds the collector binary to upload.
	Finder *collector.Finder
	// Dir is the collectors' directory on the remotes ("" = ~/.cache/portcheck).
	Dir string
	// Parallelism bounds how many hosts are collected at once (verify's
	// -parallelism; <= 0 = 10).
	Parallelism int
	// SELinuxDomains are, per host name, domains whose name_bind rules to
	// read besides the listening processes' (the declared ones).
	SELinuxDomains map[string][]string
	// Observers are, per host name, the observers to run there (none
	// given = all); the others are recorded as not collected.
	Observers map[string][]string
	// Vantages are hosts L4 probes run from (RemoteProbe), besides the
	// servers collected.
	Vantages []*config.Host
	// Report, when set, is told about each host once collected.
	Report func(HostReport)
}

// HostReport is what collecting one host did.
type HostReport struct {
	Host     string
	Target   string // ssh:user@host:port
	Uploaded int64  // collector bytes sent (0 = cached there)
	Err      error
}

// Source collects the hosts it is given over SSH.
type Source struct {
	opts    Options
	sem     chan struct{}
	hosts   map[string]*config.Host
	servers map[string]bool // hosts whose facts are collected

	mu      sync.Mutex
	state   map[string]*hostState
	conns   []*sshconn.Conn
	probers []*remoteprobe.Client
}

// NewSource collects (and probes from) the given hosts that have a
// connection block.
func NewSource(hosts []*config.Host, opts Options) *Source {
	if opts.Parallelism <= 0 {
		opts.Parallelism = 10
	}
	if opts.Finder == nil {
		opts.Finder = &collector.Finder{}
	}
	s := &Source{opts: opts, sem: make(chan struct{}, opts.Parallelism), hosts: map[string]*config.Host{}, servers: map[string]bool{}, state: map[string]*hostState{}}
	for _, h := range hosts {
		if h.Connection != nil {
			s.hosts[h.Name], s.servers[h.Name] = h, true
		}
	}
	for _, h := range opts.Vantages {
		if h.Connection != nil {
			s.hosts[h.Name] = h
		}
	}
	return s
}

// Recorded is false: remote facts are observed now.
func (*Source) Recorded() bool { return false }

// For returns the host's facts, collected on first use.
func (s *Source) For(name string, _ []netip.Addr, exec providers.Exec) (facts.HostFacts, error) {
	h, ok := s.hosts[name]
	if !ok {
		return nil, fmt.Errorf("host %s has no connection block to collect its facts over", name)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	st, ok := s.state[name]
	if !ok {
		st = &hostState{src: s, host: h, origin: sshconn.Origin(h.Connection)}
		s.state[name] = st
	}
	return st, nil
}

// Prefetch starts collecting every server at once (within the bound) and
// connecting to every vantage host, so a run does not wait for its
// endpoints to reach L1 one by one.
func (s *Source) Prefetch(ctx context.Context) {
	names := make([]string, 0, len(s.hosts))
	for n := range s.hosts {
		names = append(names, n)
	}
	sort.Strings(names)
	for _, n := range names {
		hf, _ := s.For(n, nil, providers.Exec{})
		if s.servers[n] {
			go hf.(*hostState).collect(ctx)
		} else {
			go hf.(*hostState).session(ctx)
		}
	}
}

// hostState is one host: one connection (dialled, the collector put there,
// once) for its collection and its probes; the facts collected once.
type hostState struct {
	src    *Source
	host   *config.Host
	origin string

	sessOnce sync.Once
	sess     *collector.Remote
	sessErr  error

	once sync.Once
	doc  facts.HostFacts
	err  error

	proberOnce sync.Once
	prober     *remoteprobe.Client
	proberErr  error
}

// probeStream is the host's prober stream, started on first use.
func (h *hostState) probeStream(ctx context.Context) (*remoteprobe.Client, error) {
	h.proberOnce.Do(func() {
		r, err := h.session(ctx)
		if err != nil {
			h.proberErr = err
			return
		}
		h.prober, h.proberErr = r.Prober(ctx, h.host.Connection.Netns)
		if h.prober != nil {
			h.src.mu.Lock()
			h.src.probers = append(h.src.probers, h.prober)
			h.src.mu.Unlock()
		}
	})
	return h.prober, h.proberErr
}

// session is the host's connection with the collector installed.
func (h *hostState) session(ctx context.Context) (*collector.Remote, error) {
	h.sessOnce.Do(func() {
		conn, err := sshconn.Dial(ctx, h.host.Connection, h.src.opts.SSH)
		if err != nil {
			h.sessErr = err
			return
		}
		h.src.mu.Lock()
		h.src.conns = append(h.src.conns, conn)
		h.src.mu.Unlock()
		r := &collector.Remote{Conn: conn, Dir: h.src.opts.Dir}
		if err := r.Prepare(ctx, h.src.opts.Finder); err != nil {
			h.sessErr = err
			return
		}
		h.sess = r
	})
	return h.sess, h.sessErr
}

func (h *hostState) collect(ctx context.Context) (facts.HostFacts, error) {
	h.once.Do(func() {
		select {
		case h.src.sem <- struct{}{}:
			defer func() { <-h.src.sem }()
		case <-ctx.Done():
			h.err = fmt.Errorf("%s: not collected: %w", h.origin, context.Cause(ctx))
			return
		}
		var uploaded int64
		h.doc, uploaded, h.err = h.run(ctx)
		if h.src.opts.Report != nil {
			h.src.opts.Report(HostReport{Host: h.host.Name, Target: h.origin, Uploaded: uploaded, Err: h.err})
		}
	})
	return h.doc, h.err
}

func (h *hostState) run(ctx context.Context) (facts.HostFacts, int64, error) {
	r, err := h.session(ctx)
	if err != nil {
		return nil, 0, err
	}
	doc, err := r.Collect(ctx, collector.CollectOptions{Name: h.host.Name, Netns: h.host.Connection.Netns, SELinuxDomains: h.src.opts.SELinuxDomains[h.host.Name], Observers: h.src.opts.Observers[h.host.Name]})
	if err != nil {
		return nil, r.Uploaded, fmt.Errorf("%s: %w", r.Conn.Origin(), err)
	}
	hf, err := facts.Recorded([]facts.Loaded{{Doc: doc, File: r.Conn.Origin()}}).For(h.host.Name, nil, providers.Exec{Host: h.host.Name, Recorded: true})
	return hf, r.Uploaded, err
}

// Probe runs an L4 probe from the vantage host exec names, over its
// connection (verify's RemoteProbe).
func (s *Source) Probe(ctx context.Context, exec providers.Exec, t providers.Target, p probe.Params) (probe.Outcome, error) {
	c, err := s.stream(ctx, exec)
	if err != nil {
		return probe.Outcome{Target: t}, err
	}
	return c.Probe(ctx, exec, t, p)
}

// stream is the prober stream of the vantage host exec names.
func (s *Source) stream(ctx context.Context, exec providers.Exec) (*remoteprobe.Client, error) {
	hf, err := s.For(exec.Host, nil, exec)
	if err != nil {
		return nil, err
	}
	return hf.(*hostState).probeStream(ctx)
}

// Trace runs an L5 trace from the vantage host exec names.
func (s *Source) Trace(ctx context.Context, exec providers.Exec, t providers.Target, p pathtrace.Params) (*pathtrace.Facts, error) {
	c, err := s.stream(ctx, exec)
	if err != nil {
		return nil, err
	}
	return c.Trace(ctx, exec, t, p)
}

// HTTP runs an L7 HTTP check from the vantage host exec names.
func (s *Source) HTTP(ctx context.Context, exec providers.Exec, t providers.Target, p app.HTTPParams) (*app.HTTPFacts, error) {
	c, err := s.stream(ctx, exec)
	if err != nil {
		return nil, err
	}
	return c.HTTP(ctx, exec, t, p)
}

// TLS runs an L7 TLS handshake from the vantage host exec names.
func (s *Source) TLS(ctx context.Context, exec providers.Exec, t providers.Target, p app.TLSParams) (*app.TLSFacts, error) {
	c, err := s.stream(ctx, exec)
	if err != nil {
		return nil, err
	}
	return c.TLS(ctx, exec, t, p)
}

// GRPC runs an L7 gRPC health check from the vantage host exec names.
func (s *Source) GRPC(ctx context.Context, exec providers.Exec, t providers.Target, p app.GRPCParams) (*app.GRPCFacts, error) {
	c, err := s.stream(ctx, exec)
	if err != nil {
		return nil, err
	}
	return c.GRPC(ctx, exec, t, p)
}

// Banner reads a banner from the vantage host exec names.
func (s *Source) Banner(ctx context.Context, exec providers.Exec, t providers.Target, p app.BannerParams) (*app.BannerFacts, error) {
	c, err := s.stream(ctx, exec)
	if err != nil {
		return nil, err
	}
	return c.Banner(ctx, exec, t, p)
}

// Close closes every connection the source opened.
func (s *Source) Close() {
	s.mu.Lock()
	conns, probers := s.conns, s.probers
	s.conns, s.probers = nil, nil
	s.mu.Unlock()
	// A prober's input ends first, so it exits on its own; the connections
	// then go, with anything still running there.
	for _, p := range probers {
		p.Close()
	}
	for _, c := range conns {
		c.Close()
	}
}

// Origin says the facts came from the host over ssh: "ssh:user@host:port
// (collected 2026-12-04T10:00:00Z)" once collected.
func (h *hostState) Origin() string {
	if h.doc != nil {
		return h.doc.Origin()
	}
	return h.origin
}

func (h *hostState) Sockets(ctx context.Context) (*sockets.Table, error) {
	hf, err := h.collect(ctx)
	if err != nil {
		return nil, err
	}
	return hf.Sockets(ctx)
}

func (h *hostState) Firewall(ctx context.Context) (*netfilter.Snapshot, error) {
	hf, err := h.collect(ctx)
	if err != nil {
		return nil, err
	}
	return hf.Firewall(ctx)
}

func (h *hostState) SELinux(ctx context.Context, domains []string) (*selinux.HostFacts, error) {
	hf, err := h.collect(ctx)
	if err != nil {
		return nil, err
	}
	return hf.SELinux(ctx, domains)
}

func (h *hostState) Behind(ctx context.Context, addr netip.Addr) (*facts.Behind, error) {
	hf, err := h.collect(ctx)
	if err != nil {
		return nil, err
	}
	return hf.Behind(ctx, addr)
}

// Compose serves the hosts judged over ssh (exec.Remote set) from remote
// and every other host from local (the live observers, or the -facts
// documents, which win over ssh where they name the host).
func Compose(local facts.Source, remote *Source) facts.Source {
	return composed{local: local, remote: remote}
}

type composed struct {
	local  facts.Source
	remote *Source
}

func (c composed) Recorded() bool { return c.local != nil && c.local.Recorded() }

func (c composed) For(name string, addrs []netip.Addr, exec providers.Exec) (facts.HostFacts, error) {
	if exec.Remote != "" {
		return c.remote.For(name, addrs, exec)
	}
	if c.local == nil {
		return nil, fmt.Errorf("no facts source for host %s", name)
	}
	return c.local.For(name, addrs, exec)
}

// Hosts lists the hosts with a connection block, for messages.
func (s *Source) Hosts() string {
	var names []string
	for n := range s.hosts {
		names = append(names, n)
	}
	sort.Strings(names)
	return strings.Join(names, ", ")
}

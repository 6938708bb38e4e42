package collect

import (
	"context"
	"errors"
	"fmt"
	"net/netip"
	"slices"
	"sort"
	"strings"
	"sync"

	"github.com/portcheck/portcheck/providers"
	"github.com/portcheck/portcheck/providers/facts"
	"github.com/portcheck/portcheck/providers/firewall"
	"github.com/portcheck/portcheck/providers/firewall/netfilter"
	"github.com/portcheck/portcheck/providers/netnslocate"
	"github.com/portcheck/portcheck/providers/selinux"
	"github.com/portcheck/portcheck/providers/sockets"
)

// Live is the facts source that observes each host when its facts are
// first asked for, each part once per source: verify's default, and what
// Collect runs for a document. Live and recorded facts are the same types.
func Live() facts.Source { return &live{hosts: map[string]*Host{}} }

func init() { facts.RegisterLive(Live) }

type live struct {
	mu    sync.Mutex
	hosts map[string]*Host
}

func (*live) Recorded() bool { return false }

func (l *live) For(name string, _ []netip.Addr, exec providers.Exec) (facts.HostFacts, error) {
	if exec.Remote != "" {
		// Never observe this machine in a remote host's place.
		return nil, fmt.Errorf("host %s is reached over ssh (%s): this command observes only this machine and its namespaces; its facts are collected over ssh by verify", name, exec.Remote)
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	h, ok := l.hosts[exec.Netns]
	if !ok {
		h = NewHost(exec)
		l.hosts[exec.Netns] = h
	}
	return h, nil
}

// Host observes one host's (namespace's) facts live, each once.
type Host struct {
	exec providers.Exec

	sockOnce sync.Once
	sock     *sockets.Table
	sockErr  error

	fwOnce sync.Once
	fw     *netfilter.Snapshot
	fwErr  error

	mu      sync.Mutex
	selinux map[string]*selinuxResult // by sorted domain list
	behind  map[netip.Addr]*behindResult
}

type selinuxResult struct {
	once sync.Once
	h    *selinux.HostFacts
	err  error
}

type behindResult struct {
	once sync.Once
	b    *facts.Behind
}

// NewHost observes the namespace exec runs in.
func NewHost(exec providers.Exec) *Host {
	return &Host{exec: exec, selinux: map[string]*selinuxResult{}, behind: map[netip.Addr]*behindResult{}}
}

func (*Host) Origin() string { return "" }

func (h *Host) Sockets(ctx context.Context) (*sockets.Table, error) {
	h.sockOnce.Do(func() { h.sock, h.sockErr = sockets.Snapshot(ctx, h.exec) })
	return h.sock, h.sockErr
}

func (h *Host) Firewall(ctx context.Context) (*netfilter.Snapshot, error) {
	h.fwOnce.Do(func() { h.fw, h.fwErr = netfilter.Read(ctx, h.exec.Netns) })
	return h.fw, h.fwErr
}

// SELinux is the machine's SELinux (not the namespace's: SELinux is per
// machine) with the name_bind rules of domains.
func (h *Host) SELinux(ctx context.Context, domains []string) (*selinux.HostFacts, error) {
	ds := slices.Clone(domains)
	sort.Strings(ds)
	key := strings.Join(slices.Compact(ds), " ")
	h.mu.Lock()
	r, ok := h.selinux[key]
	if !ok {
		r = &selinuxResult{}
		h.selinux[key] = r
	}
	h.mu.Unlock()
	r.once.Do(func() { r.h, r.err = selinux.Collect(ctx, selinux.CollectParams{Domains: ds}) })
	return r.h, r.err
}

// Behind locates the namespace holding addr behind the host's route to it
// and reads what listens there. What cannot be found is said in the
// result, not as an error: that is a fact about the host.
func (h *Host) Behind(ctx context.Context, addr netip.Addr) (*facts.Behind, error) {
	addr = addr.Unmap()
	h.mu.Lock()
	r, ok := h.behind[addr]
	if !ok {
		r = &behindResult{}
		h.behind[addr] = r
	}
	h.mu.Unlock()
	r.once.Do(func() {
		b := &facts.Behind{Addr: addr}
		r.b = b
		loc, err := netnslocate.Locate(h.exec.Netns, addr)
		if err != nil {
			b.Error, b.NotFound = err.Error(), errors.Is(err, netnslocate.ErrNotFound)
			return
		}
		b.Netns, b.Via = loc.Netns, loc.Via
		t, err := sockets.Snapshot(ctx, providers.Exec{Host: h.exec.Host, Netns: loc.Netns})
		if err != nil {
			b.Error = "reading its socket table: " + err.Error()
			return
		}
		b.Sockets = t
	})
	return r.b, nil
}

// maxBehind bounds how many DNAT targets a document locates: a kube-proxy
// node DNATs to thousands of pod addresses, most of them on other nodes.
const maxBehind = 256

// dnatTargets are the distinct non-local addresses the ruleset DNATs to,
// in rule order, at most max; truncated reports whether some were left.
func dnatTargets(s *netfilter.Snapshot, max int) (out []netip.Addr, truncated bool) {
	ev := s.Evaluator()
	seen := map[netip.Addr]bool{}
	add := func(v firewall.Verdict) {
		a := v.NATAddr.Unmap()
		if v.Kind != firewall.VerdictDNAT || !a.IsValid() || seen[a] || ev.IsLocal(a) {
			return
		}
		seen[a] = true
		if len(out) >= max {
			truncated = true
			return
		}
		out = append(out, a)
	}
	for _, t := range s.Ruleset.Tables {
		for _, ch := range t.Chains {
			for _, r := range ch.Rules {
				add(r.Verdict)
				for _, e := range r.Verdict.Elements {
					add(e.Verdict)
				}
			}
		}
		names := make([]string, 0, len(t.Sets))
		for n := range t.Sets {
			names = append(names, n)
		}
		sort.Strings(names)
		for _, n := range names {
			for _, e := range t.Sets[n].Elements {
				add(e.Verdict)
			}
		}
	}
	return out, truncated
}

// Package collect runs a host's server-side observers — sockets (L1), the
// packet filter with routes, addresses and firewalld's state (L2), SELinux
// (L3) — and returns their facts as one versioned document. It only reads.
// `portcheck collect` writes the document; verify's live mode reads the same
// observers through it, so live and recorded facts cannot differ in kind.
package collect

import (
	"context"
	"fmt"
	"net"
	"net/netip"
	"os"
	"os/exec"
	"strings"
	"sync"
	"time"

	"golang.org/x/sys/unix"

	"github.com/portcheck/portcheck/internal/netns"
	"github.com/portcheck/portcheck/providers"
	"github.com/portcheck/portcheck/providers/facts"
	"github.com/portcheck/portcheck/providers/sockets"
)

// Options say what to collect.
type Options struct {
	// Exec is the namespace observed (Netns "" = this machine's); Host is
	// the HCL host name recorded in the document.
	Exec providers.Exec
	// SELinuxDomains are domains whose name_bind rules are read besides
	// those of the listening processes (declared domains of endpoints).
	SELinuxDomains []string
	// Version is portcheck's own version, recorded in the document.
	Version string
	// Only limits the observers run (nil = all): facts.ObserverSockets…
	Only []string
}

func (o Options) wants(observer string) bool {
	if o.Only == nil {
		return true
	}
	for _, w := range o.Only {
		if w == observer {
			return true
		}
	}
	return false
}

// now is the clock, replaced in tests.
var now = time.Now

// Collect observes and returns the document; an observer that fails is
// recorded in Failures, so the error is only for a cancelled context.
func Collect(ctx context.Context, o Options) (*facts.Document, error) {
	start := now()
	d := &facts.Document{Schema: facts.Schema, Version: facts.Version, Failures: []facts.Failure{}}
	d.Host = hostInfo(o)
	fail := func(observer string, err error) {
		d.Failures = append(d.Failures, facts.Failure{Observer: observer, Error: err.Error()})
	}
	if err := netns.Check(o.Exec.Netns); err != nil {
		// Nothing can be observed in a namespace that cannot be entered.
		for _, obs := range []string{facts.ObserverSockets, facts.ObserverFirewall, facts.ObserverSELinux} {
			if o.wants(obs) {
				fail(obs, err)
			}
		}
		d.Host.Duration = ms(now().Sub(start))
		return d, nil
	}
	h := NewHost(o.Exec)
	if o.wants(facts.ObserverSockets) {
		t, err := h.Sockets(ctx)
		if err != nil {
			fail(facts.ObserverSockets, err)
		} else {
			d.Sockets = t
		}
	}
	if ctx.Err() != nil {
		return nil, ctx.Err()
	}
	// The firewall (nft, iptables, D-Bus) and SELinux (semanage, sesearch)
	// both run external tools: run them side by side.
	var wg sync.WaitGroup
	var mu sync.Mutex
	if o.wants(facts.ObserverFirewall) {
		wg.Go(func() {
			s, err := h.Firewall(ctx)
			mu.Lock()
			defer mu.Unlock()
			if err != nil {
				fail(facts.ObserverFirewall, err)
				return
			}
			d.Firewall = s
		})
	}
	if o.wants(facts.ObserverSELinux) {
		domains := append(processDomains(d.Sockets), o.SELinuxDomains...)
		wg.Go(func() {
			sh, err := h.SELinux(ctx, domains)
			mu.Lock()
			defer mu.Unlock()
			if err != nil {
				fail(facts.ObserverSELinux, err)
				return
			}
			d.SELinux = sh
		})
	}
	wg.Wait()
	if ctx.Err() != nil {
		return nil, ctx.Err()
	}
	// What listens behind the ruleset's DNAT targets (containers, pods on
	// this machine), so L1 can follow a published port from the document.
	if d.Firewall != nil && o.wants(facts.ObserverSockets) {
		targets, truncated := dnatTargets(d.Firewall, maxBehind)
		for _, a := range targets {
			b, _ := h.Behind(ctx, a)
			d.Behind = append(d.Behind, *b)
		}
		if truncated {
			d.Notes = append(d.Notes, fmt.Sprintf("the ruleset DNATs to more than %d addresses; only the first %d were located", maxBehind, maxBehind))
		}
	}
	d.Host.Addresses = addresses(d)
	d.Host.Duration = ms(now().Sub(start))
	return d, nil
}

// processDomains are the SELinux domains of the listening processes.
func processDomains(t *sockets.Table) []string {
	if t == nil {
		return nil
	}
	var out []string
	for _, s := range t.Sockets {
		for _, p := range s.Processes {
			if parts := strings.Split(p.SELinuxContext, ":"); len(parts) >= 3 && parts[2] != "" {
				out = append(out, parts[2])
			}
		}
	}
	return out
}

func hostInfo(o Options) facts.Host {
	h := facts.Host{Name: o.Exec.Host, Netns: o.Exec.Netns, Collected: now().UTC(), Portcheck: o.Version, Tools: toolVersions(o)}
	h.Hostname, _ = os.Hostname()
	var u unix.Utsname
	if unix.Uname(&u) == nil {
		h.Kernel = unix.ByteSliceToString(u.Release[:])
	}
	return h
}

// addresses are the host's addresses, from the interfaces the firewall
// observer read (they are the namespace's), else the machine's.
func addresses(d *facts.Document) []netip.Addr {
	var out []netip.Addr
	if d.Firewall != nil && d.Firewall.Host != nil {
		for _, ifc := range d.Firewall.Host.Interfaces {
			for _, p := range ifc.Addrs {
				out = append(out, p.Addr())
			}
		}
		return out
	}
	if d.Host.Netns != "" {
		return []netip.Addr{}
	}
	ifaddrs, _ := net.InterfaceAddrs()
	for _, ia := range ifaddrs {
		if p, err := netip.ParsePrefix(ia.String()); err == nil {
			out = append(out, p.Addr())
		}
	}
	if out == nil {
		out = []netip.Addr{}
	}
	return out
}

// toolVersions asks each program the observers use for its version, with
// a short timeout; absent programs, and those of observers not run, are
// left out.
func toolVersions(o Options) map[string]string {
	observer := map[string]string{"nft": facts.ObserverFirewall, "iptables-nft": facts.ObserverFirewall, "iptables-legacy": facts.ObserverFirewall,
		"sesearch": facts.ObserverSELinux, "semanage": facts.ObserverSELinux}
	tools := map[string][]string{
		"nft":             {"nft", "--version"},
		"iptables-nft":    {"iptables-nft", "--version"},
		"iptables-legacy": {"iptables-legacy", "--version"},
		"sesearch":        {"sesearch", "--version"},
		"semanage":        {"semanage"}, // no --version: presence only (its --help costs a Python start, ~0.6 s of CPU)
	}
	out := map[string]string{}
	var mu sync.Mutex
	var wg sync.WaitGroup
	for name, argv := range tools {
		if _, err := exec.LookPath(argv[0]); err != nil || !o.wants(observer[name]) {
			continue
		}
		if len(argv) == 1 {
			mu.Lock()
			out[name] = "installed"
			mu.Unlock()
			continue
		}
		wg.Go(func() {
			ctx, cancel := context.WithTimeout(context.Background(), 3*time.Second)
			defer cancel()
			b, err := exec.CommandContext(ctx, argv[0], argv[1:]...).CombinedOutput()
			if err != nil {
				return // a version that could not be asked is left out, not an error text
			}
			v := strings.TrimSpace(firstLine(string(b)))
			if v == "" {
				return
			}
			mu.Lock()
			out[name] = v
			mu.Unlock()
		})
	}
	wg.Wait()
	return out
}

func firstLine(s string) string {
	line, _, _ := strings.Cut(s, "\n")
	return line
}

func ms(d time.Duration) float64 { return float64(d.Microseconds()) / 1e3 }

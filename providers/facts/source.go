package facts

import (
	"context"
	"errors"
	"fmt"
	"net/netip"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"sync"

	"github.com/portcheck/portcheck/providers"
	"github.com/portcheck/portcheck/providers/firewall/netfilter"
	"github.com/portcheck/portcheck/providers/selinux"
	"github.com/portcheck/portcheck/providers/sockets"
)

// Behind is where a DNATed address lives on the host: the network
// namespace holding it (a container, a pod) and what listens there. L1
// follows a port the host's firewall translates to it.
type Behind struct {
	Addr netip.Addr `json:"addr"`
	// Netns and Via say where it was found and how it is tied to the
	// host's route (netnslocate); Error says why it was not found.
	Netns   string         `json:"netns,omitempty"`
	Via     string         `json:"via,omitempty"`
	Sockets *sockets.Table `json:"sockets,omitempty"`
	Error   string         `json:"error,omitempty"`
	// NotFound is set when no namespace on the machine holds the address
	// (a backend elsewhere), as opposed to one that could not be read.
	NotFound bool `json:"not_found,omitempty"`
}

// HostFacts is one host's server-side facts, however they were obtained:
// observed now (each part once, when first asked) or read from a
// document. The evaluators only ever see this.
type HostFacts interface {
	Sockets(ctx context.Context) (*sockets.Table, error)
	Firewall(ctx context.Context) (*netfilter.Snapshot, error)
	// SELinux gives the machine's SELinux facts with the name_bind rules
	// of domains (a document holds those it was collected with).
	SELinux(ctx context.Context, domains []string) (*selinux.HostFacts, error)
	// Behind finds the namespace behind a DNATed address.
	Behind(ctx context.Context, addr netip.Addr) (*Behind, error)
	// Origin names where the facts come from: "" when observed live, else
	// "web1.json (collected 2026-12-03T12:00:00Z)".
	Origin() string
}

// Source gives the facts of each host a plan names.
type Source interface {
	// For returns the facts of the host called name, with the declared
	// addresses, whose checks would run at exec.
	For(name string, addrs []netip.Addr, exec providers.Exec) (HostFacts, error)
	// Recorded reports whether the facts come from documents (then a host
	// needs no namespace or local address to be checked).
	Recorded() bool
}

// Loaded is a document and the file it was read from.
type Loaded struct {
	Doc  *Document
	File string
}

// Load reads a facts document, or every *.json document of a directory.
// A directory without one, or any unreadable document, is an error.
func Load(path string) ([]Loaded, error) {
	st, err := os.Stat(path)
	if err != nil {
		return nil, err
	}
	files := []string{path}
	if st.IsDir() {
		m, err := filepath.Glob(filepath.Join(path, "*.json"))
		if err != nil {
			return nil, err
		}
		if len(m) == 0 {
			return nil, fmt.Errorf("%s holds no *.json facts documents (write them with portcheck collect -o)", path)
		}
		sort.Strings(m)
		files = m
	}
	var out []Loaded
	var errs []error
	for _, f := range files {
		r, err := os.Open(f)
		if err != nil {
			errs = append(errs, err)
			continue
		}
		d, err := Decode(r, f)
		r.Close()
		if err != nil {
			errs = append(errs, err)
			continue
		}
		out = append(out, Loaded{Doc: d, File: f})
	}
	if len(errs) > 0 {
		return nil, errors.Join(errs...)
	}
	return out, nil
}

// Recorded is a Source over loaded documents. A host is matched by its
// HCL name (the name the document was collected for), else by one of its
// declared addresses among the document's; a host two documents match
// equally is ambiguous, which is an error, never a pick.
func Recorded(docs []Loaded) Source { return recorded(docs) }

type recorded []Loaded

func (recorded) Recorded() bool { return true }

func (r recorded) For(name string, addrs []netip.Addr, _ providers.Exec) (HostFacts, error) {
	var byName, byAddr []Loaded
	for _, l := range r {
		if l.Doc.Host.Name != "" && l.Doc.Host.Name == name {
			byName = append(byName, l)
			continue
		}
		for _, a := range addrs {
			if !a.IsLoopback() && slices.Contains(l.Doc.Host.Addresses, a.Unmap()) {
				byAddr = append(byAddr, l)
				break
			}
		}
	}
	pick := byName
	if len(pick) == 0 {
		pick = byAddr
	}
	switch len(pick) {
	case 1:
		return &docHost{Loaded: pick[0]}, nil
	case 0:
		var have []string
		for _, l := range r {
			have = append(have, fmt.Sprintf("%s (host %q, %s)", filepath.Base(l.File), l.Doc.Host.Name, joinAddrs(l.Doc.Host.Addresses)))
		}
		return nil, fmt.Errorf("no facts document for host %s (matched by name, else by address); the documents are: %s", name, strings.Join(have, "; "))
	}
	var files []string
	for _, l := range pick {
		files = append(files, l.File)
	}
	return nil, fmt.Errorf("host %s matches several facts documents (%s): collect with -name %s to tell them apart", name, strings.Join(files, ", "), name)
}

func joinAddrs(as []netip.Addr) string {
	if len(as) > 4 {
		return fmt.Sprintf("%s, … %d addresses", joinAddrs(as[:4]), len(as))
	}
	var s []string
	for _, a := range as {
		s = append(s, a.String())
	}
	return strings.Join(s, ", ")
}

// docHost serves a host's facts from its document.
type docHost struct{ Loaded }

func (h *docHost) Origin() string {
	return fmt.Sprintf("%s (collected %s)", filepath.Base(h.File), h.Doc.Host.Collected.UTC().Format("2006-01-02T15:04:05Z"))
}

func (h *docHost) missing(observer string) error {
	if why, failed := h.Doc.Failed(observer); failed {
		return fmt.Errorf("facts %s: the %s observer failed when collected: %s", filepath.Base(h.File), observer, why)
	}
	return fmt.Errorf("facts %s hold no %s facts", filepath.Base(h.File), observer)
}

func (h *docHost) Sockets(context.Context) (*sockets.Table, error) {
	if h.Doc.Sockets == nil {
		return nil, h.missing(ObserverSockets)
	}
	return h.Doc.Sockets, nil
}

func (h *docHost) Firewall(context.Context) (*netfilter.Snapshot, error) {
	if h.Doc.Firewall == nil {
		return nil, h.missing(ObserverFirewall)
	}
	return h.Doc.Firewall, nil
}

// SELinux serves the recorded facts; a domain they hold no rules for is
// said so by HostFacts.Port, never guessed.
func (h *docHost) SELinux(context.Context, []string) (*selinux.HostFacts, error) {
	if h.Doc.SELinux == nil {
		return nil, h.missing(ObserverSELinux)
	}
	return h.Doc.SELinux, nil
}

func (h *docHost) Behind(_ context.Context, addr netip.Addr) (*Behind, error) {
	for i := range h.Doc.Behind {
		if h.Doc.Behind[i].Addr == addr.Unmap() {
			return &h.Doc.Behind[i], nil
		}
	}
	return nil, fmt.Errorf("facts %s do not say what is behind %s (collect locates the DNAT targets of the ruleset when it runs)", filepath.Base(h.File), addr)
}

var (
	liveMu sync.Mutex
	live   func() Source
)

// RegisterLive makes newLive the way to observe facts live; the collect
// package registers itself, so a binary that links the observers
// (providers/all) can verify live without its front end or the runner
// naming them. Like database/sql.Register it panics on nil or twice.
func RegisterLive(newLive func() Source) {
	liveMu.Lock()
	defer liveMu.Unlock()
	if newLive == nil {
		panic("facts: RegisterLive of nil")
	}
	if live != nil {
		panic("facts: RegisterLive called twice")
	}
	live = newLive
}

// Live returns a new live source, or nil when no observer is linked in.
func Live() Source {
	liveMu.Lock()
	defer liveMu.Unlock()
	if live == nil {
		return nil
	}
	return live()
}

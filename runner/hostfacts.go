package runner

import (
	"errors"
	"net/netip"
	"sync"

	"github.com/portcheck/portcheck/providers"
	"github.com/portcheck/portcheck/providers/facts"
)

// hostFacts is one server host's facts source, found once per run.
type hostFacts struct {
	once sync.Once
	hf   facts.HostFacts
	err  error
}

// hostKey identifies a host's facts: its name and where it runs.
func hostKey(exec providers.Exec) string { return exec.Host + "\x00" + exec.Netns }

// errNoFactsSource is a front end's mistake, never a user's.
var errNoFactsSource = errors.New("no facts source: the run was given no way to observe or read the server's facts")

// hostFactsOf returns the facts of the server host at exec.
func (v *verifier) hostFactsOf(exec providers.Exec) (facts.HostFacts, error) {
	key := hostKey(exec)
	v.mu.Lock()
	h, ok := v.hosts[key]
	if !ok {
		h = &hostFacts{}
		v.hosts[key] = h
	}
	v.mu.Unlock()
	h.once.Do(func() {
		if v.obs.Facts == nil {
			h.err = errNoFactsSource
			return
		}
		var addrs []netip.Addr
		if host := v.servers[key]; host != nil {
			addrs = host.Addresses
		}
		h.hf, h.err = v.obs.Facts.For(exec.Host, addrs, exec)
	})
	return h.hf, h.err
}

// origin records, on a server-side result, which facts document it was
// judged from (nothing when observed live).
func (v *verifier) origin(exec providers.Exec, r *Result) *Result {
	if hf, err := v.hostFactsOf(exec); err == nil {
		r.FactsOrigin = hf.Origin()
	}
	return r
}

package runner

import (
	"net/netip"
	"sync"

	"github.com/portcheck/portcheck/providers/firewall"
)

// sourceCache remembers, for one run, the address each vantage namespace
// sends from to each destination: the route lookup enters the namespace,
// and L2 and L4 asked it again for every port of a host.
type sourceCache struct {
	mu sync.Mutex
	m  map[sourceKey]*sourceAnswer
}

type sourceKey struct {
	netns string
	dst   netip.Addr
}

type sourceAnswer struct {
	once sync.Once
	src  netip.Addr
	err  error
}

// sourceFor is firewall.SourceFor, once per run and key; a nil cache asks
// every time.
func (s *sourceCache) sourceFor(netns string, dst netip.Addr) (netip.Addr, error) {
	if s == nil {
		return firewall.SourceFor(netns, dst)
	}
	k := sourceKey{netns, dst}
	s.mu.Lock()
	a := s.m[k]
	if a == nil {
		if s.m == nil {
			s.m = map[sourceKey]*sourceAnswer{}
		}
		a = &sourceAnswer{}
		s.m[k] = a
	}
	s.mu.Unlock()
	// Concurrent askers of one key wait for the one lookup.
	a.once.Do(func() { a.src, a.err = firewall.SourceFor(netns, dst) })
	return a.src, a.err
}

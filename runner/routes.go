package runner

import (
	"net/netip"
	"sync"

	"github.com/portcheck/portcheck/providers/firewall"
)

// sourceFunc gives the source address a namespace ("" = this one) sends
// from to dst.
type sourceFunc func(netns string, dst netip.Addr) (netip.Addr, error)

type routeKey struct {
	netns string
	dst   netip.Addr
}

type route struct {
	once sync.Once
	src  netip.Addr
	err  error
}

// sourceFor looks the route up once per namespace and destination per
// run, like the socket tables and packet filters: thousands of endpoints
// on one address share it. Besides the syscalls, each lookup's netlink
// receive puts a 64 KB buffer on the calling goroutine's stack, which
// then stays at 128 KB: with -parallelism 256 that was 32 MB of stacks.
func (v *verifier) sourceFor(netns string, dst netip.Addr) (netip.Addr, error) {
	r, _ := v.routes.LoadOrStore(routeKey{netns, dst}, &route{})
	rt := r.(*route)
	rt.once.Do(func() {
		// On a goroutine of its own, so that the big stack is given back
		// when it ends instead of staying with a worker.
		done := make(chan struct{})
		go func() {
			defer close(done)
			rt.src, rt.err = firewall.SourceFor(netns, dst)
		}()
		<-done
	})
	return rt.src, rt.err
}

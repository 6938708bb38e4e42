package exporter

import (
	"context"
	"sync"
)

// flights lets concurrent scrapes of one target share one run
// (singleflight): the first scrape starts the run in a goroutine of its
// own, later ones wait for the same outcome. The run does not belong to
// any scrape, so a scraper that gives up does not cancel it for the
// others; it ends on its own deadline. At most one run per key exists at
// a time, so a slow target cannot pile up goroutines however often it is
// scraped.
type flights struct {
	mu    sync.Mutex
	calls map[string]*flight
}

type flight struct {
	done chan struct{}
	out  *probeOutcome
}

// do returns the outcome of the run for key, starting run when none is in
// flight; it returns ctx's error when ctx ends first (the run goes on).
// started reports whether this call started the run.
func (f *flights) do(ctx context.Context, key string, run func() *probeOutcome) (out *probeOutcome, started bool, err error) {
	f.mu.Lock()
	if f.calls == nil {
		f.calls = map[string]*flight{}
	}
	c, ok := f.calls[key]
	if !ok {
		c = &flight{done: make(chan struct{})}
		f.calls[key] = c
		go func() {
			c.out = run()
			f.mu.Lock()
			delete(f.calls, key)
			f.mu.Unlock()
			close(c.done)
		}()
	}
	f.mu.Unlock()
	select {
	case <-c.done:
		return c.out, !ok, nil
	case <-ctx.Done():
		return nil, !ok, ctx.Err()
	}
}

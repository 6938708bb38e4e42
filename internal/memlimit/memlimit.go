// Package memlimit holds a verify run's memory near what it needs. Go's
// default collector lets the heap grow to twice what was live at the last
// collection; a verify of 10,000 endpoints has 35-40 MB live at its peak
// (a third of it the plan), so it peaked at 100-130 MB of RSS, much of it
// garbage waiting for the next cycle. Go's soft memory limit, set at three
// times the live heap after planning (at least 64 MiB), holds the same run
// near 90 MB in the same time. A run whose live heap then grows past what
// the plan suggested (a fleet's facts documents arriving over ssh, large
// evidence) gets the limit raised to one and a half times its live heap as
// it grows, so the collector never runs back to back; and the collector
// spends at most about half the CPU on a limit (Go's GC CPU limiter): a
// limit set too low slows a run down, it never fails it. GOMEMLIMIT, when
// the user sets it, is left as given.
package memlimit

import (
	"os"
	"runtime/debug"
	"runtime/metrics"
	"time"
)

const (
	// Floor is the least limit set: the Go runtime of a small run (the
	// binary's own pages are not counted by the runtime).
	Floor = 64 << 20
	// PerPlan is the limit as a multiple of the live heap after planning.
	PerPlan = 3
	// every is how often the live heap is looked at to raise the limit.
	every = 100 * time.Millisecond
)

// For is the limit for a live heap after planning of plan bytes and a live
// heap now of now bytes.
func For(plan, now uint64) int64 {
	return max(Floor, PerPlan*int64(plan), int64(now)+int64(now)/2)
}

// Hold sets the limit from the live heap now (call it once the plan is
// built) and raises it while the run's live heap grows; stop ends that and
// puts the runtime's previous limit back. It does nothing when the user
// set GOMEMLIMIT (also "off"); empty is unset, as for the runtime.
func Hold() (stop func()) {
	if os.Getenv("GOMEMLIMIT") != "" {
		return func() {}
	}
	plan, ok := live()
	if !ok {
		return func() {} // a runtime without the metric: keep its defaults
	}
	prev := debug.SetMemoryLimit(For(plan, plan))
	quit, done := make(chan struct{}), make(chan struct{})
	go func() {
		defer close(done)
		tick := time.NewTicker(every)
		defer tick.Stop()
		limit := For(plan, plan)
		for {
			select {
			case <-quit:
				return
			case <-tick.C:
				now, _ := live()
				if l := For(plan, now); l > limit {
					limit = l
					debug.SetMemoryLimit(limit)
				}
			}
		}
	}()
	return func() {
		close(quit)
		<-done
		debug.SetMemoryLimit(prev)
	}
}

// live is the heap live at the end of the last collection.
func live() (uint64, bool) {
	s := []metrics.Sample{{Name: "/gc/heap/live:bytes"}}
	metrics.Read(s)
	if s[0].Value.Kind() != metrics.KindUint64 {
		return 0, false
	}
	return s[0].Value.Uint64(), true
}

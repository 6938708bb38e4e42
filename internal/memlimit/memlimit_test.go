package memlimit

import (
	"math"
	"os"
	"runtime"
	"runtime/debug"
	"testing"
	"time"
)

func TestFor(t *testing.T) {
	const mib = 1 << 20
	for _, tc := range []struct {
		plan, now uint64
		want      int64
	}{
		{0, 0, Floor},
		{10 * mib, 10 * mib, Floor},
		{30 * mib, 40 * mib, 90 * mib},   // the plan's share decides
		{10 * mib, 200 * mib, 300 * mib}, // grown past it: 1.5 × live
		{250 * mib, 250 * mib, 750 * mib},
	} {
		if got := For(tc.plan, tc.now); got != tc.want {
			t.Errorf("For(%d MiB, %d MiB) = %d MiB, want %d MiB", tc.plan/mib, tc.now/mib, got/mib, tc.want/mib)
		}
	}
}

// TestUserLimitKept: with GOMEMLIMIT set the runtime's limit is untouched.
func TestUserLimitKept(t *testing.T) {
	orig := debug.SetMemoryLimit(-1)
	t.Cleanup(func() { debug.SetMemoryLimit(orig) })
	t.Setenv("GOMEMLIMIT", "off")
	debug.SetMemoryLimit(math.MaxInt64)
	stop := Hold()
	if got := debug.SetMemoryLimit(-1); got != math.MaxInt64 {
		t.Errorf("with GOMEMLIMIT set, the limit changed to %d", got)
	}
	stop()
}

// TestHoldRaisesWithLiveHeap: the limit starts at the floor for a small
// heap, rises while the live heap grows past it, and is put back at stop.
func TestHoldRaisesWithLiveHeap(t *testing.T) {
	if os.Getenv("GOMEMLIMIT") != "" {
		t.Skip("GOMEMLIMIT is set in this environment")
	}
	orig := debug.SetMemoryLimit(-1)
	t.Cleanup(func() { debug.SetMemoryLimit(orig) })
	runtime.GC()
	stop := Hold()
	if got := debug.SetMemoryLimit(-1); got < Floor {
		t.Fatalf("limit %d below the floor", got)
	}
	// Grow the live heap well past the floor.
	held := make([][]byte, 0, 200)
	for range 200 {
		held = append(held, make([]byte, 1<<20))
	}
	runtime.GC()
	deadline := time.Now().Add(5 * time.Second)
	for debug.SetMemoryLimit(-1) < 200<<20 {
		if time.Now().After(deadline) {
			t.Fatalf("limit %d MiB after the live heap grew to 200 MiB: not raised", debug.SetMemoryLimit(-1)>>20)
		}
		time.Sleep(20 * time.Millisecond)
	}
	runtime.KeepAlive(held)
	stop()
	if got := debug.SetMemoryLimit(-1); got != orig {
		t.Errorf("after stop the limit is %d, want the previous %d", got, orig)
	}
}

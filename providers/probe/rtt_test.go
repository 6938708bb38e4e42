package probe

import (
	"context"
	"testing"
	"time"
)

func TestEstimator(t *testing.T) {
	ms := time.Millisecond
	cases := []struct {
		name         string
		samples      []time.Duration
		attempt      int
		declared     time.Duration
		srtt, rttvar time.Duration
		want         time.Duration
		adaptive     bool
	}{
		{name: "no sample: the declared timeout", declared: 2 * time.Second, want: 2 * time.Second},
		// RFC 6298 2.2: SRTT = R, RTTVAR = R/2, RTO = R + 4·R/2 = 3R.
		{name: "first sample", samples: []time.Duration{50 * ms}, declared: 2 * time.Second,
			srtt: 50 * ms, rttvar: 25 * ms, want: 150 * ms, adaptive: true},
		// 2.3: RTTVAR = 3/4·25 + 1/4·|50-90| = 28.75; SRTT = 7/8·50 + 1/8·90 = 55.
		{name: "second sample", samples: []time.Duration{50 * ms, 90 * ms}, declared: 2 * time.Second,
			srtt: 55 * ms, rttvar: 28750 * time.Microsecond, want: 170 * ms, adaptive: true},
		{name: "a fast path waits at least MinTimeout", samples: []time.Duration{100 * time.Microsecond, 100 * time.Microsecond},
			declared: 2 * time.Second, srtt: 100 * time.Microsecond, rttvar: 37500 * time.Nanosecond, want: MinTimeout, adaptive: true},
		{name: "back-off doubles per attempt", samples: []time.Duration{50 * ms}, attempt: 2, declared: 2 * time.Second,
			srtt: 50 * ms, rttvar: 25 * ms, want: 600 * ms, adaptive: true},
		{name: "never above the declared timeout", samples: []time.Duration{50 * ms}, attempt: 5, declared: 2 * time.Second,
			srtt: 50 * ms, rttvar: 25 * ms, want: 2 * time.Second},
		{name: "a slow path: the declared timeout", samples: []time.Duration{900 * ms}, declared: time.Second,
			srtt: 900 * ms, rttvar: 450 * ms, want: time.Second},
		{name: "declared below the floor stays declared", samples: []time.Duration{ms}, declared: 50 * ms,
			srtt: ms, rttvar: ms / 2, want: 50 * ms},
		{name: "negative samples are ignored", samples: []time.Duration{-ms}, declared: 2 * time.Second, want: 2 * time.Second},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			var e Estimator
			for _, s := range c.samples {
				e.Sample(s)
			}
			if e.SRTT != c.srtt || e.RTTVar != c.rttvar {
				t.Errorf("SRTT, RTTVAR = %v, %v; want %v, %v", e.SRTT, e.RTTVar, c.srtt, c.rttvar)
			}
			got, adaptive := e.Timeout(c.attempt, c.declared)
			if got != c.want || adaptive != c.adaptive {
				t.Errorf("Timeout(%d, %v) = %v, %v; want %v, %v", c.attempt, c.declared, got, adaptive, c.want, c.adaptive)
			}
		})
	}
}

// TestHostTimingWindow follows a host's window and timeout through
// answers, silence and a loss, as the scheduler records them.
func TestHostTimingWindow(t *testing.T) {
	declared := 2 * time.Second
	type step struct {
		do        string // "answer", "silent", "loss"
		window    float64
		lossy     bool
		timeout   time.Duration
		gapAtLeas time.Duration
	}
	h := &hostTiming{cwnd: initialWindow, ssthresh: 64, max: 64, watchers: map[*watcher]struct{}{}}
	steps := []step{
		{do: "answer", window: 11, timeout: MinTimeout},
		{do: "answer", window: 12, timeout: MinTimeout},
		{do: "silent", window: 13, timeout: MinTimeout}, // silence is no congestion
		// Loss: ssthresh to half (6.5), the window to the loss window.
		{do: "loss", window: lossWindow, lossy: true, timeout: declared, gapAtLeas: 5 * time.Millisecond},
		// Another loss within the same round trip window counts once.
		{do: "loss", window: lossWindow, lossy: true, timeout: declared, gapAtLeas: 5 * time.Millisecond},
		// Slow start back up to ssthresh, one per answer.
		{do: "answer", window: lossWindow + 1, lossy: true, timeout: declared},
	}
	for i, s := range steps {
		switch s.do {
		case "answer":
			h.answered(time.Now(), 200*time.Microsecond, 0, false)
		case "silent":
			h.silent()
		case "loss":
			h.answered(time.Now(), 0, 3*time.Millisecond, true)
		}
		to, _ := h.timeout(0, declared)
		if h.cwnd != s.window || h.lossy != s.lossy || to != s.timeout || h.gap < s.gapAtLeas {
			t.Errorf("step %d (%s): window %.3f lossy %v timeout %v gap %v; want %.3f %v %v gap ≥ %v",
				i, s.do, h.cwnd, h.lossy, to, h.gap, s.window, s.lossy, s.timeout, s.gapAtLeas)
		}
	}
	if got := counted([]attemptWait{{d: MinTimeout, adaptive: true}, {d: declared}}, h); got != 1 {
		t.Errorf("a lossy host counts %d silent attempts, want only the declared one", got)
	}
	var none *hostTiming
	if to, ad := none.timeout(3, declared); to != declared || ad {
		t.Errorf("no scheduler: timeout %v adaptive %v, want the declared %v", to, ad, declared)
	}
}

// TestWindowQueue: slots go to waiters in order, one per freed slot, and
// a cancelled waiter gives its place up.
func TestWindowQueue(t *testing.T) {
	h := &hostTiming{cwnd: 1, ssthresh: 1, max: 1, watchers: map[*watcher]struct{}{}}
	ctx := t.Context()
	if err := h.acquire(ctx); err != nil {
		t.Fatal(err)
	}
	got := make(chan int, 3)
	cctx, cancel := context.WithCancel(ctx)
	started := make(chan struct{})
	go func() { close(started); got <- errCode(h.acquire(cctx)) }()
	<-started
	waitQueued(t, h, 1)
	go func() { got <- 10 + errCode(h.acquire(ctx)) }()
	waitQueued(t, h, 2)
	cancel()
	if c := <-got; c != 1 {
		t.Fatalf("cancelled waiter returned %d, want 1 (cancelled)", c)
	}
	h.release()
	if c := <-got; c != 10 {
		t.Fatalf("second waiter returned %d, want 10 (granted)", c)
	}
	if h.inflight != 1 || len(h.queue) != 0 {
		t.Fatalf("inflight %d queue %d, want 1 and 0", h.inflight, len(h.queue))
	}
}

func errCode(err error) int {
	if err != nil {
		return 1
	}
	return 0
}

func waitQueued(t *testing.T, h *hostTiming, n int) {
	t.Helper()
	for range 1000 {
		h.mu.Lock()
		q := len(h.queue)
		h.mu.Unlock()
		if q == n {
			return
		}
		time.Sleep(time.Millisecond)
	}
	t.Fatalf("queue never reached %d", n)
}

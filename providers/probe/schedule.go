package probe

import (
	"context"
	"fmt"
	"net/netip"
	"os"
	"strings"
	"sync"
	"time"

	"golang.org/x/sys/unix"

	"github.com/portcheck/portcheck/providers"
)

// Scheduling constants. The initial window is the runner's old fixed
// parallelism: a host starts where portcheck always started and earns more.
const (
	// DefaultMaxProbes caps the probes in flight when the user sets no cap.
	DefaultMaxProbes = 1024
	initialWindow    = 10
	// fdReserve is what the probes leave of RLIMIT_NOFILE for everything
	// else a run opens (facts readers, L5 and L7 sockets, reports), and
	// for the sockets namespace workers make ahead (nsSpares per family;
	// two namespaces' worth, the common case of one vantage namespace and
	// a remote or local one).
	fdReserve = 256 + 2*nsSpares
	// maxSendGap bounds the pause between two probes to one host that a
	// lossy host earns (nmap's max-scan-delay).
	maxSendGap = time.Second
	// lossWindow is the window a host falls to on loss: two, so one
	// filtered port's long wait does not stop every other probe to it.
	lossWindow = 2
)

// Scheduler runs L4 probes for one verify run: per target host (as seen
// from one vantage) it keeps an RTT estimate that sets the wait of each
// TCP attempt, and a congestion window that sets how many probes to the
// host are in flight; across hosts a fixed budget keeps the run within
// RLIMIT_NOFILE. It is safe for concurrent use.
type Scheduler struct {
	max   int
	slots chan struct{}
	mu    sync.Mutex
	hosts map[timingKey]*hostTiming
}

type timingKey struct {
	netns string
	addr  netip.Addr
}

// NewScheduler returns a scheduler with at most max probes in flight (0:
// DefaultMaxProbes), never more than the open-file limit leaves room for.
func NewScheduler(max int) *Scheduler {
	if max <= 0 {
		max = DefaultMaxProbes
	}
	max = min(max, FDBudget())
	return &Scheduler{max: max, slots: make(chan struct{}, max), hosts: map[timingKey]*hostTiming{}}
}

// FDBudget is how many sockets the probes may hold at once: the soft
// RLIMIT_NOFILE (which the Go runtime raises to the hard limit at start)
// less the descriptors already open and a reserve for everything else.
func FDBudget() int {
	var rl unix.Rlimit
	if err := unix.Getrlimit(unix.RLIMIT_NOFILE, &rl); err != nil || rl.Cur > 1<<20 {
		return DefaultMaxProbes
	}
	return max(1, int(rl.Cur)-openFDs()-fdReserve)
}

func openFDs() int {
	ents, err := os.ReadDir("/proc/self/fd")
	if err != nil {
		return 0
	}
	return len(ents)
}

// Max is the cap on probes in flight.
func (s *Scheduler) Max() int { return s.max }

// Probe has the signature of the package's Probe: TCP or UDP by the
// target's protocol, waiting for a window slot on the target's host first.
func (s *Scheduler) Probe(ctx context.Context, exec providers.Exec, t providers.Target, p Params) (Outcome, error) {
	proto := strings.ToLower(string(t.Protocol))
	if proto != "tcp" && proto != "" && proto != "udp" {
		return Outcome{}, fmt.Errorf("probe: protocol %q not supported (tcp or udp)", t.Protocol)
	}
	h := s.host(exec, t.Address)
	if err := h.acquire(ctx); err != nil {
		return Outcome{Target: t}, err
	}
	select {
	case s.slots <- struct{}{}:
	case <-ctx.Done():
		h.release()
		return Outcome{Target: t}, ctx.Err()
	}
	defer func() { <-s.slots; h.release() }()
	if proto == "udp" {
		// A UDP reply comes from the service, not the kernel: its delay is
		// the application's, not the path's, so UDP keeps the declared wait.
		return UDP(ctx, exec, t, p)
	}
	return tcpProbe(ctx, exec, t, p, h)
}

// Timing returns a copy of the host's estimate and window (for tests and
// benchmarks); ok is false when no probe went to the host.
func (s *Scheduler) Timing(exec providers.Exec, addr netip.Addr) (est Estimator, window float64, lossy bool, ok bool) {
	s.mu.Lock()
	h := s.hosts[timingKey{exec.Netns, addr.Unmap()}]
	s.mu.Unlock()
	if h == nil {
		return Estimator{}, 0, false, false
	}
	h.mu.Lock()
	defer h.mu.Unlock()
	return h.est, h.cwnd, h.lossy, true
}

func (s *Scheduler) host(exec providers.Exec, a netip.Addr) *hostTiming {
	k := timingKey{exec.Netns, a.Unmap()}
	s.mu.Lock()
	defer s.mu.Unlock()
	h := s.hosts[k]
	if h == nil {
		h = &hostTiming{exec: exec, addr: a.Unmap(), cwnd: initialWindow, ssthresh: float64(s.max), max: float64(s.max), watchers: map[*watcher]struct{}{}}
		s.hosts[k] = h
	}
	return h
}

// hostTiming is one target host's RTT estimate, congestion window and
// pacing. Loss is an answer that came only to a retransmission (a later
// attempt, or the kernel's second SYN within one): the host or the path
// dropped a probe or its answer, which is the one sign of congestion or
// rate limiting a prober can see. Silence alone is not loss: a filtered
// port never answers, whatever the load.
type hostTiming struct {
	mu       sync.Mutex
	est      Estimator
	cwnd     float64
	ssthresh float64
	max      float64
	inflight int
	queue    []*slotWaiter // probes waiting for a slot, in order
	// lossy: the host dropped something a retry then got answered; from then
	// on silence is judged on the declared timeout only, since a rate
	// limiter drops answers for longer than a round trip.
	lossy     bool
	losses    int
	lastBoost time.Time
	gap       time.Duration // pause between sends to this host
	nextSend  time.Time
	watchers  map[*watcher]struct{}
	// lastAnswered is the latest send time of an answered probe: silence
	// older than it is not an answer stuck in a queue.
	lastAnswered time.Time
	// A timing probe (nmap's "timing ping"): a SYN to a port of the host
	// that answered before, sent when a silent attempt waits for a later
	// answer and no probe is left to give one (the end of a run).
	exec        providers.Exec
	addr        netip.Addr
	pingPort    int
	pingRefused bool
	pinging     bool
	lastPing    time.Time
}

// watcher is an attempt waiting on an adaptive deadline; rearm is called
// when the host's timing changes (its first sample, or loss).
type watcher struct{ rearm func() }

// acquire waits for a slot in the host's window, first come first served.
func (h *hostTiming) acquire(ctx context.Context) error {
	h.mu.Lock()
	if len(h.queue) == 0 && h.inflight < h.window() {
		h.inflight++
		h.mu.Unlock()
		return nil
	}
	w := &slotWaiter{ready: make(chan struct{})}
	h.queue = append(h.queue, w)
	h.mu.Unlock()
	select {
	case <-w.ready:
		return nil
	case <-ctx.Done():
		h.mu.Lock()
		if w.granted {
			h.mu.Unlock()
			h.release()
			return ctx.Err()
		}
		for i, q := range h.queue {
			if q == w {
				h.queue = append(h.queue[:i], h.queue[i+1:]...)
				break
			}
		}
		h.mu.Unlock()
		return ctx.Err()
	}
}

// slotWaiter is a probe queued for a slot; a freed slot goes to the first
// one (one wake-up per slot, not one per waiter).
type slotWaiter struct {
	ready   chan struct{}
	granted bool
}

func (h *hostTiming) window() int { return max(1, int(h.cwnd)) }

// grant hands free slots to queued probes. Called with h.mu held.
func (h *hostTiming) grant() {
	for len(h.queue) > 0 && h.inflight < h.window() {
		w := h.queue[0]
		h.queue[0] = nil
		h.queue = h.queue[1:]
		w.granted = true
		h.inflight++
		close(w.ready)
	}
}

func (h *hostTiming) release() {
	h.mu.Lock()
	h.inflight--
	h.grant()
	h.mu.Unlock()
}

// requeue gives a retry's window slot back and queues for one again once
// the host has shown loss. Without it every probe that started before the
// loss keeps its slot through all its attempts, so the kernel's SYN
// retransmissions of dozens of probes leave in one wave, and a rate
// limiter with a small burst (nft "limit rate 20/second burst 5") answers
// five of them each time: a closed port can lose every attempt and read as
// filtered. Queued behind the loss window, retries leave a few at a time.
// On a context error the probe holds a slot again (its caller releases one).
func (h *hostTiming) requeue(ctx context.Context) error {
	if h == nil {
		return nil
	}
	h.mu.Lock()
	lossy := h.lossy
	h.mu.Unlock()
	if !lossy {
		return nil
	}
	h.release()
	if err := h.acquire(ctx); err != nil {
		h.mu.Lock()
		h.inflight++
		h.mu.Unlock()
		return err
	}
	return nil
}

// timeout is the wait of attempt i (0-based); nil h means no scheduler:
// the declared timeout, as before adaptive timing.
func (h *hostTiming) timeout(attempt int, declared time.Duration) (time.Duration, bool) {
	if h == nil {
		return declared, false
	}
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.lossy {
		return declared, false
	}
	return h.est.Timeout(attempt, declared)
}

// trusted reports whether silence within an adaptive wait still counts.
func (h *hostTiming) trusted() bool {
	if h == nil {
		return true
	}
	h.mu.Lock()
	defer h.mu.Unlock()
	return !h.lossy
}

// pace waits until the host's send gap allows another attempt.
func (h *hostTiming) pace(ctx context.Context) error {
	if h == nil {
		return nil
	}
	h.mu.Lock()
	now := time.Now()
	at := now
	if h.gap > 0 {
		at = maxTime(now, h.nextSend)
		h.nextSend = at.Add(h.gap)
	}
	h.mu.Unlock()
	if d := time.Until(at); d > 0 {
		t := time.NewTimer(d)
		defer t.Stop()
		select {
		case <-t.C:
		case <-ctx.Done():
			return ctx.Err()
		}
	}
	return nil
}

// answeredPort remembers a port for timing probes, a refused one first.
func (h *hostTiming) answeredPort(port uint16, state string) {
	if h == nil {
		return
	}
	h.mu.Lock()
	if h.pingPort == 0 || (state == StateRefused && !h.pingRefused) {
		h.pingPort, h.pingRefused = int(port), state == StateRefused
	}
	h.mu.Unlock()
}

// answeredSince reports whether a probe sent after t has been answered.
func (h *hostTiming) answeredSince(t time.Time) bool {
	if h == nil {
		return true
	}
	h.mu.Lock()
	defer h.mu.Unlock()
	return h.lastAnswered.After(t)
}

// ping sends one timing probe when none is in flight and the last was
// sent before t: its answer, if any, is a later probe answered. It prefers
// a port that answered with RST, so no service sees a connection.
func (h *hostTiming) ping(t time.Time, declared time.Duration) {
	if h == nil {
		return
	}
	h.mu.Lock()
	if h.pinging || h.pingPort == 0 || h.lastPing.After(t) {
		h.mu.Unlock()
		return
	}
	h.pinging = true
	h.lastPing = time.Now()
	port := h.pingPort
	h.mu.Unlock()
	go func() {
		defer func() {
			h.mu.Lock()
			h.pinging = false
			h.mu.Unlock()
		}()
		ep, err := parseTarget(providers.Target{Address: h.addr, Port: port, Protocol: "tcp"})
		if err != nil {
			return
		}
		ctx, cancel := context.WithTimeout(context.Background(), declared)
		defer cancel()
		var out Outcome
		a, err := tcpAttempt(ctx, h.exec, ep, declared, 0, false, nil, &out)
		if err == nil && a.answered && (out.State == StateOpen || out.State == StateRefused) {
			h.answered(a.sent, a.kernelRTT, a.rtt, a.retrans)
		}
	}()
}

// answered records an answer to a SYN sent at sent. kernelRTT is the kernel's measure of the
// round trip (0 when it has none, as for a RST); seen is the time until
// this goroutine saw the answer, which adds the scheduler's delay. loss
// is set when the answer came to a retransmission.
func (h *hostTiming) answered(sent time.Time, kernelRTT, seen time.Duration, loss bool) {
	if h == nil {
		return
	}
	h.mu.Lock()
	if sent.After(h.lastAnswered) {
		h.lastAnswered = sent
	}
	first := h.est.Samples == 0
	var rearm []*watcher
	switch {
	case loss:
		rearm = h.lose()
	case kernelRTT > 0:
		h.est.Sample(kernelRTT)
	case seen < synRetransmit:
		// No kernel measure: our own, which only errs long (a safe error).
		h.est.Sample(seen)
	}
	if !loss {
		h.grow()
		if first && h.est.Samples > 0 {
			rearm = h.watching()
		}
	}
	h.mu.Unlock()
	for _, w := range rearm {
		w.rearm()
	}
}

// silent records an attempt that went unanswered. The window grows as for
// an answer: silence is no sign of congestion (a retry that is answered
// is, see lose), and a host that drops everything then has its ports
// probed side by side instead of ten at a time.
func (h *hostTiming) silent() {
	if h == nil {
		return
	}
	h.mu.Lock()
	h.grow()
	h.mu.Unlock()
}

// grow is TCP's: one per completed probe in slow start, then 1/cwnd.
// Called with h.mu held.
func (h *hostTiming) grow() {
	if h.cwnd < h.ssthresh {
		h.cwnd++
	} else {
		h.cwnd += 1 / h.cwnd
	}
	h.cwnd = min(h.cwnd, h.max)
	h.grant()
}

// lose cuts the window to lossWindow, marks the host lossy and widens its send gap
// (at most once per estimated round trip, so one burst of drops counts
// once). It returns the waits to re-arm. Called with h.mu held.
func (h *hostTiming) lose() []*watcher {
	h.losses++
	now := time.Now()
	window, _ := h.est.Timeout(0, time.Hour)
	if !h.lastBoost.IsZero() && now.Sub(h.lastBoost) < max(window, MinTimeout) {
		return nil
	}
	h.lastBoost = now
	// TCP's answer to a retransmission timeout, which this is (the answer
	// came only after a wait ran out): ssthresh to half the window, the
	// window down to the loss window, and slow start back up from there.
	// Halving alone leaves dozens of retries in flight, whose resent SYNs
	// leave together and meet a rate limiter's burst all at once.
	h.ssthresh = max(h.cwnd/2, lossWindow)
	h.cwnd = lossWindow
	h.gap = min(max(2*h.gap, 5*time.Millisecond), maxSendGap)
	wasLossy := h.lossy
	h.lossy = true
	if wasLossy {
		return nil
	}
	return h.watching()
}

func (h *hostTiming) watching() []*watcher {
	ws := make([]*watcher, 0, len(h.watchers))
	for w := range h.watchers {
		ws = append(ws, w)
	}
	return ws
}

// watch registers fn to run when the host's timing changes; the returned
// func unregisters it.
func (h *hostTiming) watch(fn func()) func() {
	if h == nil {
		return func() {}
	}
	w := &watcher{rearm: fn}
	h.mu.Lock()
	h.watchers[w] = struct{}{}
	h.mu.Unlock()
	return func() {
		h.mu.Lock()
		delete(h.watchers, w)
		h.mu.Unlock()
	}
}

// snapshot is the host's estimate for an outcome's evidence.
func (h *hostTiming) snapshot() (Estimator, bool) {
	h.mu.Lock()
	defer h.mu.Unlock()
	return h.est, h.lossy
}

func maxTime(a, b time.Time) time.Time {
	if a.After(b) {
		return a
	}
	return b
}

// Timing is how an outcome's waits were chosen, in its evidence when an
// attempt went unanswered and the probe ran under a scheduler.
type Timing struct {
	// Adaptive is true when the verdict rests on at least one wait shorter
	// than the declared timeout (Assumption then says what that assumes).
	Adaptive bool `json:"adaptive"`
	// WaitsMs are the waits of the unanswered attempts, in order.
	WaitsMs    []float64 `json:"waits_ms"`
	DeclaredMs float64   `json:"declared_timeout_ms"`
	// SRTTms and RTTVarMs are the host's smoothed round trip and its mean
	// deviation when the probe ended, from Samples answers.
	SRTTms   float64 `json:"srtt_ms"`
	RTTVarMs float64 `json:"rttvar_ms"`
	Samples  int     `json:"samples"`
	// Lossy: the host dropped probes that a retry then got answered, so
	// silence there is judged on the declared timeout only.
	Lossy      bool   `json:"lossy,omitempty"`
	Assumption string `json:"assumption,omitempty"`
}

// adaptiveAssumption is what a filtered verdict on an adaptive wait assumes.
const adaptiveAssumption = "the port answers as fast as the host's other ports did: an answer held back longer (a rate limiter, a slow middlebox) would read as filtered; no dropped probe was seen on this host, and the declared timeout was not waited"

// timingOf builds an outcome's Timing; nil without a scheduler.
func timingOf(h *hostTiming, declared time.Duration, waits []attemptWait) *Timing {
	if h == nil {
		return nil
	}
	est, lossy := h.snapshot()
	t := &Timing{DeclaredMs: ms(declared), SRTTms: ms(est.SRTT), RTTVarMs: ms(est.RTTVar), Samples: est.Samples, Lossy: lossy}
	for _, w := range waits {
		t.WaitsMs = append(t.WaitsMs, ms(w.d))
		if w.adaptive && !lossy {
			t.Adaptive = true
		}
	}
	if t.Adaptive {
		t.Assumption = adaptiveAssumption
	}
	return t
}

// filteredDetail is the sentence of a filtered verdict: the waits, and
// when they were adaptive, what they rest on.
func filteredDetail(waits []attemptWait, declared time.Duration, t *Timing) string {
	uniform := true
	for _, w := range waits {
		uniform = uniform && w.d == declared
	}
	n := len(waits)
	if uniform {
		return fmt.Sprintf("no answer to %d SYN%s within %s each", n, plural(n), declared)
	}
	ds := make([]string, n)
	for i, w := range waits {
		ds[i] = w.d.Round(time.Millisecond).String()
	}
	s := fmt.Sprintf("no answer to %d SYN%s within %s", n, plural(n), strings.Join(ds, ", "))
	switch {
	case t != nil && t.Adaptive:
		s += fmt.Sprintf(" (adaptive timeout: the host's other answers took %.2f ms smoothed, ±%.2f ms, over %d samples; declared timeout %s); assuming %s",
			t.SRTTms, t.RTTVarMs, t.Samples, declared, adaptiveAssumption)
	case t != nil && t.Lossy:
		s += fmt.Sprintf("; the host dropped probes that retries then got answered, so only the waits of the declared %s count", declared)
	}
	return s
}

package probe

import (
	"fmt"
	"os"
	"runtime"
	"sync"
	"time"

	"golang.org/x/sys/unix"
)

// Entering a namespace costs a fresh locked thread, two opens and two
// setns calls; at thousands of probes a second that was most of a run's
// CPU. A nsWorker is one OS thread that entered a namespace once and
// creates the probes' sockets there (a socket stays in the namespace it
// was made in, whatever thread uses it later). It ends after idleAfter
// without work, and with it its thread, which never returns to the pool.
//
// A request to the worker is a hand-off to another OS thread, which on a
// busy machine waits for one of GOMAXPROCS to run: at 10,000 probes with
// a thousand in flight a probe waited 12-17 ms for its socket, though
// making it took 20 µs. So the worker also makes TCP sockets ahead, a
// batch per wake-up, and a probe takes a spare one without a hand-off.

const (
	nsIdleAfter = time.Second
	// nsSpares is how many TCP sockets per address family a worker keeps
	// made ahead: enough to cover a wake-up's latency at thousands of
	// probes a second, few against the open-file budget (fdReserve).
	nsSpares = 128
)

type nsWorker struct {
	reqs   chan nsReq
	exited chan struct{} // closed when the worker no longer serves
	// spare holds TCP sockets made ahead in the namespace (non-blocking,
	// close-on-exec, no option set), by family; refill asks the worker to
	// top them up. Each fd is received by exactly one taker, or closed by
	// the worker when it leaves.
	spare  map[int]chan int
	refill chan int
}

type nsReq struct {
	fn   func() error
	done chan error
}

var nsWorkers = struct {
	sync.Mutex
	m map[string]*nsWorker
}{m: map[string]*nsWorker{}}

// inNetns runs fn on a thread inside the namespace at path (the caller's
// own when path is empty). fn must not block: it runs on a shared thread.
func inNetns(path string, fn func() error) error {
	if path == "" {
		return fn()
	}
	done := make(chan error, 1)
	for {
		w, err := recentWorker(path)
		if err != nil {
			return err
		}
		select {
		case w.reqs <- nsReq{fn: fn, done: done}:
		case <-w.exited:
			continue
		}
		select {
		case err := <-done:
			return err
		case <-w.exited:
			// The worker served what was queued before it left; a request
			// it did not reach is made again by a new worker.
			select {
			case err := <-done:
				return err
			default:
			}
		}
	}
}

// nsID names the namespace a path refers to now (device and inode of the
// nsfs file), so a worker never serves a new namespace mounted at a path
// an old one had.
func nsID(path string) (string, error) {
	var st unix.Stat_t
	if err := unix.Stat(path, &st); err != nil {
		return "", err
	}
	return fmt.Sprintf("%d:%d", st.Dev, st.Ino), nil
}

func nsWorkerFor(path, id string) (*nsWorker, error) {
	key := path + "\x00" + id
	nsWorkers.Lock()
	defer nsWorkers.Unlock()
	if w := nsWorkers.m[key]; w != nil {
		return w, nil
	}
	w := &nsWorker{reqs: make(chan nsReq, 256), exited: make(chan struct{}),
		spare:  map[int]chan int{unix.AF_INET: make(chan int, nsSpares), unix.AF_INET6: make(chan int, nsSpares)},
		refill: make(chan int, 2)}
	ready := make(chan error, 1)
	go w.run(path, key, ready)
	if err := <-ready; err != nil {
		return nil, err
	}
	nsWorkers.m[key] = w
	return w, nil
}

func (w *nsWorker) run(path, key string, ready chan<- error) {
	defer close(w.exited)
	// Locked and never unlocked: the thread leaves with the goroutine, so
	// no other goroutine ever runs in this namespace.
	runtime.LockOSThread()
	f, err := os.Open(path)
	if err != nil {
		ready <- fmt.Errorf("open network namespace: %w", err)
		return
	}
	err = unix.Setns(int(f.Fd()), unix.CLONE_NEWNET)
	f.Close()
	if err != nil {
		ready <- fmt.Errorf("enter network namespace %s: %w", path, err)
		return
	}
	ready <- nil
	defer w.closeSpares()
	idle := time.NewTimer(nsIdleAfter)
	defer idle.Stop()
	for {
		select {
		case r := <-w.reqs:
			r.done <- r.fn()
			idle.Reset(nsIdleAfter)
		case fam := <-w.refill:
			w.makeSpares(fam)
			idle.Reset(nsIdleAfter)
		case <-idle.C:
			nsWorkers.Lock()
			if nsWorkers.m[key] == w {
				delete(nsWorkers.m, key)
			}
			nsWorkers.Unlock()
			// Serve what was queued before leaving the map; a sender after
			// this sees exited and asks a new worker.
			for {
				select {
				case r := <-w.reqs:
					r.done <- r.fn()
				default:
					return
				}
			}
		}
	}
}

// nsStreamSocket returns a non-blocking TCP socket of family made inside
// the namespace at path: a spare when one is ready, else made now.
func nsStreamSocket(path string, family int) (int, error) {
	w, err := recentWorker(path)
	if err != nil {
		return -1, err
	}
	spares := w.spare[family]
	select {
	case fd := <-spares:
		if len(spares) < 3*nsSpares/4 {
			w.askRefill(family)
		}
		return fd, nil
	default:
	}
	w.askRefill(family)
	fd := -1
	err = inNetns(path, func() error {
		var err error
		fd, err = newSocket(family, unix.SOCK_STREAM)
		return err
	})
	return fd, err
}

// newSocket makes a non-blocking, close-on-exec socket in the calling
// thread's namespace.
func newSocket(family, typ int) (int, error) {
	fd, err := unix.Socket(family, typ|unix.SOCK_NONBLOCK|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		return -1, fmt.Errorf("probe: socket: %w", err)
	}
	return fd, nil
}

// askRefill asks the worker for spares without waiting; a request already
// pending covers this one.
func (w *nsWorker) askRefill(family int) {
	select {
	case w.refill <- family:
	default:
	}
}

// makeSpares tops the family's spares up. Runs on the worker's thread, the
// only sender on spares, so a send below capacity never waits.
func (w *nsWorker) makeSpares(family int) {
	spares := w.spare[family]
	for len(spares) < cap(spares) {
		fd, err := newSocket(family, unix.SOCK_STREAM)
		if err != nil {
			return // a probe that finds none makes its own and meets the error
		}
		spares <- fd
	}
}

// closeSpares closes the sockets nobody took when the worker leaves (a
// taker may still be receiving, so never wait on an empty channel).
func (w *nsWorker) closeSpares() {
	for _, spares := range w.spare {
		closeAll(spares)
	}
}

func closeAll(fds chan int) {
	for {
		select {
		case fd := <-fds:
			unix.Close(fd)
		default:
			return
		}
	}
}

// nsRecheck is how long a namespace path is trusted to name the namespace
// it named at the last stat: a stat per probe was a tenth of a probe's
// CPU. A namespace replaced at the same path is seen within this time.
const nsRecheck = 100 * time.Millisecond

var nsRecent = struct {
	sync.Mutex
	m map[string]recentNS
}{m: map[string]recentNS{}}

type recentNS struct {
	w  *nsWorker
	at time.Time
}

// recentWorker is nsWorkerFor(path, nsID(path)), the stat skipped while
// the last one is recent and its worker still serves.
func recentWorker(path string) (*nsWorker, error) {
	now := time.Now()
	nsRecent.Lock()
	r, ok := nsRecent.m[path]
	nsRecent.Unlock()
	if ok && now.Sub(r.at) < nsRecheck {
		select {
		case <-r.w.exited:
		default:
			return r.w, nil
		}
	}
	id, err := nsID(path)
	if err != nil {
		return nil, fmt.Errorf("open network namespace: %w", err)
	}
	w, err := nsWorkerFor(path, id)
	if err != nil {
		return nil, err
	}
	nsRecent.Lock()
	nsRecent.m[path] = recentNS{w: w, at: now}
	nsRecent.Unlock()
	return w, nil
}

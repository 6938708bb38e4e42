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

const nsIdleAfter = time.Second

type nsWorker struct {
	reqs   chan nsReq
	exited chan struct{} // closed when the worker no longer serves
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
	id, err := nsID(path)
	if err != nil {
		return fmt.Errorf("open network namespace: %w", err)
	}
	done := make(chan error, 1)
	for {
		w, err := nsWorkerFor(path, id)
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
	w := &nsWorker{reqs: make(chan nsReq, 256), exited: make(chan struct{})}
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
	idle := time.NewTimer(nsIdleAfter)
	defer idle.Stop()
	for {
		select {
		case r := <-w.reqs:
			r.done <- r.fn()
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

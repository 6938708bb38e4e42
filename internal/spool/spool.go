// Package spool writes a report in the background: verify's reporters are
// called on the goroutine that collects finished endpoints, and when they
// block on a slow reader of stdout (a pipe whose reader is busy, an ssh
// session, a CI log collector) every worker waits behind them and no new
// probe starts. At 10,000 endpoints a 64 KB pipe held verify -json back by
// 0.3-0.8 s. A Writer gathers writes into chunks and hands them to one
// goroutine that writes them in order, holding at most a bounded number.
package spool

import (
	"io"
	"sync"
	"time"
)

const (
	// ChunkSize is the size of one write to the underlying writer.
	ChunkSize = 64 << 10
	// MaxQueued bounds the chunks waiting to be written (4 MB): beyond
	// that a Write waits, so a reader that stopped costs bounded memory.
	MaxQueued = 64
	// flushAfter is how long a partly filled chunk may wait while no
	// more comes: a reader following the report sees it within that.
	flushAfter = 250 * time.Millisecond
)

// Writer is an io.WriteCloser that writes to w in the background, in
// order. It is safe for use by one writer goroutine at a time.
type Writer struct {
	w      io.Writer
	queue  chan []byte
	done   chan struct{}
	mu     sync.Mutex
	cur    []byte // the chunk being filled
	err    error  // the first error of the underlying writer
	closed bool
	free   sync.Pool
}

// New starts the writer goroutine; Close stops it.
func New(w io.Writer) *Writer {
	s := &Writer{w: w, queue: make(chan []byte, MaxQueued), done: make(chan struct{})}
	go s.run()
	return s
}

// Write copies p into chunks and queues the full ones. It returns the
// underlying writer's first error once one happened (what was written
// after it is dropped).
func (s *Writer) Write(p []byte) (int, error) {
	n := len(p)
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.err != nil {
		return 0, s.err
	}
	if s.closed {
		return 0, io.ErrClosedPipe
	}
	for len(p) > 0 {
		if s.cur == nil {
			s.cur = s.chunk()
		}
		k := copy(s.cur[len(s.cur):cap(s.cur)], p)
		s.cur = s.cur[:len(s.cur)+k]
		p = p[k:]
		if len(s.cur) == cap(s.cur) {
			full := s.cur
			s.cur = nil
			s.mu.Unlock()
			s.queue <- full // waits while MaxQueued chunks are pending
			s.mu.Lock()
		}
	}
	return n, nil
}

func (s *Writer) chunk() []byte {
	if b, ok := s.free.Get().(*[]byte); ok {
		return (*b)[:0]
	}
	return make([]byte, 0, ChunkSize)
}

// run writes queued chunks in order; while nothing comes for flushAfter
// it writes the partly filled chunk too.
func (s *Writer) run() {
	defer close(s.done)
	tick := time.NewTicker(flushAfter)
	defer tick.Stop()
	for {
		select {
		case b, ok := <-s.queue:
			if !ok {
				return
			}
			s.write(b)
		case <-tick.C:
			s.mu.Lock()
			partial := s.cur
			if len(s.queue) > 0 || len(partial) == 0 {
				s.mu.Unlock()
				continue
			}
			s.cur = nil
			s.mu.Unlock()
			s.write(partial)
		}
	}
}

func (s *Writer) write(b []byte) {
	s.mu.Lock()
	failed := s.err != nil
	s.mu.Unlock()
	if !failed {
		if _, err := s.w.Write(b); err != nil {
			s.mu.Lock()
			s.err = err
			s.mu.Unlock()
		}
	}
	if cap(b) == ChunkSize {
		s.free.Put(&b)
	}
}

// Close writes what is left, waits until everything is written and
// returns the underlying writer's first error.
func (s *Writer) Close() error {
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		<-s.done
		return s.err
	}
	s.closed = true
	last := s.cur
	s.cur = nil
	s.mu.Unlock()
	if len(last) > 0 {
		s.queue <- last
	}
	close(s.queue)
	<-s.done
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.err
}

package spool

import (
	"bytes"
	"errors"
	"math/rand/v2"
	"sync"
	"testing"
	"time"
)

// slowWriter records what it is given, pausing on each write.
type slowWriter struct {
	mu    sync.Mutex
	buf   bytes.Buffer
	pause time.Duration
	fail  error // returned from the failAt-th write on
	calls int
	gate  chan struct{} // when set, each write waits for a receive
}

func (w *slowWriter) Write(p []byte) (int, error) {
	if w.gate != nil {
		<-w.gate
	}
	time.Sleep(w.pause)
	w.mu.Lock()
	defer w.mu.Unlock()
	w.calls++
	if w.fail != nil {
		return 0, w.fail
	}
	return w.buf.Write(p)
}

func (w *slowWriter) String() string {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.buf.String()
}

func TestOrderAndContent(t *testing.T) {
	for _, pause := range []time.Duration{0, time.Millisecond} {
		w := &slowWriter{pause: pause}
		s := New(w)
		var want bytes.Buffer
		r := rand.New(rand.NewPCG(1, 2))
		for i := range 3000 {
			p := bytes.Repeat([]byte{byte('a' + i%26)}, r.IntN(3*ChunkSize/100))
			want.Write(p)
			if n, err := s.Write(p); n != len(p) || err != nil {
				t.Fatalf("Write = %d, %v", n, err)
			}
		}
		if err := s.Close(); err != nil {
			t.Fatal(err)
		}
		if got := w.String(); got != want.String() {
			t.Fatalf("pause %v: %d bytes written, want %d (or out of order)", pause, len(got), want.Len())
		}
	}
}

// TestWriteDoesNotWaitForTheReader: what fits in the queue returns at
// once though the reader takes nothing; beyond MaxQueued chunks Write
// waits (bounded memory), and goes on once the reader reads.
func TestWriteDoesNotWaitForTheReader(t *testing.T) {
	w := &slowWriter{gate: make(chan struct{})}
	s := New(w)
	chunk := make([]byte, ChunkSize)
	start := time.Now()
	// One chunk is taken by the writer goroutine (blocked in Write), the
	// queue holds MaxQueued more.
	for range MaxQueued + 1 {
		s.Write(chunk)
	}
	if d := time.Since(start); d > time.Second {
		t.Fatalf("queueing %d chunks took %v: Write waited for the reader", MaxQueued+1, d)
	}
	blocked := make(chan struct{})
	go func() {
		s.Write(chunk)
		s.Write(chunk)
		close(blocked)
	}()
	select {
	case <-blocked:
		t.Fatal("Write beyond the queue's bound returned while the reader read nothing")
	case <-time.After(200 * time.Millisecond):
	}
	go func() {
		for {
			select {
			case w.gate <- struct{}{}:
			case <-time.After(5 * time.Second):
				return
			}
		}
	}()
	<-blocked
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	if got := len(w.String()); got != (MaxQueued+3)*ChunkSize {
		t.Fatalf("%d bytes written, want %d", got, (MaxQueued+3)*ChunkSize)
	}
}

func TestErrorReported(t *testing.T) {
	broken := errors.New("broken pipe")
	w := &slowWriter{fail: broken}
	s := New(w)
	s.Write(make([]byte, ChunkSize)) // a full chunk: written at once, fails
	deadline := time.Now().Add(5 * time.Second)
	var err error
	for err == nil && time.Now().Before(deadline) {
		_, err = s.Write([]byte("x"))
		time.Sleep(time.Millisecond)
	}
	if !errors.Is(err, broken) {
		t.Fatalf("Write after the failure = %v, want %v", err, broken)
	}
	if err := s.Close(); !errors.Is(err, broken) {
		t.Fatalf("Close = %v, want %v", err, broken)
	}
}

// TestPartialChunkFlushed: a reader following the report sees a small
// write without waiting for Close.
func TestPartialChunkFlushed(t *testing.T) {
	w := &slowWriter{}
	s := New(w)
	defer s.Close()
	s.Write([]byte("endpoint web: ok\n"))
	deadline := time.Now().Add(10 * flushAfter)
	for w.String() == "" {
		if time.Now().After(deadline) {
			t.Fatalf("a partial chunk was not written within %v", 10*flushAfter)
		}
		time.Sleep(10 * time.Millisecond)
	}
	if got := w.String(); got != "endpoint web: ok\n" {
		t.Fatalf("got %q", got)
	}
}

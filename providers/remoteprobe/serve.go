package remoteprobe

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"sync"

	"github.com/portcheck/portcheck/providers"
	"github.com/portcheck/portcheck/providers/probe"
)

// ProbeFunc is an L4 observer: probe.Probe, or a scheduler's Probe.
type ProbeFunc func(context.Context, providers.Exec, providers.Target, probe.Params) (probe.Outcome, error)

// maxPending bounds the requests a prober works on at once; the probes
// themselves are paced by the scheduler, this only bounds what waits for
// it. Past it the prober stops reading, and the client's writes wait.
const maxPending = 4096

// Serve is the prober's side of the stream: it writes the hello line, then
// answers each request read from in with what obs observe from exec
// (the prober's machine, or a namespace there). It returns nil when in
// ends (requests still running then are cancelled and answered so),
// ctx.Err() when ctx ends (running probes are stopped), or the error that
// ended the stream: a line that is
// not a request (said on the stream too, with its line number) or a write
// that failed.
func Serve(ctx context.Context, in io.Reader, out io.Writer, exec providers.Exec, obs Observers) error {
	ctx, cancelAll := context.WithCancel(ctx)
	defer cancelAll()
	w := &lineWriter{enc: json.NewEncoder(out)}
	host, _ := os.Hostname()
	if err := w.write(Hello{Schema: Schema, Version: Version, Netns: exec.Netns, Hostname: host}); err != nil {
		return fmt.Errorf("writing the hello line: %w", err)
	}

	var (
		mu      sync.Mutex
		running = map[uint64]context.CancelFunc{}
		wg      sync.WaitGroup
		slots   = make(chan struct{}, maxPending)
	)
	// However the stream ends, what still runs is cancelled first: the
	// end of the input means the client is gone or wants nothing more (it
	// closes its input after its last answer), and a prober must not keep
	// probing for a minute after an SSH session closed.
	defer func() { cancelAll(); wg.Wait() }()

	lines := make(chan []byte)
	scanErr := make(chan error, 1)
	go func() {
		sc := bufio.NewScanner(in)
		sc.Buffer(make([]byte, 0, 4096), MaxLine)
		for sc.Scan() {
			select {
			case lines <- bytes.Clone(sc.Bytes()):
			case <-ctx.Done():
				scanErr <- ctx.Err()
				return
			}
		}
		scanErr <- sc.Err()
		close(lines)
	}()

	n := 0
	for {
		var line []byte
		var ok bool
		select {
		case <-ctx.Done():
			return ctx.Err()
		case line, ok = <-lines:
		}
		if !ok {
			if err := <-scanErr; err != nil {
				if errors.Is(err, bufio.ErrTooLong) {
					err = fmt.Errorf("line %d is longer than %d bytes", n+1, MaxLine)
				}
				w.write(Response{Error: err.Error()})
				return err
			}
			return nil
		}
		n++
		if len(bytes.TrimSpace(line)) == 0 {
			continue
		}
		req, err := decodeRequest(line)
		if err != nil && req.ID == 0 {
			err = fmt.Errorf("line %d: %v", n, err)
			w.write(Response{Error: err.Error()})
			return err
		}
		if err != nil {
			if werr := w.write(Response{ID: req.ID, Error: err.Error()}); werr != nil {
				return werr
			}
			continue
		}
		if req.Cancel {
			mu.Lock()
			if c := running[req.ID]; c != nil {
				c()
			}
			mu.Unlock()
			continue
		}
		var p probe.Params
		if req.Kind == "" {
			if p, err = req.params(); err == nil && obs.Probe == nil {
				err = errors.New("this prober does not run L4 probes")
			}
		}
		if err != nil {
			if werr := w.write(Response{ID: req.ID, Error: err.Error()}); werr != nil {
				return werr
			}
			continue
		}
		mu.Lock()
		if _, dup := running[req.ID]; dup {
			mu.Unlock()
			err := fmt.Errorf("line %d: request %d is already running", n, req.ID)
			w.write(Response{Error: err.Error()})
			return err
		}
		pctx, cancel := context.WithCancel(ctx)
		running[req.ID] = cancel
		mu.Unlock()
		select {
		case slots <- struct{}{}:
		case <-ctx.Done():
			cancel()
			return ctx.Err()
		}
		wg.Add(1)
		go func(req Request, p probe.Params) {
			defer wg.Done()
			defer func() { <-slots }()
			resp := Response{ID: req.ID}
			if req.Kind == "" {
				o, err := obs.Probe(pctx, exec, *req.Target, p)
				if err != nil {
					resp.Error = err.Error()
				} else {
					resp.Outcome = &o
				}
			} else if f, err := runKind(pctx, obs, exec, req); err != nil {
				resp.Error = err.Error()
			} else {
				resp.Facts = f
			}
			mu.Lock()
			delete(running, req.ID)
			mu.Unlock()
			cancel()
			w.write(resp)
		}(req, p)
	}
}

// lineWriter writes one JSON value per line from many goroutines.
type lineWriter struct {
	mu  sync.Mutex
	enc *json.Encoder
	err error
}

func (w *lineWriter) write(v any) error {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.err != nil {
		return w.err
	}
	w.err = w.enc.Encode(v)
	return w.err
}

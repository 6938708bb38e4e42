package remoteprobe

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"sync"

	"github.com/portcheck/portcheck/providers"
	"github.com/portcheck/portcheck/providers/probe"
)

// Client sends probes to one prober over its stream and hands each answer
// to the call waiting for it. It is safe for concurrent use; its Probe has
// the signature of the runner's L4 observer.
type Client struct {
	// Name says which vantage host the prober runs on, in errors.
	Name  string
	Hello Hello

	w       io.WriteCloser
	wmu     sync.Mutex
	enc     *json.Encoder
	mu      sync.Mutex
	next    uint64
	pending map[uint64]chan Response
	done    chan struct{}
	err     error // why the stream ended; set before done is closed
}

// NewClient reads the prober's hello line from r (waiting at most until
// ctx ends) and starts reading its answers. w carries the requests;
// Close closes it, which tells the prober to finish.
func NewClient(ctx context.Context, name string, r io.Reader, w io.WriteCloser) (*Client, error) {
	c := &Client{Name: name, w: w, enc: json.NewEncoder(w), pending: map[uint64]chan Response{}, done: make(chan struct{})}
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 0, 64<<10), MaxLine)
	hello := make(chan error, 1)
	go func() {
		if !sc.Scan() {
			err := sc.Err()
			if err == nil {
				err = io.ErrUnexpectedEOF
			}
			hello <- fmt.Errorf("no hello line: %w", err)
			return
		}
		hello <- c.readHello(sc.Bytes())
	}()
	select {
	case err := <-hello:
		if err != nil {
			return nil, fmt.Errorf("prober on %s: %w", name, err)
		}
	case <-ctx.Done():
		return nil, fmt.Errorf("prober on %s: no hello line: %w", name, ctx.Err())
	}
	go c.read(sc)
	return c, nil
}

func (c *Client) readHello(line []byte) error {
	if err := json.Unmarshal(line, &c.Hello); err != nil {
		return fmt.Errorf("the first line is not a probe stream's hello (%v): %.120q", err, line)
	}
	switch {
	case c.Hello.Schema != Schema:
		return fmt.Errorf("the first line is not a probe stream's hello (schema %q): %.120q", c.Hello.Schema, line)
	case c.Hello.Version < 1 || c.Hello.Version > Version:
		return fmt.Errorf("the prober speaks %s version %d; this portcheck reads version %d (install a collector of the same release)", Schema, c.Hello.Version, Version)
	}
	return nil
}

// read hands each answer to its waiting call until the stream ends, then
// fails every call still waiting with the reason.
func (c *Client) read(sc *bufio.Scanner) {
	var end error
	for sc.Scan() {
		var r Response
		if err := json.Unmarshal(sc.Bytes(), &r); err != nil {
			end = fmt.Errorf("prober on %s sent a line that is not an answer (%v): %.120q", c.Name, err, sc.Bytes())
			break
		}
		if r.ID == 0 {
			end = fmt.Errorf("prober on %s stopped: %s", c.Name, r.Error)
			break
		}
		if r.Error == "" && r.Outcome == nil && len(r.Facts) == 0 {
			end = fmt.Errorf("prober on %s answered request %d with neither an outcome nor an error", c.Name, r.ID)
			break
		}
		c.mu.Lock()
		ch := c.pending[r.ID]
		delete(c.pending, r.ID)
		c.mu.Unlock()
		if ch != nil { // else cancelled: nobody waits
			ch <- r
		}
	}
	if end == nil {
		if err := sc.Err(); err != nil {
			end = fmt.Errorf("reading the prober on %s: %w", c.Name, err)
		} else {
			end = fmt.Errorf("the prober on %s ended its stream", c.Name)
		}
	}
	c.mu.Lock()
	c.err = end
	c.pending = nil
	c.mu.Unlock()
	close(c.done)
}

// Probe runs one probe on the prober. exec is ignored: the probe leaves
// from where the prober runs. If ctx ends first the prober is told to stop
// it and ctx.Err() is returned.
func (c *Client) Probe(ctx context.Context, _ providers.Exec, t providers.Target, p probe.Params) (probe.Outcome, error) {
	r, err := c.roundTrip(ctx, newRequest(0, t, p))
	if err != nil {
		return probe.Outcome{Target: t}, err
	}
	if r.Outcome == nil {
		return probe.Outcome{Target: t}, fmt.Errorf("prober on %s answered a probe without an outcome", c.Name)
	}
	return *r.Outcome, nil
}

// roundTrip sends req under a fresh id and waits for its answer; an answer
// with an error is returned as one.
func (c *Client) roundTrip(ctx context.Context, req Request) (Response, error) {
	ch := make(chan Response, 1)
	c.mu.Lock()
	if c.pending == nil {
		err := c.err
		c.mu.Unlock()
		return Response{}, err
	}
	c.next++
	id := c.next
	c.pending[id] = ch
	c.mu.Unlock()
	req.ID = id
	if err := c.send(req); err != nil {
		c.forget(id)
		return Response{}, fmt.Errorf("sending a request to the prober on %s: %w", c.Name, err)
	}
	answer := func(r Response) (Response, error) {
		if r.Error != "" {
			return Response{}, fmt.Errorf("prober on %s: %s", c.Name, r.Error)
		}
		return r, nil
	}
	select {
	case r := <-ch:
		return answer(r)
	case <-c.done:
		// The answer may have come just before the stream ended.
		select {
		case r := <-ch:
			return answer(r)
		default:
		}
		return Response{}, c.err
	case <-ctx.Done():
		c.forget(id)
		c.send(Request{ID: id, Cancel: true}) // best effort: the stream may be gone
		return Response{}, ctx.Err()
	}
}

func (c *Client) forget(id uint64) {
	c.mu.Lock()
	if c.pending != nil {
		delete(c.pending, id)
	}
	c.mu.Unlock()
}

func (c *Client) send(r Request) error {
	c.wmu.Lock()
	defer c.wmu.Unlock()
	return c.enc.Encode(r)
}

// Close ends the requests; the prober finishes what runs and exits.
func (c *Client) Close() error {
	c.wmu.Lock()
	defer c.wmu.Unlock()
	return c.w.Close()
}

// Done is closed when the stream has ended; Err then says why.
func (c *Client) Done() <-chan struct{} { return c.done }

// Err is why the stream ended, nil while it runs.
func (c *Client) Err() error {
	select {
	case <-c.done:
		return c.err
	default:
		return nil
	}
}

package remoteprobe

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/netip"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/portcheck/portcheck/providers"
	"github.com/portcheck/portcheck/providers/probe"
)

// pipeStream connects a Client to Serve through two pipes, as an SSH
// session's stdin and stdout would.
func pipeStream(t *testing.T, fn ProbeFunc) (*Client, <-chan error) {
	t.Helper()
	return pipeObservers(t, Observers{Probe: fn})
}

// pipeObservers is pipeStream with every kind of observer.
func pipeObservers(t *testing.T, obs Observers) (*Client, <-chan error) {
	t.Helper()
	reqR, reqW := io.Pipe()
	respR, respW := io.Pipe()
	ctx, cancel := context.WithCancel(context.Background())
	served := make(chan error, 1)
	go func() {
		err := Serve(ctx, reqR, respW, providers.Exec{}, obs)
		respW.CloseWithError(io.EOF)
		served <- err
	}()
	t.Cleanup(func() { cancel(); reqW.Close(); respR.Close() })
	hctx, hcancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer hcancel()
	c, err := NewClient(hctx, "vantage", respR, reqW)
	if err != nil {
		t.Fatal(err)
	}
	return c, served
}

var tcpTarget = providers.Target{Address: netip.MustParseAddr("192.0.2.7"), Port: 443, Protocol: "tcp"}

// TestRoundTrip: every field of a request reaches the prober as sent, and
// the outcome comes back whole, including its timing evidence.
func TestRoundTrip(t *testing.T) {
	var got struct {
		t providers.Target
		p probe.Params
	}
	want := probe.Outcome{State: probe.StateFiltered, Target: tcpTarget, Detail: "no answer", Attempts: 2, Source: "10.0.0.1:40000",
		ICMP:   &probe.ICMP{Type: 3, Code: 13, Name: "admin-prohibited", From: "10.0.0.254"},
		Timing: &probe.Timing{Adaptive: true, WaitsMs: []float64{100, 200}, DeclaredMs: 2000, SRTTms: 0.2, Samples: 3, Assumption: "x"}}
	c, served := pipeStream(t, func(_ context.Context, _ providers.Exec, tg providers.Target, p probe.Params) (probe.Outcome, error) {
		got.t, got.p = tg, p
		return want, nil
	})
	params := probe.Params{Timeout: 1500 * time.Millisecond, Retries: 3, Payload: []byte{0, 1, 0xff}}
	o, err := c.Probe(context.Background(), providers.Exec{}, tcpTarget, params)
	if err != nil {
		t.Fatal(err)
	}
	if got.t != tcpTarget || got.p.Timeout != params.Timeout || got.p.Retries != 3 || string(got.p.Payload) != string(params.Payload) {
		t.Errorf("the prober got %+v %+v, want %+v %+v", got.t, got.p, tcpTarget, params)
	}
	a, _ := json.Marshal(o)
	b, _ := json.Marshal(want)
	if string(a) != string(b) {
		t.Errorf("outcome\n%s\nwant\n%s", a, b)
	}
	if c.Hello.Schema != Schema || c.Hello.Version != Version {
		t.Errorf("hello %+v", c.Hello)
	}
	c.Close()
	select {
	case err := <-served:
		if err != nil {
			t.Errorf("Serve after the client closed: %v, want nil", err)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("Serve did not return after the client closed its requests")
	}
}

// TestConcurrentAnswersOutOfOrder: answers come in completion order and
// each reaches the call that asked.
func TestConcurrentAnswersOutOfOrder(t *testing.T) {
	c, _ := pipeStream(t, func(_ context.Context, _ providers.Exec, tg providers.Target, _ probe.Params) (probe.Outcome, error) {
		time.Sleep(time.Duration(100-tg.Port) * time.Millisecond) // later ports answer first
		return probe.Outcome{State: probe.StateOpen, Target: tg}, nil
	})
	var wg sync.WaitGroup
	for port := 1; port <= 50; port++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			tg := tcpTarget
			tg.Port = port
			o, err := c.Probe(context.Background(), providers.Exec{}, tg, probe.Params{Timeout: time.Second})
			if err != nil || o.Target.Port != port {
				t.Errorf("port %d: got %+v, %v", port, o.Target, err)
			}
		}()
	}
	wg.Wait()
}

// TestCancelReachesTheProber: a call whose context ends tells the prober,
// whose probe then stops.
func TestCancelReachesTheProber(t *testing.T) {
	stopped := make(chan error, 1)
	c, _ := pipeStream(t, func(ctx context.Context, _ providers.Exec, tg providers.Target, _ probe.Params) (probe.Outcome, error) {
		if tg.Port != tcpTarget.Port {
			return probe.Outcome{State: probe.StateOpen, Target: tg}, nil
		}
		<-ctx.Done()
		stopped <- ctx.Err()
		return probe.Outcome{}, ctx.Err()
	})
	ctx, cancel := context.WithTimeout(context.Background(), 200*time.Millisecond)
	defer cancel()
	if _, err := c.Probe(ctx, providers.Exec{}, tcpTarget, probe.Params{Timeout: time.Minute}); !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("cancelled call: %v", err)
	}
	select {
	case err := <-stopped:
		if !errors.Is(err, context.Canceled) {
			t.Errorf("the prober's probe ended with %v, want canceled", err)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("the prober's probe was not cancelled")
	}
	// The stream still works after a cancellation.
	tg := tcpTarget
	tg.Port = 80
	if o, err := c.Probe(context.Background(), providers.Exec{}, tg, probe.Params{}); err != nil || o.State != probe.StateOpen {
		t.Errorf("after a cancel: %+v %v", o, err)
	}
}

// TestProberErrorsPerRequest: a request the prober cannot run gets its own
// error; the stream goes on.
func TestProberErrorsPerRequest(t *testing.T) {
	c, _ := pipeStream(t, func(_ context.Context, _ providers.Exec, tg providers.Target, _ probe.Params) (probe.Outcome, error) {
		if tg.Port == 1 {
			return probe.Outcome{}, errors.New("socket: too many open files")
		}
		return probe.Outcome{State: probe.StateRefused, Target: tg}, nil
	})
	tg := tcpTarget
	tg.Port = 1
	if _, err := c.Probe(context.Background(), providers.Exec{}, tg, probe.Params{}); err == nil || !strings.Contains(err.Error(), "prober on vantage: socket: too many open files") {
		t.Errorf("probe error: %v", err)
	}
	if _, err := c.Probe(context.Background(), providers.Exec{}, tg, probe.Params{Timeout: -time.Second}); err == nil || !strings.Contains(err.Error(), "timeout_ms") {
		t.Errorf("negative timeout: %v", err)
	}
	tg.Port = 2
	if o, err := c.Probe(context.Background(), providers.Exec{}, tg, probe.Params{}); err != nil || o.State != probe.StateRefused {
		t.Errorf("after errors: %+v %v", o, err)
	}
}

// TestBrokenProbers: what a client makes of probers that misbehave. Each
// case is a script of the prober's output; every failure is an error
// naming the vantage host, never a hang or a panic.
func TestBrokenProbers(t *testing.T) {
	hello := `{"schema":"portcheck/probe-stream","version":1}` + "\n"
	cases := []struct {
		name      string
		out       string // what the prober writes (after reading one request)
		helloErr  string
		probeErr  string
		beforeReq bool // the output is written before any request is read
	}{
		{name: "nothing", out: "", beforeReq: true, helloErr: "no hello line"},
		{name: "a shell's noise", out: "bash: warning: setlocale\n", beforeReq: true, helloErr: "not a probe stream's hello"},
		{name: "another schema", out: `{"schema":"portcheck/facts","version":1}` + "\n", beforeReq: true, helloErr: `schema "portcheck/facts"`},
		{name: "newer version", out: `{"schema":"portcheck/probe-stream","version":2}` + "\n", beforeReq: true, helloErr: "version 2"},
		{name: "ends after hello", out: hello, probeErr: "ended its stream"},
		{name: "garbage answer", out: hello + "Segmentation fault\n", probeErr: "not an answer"},
		{name: "prober's last word", out: hello + `{"error":"line 1: unexpected EOF"}` + "\n", probeErr: "stopped: line 1: unexpected EOF"},
		{name: "empty answer", out: hello + `{"id":1}` + "\n", probeErr: "neither an outcome nor an error"},
		{name: "huge line", out: hello + strings.Repeat("x", MaxLine+10) + "\n", probeErr: "reading the prober on vantage"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			reqR, reqW := io.Pipe()
			respR, respW := io.Pipe()
			defer respR.Close()
			go func() {
				if tc.beforeReq {
					io.WriteString(respW, tc.out)
					respW.Close()
					return
				}
				io.WriteString(respW, hello)
				bufio.NewReader(reqR).ReadString('\n')
				io.WriteString(respW, strings.TrimPrefix(tc.out, hello))
				respW.Close()
			}()
			ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
			defer cancel()
			c, err := NewClient(ctx, "vantage", respR, reqW)
			if tc.helloErr != "" {
				if err == nil || !strings.Contains(err.Error(), tc.helloErr) || !strings.Contains(err.Error(), "vantage") {
					t.Fatalf("hello error %v, want one with %q", err, tc.helloErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			_, err = c.Probe(ctx, providers.Exec{}, tcpTarget, probe.Params{})
			if err == nil || !strings.Contains(err.Error(), tc.probeErr) || !strings.Contains(err.Error(), "vantage") {
				t.Fatalf("probe error %v, want one with %q", err, tc.probeErr)
			}
			// A call after the stream ended fails at once with the same reason.
			<-c.Done()
			if _, err2 := c.Probe(ctx, providers.Exec{}, tcpTarget, probe.Params{}); err2 == nil || err2.Error() != c.Err().Error() {
				t.Errorf("call after the end: %v, want %v", err2, c.Err())
			}
		})
	}
}

// TestServeBadLines: what the prober says of requests it cannot read. A
// line that is not a request ends the stream, naming its line; a request
// with an id but bad values gets an error answer and the stream goes on.
func TestServeBadLines(t *testing.T) {
	never := func(context.Context, providers.Exec, providers.Target, probe.Params) (probe.Outcome, error) {
		return probe.Outcome{State: probe.StateOpen}, nil
	}
	cases := []struct {
		name    string
		in      string
		answers []string // substrings of the answer lines after the hello, in order
		fatal   string
	}{
		{name: "not JSON", in: "\nhello\n", fatal: "line 2:"},
		{name: "no id", in: `{"target":{"address":"10.0.0.1","port":1,"protocol":"tcp"}}` + "\n", fatal: "without an id"},
		{name: "two values", in: `{"id":1,"cancel":true} {"id":2}` + "\n", fatal: "more than one JSON value"},
		{name: "bad port", in: `{"id":3,"target":{"address":"10.0.0.1","port":70000,"protocol":"tcp"}}` + "\n", answers: []string{`"id":3,"error":"request 3: port 70000`}},
		{name: "no target", in: `{"id":4}` + "\n", answers: []string{`"id":4,"error":"request 4 has no target"`}},
		{name: "retries", in: `{"id":5,"target":{"address":"10.0.0.1","port":1,"protocol":"tcp"},"retries":1000}` + "\n", answers: []string{`"id":5,"error":"retries 1000`}},
		{name: "payload", in: `{"id":6,"target":{"address":"10.0.0.1","port":1,"protocol":"udp"},"payload_hex":"zz"}` + "\n", answers: []string{`"id":6,"error":"payload_hex`}},
		{name: "a good request", in: `{"id":7,"target":{"address":"10.0.0.1","port":1,"protocol":"tcp"}}` + "\n", answers: []string{`"id":7,"outcome"`}},
		{name: "cancel of nothing", in: `{"id":8,"cancel":true}` + "\n", answers: nil},
		{name: "line too long", in: strings.Repeat(" ", MaxLine+1) + "\n", fatal: "longer than"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			var out strings.Builder
			err := Serve(context.Background(), strings.NewReader(tc.in), &out, providers.Exec{}, Observers{Probe: never})
			lines := strings.Split(strings.TrimSpace(out.String()), "\n")
			if !strings.Contains(lines[0], `"schema":"portcheck/probe-stream"`) {
				t.Fatalf("first line %q is not the hello", lines[0])
			}
			if tc.fatal != "" {
				if err == nil || !strings.Contains(err.Error(), tc.fatal) {
					t.Fatalf("Serve: %v, want an error with %q", err, tc.fatal)
				}
				last := lines[len(lines)-1]
				if !strings.Contains(last, `"error"`) || !strings.Contains(last, tc.fatal) {
					t.Errorf("the stream's last line %q does not say %q", last, tc.fatal)
				}
				return
			}
			if err != nil {
				t.Fatalf("Serve: %v", err)
			}
			if len(lines)-1 != len(tc.answers) {
				t.Fatalf("answers %q, want %d", lines[1:], len(tc.answers))
			}
			for i, want := range tc.answers {
				if !strings.Contains(lines[1+i], want) {
					t.Errorf("answer %q, want %q in it", lines[1+i], want)
				}
			}
		})
	}
}

// TestServeStopsOnCancel: ending the prober's context stops its running
// probes and Serve returns.
func TestServeStopsOnCancel(t *testing.T) {
	reqR, reqW := io.Pipe()
	defer reqW.Close()
	ctx, cancel := context.WithCancel(context.Background())
	started := make(chan struct{})
	done := make(chan error, 1)
	go func() {
		done <- Serve(ctx, reqR, io.Discard, providers.Exec{}, Observers{Probe: func(ctx context.Context, _ providers.Exec, _ providers.Target, _ probe.Params) (probe.Outcome, error) {
			close(started)
			<-ctx.Done()
			return probe.Outcome{}, ctx.Err()
		}})
	}()
	io.WriteString(reqW, `{"id":1,"target":{"address":"10.0.0.1","port":1,"protocol":"tcp"}}`+"\n")
	<-started
	cancel()
	select {
	case err := <-done:
		if !errors.Is(err, context.Canceled) {
			t.Errorf("Serve: %v", err)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("Serve did not stop")
	}
}

func FuzzDecodeRequest(f *testing.F) {
	f.Add([]byte(`{"id":1,"target":{"address":"10.0.0.1","port":80,"protocol":"tcp"},"timeout_ms":2000,"retries":1}`))
	f.Add([]byte(`{"id":2,"cancel":true}`))
	f.Add([]byte(`{"id":3,"target":{"address":"::1","port":53,"protocol":"udp"},"payload_hex":"00ff"}`))
	f.Add([]byte(`{"id":1e400}`))
	f.Fuzz(func(t *testing.T, line []byte) {
		r, err := decodeRequest(line)
		if err != nil {
			return
		}
		if r.ID == 0 {
			t.Fatalf("accepted a request without an id: %q", line)
		}
		if !r.Cancel && (r.Target == nil || r.Target.Port < 1 || r.Target.Port > 65535 || !r.Target.Address.IsValid()) {
			t.Fatalf("accepted a request without a valid target: %q", line)
		}
		if p, err := r.params(); err == nil && (p.Timeout < 0 || p.Timeout > maxTimeout || p.Retries < 0 || p.Retries > maxRetries) {
			t.Fatalf("params out of bounds: %+v from %q", p, line)
		}
	})
}

// TestInputEndCancels: the client's input ending (its SSH session went)
// cancels what still runs, so the prober exits instead of probing on.
func TestInputEndCancels(t *testing.T) {
	reqR, reqW := io.Pipe()
	started := make(chan struct{})
	done := make(chan error, 1)
	go func() {
		done <- Serve(context.Background(), reqR, io.Discard, providers.Exec{}, Observers{Probe: func(ctx context.Context, _ providers.Exec, _ providers.Target, _ probe.Params) (probe.Outcome, error) {
			close(started)
			<-ctx.Done()
			return probe.Outcome{}, ctx.Err()
		}})
	}()
	io.WriteString(reqW, `{"id":1,"target":{"address":"10.0.0.1","port":1,"protocol":"tcp"},"timeout_ms":600000}`+"\n")
	<-started
	reqW.Close()
	select {
	case err := <-done:
		if err != nil {
			t.Errorf("Serve at the end of its input: %v", err)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("Serve kept a probe running after its input ended")
	}
}

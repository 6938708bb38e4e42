package collectcli

import (
	"context"
	"io"
	"strings"
	"testing"
	"time"

	"github.com/portcheck/portcheck/internal/lab"
	"github.com/portcheck/portcheck/providers"
	"github.com/portcheck/portcheck/providers/probe"
	"github.com/portcheck/portcheck/providers/remoteprobe"
)

// TestProbeStdioLab: `probe -stdio -netns client` answers a
// stream of probes as probes made in the client namespace directly do:
// open, refused and filtered ports of a server namespace, from the
// client's address.
func TestProbeStdioLab(t *testing.T) {
	lab.Require(t, "nft")
	l := lab.New(t)
	client, server := l.Pair()
	server.ListenTCP("tcp4", "0.0.0.0:41000")
	server.NFT("table inet t {\n  chain input {\n    type filter hook input priority 0; policy accept;\n    tcp dport 41002 drop\n  }\n}\n")

	reqR, reqW := io.Pipe()
	respR, respW := io.Pipe()
	var stderr strings.Builder
	code := make(chan int, 1)
	go func() {
		code <- Probe("portcheck", []string{"-stdio", "-netns", client.NS}, reqR, respW, &stderr)
		respW.Close()
	}()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	c, err := remoteprobe.NewClient(ctx, "client", respR, reqW)
	if err != nil {
		t.Fatal(err)
	}
	if c.Hello.Netns != client.Path() {
		t.Errorf("hello netns %q, want %q", c.Hello.Netns, client.Path())
	}
	p := probe.Params{Timeout: 300 * time.Millisecond}
	direct := providers.Exec{Netns: client.Path()}
	for port, want := range map[int]string{41000: probe.StateOpen, 41001: probe.StateRefused, 41002: probe.StateFiltered} {
		tg := providers.Target{Address: server.Addr(), Port: port, Protocol: "tcp"}
		got, err := c.Probe(ctx, providers.Exec{}, tg, p)
		if err != nil {
			t.Fatalf("port %d: %v", port, err)
		}
		local, err := probe.Probe(ctx, direct, tg, p)
		if err != nil {
			t.Fatal(err)
		}
		if got.State != want || local.State != want {
			t.Errorf("port %d: streamed %s (%s), direct %s (%s), want %s", port, got.State, got.Detail, local.State, local.Detail, want)
		}
		if !strings.HasPrefix(got.Source, client.Addr().String()+":") {
			t.Errorf("port %d: the probe left from %q, want the client's address %s", port, got.Source, client.Addr())
		}
	}
	c.Close()
	select {
	case rc := <-code:
		if rc != ExitOK {
			t.Errorf("probe -stdio exited %d: %s", rc, stderr.String())
		}
	case <-time.After(10 * time.Second):
		t.Fatal("probe -stdio did not exit when its input ended")
	}
}

package app

import (
	"bufio"
	"io"
	"net"
	"net/netip"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"

	"github.com/portcheck/portcheck/providers"
)

// sshLike greets like sshd and then waits for the client's identification,
// as a real one does, so the probe has to decide when the banner ended.
func sshLike(c net.Conn) {
	io.WriteString(c, "SSH-2.0-OpenSSH_9.6\r\n")
	io.Copy(io.Discard, c)
}

// redisLike answers PING with +PONG, one command per line.
func redisLike(c net.Conn) {
	r := bufio.NewReader(c)
	for {
		line, err := r.ReadString('\n')
		if err != nil {
			return
		}
		if line == "PING\r\n" {
			io.WriteString(c, "+PONG\r\n")
		} else {
			io.WriteString(c, "-ERR unknown command\r\n")
		}
	}
}

func silentServer(c net.Conn) { io.Copy(io.Discard, c) }

func TestBanner(t *testing.T) {
	ssh := tcpServer(t, sshLike)
	redis := tcpServer(t, redisLike)
	silent := tcpServer(t, silentServer)
	hangup := tcpServer(t, func(net.Conn) {})
	binary := tcpServer(t, func(c net.Conn) { c.Write([]byte("220 ok\xff\r\n")) })
	// Multi-line greeting in two writes, as SMTP servers send it.
	smtp := tcpServer(t, func(c net.Conn) {
		io.WriteString(c, "220-mail.example ESMTP\r\n")
		time.Sleep(20 * time.Millisecond)
		io.WriteString(c, "220 ready\r\n")
		io.Copy(io.Discard, c)
	})
	short := 300 * time.Millisecond

	tests := []struct {
		name    string
		target  providers.Target
		params  BannerParams
		want    BannerFacts
		wantErr string
	}{
		{"ssh greeting", ssh, BannerParams{}, BannerFacts{Banner: "SSH-2.0-OpenSSH_9.6\r\n", Bytes: 21}, ""},
		{"ssh greeting until newline", ssh, BannerParams{Until: "\r\n"}, BannerFacts{Banner: "SSH-2.0-OpenSSH_9.6\r\n", Bytes: 21}, ""},
		{"MaxBytes", ssh, BannerParams{MaxBytes: 4}, BannerFacts{Banner: "SSH-", Bytes: 4}, ""},
		{"redis ping", redis, BannerParams{Send: "PING\r\n"}, BannerFacts{Banner: "+PONG\r\n", Bytes: 7}, ""},
		{"redis ping until", redis, BannerParams{Send: "PING\r\n", Until: "PONG"}, BannerFacts{Banner: "+PONG\r\n", Bytes: 7}, ""},
		{"multi-line greeting", smtp, BannerParams{}, BannerFacts{Banner: "220-mail.example ESMTP\r\n220 ready\r\n", Bytes: 35}, ""},
		{"invalid UTF-8 replaced", binary, BannerParams{}, BannerFacts{Banner: "220 ok\uFFFD\r\n", Bytes: 9}, ""},
		{"silent server", silent, BannerParams{Timeout: short}, BannerFacts{Phase: "read"}, "timeout after 300ms"},
		{"awaited text never comes", ssh, BannerParams{Until: "never", Timeout: short}, BannerFacts{Banner: "SSH-2.0-OpenSSH_9.6\r\n", Bytes: 21, Phase: "read"}, "timeout after 300ms"},
		{"closed without a word", hangup, BannerParams{}, BannerFacts{Phase: "read"}, "connection closed by the server without sending data"},
		{"connection refused", closedPort(t), BannerParams{}, BannerFacts{Phase: "connect"}, "connection refused"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			got, err := Banner(t.Context(), providers.Exec{}, tc.target, tc.params)
			if err != nil {
				t.Fatalf("Banner: %v", err)
			}
			if diff := cmp.Diff(&tc.want, got, cmpopts.IgnoreFields(BannerFacts{}, "Error", "DurationMs")); diff != "" {
				t.Errorf("facts (-want +got):\n%s", diff)
			}
			wantContains(t, "Error", got.Error, tc.wantErr)
			// A banner ends at a pause, not at the timeout.
			if tc.wantErr == "" && got.DurationMs > 2000 {
				t.Errorf("DurationMs = %v: the read waited out the timeout", got.DurationMs)
			}
		})
	}
}

func TestBannerCannotAttempt(t *testing.T) {
	testCannotAttempt(t, "Banner", Banner, []cannotAttempt[BannerParams]{
		{"hostname", providers.Exec{}, providers.Target{Address: netip.Addr{}, Port: 22}, BannerParams{}},
		{"udp", providers.Exec{}, providers.Target{Address: netip.MustParseAddr("127.0.0.1"), Port: 22, Protocol: "udp"}, BannerParams{}},
		{"namespace", providers.Exec{Netns: "/nonexistent/netns"}, providers.Target{Address: netip.MustParseAddr("127.0.0.1"), Port: 22}, BannerParams{}},
	})
}

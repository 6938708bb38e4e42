package main

import (
	"crypto/tls"
	"crypto/x509"
	"fmt"
	"io"
	"log"
	"net"
	"net/http"
	"strings"
	"testing"

	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials"
	"google.golang.org/grpc/health"
	healthpb "google.golang.org/grpc/health/grpc_health_v1"

	"github.com/portcheck/portcheck/internal/testcert"
)

func TestUnescapeSend(t *testing.T) {
	for _, tc := range []struct {
		in, want, err string
	}{
		{`PING\r\n`, "PING\r\n", ""},
		{`\x00\x00\x00\x08\x04\xd2\x16\x2f`, "\x00\x00\x00\x08\x04\xd2\x16\x2f", ""},
		{`\xff\xfe\t\0\\`, "\xff\xfe\t\x00\\", ""},
		{`plain`, "plain", ""},
		{`\x4`, "", "two hex digits"},
		{`\xzz`, "", "not two hex digits"},
		{`\q`, "", "unknown escape"},
		{`end\`, "", "lone backslash"},
	} {
		got, err := unescapeSend(tc.in)
		if tc.err != "" {
			if err == nil || !strings.Contains(err.Error(), tc.err) {
				t.Errorf("%q: %q, %v; want an error with %q", tc.in, got, err, tc.err)
			}
			continue
		}
		if err != nil || got != tc.want {
			t.Errorf("%q: %q, %v; want %q", tc.in, got, err, tc.want)
		}
	}
}

func FuzzUnescapeSend(f *testing.F) {
	for _, s := range []string{`PING\r\n`, `\xff`, `\`, `\x`, `\x0`} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		out, err := unescapeSend(s)
		if err == nil && len(out) > len(s) {
			t.Errorf("%q decoded to %d bytes, more than its %d", s, len(out), len(s))
		}
	})
}

// Issues 11.8 and 11.16: the flags diagnose's own hints ask for exist and
// reach the checks; a flag without the check it refines is a usage error.
func TestDiagnoseFlags(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			c.Write([]byte("+PONG\r\n"))
			c.Close()
		}
	}()
	addr := ln.Addr().String()
	// silent accepts and never answers.
	silent, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer silent.Close()
	go func() {
		var held []net.Conn
		defer func() {
			for _, c := range held {
				c.Close()
			}
		}()
		for {
			c, err := silent.Accept()
			if err != nil {
				return
			}
			held = append(held, c)
		}
	}()
	tests := []struct {
		name   string
		args   []string
		code   int
		stdout string
		stderr string
	}{
		{"banner with -send escapes", []string{"diagnose", "-banner", `^\+PONG`, "-send", `PING\r\n\xff`, addr}, 0, "L7 banner", ""},
		{"-send without -banner", []string{"diagnose", "-send", `PING`, addr}, 2, "", "-send needs -banner"},
		{"bad -send escape", []string{"diagnose", "-banner", "x", "-send", `\q`, addr}, 2, "", "unknown escape"},
		{"-https without -http", []string{"diagnose", "-https", addr}, 2, "", "-https needs -http"},
		{"-grpc-tls without -grpc", []string{"diagnose", "-grpc-tls", addr}, 2, "", "-grpc-tls needs -grpc"},
		{"client cert without key", []string{"diagnose", "-tls", "x", "-client-cert", "c.pem", addr}, 2, "", "go together"},
		{"-ca-file without TLS", []string{"diagnose", "-ca-file", "ca.pem", addr}, 2, "", "-ca-file needs a TLS check"},
		{"-rounds without -path", []string{"diagnose", "-rounds", "3", addr}, 2, "", "need -path"},
		{"bad -path-mode", []string{"diagnose", "-path", "-path-mode", "sctp", addr}, 2, "", "tcp, udp or icmp"},
		{"bad -min-tls", []string{"diagnose", "-tls", "x", "-min-tls", "1.4", addr}, 2, "", "-min-tls must be"},
		{"9.13: -timeout bounds L7", []string{"diagnose", "-http", "/", "-timeout", "300ms", silent.Addr().String()}, 1, "timeout after 300ms", ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			code, out, errOut := runCmd(t, tt.args...)
			if code != tt.code || !strings.Contains(out, tt.stdout) || !strings.Contains(errOut, tt.stderr) {
				t.Errorf("exit %d (want %d)\nstdout (want %q):\n%s\nstderr (want %q):\n%s", code, tt.code, tt.stdout, out, tt.stderr, errOut)
			}
		})
	}
}

// Issue 11.8: diagnose traces with -path; -v shows the hop table.
func TestDiagnosePath(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	code, out, errOut := runCmd(t, "diagnose", "-path", "-path-mode", "tcp", "-max-hops", "3", "-rounds", "2", "-v", ln.Addr().String())
	if strings.Contains(out, "needs CAP_NET_RAW") {
		t.Skip("no CAP_NET_RAW: " + out)
	}
	if code != 0 || !strings.Contains(out, "L5 path") || !strings.Contains(out, "reached in 1 hops") || !strings.Contains(out, "LOSS%") {
		t.Errorf("exit %d\n%s\n%s", code, out, errOut)
	}
	if !strings.Contains(out, fmt.Sprintf("%5d %5d", 2, 2)) {
		t.Errorf("hop table does not show 2 rounds sent and received:\n%s", out)
	}
}

// Issue 11.16: -https takes its name from -tls NAME (SNI and Host),
// -ca-file is trusted, -client-cert/-client-key answer a server that
// requires them, and -grpc-tls runs gRPC over TLS.
func TestDiagnoseTLSFlags(t *testing.T) {
	ca := testcert.NewCA(t, "portcheck test CA")
	caFile := ca.WriteCA(t)
	pool := x509.NewCertPool()
	pool.AddCert(ca.Cert)
	cfg := &tls.Config{Certificates: []tls.Certificate{ca.Valid(t, "web.example")}, ClientAuth: tls.RequireAndVerifyClientCert, ClientCAs: pool}
	ln, err := tls.Listen("tcp", "127.0.0.1:0", cfg)
	if err != nil {
		t.Fatal(err)
	}
	srv := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { fmt.Fprint(w, "host="+r.Host) }),
		ErrorLog: log.New(io.Discard, "", 0)}
	go srv.Serve(ln)
	defer srv.Close()
	addr := ln.Addr().String()
	_, port, _ := net.SplitHostPort(addr)
	cc, ck := testcert.WritePair(t, ca.Client(t, "probe"))

	gln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	gs := grpc.NewServer(grpc.Creds(credentials.NewTLS(&tls.Config{Certificates: []tls.Certificate{ca.Valid(t, "web.example")}})))
	healthpb.RegisterHealthServer(gs, health.NewServer())
	go gs.Serve(gln)
	defer gs.Stop()

	tests := []struct {
		name   string
		args   []string
		code   int
		stdout string
	}{
		{"-https with -tls NAME, mTLS", []string{"diagnose", "-http", "/", "-https", "-tls", "web.example", "-ca-file", caFile, "-client-cert", cc, "-client-key", ck, addr},
			0, "https://web.example:" + port + "/ (" + addr + ") answered 200"},
		{"without the client certificate", []string{"diagnose", "-tls", "web.example", "-ca-file", caFile, addr},
			1, "requires a client certificate (mTLS)"},
		{"-grpc-tls", []string{"diagnose", "-grpc", "-", "-grpc-tls", "-tls", "web.example", "-ca-file", caFile, gln.Addr().String()},
			0, "health of the server (service \"\") is SERVING"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			code, out, errOut := runCmd(t, tt.args...)
			if code != tt.code || !strings.Contains(out, tt.stdout) {
				t.Errorf("exit %d (want %d)\nstdout (want %q):\n%s\nstderr:\n%s", code, tt.code, tt.stdout, out, errOut)
			}
		})
	}
}

// TestDiagnosePayload: the UDP hint asks for a payload, so diagnose must
// take one. A UDP server that answers only "ping" is open with -payload
// ping and open|filtered (an error, not a pass) without it.
func TestDiagnosePayload(t *testing.T) {
	pc, err := net.ListenPacket("udp4", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer pc.Close()
	go func() {
		buf := make([]byte, 64)
		for {
			n, from, err := pc.ReadFrom(buf)
			if err != nil {
				return
			}
			if string(buf[:n]) == "ping\n" {
				pc.WriteTo([]byte("pong\n"), from)
			}
		}
	}()
	addr := pc.LocalAddr().String()
	code, out, errOut := runCmd(t, "diagnose", "-udp", "-payload", `ping\n`, "-timeout", "300ms", "-retries", "0", addr)
	if code != 0 || !strings.Contains(out, "UDP reply") {
		t.Errorf("with -payload: exit %d\n%s\n%s", code, out, errOut)
	}
	code, out, _ = runCmd(t, "diagnose", "-udp", "-timeout", "300ms", "-retries", "0", addr)
	if code != 1 || !strings.Contains(out, "-payload") {
		t.Errorf("without -payload: exit %d, want 1 with a hint naming -payload\n%s", code, out)
	}
	if code, _, errOut := runCmd(t, "diagnose", "-payload", "x", addr); code != 2 || !strings.Contains(errOut, "needs -udp") {
		t.Errorf("-payload without -udp: exit %d %s", code, errOut)
	}
}

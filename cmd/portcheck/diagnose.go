package main

import (
	"context"
	"crypto/tls"
	"flag"
	"fmt"
	"io"
	"net"
	"net/netip"
	"regexp"
	"strconv"
	"strings"
	"time"

	"github.com/hashicorp/hcl/v2"

	"github.com/portcheck/portcheck/config"
	"github.com/portcheck/portcheck/providers"
	"github.com/portcheck/portcheck/runner"
)

// cmdDiagnose checks one port without HCL: it builds the same model the
// HCL would and runs the same plan and verify path.
func cmdDiagnose(args []string, stdout, stderr io.Writer) int {
	fs := newFlagSet("diagnose", "[flags] ADDRESS:PORT", stderr)
	var froms listFlag
	fs.Var(&froms, "from", "vantage point to probe from: local, ns:NAME (a network namespace), or a path such as /proc/PID/ns/net (repeatable; default local)")
	on := fs.String("on", "", "where the server's local checks (L1) run: local, ns:NAME or a namespace path (default: local when the address is on this machine)")
	udp := fs.Bool("udp", false, "probe UDP instead of TCP")
	payload := fs.String("payload", "", "with -udp: the datagram to send (a query the service answers, so silence can be told from an open port); escapes as -send")
	closed := fs.Bool("closed", false, "the port must be closed (fail when it is reachable)")
	process := fs.String("process", "", "L1: the process name that must own the port")
	httpPath := fs.String("http", "", "L7: GET this path over HTTP and expect 200")
	https := fs.Bool("https", false, "with -http: use HTTPS (SNI and Host from -tls NAME)")
	hostHeader := fs.String("host", "", "with -http: the Host header (default: the -tls name, else the address)")
	tlsName := fs.String("tls", "", "L7: TLS handshake with this server name (SNI); \"-\" for none")
	minVersion := fs.String("min-tls", "", "with -tls: the server must refuse every TLS version below this one (1.0, 1.1, 1.2, 1.3)")
	caFile := fs.String("ca-file", "", "L7 TLS (-tls, -https, -grpc-tls): trust the CA certificates in this PEM file instead of the system roots")
	clientCert := fs.String("client-cert", "", "L7 TLS: client certificate (PEM) for servers that require one (mTLS); needs -client-key")
	clientKey := fs.String("client-key", "", "L7 TLS: the client certificate's key (PEM); never printed")
	grpcSvc := fs.String("grpc", "", "L7: grpc.health.v1 check of this service (\"-\" for the server as a whole)")
	grpcTLS := fs.Bool("grpc-tls", false, "with -grpc: over TLS (server name from -tls NAME)")
	banner := fs.String("banner", "", "L7: read the greeting and match this regexp (e.g. ^SSH-)")
	send := fs.String("send", "", "with -banner: send this first; escapes \\r \\n \\t \\0 \\\\ and \\xNN (any byte)")
	path := fs.Bool("path", false, "L5: trace the path from each vantage point (needs CAP_NET_RAW)")
	pathMode := fs.String("path-mode", "", "with -path: tcp, udp or icmp (default: the port's protocol)")
	maxHops := fs.Int("max-hops", config.DefaultPathMaxHops, "with -path: the most hops to probe")
	rounds := fs.Int("rounds", config.DefaultPathRounds, "with -path: probes per hop, mtr-style")
	timeout := fs.Duration("timeout", config.DefaultTimeout, "per probe attempt; also bounds L7 checks when given")
	retries := fs.Int("retries", config.DefaultRetries, "extra attempts after a timeout")
	noColor := fs.Bool("no-color", false, "no colour in output")
	var of outputFlags
	fs.BoolVar(&of.json, "json", false, "write the JSON report on stdout")
	fs.StringVar(&of.junit, "junit", "", "also write a JUnit XML report to this file")
	fs.BoolVar(&of.allLayers, "all-layers", false, "run layers above a failed one")
	fs.BoolVar(&of.verbose, "v", false, "also show the layers that were not checked and details of passing checks (the L5 hop table)")
	pos, err := parseArgs(fs, args)
	if err != nil {
		return flagErr(err)
	}
	if len(pos) != 1 {
		fmt.Fprintln(stderr, "portcheck diagnose: one ADDRESS:PORT expected, e.g. 10.0.0.5:8080 or [fd00::5]:443")
		fs.Usage()
		return exitUsage
	}
	addrs, port, err := parseTarget(pos[0])
	if err != nil {
		fmt.Fprintln(stderr, "portcheck diagnose:", err)
		return exitUsage
	}
	if *timeout <= 0 || *retries < 0 {
		fmt.Fprintln(stderr, "portcheck diagnose: -timeout must be positive and -retries not negative")
		return exitUsage
	}
	set := map[string]bool{}
	fs.Visit(func(f *flag.Flag) { set[f.Name] = true })
	// -timeout bounds L7 too when given; else L7 keeps its own default,
	// as an endpoint without a timeout attribute does.
	appTimeout := config.DefaultAppTimeout
	if set["timeout"] {
		appTimeout = *timeout
	}
	if usage := diagnoseFlagConflicts(set, *https, *httpPath, *tlsName, *grpcSvc, *banner, *clientCert, *clientKey); usage != "" {
		fmt.Fprintln(stderr, "portcheck diagnose:", usage)
		return exitUsage
	}
	if *maxHops < 1 || *maxHops > 64 || *rounds < 1 || *rounds > 100 {
		fmt.Fprintln(stderr, "portcheck diagnose: -max-hops must be 1-64 and -rounds 1-100")
		return exitUsage
	}
	if *pathMode != "" && *pathMode != "tcp" && *pathMode != "udp" && *pathMode != "icmp" {
		fmt.Fprintln(stderr, "portcheck diagnose: -path-mode must be tcp, udp or icmp")
		return exitUsage
	}
	sendBytes, err := unescapeSend(*send)
	if err != nil {
		fmt.Fprintln(stderr, "portcheck diagnose: -send:", err)
		return exitUsage
	}
	payloadBytes, err := unescapeSend(*payload)
	if err != nil {
		fmt.Fprintln(stderr, "portcheck diagnose: -payload:", err)
		return exitUsage
	}
	if *payload != "" && !*udp {
		fmt.Fprintln(stderr, "portcheck diagnose: -payload needs -udp (a TCP probe sends no data)")
		return exitUsage
	}
	var minTLS uint16
	if *minVersion != "" {
		v, ok := map[string]uint16{"1.0": tls.VersionTLS10, "1.1": tls.VersionTLS11, "1.2": tls.VersionTLS12, "1.3": tls.VersionTLS13}[*minVersion]
		if !ok {
			fmt.Fprintln(stderr, "portcheck diagnose: -min-tls must be 1.0, 1.1, 1.2 or 1.3")
			return exitUsage
		}
		minTLS = v
	}
	client := config.ClientCert{CertFile: *clientCert, KeyFile: *clientKey}
	sni := strings.TrimPrefix(*tlsName, "-")

	src := hcl.Range{Filename: "<command line>", Start: hcl.Pos{Line: 1, Column: 1}, End: hcl.Pos{Line: 1, Column: 1}}
	server := &config.Host{Name: "target", Addresses: addrs, DeclRange: src}
	if *on != "" {
		if err := placeHost(server, *on); err != nil {
			fmt.Fprintln(stderr, "portcheck diagnose: -on:", err)
			return exitUsage
		}
	}
	ep := &config.Endpoint{
		Name: "diagnose", Host: server, Ports: config.SinglePort(port), Protocol: "tcp",
		State: "open", Timeout: *timeout, Retries: *retries, DeclRange: src, PortsRange: src, StateRange: src,
	}
	if *udp {
		ep.Protocol = "udp"
	}
	if *payload != "" {
		ep.Expect.Connectivity = &config.ExpectConnectivity{Payload: []byte(payloadBytes), DeclRange: src}
	}
	if *closed {
		ep.State = "closed"
	}
	for i, f := range froms {
		if f == "local" {
			ep.From = append(ep.From, &config.Host{Name: "local", DeclRange: src, Local: ptr(true)})
			continue
		}
		h := &config.Host{Name: fmt.Sprintf("from%d", i+1), DeclRange: src}
		if err := placeHost(h, f); err != nil {
			fmt.Fprintln(stderr, "portcheck diagnose: -from:", err)
			return exitUsage
		}
		h.Name = strings.TrimPrefix(providers.Exec{Netns: h.Netns}.String(), "netns:")
		ep.From = append(ep.From, h)
	}
	if *process != "" {
		ep.Expect.Listening = &config.ExpectListening{Process: *process, DeclRange: src}
	}
	if *path {
		x := config.NewExpectPath(ep.Protocol, src)
		x.MaxHops, x.Rounds = *maxHops, *rounds
		if *pathMode != "" {
			x.Mode = *pathMode
		}
		ep.Expect.Path = x
	}
	if *httpPath != "" {
		scheme := "http"
		if *https {
			scheme = "https"
		}
		ep.Expect.HTTP = &config.ExpectHTTP{Scheme: scheme, Method: config.DefaultHTTPMethod, Path: *httpPath, Status: []int{config.DefaultHTTPStatus}, HostHeader: *hostHeader,
			ServerName: sni, CAFile: *caFile, ClientCert: client, Timeout: appTimeout, DeclRange: src}
	}
	// With -https, -tls NAME gives the HTTPS check its name; the TLS check
	// runs too, as asked.
	if *tlsName != "" {
		ep.Expect.TLS = &config.ExpectTLS{ServerName: sni, CAFile: *caFile, MinDaysValid: config.DefaultMinDaysValid, MinVersion: minTLS, ClientCert: client, Timeout: appTimeout, DeclRange: src}
	}
	if *grpcSvc != "" {
		ep.Expect.GRPC = &config.ExpectGRPC{Service: strings.TrimPrefix(*grpcSvc, "-"), TLS: *grpcTLS, Timeout: appTimeout, DeclRange: src}
		if *grpcTLS {
			ep.Expect.GRPC.ServerName, ep.Expect.GRPC.CAFile, ep.Expect.GRPC.ClientCert = sni, *caFile, client
		}
	}
	if *banner != "" {
		re, err := regexp.Compile(*banner)
		if err != nil {
			fmt.Fprintln(stderr, "portcheck diagnose: -banner:", err)
			return exitUsage
		}
		ep.Expect.Banner = &config.ExpectBanner{Match: re, Send: sendBytes, Timeout: appTimeout, DeclRange: src}
	}
	if err := placeLoopback(server, ep, *on != ""); err != nil {
		fmt.Fprintln(stderr, "portcheck diagnose:", err)
		return exitUsage
	}
	cfg := &config.Config{Hosts: append([]*config.Host{server}, ep.From...), Endpoints: []*config.Endpoint{ep}}
	of.parallelism = 1
	of.ladder = true
	env := runner.CurrentEnvironment()
	env.PlaceHint = "use -on local or -on ns:NAME"
	return verifyConfig(cfg, env, nil, of, *noColor, stdout, stderr)
}

// placeLoopback keeps a loopback target on one machine: 127.0.0.1 probed
// from a namespace is that namespace's own loopback, so the server-side
// checks (L1, L2) must look there too, not at this machine's sockets.
// Without -on the server goes where the vantage points are; with -on and no
// -from the probe starts in the server's namespace; vantage points in other
// namespaces than the server's cannot reach its loopback at all.
func placeLoopback(server *config.Host, ep *config.Endpoint, onGiven bool) error {
	for _, a := range server.Addresses {
		if !a.IsLoopback() {
			return nil
		}
	}
	where := func(h *config.Host) string { return providers.Exec{Netns: h.Netns}.String() }
	if !onGiven {
		if len(ep.From) == 0 {
			return nil // probed from here, checked here
		}
		first := ep.From[0]
		for _, f := range ep.From[1:] {
			if f.Netns != first.Netns {
				return fmt.Errorf("%s is a loopback address: each of -from %s and %s would reach its own loopback; diagnose one vantage point at a time",
					server.Addresses[0], where(first), where(f))
			}
		}
		if first.Netns != "" {
			server.Netns = first.Netns
		} else {
			server.Local = ptr(true)
		}
		return nil
	}
	if len(ep.From) == 0 {
		from := &config.Host{Name: strings.TrimPrefix(where(server), "netns:"), Netns: server.Netns, DeclRange: server.DeclRange}
		if server.Netns == "" {
			from.Local = ptr(true)
		}
		ep.From = []*config.Host{from}
		return nil
	}
	for _, f := range ep.From {
		if f.Netns != server.Netns {
			return fmt.Errorf("%s is a loopback address: from -from %s it is %s's own loopback, not that of -on %s; drop -from, or probe an address of the server that %s can reach",
				server.Addresses[0], where(f), where(f), where(server), where(f))
		}
	}
	return nil
}

// parseTarget takes ADDRESS:PORT; a name is resolved once (every address).
func parseTarget(s string) ([]netip.Addr, int, error) {
	host, portStr, err := net.SplitHostPort(s)
	if err != nil {
		return nil, 0, fmt.Errorf("%q is not ADDRESS:PORT (IPv6 as [addr]:port): %v", s, err)
	}
	port, err := strconv.Atoi(portStr)
	if err != nil || port < 1 || port > 65535 {
		return nil, 0, fmt.Errorf("port %q is not a number from 1 to 65535", portStr)
	}
	if a, err := netip.ParseAddr(host); err == nil {
		return []netip.Addr{a.Unmap()}, port, nil
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	ips, err := net.DefaultResolver.LookupNetIP(ctx, "ip", host)
	if err != nil || len(ips) == 0 {
		return nil, 0, fmt.Errorf("cannot resolve %q: %v", host, err)
	}
	for i := range ips {
		ips[i] = ips[i].Unmap()
	}
	return ips, port, nil
}

// placeHost sets where a host's local work runs from a -from/-on value.
func placeHost(h *config.Host, v string) error {
	switch {
	case v == "local":
		h.Local = ptr(true)
	case strings.HasPrefix(v, "ns:"), strings.HasPrefix(v, "netns:"):
		_, name, _ := strings.Cut(v, ":")
		if name == "" || strings.ContainsRune(name, '/') {
			return fmt.Errorf("%q: give a namespace name after ns:, or a path", v)
		}
		h.Netns = providers.NetnsPath(name)
	case strings.HasPrefix(v, "/"):
		h.Netns = v
	default:
		return fmt.Errorf("%q: use local, ns:NAME or a namespace path such as /proc/PID/ns/net", v)
	}
	return nil
}

func ptr[T any](v T) *T { return &v }

// diagnoseFlagConflicts names a flag given without the one it refines.
func diagnoseFlagConflicts(set map[string]bool, https bool, httpPath, tlsName, grpcSvc, banner, clientCert, clientKey string) string {
	switch {
	case https && httpPath == "":
		return "-https needs -http PATH"
	case set["host"] && httpPath == "":
		return "-host needs -http PATH"
	case set["send"] && banner == "":
		return "-send needs -banner REGEXP (what the answer must match)"
	case set["grpc-tls"] && grpcSvc == "":
		return "-grpc-tls needs -grpc SERVICE"
	case set["min-tls"] && tlsName == "":
		return "-min-tls needs -tls NAME (\"-\" for no name)"
	case (clientCert == "") != (clientKey == ""):
		return "-client-cert and -client-key go together"
	case set["ca-file"] && !(https || tlsName != "" || set["grpc-tls"]):
		return "-ca-file needs a TLS check: -tls NAME, -https or -grpc-tls"
	case (set["path-mode"] || set["max-hops"] || set["rounds"]) && !set["path"]:
		return "-path-mode, -max-hops and -rounds need -path"
	}
	return ""
}

// unescapeSend decodes -send: \r \n \t \0 \\ and \xNN, so any byte
// (a PostgreSQL SSLRequest, a binary hello) can be sent from a shell.
func unescapeSend(s string) (string, error) {
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c != '\\' {
			b.WriteByte(c)
			continue
		}
		if i+1 >= len(s) {
			return "", fmt.Errorf("%q ends in a lone backslash (write \\\\ for one)", s)
		}
		i++
		switch s[i] {
		case 'r':
			b.WriteByte('\r')
		case 'n':
			b.WriteByte('\n')
		case 't':
			b.WriteByte('\t')
		case '0':
			b.WriteByte(0)
		case '\\':
			b.WriteByte('\\')
		case 'x':
			if i+2 >= len(s) {
				return "", fmt.Errorf("%q: \\x needs two hex digits", s)
			}
			v, err := strconv.ParseUint(s[i+1:i+3], 16, 8)
			if err != nil {
				return "", fmt.Errorf("%q: \\x%s is not two hex digits", s, s[i+1:i+3])
			}
			b.WriteByte(byte(v))
			i += 2
		default:
			return "", fmt.Errorf("%q: unknown escape \\%c (use \\r \\n \\t \\0 \\\\ or \\xNN)", s, s[i])
		}
	}
	return b.String(), nil
}

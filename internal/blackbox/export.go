// Package blackbox turns the HCL endpoints into blackbox_exporter's
// configuration: a blackbox.yml with the modules the endpoints need, a
// Prometheus scrape_configs fragment in the multi-target pattern, and an
// alert-rules file. It reads the declarations only (config's model) and
// never touches the host.
//
// blackbox_exporter sees L4 and L7 from where it runs and nothing else, so
// export says what it leaves out instead of dropping it: a vantage host
// other than the exporter's, a UDP service that no blackbox prober can
// ask, a port range too long to list, a check blackbox cannot do as
// declared. Each is a NotExported entry, printed by the command and listed
// at the top of every file.
package blackbox

import (
	"errors"
	"fmt"
	"net"
	"net/netip"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/hashicorp/hcl/v2"
	"github.com/miekg/dns"

	"github.com/portcheck/portcheck/config"
)

// Options of an export.
type Options struct {
	// Exporter is blackbox_exporter's host:port as Prometheus reaches it.
	Exporter string
	// From is the HCL host blackbox_exporter runs on; "" = this machine
	// (the endpoints declared without `from`).
	From string
	// Job is the Prometheus job name; default DefaultJob.
	Job string
	// ScrapeInterval and ScrapeTimeout of the job; 0 = Prometheus's global.
	ScrapeInterval, ScrapeTimeout time.Duration
	// MaxRangePorts: a port range of at most this many ports is exported
	// port by port; a longer one is not exported. Default DefaultMaxRangePorts.
	MaxRangePorts int
}

const (
	DefaultJob           = "portcheck_blackbox"
	DefaultExporter      = "127.0.0.1:9115"
	DefaultMaxRangePorts = 64
)

// Target labels every exported probe carries (besides instance, which is
// the probe target): bounded by the HCL, one series per declared check.
const (
	LabelEndpoint = "endpoint" // the HCL endpoint name
	LabelHost     = "host"     // the HCL host name
	LabelCheck    = "check"    // tcp, http, tls, grpc, banner, dns, icmp
	LabelExpected = "expected" // open or closed, as declared
)

// NotExported is a declared endpoint, or one check or vantage host of it,
// that the export leaves out, and why.
type NotExported struct {
	Endpoint string
	// What is left out: "" (the whole endpoint), a check ("banner"), or a
	// vantage host ("from host.client").
	What   string
	Reason string
	Decl   hcl.Range
}

func (n NotExported) String() string {
	s := "endpoint." + n.Endpoint
	if n.What != "" {
		s += " " + n.What
	}
	s += ": " + n.Reason
	if n.Decl.Filename != "" {
		s = fmt.Sprintf("%s:%d: %s", n.Decl.Filename, n.Decl.Start.Line, s)
	}
	return s
}

// Export is what Build made: the three files' contents and what was left out.
type Export struct {
	Blackbox    Config
	Scrape      ScrapeFragment
	Rules       RuleFile
	NotExported []NotExported
	// Probes is the number of probe targets (series of probe_success).
	Probes int
	// from says where the probes run, for the files' header.
	from string
}

// probe is one exported check of one endpoint: a module and its targets.
type probe struct {
	endpoint, host, check, expected string
	module                          string
	targets                         []string
}

// Build exports cfg. Its error is for options that cannot work (an
// unknown -from host, a bad exporter address); what the HCL declares but
// blackbox cannot probe goes into NotExported.
func Build(cfg *config.Config, o Options) (*Export, error) {
	if o.Job == "" {
		o.Job = DefaultJob
	}
	if o.Exporter == "" {
		o.Exporter = DefaultExporter
	}
	if o.MaxRangePorts <= 0 {
		o.MaxRangePorts = DefaultMaxRangePorts
	}
	if _, port, err := net.SplitHostPort(o.Exporter); err != nil || port == "" {
		return nil, fmt.Errorf("exporter address %q: want host:port (blackbox_exporter's listen address as Prometheus reaches it)", o.Exporter)
	}
	if !validLabelValue(o.Job) {
		return nil, fmt.Errorf("job name %q: want letters, digits and _ (a Prometheus job name)", o.Job)
	}
	if o.ScrapeTimeout > 0 && o.ScrapeInterval > 0 && o.ScrapeTimeout > o.ScrapeInterval {
		return nil, fmt.Errorf("scrape timeout %s is longer than the scrape interval %s (Prometheus refuses that)", o.ScrapeTimeout, o.ScrapeInterval)
	}
	if o.From != "" && !slices.ContainsFunc(cfg.Hosts, func(h *config.Host) bool { return h.Name == o.From }) {
		return nil, fmt.Errorf("-from %q: no host %q is declared", o.From, o.From)
	}
	e := &Export{Blackbox: Config{Modules: map[string]Module{}}, from: o.From}
	var probes []probe
	eps := slices.Clone(cfg.Endpoints)
	slices.SortFunc(eps, func(a, b *config.Endpoint) int { return strings.Compare(a.Name, b.Name) })
	for _, ep := range eps {
		probes = append(probes, e.endpoint(ep, o)...)
	}
	e.Scrape = scrapeFragment(probes, o)
	e.Rules = rules(eps, probes, o)
	for _, p := range probes {
		e.Probes += len(p.targets)
	}
	return e, nil
}

// endpoint exports one endpoint's checks.
func (e *Export) endpoint(ep *config.Endpoint, o Options) []probe {
	skip := func(what, reason string) {
		e.NotExported = append(e.NotExported, NotExported{Endpoint: ep.Name, What: what, Reason: reason, Decl: ep.DeclRange})
	}
	here := false
	if len(ep.From) == 0 {
		here = o.From == ""
		if !here {
			skip("", fmt.Sprintf("it is probed from the machine portcheck runs on, and these probes run on host.%s", o.From))
		}
	}
	for _, h := range ep.From {
		if h.Name == o.From {
			here = true
			continue
		}
		where := "this machine"
		if o.From != "" {
			where = "host." + o.From
		}
		skip("from host."+h.Name, fmt.Sprintf("blackbox_exporter probes only from where it runs (%s); export again with -from %s for an exporter there", where, h.Name))
	}
	if !here {
		return nil
	}
	n := ep.Ports.Len()
	if n > o.MaxRangePorts {
		kind := "range"
		if !ep.Ports.Contiguous() {
			kind = "list"
		}
		skip("", fmt.Sprintf("its port %s %s has %d ports, more than -max-range-ports %d: blackbox_exporter probes one port per target", kind, ep.Ports, n, o.MaxRangePorts))
		return nil
	}
	addrs := []netip.Addr{ep.Address}
	if !ep.Address.IsValid() {
		addrs = ep.Host.Addresses
	}
	if len(addrs) == 0 {
		skip("", "its host has no address to probe")
		return nil
	}
	hostPorts := func() []string {
		var out []string
		for _, a := range addrs {
			for p := range ep.Ports.All() {
				out = append(out, net.JoinHostPort(a.String(), strconv.Itoa(p)))
			}
		}
		return out
	}
	expected := ep.State
	if expected == "" {
		expected = "open"
	}
	mk := func(check, module string, m Module, targets []string) probe {
		if old, ok := e.Blackbox.Modules[module]; ok && !sameModule(old, m) {
			// Only the shared default modules can meet twice; a named
			// module belongs to one endpoint.
			module = module + "_" + ep.Name
		}
		e.Blackbox.Modules[module] = m
		return probe{endpoint: ep.Name, host: ep.Host.Name, check: check, expected: expected, module: module, targets: targets}
	}

	l4Timeout := ep.Timeout
	if c := ep.Expect.Connectivity; c != nil && c.Timeout > 0 {
		l4Timeout = c.Timeout
	}
	var out []probe
	if ep.Protocol == "udp" {
		m, ok := dnsModule(ep, l4Timeout)
		if !ok {
			skip("", "it is UDP and not DNS: blackbox_exporter has no prober that can tell an open UDP port (portcheck verify can)")
			return nil
		}
		out = append(out, mk("dns", "dns_"+ep.Name, m, hostPorts()))
	} else {
		name := "tcp_connect"
		if l4Timeout != config.DefaultTimeout {
			name = "tcp_connect_" + durName(l4Timeout)
		}
		out = append(out, mk("tcp", name, Module{Prober: "tcp", Timeout: dur(l4Timeout)}, hostPorts()))
	}
	if expected != "open" {
		return out
	}
	x := ep.Expect
	if h := x.HTTP; h != nil {
		if m, why := httpModule(h, ep); why != "" {
			skip("http", why)
		} else {
			var urls []string
			for _, hp := range hostPorts() {
				urls = append(urls, h.Scheme+"://"+hp+h.Path)
			}
			name := "http_" + ep.Name
			if sameModule(m, defaultHTTP) {
				name = "http_2xx"
			}
			out = append(out, mk("http", name, m, urls))
		}
	}
	if t := x.TLS; t != nil {
		m := Module{Prober: "tcp", Timeout: dur(t.Timeout), TCP: &TCPProbe{TLS: true,
			TLSConfig: tlsConfig(t.ServerName, t.CAFile, t.ClientCert, false)}}
		out = append(out, mk("tls", "tls_"+ep.Name, m, hostPorts()))
	}
	if g := x.GRPC; g != nil {
		p := &GRPCProbe{Service: g.Service, TLS: g.TLS}
		if g.TLS {
			p.TLSConfig = tlsConfig(g.ServerName, g.CAFile, g.ClientCert, false)
		}
		out = append(out, mk("grpc", "grpc_"+ep.Name, Module{Prober: "grpc", Timeout: dur(g.Timeout), GRPC: p}, hostPorts()))
	}
	if b := x.Banner; b != nil {
		if m, why := bannerModule(b); why != "" {
			skip("banner", why)
		} else {
			out = append(out, mk("banner", "banner_"+ep.Name, m, hostPorts()))
		}
	}
	if p := x.Path; p != nil && p.Mode == "icmp" {
		// The path block's ICMP mode asks for echo reachability of the
		// address; blackbox's icmp prober is that ping (not the trace).
		for _, a := range addrs {
			proto := "ip4"
			if a.Is6() && !a.Is4In6() {
				proto = "ip6"
			}
			m := Module{Prober: "icmp", Timeout: dur(p.Timeout), ICMP: &ICMPProbe{PreferredIPProtocol: proto}}
			out = append(out, mk("icmp", "icmp_"+proto+"_"+durName(p.Timeout), m, []string{a.String()}))
		}
	}
	// A port range gives one target per port: each target is one series.
	return out
}

var defaultHTTP = Module{Prober: "http", Timeout: dur(config.DefaultAppTimeout), HTTP: &HTTPProbe{
	ValidStatusCodes: []int{config.DefaultHTTPStatus}, Method: config.DefaultHTTPMethod}}

// secretHeader: request headers that carry credentials. blackbox.yml would
// hold their values in clear text, and portcheck never prints a secret.
var secretHeader = regexp.MustCompile(`(?i)^(authorization|proxy-authorization|cookie)$|token|secret|api-?key|password|auth`)

func httpModule(h *config.ExpectHTTP, ep *config.Endpoint) (Module, string) {
	p := &HTTPProbe{ValidStatusCodes: slices.Clone(h.Status), Method: h.Method}
	if len(p.ValidStatusCodes) == 0 {
		p.ValidStatusCodes = []int{config.DefaultHTTPStatus}
	}
	if p.Method == "" {
		p.Method = config.DefaultHTTPMethod
	}
	headers := map[string]string{}
	for k, v := range h.Headers {
		if secretHeader.MatchString(k) {
			return Module{}, fmt.Sprintf("its request header %s may carry a credential, which blackbox.yml would hold in clear text: add the module by hand (http_client_config with a credentials_file)", k)
		}
		headers[k] = v
	}
	if h.HostHeader != "" {
		headers["Host"] = h.HostHeader
	} else if h.Scheme == "https" && h.ServerName != "" {
		// As portcheck (and a browser) sends it: the server name, with the
		// port when it is not 443 (one port only; a range gets the name).
		host := h.ServerName
		if ep.Ports.Single() && ep.Ports.First() != 443 {
			host = net.JoinHostPort(host, strconv.Itoa(ep.Ports.First()))
		}
		headers["Host"] = host
	}
	if len(headers) > 0 {
		p.Headers = headers
	}
	if h.BodyRegexp != nil {
		p.FailIfBodyNotMatchesRegexp = []string{h.BodyRegexp.String()}
	}
	for _, k := range sortedKeys(h.ResponseHeaders) {
		p.FailIfHeaderNotMatchesRegexp = append(p.FailIfHeaderNotMatchesRegexp, HeaderMatch{Header: k, Regexp: h.ResponseHeaders[k].String()})
	}
	if h.Scheme == "https" {
		p.TLSConfig = tlsConfig(h.ServerName, h.CAFile, h.ClientCert, h.Insecure)
	}
	return Module{Prober: "http", Timeout: dur(h.Timeout), HTTP: p}, ""
}

func tlsConfig(serverName, caFile string, cc config.ClientCert, insecure bool) *TLSConfig {
	c := &TLSConfig{ServerName: serverName, CAFile: caFile, CertFile: cc.CertFile, KeyFile: cc.KeyFile, InsecureSkipVerify: insecure}
	if *c == (TLSConfig{}) {
		return nil
	}
	return c
}

// bannerModule is a tcp module with a query_response dialogue. blackbox
// writes each send followed by "\n" and matches expect line by line, so a
// send that does not end in "\n" cannot be sent as declared.
func bannerModule(b *config.ExpectBanner) (Module, string) {
	var qr []QueryResponse
	if b.Send != "" {
		s, ok := strings.CutSuffix(b.Send, "\n")
		if !ok {
			return Module{}, fmt.Sprintf("it sends %q, and blackbox_exporter ends every send with a newline: it cannot send these bytes as declared", b.Send)
		}
		qr = append(qr, QueryResponse{Send: s})
	}
	if b.Match != nil {
		qr = append(qr, QueryResponse{Expect: b.Match.String()})
	}
	if len(qr) == 0 {
		return Module{}, "it declares neither send nor match"
	}
	return Module{Prober: "tcp", Timeout: dur(b.Timeout), TCP: &TCPProbe{QueryResponse: qr}}, ""
}

// dnsModule fits a UDP endpoint that is a DNS service: port 53, or a
// declared payload that is a DNS query (then that question is asked).
// Any rcode counts: an answer is what shows the port open, as for
// portcheck's own UDP probe.
func dnsModule(ep *config.Endpoint, timeout time.Duration) (Module, bool) {
	name, qtype := ".", "SOA"
	var payload []byte
	if c := ep.Expect.Connectivity; c != nil {
		payload = c.Payload
	}
	m := new(dns.Msg)
	switch {
	case len(payload) > 0 && m.Unpack(payload) == nil && !m.Response && len(m.Question) == 1:
		q := m.Question[0]
		t, ok := dns.TypeToString[q.Qtype]
		if !ok {
			return Module{}, false
		}
		name, qtype = q.Name, t
	case len(payload) > 0 || !ep.Ports.Single() || ep.Ports.First() != 53:
		return Module{}, false
	}
	return Module{Prober: "dns", Timeout: dur(timeout), DNS: &DNSProbe{TransportProtocol: "udp", QueryName: name, QueryType: qtype,
		ValidRcodes: []string{"NOERROR", "FORMERR", "SERVFAIL", "NXDOMAIN", "NOTIMP", "REFUSED"}}}, true
}

// dur writes a duration as Prometheus's configuration reads it.
func dur(d time.Duration) string {
	if d <= 0 {
		return ""
	}
	if d%time.Second == 0 {
		return strconv.FormatInt(int64(d/time.Second), 10) + "s"
	}
	return strconv.FormatInt(d.Milliseconds(), 10) + "ms"
}

func durName(d time.Duration) string { return strings.ReplaceAll(dur(d), ".", "_") }

func sameModule(a, b Module) bool {
	x, err1 := encodeYAML(a)
	y, err2 := encodeYAML(b)
	return errors.Join(err1, err2) == nil && string(x) == string(y)
}

func sortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	return keys
}

var labelValueRE = regexp.MustCompile(`^[a-zA-Z_][a-zA-Z0-9_]*$`)

func validLabelValue(s string) bool { return labelValueRE.MatchString(s) }

// Package runner compares: it turns declarations into a plan of checks, runs
// the providers' observations, compares them with what was declared, and
// decides status and diagnosis.
package runner

import (
	"fmt"
	"net/netip"
	"runtime"
	"strings"
	"sync"

	"github.com/hashicorp/hcl/v2"

	"github.com/portcheck/portcheck/config"
	"github.com/portcheck/portcheck/providers"
)

// Check is one planned observation and comparison.
type Check struct {
	Layer providers.Layer
	// Name is the check kind: listening, firewall, selinux, connectivity,
	// path, cloud, http, tls, grpc, banner.
	Name     string
	Provider string // registered provider name
	Exec     providers.Exec
	// From is the vantage host's name for checks that run from a vantage
	// point ("local" for this machine); "" for server-side checks.
	From    string
	Target  providers.Target
	Targets []providers.Target // server-side L1: every address of the port
	// L2 judges packets on the server (Exec) as they arrive from a vantage
	// host, whose own namespace (FromExec, nil when not reachable here) or
	// declared addresses (FromAddrs) give the source address; or from a
	// declared source range (Sources, with Deny for deny_from).
	FromExec  *providers.Exec
	FromAddrs []netip.Addr
	Sources   netip.Prefix
	Deny      bool
	// Skip, when non-empty, is why the check will not run (known ahead):
	// it was not asked for, or it does not apply.
	Skip string
	// Error, when non-empty, is why a check that was declared cannot run
	// (known ahead): a host's namespace that does not exist, a vantage host
	// that cannot be used, an expect block the provider cannot serve. It is
	// reported as an error, never a skip, so a gate cannot pass on it.
	Error string
	// Source is where the expectation was declared (the endpoint block when
	// the check is a default).
	Source   hcl.Range
	Declared bool // an expect block asked for it (not a default)
}

// EndpointPlan is the ordered list of checks of one endpoint.
type EndpointPlan struct {
	Endpoint *config.Endpoint
	Checks   []*Check
	// Server is where the endpoint's server-side checks run, and
	// ServerReadable whether this machine can read there (other layers
	// borrow the server's facts, e.g. L4's fix from its firewall).
	Server         providers.Exec
	ServerReadable bool

	// fwByTarget indexes the L2 checks by target, built on first use: a
	// DNAT lookup for each of many ports must not scan every check.
	fwOnce     sync.Once
	fwByTarget map[providers.Target][]*Check
}

// indexFirewallAbove is the number of checks from which an endpoint's L2
// checks are indexed: below it a scan is as quick, and a map per endpoint
// was 2 MB of 10,000 one-port endpoints' plan.
const indexFirewallAbove = 64

// firewallChecks are the endpoint's L2 checks of target t.
func (e *EndpointPlan) firewallChecks(t providers.Target) []*Check {
	if len(e.Checks) <= indexFirewallAbove {
		var out []*Check
		for _, c := range e.Checks {
			if c.Layer == providers.LayerFirewall && c.Target == t {
				out = append(out, c)
			}
		}
		return out
	}
	e.fwOnce.Do(func() {
		e.fwByTarget = map[providers.Target][]*Check{}
		for _, c := range e.Checks {
			if c.Layer == providers.LayerFirewall {
				e.fwByTarget[c.Target] = append(e.fwByTarget[c.Target], c)
			}
		}
	})
	return e.fwByTarget[t]
}

// Name is the Terraform-style address, "endpoint.web".
func (e *EndpointPlan) Name() string { return "endpoint." + e.Endpoint.Name }

// Title is "endpoint.web (10.0.0.5:8080/tcp)".
func (e *EndpointPlan) Title() string {
	ep := e.Endpoint
	addrs := targetAddresses(ep)
	var a string
	switch len(addrs) {
	case 0:
		a = "?"
	case 1:
		a = addrs[0].String()
	default:
		a = "{" + joinAddrs(addrs) + "}"
	}
	if len(addrs) == 1 && addrs[0].Is6() {
		a = "[" + a + "]"
	}
	return fmt.Sprintf("%s (%s:%s/%s)", e.Name(), a, portString(ep.Ports), ep.Protocol)
}

// Plan is every endpoint's checks, in declaration order.
type Plan struct {
	Endpoints []*EndpointPlan
	// SecurityGroups are the declared cloud groups, whose drift L6 reports
	// for the interfaces it looks at.
	SecurityGroups []*config.SecurityGroup
}

// Counts returns the number of checks, how many of them will be skipped and
// how many cannot run although declared.
func (p *Plan) Counts() (checks, skipped, errors int) {
	for _, e := range p.Endpoints {
		for _, c := range e.Checks {
			checks++
			if c.Skip != "" {
				skipped++
			}
			if c.Error != "" {
				errors++
			}
		}
	}
	return
}

// cannotRun records why c cannot run, known at plan time. A reason about
// something the user declared (c's own expect block, a host's namespace, a
// vantage host: hard) makes the check an error; a default check the user
// did not ask for is skipped.
func (c *Check) cannotRun(reason string, hard bool) {
	switch {
	case reason == "":
	case hard || c.Declared:
		c.Skip, c.Error = "", reason
	default:
		c.Skip = reason
	}
}

// unavailable is why a host cannot be worked on from here; hard when it is
// about something declared (its namespace), soft when the host is simply
// not reachable by this version (a remote host without a connection).
type unavailable struct {
	reason string
	hard   bool
}

func (u unavailable) prefixed(p string) unavailable {
	if u.reason != "" {
		u.reason = p + u.reason
	}
	return u
}

// Environment is what planning needs to know about the machine portcheck
// runs on; tests pin it so plans are reproducible.
type Environment struct {
	GOOS       string
	LocalAddrs []netip.Addr // addresses configured on this machine
	// NetnsCheck reports whether a namespace path can be entered; nil means
	// "assume yes" (used by golden tests).
	NetnsCheck func(path string) error
	// PlaceHint tells, in the front end's own words, how a user says where
	// a host's checks run; "" means HCL's ("set netns or local = true").
	// diagnose names its -on flag instead.
	PlaceHint string
	// Facts, when set, says whether a host's server-side facts can be read
	// from the recorded documents (verify -facts): every server is then
	// judged from its document, wherever it is, and a host without one is
	// an error. nil = observed live.
	Facts func(h *config.Host) error
	// Offline skips the vantage-side probes (L4, L5, L7): verify -facts
	// -offline judges only what the documents hold.
	Offline bool

	// skips memoizes providerSkip within one BuildPlan: 10,000 endpoints
	// on one host asked the same providers the same question (a stat of
	// the namespace file each) 30,000 times, most of planning's time.
	skips map[skipKey]string
}

type skipKey struct {
	provider string
	exec     providers.Exec
}

// CurrentEnvironment reads the facts of this machine (read-only).
func CurrentEnvironment() Environment {
	env := Environment{GOOS: runtime.GOOS, NetnsCheck: netnsCheck}
	env.LocalAddrs = localAddrs()
	return env
}

// PlanOptions select what to plan.
type PlanOptions struct {
	// Targets are `endpoint.NAME` addresses (as terraform's -target); empty = all.
	Targets []string
	Env     Environment
}

// ErrUnknownTarget is returned for a -target that names no endpoint.
type ErrUnknownTarget struct{ Target string }

func (e ErrUnknownTarget) Error() string {
	return fmt.Sprintf("-target %s: no such endpoint (targets look like endpoint.NAME)", e.Target)
}

// maxChecksPerEndpoint bounds the cross product of ports, addresses and
// vantage hosts so a typo in a range cannot plan millions of probes.
const maxChecksPerEndpoint = 8192

// maxChecksPerPort bounds the checks of each port of an endpoint with more
// ports than maxChecksPerEndpoint allows (max_ports above 1,024): one
// address from one vantage host with the three default layers and a few
// declared ones.
const maxChecksPerPort = 8

// BuildPlan orders the checks of every selected endpoint by layer. It only
// reads the config and the environment; it observes nothing.
func BuildPlan(cfg *config.Config, opts PlanOptions) (*Plan, error) {
	selected := map[string]bool{}
	for _, t := range opts.Targets {
		name, ok := strings.CutPrefix(t, "endpoint.")
		if !ok || !hasEndpoint(cfg, name) {
			return nil, ErrUnknownTarget{t}
		}
		selected[name] = true
	}
	plan := &Plan{SecurityGroups: cfg.SecurityGroups}
	opts.Env.skips = map[skipKey]string{}
	if check := opts.Env.NetnsCheck; check != nil {
		seen := map[string]error{}
		opts.Env.NetnsCheck = func(path string) error {
			err, ok := seen[path]
			if !ok {
				err = check(path)
				seen[path] = err
			}
			return err
		}
	}
	for _, ep := range cfg.Endpoints {
		if len(selected) > 0 && !selected[ep.Name] {
			continue
		}
		e, err := planEndpoint(ep, opts.Env)
		if err != nil {
			return nil, err
		}
		plan.Endpoints = append(plan.Endpoints, e)
	}
	return plan, nil
}

func hasEndpoint(cfg *config.Config, name string) bool {
	for _, ep := range cfg.Endpoints {
		if ep.Name == name {
			return true
		}
	}
	return false
}

// vantage is one place probes are sent from.
type vantage struct {
	name string
	exec providers.Exec
	// unusable is why probes cannot start there; always hard, since a
	// vantage host is declared.
	unusable string
	addrs    []netip.Addr // the host's declared addresses (none for "local")
	// server is where the endpoint's server-side checks run: a loopback
	// target is only the server's loopback from that same namespace.
	server providers.Exec
	host   string // the server host's name
}

// loopbackElsewhere says why a probe from v to target would judge the
// wrong machine: a loopback address reached from another namespace is that
// namespace's own loopback, not the server's.
func (v vantage) loopbackElsewhere(a netip.Addr) string {
	if !a.Unmap().IsLoopback() || (v.exec.Netns == v.server.Netns && v.exec.Remote == v.server.Remote) {
		return ""
	}
	return fmt.Sprintf("%s from vantage host %s (%s) is %s's own loopback, not host %s's (%s): probe an address of %s that %s can reach, or run the vantage in %s's namespace",
		a, v.name, v.exec, v.name, v.host, v.server, v.host, v.name, v.host)
}

func planEndpoint(ep *config.Endpoint, env Environment) (*EndpointPlan, error) {
	e := &EndpointPlan{Endpoint: ep}
	addrs := targetAddresses(ep)
	ports := ep.Ports
	x := ep.Expect

	serverExec, server := serverPlace(ep.Host, env)
	server = server.prefixed("host " + ep.Host.Name + ": ")
	e.Server, e.ServerReadable = serverExec, server.reason == ""
	var vantages []vantage
	if len(ep.From) == 0 {
		vantages = []vantage{{name: "local", exec: providers.Exec{}, server: serverExec, host: ep.Host.Name}}
	}
	for _, h := range ep.From {
		exec, u := hostExec(h, env)
		vantages = append(vantages, vantage{name: h.Name, exec: exec, unusable: u.prefixed("vantage host " + h.Name + ": ").reason, addrs: h.Addresses, server: serverExec, host: ep.Host.Name})
	}
	nPorts := ports.Len()
	perVantage := len(addrs) * nPorts
	nSources := 0
	if x.Firewall != nil {
		nSources = len(x.Firewall.AllowFrom) + len(x.Firewall.DenyFrom)
	}
	// An endpoint of many ports was allowed by its max_ports; the bound is
	// then per port, so a wide cross product still cannot slip through.
	limit := max(maxChecksPerEndpoint, maxChecksPerPort*nPorts)
	if n := perVantage*len(vantages)*(3+countApp(x)) + perVantage*nSources; n > limit {
		return nil, fmt.Errorf("%s: %s plans %d checks (ports × addresses × vantage hosts × layers), more than the limit of %d; split it into several endpoints",
			config.SourceOf(ep.DeclRange), "endpoint."+ep.Name, n, limit)
	}

	p := &endpointPlanner{ep: ep, addrs: addrs, vantages: vantages, serverExec: serverExec, server: server, env: env}
	for _, l := range layerTable {
		e.Checks = append(e.Checks, l.plan(p)...)
	}
	sortByLayer(e.Checks)
	return e, nil
}

// planListening plans L1: on the server, one check per port covering
// every probed address.
func planListening(p *endpointPlanner) []*Check {
	ep, x := p.ep, p.ep.Expect
	var out []*Check
	for port := range ep.Ports.All() {
		c := &Check{Layer: providers.LayerListening, Name: "listening", Provider: "sockdiag", Exec: p.serverExec, Source: ep.DeclRange}
		for _, a := range p.addrs {
			c.Targets = append(c.Targets, providers.Target{Address: a, Port: port, Protocol: providers.Protocol(ep.Protocol)})
		}
		if len(c.Targets) > 0 {
			c.Target = c.Targets[0]
		}
		if x.Listening != nil {
			c.Source, c.Declared = x.Listening.DeclRange, true
		}
		switch {
		case ep.State == "closed" && x.Listening == nil:
			c.Skip = "endpoint must be closed: judged from the vantage hosts at L4"
		case p.server.reason != "":
			c.cannotRun(p.server.reason, p.server.hard)
		default:
			c.cannotRun(providerSkip(c.Provider, p.serverExec, p.env), false)
		}
		out = append(out, c)
	}
	return out
}

// planConnectivity plans L4 from each vantage point to each address and
// port.
func planConnectivity(p *endpointPlanner) []*Check {
	ep, x := p.ep, p.ep.Expect
	var out []*Check
	for _, v := range p.vantages {
		for _, a := range p.addrs {
			for port := range ep.Ports.All() {
				c := &Check{
					Layer: providers.LayerConnectivity, Name: "connectivity", Provider: "connect",
					Exec: v.exec, From: v.name, Source: ep.DeclRange,
					Target: providers.Target{Address: a, Port: port, Protocol: providers.Protocol(ep.Protocol)},
				}
				if x.Connectivity != nil {
					c.Source, c.Declared = x.Connectivity.DeclRange, true
				}
				if ep.State == "closed" {
					c.Source = ep.StateRange
				}
				v.plan(c, p.env)
				out = append(out, c)
			}
		}
	}
	return out
}

// planApp plans L7: only what was declared; a protocol cannot be guessed.
func planApp(p *endpointPlanner) []*Check {
	ep := p.ep
	var out []*Check
	for _, app := range appChecks(ep.Expect) {
		for _, v := range p.vantages {
			for _, a := range p.addrs {
				for port := range ep.Ports.All() {
					c := &Check{
						Layer: providers.LayerApplication, Name: app.name, Provider: app.name,
						Exec: v.exec, From: v.name, Source: app.decl, Declared: true,
						Target: providers.Target{Address: a, Port: port, Protocol: providers.Protocol(ep.Protocol)},
					}
					switch {
					case ep.State == "closed":
						c.Skip = "endpoint must be closed: no application to check"
					case ep.Protocol != "tcp":
						c.cannotRun(app.name+" runs over tcp; the endpoint is "+ep.Protocol, true)
					default:
						v.plan(c, p.env)
					}
					out = append(out, c)
				}
			}
		}
	}
	return out
}

type appCheck struct {
	name string
	decl hcl.Range
}

func appChecks(x config.Expectations) []appCheck {
	var out []appCheck
	if x.TLS != nil {
		out = append(out, appCheck{"tls", x.TLS.DeclRange})
	}
	if x.HTTP != nil {
		out = append(out, appCheck{"http", x.HTTP.DeclRange})
	}
	if x.GRPC != nil {
		out = append(out, appCheck{"grpc", x.GRPC.DeclRange})
	}
	if x.Banner != nil {
		out = append(out, appCheck{"banner", x.Banner.DeclRange})
	}
	return out
}

func countApp(x config.Expectations) int { return len(appChecks(x)) }

// sortByLayer is a stable insertion sort: checks were appended in a
// meaningful order within each layer, which must be kept.
func sortByLayer(cs []*Check) {
	for i := 1; i < len(cs); i++ {
		for j := i; j > 0 && cs[j-1].Layer > cs[j].Layer; j-- {
			cs[j-1], cs[j] = cs[j], cs[j-1]
		}
	}
}

// serverPlace is where an endpoint's host is judged: from its facts
// document when the run reads documents (a host without one is a hard
// error, unless it has a connection block: then it is collected over
// ssh), else where its checks run live, or over ssh for a host with a
// connection.
func serverPlace(h *config.Host, env Environment) (providers.Exec, unavailable) {
	if env.Facts != nil {
		exec := providers.Exec{Host: h.Name, Netns: h.Netns, Recorded: true}
		err := env.Facts(h)
		switch {
		case err == nil:
			return exec, unavailable{}
		case h.Connection == nil:
			return exec, unavailable{err.Error(), true}
		}
	}
	if h.Connection != nil {
		return RemoteExec(h), unavailable{}
	}
	return hostExec(h, env)
}

// RemoteExec is where a host with a connection block is judged: from the
// facts its collector writes there (nothing runs here); Netns is the
// namespace on that machine.
func RemoteExec(h *config.Host) providers.Exec {
	return providers.Exec{Host: h.Name, Netns: h.Connection.Netns, Recorded: true, Remote: "ssh:" + h.Connection.Target()}
}

// offlineReason is why vantage-side checks do not run with -offline.
const offlineReason = "-offline: probes from vantage hosts are not run; only the facts documents are judged"

// plan sets why c, a check run from this vantage point, cannot run: the
// vantage host itself is unusable (an error: it was declared), or the
// provider cannot run there.
func (v vantage) plan(c *Check, env Environment) {
	if env.Offline {
		c.Skip = offlineReason // asked for: not an error
		return
	}
	if v.unusable != "" {
		c.cannotRun(v.unusable, true)
		return
	}
	if why := v.loopbackElsewhere(c.Target.Address); why != "" {
		c.cannotRun(why, true)
		return
	}
	c.cannotRun(providerSkip(c.Provider, v.exec, env), false)
}

// hostExec decides where a host's local work runs, or why it cannot. A
// declared namespace that cannot be entered is hard (a typo must not turn
// into skipped checks); a remote host is soft: its default checks are
// skipped, declared ones are errors.
func hostExec(h *config.Host, env Environment) (providers.Exec, unavailable) {
	if h.Connection != nil {
		// A vantage host reached over ssh: L4 probes run there through
		// the collector's probe command (vantage.plan refuses the rest).
		return RemoteExec(h), unavailable{}
	}
	if h.Netns != "" {
		exec := providers.Exec{Host: h.Name, Netns: h.Netns}
		if env.GOOS != "linux" {
			return exec, unavailable{"network namespaces need Linux (this is " + env.GOOS + ")", true}
		}
		if env.NetnsCheck != nil {
			if err := env.NetnsCheck(h.Netns); err != nil {
				return exec, unavailable{err.Error(), true}
			}
		}
		return exec, unavailable{}
	}
	if h.Local != nil {
		if *h.Local {
			return providers.Exec{Host: h.Name}, unavailable{}
		}
		return providers.Exec{Host: h.Name}, unavailable{"remote host (local = false)" + ": checks on it need an agent or ssh, not in this version", false}
	}
	for _, a := range h.Addresses {
		if a.IsLoopback() || containsAddr(env.LocalAddrs, a) {
			return providers.Exec{Host: h.Name}, unavailable{}
		}
	}
	return providers.Exec{Host: h.Name}, unavailable{"remote host (none of its addresses is on this machine; " + firstNonEmpty(env.PlaceHint, "set netns or local = true") + ")" + ": checks on it need an agent or ssh, not in this version", false}
}

// providerSkip is the provider's own reason it cannot run there, if any.
// Recorded facts need no provider on this machine.
func providerSkip(name string, exec providers.Exec, env Environment) string {
	if exec.Recorded || exec.Remote != "" {
		return ""
	}
	p, ok := providers.Lookup(name)
	if !ok {
		return "provider " + name + " is not built into this binary"
	}
	if env.GOOS != "" && env.GOOS != "linux" && (name == "sockdiag" || exec.Netns != "") {
		return name + " needs Linux (this is " + env.GOOS + ")"
	}
	if env.NetnsCheck == nil {
		return "" // pinned environment (tests): do not look at the machine
	}
	key := skipKey{name, exec}
	if skip, ok := env.skips[key]; ok {
		return skip
	}
	skip := ""
	if err := p.Available(exec); err != nil {
		skip = err.Error()
	}
	if env.skips != nil {
		env.skips[key] = skip
	}
	return skip
}

func targetAddresses(ep *config.Endpoint) []netip.Addr {
	if ep.Address.IsValid() {
		return []netip.Addr{ep.Address}
	}
	if ep.Host == nil {
		return nil
	}
	return ep.Host.Addresses
}

func containsAddr(list []netip.Addr, a netip.Addr) bool {
	a = a.Unmap()
	for _, b := range list {
		if b.Unmap() == a {
			return true
		}
	}
	return false
}

func joinAddrs(as []netip.Addr) string {
	s := make([]string, len(as))
	for i, a := range as {
		s[i] = a.String()
	}
	return strings.Join(s, ",")
}

// portString is "8080", "8000-8010" or "80,443,8000-8010"; a list of more
// than four ranges is cut: "1,3,5,…,99 (50 ports)".
func portString(p config.PortSet) string {
	if len(p) <= 4 {
		return p.String()
	}
	return fmt.Sprintf("%s,%s,%s,…,%s (%d ports)", p[0], p[1], p[2], p[len(p)-1], p.Len())
}

func firstNonEmpty(ss ...string) string {
	for _, s := range ss {
		if s != "" {
			return s
		}
	}
	return ""
}

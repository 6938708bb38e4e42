package runner

import (
	"context"
	"errors"
	"fmt"
	"net/netip"
	"strings"

	"github.com/portcheck/portcheck/providers"
	"github.com/portcheck/portcheck/providers/facts"
	"github.com/portcheck/portcheck/providers/firewall"
)

// ExplainOptions choose whose packets explain walks.
type ExplainOptions struct {
	// From names the vantage host whose packet is walked; "" walks every
	// vantage host of the endpoint.
	From string
	// Source, when valid, is the client address walked instead of the
	// vantage hosts' (any address, e.g. one a deny_from range covers).
	Source netip.Addr
	// Port picks the port of an endpoint with a range; 0 for an endpoint
	// of one port.
	Port int
	// Env is the machine explain runs on (vantage hosts' namespaces).
	Env Environment
	// Read is where the server's packet filter comes from; nil reads it
	// live (readFilter), as verify does.
	Read func(ctx context.Context, exec providers.Exec) (firewall.View, error)
	// Facts, when set, gives the server's packet filter from its facts
	// document (explain -facts) instead of Read.
	Facts facts.Source
}

// Explanation is the full L2 walk of one client's first packet to one
// address of an endpoint, and of what goes back to the client.
type Explanation struct {
	Endpoint string `json:"endpoint"`
	// From is the vantage host, or "source" for a source given by hand.
	From string `json:"from"`
	// Server is the endpoint's host and Executor where its filter was read.
	Server   string           `json:"server"`
	Executor string           `json:"executor"`
	Target   providers.Target `json:"target"`
	// Packet, Decision and Walk are missing when Error says why this
	// packet could not be explained (no source address for the vantage).
	Packet   *firewall.Packet   `json:"packet,omitempty"`
	Decision *firewall.Decision `json:"decision,omitempty"`
	Walk     *firewall.Walk     `json:"walk,omitempty"`
	// Manager is the tool that manages the server's rules; Notes what of
	// its filter could not be read.
	Manager string   `json:"manager,omitempty"`
	Notes   []string `json:"notes,omitempty"`
	Error   string   `json:"error,omitempty"`
}

// ExplainUsageError is a request explain cannot serve as asked: a -from
// that is no vantage host of the endpoint, a missing or foreign -port, a
// -source of no address family the endpoint has (exit code 2).
type ExplainUsageError struct{ Msg string }

func (e *ExplainUsageError) Error() string { return e.Msg }

// ExplainReadError is a server filter that could not be read (exit code 1).
type ExplainReadError struct {
	Server string
	Err    error
}

func (e *ExplainReadError) Error() string {
	return "reading the packet filter of " + e.Server + ": " + e.Err.Error()
}

func (e *ExplainReadError) Unwrap() error { return e.Err }

// explainVantage is one client explain walks a packet from.
type explainVantage struct {
	name string
	// exec is where its route lookup gives the source address (nil when
	// it cannot be entered: its declared addresses are used then).
	exec   *providers.Exec
	addrs  []netip.Addr
	reason string // why exec is nil
}

// Explain walks the first packet of each chosen client to the endpoint
// through the server's packet filter, with the full walk (every base
// chain, every rule tried, NAT, routing, the way back). The server's
// filter is read once.
func Explain(ctx context.Context, e *EndpointPlan, opts ExplainOptions) ([]Explanation, error) {
	ep := e.Endpoint
	port := opts.Port
	switch {
	case port == 0 && !ep.Ports.Single():
		return nil, &ExplainUsageError{fmt.Sprintf("%s has ports %s: pick one with -port", e.Name(), portString(ep.Ports))}
	case port == 0:
		port = ep.Ports.First()
	case !ep.Ports.Contains(port):
		return nil, &ExplainUsageError{fmt.Sprintf("-port %d is not a port of %s (%s)", port, e.Name(), portString(ep.Ports))}
	}
	addrs := targetAddresses(ep)
	if opts.Source.IsValid() {
		addrs = sameFamilyAll(addrs, opts.Source)
		if len(addrs) == 0 {
			return nil, &ExplainUsageError{fmt.Sprintf("-source %s: %s has no %s address", opts.Source, e.Name(), family(opts.Source))}
		}
	}
	if len(addrs) == 0 {
		return nil, &ExplainUsageError{e.Name() + " has no address"}
	}
	vantages, err := explainVantages(e, opts)
	if err != nil {
		return nil, err
	}

	server, unavail := hostExec(ep.Host, opts.Env)
	if ep.Host.Connection != nil {
		unavail = unavailable{"host " + ep.Host.Name + " is reached over ssh (" + ep.Host.Connection.Target() + "): explain does not collect over ssh in this version; run `portcheck collect -name " + ep.Host.Name + "` there and use explain -facts", true}
	}
	read := opts.Read
	if read == nil {
		read = readFilter
	}
	if opts.Facts != nil {
		server, unavail = providers.Exec{Host: ep.Host.Name, Netns: ep.Host.Netns, Recorded: true}, unavailable{}
		read = func(ctx context.Context, exec providers.Exec) (firewall.View, error) {
			hf, err := opts.Facts.For(ep.Host.Name, ep.Host.Addresses, exec)
			if err != nil {
				return nil, err
			}
			return viewOf(hf.Firewall(ctx))
		}
	}
	if unavail.reason != "" {
		return nil, &ExplainReadError{Server: "host " + ep.Host.Name, Err: errors.New(unavail.reason)}
	}
	view, err := read(ctx, server)
	if err != nil {
		return nil, &ExplainReadError{Server: "host " + ep.Host.Name + " (" + server.String() + ")", Err: err}
	}
	ev := view.Evaluator()
	proto := firewall.ProtoTCP
	if ep.Protocol == "udp" {
		proto = firewall.ProtoUDP
	}

	var out []Explanation
	for _, a := range addrs {
		t := providers.Target{Address: a, Port: port, Protocol: providers.Protocol(ep.Protocol)}
		for _, v := range vantages {
			x := Explanation{Endpoint: e.Name(), From: v.name, Server: ep.Host.Name, Executor: server.String(), Target: t,
				Manager: view.ManagedBy(), Notes: view.ReadNotes()}
			src, why := v.source(a, opts.Source)
			if v.exec != nil && why == "" {
				// As L2 plans it: a loopback target from another namespace
				// is that namespace's own loopback, not the server's.
				why = vantage{name: v.name, exec: *v.exec, server: server, host: ep.Host.Name}.loopbackElsewhere(a)
			}
			if why != "" {
				x.Error = why
				out = append(out, x)
				continue
			}
			p := firewall.Packet{Src: src, Dst: a, Proto: proto, SPort: ephemeralPort, DPort: uint16(port)}
			var w firewall.Walk
			d := ev.Evaluate(p, firewall.RecordWalk(&w))
			x.Packet, x.Decision, x.Walk = &p, &d, &w
			out = append(out, x)
		}
	}
	return out, nil
}

// explainVantages are the clients to walk: -source, the -from host, or
// every vantage host of the endpoint (this machine when it names none).
func explainVantages(e *EndpointPlan, opts ExplainOptions) ([]explainVantage, error) {
	ep := e.Endpoint
	if opts.Source.IsValid() {
		return []explainVantage{{name: "source", addrs: []netip.Addr{opts.Source}, reason: "given by -source"}}, nil
	}
	var all []explainVantage
	if len(ep.From) == 0 {
		local := providers.Exec{}
		all = append(all, explainVantage{name: "local", exec: &local})
	}
	for _, h := range ep.From {
		v := explainVantage{name: h.Name, addrs: h.Addresses}
		exec, u := hostExec(h, opts.Env)
		switch {
		case u.reason == "" && exec.Remote != "":
			v.reason = "vantage host " + h.Name + " is reached over ssh (" + exec.Remote + "): its routes are not looked up from here" // its declared addresses are used
		case u.reason == "":
			v.exec = &exec
		default:
			v.reason = "vantage host " + h.Name + ": " + u.reason
		}
		all = append(all, v)
	}
	if opts.From == "" {
		return all, nil
	}
	var names []string
	for _, v := range all {
		if v.name == opts.From {
			return []explainVantage{v}, nil
		}
		names = append(names, v.name)
	}
	return nil, &ExplainUsageError{fmt.Sprintf("-from %s is not a vantage host of %s (its vantage hosts: %s); -source ADDR walks any address",
		opts.From, e.Name(), strings.Join(names, ", "))}
}

// source is the address the vantage sends from to dst: the route lookup in
// its namespace, as L2 judges it, else its declared address of dst's
// family; why says why there is none.
func (v explainVantage) source(dst, given netip.Addr) (netip.Addr, string) {
	if given.IsValid() {
		return given.Unmap(), ""
	}
	lookup := ""
	if v.exec != nil {
		src, err := firewall.SourceFor(v.exec.Netns, dst)
		if err == nil {
			return src, ""
		}
		lookup = err.Error()
	}
	if a, ok := sameFamily(v.addrs, dst); ok {
		return a, ""
	}
	why := v.reason
	if lookup != "" {
		why = lookup
	}
	return netip.Addr{}, fmt.Sprintf("%s: no %s address to send from (%s); give one with -source", v.name, family(dst), why)
}

func sameFamilyAll(list []netip.Addr, a netip.Addr) []netip.Addr {
	var out []netip.Addr
	for _, b := range list {
		if b.Unmap().Is4() == a.Unmap().Is4() {
			out = append(out, b)
		}
	}
	return out
}

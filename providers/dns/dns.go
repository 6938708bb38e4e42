// Package dns asks a declared resolver about a name — A, AAAA, CNAME, SRV —
// for the port-change checklist's DNS step: the name resolves to the
// declared addresses, and SRV records carry the new port. It asks the
// resolver the checklist names (an address:port, never the host's
// resolv.conf), from the vantage's network namespace, over UDP with a
// retry over TCP when the answer is truncated, and records what came
// back: the response code, the authoritative flag, every record with its
// TTL, the CNAME chain, the transport and the round trip.
//
// A timeout, SERVFAIL or NXDOMAIN is an answer about the name and is
// returned as facts; only a query that cannot be made (a malformed name
// or resolver address, a namespace that cannot be entered) is an error.
package dns

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"time"

	mdns "github.com/miekg/dns"

	"github.com/portcheck/portcheck/internal/netns"
)

// Type is a record type this package asks for.
type Type string

// Record types.
const (
	TypeA     Type = "A"
	TypeAAAA  Type = "AAAA"
	TypeCNAME Type = "CNAME"
	TypeSRV   Type = "SRV"
)

var qtypes = map[Type]uint16{TypeA: mdns.TypeA, TypeAAAA: mdns.TypeAAAA, TypeCNAME: mdns.TypeCNAME, TypeSRV: mdns.TypeSRV}

// Defaults of Options.
const (
	DefaultTimeout = 2 * time.Second
	// DefaultUDPSize is the EDNS0 buffer size advertised (the DNS flag
	// day 2020 value, which avoids fragmented UDP).
	DefaultUDPSize = 1232
	// maxChain bounds the CNAME chain followed.
	maxChain = 8
)

// Resolver is who is asked, and from where.
type Resolver struct {
	// Addr is the resolver's address, "10.0.0.53:53" or "[2001:db8::53]:53";
	// a bare address means port 53.
	Addr string
	// NetNS is the network namespace the query leaves from (a path such as
	// /run/netns/client); "" is this process's.
	NetNS string
}

// Options tune a query.
type Options struct {
	// Timeout of each exchange (UDP, then TCP after truncation); 0 is
	// DefaultTimeout.
	Timeout time.Duration
	// UDPSize is the EDNS0 buffer size advertised; 0 is DefaultUDPSize.
	UDPSize uint16
	// NoRecursion clears the RD bit (ask an authoritative server only
	// about its own data).
	NoRecursion bool
}

// Facts are what the resolver answered about one name and type.
type Facts struct {
	Name     string `json:"name"` // fully qualified, as asked
	Type     Type   `json:"type"`
	Resolver string `json:"resolver"` // address:port asked
	NetNS    string `json:"netns,omitempty"`
	// Answered is false when no answer came (Error says why: a timeout,
	// an ICMP port unreachable).
	Answered bool   `json:"answered"`
	Error    string `json:"error,omitempty"`
	// Transport is "udp", or "tcp" when the UDP answer was truncated
	// (Truncated) and the query was repeated over TCP.
	Transport string `json:"transport"`
	Truncated bool   `json:"truncated,omitempty"`
	// From is the address the final answer came from.
	From string `json:"from,omitempty"`
	// Rcode is the response code: NOERROR, NXDOMAIN, SERVFAIL, REFUSED, …
	// of the last answer (the end of a followed CNAME chain).
	Rcode              string  `json:"rcode,omitempty"`
	Authoritative      bool    `json:"authoritative"`
	RecursionAvailable bool    `json:"recursion_available"`
	RTTMillis          float64 `json:"rtt_ms"`
	// CNAMEs is the alias chain from Name, in order.
	CNAMEs []CNAME `json:"cnames,omitempty"`
	// Addresses are the A/AAAA records of the chain's end.
	Addresses []Address `json:"addresses,omitempty"`
	// SRV are the SRV records, in the order the resolver gave them.
	SRV []SRV `json:"srv,omitempty"`
	// Records are every answer record as text (dig's presentation), for
	// evidence.
	Records []string `json:"records"`
	// Followed lists names asked again because an answer ended at a CNAME
	// without the type asked for.
	Followed []string `json:"followed,omitempty"`
}

// CNAME is one alias.
type CNAME struct {
	Name   string `json:"name"`
	Target string `json:"target"`
	TTL    uint32 `json:"ttl"`
}

// Address is one A or AAAA record.
type Address struct {
	Name string     `json:"name"`
	IP   netip.Addr `json:"ip"`
	TTL  uint32     `json:"ttl"`
}

// SRV is one SRV record.
type SRV struct {
	Name     string `json:"name"`
	Priority uint16 `json:"priority"`
	Weight   uint16 `json:"weight"`
	Port     uint16 `json:"port"`
	Target   string `json:"target"`
	TTL      uint32 `json:"ttl"`
}

// Resolve asks r about name and type t.
func Resolve(ctx context.Context, r Resolver, name string, t Type, opts Options) (*Facts, error) {
	qtype, ok := qtypes[t]
	if !ok {
		return nil, fmt.Errorf("dns: record type %q: want A, AAAA, CNAME or SRV", t)
	}
	fqdn := mdns.Fqdn(strings.TrimSpace(name))
	if _, ok := mdns.IsDomainName(fqdn); !ok || fqdn == "." {
		return nil, fmt.Errorf("dns: %q is not a domain name", name)
	}
	addr, err := resolverAddr(r.Addr)
	if err != nil {
		return nil, err
	}
	if err := netns.Check(r.NetNS); err != nil {
		return nil, fmt.Errorf("dns: %w", err)
	}
	if opts.Timeout <= 0 {
		opts.Timeout = DefaultTimeout
	}
	if opts.UDPSize == 0 {
		opts.UDPSize = DefaultUDPSize
	}
	f := &Facts{Name: fqdn, Type: t, Resolver: addr, NetNS: r.NetNS, Records: []string{}}
	q := &querier{resolver: addr, netns: r.NetNS, opts: opts}
	asked := fqdn
	for hop := 0; ; hop++ {
		msg, err := q.exchange(ctx, f, asked, qtype)
		if err != nil {
			if ctx.Err() != nil {
				return nil, fmt.Errorf("dns: %w", ctx.Err())
			}
			var nsErr *netnsError
			if errors.As(err, &nsErr) {
				return nil, fmt.Errorf("dns: %w", nsErr.err)
			}
			f.Answered, f.Error = false, describeErr(err, q.opts.Timeout)
			return f, nil
		}
		f.Answered = true
		f.Rcode = mdns.RcodeToString[msg.Rcode]
		if f.Rcode == "" {
			f.Rcode = "RCODE" + strconv.Itoa(msg.Rcode)
		}
		f.Authoritative, f.RecursionAvailable = msg.Authoritative, msg.RecursionAvailable
		end := record(f, asked, msg)
		// An answer that stops at an alias without the records asked
		// for (a resolver that does not chase it) is followed, as a stub
		// resolver would.
		if msg.Rcode != mdns.RcodeSuccess || t == TypeCNAME || end == asked || hasType(msg, end, qtype) || hop >= maxChain {
			return f, nil
		}
		if slices.Contains(f.Followed, end) || end == fqdn {
			f.Error = "CNAME loop at " + end
			return f, nil
		}
		f.Followed = append(f.Followed, end)
		asked = end
	}
}

// record adds msg's answer records to f and returns the end of the CNAME
// chain that starts at name.
func record(f *Facts, name string, msg *mdns.Msg) string {
	for _, rr := range msg.Answer {
		f.Records = append(f.Records, rr.String())
	}
	end := name
	for range maxChain {
		var next string
		for _, rr := range msg.Answer {
			if c, ok := rr.(*mdns.CNAME); ok && strings.EqualFold(c.Hdr.Name, end) {
				f.CNAMEs = append(f.CNAMEs, CNAME{Name: c.Hdr.Name, Target: c.Target, TTL: c.Hdr.Ttl})
				next = c.Target
				break
			}
		}
		if next == "" || f.Type == TypeCNAME {
			break
		}
		end = next
	}
	for _, rr := range msg.Answer {
		switch v := rr.(type) {
		case *mdns.A:
			if strings.EqualFold(v.Hdr.Name, end) {
				ip, _ := netip.AddrFromSlice(v.A.To4())
				f.Addresses = append(f.Addresses, Address{Name: v.Hdr.Name, IP: ip, TTL: v.Hdr.Ttl})
			}
		case *mdns.AAAA:
			if strings.EqualFold(v.Hdr.Name, end) {
				ip, _ := netip.AddrFromSlice(v.AAAA.To16())
				f.Addresses = append(f.Addresses, Address{Name: v.Hdr.Name, IP: ip, TTL: v.Hdr.Ttl})
			}
		case *mdns.SRV:
			if strings.EqualFold(v.Hdr.Name, end) {
				f.SRV = append(f.SRV, SRV{Name: v.Hdr.Name, Priority: v.Priority, Weight: v.Weight, Port: v.Port, Target: v.Target, TTL: v.Hdr.Ttl})
			}
		}
	}
	return end
}

func hasType(msg *mdns.Msg, name string, qtype uint16) bool {
	return slices.ContainsFunc(msg.Answer, func(rr mdns.RR) bool {
		return rr.Header().Rrtype == qtype && strings.EqualFold(rr.Header().Name, name)
	})
}

type querier struct {
	resolver string
	netns    string
	opts     Options
}

// netnsError marks a failure to use the vantage's namespace: the query
// could not be made at all, which is an error, not a fact.
type netnsError struct{ err error }

func (e *netnsError) Error() string { return e.err.Error() }

// exchange asks over UDP and, when the answer is truncated, again over
// TCP; it records the transport, the peer and the round trip in f.
func (q *querier) exchange(ctx context.Context, f *Facts, name string, qtype uint16) (*mdns.Msg, error) {
	m := new(mdns.Msg)
	m.SetQuestion(name, qtype)
	m.RecursionDesired = !q.opts.NoRecursion
	m.SetEdns0(q.opts.UDPSize, false)
	f.Transport = "udp"
	msg, rtt, from, err := q.once(ctx, "udp", m)
	f.RTTMillis += float64(rtt.Microseconds()) / 1000
	if err != nil {
		return nil, err
	}
	if msg.Truncated {
		f.Truncated, f.Transport = true, "tcp"
		msg, rtt, from, err = q.once(ctx, "tcp", m)
		f.RTTMillis += float64(rtt.Microseconds()) / 1000
		if err != nil {
			return nil, fmt.Errorf("over TCP after a truncated UDP answer: %w", err)
		}
	}
	f.From = from
	return msg, nil
}

func (q *querier) once(ctx context.Context, network string, m *mdns.Msg) (*mdns.Msg, time.Duration, string, error) {
	ctx, cancel := context.WithTimeout(ctx, q.opts.Timeout)
	defer cancel()
	var conn net.Conn
	entered := false
	err := netns.Do(q.netns, func() error {
		entered = true
		var err error
		conn, err = (&net.Dialer{}).DialContext(ctx, network, q.resolver)
		return err
	})
	if err != nil {
		if !entered {
			return nil, 0, "", &netnsError{err}
		}
		return nil, 0, "", err
	}
	defer conn.Close()
	c := &mdns.Client{Net: network, Timeout: q.opts.Timeout, UDPSize: q.opts.UDPSize}
	msg, rtt, err := c.ExchangeWithConnContext(ctx, m, &mdns.Conn{Conn: conn, UDPSize: q.opts.UDPSize})
	return msg, rtt, conn.RemoteAddr().String(), err
}

func describeErr(err error, timeout time.Duration) string {
	var ne net.Error
	switch {
	case errors.As(err, &ne) && ne.Timeout(), errors.Is(err, context.DeadlineExceeded):
		return fmt.Sprintf("no answer within %s", timeout)
	case errors.Is(err, syscall.ECONNREFUSED):
		return "refused: nothing answers DNS there (ICMP port unreachable or TCP reset)"
	case errors.Is(err, syscall.EHOSTUNREACH), errors.Is(err, syscall.ENETUNREACH):
		return "unreachable: " + err.Error()
	}
	return err.Error()
}

// resolverAddr accepts "addr", "addr:port", "[v6]:port".
func resolverAddr(s string) (string, error) {
	s = strings.TrimSpace(s)
	if a, err := netip.ParseAddr(strings.Trim(s, "[]")); err == nil {
		return netip.AddrPortFrom(a, 53).String(), nil
	}
	ap, err := netip.ParseAddrPort(s)
	if err != nil || ap.Port() == 0 {
		return "", fmt.Errorf("dns: resolver %q: want an IP address with an optional port (10.0.0.53:53, [2001:db8::53]:53)", s)
	}
	return ap.String(), nil
}

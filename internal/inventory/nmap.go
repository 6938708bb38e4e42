package inventory

import (
	"bytes"
	"encoding/xml"
	"errors"
	"fmt"
	"io"
	"net/netip"
	"slices"
	"strconv"
	"strings"
)

// NmapStates are the nmap port states ParseNmap may be asked to import.
var NmapStates = []string{"open", "closed", "filtered", "closed|filtered"}

// ParseNmap reads an nmap XML scan (-oX). Ports in a state of states are
// imported: open as state = "open"; closed, filtered and closed|filtered
// as state = "closed" (must not be reachable). Ports in other states are
// counted in notices, never dropped unsaid; so are ports nmap reports only
// as a count (<extraports>), and states it could not decide (open|filtered,
// unfiltered), which cannot be declared either way.
func ParseNmap(name string, data []byte, states []string) ([]Entry, []Notice, Errors) {
	d := xml.NewDecoder(bytes.NewReader(data))
	d.Strict = true
	var errs Errors
	fail := func(line int, format string, a ...any) {
		if len(errs) < maxErrors {
			errs = append(errs, &LineError{File: name, Line: line, Msg: fmt.Sprintf(format, a...)})
		}
	}
	counts := map[string]int{}
	var entries []Entry
	type hostState struct {
		line     int
		addr     netip.Addr
		hostname string
		ports    []Entry
	}
	var host *hostState
	seenRoot := false
	for {
		line, _ := d.InputPos()
		tok, err := d.Token()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			var se *xml.SyntaxError
			if errors.As(err, &se) {
				fail(se.Line, "not well-formed XML: %s", se.Msg)
			} else {
				fail(line, "reading XML: %v", err)
			}
			return nil, nil, errs
		}
		switch t := tok.(type) {
		case xml.StartElement:
			if !seenRoot {
				seenRoot = true
				if t.Name.Local != "nmaprun" {
					fail(line, "root element <%s>: not an nmap XML scan (nmap -oX writes <nmaprun>)", t.Name.Local)
					return nil, nil, errs
				}
				continue
			}
			switch t.Name.Local {
			case "host":
				host = &hostState{line: line}
			case "address":
				if host == nil {
					continue
				}
				typ, addr := attr(t, "addrtype"), attr(t, "addr")
				if typ != "ipv4" && typ != "ipv6" {
					continue // mac
				}
				a, err := netip.ParseAddr(addr)
				if err != nil || a.Zone() != "" || (typ == "ipv4") != a.Is4() {
					fail(line, "address %q (addrtype %s) is not an IP address", addr, typ)
					continue
				}
				if !host.addr.IsValid() {
					host.addr = a
				}
			case "hostname":
				if host != nil && host.hostname == "" {
					host.hostname = attr(t, "name")
				}
			case "extraports":
				if host != nil {
					n, _ := strconv.Atoi(attr(t, "count"))
					counts[attr(t, "state")+" ports nmap lists only as a count (<extraports>): not imported"] += n
				}
			case "port":
				var p nmapPort
				if err := d.DecodeElement(&p, &t); err != nil {
					fail(line, "<port>: %v", err)
					return nil, nil, errs
				}
				if host == nil {
					fail(line, "<port> outside a <host>")
					continue
				}
				e, why := p.entry(states)
				if why != "" {
					counts[why]++
					continue
				}
				if e.Port == 0 {
					fail(line, "<port protocol=%q portid=%q>: want tcp or udp and a port from 1 to 65535", p.Protocol, p.PortID)
					continue
				}
				e.Source = fmt.Sprintf("%s:%d", name, line)
				host.ports = append(host.ports, e)
			}
		case xml.EndElement:
			if t.Name.Local != "host" || host == nil {
				continue
			}
			if !host.addr.IsValid() {
				if len(host.ports) > 0 {
					fail(host.line, "<host> with ports and no IPv4 or IPv6 address")
				}
				host = nil
				continue
			}
			for _, e := range host.ports {
				e.Addr, e.Hostname = host.addr, host.hostname
				entries = append(entries, e)
			}
			host = nil
		}
	}
	if !seenRoot {
		fail(1, "no XML element: not an nmap XML scan")
	}
	var notices []Notice
	for _, k := range sortedKeys(counts) {
		notices = append(notices, Notice{File: name, What: k, Count: counts[k]})
	}
	return entries, notices, errs
}

type nmapPort struct {
	Protocol string `xml:"protocol,attr"`
	PortID   string `xml:"portid,attr"`
	State    struct {
		State string `xml:"state,attr"`
	} `xml:"state"`
	Service struct {
		Name   string `xml:"name,attr"`
		Tunnel string `xml:"tunnel,attr"`
	} `xml:"service"`
}

// entry is the port as an Entry, or why it is not imported. A zero Port
// with no reason means the port itself is malformed.
func (p nmapPort) entry(states []string) (Entry, string) {
	st := p.State.State
	var state State
	wanted := slices.Contains(states, st)
	switch st {
	case "open":
		state = Open
	case "closed", "filtered":
		state = Closed
	case "closed|filtered":
		// Either way not reachable: imported when closed or filtered is asked for.
		wanted = wanted || slices.Contains(states, "closed") || slices.Contains(states, "filtered")
		state = Closed
	default:
		return Entry{}, st + " ports (nmap could not decide; declare them by hand): not imported"
	}
	if !wanted {
		return Entry{}, st + " ports: not imported (-states " + st + " imports them as state = \"" + string(state) + "\")"
	}
	n, err := strconv.Atoi(p.PortID)
	if err != nil || n < 1 || n > 65535 || (p.Protocol != "tcp" && p.Protocol != "udp") {
		return Entry{}, ""
	}
	svc := p.Service.Name
	if svc == "http" && p.Service.Tunnel == "ssl" {
		svc = "https"
	}
	if strings.ContainsAny(svc, " \t:") {
		svc = ""
	}
	return Entry{Port: n, Protocol: p.Protocol, Service: svc, State: state}, ""
}

func attr(t xml.StartElement, name string) string {
	for _, a := range t.Attr {
		if a.Name.Local == name {
			return a.Value
		}
	}
	return ""
}

func sortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	return keys
}

package inventory

import (
	"bufio"
	"bytes"
	"fmt"
	"net/netip"
	"strconv"
	"strings"
	"unicode/utf8"
)

// ParseText reads a batch file (ADDR:PORT:SERVICE) or a list (ADDR:PORT),
// one entry a line. ADDR is an IPv4 address or an IPv6 address in brackets
// ([::1]:80); PORT may carry /tcp or /udp. Blank lines and # comments are
// skipped. FormatBatch requires the service, FormatList refuses one,
// FormatAuto takes either. Every line that cannot be read is an error.
func ParseText(name string, data []byte, f Format) ([]Entry, Errors) {
	var entries []Entry
	var errs Errors
	sc := bufio.NewScanner(bytes.NewReader(bytes.TrimPrefix(data, []byte("\xef\xbb\xbf"))))
	sc.Buffer(make([]byte, 64*1024), 1024*1024)
	line := 0
	for sc.Scan() {
		line++
		text := sc.Text()
		if i := strings.IndexByte(text, '#'); i >= 0 {
			text = text[:i]
		}
		text = strings.TrimSpace(text)
		if text == "" {
			continue
		}
		e, msg := parseLine(text, f)
		if msg != "" {
			if len(errs) < maxErrors {
				errs = append(errs, &LineError{File: name, Line: line, Msg: msg})
			}
			continue
		}
		e.Source = fmt.Sprintf("%s:%d", name, line)
		entries = append(entries, e)
	}
	if err := sc.Err(); err != nil {
		errs = append(errs, &LineError{File: name, Line: line + 1, Msg: err.Error()})
	}
	return entries, errs
}

func parseLine(text string, f Format) (Entry, string) {
	if !utf8.ValidString(text) {
		return Entry{}, "not UTF-8 text"
	}
	show := text
	if len(show) > 80 {
		show = show[:80] + "…"
	}
	var addrText, rest string
	if strings.HasPrefix(text, "[") {
		end := strings.IndexByte(text, ']')
		if end < 0 {
			return Entry{}, fmt.Sprintf("%q: an IPv6 address opened with [ is not closed with ]", show)
		}
		addrText, rest = text[1:end], text[end+1:]
		if !strings.HasPrefix(rest, ":") {
			return Entry{}, fmt.Sprintf("%q: want [IPv6]:PORT after the address", show)
		}
		rest = rest[1:]
	} else {
		var ok bool
		addrText, rest, ok = strings.Cut(text, ":")
		if !ok {
			return Entry{}, fmt.Sprintf("%q: want ADDRESS:PORT%s", show, serviceHint(f))
		}
	}
	addr, err := netip.ParseAddr(addrText)
	switch {
	case err != nil && strings.Count(text, ":") > 2 && !strings.HasPrefix(text, "["):
		return Entry{}, fmt.Sprintf("%q: an IPv6 address needs brackets, as in [2001:db8::1]:443", show)
	case err != nil:
		return Entry{}, fmt.Sprintf("%q: %q is not an IP address (a host block needs addresses; resolve names first)", show, addrText)
	case addr.Zone() != "":
		return Entry{}, fmt.Sprintf("%q: an address with a zone (%%%s) cannot be declared", show, addr.Zone())
	case strings.HasPrefix(text, "[") && !addr.Is6():
		return Entry{}, fmt.Sprintf("%q: brackets are for IPv6 addresses", show)
	}
	portText, service, hasService := strings.Cut(rest, ":")
	service = strings.TrimSpace(service)
	switch {
	case f == FormatBatch && (!hasService || service == ""):
		return Entry{}, fmt.Sprintf("%q: want ADDRESS:PORT:SERVICE (a batch line names its service)", show)
	case f == FormatList && hasService:
		return Entry{}, fmt.Sprintf("%q: want ADDRESS:PORT (a list line has no service; use -format batch)", show)
	case hasService && service == "":
		return Entry{}, fmt.Sprintf("%q: empty service after the port", show)
	case strings.ContainsAny(service, ": \t"):
		return Entry{}, fmt.Sprintf("%q: the service %q has a space or a colon", show, service)
	}
	port, proto, msg := parsePort(strings.TrimSpace(portText))
	if msg != "" {
		return Entry{}, fmt.Sprintf("%q: %s", show, msg)
	}
	return Entry{Addr: addr, Port: port, Protocol: proto, Service: service, State: Open}, ""
}

func serviceHint(f Format) string {
	if f == FormatBatch {
		return ":SERVICE"
	}
	return ""
}

// parsePort reads PORT or PORT/tcp or PORT/udp.
func parsePort(s string) (int, string, string) {
	proto := "tcp"
	if p, pr, ok := strings.Cut(s, "/"); ok {
		switch strings.ToLower(pr) {
		case "tcp", "udp":
			proto = strings.ToLower(pr)
		default:
			return 0, "", fmt.Sprintf("protocol %q: want tcp or udp", pr)
		}
		s = p
	}
	n, err := strconv.Atoi(s)
	if err != nil || n < 1 || n > 65535 || s != strconv.Itoa(n) {
		return 0, "", fmt.Sprintf("port %q: want a number from 1 to 65535", s)
	}
	return n, proto, ""
}

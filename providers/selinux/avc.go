package selinux

import (
	"bufio"
	"errors"
	"io"
	"os"
	"strconv"
	"strings"
	"time"
)

// maxAuditTail is how much of the end of audit.log is read: recent
// denials are at the end, and a multi-gigabyte log must not be read whole.
const maxAuditTail = 32 << 20

// readDenials returns the AVC denials in the audit log at path that name
// port (as src=, dest= or lport=) with a socket class of proto, at or after
// cutoff.
func readDenials(path string, port int, proto string, cutoff time.Time) ([]Denial, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	if st, err := f.Stat(); err == nil && st.Size() > maxAuditTail {
		if _, err := f.Seek(st.Size()-maxAuditTail, io.SeekStart); err != nil {
			return nil, err
		}
	}
	return filterDenials(f, port, proto, cutoff)
}

func filterDenials(r io.Reader, port int, proto string, cutoff time.Time) ([]Denial, error) {
	var out []Denial
	br := bufio.NewReader(r)
	for {
		line, err := br.ReadString('\n')
		if len(line) > 0 {
			// port 0 and proto "" keep every denial that names a port.
			if d, t, ok := ParseAVC(line); ok && d.Port != 0 && (port == 0 || d.Port == port) && !t.Before(cutoff) && (proto == "" || classMatches(d.Class, proto)) {
				out = append(out, d)
			}
		}
		if errors.Is(err, io.EOF) {
			return out, nil
		}
		if err != nil {
			return out, err
		}
	}
}

// classMatches keeps tcp denials for tcp and so on; classes that are not
// tied to a protocol (e.g. rawip_socket) always match.
func classMatches(class, proto string) bool {
	switch class {
	case "tcp_socket", "udp_socket", "sctp_socket", "dccp_socket":
		return class == proto+"_socket"
	}
	return true
}

// ParseAVC parses one audit.log line holding an AVC denial, such as
//
//	type=AVC msg=audit(1700000000.123:456): avc:  denied  { name_bind } for  pid=1234 comm="nginx" src=9090 scontext=system_u:system_r:httpd_t:s0 tcontext=system_u:object_r:websm_port_t:s0 tclass=tcp_socket permissive=0
//
// It returns ok=false for any other line. Port is the first of src=,
// dest=, lport= that is a port number (0 when none is).
func ParseAVC(line string) (d Denial, t time.Time, ok bool) {
	line = strings.TrimRight(line, "\r\n")
	ai := strings.Index(line, "avc:")
	if ai < 0 {
		return d, t, false
	}
	rest := strings.TrimSpace(line[ai+len("avc:"):])
	rest, ok = strings.CutPrefix(rest, "denied")
	if !ok {
		return d, t, false
	}
	ts, ok := auditTime(line[:ai])
	if !ok {
		return d, t, false
	}
	rest = strings.TrimSpace(rest)
	if strings.HasPrefix(rest, "{") {
		perms, after, found := strings.Cut(rest[1:], "}")
		if !found {
			return d, t, false
		}
		d.Permission = strings.Join(strings.Fields(perms), " ")
		rest = after
	}
	ports := map[string]int{}
	for _, kv := range fields(rest) {
		k, v, found := strings.Cut(kv, "=")
		if !found {
			continue
		}
		switch k {
		case "scontext":
			d.Domain = ctxType(v)
		case "tcontext":
			d.TargetType = ctxType(v)
		case "tclass":
			d.Class = v
		case "src", "dest", "lport":
			if n, err := strconv.Atoi(v); err == nil && n > 0 && n <= 65535 {
				if _, dup := ports[k]; !dup {
					ports[k] = n
				}
			}
		}
	}
	for _, k := range []string{"src", "dest", "lport"} {
		if n, found := ports[k]; found {
			d.Port = n
			break
		}
	}
	d.Time = ts.UTC().Format(time.RFC3339Nano)
	d.Line = line
	return d, ts, true
}

// auditTime reads "msg=audit(1700000000.123:456)".
func auditTime(s string) (time.Time, bool) {
	i := strings.Index(s, "audit(")
	if i < 0 {
		return time.Time{}, false
	}
	s = s[i+len("audit("):]
	stamp, _, found := strings.Cut(s, ":")
	if !found {
		return time.Time{}, false
	}
	secS, fracS, _ := strings.Cut(stamp, ".")
	sec, err := strconv.ParseInt(secS, 10, 64)
	if err != nil || sec < 0 || sec > 1<<40 {
		return time.Time{}, false
	}
	var nsec int64
	if fracS != "" {
		if len(fracS) > 9 {
			fracS = fracS[:9]
		}
		n, err := strconv.ParseInt(fracS, 10, 64)
		if err != nil || n < 0 {
			return time.Time{}, false
		}
		for l := len(fracS); l < 9; l++ {
			n *= 10
		}
		nsec = n
	}
	return time.Unix(sec, nsec), true
}

// fields splits on blanks and on the GS (0x1d) separating enriched fields,
// keeping double-quoted values whole.
func fields(s string) []string {
	var out []string
	var b strings.Builder
	inQ := false
	for _, r := range s {
		switch {
		case r == '"':
			inQ = !inQ
		case !inQ && (r == ' ' || r == '\t' || r == 0x1d):
			if b.Len() > 0 {
				out = append(out, b.String())
				b.Reset()
			}
			continue
		}
		b.WriteRune(r)
	}
	if b.Len() > 0 {
		out = append(out, b.String())
	}
	return out
}

// ctxType is the type of "user:role:type:level".
func ctxType(c string) string {
	parts := strings.SplitN(c, ":", 4)
	if len(parts) < 3 {
		return ""
	}
	return parts[2]
}

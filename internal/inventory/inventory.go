// Package inventory reads the lists operators arrive with — the guide's
// `ip:port:service` batch file, a plain `host:port` list, an nmap XML scan
// (`nmap -oX`) — and writes them as portcheck HCL: one host block per
// address, one endpoint per port, named from the service. A line it cannot
// read is an error with file:line, never skipped.
package inventory

import (
	"fmt"
	"net/netip"
	"strings"
)

// Format of an input file.
type Format string

const (
	FormatAuto  Format = "auto"  // nmap when the file is XML, else batch or list line by line
	FormatBatch Format = "batch" // ip:port:service
	FormatList  Format = "list"  // host:port
	FormatNmap  Format = "nmap"  // nmap -oX
)

// Formats are the values -format takes.
var Formats = []Format{FormatAuto, FormatBatch, FormatList, FormatNmap}

// State is what an endpoint is declared as.
type State string

const (
	Open   State = "open"
	Closed State = "closed"
)

// Entry is one port of one host, as read.
type Entry struct {
	Addr     netip.Addr
	Port     int
	Protocol string // tcp or udp
	Service  string // "" when the input names none
	// Hostname is the host's name when the input gives one (nmap's
	// user-given or PTR name); it names the host block.
	Hostname string
	State    State
	// Source is file:line, for errors about duplicates.
	Source string
}

// LineError is an input line that could not be read.
type LineError struct {
	File string
	Line int
	Msg  string
}

func (e *LineError) Error() string { return fmt.Sprintf("%s:%d: %s", e.File, e.Line, e.Msg) }

// Errors are every line error of a read, in order.
type Errors []*LineError

func (es Errors) Error() string {
	var b strings.Builder
	for i, e := range es {
		if i > 0 {
			b.WriteByte('\n')
		}
		b.WriteString(e.Error())
	}
	return b.String()
}

// maxErrors bounds the errors kept from one file: a binary or wrong file
// would otherwise give one per line.
const maxErrors = 100

// Notice is something a read left out on purpose (a port state not asked
// for), counted so the command can say so.
type Notice struct {
	File  string
	What  string
	Count int
}

func (n Notice) String() string { return fmt.Sprintf("%s: %d %s", n.File, n.Count, n.What) }

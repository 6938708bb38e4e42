// Package facts is the versioned document a host's server-side observers
// produce: its sockets (L1), packet filter with routes and addresses and
// firewalld's runtime and permanent state (L2), and SELinux (L3), with who
// collected it, where and when, and every observer that failed. It is
// produced in one place (`portcheck collect`, here or on a remote host) and
// judged in another (`portcheck verify -facts`): the evaluators read the
// same typed facts whether they were observed a moment ago or last week.
package facts

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/netip"
	"strings"
	"time"

	"github.com/portcheck/portcheck/providers/firewall/netfilter"
	"github.com/portcheck/portcheck/providers/selinux"
	"github.com/portcheck/portcheck/providers/sockets"
)

// Schema names the document kind; Version is the newest version this
// binary reads and the one it writes. A reader refuses a newer version
// rather than misreading fields it does not know.
const (
	Schema  = "portcheck/facts"
	Version = 1
)

// MaxSize bounds a document: a 50,000-rule ruleset is a few tens of MB of
// JSON; anything far larger is not a facts document.
const MaxSize = 512 << 20

// Observer names, as Failures and reports use them.
const (
	ObserverSockets  = "sockets"
	ObserverFirewall = "firewall"
	ObserverSELinux  = "selinux"
)

// Document is one host's facts at one moment.
type Document struct {
	Schema  string `json:"schema"`
	Version int    `json:"version"`
	Host    Host   `json:"host"`
	// Sockets, Firewall and SELinux are nil when their observer failed
	// (Failures says why) or was not asked for.
	Sockets  *sockets.Table      `json:"sockets"`
	Firewall *netfilter.Snapshot `json:"firewall"`
	SELinux  *selinux.HostFacts  `json:"selinux"`
	// Behind lists the namespaces behind the ruleset's DNAT targets (a
	// container behind a published port), for L1 to follow the DNAT.
	Behind []Behind `json:"behind,omitempty"`
	// Failures lists every observer that could not produce its facts: a
	// gap is always named, never silent.
	Failures []Failure `json:"failures"`
	// Notes say what was left out on purpose (DNAT targets beyond a bound).
	Notes []string `json:"notes,omitempty"`
}

// Host says where and when the facts were collected.
type Host struct {
	// Name is the HCL host name it was collected for ("" when collected
	// without a config); Hostname is the machine's own name.
	Name     string `json:"name,omitempty"`
	Hostname string `json:"hostname"`
	// Netns is the network namespace observed ("" = the machine's own).
	Netns     string       `json:"netns,omitempty"`
	Addresses []netip.Addr `json:"addresses"`
	Kernel    string       `json:"kernel"`
	Collected time.Time    `json:"collected"`
	Duration  float64      `json:"duration_ms"`
	Portcheck string       `json:"portcheck"`
	// Tools are the versions of the programs the observers ran (nft,
	// iptables, firewalld, sesearch…), by name.
	Tools map[string]string `json:"tools,omitempty"`
}

// Failure is an observer that could not run.
type Failure struct {
	Observer string `json:"observer"`
	Error    string `json:"error"`
}

// Failed returns the failure of observer, if it failed.
func (d *Document) Failed(observer string) (string, bool) {
	for _, f := range d.Failures {
		if f.Observer == observer {
			return f.Error, true
		}
	}
	return "", false
}

// Encode writes d as indented JSON.
func (d *Document) Encode(w io.Writer) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	enc.SetEscapeHTML(false)
	return enc.Encode(d)
}

// DecodeError says what is wrong with a document, and where it came from.
type DecodeError struct {
	Source string // file name, or "<stdin>"
	Msg    string
}

func (e *DecodeError) Error() string { return e.Source + ": " + e.Msg }

// Decode reads one document from r; source names it in errors. It checks
// the schema and version before anything else, refuses unknown fields
// nowhere (later versions of this version may add fields), and demands the
// parts every document has.
func Decode(r io.Reader, source string) (*Document, error) {
	b, err := io.ReadAll(io.LimitReader(r, MaxSize+1))
	if err != nil {
		return nil, &DecodeError{source, "reading: " + err.Error()}
	}
	if len(b) > MaxSize {
		return nil, &DecodeError{source, fmt.Sprintf("larger than %d MiB: not a facts document", MaxSize>>20)}
	}
	trimmed := bytes.TrimSpace(b)
	if len(trimmed) == 0 {
		return nil, &DecodeError{source, "empty file: not a facts document"}
	}
	// The header first, so a newer version is named as such rather than
	// failing on whatever field changed.
	var head struct {
		Schema  string `json:"schema"`
		Version int    `json:"version"`
	}
	if err := json.Unmarshal(trimmed, &head); err != nil {
		p := jsonProblem(trimmed, err)
		if strings.HasPrefix(p, "truncated") && bytes.HasPrefix(trimmed, []byte("{")) {
			return nil, &DecodeError{source, p + " (an interrupted copy or collect?)"}
		}
		return nil, &DecodeError{source, "not a facts document (" + p + ")"}
	}
	switch {
	case head.Schema != Schema:
		if head.Schema == "" {
			return nil, &DecodeError{source, fmt.Sprintf("no \"schema\": %q: not a facts document (write one with portcheck collect)", Schema)}
		}
		return nil, &DecodeError{source, fmt.Sprintf("schema %q, want %q", head.Schema, Schema)}
	case head.Version > Version:
		return nil, &DecodeError{source, fmt.Sprintf("facts version %d is newer than this portcheck reads (%d): upgrade portcheck, or collect with the same version", head.Version, Version)}
	case head.Version < 1:
		return nil, &DecodeError{source, fmt.Sprintf("facts version %d is not valid", head.Version)}
	}
	var d Document
	if err := json.Unmarshal(trimmed, &d); err != nil {
		return nil, &DecodeError{source, jsonProblem(trimmed, err)}
	}
	if err := d.check(); err != nil {
		return nil, &DecodeError{source, err.Error()}
	}
	return &d, nil
}

// check demands what judging needs: when a part is missing, its observer
// must be named as failed — a document cannot silently lack a layer.
func (d *Document) check() error {
	if d.Host.Collected.IsZero() {
		return errors.New("host.collected is missing")
	}
	for _, part := range []struct {
		name    string
		missing bool
	}{
		{ObserverSockets, d.Sockets == nil},
		{ObserverFirewall, d.Firewall == nil},
		{ObserverSELinux, d.SELinux == nil},
	} {
		if _, failed := d.Failed(part.name); part.missing && !failed {
			return fmt.Errorf("%q is missing and no failure of that observer is recorded (truncated or edited?)", part.name)
		}
	}
	if d.Firewall != nil && d.Firewall.Host == nil {
		return errors.New("firewall.host (interfaces and routes) is missing")
	}
	for _, f := range d.Failures {
		switch f.Observer {
		case ObserverSockets, ObserverFirewall, ObserverSELinux:
		default:
			return fmt.Errorf("failure of unknown observer %q", f.Observer)
		}
	}
	return nil
}

// jsonProblem turns a JSON error into "line L, column C: …".
func jsonProblem(b []byte, err error) string {
	var off int64 = -1
	var se *json.SyntaxError
	var te *json.UnmarshalTypeError
	switch {
	case errors.As(err, &se):
		off = se.Offset
	case errors.As(err, &te):
		off = te.Offset
		if te.Field != "" {
			err = fmt.Errorf("%s: %s where %s was expected", te.Field, te.Value, te.Type)
		}
	}
	if errors.Is(err, io.ErrUnexpectedEOF) || strings.Contains(err.Error(), "unexpected end of JSON input") {
		return "truncated: the JSON ends early"
	}
	if off < 0 || off > int64(len(b)) {
		return err.Error()
	}
	line := 1 + bytes.Count(b[:off], []byte("\n"))
	col := off - int64(bytes.LastIndexByte(b[:off], '\n'))
	return fmt.Sprintf("line %d, column %d: %v", line, col, err)
}

package inventory

import (
	"fmt"
	"slices"
	"strconv"
	"strings"

	"github.com/hashicorp/hcl/v2"
	"github.com/hashicorp/hcl/v2/hclwrite"
	"github.com/zclconf/go-cty/cty"

	"github.com/portcheck/portcheck/config"
)

type key struct {
	addr     string
	port     int
	protocol string
}

// HCL writes entries as a portcheck configuration in canonical format
// (config.Format, as `portcheck fmt` writes it): one host block per
// address (named from its hostname, else its address), one endpoint per
// address, port and protocol (named from the service), sorted by address
// and port. The same port read twice is one endpoint; read once open and
// once closed it is an error naming both lines. header is a comment put
// on top (sources, how it was made).
func HCL(entries []Entry, header string) ([]byte, Errors) {
	var errs Errors
	byKey := map[key]*Entry{}
	var uniq []*Entry
	for i := range entries {
		e := &entries[i]
		k := key{e.Addr.String(), e.Port, e.Protocol}
		if first, ok := byKey[k]; ok {
			if first.State != e.State {
				file, line := splitSource(e.Source)
				errs = append(errs, &LineError{File: file, Line: line, Msg: fmt.Sprintf("%s is %s here and %s at %s", target(e), e.State, first.State, first.Source)})
			}
			if first.Service == "" {
				first.Service = e.Service
			}
			if first.Hostname == "" {
				first.Hostname = e.Hostname
			}
			continue
		}
		byKey[k] = e
		uniq = append(uniq, e)
	}
	if len(errs) > 0 {
		return nil, errs
	}
	sortEntries(uniq)

	// Hosts: one per address, in address order, named from the first
	// hostname read for the address, else from the address.
	given := map[string]string{}
	for _, e := range uniq {
		if a := e.Addr.String(); given[a] == "" {
			given[a] = e.Hostname
		}
	}
	hostName := map[string]string{}
	used := map[string]bool{}
	var hostOrder []*Entry
	for _, e := range uniq {
		a := e.Addr.String()
		if _, ok := hostName[a]; ok {
			continue
		}
		base := ident("host", given[a])
		if given[a] == "" {
			base = ident("host", "host_"+a)
		}
		hostName[a] = unique(base, used)
		hostOrder = append(hostOrder, e)
	}
	names := endpointNames(uniq, hostName)

	f := hclwrite.NewEmptyFile()
	body := f.Body()
	for _, e := range hostOrder {
		b := body.AppendNewBlock("host", []string{hostName[e.Addr.String()]}).Body()
		b.SetAttributeValue("address", cty.StringVal(e.Addr.String()))
		body.AppendNewline()
	}
	for i, e := range uniq {
		b := body.AppendNewBlock("endpoint", []string{names[i]}).Body()
		b.SetAttributeTraversal("host", hcl.Traversal{hcl.TraverseRoot{Name: "host"}, hcl.TraverseAttr{Name: hostName[e.Addr.String()]}})
		b.SetAttributeValue("port", cty.NumberIntVal(int64(e.Port)))
		if e.Protocol == "udp" {
			b.SetAttributeValue("protocol", cty.StringVal("udp"))
		}
		b.SetAttributeValue("state", cty.StringVal(string(e.State)))
		if i < len(uniq)-1 {
			body.AppendNewline()
		}
	}
	var src []byte
	for _, l := range strings.Split(strings.TrimRight(header, "\n"), "\n") {
		src = append(src, "# "+l+"\n"...)
	}
	src = append(src, '\n')
	src = append(src, f.Bytes()...)
	out, diags := config.Format("import.pc.hcl", src)
	if diags.HasErrors() {
		// Our own output must parse; this is a bug, said as one.
		return nil, Errors{{File: "import.pc.hcl", Line: 1, Msg: "generated HCL does not parse (a bug): " + diags.Error()}}
	}
	return out, nil
}

// endpointNames names each endpoint from its service: the service alone
// when no other endpoint has it, else with the port when that tells them
// apart, else with the host and the port (numbered as a last resort). An
// entry without a service is named from its protocol and port (with the
// host when several hosts have it).
func endpointNames(es []*Entry, hostName map[string]string) []string {
	base := make([]string, len(es))
	count := map[string]int{}
	for i, e := range es {
		if e.Service != "" {
			base[i] = ident("svc", e.Service)
		} else {
			base[i] = e.Protocol + "_" + strconv.Itoa(e.Port)
		}
		count[base[i]]++
	}
	// The port, and the protocol for UDP (DNS is often on 53/tcp and 53/udp).
	portPart := func(e *Entry) string {
		if e.Protocol == "udp" {
			return "_" + strconv.Itoa(e.Port) + "_udp"
		}
		return "_" + strconv.Itoa(e.Port)
	}
	withPort := map[string]int{}
	for i, e := range es {
		withPort[base[i]+portPart(e)]++
	}
	used := map[string]bool{}
	names := make([]string, len(es))
	for i, e := range es {
		n := base[i]
		if count[n] > 1 {
			host := strings.TrimPrefix(hostName[e.Addr.String()], "host_")
			switch p := n + portPart(e); {
			case e.Service == "":
				n += "_" + host
			case withPort[p] == 1:
				n = p
			default:
				n += "_" + host
			}
		}
		names[i] = unique(ident("svc", n), used)
	}
	return names
}

// ident makes s an HCL identifier: letters, digits, _ and -, starting
// with a letter or _ (prefix otherwise).
func ident(prefix, s string) string {
	var b strings.Builder
	for _, r := range s {
		switch {
		case r >= 'a' && r <= 'z', r >= 'A' && r <= 'Z', r >= '0' && r <= '9', r == '_', r == '-':
			b.WriteRune(r)
		default:
			b.WriteByte('_')
		}
	}
	out := b.String()
	if out == "" || !(out[0] == '_' || out[0] >= 'a' && out[0] <= 'z' || out[0] >= 'A' && out[0] <= 'Z') {
		out = prefix + "_" + out
	}
	if len(out) > 64 {
		out = out[:64]
	}
	return out
}

// unique returns name, or name_2, name_3, … the first not used yet.
func unique(name string, used map[string]bool) string {
	n := name
	for i := 2; used[n]; i++ {
		n = name + "_" + strconv.Itoa(i)
	}
	used[n] = true
	return n
}

func target(e *Entry) string {
	a := e.Addr.String()
	if e.Addr.Is6() {
		a = "[" + a + "]"
	}
	return fmt.Sprintf("%s:%d/%s", a, e.Port, e.Protocol)
}

func splitSource(s string) (string, int) {
	i := strings.LastIndexByte(s, ':')
	if i < 0 {
		return s, 0
	}
	n, _ := strconv.Atoi(s[i+1:])
	return s[:i], n
}

func sortEntries(es []*Entry) {
	slices.SortFunc(es, func(a, b *Entry) int {
		if c := a.Addr.Compare(b.Addr); c != 0 {
			return c
		}
		if a.Port != b.Port {
			return a.Port - b.Port
		}
		return strings.Compare(a.Protocol, b.Protocol)
	})
}

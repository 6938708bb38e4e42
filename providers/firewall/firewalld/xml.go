package firewalld

import (
	"bufio"
	"bytes"
	"encoding/xml"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
)

// Defaults of firewalld's --system-config and --default-config, and of
// DefaultZone when firewalld.conf does not set it.
const (
	defaultSystemDir  = "/etc/firewalld"
	defaultDefaultDir = "/usr/lib/firewalld"
	fallbackZone      = "public"
)

type xmlName struct {
	Name string `xml:"name,attr"`
}

type xmlValue struct {
	Value *string `xml:"value,attr"`
}

type xmlPort struct {
	Port     string `xml:"port,attr"`
	Protocol string `xml:"protocol,attr"`
}

type xmlForwardPort struct {
	Port     string `xml:"port,attr"`
	Protocol string `xml:"protocol,attr"`
	ToPort   string `xml:"to-port,attr"`
	ToAddr   string `xml:"to-addr,attr"`
}

type xmlAddr struct {
	Address string `xml:"address,attr"`
	MAC     string `xml:"mac,attr"`
	IPSet   string `xml:"ipset,attr"`
	Invert  string `xml:"invert,attr"`
}

type xmlZone struct {
	XMLName            xml.Name         `xml:"zone"`
	Target             string           `xml:"target,attr"`
	Services           []xmlName        `xml:"service"`
	Ports              []xmlPort        `xml:"port"`
	Protocols          []xmlValue       `xml:"protocol"`
	SourcePorts        []xmlPort        `xml:"source-port"`
	ICMPBlocks         []xmlName        `xml:"icmp-block"`
	ICMPBlockInversion []struct{}       `xml:"icmp-block-inversion"`
	Masquerade         []struct{}       `xml:"masquerade"`
	Forward            []struct{}       `xml:"forward"`
	ForwardPorts       []xmlForwardPort `xml:"forward-port"`
	Interfaces         []xmlName        `xml:"interface"`
	Sources            []xmlAddr        `xml:"source"`
	Rules              []xmlRule        `xml:"rule"`
}

type xmlService struct {
	XMLName     xml.Name   `xml:"service"`
	Ports       []xmlPort  `xml:"port"`
	Protocols   []xmlValue `xml:"protocol"`
	SourcePorts []xmlPort  `xml:"source-port"`
	Destination []struct {
		IPv4 string `xml:"ipv4,attr"`
		IPv6 string `xml:"ipv6,attr"`
	} `xml:"destination"`
	Includes []struct {
		Service string `xml:"service,attr"`
	} `xml:"include"`
}

var zoneTargets = []string{"default", "ACCEPT", "DROP", "%%REJECT%%", "{chain}_{zone}"}

// ParseZoneXML parses a zone file (zones/NAME.xml) the way firewalld loads
// it: rich rules become firewalld's canonical rule text, and a malformed
// rule is dropped as firewalld drops it, while a malformed file (bad XML,
// bad target, bad port) is an error as it is for firewalld.
func ParseZoneXML(name string, data []byte) (*Zone, error) {
	var x xmlZone
	if err := xml.Unmarshal(data, &x); err != nil {
		return nil, fmt.Errorf("zone %s: %w", name, err)
	}
	z, err := x.zone(name)
	if err != nil {
		return nil, fmt.Errorf("zone %s: %w", name, err)
	}
	return z, nil
}

func (x *xmlZone) zone(name string) (*Zone, error) {
	if !slices.Contains(zoneTargets, x.Target) && x.Target != "" {
		return nil, fmt.Errorf("invalid target %q", x.Target)
	}
	z := &Zone{
		Name:               name,
		Target:             normalizeTarget(x.Target),
		ICMPBlockInversion: len(x.ICMPBlockInversion) > 0,
		Masquerade:         len(x.Masquerade) > 0,
		Forward:            len(x.Forward) > 0,
	}
	var err error
	if z.Ports, err = xmlPorts(x.Ports); err != nil {
		return nil, err
	}
	if z.SourcePorts, err = xmlPorts(x.SourcePorts); err != nil {
		return nil, err
	}
	for _, p := range x.Protocols {
		if p.Value == nil {
			return nil, errors.New("protocol without value")
		}
		z.Protocols = appendNew(z.Protocols, *p.Value)
	}
	for _, s := range x.Services {
		z.Services = appendNew(z.Services, s.Name)
	}
	for _, b := range x.ICMPBlocks {
		z.ICMPBlocks = appendNew(z.ICMPBlocks, b.Name)
	}
	for _, f := range x.ForwardPorts {
		fp := ForwardPort{Port: normalizePort(f.Port), Protocol: f.Protocol, ToPort: normalizePort(f.ToPort), ToAddr: f.ToAddr}
		if !slices.Contains(z.ForwardPorts, fp) {
			z.ForwardPorts = append(z.ForwardPorts, fp)
		}
	}
	x.bindings(z)
	for _, r := range x.Rules {
		text, ok, err := r.canonical()
		if err != nil {
			return nil, err
		}
		if ok {
			z.RichRules = appendNew(z.RichRules, text)
		}
	}
	return z, nil
}

func (x *xmlZone) bindings(z *Zone) {
	for _, i := range x.Interfaces {
		z.Interfaces = appendNew(z.Interfaces, i.Name)
	}
	for _, s := range x.Sources {
		// firewalld ignores a binding with both or neither of address/ipset.
		switch {
		case s.Address != "" && s.IPSet == "":
			z.Sources = appendNew(z.Sources, s.Address)
		case s.IPSet != "" && s.Address == "":
			z.Sources = appendNew(z.Sources, "ipset:"+s.IPSet)
		}
	}
}

// ParseServiceXML parses a service file (services/NAME.xml).
func ParseServiceXML(name string, data []byte) (*Service, error) {
	var x xmlService
	if err := xml.Unmarshal(data, &x); err != nil {
		return nil, fmt.Errorf("service %s: %w", name, err)
	}
	s := &Service{Name: name}
	// A port element without a port opens its whole protocol.
	var ports []xmlPort
	for _, p := range x.Ports {
		if p.Port == "" {
			s.Protocols = appendNew(s.Protocols, p.Protocol)
		} else {
			ports = append(ports, p)
		}
	}
	var err error
	if s.Ports, err = xmlPorts(ports); err != nil {
		return nil, fmt.Errorf("service %s: %w", name, err)
	}
	if s.SourcePorts, err = xmlPorts(x.SourcePorts); err != nil {
		return nil, fmt.Errorf("service %s: %w", name, err)
	}
	for _, p := range x.Protocols {
		if p.Value != nil {
			s.Protocols = appendNew(s.Protocols, *p.Value)
		}
	}
	for _, d := range x.Destination {
		for family, addr := range map[string]string{"ipv4": d.IPv4, "ipv6": d.IPv6} {
			if addr != "" {
				if s.Destination == nil {
					s.Destination = map[string]string{}
				}
				s.Destination[family] = addr
			}
		}
	}
	for _, i := range x.Includes {
		s.Includes = appendNew(s.Includes, i.Service)
	}
	return s, nil
}

// xmlPorts checks, normalises and de-duplicates port elements.
func xmlPorts(ps []xmlPort) ([]Port, error) {
	var out []Port
	for _, p := range ps {
		if p.Protocol == "" {
			return nil, fmt.Errorf("port %q without protocol", p.Port)
		}
		if !validPort(p.Port) {
			return nil, fmt.Errorf("invalid port %q", p.Port)
		}
		q := Port{Port: normalizePort(p.Port), Protocol: p.Protocol}
		if !slices.Contains(out, q) {
			out = append(out, q)
		}
	}
	return out, nil
}

// normalizePort writes a numeric range as firewalld does ("80-80" -> "80",
// "90-80" -> "80-90"); anything else (a service name) stays as it is.
func normalizePort(p string) string {
	lo, hi, ok := portRange(p)
	if !ok {
		return p
	}
	if lo == hi {
		return strconv.Itoa(lo)
	}
	return fmt.Sprintf("%d-%d", lo, hi)
}

// validPort accepts what firewalld's check_port does: a numeric port or
// range, or a name for /etc/services (which portcheck cannot evaluate).
func validPort(p string) bool {
	if _, _, ok := portRange(p); ok {
		return true
	}
	return p != "" && (p[0] < '0' || p[0] > '9')
}

// portRange parses "N" or "N-M" (either order) into an ordered range.
func portRange(p string) (lo, hi int, ok bool) {
	a, b, isRange := strings.Cut(p, "-")
	lo, err := strconv.Atoi(a)
	if err != nil || lo < 0 || lo > 65535 {
		return 0, 0, false
	}
	hi = lo
	if isRange {
		if hi, err = strconv.Atoi(b); err != nil || hi < 0 || hi > 65535 {
			return 0, 0, false
		}
	}
	return min(lo, hi), max(lo, hi), true
}

func appendNew(list []string, s string) []string {
	if slices.Contains(list, s) {
		return list
	}
	return append(list, s)
}

// ReadPermanent reads the permanent zones and services from firewalld's
// default configuration directory and its system directory, whose files
// override same-named ones, and DefaultZone from the system directory's
// firewalld.conf. A missing directory is empty. Files that fail to parse
// are left out, as firewalld leaves them out, and reported in err (joined)
// next to everything that parsed; an I/O error returns only that error.
func ReadPermanent(systemDir, defaultDir string) (zones map[string]*Zone, services map[string]*Service, defaultZone string, err error) {
	p, err := readPermanent(systemDir, defaultDir)
	if err != nil {
		return nil, nil, "", err
	}
	return p.zones, p.services, p.defaultZone, errors.Join(p.invalid...)
}

type permanent struct {
	zones       map[string]*Zone
	services    map[string]*Service
	defaultZone string
	invalid     []error // files firewalld fails to load too
}

func readPermanent(systemDir, defaultDir string) (*permanent, error) {
	p := &permanent{zones: map[string]*Zone{}, services: map[string]*Service{}}
	// Default first: a system file that fails to parse leaves the default one.
	for _, dir := range []string{defaultDir, systemDir} {
		if err := readDir(filepath.Join(dir, "zones"), p.zones, ParseZoneXML, &p.invalid); err != nil {
			return nil, err
		}
		if err := readDir(filepath.Join(dir, "services"), p.services, ParseServiceXML, &p.invalid); err != nil {
			return nil, err
		}
	}
	var err error
	p.defaultZone, err = confDefaultZone(filepath.Join(systemDir, "firewalld.conf"))
	return p, err
}

// readDir parses every NAME.xml in dir into out[NAME], adding files that do
// not parse to invalid.
func readDir[T any](dir string, out map[string]*T, parse func(string, []byte) (*T, error), invalid *[]error) error {
	entries, err := os.ReadDir(dir)
	if errors.Is(err, fs.ErrNotExist) {
		return nil
	}
	if err != nil {
		return err
	}
	for _, e := range entries {
		name, ok := strings.CutSuffix(e.Name(), ".xml")
		if !ok || e.IsDir() {
			continue
		}
		path := filepath.Join(dir, e.Name())
		data, err := os.ReadFile(path)
		if err != nil {
			return err
		}
		v, err := parse(name, data)
		if err != nil {
			*invalid = append(*invalid, fmt.Errorf("%s: %w", path, err))
			continue
		}
		out[name] = v
	}
	return nil
}

// confDefaultZone reads DefaultZone= from firewalld.conf; a missing file or
// key means firewalld's fallback zone.
func confDefaultZone(path string) (string, error) {
	data, err := os.ReadFile(path)
	if errors.Is(err, fs.ErrNotExist) {
		return fallbackZone, nil
	}
	if err != nil {
		return fallbackZone, err
	}
	zone := fallbackZone
	sc := bufio.NewScanner(bytes.NewReader(data))
	for sc.Scan() {
		key, value, ok := strings.Cut(strings.TrimSpace(sc.Text()), "=")
		if ok && strings.TrimSpace(key) == "DefaultZone" && strings.TrimSpace(value) != "" {
			zone = strings.TrimSpace(value)
		}
	}
	return zone, sc.Err()
}

// readPermanentOf reads the permanent configuration of firewalld process
// pid: the directories its command line names, through /proc/PID/root so
// a firewalld in another mount namespace is read as it sees its files.
func readPermanentOf(pid int, st *State) error {
	cmdline, err := os.ReadFile(fmt.Sprintf("/proc/%d/cmdline", pid))
	if err != nil {
		return fmt.Errorf("firewalld command line: %w", err)
	}
	systemDir, defaultDir := configDirs(strings.Split(string(cmdline), "\x00"))
	st.ConfigDirs = []string{systemDir, defaultDir}
	p, err := readPermanent(procPath(pid, systemDir), procPath(pid, defaultDir))
	if err != nil {
		return fmt.Errorf("firewalld permanent configuration: %w", err)
	}
	for _, err := range p.invalid {
		st.PermanentErrors = append(st.PermanentErrors, err.Error())
	}
	st.Permanent, st.PermanentDefaultZone = p.zones, p.defaultZone
	st.PermanentServices, _ = usedServices(p.zones, func(name string) (*Service, error) { return p.services[name], nil })
	return nil
}

// procPath is dir as process pid sees it.
func procPath(pid int, dir string) string {
	if filepath.IsAbs(dir) {
		return filepath.Join(fmt.Sprintf("/proc/%d/root", pid), dir)
	}
	return filepath.Join(fmt.Sprintf("/proc/%d/cwd", pid), dir)
}

// firewalldOptions are firewalld's long options; argparse accepts any
// unambiguous prefix of them ("--system" for "--system-config").
var firewalldOptions = []string{"--help", "--debug", "--debug-gc", "--nofork", "--nopid",
	"--system-config", "--default-config", "--log-target", "--log-file"}

// configDirs finds --system-config and --default-config in firewalld's
// argv, in the "--opt value" and "--opt=value" forms.
func configDirs(args []string) (systemDir, defaultDir string) {
	systemDir, defaultDir = defaultSystemDir, defaultDefaultDir
	for i := 0; i < len(args); i++ {
		name, value, inline := strings.Cut(args[i], "=")
		opt := longOption(name)
		if opt != "--system-config" && opt != "--default-config" {
			continue
		}
		if !inline {
			if i+1 >= len(args) {
				break
			}
			i++
			value = args[i]
		}
		if opt == "--system-config" {
			systemDir = value
		} else {
			defaultDir = value
		}
	}
	return systemDir, defaultDir
}

// longOption resolves an argument to the firewalld option it names, "" if none.
func longOption(arg string) string {
	if !strings.HasPrefix(arg, "--") || len(arg) < 3 {
		return ""
	}
	var match string
	for _, o := range firewalldOptions {
		if o == arg {
			return o
		}
		if strings.HasPrefix(o, arg) {
			if match != "" {
				return "" // ambiguous: argparse rejects it
			}
			match = o
		}
	}
	return match
}

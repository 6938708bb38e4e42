package firewalld

import (
	"context"
	"encoding/xml"
	"errors"
	"fmt"

	"github.com/godbus/dbus/v5"
	"github.com/godbus/dbus/v5/introspect"
)

const (
	busName   = "org.fedoraproject.FirewallD1"
	busPath   = "/org/fedoraproject/FirewallD1"
	ifaceMain = "org.fedoraproject.FirewallD1"
	ifaceZone = "org.fedoraproject.FirewallD1.zone"
)

// ownerPID is the pid of the process owning firewalld's bus name.
func ownerPID(ctx context.Context, conn *dbus.Conn) (int, error) {
	var pid uint32
	err := conn.BusObject().CallWithContext(ctx, "org.freedesktop.DBus.GetConnectionUnixProcessID", 0, busName).Store(&pid)
	if dbusErrorName(err) == "org.freedesktop.DBus.Error.NameHasNoOwner" {
		return 0, fmt.Errorf("%w: %s is not on the system bus", ErrNotRunning, busName)
	}
	if err != nil {
		return 0, fmt.Errorf("pid of %s: %w", busName, err)
	}
	return int(pid), nil
}

// dbusErrorName is the D-Bus error name of err ("" for other errors). Error
// replies arrive as dbus.Error values, local failures as *dbus.Error.
func dbusErrorName(err error) string {
	var e dbus.Error
	if errors.As(err, &e) {
		return e.Name
	}
	var pe *dbus.Error
	if errors.As(err, &pe) {
		return pe.Name
	}
	return ""
}

type client struct {
	ctx context.Context
	obj dbus.BusObject
	// legacy: the daemon predates the a{sv} settings methods (firewalld
	// < 0.9) and only has the fixed-tuple getZoneSettings/getServiceSettings.
	legacy bool
}

func newClient(ctx context.Context, conn *dbus.Conn) *client {
	return &client{ctx: ctx, obj: conn.Object(busName, busPath)}
}

// call invokes a firewalld method without D-Bus activation: asking must
// never start a firewalld.
func (c *client) call(method string, out any, args ...any) error {
	if err := c.obj.CallWithContext(c.ctx, method, dbus.FlagNoAutoStart, args...).Store(out); err != nil {
		return fmt.Errorf("firewalld %s: %w", method, err)
	}
	return nil
}

func (c *client) property(name string, out *string) error {
	var v dbus.Variant
	if err := c.call("org.freedesktop.DBus.Properties.Get", &v, ifaceMain, name); err != nil {
		return err
	}
	s, ok := v.Value().(string)
	if !ok {
		return fmt.Errorf("firewalld property %s: %s is not a string", name, v.Signature())
	}
	*out = s
	return nil
}

// detectLegacy looks for getZoneSettings2 in the zone interface.
func (c *client) detectLegacy() error {
	var data string
	if err := c.call("org.freedesktop.DBus.Introspectable.Introspect", &data); err != nil {
		return err
	}
	var node introspect.Node
	if err := xml.Unmarshal([]byte(data), &node); err != nil {
		return fmt.Errorf("firewalld introspection: %w", err)
	}
	c.legacy = true
	for _, iface := range node.Interfaces {
		for _, m := range iface.Methods {
			if iface.Name == ifaceZone && m.Name == "getZoneSettings2" {
				c.legacy = false
			}
		}
	}
	return nil
}

func (c *client) readRuntime(st *State) error {
	if err := c.property("version", &st.Version); err != nil {
		return err
	}
	if err := c.property("state", &st.DaemonState); err != nil {
		return err
	}
	if err := c.call(ifaceMain+".getDefaultZone", &st.DefaultZone); err != nil {
		return err
	}
	if err := c.detectLegacy(); err != nil {
		return err
	}
	var names []string
	if err := c.call(ifaceZone+".getZones", &names); err != nil {
		return err
	}
	st.Runtime = make(map[string]*Zone, len(names))
	for _, name := range names {
		z, err := c.zone(name)
		if err != nil {
			return err
		}
		st.Runtime[name] = z
	}
	var active map[string]map[string][]string
	if err := c.call(ifaceZone+".getActiveZones", &active); err != nil {
		return err
	}
	st.Active = make(map[string]*Zone, len(active))
	for name := range active {
		if z := st.Runtime[name]; z != nil {
			st.Active[name] = z
		}
	}
	var err error
	st.Services, err = usedServices(st.Runtime, c.service)
	return err
}

// Field order of the legacy settings tuples.
var (
	legacyZoneFields = []string{"version", "short", "description", "UNUSED", "target",
		"services", "ports", "icmp_blocks", "masquerade", "forward_ports", "interfaces",
		"sources", "rules_str", "protocols", "source_ports", "icmp_block_inversion"}
	legacyServiceFields = []string{"version", "short", "description", "ports", "modules",
		"destination", "protocols", "source_ports"}
)

// settings returns a zone's or service's settings keyed as in the a{sv}
// API, from the a{sv} method or, on a legacy daemon, from the tuple one.
// Older daemons send shorter tuples; missing fields stay absent.
func (c *client) settings(name, method2, legacyMethod string, fields []string) (map[string]any, error) {
	out := map[string]any{}
	if !c.legacy {
		var m map[string]dbus.Variant
		if err := c.call(method2, &m, name); err != nil {
			return nil, err
		}
		for k, v := range m {
			out[k] = v.Value()
		}
		return out, nil
	}
	var tuple []any
	if err := c.call(legacyMethod, &tuple, name); err != nil {
		return nil, err
	}
	for i, v := range tuple {
		if i < len(fields) {
			out[fields[i]] = v
		}
	}
	return out, nil
}

func (c *client) zone(name string) (*Zone, error) {
	m, err := c.settings(name, ifaceZone+".getZoneSettings2", ifaceMain+".getZoneSettings", legacyZoneFields)
	if err != nil {
		return nil, err
	}
	return &Zone{
		Name:               name,
		Target:             normalizeTarget(asString(m["target"])),
		Services:           asStrings(m["services"]),
		Ports:              asPorts(m["ports"]),
		Protocols:          asStrings(m["protocols"]),
		SourcePorts:        asPorts(m["source_ports"]),
		RichRules:          asStrings(m["rules_str"]),
		Masquerade:         asBool(m["masquerade"]),
		Forward:            asBool(m["forward"]),
		ForwardPorts:       asForwardPorts(m["forward_ports"]),
		ICMPBlocks:         asStrings(m["icmp_blocks"]),
		ICMPBlockInversion: asBool(m["icmp_block_inversion"]),
		Interfaces:         asStrings(m["interfaces"]),
		Sources:            asStrings(m["sources"]),
	}, nil
}

func (c *client) service(name string) (*Service, error) {
	m, err := c.settings(name, ifaceMain+".getServiceSettings2", ifaceMain+".getServiceSettings", legacyServiceFields)
	if err != nil {
		return nil, err
	}
	dest, _ := m["destination"].(map[string]string)
	if len(dest) == 0 {
		dest = nil
	}
	return &Service{
		Name:        name,
		Ports:       asPorts(m["ports"]),
		Protocols:   asStrings(m["protocols"]),
		SourcePorts: asPorts(m["source_ports"]),
		Destination: dest,
		Includes:    asStrings(m["includes"]),
	}, nil
}

// normalizeTarget maps the internal name of the default target (which the
// legacy API leaks) and "" to "default".
func normalizeTarget(t string) string {
	if t == "" || t == "{chain}_{zone}" {
		return "default"
	}
	return t
}

func asString(v any) string {
	s, _ := v.(string)
	return s
}

func asBool(v any) bool {
	b, _ := v.(bool)
	return b
}

func asStrings(v any) []string {
	s, _ := v.([]string)
	if len(s) == 0 {
		return nil
	}
	return s
}

// asTuples decodes an array of string structs (a(ss), a(ssss)); godbus
// gives each struct as []any.
func asTuples(v any, n int) [][]string {
	var out [][]string
	add := func(fields []any) {
		t := make([]string, n)
		for i := range min(n, len(fields)) {
			t[i] = asString(fields[i])
		}
		out = append(out, t)
	}
	switch v := v.(type) {
	case [][]any:
		for _, f := range v {
			add(f)
		}
	case []any:
		for _, f := range v {
			if f, ok := f.([]any); ok {
				add(f)
			}
		}
	}
	return out
}

func asPorts(v any) []Port {
	var out []Port
	for _, t := range asTuples(v, 2) {
		out = append(out, Port{Port: t[0], Protocol: t[1]})
	}
	return out
}

func asForwardPorts(v any) []ForwardPort {
	var out []ForwardPort
	for _, t := range asTuples(v, 4) {
		out = append(out, ForwardPort{Port: t[0], Protocol: t[1], ToPort: t[2], ToAddr: t[3]})
	}
	return out
}

// usedServices resolves the services the zones name, in service lists and
// rich rules, following includes. get returns nil for an unknown service.
func usedServices(zones map[string]*Zone, get func(string) (*Service, error)) (map[string]*Service, error) {
	var todo []string
	for _, z := range zones {
		todo = append(todo, z.Services...)
		for _, text := range z.RichRules {
			if r, err := parseRichRule(text); err == nil && r.element == "service" {
				todo = append(todo, r.attrs["name"])
			}
		}
	}
	out := map[string]*Service{}
	seen := map[string]bool{}
	for len(todo) > 0 {
		name := todo[len(todo)-1]
		todo = todo[:len(todo)-1]
		if seen[name] {
			continue
		}
		seen[name] = true
		s, err := get(name)
		if err != nil {
			return nil, err
		}
		if s != nil {
			out[name] = s
			todo = append(todo, s.Includes...)
		}
	}
	return out, nil
}

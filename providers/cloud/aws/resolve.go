package aws

import (
	"fmt"
	"slices"

	"github.com/portcheck/portcheck/providers/cloud"
)

// Resolve finds the interfaces of one target in a snapshot: every interface
// attached to an instance id (i-…), the interface of an ENI id (eni-…), or
// the interfaces that hold an IP address (private, IPv6 or public). They are
// returned in the snapshot's order.
func Resolve(s *cloud.Snapshot, target string) ([]cloud.Interface, error) {
	kind, addr, err := targetKind(target)
	if err != nil {
		return nil, err
	}
	if s == nil {
		return nil, fmt.Errorf("aws: no snapshot to resolve %s in", target)
	}
	var out []cloud.Interface
	for _, ifc := range s.Interfaces {
		var match bool
		switch kind {
		case "instance":
			match = ifc.Instance == target
		case "eni":
			match = ifc.ID == target
		default:
			match = slices.Contains(ifc.PrivateIPs, addr) || slices.Contains(ifc.PublicIPs, addr)
		}
		if match {
			out = append(out, ifc)
		}
	}
	if len(out) == 0 {
		what := map[string]string{"instance": "is attached to instance", "eni": "has id", "ip": "has address"}[kind]
		return nil, fmt.Errorf("aws: no network interface read in %s %s %s", s.Region, what, target)
	}
	return out, nil
}

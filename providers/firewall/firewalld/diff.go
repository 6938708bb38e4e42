package firewalld

import (
	"cmp"
	"maps"
	"slices"
)

// Diff lists what differs between runtime and permanent zones, ordered by
// zone, then kind (in Zone's field order), then item. A zone missing on
// one side is one "zone" drift. Interface bindings drift legitimately when
// NetworkManager assigns them (it never writes them to the zone files).
func Diff(runtime, permanent map[string]*Zone) []Drift {
	names := slices.Collect(maps.Keys(runtime))
	for name := range permanent {
		if runtime[name] == nil {
			names = append(names, name)
		}
	}
	slices.Sort(names)
	var out []Drift
	for _, name := range names {
		r, p := runtime[name], permanent[name]
		switch {
		case r == nil:
			out = append(out, Drift{Zone: name, Kind: "zone", Item: name, Permanent: true})
		case p == nil:
			out = append(out, Drift{Zone: name, Kind: "zone", Item: name, Runtime: true})
		default:
			out = append(out, diffZone(name, r, p)...)
		}
	}
	return out
}

type differ struct {
	zone string
	out  []Drift
}

func diffZone(name string, r, p *Zone) []Drift {
	d := &differ{zone: name}
	d.items("target", []string{r.Target}, []string{p.Target})
	d.items("service", r.Services, p.Services)
	d.ports("port", r.Ports, p.Ports)
	d.items("protocol", r.Protocols, p.Protocols)
	d.ports("source_port", r.SourcePorts, p.SourcePorts)
	d.items("rich_rule", r.RichRules, p.RichRules)
	d.flag("masquerade", r.Masquerade, p.Masquerade)
	d.flag("forward", r.Forward, p.Forward)
	d.items("forward_port", forwardStrings(r.ForwardPorts), forwardStrings(p.ForwardPorts))
	d.items("icmp_block", r.ICMPBlocks, p.ICMPBlocks)
	d.flag("icmp_block_inversion", r.ICMPBlockInversion, p.ICMPBlockInversion)
	d.items("interface", r.Interfaces, p.Interfaces)
	d.items("source", r.Sources, p.Sources)
	return d.out
}

func (d *differ) items(kind string, runtime, permanent []string) {
	all := slices.Concat(runtime, permanent)
	slices.Sort(all)
	for _, item := range slices.Compact(all) {
		inR, inP := slices.Contains(runtime, item), slices.Contains(permanent, item)
		if inR != inP {
			d.out = append(d.out, Drift{Zone: d.zone, Kind: kind, Item: item, Runtime: inR, Permanent: inP})
		}
	}
}

func (d *differ) flag(kind string, runtime, permanent bool) {
	if runtime != permanent {
		d.out = append(d.out, Drift{Zone: d.zone, Kind: kind, Item: kind, Runtime: runtime, Permanent: permanent})
	}
}

// ports compares by coverage, not text: firewalld merges overlapping
// ranges as they are added, so the same ports can be listed differently.
func (d *differ) ports(kind string, runtime, permanent []Port) {
	var drift []Drift
	for _, p := range runtime {
		if !portCovered(p, permanent) {
			drift = append(drift, Drift{Zone: d.zone, Kind: kind, Item: p.String(), Runtime: true})
		}
	}
	for _, p := range permanent {
		if !portCovered(p, runtime) {
			drift = append(drift, Drift{Zone: d.zone, Kind: kind, Item: p.String(), Permanent: true})
		}
	}
	slices.SortStableFunc(drift, func(a, b Drift) int { return cmp.Compare(a.Item, b.Item) })
	d.out = append(d.out, drift...)
}

// portCovered reports whether every port of p is in some range of set;
// ports given by name only match the same name.
func portCovered(p Port, set []Port) bool {
	lo, hi, ok := portRange(p.Port)
	if !ok {
		return slices.Contains(set, p)
	}
	for next := lo; next <= hi; {
		advanced := false
		for _, q := range set {
			qlo, qhi, ok := portRange(q.Port)
			if ok && q.Protocol == p.Protocol && qlo <= next && next <= qhi {
				next, advanced = qhi+1, true
			}
		}
		if !advanced {
			return false
		}
	}
	return true
}

func forwardStrings(fs []ForwardPort) []string {
	var out []string
	for _, f := range fs {
		out = append(out, f.String())
	}
	return out
}

package bench

import (
	"fmt"
	"math/rand/v2"
	"net/netip"
	"testing"

	"github.com/portcheck/portcheck/providers/cloud"
)

// cloudFleet generates, deterministically, a snapshot of n security groups
// of rulesPer rules each, one interface per group (even groups judged
// with AWS semantics, odd ones with Alibaba's), 20 subnets with network
// ACLs, prefix lists, group references; and for each group a declaration
// that differs slightly (one rule missing, one with other ports, one
// extra).
func cloudFleet(n, rulesPer int) (*cloud.Snapshot, []cloud.DeclaredGroup) {
	r := rand.New(rand.NewPCG(1, 2))
	s := &cloud.Snapshot{
		Provider: cloud.AWS, Account: "111111111111", Region: "eu-west-1",
		Groups:      make(map[string]*cloud.SecurityGroup, n),
		PrefixLists: map[string]*cloud.PrefixList{},
	}
	for p := range 10 {
		pl := &cloud.PrefixList{ID: fmt.Sprintf("pl-%d", p)}
		for range 8 {
			pl.CIDRs = append(pl.CIDRs, netip.PrefixFrom(netip.AddrFrom4([4]byte{byte(r.IntN(224)), byte(r.IntN(256)), 0, 0}), 16))
		}
		s.PrefixLists[pl.ID] = pl
	}
	const subnets = 20
	for a := range subnets {
		acl := &cloud.NetworkACL{Provider: cloud.AWS, ID: fmt.Sprintf("acl-%d", a), Subnets: []string{fmt.Sprintf("subnet-%d", a)}}
		for e := range 18 {
			acl.Entries = append(acl.Entries, cloud.ACLEntry{
				Number: 10 + e*10, Egress: e%2 == 1, Protocol: cloud.ProtoTCP,
				Ports:  cloud.PortRange{From: r.IntN(2000), To: 2000 + r.IntN(63535)},
				CIDR:   netip.PrefixFrom(netip.AddrFrom4([4]byte{byte(r.IntN(224)), 0, 0, 0}), 8),
				Policy: []string{cloud.Accept, cloud.Accept, cloud.Drop}[r.IntN(3)],
			})
		}
		acl.Entries = append(acl.Entries,
			cloud.ACLEntry{Number: 200, Protocol: cloud.ProtoAll, Ports: cloud.AllPorts, CIDR: netip.MustParsePrefix("0.0.0.0/0"), Policy: cloud.Accept},
			cloud.ACLEntry{Number: 200, Egress: true, Protocol: cloud.ProtoAll, Ports: cloud.AllPorts, CIDR: netip.MustParsePrefix("0.0.0.0/0"), Policy: cloud.Accept},
			cloud.ACLEntry{Number: 32767, Protocol: cloud.ProtoAll, Ports: cloud.AllPorts, CIDR: netip.MustParsePrefix("0.0.0.0/0"), Policy: cloud.Drop},
			cloud.ACLEntry{Number: 32767, Egress: true, Protocol: cloud.ProtoAll, Ports: cloud.AllPorts, CIDR: netip.MustParsePrefix("0.0.0.0/0"), Policy: cloud.Drop})
		s.ACLs = append(s.ACLs, acl)
	}
	protos := []string{cloud.ProtoTCP, cloud.ProtoTCP, cloud.ProtoTCP, cloud.ProtoUDP, cloud.ProtoICMP, cloud.ProtoAll}
	decls := make([]cloud.DeclaredGroup, n)
	for g := range n {
		gid := fmt.Sprintf("sg-%04d", g)
		provider := cloud.AWS
		if g%2 == 1 {
			provider = cloud.Aliyun
		}
		sg := &cloud.SecurityGroup{Provider: provider, Region: "eu-west-1", ID: gid, Attachments: []string{fmt.Sprintf("eni-%04d", g)}}
		if provider == cloud.Aliyun {
			sg.Type, sg.InnerAccessPolicy = "normal", "Accept"
		}
		for i := range rulesPer {
			rule := cloud.Rule{ID: fmt.Sprintf("sgr-%04d-%02d", g, i), Group: gid, Direction: cloud.Ingress, Policy: cloud.Accept}
			if i%10 == 9 {
				rule.Direction = cloud.Egress
			}
			rule.Protocol = protos[r.IntN(len(protos))]
			switch rule.Protocol {
			case cloud.ProtoTCP, cloud.ProtoUDP:
				from := 1 + r.IntN(65000)
				to := from
				if r.IntN(4) == 0 {
					to = min(65535, from+r.IntN(500))
				}
				rule.Ports = cloud.PortRange{From: from, To: to}
			case cloud.ProtoICMP:
				rule.Ports = cloud.PortRange{From: []int{-1, 0, 3, 8}[r.IntN(4)], To: -1}
			default:
				rule.Ports = cloud.PortRange{From: -1, To: -1}
			}
			switch k := r.IntN(10); {
			case k < 7:
				bits := 8 + r.IntN(25)
				a := netip.AddrFrom4([4]byte{byte(r.IntN(224)), byte(r.IntN(256)), byte(r.IntN(256)), byte(r.IntN(256))})
				rule.Peer.CIDR = netip.PrefixFrom(a, bits).Masked()
			case k < 8:
				rule.Peer.PrefixList = fmt.Sprintf("pl-%d", r.IntN(10))
			default:
				rule.Peer.Group = fmt.Sprintf("sg-%04d", r.IntN(n))
			}
			if provider == cloud.Aliyun {
				rule.Priority = 1 + r.IntN(100)
				if r.IntN(10) == 0 {
					rule.Policy = cloud.Drop
				}
			}
			sg.Rules = append(sg.Rules, rule)
		}
		if provider == cloud.AWS {
			sg.Rules = append(sg.Rules, cloud.Rule{ID: fmt.Sprintf("sgr-%04d-eg", g), Group: gid, Direction: cloud.Egress,
				Protocol: cloud.ProtoAll, Ports: cloud.PortRange{From: -1, To: -1}, Peer: cloud.Peer{CIDR: netip.MustParsePrefix("0.0.0.0/0")}, Policy: cloud.Accept})
		}
		s.Groups[gid] = sg
		s.Interfaces = append(s.Interfaces, cloud.Interface{
			ID:         fmt.Sprintf("eni-%04d", g),
			PrivateIPs: []netip.Addr{netip.AddrFrom4([4]byte{10, byte(g / 250), byte(g % 250), 10})},
			Groups:     []string{gid},
			Subnet:     fmt.Sprintf("subnet-%d", g%subnets),
		})

		// The declaration: the group's rules, minus one, one with other
		// ports, plus one; egress managed on every other group.
		d := cloud.DeclaredGroup{Provider: provider, ID: gid, ManageEgress: g%4 < 2}
		for i, rule := range sg.Rules {
			if i == 3 {
				continue
			}
			dr := cloud.DeclaredRule{Direction: rule.Direction, Protocol: rule.Protocol, Ports: rule.Ports,
				Policy: rule.Policy, Priority: rule.Priority}
			if i == 5 && (rule.Protocol == cloud.ProtoTCP || rule.Protocol == cloud.ProtoUDP) {
				dr.Ports.To++
			}
			switch {
			case rule.Peer.CIDR.IsValid():
				dr.CIDRs = []netip.Prefix{rule.Peer.CIDR}
			case rule.Peer.PrefixList != "":
				dr.PrefixLists = []string{rule.Peer.PrefixList}
			default:
				dr.Groups = []string{rule.Peer.Group}
			}
			d.Rules = append(d.Rules, dr)
		}
		d.Rules = append(d.Rules, cloud.DeclaredRule{Direction: cloud.Ingress, Protocol: cloud.ProtoTCP,
			Ports: cloud.PortRange{From: 443, To: 443}, CIDRs: []netip.Prefix{netip.MustParsePrefix("0.0.0.0/0"), netip.MustParsePrefix("::/0")}})
		decls[g] = d
	}
	s.Complete = true
	return s, decls
}

// Target: evaluating a few flows against each of 1,000 groups of 50 rules
// and diffing each against its declaration in well under a second.
func BenchmarkCloudEvaluateAndDiff1000Groups(b *testing.B) {
	s, decls := cloudFleet(1000, 50)
	r := rand.New(rand.NewPCG(3, 4))
	type probe struct {
		iface int
		f     cloud.Flow
	}
	var probes []probe
	for g := range 1000 {
		for k := range 4 {
			if k < 2 {
				// Aimed at one of the group's ingress CIDR rules: often
				// allowed, unless a network ACL or a drop rule intervenes.
				sg := s.Groups[s.Interfaces[g].Groups[0]]
				rule := sg.Rules[r.IntN(len(sg.Rules))]
				if rule.Direction == cloud.Ingress && rule.Peer.CIDR.IsValid() {
					f := cloud.Flow{Src: rule.Peer.CIDR.Addr(), Dst: s.Interfaces[g].PrivateIPs[0],
						Protocol: rule.Protocol, Port: rule.Ports.From, Ephemeral: cloud.EphemeralLinux}
					switch rule.Protocol {
					case cloud.ProtoAll:
						f.Protocol, f.Port = cloud.ProtoTCP, 443
					case cloud.ProtoICMP:
						f.Port = max(f.Port, 8)
					}
					probes = append(probes, probe{g, f})
					continue
				}
			}
			var src netip.Addr
			if r.IntN(3) == 0 {
				src = s.Interfaces[r.IntN(len(s.Interfaces))].PrivateIPs[0] // maybe a group member
			} else {
				src = netip.AddrFrom4([4]byte{byte(r.IntN(224)), byte(r.IntN(256)), byte(r.IntN(256)), byte(r.IntN(256))})
			}
			probes = append(probes, probe{g, cloud.Flow{Src: src, Dst: s.Interfaces[g].PrivateIPs[0],
				Protocol: []string{cloud.ProtoTCP, cloud.ProtoTCP, cloud.ProtoUDP, cloud.ProtoICMP}[r.IntN(4)],
				Port:     r.IntN(65536), Ephemeral: cloud.EphemeralIANA}})
		}
	}
	b.ReportAllocs()
	var allowed, indeterminate, drifts int
	for b.Loop() {
		allowed, indeterminate, drifts = 0, 0, 0
		for _, p := range probes {
			iface := &s.Interfaces[p.iface]
			var v cloud.Verdict
			if p.iface%2 == 0 {
				v = cloud.EvaluateAWS(s, iface, p.f)
			} else {
				v = cloud.EvaluateAliyun(s, iface, p.f)
			}
			if v.Allowed {
				allowed++
			}
			if v.Indeterminate != "" {
				indeterminate++
			}
		}
		for g := range decls {
			drifts += len(cloud.Diff(s.Groups[decls[g].ID], decls[g]))
		}
	}
	if drifts < 1000*2 {
		b.Fatalf("only %d drifts over 1000 slightly different declarations", drifts)
	}
	if indeterminate != 0 {
		b.Fatalf("%d indeterminate verdicts in a complete snapshot", indeterminate)
	}
	b.ReportMetric(float64(allowed), "allowed/op")
	b.ReportMetric(float64(drifts), "drifts/op")
}

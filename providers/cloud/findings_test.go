package cloud

import (
	"net/netip"
	"testing"

	"github.com/google/go-cmp/cmp"
)

func TestFindings(t *testing.T) {
	s := &Snapshot{
		Provider: AWS, Account: "111", Region: "us-east-1",
		Interfaces: []Interface{{ID: "eni-1", Groups: []string{"sg-web", "sg-listed"}}},
		Groups: map[string]*SecurityGroup{
			"sg-web": {Provider: AWS, Region: "us-east-1", ID: "sg-web", Attachments: []string{"eni-1"}, Rules: []Rule{
				cidrRule("r-https", "sg-web", Ingress, ProtoTCP, p1(443), "0.0.0.0/0"),                      // not sensitive
				cidrRule("r-ssh", "sg-web", Ingress, ProtoTCP, p1(22), "0.0.0.0/0"),                         // open
				cidrRule("r-rdp6", "sg-web", Ingress, ProtoTCP, PortRange{3000, 3400}, "::/0"),              // covers 3389
				cidrRule("r-ssh-corp", "sg-web", Ingress, ProtoTCP, p1(22), "10.0.0.0/8"),                   // not world
				plRule("r-pl", "sg-web", Ingress, ProtoTCP, p1(6379), "pl-any"),                             // prefix list with 0/0
				plRule("r-pl-corp", "sg-web", Ingress, ProtoTCP, p1(6379), "pl-corp"),                       // prefix list without
				cidrRule("r-out", "sg-web", Egress, ProtoTCP, p1(22), "0.0.0.0/0"),                          // egress: not a finding
				groupRule("r-gone", "sg-web", Ingress, ProtoTCP, p1(5432), "sg-deleted"),                    // deleted group
				cidrRule("r-icmp", "sg-web", Ingress, ProtoICMP, PortRange{-1, -1}, "0.0.0.0/0"),            // no ports
				prio(cidrRule("r-drop", "sg-web", Ingress, ProtoTCP, p1(3306), "0.0.0.0/0"), 1, Drop),       // drop: not open
				prio(cidrRule("r-all", "sg-web", Ingress, ProtoAll, PortRange{-1, -1}, "0.0.0.0/0"), 0, ""), // all
			}},
			"sg-orphan": {Provider: AWS, Region: "us-east-1", ID: "sg-orphan"},
			// Not in Attachments but an interface of the snapshot lists it.
			"sg-listed": {Provider: AWS, Region: "us-east-1", ID: "sg-listed"},
		},
		PrefixLists: map[string]*PrefixList{
			"pl-any":  {ID: "pl-any", CIDRs: []netip.Prefix{pfx("10.0.0.0/8"), pfx("0.0.0.0/0")}},
			"pl-corp": {ID: "pl-corp", CIDRs: []netip.Prefix{pfx("10.0.0.0/8")}},
		},
		MissingGroups: []string{"sg-deleted"},
	}
	base := Finding{Provider: AWS, Account: "111", Region: "us-east-1", Group: "sg-web"}
	f := func(kind, rule, proto string, ports PortRange, peer, detail string) Finding {
		x := base
		x.Kind, x.RuleID, x.Protocol, x.Ports, x.Peer, x.Detail = kind, rule, proto, ports, peer, detail
		return x
	}
	want := []Finding{
		{Kind: FindingUnattached, Provider: AWS, Account: "111", Region: "us-east-1", Group: "sg-orphan",
			Detail: "security group sg-orphan is not attached to any network interface"},
		f(FindingDeletedGroupReference, "r-gone", ProtoTCP, p1(5432), "sg-deleted",
			"ingress rule tcp 5432 from sg-deleted accept references security group sg-deleted, which no longer exists"),
		f(FindingOpenToWorld, "r-all", ProtoAll, PortRange{-1, -1}, "0.0.0.0/0",
			"all from 0.0.0.0/0 accept is open to 0.0.0.0/0 on sensitive port(s) 22, 3389, 6379"),
		f(FindingOpenToWorld, "r-pl", ProtoTCP, p1(6379), "pl-any",
			"tcp 6379 from pl-any accept is open to 0.0.0.0/0 (prefix list pl-any contains it) on sensitive port(s) 6379"),
		f(FindingOpenToWorld, "r-rdp6", ProtoTCP, PortRange{3000, 3400}, "::/0",
			"tcp 3000-3400 from ::/0 accept is open to ::/0 on sensitive port(s) 3389"),
		f(FindingOpenToWorld, "r-ssh", ProtoTCP, p1(22), "0.0.0.0/0",
			"tcp 22 from 0.0.0.0/0 accept is open to 0.0.0.0/0 on sensitive port(s) 22"),
	}
	got := Findings(s, []int{3389, 22, 6379, 22})
	if d := cmp.Diff(want, got); d != "" {
		t.Errorf("Findings (-want +got):\n%s", d)
	}

	// The default list includes the usual suspects.
	all := Findings(s, DefaultSensitivePorts)
	var open int
	for _, x := range all {
		if x.Kind == FindingOpenToWorld {
			open++
		}
	}
	if open != 4 {
		t.Errorf("open_to_world with the default ports: %d findings, want 4: %+v", open, all)
	}
	if Findings(nil, nil) != nil {
		t.Error("nil snapshot: want no findings")
	}
}

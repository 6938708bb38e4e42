package aliyun

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"net/netip"
	"net/url"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/portcheck/portcheck/internal/cloudfake"
	"github.com/portcheck/portcheck/providers/cloud"
)

// The fake region of testdata/ (see fake_test.go).
const (
	account  = "1234567890123456"
	vpcMain  = "vpc-bp1qpo0kug3a20qqe2qqa"
	vpcOther = "vpc-bp1otherpo0kug3a20qqe"
	vswWeb   = "vsw-bp1web7ewvb6kkhvl8nfd"
	vswDB    = "vsw-bp1db2yhnvq1cxwl4ubnw"
	vswOld   = "vsw-bp1old9xk2m4p6r8t0v2"
	vswOther = "vsw-bp1other3n5m7k9j1h3g5"

	sgWeb     = "sg-bp1web0k8mbaqyn3klbx"
	sgEnt     = "sg-bp1ent5o8lhwvtrl2swq"
	sgMgmt    = "sg-bp1mgmt3t8p6ef0q3kyo"
	sgDB      = "sg-bp1db9s7vr2q3r07dzmk"
	sgUnused  = "sg-bp1unused1xq0v7h2dsb"
	sgGone    = "sg-bp1gone4p3u1tpmqgbyk"
	sgPartner = "sg-bp1partner0s2n5ki8yh"
	plOffice  = "pl-bp1office8z3gjr1x2g9a"

	iWeb1 = "i-bp1web01a2b3c4d5e6f7"
	iWeb2 = "i-bp1web02a2b3c4d5e6f7"
	iDB1  = "i-bp1db01a2b3c4d5e6f78"
	iApp1 = "i-bp1app01a2b3c4d5e6f7"

	eniWeb1  = "eni-bp1web01prim0a1b2c3"
	eniWeb1S = "eni-bp1web01sec0a1b2c3d"
	eniWeb2  = "eni-bp1web02prim0a1b2c3"
	eniDB1   = "eni-bp1db01prim0a1b2c34"
	eniApp1  = "eni-bp1app01prim0a1b2c3"
	eniSpare = "eni-bp1spare0a1b2c3d4e5"
	eniECI   = "eni-bp1eci00a1b2c3d4e5f" // managed by a service (ServiceManaged)

	web1IPv6 = "2408:4005:3e0:6a01::10"
)

// testEnv isolates the credential chain: AccessKey from the environment,
// a fresh HOME (no CLI profile, no credentials file), no ECS metadata
// service, no proxies; retries back off for a millisecond.
func testEnv(t *testing.T) {
	t.Helper()
	cloudfake.IsolateAliyunEnv(t, testKeyID, testSecret, testHome(t))
	base, max := retryBaseDelay, retryMaxDelay
	retryBaseDelay, retryMaxDelay = time.Millisecond, 5*time.Millisecond
	t.Cleanup(func() { retryBaseDelay, retryMaxDelay = base, max })
}

func testHome(t *testing.T) string {
	h := filepath.Join(t.TempDir(), "home")
	if err := os.Mkdir(h, 0o700); err != nil {
		t.Fatal(err)
	}
	return h
}

type fakes struct{ ecs, vpc *fakeAPI }

func newFakes(t *testing.T) fakes {
	f := fakes{ecs: newFake(t, "ecs"), vpc: newFake(t, "vpc")}
	f.vpc.pageCap = 1
	return f
}

func (f fakes) config() Config {
	return Config{Region: testRegion, Endpoint: f.ecs.Endpoint(), VPCEndpoint: f.vpc.Endpoint(), Protocol: "http", MaxAttempts: 4}
}

// checkActions: every call was a RequiredActions action of its product.
func (f fakes) checkActions(t *testing.T) {
	t.Helper()
	for product, fa := range map[string]*fakeAPI{"ecs": f.ecs, "vpc": f.vpc} {
		for _, c := range fa.Calls() {
			if !slices.Contains(RequiredActions, product+":"+c.Action) {
				t.Errorf("called %s:%s, which RequiredActions does not list", product, c.Action)
			}
		}
	}
}

var cmpNet = cmp.Options{
	cmp.Comparer(func(a, b netip.Addr) bool { return a == b }),
	cmp.Comparer(func(a, b netip.Prefix) bool { return a == b }),
}

func ips(s ...string) []netip.Addr {
	out := []netip.Addr{}
	for _, x := range s {
		out = append(out, netip.MustParseAddr(x))
	}
	return out
}

func cidr(s string) cloud.Peer { return cloud.Peer{CIDR: netip.MustParsePrefix(s)} }

func rule(group, id, dir, proto string, ports cloud.PortRange, peer cloud.Peer, policy string, prio int, desc string) cloud.Rule {
	return cloud.Rule{ID: id, Group: group, Direction: dir, Protocol: proto, Ports: ports, Peer: peer, Policy: policy, Priority: prio, Description: desc}
}

func pr(a, b int) cloud.PortRange { return cloud.PortRange{From: a, To: b} }

const (
	in  = cloud.Ingress
	out = cloud.Egress
	acc = cloud.Accept
	drp = cloud.Drop
)

var anyICMP = pr(-1, -1)

func group(id, name, typ, inner string, attached []string, rules ...cloud.Rule) *cloud.SecurityGroup {
	if attached == nil {
		attached = []string{}
	}
	// Every group read has its members listed.
	return &cloud.SecurityGroup{Provider: cloud.Aliyun, Account: account, Region: testRegion, ID: id, Name: name,
		VPC: vpcMain, Type: typ, InnerAccessPolicy: inner, Rules: rules, Attachments: attached, MembersListed: true}
}

func wantGroups() map[string]*cloud.SecurityGroup {
	w := func(id, dir, proto string, ports cloud.PortRange, peer cloud.Peer, policy string, prio int, desc string) cloud.Rule {
		return rule(sgWeb, id, dir, proto, ports, peer, policy, prio, desc)
	}
	m := func(id, dir, proto string, ports cloud.PortRange, peer cloud.Peer, policy string, prio int, desc string) cloud.Rule {
		return rule(sgMgmt, id, dir, proto, ports, peer, policy, prio, desc)
	}
	d := func(id, dir, proto string, ports cloud.PortRange, peer cloud.Peer, policy string, prio int, desc string) cloud.Rule {
		return rule(sgDB, id, dir, proto, ports, peer, policy, prio, desc)
	}
	return map[string]*cloud.SecurityGroup{
		sgWeb: group(sgWeb, "web", "normal", "Accept", []string{eniWeb1, eniWeb2},
			w("sgr-bp1web0000000000001", in, cloud.ProtoTCP, pr(443, 443), cidr("0.0.0.0/0"), acc, 1, "https from anywhere"),
			w("sgr-bp1web0000000000002", in, cloud.ProtoTCP, pr(80, 80), cidr("::/0"), acc, 1, "http over IPv6"),
			w("sgr-bp1web0000000000003", in, cloud.ProtoTCP, pr(22, 22), cloud.Peer{PrefixList: plOffice}, acc, 1, "ssh from the office"),
			w("sgr-bp1web0000000000004", in, cloud.ProtoAll, cloud.AllPorts, cloud.Peer{Group: sgMgmt}, acc, 10, "management hosts"),
			w("sgr-bp1web0000000000005", in, cloud.ProtoTCP, pr(8080, 8080), cloud.Peer{Group: sgGone}, acc, 1, "old batch group"),
			w("sgr-bp1web0000000000006", in, cloud.ProtoTCP, pr(9000, 9000), cloud.Peer{Group: sgPartner, GroupOwner: "1649796836582446"}, acc, 1, "partner monitoring"),
			w("sgr-bp1web0000000000007", in, cloud.ProtoICMP, anyICMP, cidr("10.0.0.0/8"), acc, 1, ""),
			w("sgr-bp1web0000000000008", in, cloud.ProtoTCP, pr(1, 65535), cidr("0.0.0.0/0"), drp, 100, "deny the rest"),
			// Quintuple rules: to one destination, from some client ports.
			quintuple(w("sgr-bp1web0000000000011", in, cloud.ProtoTCP, pr(7000, 7000), cidr("0.0.0.0/0"), drp, 1, "no 7000 to web-2 (quintuple)"),
				"172.16.1.20/32", cloud.PortRange{}),
			quintuple(w("sgr-bp1web0000000000012", in, cloud.ProtoTCP, pr(7001, 7001), cidr("0.0.0.0/0"), drp, 1, "no privileged client ports (quintuple)"),
				"", pr(1, 1023)),
			w("sgr-bp1web0000000000013", in, cloud.ProtoTCP, pr(7000, 7001), cidr("0.0.0.0/0"), acc, 2, "admin ports"),
			w("sgr-bp1web0000000000009", out, cloud.ProtoAll, cloud.AllPorts, cidr("0.0.0.0/0"), acc, 1, ""),
			w("sgr-bp1web0000000000010", out, cloud.ProtoICMPv6, anyICMP, cidr("::/0"), acc, 1, ""),
		),
		// The fixture spells InnerAccessPolicy "accept" and gives the
		// priorities as JSON numbers, as older answers do.
		sgMgmt: group(sgMgmt, "mgmt", "normal", "Accept", []string{eniECI, eniSpare, eniWeb1, eniWeb1S},
			m("sgr-bp1mgmt000000000001", in, cloud.ProtoTCP, pr(22, 22), cidr("119.110.100.86/32"), acc, 1, "bastion"),
			m("sgr-bp1mgmt000000000002", in, cloud.ProtoUDP, pr(161, 161), cidr("172.16.0.0/12"), acc, 5, ""),
			m("sgr-bp1mgmt000000000003", out, cloud.ProtoAll, cloud.AllPorts, cidr("0.0.0.0/0"), acc, 1, ""),
		),
		sgDB: group(sgDB, "db", "normal", "Drop", []string{eniDB1},
			d("sgr-bp1db00000000000001", in, cloud.ProtoTCP, pr(3306, 3306), cloud.Peer{Group: sgWeb}, acc, 1, "mysql from web"),
			d("sgr-bp1db00000000000002", in, cloud.ProtoAll, cloud.AllPorts, cidr("0.0.0.0/0"), drp, 100, ""),
			d("sgr-bp1db00000000000003", out, cloud.ProtoTCP, pr(443, 443), cloud.Peer{PrefixList: plOffice}, acc, 1, ""),
		),
	}
}

func quintuple(r cloud.Rule, local string, sourcePorts cloud.PortRange) cloud.Rule {
	if local != "" {
		r.Local = netip.MustParsePrefix(local)
	}
	r.SourcePorts = sourcePorts
	return r
}

func wantEnterprise(attached []string) *cloud.SecurityGroup {
	e := func(id, dir, proto string, ports cloud.PortRange, peer cloud.Peer, policy string, prio int, desc string) cloud.Rule {
		return rule(sgEnt, id, dir, proto, ports, peer, policy, prio, desc)
	}
	// sgr-…001 uses port list prl-bp1webports7c0yq5q: one rule per entry.
	return group(sgEnt, "app-enterprise", "enterprise", "Drop", attached,
		e("sgr-bp1ent00000000000001", in, cloud.ProtoTCP, pr(80, 80), cidr("0.0.0.0/0"), acc, 1, "web ports (port list)"),
		e("sgr-bp1ent00000000000001", in, cloud.ProtoTCP, pr(443, 443), cidr("0.0.0.0/0"), acc, 1, "web ports (port list)"),
		e("sgr-bp1ent00000000000001", in, cloud.ProtoTCP, pr(8000, 8100), cidr("0.0.0.0/0"), acc, 1, "web ports (port list)"),
		e("sgr-bp1ent00000000000002", in, cloud.ProtoTCP, pr(3389, 3389), cidr("0.0.0.0/0"), drp, 1, ""),
		e("sgr-bp1ent00000000000003", out, "47", cloud.AllPorts, cidr("10.0.0.0/8"), acc, 1, ""),
		e("sgr-bp1ent00000000000004", out, cloud.ProtoAll, cloud.AllPorts, cidr("0.0.0.0/0"), acc, 100, ""),
	)
}

func wantUnused() *cloud.SecurityGroup {
	return group(sgUnused, "unused", "normal", "Accept", nil,
		rule(sgUnused, "sgr-bp1unused000000000001", in, cloud.ProtoTCP, pr(22, 22), cidr("0.0.0.0/0"), acc, 1, ""))
}

func iface(id, inst, subnet string, private []netip.Addr, public []netip.Addr, groups ...string) cloud.Interface {
	return cloud.Interface{ID: id, Instance: inst, PrivateIPs: private, PublicIPs: public, Groups: groups, Subnet: subnet, VPC: vpcMain}
}

var (
	ifDB1   = iface(eniDB1, iDB1, vswDB, ips("172.16.2.10"), nil, sgDB)
	ifSpare = iface(eniSpare, "", vswWeb, ips("172.16.1.40"), nil, sgMgmt)
	ifECI   = iface(eniECI, "", vswDB, ips("172.16.2.41"), nil, sgMgmt)
	ifWeb1  = iface(eniWeb1, iWeb1, vswWeb, ips("172.16.1.10", web1IPv6), ips("47.96.10.10"), sgWeb, sgMgmt)
	// Its primary address (172.16.1.11) comes first although the answer
	// lists the secondary one first.
	ifWeb1S = iface(eniWeb1S, iWeb1, vswWeb, ips("172.16.1.11", "172.16.1.12"), ips("39.100.20.20"), sgMgmt)
	ifWeb2  = iface(eniWeb2, iWeb2, vswWeb, ips("172.16.1.20"), nil, sgWeb)
	ifApp1  = iface(eniApp1, iApp1, vswWeb, ips("172.16.1.30"), nil, sgEnt)
)

func entry(n int, id string, egress bool, proto string, ports cloud.PortRange, c, policy string) cloud.ACLEntry {
	return cloud.ACLEntry{Number: n, ID: id, Egress: egress, Protocol: proto, Ports: ports, CIDR: netip.MustParsePrefix(c), Policy: policy}
}

// system is an entry of EntryType system.
func system(e cloud.ACLEntry) cloud.ACLEntry { e.System = true; return e }

func nacl(id, vpc string, subnets []string, entries ...cloud.ACLEntry) *cloud.NetworkACL {
	return &cloud.NetworkACL{Provider: cloud.Aliyun, Account: account, Region: testRegion, ID: id, VPC: vpc, Subnets: subnets, Entries: entries}
}

var (
	aclDB = nacl("nacl-bp1db3vfsb6tmd5xzze", vpcMain, []string{vswDB},
		entry(1, "nae-bp1db0000000000001", false, cloud.ProtoTCP, pr(3306, 3306), "172.16.1.0/24", acc),
		entry(2, "nae-bp1db0000000000002", false, "47", cloud.AllPorts, "172.16.0.0/12", acc),
		system(entry(3, "nae-bp1dbsys0000000001", false, cloud.ProtoAll, cloud.AllPorts, "0.0.0.0/0", drp)),
		entry(1, "nae-bp1db0000000000003", true, cloud.ProtoAll, cloud.AllPorts, "0.0.0.0/0", acc),
		system(entry(2, "nae-bp1dbsys0000000002", true, cloud.ProtoAll, cloud.AllPorts, "0.0.0.0/0", drp)),
	)
	aclOther = nacl("nacl-bp1other8rj9ohpm3w7", vpcOther, []string{},
		entry(1, "nae-bp1oth0000000000001", false, cloud.ProtoAll, cloud.AllPorts, "0.0.0.0/0", acc),
		entry(1, "nae-bp1oth0000000000002", true, cloud.ProtoAll, cloud.AllPorts, "0.0.0.0/0", acc),
	)
	// vsw-bp1old… is UNBINDING: not a subnet of the ACL.
	aclWeb = nacl("nacl-bp1web5kfk6sq0yx3ra", vpcMain, []string{vswWeb},
		entry(1, "nae-bp1web0000000000001", false, cloud.ProtoTCP, pr(22, 22), "203.0.113.0/24", acc),
		entry(2, "nae-bp1web0000000000002", false, cloud.ProtoTCP, pr(22, 22), "0.0.0.0/0", drp),
		entry(3, "nae-bp1web0000000000007", false, cloud.ProtoUDP, cloud.AllPorts, "172.16.0.0/16", drp),
		entry(4, "nae-bp1web0000000000003", false, cloud.ProtoAll, cloud.AllPorts, "0.0.0.0/0", acc),
		entry(5, "nae-bp1web0000000000004", false, cloud.ProtoICMP, cloud.AllPorts, "::/0", acc),
		system(entry(6, "nae-bp1websys00000001", false, cloud.ProtoAll, cloud.AllPorts, "0.0.0.0/0", drp)),
		entry(1, "nae-bp1web0000000000005", true, cloud.ProtoAll, cloud.AllPorts, "0.0.0.0/0", acc),
		entry(2, "nae-bp1web0000000000006", true, cloud.ProtoUDP, pr(1024, 65535), "10.0.0.0/8", acc),
		system(entry(3, "nae-bp1websys00000002", true, cloud.ProtoAll, cloud.AllPorts, "0.0.0.0/0", drp)),
	)
)

func wantPrefixLists() map[string]*cloud.PrefixList {
	return map[string]*cloud.PrefixList{plOffice: {ID: plOffice, Name: "office",
		CIDRs: []netip.Prefix{netip.MustParsePrefix("203.0.113.0/24"), netip.MustParsePrefix("198.51.100.0/24")}}}
}

func vswitch(id, vpc string, cidrs ...string) cloud.Subnet {
	sn := cloud.Subnet{ID: id, VPC: vpc, CIDRs: []netip.Prefix{}}
	for _, c := range cidrs {
		sn.CIDRs = append(sn.CIDRs, netip.MustParsePrefix(c))
	}
	return sn
}

var (
	subnetDB    = vswitch(vswDB, vpcMain, "172.16.2.0/24")
	subnetOld   = vswitch(vswOld, vpcMain, "172.16.3.0/24")
	subnetWeb   = vswitch(vswWeb, vpcMain, "172.16.1.0/24", "2408:4005:3e0:6a01::/64")
	subnetOther = vswitch(vswOther, vpcOther, "192.168.0.0/24")
)

// wantTargets is the snapshot of Scope{Targets: web-1, db-1's address}.
func wantTargets() *cloud.Snapshot {
	return &cloud.Snapshot{
		Provider:      cloud.Aliyun,
		Account:       account,
		Region:        testRegion,
		Interfaces:    []cloud.Interface{ifDB1, ifECI, ifSpare, ifWeb1, ifWeb1S, ifWeb2},
		Groups:        wantGroups(),
		ACLs:          []*cloud.NetworkACL{aclDB, aclWeb},
		Subnets:       []cloud.Subnet{subnetDB, subnetOld, subnetWeb},
		PrefixLists:   wantPrefixLists(),
		MissingGroups: []string{sgGone},
		Complete:      false,
	}
}

func TestReadTargets(t *testing.T) {
	testEnv(t)
	f := newFakes(t)
	s, err := Read(context.Background(), f.config(), Scope{Targets: []string{iWeb1, "172.16.2.10"}})
	if err != nil {
		t.Fatal(err)
	}
	if d := cmp.Diff(wantTargets(), s, cmpNet); d != "" {
		t.Errorf("snapshot (-want +got):\n%s", d)
	}
	f.checkActions(t)

	// Pagination was followed: sg-web's 13 rules in pages of 2, the two
	// network ACLs and three vSwitches of the VPC in pages of 1, sg-mgmt's
	// three secondary ENIs in pages of 2.
	webPages := f.ecs.Count("DescribeSecurityGroupAttribute", func(q url.Values) bool { return q.Get("SecurityGroupId") == sgWeb })
	if webPages != 7 {
		t.Errorf("DescribeSecurityGroupAttribute(sg-web) called %d times, want 7 pages", webPages)
	}
	if n := f.vpc.Count("DescribeVSwitches", func(q url.Values) bool { return q.Get("VpcId") == vpcMain }); n != 3 {
		t.Errorf("DescribeVSwitches called %d times, want 3 pages", n)
	}
	if n := f.ecs.Count("DescribeNetworkInterfaces", func(q url.Values) bool { return q.Get("SecurityGroupId") == sgMgmt }); n != 2 {
		t.Errorf("DescribeNetworkInterfaces(SecurityGroupId=%s) called %d times, want 2 pages", sgMgmt, n)
	}
	if n := f.vpc.Count("DescribeNetworkAcls", nil); n != 2 {
		t.Errorf("DescribeNetworkAcls called %d times, want 2 pages", n)
	}
	// The deleted group was asked for (and answered 404), the other
	// account's group was not.
	if n := f.ecs.Count("DescribeSecurityGroupAttribute", func(q url.Values) bool { return q.Get("SecurityGroupId") == sgGone }); n != 1 {
		t.Errorf("DescribeSecurityGroupAttribute(%s) called %d times, want 1", sgGone, n)
	}
	if n := f.ecs.Count("DescribeSecurityGroupAttribute", func(q url.Values) bool { return q.Get("SecurityGroupId") == sgPartner }); n != 0 {
		t.Errorf("another account's group %s was described", sgPartner)
	}
	// The JSON form round-trips (Snapshot is plain data).
	b, err := json.Marshal(s)
	if err != nil {
		t.Fatal(err)
	}
	var back cloud.Snapshot
	if err := json.Unmarshal(b, &back); err != nil {
		t.Fatal(err)
	}
	if d := cmp.Diff(s, &back, cmpNet); d != "" {
		t.Errorf("JSON round trip (-read +decoded):\n%s", d)
	}
}

func TestReadAll(t *testing.T) {
	testEnv(t)
	f := newFakes(t)
	s, err := Read(context.Background(), f.config(), Scope{All: true})
	if err != nil {
		t.Fatal(err)
	}
	want := wantTargets()
	want.Complete = true
	want.Interfaces = []cloud.Interface{ifApp1, ifDB1, ifECI, ifSpare, ifWeb1, ifWeb1S, ifWeb2}
	want.Groups[sgEnt] = wantEnterprise([]string{eniApp1})
	want.Groups[sgUnused] = wantUnused() // attached to nothing
	want.ACLs = []*cloud.NetworkACL{aclDB, aclOther, aclWeb}
	want.Subnets = []cloud.Subnet{subnetDB, subnetOld, subnetOther, subnetWeb}
	if d := cmp.Diff(want, s, cmpNet); d != "" {
		t.Errorf("snapshot (-want +got):\n%s", d)
	}
	f.checkActions(t)
	for _, c := range f.ecs.Calls() {
		if c.Action == "DescribeNetworkInterfaces" && c.Query.Has("SecurityGroupId") {
			t.Errorf("All scope listed members by group: %v", c.Query)
		}
	}
	if n := f.ecs.Count("DescribeNetworkInterfaces", nil); n != 4 {
		t.Errorf("DescribeNetworkInterfaces called %d times, want 4 pages of 2", n)
	}
}

func TestReadENIAndAddressTargets(t *testing.T) {
	testEnv(t)
	f := newFakes(t)
	s, err := Read(context.Background(), f.config(), Scope{
		Targets: []string{eniApp1, "172.16.1.12", web1IPv6},
		Groups:  []string{sgUnused},
	})
	if err != nil {
		t.Fatal(err)
	}
	got := map[string]cloud.Interface{}
	for _, in := range s.Interfaces {
		got[in.ID] = in
	}
	for _, want := range []cloud.Interface{ifApp1, ifWeb1S, ifWeb1} {
		if d := cmp.Diff(want, got[want.ID], cmpNet); d != "" {
			t.Errorf("interface %s (-want +got):\n%s", want.ID, d)
		}
	}
	if d := cmp.Diff(wantEnterprise([]string{eniApp1}), s.Groups[sgEnt], cmpNet); d != "" {
		t.Errorf("enterprise group (-want +got):\n%s", d)
	}
	if d := cmp.Diff(wantUnused(), s.Groups[sgUnused], cmpNet); d != "" {
		t.Errorf("explicit group (-want +got):\n%s", d)
	}
	if d := cmp.Diff([]string{sgGone}, s.MissingGroups); d != "" {
		t.Errorf("MissingGroups (-want +got):\n%s", d)
	}
	if d := cmp.Diff([]*cloud.NetworkACL{aclDB, aclWeb}, s.ACLs, cmpNet); d != "" {
		t.Errorf("ACLs (-want +got):\n%s", d)
	}
	// 172.16.1.12 is a secondary address: PrimaryIpAddress finds nothing,
	// PrivateIpAddress.1 finds the ENI.
	if n := f.ecs.Count("DescribeNetworkInterfaces", func(q url.Values) bool { return q.Get("PrivateIpAddress.1") == "172.16.1.12" }); n != 1 {
		t.Errorf("secondary address lookup: %d calls, want 1", n)
	}
	f.checkActions(t)
}

func TestResolve(t *testing.T) {
	s := wantTargets()
	for _, tc := range []struct {
		target string
		want   []cloud.Interface
	}{
		{iWeb1, []cloud.Interface{ifWeb1, ifWeb1S}},
		{eniDB1, []cloud.Interface{ifDB1}},
		{"172.16.1.12", []cloud.Interface{ifWeb1S}},
		{web1IPv6, []cloud.Interface{ifWeb1}},
		{"47.96.10.10", []cloud.Interface{ifWeb1}}, // public: when no private address matches
		{" 172.16.2.10 ", []cloud.Interface{ifDB1}},
	} {
		got, err := Resolve(s, tc.target)
		if err != nil {
			t.Errorf("Resolve(%q): %v", tc.target, err)
			continue
		}
		if d := cmp.Diff(tc.want, got, cmpNet); d != "" {
			t.Errorf("Resolve(%q) (-want +got):\n%s", tc.target, d)
		}
	}
	for _, bad := range []string{iApp1, "eni-nope", "10.9.9.9", "web-1", ""} {
		if got, err := Resolve(s, bad); err == nil {
			t.Errorf("Resolve(%q) = %v, want an error", bad, got)
		}
	}
}

func TestThrottlingIsRetried(t *testing.T) {
	testEnv(t)
	f := newFakes(t)
	// The first call of each API is throttled: ECS with HTTP 400
	// Throttling, VPC with HTTP 503 ServiceUnavailable.
	f.ecs.SetHook(func(c fakeCall, n int) (int, string, bool) {
		if c.Action == "DescribeSecurityGroupAttribute" && c.Query.Get("SecurityGroupId") == sgWeb && !c.Query.Has("NextToken") &&
			f.ecs.Count("DescribeSecurityGroupAttribute", func(q url.Values) bool { return q.Get("SecurityGroupId") == sgWeb }) == 1 {
			return http.StatusBadRequest, "errors/Throttling.json", true
		}
		return 0, "", false
	})
	f.vpc.SetHook(func(c fakeCall, n int) (int, string, bool) {
		if n == 1 {
			return http.StatusServiceUnavailable, "errors/ServiceUnavailable.json", true
		}
		return 0, "", false
	})
	s, err := Read(context.Background(), f.config(), Scope{Targets: []string{iWeb1, "172.16.2.10"}})
	if err != nil {
		t.Fatal(err)
	}
	if d := cmp.Diff(wantTargets(), s, cmpNet); d != "" {
		t.Errorf("snapshot (-want +got):\n%s", d)
	}
	first := func(q url.Values) bool { return q.Get("SecurityGroupId") == sgWeb && !q.Has("NextToken") }
	if n := f.ecs.Count("DescribeSecurityGroupAttribute", first); n != 2 {
		t.Errorf("first page of sg-web asked %d times, want 2 (throttled, then retried)", n)
	}
	if n := f.vpc.Count("DescribeNetworkAcls", func(q url.Values) bool { return q.Get("PageNumber") == "1" }); n != 2 {
		t.Errorf("first page of DescribeNetworkAcls asked %d times, want 2", n)
	}
}

func TestThrottlingGivesUp(t *testing.T) {
	for _, attempts := range []int{1, 3} {
		testEnv(t)
		f := newFakes(t)
		f.ecs.SetHook(func(c fakeCall, n int) (int, string, bool) {
			return http.StatusBadRequest, "errors/Throttling.json", true
		})
		cfg := f.config()
		cfg.MaxAttempts = attempts
		_, err := Read(context.Background(), cfg, Scope{Targets: []string{iWeb1}})
		var ae *APIError
		if !errors.As(err, &ae) || ae.Code != "Throttling" || ae.StatusCode != 400 || ae.Action != "ecs:DescribeInstances" {
			t.Fatalf("MaxAttempts %d: error %v, want a Throttling APIError of ecs:DescribeInstances", attempts, err)
		}
		if n := len(f.ecs.Calls()); n != attempts || ae.Attempts != attempts {
			t.Errorf("MaxAttempts %d: %d calls, %d attempts reported", attempts, n, ae.Attempts)
		}
		if !strings.Contains(err.Error(), "Request was denied due to request throttling.") || !strings.Contains(err.Error(), "7D6C5B4A-3E2F-4A1B-9C8D-0E1F2A3B0002") {
			t.Errorf("error %q lacks the message or the request id", err)
		}
	}
}

func TestPermissionDenied(t *testing.T) {
	testEnv(t)
	f := newFakes(t)
	f.ecs.SetHook(func(c fakeCall, n int) (int, string, bool) {
		if c.Action == "DescribeSecurityGroupAttribute" {
			return http.StatusForbidden, "errors/Forbidden.RAM.json", true
		}
		return 0, "", false
	})
	_, err := Read(context.Background(), f.config(), Scope{Targets: []string{iWeb1}})
	var pe *PermissionError
	if !errors.As(err, &pe) {
		t.Fatalf("error %v (%T), want a *PermissionError", err, err)
	}
	if pe.Action != "ecs:DescribeSecurityGroupAttribute" || pe.API.Code != "Forbidden.RAM" {
		t.Errorf("PermissionError %+v", pe)
	}
	if !strings.Contains(err.Error(), "ecs:DescribeSecurityGroupAttribute") {
		t.Errorf("error %q does not name the RAM action", err)
	}
	if strings.Contains(err.Error(), testSecret) {
		t.Errorf("error %q prints the secret", err)
	}
	if n := f.ecs.Count("DescribeSecurityGroupAttribute", nil); n != 1 {
		t.Errorf("a denied call was retried: %d calls", n)
	}

	// Without AccessDeniedDetail (VPC, NoPermission): the called action.
	f = newFakes(t)
	f.vpc.SetHook(func(c fakeCall, n int) (int, string, bool) {
		return http.StatusForbidden, "errors/NoPermission.json", true
	})
	_, err = Read(context.Background(), f.config(), Scope{Targets: []string{iWeb1}})
	if !errors.As(err, &pe) || pe.Action != "vpc:DescribeNetworkAcls" || !strings.Contains(err.Error(), "vpc:DescribeNetworkAcls") {
		t.Errorf("error %v, want a PermissionError naming vpc:DescribeNetworkAcls", err)
	}
}

func TestMissingGroupAndTargetErrors(t *testing.T) {
	testEnv(t)
	f := newFakes(t)
	// An explicitly requested group that does not exist is an error
	// (a referenced one is a MissingGroups finding, see TestReadTargets).
	if _, err := Read(context.Background(), f.config(), Scope{Groups: []string{sgGone}}); err == nil || !strings.Contains(err.Error(), sgGone) {
		t.Errorf("missing explicit group: error %v", err)
	}
	for _, target := range []string{"i-bp1nosuchinstance000", "eni-bp1nosuchinterface0", "172.16.9.9"} {
		if _, err := Read(context.Background(), f.config(), Scope{Targets: []string{target}}); err == nil || !strings.Contains(err.Error(), target) {
			t.Errorf("target %s: error %v, want not found", target, err)
		}
	}
	for _, scope := range []Scope{{}, {Targets: []string{"web-1"}}, {Groups: []string{"web"}}} {
		if _, err := Read(context.Background(), f.config(), scope); err == nil {
			t.Errorf("scope %+v: no error", scope)
		}
	}
	if _, err := Read(context.Background(), Config{}, Scope{All: true}); err == nil {
		t.Error("no region: no error")
	}
	f.checkActions(t)
}

func TestMissingCredentials(t *testing.T) {
	testEnv(t)
	t.Setenv("ALIBABA_CLOUD_ACCESS_KEY_ID", "")
	t.Setenv("ALIBABA_CLOUD_ACCESS_KEY_SECRET", "")
	f := newFakes(t)
	start := time.Now()
	_, err := Read(context.Background(), f.config(), Scope{All: true})
	if err == nil {
		t.Fatal("no error without credentials")
	}
	if time.Since(start) > 5*time.Second {
		t.Errorf("took %v: the chain must not wait for the metadata service", time.Since(start))
	}
	for _, want := range []string{"no Alibaba Cloud credentials", "ALIBABA_CLOUD_ACCESS_KEY_ID", "config.json does not exist", "ECS RAM role: disabled"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error %q lacks %q", err, want)
		}
	}
	if n := len(f.ecs.Calls()) + len(f.vpc.Calls()); n != 0 {
		t.Errorf("%d API calls without credentials", n)
	}
}

func writeCLIConfig(t *testing.T, content string) {
	t.Helper()
	dir := filepath.Join(os.Getenv("HOME"), ".aliyun")
	if err := os.MkdirAll(dir, 0o700); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "config.json"), []byte(content), 0o600); err != nil {
		t.Fatal(err)
	}
}

func TestCredentialsFromCLIProfile(t *testing.T) {
	testEnv(t)
	t.Setenv("ALIBABA_CLOUD_ACCESS_KEY_ID", "")
	t.Setenv("ALIBABA_CLOUD_ACCESS_KEY_SECRET", "")
	const id, secret = "LTAI5tPROFILEKEY00000002", "pRoFiLe-SeCrEt-0123456789abcdef"
	writeCLIConfig(t, `{"current": "audit", "profiles": [
		{"name": "default", "mode": "AK", "access_key_id": "LTAIwrong", "access_key_secret": "wrong", "region_id": "cn-beijing"},
		{"name": "audit", "mode": "AK", "access_key_id": "`+id+`", "access_key_secret": "`+secret+`", "region_id": "cn-hangzhou"}]}`)
	f := newFakes(t)
	for _, fa := range []*fakeAPI{f.ecs, f.vpc} {
		fa.KeyID, fa.Secret = id, secret
	}
	if _, err := Read(context.Background(), f.config(), Scope{Targets: []string{eniDB1}}); err != nil {
		t.Fatal(err)
	}
}

func TestMalformedCLIConfigIsNotPrinted(t *testing.T) {
	testEnv(t)
	t.Setenv("ALIBABA_CLOUD_ACCESS_KEY_ID", "")
	t.Setenv("ALIBABA_CLOUD_ACCESS_KEY_SECRET", "")
	const secret = "SUPERSECRET-in-a-broken-file"
	writeCLIConfig(t, `{"current": "default", "profiles": [{"name": "default", "mode": "AK", "access_key_id": "LTAI5tX", "access_key_secret": "`+secret+`"`)
	f := newFakes(t)
	_, err := Read(context.Background(), f.config(), Scope{All: true})
	if err == nil {
		t.Fatal("no error")
	}
	if strings.Contains(err.Error(), secret) || strings.Contains(err.Error(), "LTAI5tX") {
		t.Errorf("error quotes the configuration file: %q", err)
	}
	if !strings.Contains(err.Error(), "not valid JSON") {
		t.Errorf("error %q does not say the file is malformed", err)
	}
}

func TestContextCancel(t *testing.T) {
	testEnv(t)
	f := newFakes(t)
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, err := Read(ctx, f.config(), Scope{All: true}); !errors.Is(err, context.Canceled) {
		t.Errorf("cancelled context: error %v", err)
	}

	// The VPC SDK has no context: a hung DescribeNetworkAcls is abandoned
	// when the context ends.
	release := make(chan struct{})
	f = newFakes(t)
	t.Cleanup(func() { close(release) }) // before the servers close (cleanups run last-in first-out)
	f.vpc.SetHook(func(c fakeCall, n int) (int, string, bool) {
		<-release
		return http.StatusServiceUnavailable, "errors/ServiceUnavailable.json", true
	})
	ctx, cancel = context.WithTimeout(context.Background(), 300*time.Millisecond)
	defer cancel()
	start := time.Now()
	_, err := Read(ctx, f.config(), Scope{Targets: []string{eniDB1}})
	if !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("hung VPC call: error %v, want the context's", err)
	}
	if time.Since(start) > 10*time.Second {
		t.Errorf("hung VPC call returned after %v", time.Since(start))
	}
}

func TestLeastPrivilegePolicy(t *testing.T) {
	var doc struct {
		Version   string
		Statement []struct {
			Effect   string
			Action   []string
			Resource string
		}
	}
	if err := json.Unmarshal([]byte(LeastPrivilegePolicy()), &doc); err != nil {
		t.Fatalf("policy is not JSON: %v\n%s", err, LeastPrivilegePolicy())
	}
	if doc.Version != "1" || len(doc.Statement) != 1 || doc.Statement[0].Effect != "Allow" || doc.Statement[0].Resource != "*" {
		t.Errorf("policy %+v", doc)
	}
	if d := cmp.Diff(RequiredActions, doc.Statement[0].Action); d != "" {
		t.Errorf("policy actions (-RequiredActions +policy):\n%s", d)
	}
	for _, a := range RequiredActions {
		product, op, _ := strings.Cut(a, ":")
		if (product != "ecs" && product != "vpc") || !strings.HasPrefix(op, "Describe") {
			t.Errorf("action %q is not a read-only ECS/VPC Describe action", a)
		}
	}
}

func TestEndpointForms(t *testing.T) {
	testEnv(t)
	f := newFakes(t)
	cfg := f.config()
	cfg.Protocol = ""
	cfg.Endpoint, cfg.VPCEndpoint = "http://"+f.ecs.Endpoint(), "http://"+f.vpc.Endpoint()+"/"
	if _, err := Read(context.Background(), cfg, Scope{Targets: []string{eniDB1}}); err != nil {
		t.Fatal(err)
	}
	cfg.Protocol = "ftp"
	if _, err := Read(context.Background(), cfg, Scope{Targets: []string{eniDB1}}); err == nil {
		t.Error("Protocol ftp: no error")
	}
}

func TestNotFoundCodes(t *testing.T) {
	testEnv(t)
	// A prefix list that does not exist is left out of PrefixLists (its
	// rules are then unresolved for the evaluators), not an error.
	f := newFakes(t)
	f.ecs.SetHook(func(c fakeCall, n int) (int, string, bool) {
		if c.Action == "DescribePrefixListAttributes" {
			return http.StatusNotFound, "errors/InvalidPrefixListId.NotFound.json", true
		}
		return 0, "", false
	})
	s, err := Read(context.Background(), f.config(), Scope{Targets: []string{iWeb1, "172.16.2.10"}})
	if err != nil {
		t.Fatal(err)
	}
	want := wantTargets()
	want.PrefixLists = nil
	if d := cmp.Diff(want, s, cmpNet); d != "" {
		t.Errorf("snapshot (-want +got):\n%s", d)
	}

	// Another 404 is an error, not a missing group.
	f = newFakes(t)
	f.ecs.SetHook(func(c fakeCall, n int) (int, string, bool) {
		if c.Action == "DescribeSecurityGroupAttribute" && c.Query.Get("SecurityGroupId") == sgGone {
			return http.StatusNotFound, "errors/InvalidRegionId.NotFound.json", true
		}
		return 0, "", false
	})
	_, err = Read(context.Background(), f.config(), Scope{Targets: []string{iWeb1}})
	var ae *APIError
	if !errors.As(err, &ae) || ae.Code != "InvalidRegionId.NotFound" {
		t.Errorf("error %v, want the InvalidRegionId.NotFound APIError", err)
	}
}

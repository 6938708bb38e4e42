package aws

import (
	"context"
	"encoding/json"
	"encoding/xml"
	"errors"
	"net/http"
	"net/netip"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/aws/smithy-go"
	"github.com/google/go-cmp/cmp"

	"github.com/portcheck/portcheck/providers/cloud"
)

const (
	account = "111122223333"
	region  = "eu-west-1"
)

var cmpOpts = cmp.Options{
	cmp.Comparer(func(a, b netip.Addr) bool { return a == b }),
	cmp.Comparer(func(a, b netip.Prefix) bool { return a == b }),
}

func addrs(s ...string) []netip.Addr {
	out := []netip.Addr{}
	for _, a := range s {
		out = append(out, netip.MustParseAddr(a))
	}
	return out
}

func pfx(s string) netip.Prefix { return netip.MustParsePrefix(s) }

// Routes of a read of targets i-0web, eni-db and 10.0.1.50 with declared
// groups sg-declared and sg-nonexistent.
func targetRoutes() map[string][]reply {
	const groups = "sg-app,sg-bastion,sg-db,sg-declared,sg-ssh,sg-web"
	return map[string][]reply{
		"DescribeInstances Filter:instance-id=i-0web": ok("describe_instances.xml"),
		// The SDK must follow nextToken to the second page.
		"DescribeNetworkInterfaces Filter:network-interface-id=eni-db,eni-web0,eni-web1":                       ok("describe_network_interfaces_ids_page1.xml"),
		"DescribeNetworkInterfaces Filter:network-interface-id=eni-db,eni-web0,eni-web1 NextToken=enis-page-2": ok("describe_network_interfaces_ids_page2.xml"),
		"DescribeNetworkInterfaces Filter:addresses.private-ip-address=10.0.1.50":                              ok("describe_network_interfaces_ip.xml"),
		// A declared group that does not exist: dropped, asked again.
		"DescribeSecurityGroups GroupId=sg-app,sg-db,sg-declared,sg-nonexistent,sg-ssh,sg-web": {{Status: http.StatusBadRequest, File: "error_group_not_found_nonexistent.xml"}},
		"DescribeSecurityGroups GroupId=sg-app,sg-db,sg-declared,sg-ssh,sg-web":                ok("describe_security_groups.xml"),
		// Groups referenced by rules: sg-gone was deleted.
		"DescribeSecurityGroups GroupId=sg-bastion,sg-gone":                                 {{Status: http.StatusBadRequest, File: "error_group_not_found_gone.xml"}},
		"DescribeSecurityGroups GroupId=sg-bastion":                                         ok("describe_security_groups_referenced.xml"),
		"DescribeSecurityGroupRules Filter:group-id=" + groups:                              ok("describe_security_group_rules_page1.xml"),
		"DescribeSecurityGroupRules Filter:group-id=" + groups + " NextToken=rules-page-2":  ok("describe_security_group_rules_page2.xml"),
		"DescribeNetworkInterfaces Filter:group-id=" + groups:                               ok("describe_network_interfaces_groups.xml"),
		"DescribeManagedPrefixLists PrefixListId=pl-office":                                 ok("describe_managed_prefix_lists.xml"),
		"GetManagedPrefixListEntries PrefixListId=pl-office":                                ok("get_managed_prefix_list_entries.xml"),
		"DescribeNetworkAcls Filter:association.subnet-id=subnet-db,subnet-mgmt,subnet-web": ok("describe_network_acls.xml"),
		"DescribeSubnets Filter:subnet-id=subnet-db,subnet-mgmt,subnet-web":                 ok("describe_subnets.xml"),
	}
}

// Routes of what verify reads for target 10.0.3.30 (eni-db): its group
// sg-db, the groups sg-db's rules name (sg-web; sg-gone was deleted), and
// the members of both — two pages — so that rules naming them resolve.
func dbRoutes() map[string][]reply {
	return map[string][]reply{
		"DescribeNetworkInterfaces Filter:addresses.private-ip-address=10.0.3.30":            ok("describe_network_interfaces_db.xml"),
		"DescribeSecurityGroups GroupId=sg-db":                                               ok("describe_security_groups_db.xml"),
		"DescribeSecurityGroups GroupId=sg-gone,sg-web":                                      {{Status: http.StatusBadRequest, File: "error_group_not_found_gone.xml"}},
		"DescribeSecurityGroups GroupId=sg-web":                                              ok("describe_security_groups_web.xml"),
		"DescribeSecurityGroupRules Filter:group-id=sg-db,sg-web":                            ok("describe_security_group_rules_page1.xml"),
		"DescribeSecurityGroupRules Filter:group-id=sg-db,sg-web NextToken=rules-page-2":     ok("describe_security_group_rules_page2.xml"),
		"DescribeNetworkInterfaces Filter:group-id=sg-db,sg-web":                             ok("describe_network_interfaces_db_members_page1.xml"),
		"DescribeNetworkInterfaces Filter:group-id=sg-db,sg-web NextToken=db-members-page-2": ok("describe_network_interfaces_db_members_page2.xml"),
		"DescribeManagedPrefixLists PrefixListId=pl-office":                                  ok("describe_managed_prefix_lists.xml"),
		"GetManagedPrefixListEntries PrefixListId=pl-office":                                 ok("get_managed_prefix_list_entries.xml"),
		"DescribeNetworkAcls Filter:association.subnet-id=subnet-db,subnet-web":              ok("describe_network_acls.xml"),
		"DescribeSubnets Filter:subnet-id=subnet-db,subnet-web":                              ok("describe_subnets.xml"),
	}
}

// A targeted read lists the members of every group it reads, following
// the pages, and says so in the snapshot.
func TestReadListsMembers(t *testing.T) {
	isolateEnv(t)
	staticCredentials(t)
	fake, srv := newFake(t, dbRoutes())
	got, err := Read(context.Background(), Config{Region: region, Endpoint: srv.URL}, Scope{Targets: []string{"10.0.3.30"}})
	if err != nil {
		t.Fatal(err)
	}
	fake.AssertEachRouteOnce()
	var ids []string
	for _, ifc := range got.Interfaces {
		ids = append(ids, ifc.ID)
	}
	if d := cmp.Diff([]string{"eni-db", "eni-lb", "eni-web0", "eni-web1"}, ids); d != "" {
		t.Errorf("interfaces (-want +got):\n%s", d)
	}
	for _, id := range []string{"sg-db", "sg-web"} {
		if g := got.Groups[id]; g == nil || !g.MembersListed {
			t.Errorf("group %s: %+v, want its members listed", id, g)
		}
	}
	if d := cmp.Diff([]string{"eni-lb", "eni-web0", "eni-web1"}, got.Groups["sg-web"].Attachments); d != "" {
		t.Errorf("sg-web attachments (-want +got):\n%s", d)
	}
}

// Routes of an audit (Scope.All): no filters.
func allRoutes() map[string][]reply {
	return map[string][]reply{
		"DescribeNetworkInterfaces":                           ok("describe_network_interfaces_all_page1.xml"),
		"DescribeNetworkInterfaces NextToken=all-enis-page-2": ok("describe_network_interfaces_all_page2.xml"),
		"DescribeSecurityGroups":                              ok("describe_security_groups_all.xml"),
		"DescribeSecurityGroups GroupId=sg-gone":              {{Status: http.StatusBadRequest, File: "error_group_not_found_gone.xml"}},
		"DescribeSecurityGroupRules":                          ok("describe_security_group_rules_page1.xml"),
		"DescribeSecurityGroupRules NextToken=rules-page-2":   ok("describe_security_group_rules_page2.xml"),
		"DescribeManagedPrefixLists PrefixListId=pl-office":   ok("describe_managed_prefix_lists.xml"),
		"GetManagedPrefixListEntries PrefixListId=pl-office":  ok("get_managed_prefix_list_entries.xml"),
		"DescribeNetworkAcls":                                 ok("describe_network_acls.xml"),
		"DescribeSubnets":                                     ok("describe_subnets.xml"),
	}
}

func sg(id, name string, rules []cloud.Rule, attachments ...string) *cloud.SecurityGroup {
	if rules == nil {
		rules = []cloud.Rule{}
	}
	if attachments == nil {
		attachments = []string{}
	}
	// Every group read has its members listed.
	return &cloud.SecurityGroup{Provider: cloud.AWS, Account: account, Region: region, ID: id, Name: name,
		VPC: "vpc-0a1", Rules: rules, Attachments: attachments, MembersListed: true}
}

func in(id, group, proto string, ports cloud.PortRange, peer cloud.Peer) cloud.Rule {
	return cloud.Rule{ID: id, Group: group, Direction: cloud.Ingress, Protocol: proto, Ports: ports, Peer: peer, Policy: cloud.Accept}
}

func out(id, group, cidr string) cloud.Rule {
	return cloud.Rule{ID: id, Group: group, Direction: cloud.Egress, Protocol: cloud.ProtoAll, Ports: cloud.AllPorts,
		Peer: cloud.Peer{CIDR: pfx(cidr)}, Policy: cloud.Accept}
}

func withDesc(r cloud.Rule, d string) cloud.Rule { r.Description = d; return r }

func entry(n int, egress bool, proto string, ports cloud.PortRange, cidr, policy string) cloud.ACLEntry {
	return cloud.ACLEntry{Number: n, Egress: egress, Protocol: proto, Ports: ports, CIDR: pfx(cidr), Policy: policy}
}

// wantSnapshot is what the fixtures describe.
func wantSnapshot(complete bool) *cloud.Snapshot {
	all := cloud.AllPorts
	tcp := func(p int) cloud.PortRange { return cloud.PortRange{From: p, To: p} }
	cidr := func(s string) cloud.Peer { return cloud.Peer{CIDR: pfx(s)} }
	group := func(id string) cloud.Peer { return cloud.Peer{Group: id} }
	return &cloud.Snapshot{
		Provider: cloud.AWS,
		Account:  account,
		Region:   region,
		Interfaces: []cloud.Interface{
			{ID: "eni-app", Instance: "i-0app", PrivateIPs: addrs("10.0.1.50"), Groups: []string{"sg-app", "sg-ssh"}, Subnet: "subnet-web", VPC: "vpc-0a1"},
			{ID: "eni-bastion", Instance: "i-0bastion", PrivateIPs: addrs("10.0.0.5"), PublicIPs: addrs("198.51.100.7"), Groups: []string{"sg-bastion"}, Subnet: "subnet-mgmt", VPC: "vpc-0a1"},
			{ID: "eni-db", Instance: "i-0db", PrivateIPs: addrs("10.0.3.30"), Groups: []string{"sg-db"}, Subnet: "subnet-db", VPC: "vpc-0a1"},
			{ID: "eni-lb", PrivateIPs: addrs("10.0.1.99"), Groups: []string{"sg-web"}, Subnet: "subnet-web", VPC: "vpc-0a1"},
			{ID: "eni-web0", Instance: "i-0web", PrivateIPs: addrs("10.0.1.10", "10.0.1.11", "2001:db8:1::10"),
				PublicIPs: addrs("203.0.113.10", "203.0.113.11"), Groups: []string{"sg-web", "sg-ssh"}, Subnet: "subnet-web", VPC: "vpc-0a1"},
			{ID: "eni-web1", Instance: "i-0web", PrivateIPs: addrs("10.0.1.20"), Groups: []string{"sg-web"}, Subnet: "subnet-web", VPC: "vpc-0a1"},
		},
		Groups: map[string]*cloud.SecurityGroup{
			"sg-app": sg("sg-app", "app", []cloud.Rule{
				in("sgr-app-peer", "sg-app", cloud.ProtoTCP, tcp(9000), cloud.Peer{Group: "sg-0peer", GroupOwner: "999988887777"}),
				in("sgr-app-icmp6", "sg-app", cloud.ProtoICMPv6, cloud.PortRange{From: -1, To: -1}, cidr("2001:db8::/32")),
				out("sgr-app-out6", "sg-app", "::/0"),
			}, "eni-app"),
			"sg-bastion": sg("sg-bastion", "bastion", []cloud.Rule{
				withDesc(in("sgr-bastion-ssh", "sg-bastion", cloud.ProtoTCP, tcp(22), cidr("198.51.100.0/24")), "admins"),
				out("sgr-bastion-out", "sg-bastion", "0.0.0.0/0"),
			}, "eni-bastion"),
			"sg-db": sg("sg-db", "db", []cloud.Rule{
				in("sgr-db-pg", "sg-db", cloud.ProtoTCP, tcp(5432), group("sg-web")),
				in("sgr-db-self", "sg-db", cloud.ProtoAll, all, group("sg-db")),
				in("sgr-db-gone", "sg-db", cloud.ProtoUDP, all, group("sg-gone")),
				in("sgr-db-gre", "sg-db", "47", all, cidr("192.0.2.0/24")),
			}, "eni-db"),
			"sg-declared": sg("sg-declared", "declared", nil),
			"sg-ssh": sg("sg-ssh", "ssh", []cloud.Rule{
				in("sgr-ssh-bastion", "sg-ssh", cloud.ProtoTCP, tcp(22), group("sg-bastion")),
				in("sgr-ssh-ping", "sg-ssh", cloud.ProtoICMP, cloud.PortRange{From: 8, To: -1}, cidr("10.0.0.0/8")),
			}, "eni-app", "eni-web0"),
			"sg-web": sg("sg-web", "web", []cloud.Rule{
				withDesc(in("sgr-web-https", "sg-web", cloud.ProtoTCP, tcp(443), cidr("0.0.0.0/0")), "HTTPS"),
				in("sgr-web-http6", "sg-web", cloud.ProtoTCP, tcp(80), cidr("::/0")),
				withDesc(in("sgr-web-office", "sg-web", cloud.ProtoTCP, cloud.PortRange{From: 8080, To: 8081}, cloud.Peer{PrefixList: "pl-office"}), "office"),
				out("sgr-web-out", "sg-web", "0.0.0.0/0"),
			}, "eni-lb", "eni-web0", "eni-web1"),
		},
		ACLs: []*cloud.NetworkACL{
			{Provider: cloud.AWS, Account: account, Region: region, ID: "acl-default", VPC: "vpc-0a1", Subnets: []string{"subnet-mgmt"},
				Entries: []cloud.ACLEntry{
					entry(100, true, cloud.ProtoAll, all, "0.0.0.0/0", cloud.Accept),
					entry(101, true, cloud.ProtoAll, all, "::/0", cloud.Accept),
					entry(32767, true, cloud.ProtoAll, all, "0.0.0.0/0", cloud.Drop),
					entry(32768, true, cloud.ProtoAll, all, "::/0", cloud.Drop),
					entry(100, false, cloud.ProtoAll, all, "0.0.0.0/0", cloud.Accept),
					entry(101, false, cloud.ProtoAll, all, "::/0", cloud.Accept),
					entry(32767, false, cloud.ProtoAll, all, "0.0.0.0/0", cloud.Drop),
					entry(32768, false, cloud.ProtoAll, all, "::/0", cloud.Drop),
				}},
			{Provider: cloud.AWS, Account: account, Region: region, ID: "acl-web", VPC: "vpc-0a1", Subnets: []string{"subnet-db", "subnet-web"},
				Entries: []cloud.ACLEntry{
					entry(100, true, cloud.ProtoAll, all, "0.0.0.0/0", cloud.Accept),
					entry(32767, true, cloud.ProtoAll, all, "0.0.0.0/0", cloud.Drop),
					entry(90, false, cloud.ProtoAll, all, "198.51.100.0/24", cloud.Drop),
					entry(100, false, cloud.ProtoTCP, tcp(443), "0.0.0.0/0", cloud.Accept),
					entry(105, false, cloud.ProtoTCP, tcp(80), "::/0", cloud.Accept),
					entry(110, false, cloud.ProtoTCP, cloud.PortRange{From: 1024, To: 65535}, "0.0.0.0/0", cloud.Accept),
					entry(120, false, cloud.ProtoICMP, all, "10.0.0.0/8", cloud.Accept),
					entry(130, false, cloud.ProtoUDP, all, "10.0.0.0/8", cloud.Accept),
					entry(32767, false, cloud.ProtoAll, all, "0.0.0.0/0", cloud.Drop),
				}},
		},
		Subnets: []cloud.Subnet{
			{ID: "subnet-db", VPC: "vpc-0a1", CIDRs: []netip.Prefix{pfx("10.0.3.0/24")}},
			{ID: "subnet-mgmt", VPC: "vpc-0a1", CIDRs: []netip.Prefix{pfx("10.0.0.0/24")}},
			// 2001:db8:2::/64 is disassociated.
			{ID: "subnet-web", VPC: "vpc-0a1", CIDRs: []netip.Prefix{pfx("10.0.1.0/24"), pfx("2001:db8:1::/64")}},
		},
		PrefixLists: map[string]*cloud.PrefixList{
			"pl-office": {ID: "pl-office", Name: "office", CIDRs: []netip.Prefix{pfx("192.0.2.0/24"), pfx("198.51.100.64/26")}},
		},
		MissingGroups: []string{"sg-gone"},
		Complete:      complete,
	}
}

func TestReadTargets(t *testing.T) {
	isolateEnv(t)
	staticCredentials(t)
	fake, srv := newFake(t, targetRoutes())

	got, err := Read(context.Background(), Config{Region: region, Endpoint: srv.URL}, Scope{
		Targets: []string{"i-0web", "eni-db", "10.0.1.50"},
		Groups:  []string{"sg-declared", "sg-nonexistent"},
	})
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(wantSnapshot(false), got, cmpOpts); diff != "" {
		t.Errorf("snapshot (-want +got):\n%s", diff)
	}
	fake.AssertEachRouteOnce()

	// Every request was signed with the environment's key for EC2 in the
	// region, and asked only for actions of RequiredActions.
	requests, keyIDs, scopes := fake.Seen()
	for i, req := range requests {
		action, _, _ := strings.Cut(req, " ")
		if !slices.Contains(RequiredActions, "ec2:"+action) {
			t.Errorf("request %q: ec2:%s is not in RequiredActions", req, action)
		}
		if keyIDs[i] != testKeyID || scopes[i] != region+"/ec2" {
			t.Errorf("request %q signed by %s for %s, want %s for %s/ec2", req, keyIDs[i], scopes[i], testKeyID, region)
		}
	}

	// The snapshot is plain data: it survives JSON.
	b, err := json.Marshal(got)
	if err != nil {
		t.Fatal(err)
	}
	var back cloud.Snapshot
	if err := json.Unmarshal(b, &back); err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(got, &back, cmpOpts); diff != "" {
		t.Errorf("JSON round trip (-read +decoded):\n%s", diff)
	}
}

func TestReadAll(t *testing.T) {
	isolateEnv(t)
	staticCredentials(t)
	fake, srv := newFake(t, allRoutes())

	got, err := Read(context.Background(), Config{Region: region, Endpoint: srv.URL}, Scope{All: true})
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(wantSnapshot(true), got, cmpOpts); diff != "" {
		t.Errorf("snapshot (-want +got):\n%s", diff)
	}
	fake.AssertEachRouteOnce()
}

func TestResolve(t *testing.T) {
	s := wantSnapshot(false)
	for _, tc := range []struct {
		target string
		want   []string
	}{
		{"i-0web", []string{"eni-web0", "eni-web1"}},
		{"eni-db", []string{"eni-db"}},
		{"10.0.1.50", []string{"eni-app"}},
		{"10.0.1.11", []string{"eni-web0"}},      // secondary private address
		{"203.0.113.10", []string{"eni-web0"}},   // public address
		{"2001:db8:1::10", []string{"eni-web0"}}, // IPv6 address
		{"::ffff:10.0.3.30", []string{"eni-db"}}, // IPv4-mapped
	} {
		got, err := Resolve(s, tc.target)
		if err != nil {
			t.Errorf("Resolve(%s): %v", tc.target, err)
			continue
		}
		var ids []string
		for _, ifc := range got {
			ids = append(ids, ifc.ID)
		}
		if diff := cmp.Diff(tc.want, ids); diff != "" {
			t.Errorf("Resolve(%s) (-want +got):\n%s", tc.target, diff)
		}
	}
	for _, target := range []string{"i-0nothing", "eni-nothing", "10.9.9.9", "web-1", ""} {
		if got, err := Resolve(s, target); err == nil {
			t.Errorf("Resolve(%q) = %v, want an error", target, got)
		}
	}
}

// declaredRoutes read one declared group, attached to nothing.
func declaredRoutes() map[string][]reply {
	return map[string][]reply{
		"DescribeSecurityGroups GroupId=sg-declared":             ok("describe_security_groups_declared.xml"),
		"DescribeSecurityGroupRules Filter:group-id=sg-declared": ok("describe_security_group_rules_empty.xml"),
		"DescribeNetworkInterfaces Filter:group-id=sg-declared":  ok("describe_network_interfaces_empty.xml"),
	}
}

// throttleRoutes are declaredRoutes whose first answer to
// DescribeSecurityGroups is a throttling error.
func throttleRoutes(first reply) map[string][]reply {
	routes := declaredRoutes()
	key := "DescribeSecurityGroups GroupId=sg-declared"
	routes[key] = append([]reply{first}, routes[key]...)
	return routes
}

func declaredSnapshot() *cloud.Snapshot {
	return &cloud.Snapshot{
		Provider:    cloud.AWS,
		Account:     account,
		Region:      region,
		Interfaces:  []cloud.Interface{},
		Groups:      map[string]*cloud.SecurityGroup{"sg-declared": sg("sg-declared", "declared", nil)},
		ACLs:        []*cloud.NetworkACL{},
		PrefixLists: map[string]*cloud.PrefixList{},
	}
}

func TestThrottlingIsRetried(t *testing.T) {
	for _, first := range []reply{
		{Status: http.StatusServiceUnavailable, File: "error_request_limit_exceeded.xml"},
		{Status: http.StatusBadRequest, File: "error_throttling.xml"},
	} {
		t.Run(first.File, func(t *testing.T) {
			isolateEnv(t)
			staticCredentials(t)
			fake, srv := newFake(t, throttleRoutes(first))
			got, err := Read(context.Background(), Config{Region: region, Endpoint: srv.URL}, Scope{Groups: []string{"sg-declared"}})
			if err != nil {
				t.Fatal(err)
			}
			// One operation, retried after the throttling answer.
			key := "DescribeSecurityGroups GroupId=sg-declared"
			if ops, n := fake.Operations(key), fake.Attempts(key); ops != 1 || n < 2 {
				t.Errorf("DescribeSecurityGroups: %d operations, %d attempts; want 1 operation retried", ops, n)
			}
			if diff := cmp.Diff(declaredSnapshot(), got, cmpOpts); diff != "" {
				t.Errorf("snapshot (-want +got):\n%s", diff)
			}
			fake.AssertEachRouteOnce()
		})
	}
}

func TestThrottlingGivesUpAfterMaxAttempts(t *testing.T) {
	isolateEnv(t)
	staticCredentials(t)
	fake, srv := newFake(t, map[string][]reply{
		"DescribeSecurityGroups GroupId=sg-declared": {{Status: http.StatusServiceUnavailable, File: "error_request_limit_exceeded.xml"}},
	})
	_, err := Read(context.Background(), Config{Region: region, Endpoint: srv.URL, MaxAttempts: 3}, Scope{Groups: []string{"sg-declared"}})
	var ae smithy.APIError
	if !errors.As(err, &ae) || ae.ErrorCode() != "RequestLimitExceeded" {
		t.Fatalf("error %v, want RequestLimitExceeded", err)
	}
	if n := fake.Attempts("DescribeSecurityGroups GroupId=sg-declared"); n != 3 {
		t.Errorf("DescribeSecurityGroups made %d times, want MaxAttempts = 3", n)
	}
}

func TestUnauthorizedNamesTheAction(t *testing.T) {
	isolateEnv(t)
	staticCredentials(t)
	fake, srv := newFake(t, map[string][]reply{
		"DescribeSecurityGroups GroupId=sg-declared":             ok("describe_security_groups_declared.xml"),
		"DescribeSecurityGroupRules Filter:group-id=sg-declared": {{Status: http.StatusForbidden, File: "error_unauthorized_operation.xml"}},
	})
	_, err := Read(context.Background(), Config{Region: region, Endpoint: srv.URL}, Scope{Groups: []string{"sg-declared"}})
	var pe *PermissionError
	if !errors.As(err, &pe) {
		t.Fatalf("error %v, want a PermissionError", err)
	}
	if pe.Action != "ec2:DescribeSecurityGroupRules" || pe.Code != "UnauthorizedOperation" {
		t.Errorf("PermissionError %+v", pe)
	}
	if want := "ec2:DescribeSecurityGroupRules is not allowed for this principal"; !strings.Contains(err.Error(), want) {
		t.Errorf("error %q does not say %q", err, want)
	}
	fake.AssertEachRouteOnce()
	// A refusal is final: the retryer does not retry it.
	if newRetryer(DefaultMaxAttempts).IsErrorRetryable(pe.Err) {
		t.Error("UnauthorizedOperation is retried")
	}
}

func TestRejectedCredentials(t *testing.T) {
	isolateEnv(t)
	staticCredentials(t)
	_, srv := newFake(t, map[string][]reply{
		"DescribeSecurityGroups GroupId=sg-declared": {{Status: http.StatusUnauthorized, File: "error_auth_failure.xml"}},
	})
	_, err := Read(context.Background(), Config{Region: region, Endpoint: srv.URL}, Scope{Groups: []string{"sg-declared"}})
	var ce *CredentialsError
	if !errors.As(err, &ce) || ce.Code != "AuthFailure" {
		t.Fatalf("error %v, want a CredentialsError for AuthFailure", err)
	}
}

func TestMissingCredentials(t *testing.T) {
	isolateEnv(t) // no keys, empty HOME, no instance metadata
	fake, srv := newFake(t, nil)
	_, err := Read(context.Background(), Config{Region: region, Endpoint: srv.URL}, Scope{Groups: []string{"sg-declared"}})
	if !errors.Is(err, ErrNoCredentials) {
		t.Fatalf("error %v, want ErrNoCredentials", err)
	}
	for _, want := range []string{"no AWS credentials found", "AWS_PROFILE", "AWS_ACCESS_KEY_ID", "instance with a role"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error %q does not say %q", err, want)
		}
	}
	if requests, _, _ := fake.Seen(); len(requests) != 0 {
		t.Errorf("requests made without credentials: %q", requests)
	}
}

func TestMissingRegion(t *testing.T) {
	isolateEnv(t)
	staticCredentials(t)
	_, srv := newFake(t, nil)
	_, err := Read(context.Background(), Config{Endpoint: srv.URL}, Scope{Groups: []string{"sg-declared"}})
	if !errors.Is(err, ErrNoRegion) {
		t.Fatalf("error %v, want ErrNoRegion", err)
	}
}

func TestBadScope(t *testing.T) {
	isolateEnv(t)
	for _, scope := range []Scope{{}, {Targets: []string{"web-1"}}, {Targets: []string{"fe80::1%eth0"}}} {
		if _, err := Read(context.Background(), Config{Region: region, Endpoint: "http://127.0.0.1:1"}, scope); err == nil {
			t.Errorf("Read(%+v) succeeded", scope)
		}
	}
}

func TestEndpointFromEnvironment(t *testing.T) {
	isolateEnv(t)
	staticCredentials(t)
	fake, srv := newFake(t, declaredRoutes())
	t.Setenv("AWS_ENDPOINT_URL_EC2", srv.URL)

	got, err := Read(context.Background(), Config{Region: region}, Scope{Groups: []string{"sg-declared"}})
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(declaredSnapshot(), got, cmpOpts); diff != "" {
		t.Errorf("snapshot (-want +got):\n%s", diff)
	}
	fake.AssertEachRouteOnce()
}

func TestProfile(t *testing.T) {
	home := isolateEnv(t)
	fake, srv := newFake(t, declaredRoutes())
	dir := filepath.Join(home, ".aws")
	if err := os.MkdirAll(dir, 0o700); err != nil {
		t.Fatal(err)
	}
	write := func(name, text string) {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(text), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	write("config", "[profile audit]\nregion = "+region+"\n")
	write("credentials", "[audit]\naws_access_key_id = AKIAPROFILETEST\naws_secret_access_key = profile-test-secret\n")

	got, err := Read(context.Background(), Config{Profile: "audit", Endpoint: srv.URL}, Scope{Groups: []string{"sg-declared"}})
	if err != nil {
		t.Fatal(err)
	}
	if got.Region != region {
		t.Errorf("region %q, want the profile's %q", got.Region, region)
	}
	_, keyIDs, _ := fake.Seen()
	for _, k := range keyIDs {
		if k != "AKIAPROFILETEST" {
			t.Errorf("request signed by %s, want the profile's key", k)
		}
	}

	if _, err := Read(context.Background(), Config{Profile: "nosuch", Endpoint: srv.URL}, Scope{Groups: []string{"sg-declared"}}); err == nil {
		t.Error("an unknown profile was accepted")
	}
}

const roleARN = "arn:aws:iam::111122223333:role/portcheck-audit"

func assumeRoleKey() string {
	return "AssumeRole DurationSeconds=900 RoleArn=" + roleARN + " RoleSessionName=portcheck"
}

func TestAssumeRole(t *testing.T) {
	isolateEnv(t)
	staticCredentials(t)
	routes := declaredRoutes()
	routes[assumeRoleKey()] = ok("sts_assume_role.xml")
	fake, srv := newFake(t, routes)
	t.Setenv("AWS_ENDPOINT_URL_STS", srv.URL)

	if _, err := Read(context.Background(), Config{Region: region, Endpoint: srv.URL, AssumeRoleARN: roleARN}, Scope{Groups: []string{"sg-declared"}}); err != nil {
		t.Fatal(err)
	}
	fake.AssertEachRouteOnce()
	requests, keyIDs, scopes := fake.Seen()
	for i, req := range requests {
		want := "ASIATESTASSUMEDROLE"
		if strings.HasPrefix(req, "AssumeRole ") {
			want = testKeyID
		}
		if keyIDs[i] != want {
			t.Errorf("request %q (%s) signed by %s, want %s", req, scopes[i], keyIDs[i], want)
		}
	}
}

func TestAssumeRoleDenied(t *testing.T) {
	isolateEnv(t)
	staticCredentials(t)
	_, srv := newFake(t, map[string][]reply{assumeRoleKey(): {{Status: http.StatusForbidden, File: "sts_access_denied.xml"}}})
	t.Setenv("AWS_ENDPOINT_URL_STS", srv.URL)

	_, err := Read(context.Background(), Config{Region: region, Endpoint: srv.URL, AssumeRoleARN: roleARN}, Scope{Groups: []string{"sg-declared"}})
	var pe *PermissionError
	if !errors.As(err, &pe) || pe.Action != "sts:AssumeRole" {
		t.Fatalf("error %v, want a PermissionError for sts:AssumeRole", err)
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
		t.Fatal(err)
	}
	if doc.Version != "2012-10-17" || len(doc.Statement) != 1 {
		t.Fatalf("policy %+v", doc)
	}
	st := doc.Statement[0]
	if st.Effect != "Allow" || st.Resource != "*" {
		t.Errorf("statement %+v", st)
	}
	if diff := cmp.Diff(RequiredActions, st.Action); diff != "" {
		t.Errorf("actions (-RequiredActions +policy):\n%s", diff)
	}
	for _, a := range st.Action {
		if !strings.HasPrefix(a, "ec2:Describe") && !strings.HasPrefix(a, "ec2:Get") {
			t.Errorf("action %s is not read-only", a)
		}
	}
}

func TestNormalisation(t *testing.T) {
	for in, want := range map[string]string{
		"-1": cloud.ProtoAll, "6": cloud.ProtoTCP, "tcp": cloud.ProtoTCP, "17": cloud.ProtoUDP, "UDP": cloud.ProtoUDP,
		"1": cloud.ProtoICMP, "icmp": cloud.ProtoICMP, "58": cloud.ProtoICMPv6, "icmpv6": cloud.ProtoICMPv6,
		"47": "47", "050": "50",
	} {
		if got := normProtocol(in); got != want {
			t.Errorf("normProtocol(%q) = %q, want %q", in, got, want)
		}
	}
	i32 := func(v int32) *int32 { return &v }
	for _, tc := range []struct {
		proto    string
		from, to *int32
		want     cloud.PortRange
	}{
		{cloud.ProtoAll, i32(-1), i32(-1), cloud.AllPorts},
		{cloud.ProtoTCP, i32(22), i32(22), cloud.PortRange{From: 22, To: 22}},
		{cloud.ProtoTCP, nil, nil, cloud.AllPorts},
		{cloud.ProtoUDP, i32(-1), i32(-1), cloud.AllPorts},
		{cloud.ProtoICMP, i32(3), i32(4), cloud.PortRange{From: 3, To: 4}},
		{cloud.ProtoICMP, i32(-1), i32(-1), cloud.PortRange{From: -1, To: -1}},
		{cloud.ProtoICMPv6, nil, nil, cloud.PortRange{From: -1, To: -1}},
		{"47", i32(-1), i32(-1), cloud.AllPorts},
	} {
		if got := rulePorts(tc.proto, tc.from, tc.to); got != tc.want {
			t.Errorf("rulePorts(%s, %v, %v) = %v, want %v", tc.proto, tc.from, tc.to, got, tc.want)
		}
	}
}

// describeExisting finds the missing ids one by one when the API's message
// names none of them.
func TestDescribeExistingWithoutIDsInMessage(t *testing.T) {
	gone := []string{"sg-b", "sg-d"}
	var calls [][]string
	describe := func(_ context.Context, ids []string) ([]string, error) {
		calls = append(calls, ids)
		for _, id := range ids {
			if slices.Contains(gone, id) {
				return nil, &smithy.GenericAPIError{Code: "InvalidGroup.NotFound", Message: "One or more security groups do not exist"}
			}
		}
		return ids, nil
	}
	found, missing, err := describeExisting(context.Background(), []string{"sg-a", "sg-b", "sg-c", "sg-d"}, "InvalidGroup", sgID, describe)
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff([]string{"sg-a", "sg-c"}, found); diff != "" {
		t.Errorf("found (-want +got):\n%s", diff)
	}
	if diff := cmp.Diff(gone, missing); diff != "" {
		t.Errorf("missing (-want +got):\n%s", diff)
	}
	if len(calls) != 5 {
		t.Errorf("%d calls, want 5 (all, then one by one)", len(calls))
	}
	// Any other error stops.
	_, _, err = describeExisting(context.Background(), []string{"sg-a"}, "InvalidGroup", sgID,
		func(context.Context, []string) ([]string, error) {
			return nil, &smithy.GenericAPIError{Code: "InvalidGroupId.Malformed", Message: "Invalid id: \"sg-a\""}
		})
	if err == nil {
		t.Error("a malformed id was taken for a missing one")
	}
}

// The fixtures are the documented shapes: EC2 answers are
// <ActionResponse> in EC2's namespace, errors <Response><Errors>.
func TestFixtures(t *testing.T) {
	files, err := filepath.Glob(filepath.Join("testdata", "*.xml"))
	if err != nil || len(files) == 0 {
		t.Fatal(files, err)
	}
	for _, f := range files {
		b, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		var root struct{ XMLName xml.Name }
		if err := xml.Unmarshal(b, &root); err != nil {
			t.Errorf("%s: %v", f, err)
			continue
		}
		base := filepath.Base(f)
		switch {
		case strings.HasPrefix(base, "error_"):
			if root.XMLName.Local != "Response" {
				t.Errorf("%s: root %v, want Response", f, root.XMLName)
			}
		case strings.HasPrefix(base, "sts_"):
			if root.XMLName.Space != "https://sts.amazonaws.com/doc/2011-06-15/" {
				t.Errorf("%s: namespace %q", f, root.XMLName.Space)
			}
		default:
			// describe_network_interfaces_ids_page1.xml answers DescribeNetworkInterfaces.
			var action string
			for _, w := range strings.Split(strings.TrimSuffix(base, ".xml"), "_") {
				action += strings.ToUpper(w[:1]) + w[1:]
			}
			if root.XMLName.Space != "http://ec2.amazonaws.com/doc/2016-11-15/" ||
				!strings.HasSuffix(root.XMLName.Local, "Response") ||
				!strings.HasPrefix(action, strings.TrimSuffix(root.XMLName.Local, "Response")) {
				t.Errorf("%s: root %v", f, root.XMLName)
			}
		}
	}
}

func TestParseTargets(t *testing.T) {
	got, err := parseTargets([]string{"i-0web", "eni-db", "10.0.1.50", "203.0.113.10", "2001:db8:1::10", "::ffff:10.0.3.30"})
	if err != nil {
		t.Fatal(err)
	}
	want := targets{
		instances: []string{"i-0web"},
		enis:      []string{"eni-db"},
		privateV4: []string{"10.0.1.50", "203.0.113.10", "10.0.3.30"},
		publicV4:  []string{"203.0.113.10"}, // may be public, or a public range used inside the VPC
		v6:        []string{"2001:db8:1::10"},
	}
	if diff := cmp.Diff(want, got, cmp.AllowUnexported(targets{})); diff != "" {
		t.Errorf("parseTargets (-want +got):\n%s", diff)
	}
}

func TestChunks(t *testing.T) {
	values := make([]string, 2*maxFilterValues+50)
	for i := range values {
		values[i] = "sg-" + strings.Repeat("a", i%7+1)
	}
	var sizes []int
	for _, c := range chunks(values) {
		sizes = append(sizes, len(c))
	}
	if diff := cmp.Diff([]int{maxFilterValues, maxFilterValues, 50}, sizes); diff != "" {
		t.Errorf("chunk sizes (-want +got):\n%s", diff)
	}
	if chunks(nil) != nil {
		t.Error("chunks(nil) is not empty: an empty list must make no call (no filter would read everything)")
	}
}

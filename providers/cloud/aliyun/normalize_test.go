package aliyun

import (
	"net/netip"
	"strings"
	"testing"

	"github.com/alibabacloud-go/tea/tea"
	"github.com/google/go-cmp/cmp"

	"github.com/portcheck/portcheck/providers/cloud"
)

func TestNormProtocol(t *testing.T) {
	for in, want := range map[string]string{
		"ALL": "all", "all": "all", "TCP": "tcp", "udp": "udp", "ICMP": "icmp",
		"ICMPV6": "icmpv6", "ICMPv6": "icmpv6", "GRE": "47", "gre": "47", "6": "tcp", "58": "icmpv6", "132": "132", " tcp ": "tcp",
	} {
		if got, err := normProtocol(in); err != nil || got != want {
			t.Errorf("normProtocol(%q) = %q, %v; want %q", in, got, err, want)
		}
	}
	for _, bad := range []string{"", "sctp", "256", "-2"} {
		if got, err := normProtocol(bad); err == nil {
			t.Errorf("normProtocol(%q) = %q, want an error", bad, got)
		}
	}
}

func TestPorts(t *testing.T) {
	for _, tc := range []struct {
		proto, in string
		want      cloud.PortRange
		acl       cloud.PortRange
	}{
		{"tcp", "-1/-1", cloud.AllPorts, cloud.AllPorts},
		{"tcp", "22/22", pr(22, 22), pr(22, 22)},
		{"udp", "1/65535", pr(1, 65535), pr(1, 65535)},
		{"udp", "1024/65535", pr(1024, 65535), pr(1024, 65535)},
		{"icmp", "-1/-1", pr(-1, -1), cloud.AllPorts},
		{"icmpv6", "-1/-1", pr(-1, -1), cloud.AllPorts},
		{"icmp", "8/0", pr(8, 0), cloud.AllPorts},
		{"all", "-1/-1", cloud.AllPorts, cloud.AllPorts},
		{"47", "-1/-1", cloud.AllPorts, cloud.AllPorts},
	} {
		got, err := rulePorts(tc.proto, tc.in)
		if err != nil || got != tc.want {
			t.Errorf("rulePorts(%s, %q) = %v, %v; want %v", tc.proto, tc.in, got, err, tc.want)
		}
		got, err = aclPorts(tc.proto, tc.in)
		if err != nil || got != tc.acl {
			t.Errorf("aclPorts(%s, %q) = %v, %v; want %v", tc.proto, tc.in, got, err, tc.acl)
		}
	}
	for _, bad := range []string{"22", "a/b", "100/1", "0/70000"} {
		if got, err := rulePorts("tcp", bad); err == nil {
			t.Errorf("rulePorts(tcp, %q) = %v, want an error", bad, got)
		}
	}
}

func TestParseCIDR(t *testing.T) {
	for in, want := range map[string]string{
		"0.0.0.0/0": "0.0.0.0/0", "10.0.0.0/8\t": "10.0.0.0/8", "119.110.100.86": "119.110.100.86/32",
		"::/0": "::/0", "2408:4005::1": "2408:4005::1/128", "10.1.2.3/24": "10.1.2.3/24",
	} {
		got, err := parseCIDR(in)
		if err != nil || got != netip.MustParsePrefix(want) {
			t.Errorf("parseCIDR(%q) = %v, %v; want %s", in, got, err, want)
		}
	}
	for _, bad := range []string{"", "10.0.0.0/33", "sg-123"} {
		if _, err := parseCIDR(bad); err == nil {
			t.Errorf("parseCIDR(%q): no error", bad)
		}
	}
}

func TestConvertPermissionErrors(t *testing.T) {
	base := func() *permission {
		return &permission{SecurityGroupRuleId: tea.String("sgr-1"), Direction: tea.String("ingress"), IpProtocol: tea.String("TCP"),
			PortRange: tea.String("22/22"), Policy: tea.String("Accept"), Priority: tea.String("1"), SourceCidrIp: tea.String("10.0.0.0/8"),
			DestCidrIp: tea.String("")}
	}
	noPorts := func(string) ([]string, error) { t.Fatal("no port list here"); return nil, nil }
	got, err := convertPermission("sg-1", base(), noPorts)
	want := []cloud.Rule{{ID: "sgr-1", Group: "sg-1", Direction: in, Protocol: "tcp", Ports: pr(22, 22), Peer: cidr("10.0.0.0/8"), Policy: acc, Priority: 1}}
	if err != nil || cmp.Diff(want, got, cmpNet) != "" {
		t.Fatalf("convertPermission = %v, %v; want %v", got, err, want)
	}
	// An absent priority is the API's default, 1.
	p := base()
	p.Priority = nil
	if got, err := convertPermission("sg-1", p, noPorts); err != nil || got[0].Priority != 1 {
		t.Errorf("no priority: %v, %v", got, err)
	}
	for name, mutate := range map[string]func(*permission){
		"two peers": func(p *permission) { p.SourceGroupId = tea.String("sg-2") },
		"no peer":   func(p *permission) { p.SourceCidrIp = nil },
		"egress CIDR only on the source side": func(p *permission) {
			p.Direction = tea.String("egress")
		},
		"policy":    func(p *permission) { p.Policy = tea.String("Reject") },
		"direction": func(p *permission) { p.Direction = tea.String("both") },
		"protocol":  func(p *permission) { p.IpProtocol = tea.String("SCTP") },
		"ports":     func(p *permission) { p.PortRange = tea.String("22") },
		"priority":  func(p *permission) { p.Priority = tea.String("high") },
	} {
		p := base()
		mutate(p)
		if _, err := convertPermission("sg-1", p, noPorts); err == nil || !strings.Contains(err.Error(), "sgr-1") {
			t.Errorf("%s: error %v, want one naming the rule", name, err)
		}
	}
}

func TestDefaultEndpoints(t *testing.T) {
	testEnv(t)
	a, err := newAPI(Config{Region: "cn-beijing"})
	if err != nil {
		t.Fatal(err)
	}
	if e, v, p := tea.StringValue(a.ecs.Endpoint), tea.StringValue(a.vpc.Endpoint), tea.StringValue(a.ecs.Protocol); e != "ecs.cn-beijing.aliyuncs.com" || v != "vpc.cn-beijing.aliyuncs.com" || p != "https" {
		t.Errorf("default endpoints %s, %s over %s", e, v, p)
	}
}

func TestRedactChain(t *testing.T) {
	msg := "unable to get credentials from any of the providers in the chain: unable to get credentials from enviroment variables, Access key ID must be specified via environment variable (ALIBABA_CLOUD_ACCESS_KEY_ID), unmarshal aliyun cli config from '/h/.aliyun/config.json' failed: {\"profiles\":[{\"access_key_secret\":\"s3cr3t\", refresh Ecs sts token err, httpStatus: 500, message = {\"AccessKeySecret\":\"s3cr3t2\"}"
	got := redactChain(msg)
	if strings.Contains(got, "s3cr3t") {
		t.Errorf("redactChain leaks: %q", got)
	}
	for _, want := range []string{"ALIBABA_CLOUD_ACCESS_KEY_ID not set", "/h/.aliyun/config.json is not valid JSON", "ECS RAM role"} {
		if !strings.Contains(got, want) {
			t.Errorf("redactChain = %q, lacks %q", got, want)
		}
	}
}

// Quintuple rules keep their group-side address and source ports (issue 9,
// item 5): DestCidrIp/Ipv6DestCidrIp of an inbound rule, SourceCidrIp/
// Ipv6SourceCidrIp of an outbound one, and SourcePortRange.
func TestConvertQuintuple(t *testing.T) {
	noPorts := func(string) ([]string, error) { t.Fatal("no port list here"); return nil, nil }
	for _, tc := range []struct {
		name  string
		p     *permission
		local string
		ports cloud.PortRange
	}{
		{"inbound to an IPv4 destination", &permission{Direction: tea.String("ingress"), SourceCidrIp: tea.String("0.0.0.0/0"),
			DestCidrIp: tea.String("172.16.1.20/32"), SourcePortRange: tea.String("1/1023")}, "172.16.1.20/32", pr(1, 1023)},
		{"inbound to an IPv6 destination", &permission{Direction: tea.String("ingress"), Ipv6SourceCidrIp: tea.String("::/0"),
			Ipv6DestCidrIp: tea.String("2408:4005:3e0:6a01::10")}, "2408:4005:3e0:6a01::10/128", cloud.PortRange{}},
		{"outbound from a source", &permission{Direction: tea.String("egress"), DestCidrIp: tea.String("10.0.0.0/8"),
			SourceCidrIp: tea.String("172.16.1.0/24"), SourcePortRange: tea.String("22/22")}, "172.16.1.0/24", pr(22, 22)},
		{"any source port", &permission{Direction: tea.String("ingress"), SourceCidrIp: tea.String("0.0.0.0/0"),
			SourcePortRange: tea.String("-1/-1")}, "", cloud.PortRange{}},
	} {
		tc.p.SecurityGroupRuleId, tc.p.IpProtocol, tc.p.PortRange, tc.p.Policy = tea.String("sgr-q"), tea.String("TCP"), tea.String("443/443"), tea.String("Drop")
		got, err := convertPermission("sg-1", tc.p, noPorts)
		if err != nil {
			t.Errorf("%s: %v", tc.name, err)
			continue
		}
		local := ""
		if got[0].Local.IsValid() {
			local = got[0].Local.String()
		}
		if local != tc.local || got[0].SourcePorts != tc.ports {
			t.Errorf("%s: local %q, source ports %v; want %q, %v", tc.name, local, got[0].SourcePorts, tc.local, tc.ports)
		}
	}
	for name, p := range map[string]*permission{
		"source ports reversed": {SourcePortRange: tea.String("1023/1")},
		"source ports too high": {SourcePortRange: tea.String("1/70000")},
		"source ports garbage":  {SourcePortRange: tea.String("ssh")},
		"two destinations":      {DestCidrIp: tea.String("10.0.0.1"), Ipv6DestCidrIp: tea.String("::1")},
		"bad destination":       {DestCidrIp: tea.String("10.0.0.300/32")},
	} {
		p.SecurityGroupRuleId, p.Direction, p.IpProtocol, p.PortRange, p.Policy, p.SourceCidrIp =
			tea.String("sgr-q"), tea.String("ingress"), tea.String("TCP"), tea.String("443/443"), tea.String("Drop"), tea.String("0.0.0.0/0")
		if _, err := convertPermission("sg-1", p, noPorts); err == nil || !strings.Contains(err.Error(), "sgr-q") {
			t.Errorf("%s: error %v, want one naming the rule", name, err)
		}
	}
}

// What the API writes in a rule's fields never panics the converter, and
// a rule it accepts has sane ports.
func FuzzConvertPermission(f *testing.F) {
	f.Add("ingress", "TCP", "443/443", "0.0.0.0/0", "172.16.1.20/32", "", "1/1023")
	f.Add("egress", "UDP", "-1/-1", "10.0.0.0/8", "", "::/0", "")
	f.Add("ingress", "ICMP", "8/-1", "", "", "2408::/16", "-1/-1")
	f.Fuzz(func(t *testing.T, dir, proto, ports, src, dst, dst6, sport string) {
		p := &permission{SecurityGroupRuleId: tea.String("sgr-f"), Direction: tea.String(dir), IpProtocol: tea.String(proto),
			PortRange: tea.String(ports), Policy: tea.String("Accept"), SourceCidrIp: tea.String(src), DestCidrIp: tea.String(dst),
			Ipv6DestCidrIp: tea.String(dst6), SourcePortRange: tea.String(sport)}
		rules, err := convertPermission("sg-1", p, func(string) ([]string, error) { return nil, nil })
		if err != nil {
			return
		}
		for _, r := range rules {
			if sp := r.SourcePorts; sp != (cloud.PortRange{}) && (sp.From < 0 || sp.To > 65535 || sp.From > sp.To) {
				t.Errorf("accepted source ports %v from %q", sp, sport)
			}
			if (r.Protocol == cloud.ProtoTCP || r.Protocol == cloud.ProtoUDP) && (r.Ports.From < 0 || r.Ports.To > 65535 || r.Ports.From > r.Ports.To) {
				t.Errorf("accepted ports %v from %q", r.Ports, ports)
			}
		}
	})
}

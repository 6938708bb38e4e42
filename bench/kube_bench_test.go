package bench

import (
	"context"
	"fmt"
	"math/rand/v2"
	"net/netip"
	"os/exec"
	"runtime"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/portcheck/portcheck/internal/lab"
	"github.com/portcheck/portcheck/providers/firewall"
	"github.com/portcheck/portcheck/providers/firewall/netfilter"
)

// Kube-proxy node rulesets of 5,000 and 10,000 services, in the two
// shapes kube-proxy writes: iptables (through iptables-nft-restore, as
// on current distributions) and native nftables. The rule shapes are
// kube-proxy's own (pkg/proxy/iptables and pkg/proxy/nftables): per
// service a KUBE-SVC chain picking an endpoint with statistic --mode
// random, per endpoint a KUBE-SEP chain marking hairpin traffic for
// masquerade (MARK --set-xmark 0x4000/0x4000) and DNATing to the pod;
// every fifth service a NodePort through KUBE-EXT; in nft, the
// service-ips and service-nodeports verdict maps on concatenated keys and
// numgen vmaps. Loading one into a namespace takes the kernel seconds, so
// each benchmark loads its ruleset once, outside the timed loop; they
// need root and skip with the reason without it, like the lab tests.

const (
	kubeNode   = "10.77.0.2" // the node's address (the lab link's .2)
	kubeClient = "10.77.0.1"
)

// kubeService is one service port with its endpoints.
type kubeService struct {
	id        string // the hash part of chain names
	clusterIP netip.Addr
	port      int
	proto     string
	nodePort  int // 0 = none
	endpoints []netip.Addr
}

func kubeServices(n int) []kubeService {
	rng := rand.New(rand.NewPCG(uint64(n), 10))
	out := make([]kubeService, n)
	for i := range out {
		s := kubeService{
			id:        fmt.Sprintf("%016X", rng.Uint64()),
			clusterIP: netip.AddrFrom4([4]byte{172, byte(20 + i/65536), byte(i / 256 % 256), byte(i % 256)}),
			port:      []int{80, 443, 8080, 9090, 53}[rng.IntN(5)],
			proto:     "tcp",
		}
		if s.port == 53 && i%2 == 0 {
			s.proto = "udp"
		}
		if i%5 == 0 {
			s.nodePort = 30000 + i/5
		}
		for range 1 + rng.IntN(3) {
			s.endpoints = append(s.endpoints, netip.AddrFrom4([4]byte{10, byte(244 + rng.IntN(6)), byte(rng.IntN(256)), byte(1 + rng.IntN(254))}))
		}
		out[i] = s
	}
	return out
}

// kubeIptables is iptables-save input for a node with these services.
func kubeIptables(svcs []kubeService) string {
	var b strings.Builder
	b.WriteString(`*filter
:INPUT ACCEPT [0:0]
:FORWARD ACCEPT [0:0]
:OUTPUT ACCEPT [0:0]
:KUBE-EXTERNAL-SERVICES - [0:0]
:KUBE-FIREWALL - [0:0]
:KUBE-FORWARD - [0:0]
:KUBE-KUBELET-CANARY - [0:0]
:KUBE-NODEPORTS - [0:0]
:KUBE-PROXY-CANARY - [0:0]
:KUBE-PROXY-FIREWALL - [0:0]
:KUBE-SERVICES - [0:0]
-A INPUT -m conntrack --ctstate NEW -m comment --comment "kubernetes load balancer firewall" -j KUBE-PROXY-FIREWALL
-A INPUT -m comment --comment "kubernetes health check service ports" -j KUBE-NODEPORTS
-A INPUT -m conntrack --ctstate NEW -m comment --comment "kubernetes externally-visible service portals" -j KUBE-EXTERNAL-SERVICES
-A INPUT -j KUBE-FIREWALL
-A FORWARD -m conntrack --ctstate NEW -m comment --comment "kubernetes load balancer firewall" -j KUBE-PROXY-FIREWALL
-A FORWARD -m comment --comment "kubernetes forwarding rules" -j KUBE-FORWARD
-A FORWARD -m conntrack --ctstate NEW -m comment --comment "kubernetes service portals" -j KUBE-SERVICES
-A FORWARD -m conntrack --ctstate NEW -m comment --comment "kubernetes externally-visible service portals" -j KUBE-EXTERNAL-SERVICES
-A OUTPUT -m conntrack --ctstate NEW -m comment --comment "kubernetes load balancer firewall" -j KUBE-PROXY-FIREWALL
-A OUTPUT -m conntrack --ctstate NEW -m comment --comment "kubernetes service portals" -j KUBE-SERVICES
-A OUTPUT -j KUBE-FIREWALL
-A KUBE-FIREWALL ! -s 127.0.0.0/8 -d 127.0.0.0/8 -m comment --comment "block incoming localnet connections" -m conntrack ! --ctstate RELATED,ESTABLISHED,DNAT -j DROP
-A KUBE-FORWARD -m conntrack --ctstate INVALID -j DROP
-A KUBE-FORWARD -m comment --comment "kubernetes forwarding rules" -m mark --mark 0x4000/0x4000 -j ACCEPT
-A KUBE-FORWARD -m comment --comment "kubernetes forwarding conntrack rule" -m conntrack --ctstate RELATED,ESTABLISHED -j ACCEPT
COMMIT
*nat
:PREROUTING ACCEPT [0:0]
:INPUT ACCEPT [0:0]
:OUTPUT ACCEPT [0:0]
:POSTROUTING ACCEPT [0:0]
:KUBE-KUBELET-CANARY - [0:0]
:KUBE-MARK-MASQ - [0:0]
:KUBE-NODEPORTS - [0:0]
:KUBE-POSTROUTING - [0:0]
:KUBE-PROXY-CANARY - [0:0]
:KUBE-SERVICES - [0:0]
`)
	for _, s := range svcs {
		fmt.Fprintf(&b, ":KUBE-SVC-%s - [0:0]\n", s.id)
		if s.nodePort != 0 {
			fmt.Fprintf(&b, ":KUBE-EXT-%s - [0:0]\n", s.id)
		}
		for j := range s.endpoints {
			fmt.Fprintf(&b, ":KUBE-SEP-%s%d - [0:0]\n", s.id[:15], j)
		}
	}
	b.WriteString(`-A PREROUTING -m comment --comment "kubernetes service portals" -j KUBE-SERVICES
-A OUTPUT -m comment --comment "kubernetes service portals" -j KUBE-SERVICES
-A POSTROUTING -m comment --comment "kubernetes postrouting rules" -j KUBE-POSTROUTING
-A KUBE-MARK-MASQ -j MARK --set-xmark 0x4000/0x4000
-A KUBE-POSTROUTING -m mark ! --mark 0x4000/0x4000 -j RETURN
-A KUBE-POSTROUTING -j MARK --set-xmark 0x4000/0x0
-A KUBE-POSTROUTING -m comment --comment "kubernetes service traffic requiring SNAT" -j MASQUERADE --random-fully
`)
	for i, s := range svcs {
		name := fmt.Sprintf("ns%d/svc%d:p", i%50, i)
		fmt.Fprintf(&b, "-A KUBE-SERVICES -d %s/32 -p %s -m comment --comment \"%s cluster IP\" -m %s --dport %d -j KUBE-SVC-%s\n", s.clusterIP, s.proto, name, s.proto, s.port, s.id)
		fmt.Fprintf(&b, "-A KUBE-SVC-%s ! -s 10.244.0.0/16 -d %s/32 -p %s -m comment --comment \"%s cluster IP\" -m %s --dport %d -j KUBE-MARK-MASQ\n", s.id, s.clusterIP, s.proto, name, s.proto, s.port)
		for j, ep := range s.endpoints {
			sep := fmt.Sprintf("KUBE-SEP-%s%d", s.id[:15], j)
			if j < len(s.endpoints)-1 {
				fmt.Fprintf(&b, "-A KUBE-SVC-%s -m comment --comment \"%s -> %s:%d\" -m statistic --mode random --probability %.11f -j %s\n",
					s.id, name, ep, s.port, 1/float64(len(s.endpoints)-j), sep)
			} else {
				fmt.Fprintf(&b, "-A KUBE-SVC-%s -m comment --comment \"%s -> %s:%d\" -j %s\n", s.id, name, ep, s.port, sep)
			}
			fmt.Fprintf(&b, "-A %s -s %s/32 -m comment --comment %s -j KUBE-MARK-MASQ\n", sep, ep, name)
			fmt.Fprintf(&b, "-A %s -p %s -m comment --comment %s -m %s -j DNAT --to-destination %s:%d\n", sep, s.proto, name, s.proto, ep, s.port)
		}
		if s.nodePort != 0 {
			fmt.Fprintf(&b, "-A KUBE-NODEPORTS -p %s -m comment --comment %s -m %s --dport %d -j KUBE-EXT-%s\n", s.proto, name, s.proto, s.nodePort, s.id)
			fmt.Fprintf(&b, "-A KUBE-EXT-%s -m comment --comment \"masquerade traffic for %s external destinations\" -j KUBE-MARK-MASQ\n", s.id, name)
			fmt.Fprintf(&b, "-A KUBE-EXT-%s -j KUBE-SVC-%s\n", s.id, s.id)
		}
	}
	b.WriteString("-A KUBE-SERVICES -m comment --comment \"kubernetes service nodeports; NOTE: this must be the last rule in this chain\" -m addrtype --dst-type LOCAL -j KUBE-NODEPORTS\nCOMMIT\n")
	return b.String()
}

// kubeNft is the nft -f input for a node with these services, as
// kube-proxy's nftables mode writes it.
func kubeNft(svcs []kubeService) string {
	var b strings.Builder
	fmt.Fprintf(&b, `table ip kube-proxy {
	comment "rules for kube-proxy"
	set cluster-ips {
		type ipv4_addr
		comment "Active ClusterIPs"
	}
	set nodeport-ips {
		type ipv4_addr
		comment "IPs that accept NodePort traffic"
		elements = { %s }
	}
	map firewall-ips {
		type ipv4_addr . inet_proto . inet_service : verdict
	}
	map no-endpoint-nodeports {
		type inet_proto . inet_service : verdict
	}
	map no-endpoint-services {
		type ipv4_addr . inet_proto . inet_service : verdict
	}
	map service-ips {
		type ipv4_addr . inet_proto . inet_service : verdict
	}
	map service-nodeports {
		type inet_proto . inet_service : verdict
	}
	chain cluster-ips-check {
		ip daddr @cluster-ips reject comment "Reject traffic to invalid ports of ClusterIPs"
		ip daddr { 172.16.0.0/12 } drop comment "Drop traffic to unallocated ClusterIPs"
	}
	chain firewall-check {
		ip daddr . meta l4proto . th dport vmap @firewall-ips
	}
	chain mark-for-masquerade {
		meta mark set meta mark | 0x00004000
	}
	chain masquerading {
		meta mark & 0x00004000 == 0x00000000 return
		meta mark set meta mark ^ 0x00004000
		masquerade fully-random
	}
	chain reject-chain {
		reject
	}
	chain services {
		ip daddr . meta l4proto . th dport vmap @service-ips
		ip daddr @nodeport-ips meta l4proto . th dport vmap @service-nodeports
	}
	chain service-endpoints-check {
		ip daddr . meta l4proto . th dport vmap @no-endpoint-services
	}
	chain nodeport-endpoints-check {
		ip daddr @nodeport-ips meta l4proto . th dport vmap @no-endpoint-nodeports
	}
	chain filter-prerouting-pre-dnat {
		type filter hook prerouting priority -110; policy accept;
		ct state new jump firewall-check
	}
	chain filter-output-pre-dnat {
		type filter hook output priority -110; policy accept;
		ct state new jump firewall-check
	}
	chain filter-forward {
		type filter hook forward priority filter; policy accept;
		ct state new jump service-endpoints-check
		ct state new jump cluster-ips-check
	}
	chain filter-input {
		type filter hook input priority filter; policy accept;
		ct state new jump nodeport-endpoints-check
		ct state new jump service-endpoints-check
	}
	chain filter-output {
		type filter hook output priority filter; policy accept;
		ct state new jump service-endpoints-check
		ct state new jump cluster-ips-check
	}
	chain nat-output {
		type nat hook output priority -100; policy accept;
		jump services
	}
	chain nat-postrouting {
		type nat hook postrouting priority 100; policy accept;
		jump masquerading
	}
	chain nat-prerouting {
		type nat hook prerouting priority -100; policy accept;
		jump services
	}
`, kubeNode)
	var ips, svcEls, npEls []string
	for i, s := range svcs {
		name := fmt.Sprintf("%s-ns%d/svc%d/%s/p%d", s.id[:8], i%50, i, s.proto, s.port)
		fmt.Fprintf(&b, "\tchain service-%s {\n\t\tip daddr %s ip saddr != 10.0.0.0/8 jump mark-for-masquerade\n", name, s.clusterIP)
		var vm []string
		var eps strings.Builder
		for j, ep := range s.endpoints {
			epc := fmt.Sprintf("endpoint-%s%d-%s__%s/%d", s.id[8:15], j, name[9:], ep, s.port)
			vm = append(vm, fmt.Sprintf("%d : goto %s", j, epc))
			fmt.Fprintf(&eps, "\tchain %s {\n\t\tip saddr %s jump mark-for-masquerade\n\t\tmeta l4proto %s dnat to %s:%d\n\t}\n", epc, ep, s.proto, ep, s.port)
		}
		fmt.Fprintf(&b, "\t\tnumgen random mod %d vmap { %s }\n\t}\n", len(s.endpoints), strings.Join(vm, ", "))
		b.WriteString(eps.String())
		if s.nodePort != 0 {
			fmt.Fprintf(&b, "\tchain external-%s {\n\t\tjump mark-for-masquerade\n\t\tgoto service-%s\n\t}\n", name, name)
			npEls = append(npEls, fmt.Sprintf("%s . %d : goto external-%s", s.proto, s.nodePort, name))
		}
		ips = append(ips, s.clusterIP.String())
		svcEls = append(svcEls, fmt.Sprintf("%s . %s . %d : goto service-%s", s.clusterIP, s.proto, s.port, name))
	}
	b.WriteString("}\n")
	out := b.String()
	var els strings.Builder
	for k := 0; k < len(svcs); k += 500 {
		end := min(k+500, len(svcs))
		fmt.Fprintf(&els, "add element ip kube-proxy cluster-ips { %s }\n", strings.Join(ips[k:end], ", "))
		fmt.Fprintf(&els, "add element ip kube-proxy service-ips { %s }\n", strings.Join(svcEls[k:end], ", "))
	}
	for k := 0; k < len(npEls); k += 500 {
		fmt.Fprintf(&els, "add element ip kube-proxy service-nodeports { %s }\n", strings.Join(npEls[k:min(k+500, len(npEls))], ", "))
	}
	return out + els.String()
}

// kubeLab is a node namespace holding a kube-proxy ruleset, with routes
// to the pod networks (through the client side of its link) and
// forwarding on, as a node has.
func kubeLab(b *testing.B, shape string, n int) *lab.Host {
	b.Helper()
	lab.Require(b, "ip", "nft", "iptables-nft-restore", "iptables-nft-save")
	l := lab.New(b)
	client, node := l.Host("client"), l.Host("node")
	l.Link(client, node, "10.77.0")
	node.Exec("sysctl", "-q", "-w", "net.ipv4.ip_forward=1")
	for i := range 6 {
		node.Exec("ip", "route", "add", fmt.Sprintf("10.%d.0.0/16", 244+i), "via", kubeClient)
	}
	svcs := kubeServices(n)
	start := time.Now()
	switch shape {
	case "iptables-nft":
		kubeRestore(b, node, "iptables-nft-restore", kubeIptables(svcs))
	case "nft":
		kubeRestore(b, node, "nft", kubeNft(svcs))
	}
	b.Logf("loaded %d services (%s) into the kernel in %v", n, shape, time.Since(start).Round(time.Millisecond))
	return node
}

func kubeRestore(b *testing.B, h *lab.Host, tool, input string) {
	b.Helper()
	args := []string{"netns", "exec", h.NS, tool}
	if tool == "nft" {
		args = append(args, "-f", "-")
	}
	cmd := exec.Command("ip", args...)
	cmd.Stdin = strings.NewReader(input)
	if out, err := cmd.CombinedOutput(); err != nil {
		b.Fatalf("%s: %v\n%s", tool, err, out)
	}
}

// kubePackets are the four endpoints judged: ssh on the node (no service
// uses 22), two NodePorts, the kubelet.
func kubePackets(svcs []kubeService) []firewall.Packet {
	node, client := netip.MustParseAddr(kubeNode), netip.MustParseAddr(kubeClient)
	var nodePorts []int
	for _, s := range svcs {
		if s.nodePort != 0 && s.proto == "tcp" {
			nodePorts = append(nodePorts, s.nodePort)
		}
	}
	pkt := func(port int) firewall.Packet {
		return firewall.Packet{Src: client, Dst: node, Proto: firewall.ProtoTCP, SPort: 40000, DPort: uint16(port)}
	}
	return []firewall.Packet{pkt(22), pkt(nodePorts[0]), pkt(nodePorts[len(nodePorts)/2]), pkt(10250)}
}

// Target: read + evaluate 4 endpoints in ≤ 2 s (5,000 services) and ≤ 4 s
// (10,000) on a 2-core machine. Reports portcheck's peak RSS and its
// children's (nft, iptables-nft-save), and the rules read.
func BenchmarkKubeReadEvaluate(b *testing.B) {
	for _, shape := range []string{"iptables-nft", "nft"} {
		for _, n := range []int{5000, 10000} {
			b.Run(fmt.Sprintf("%s/%d-services", shape, n), func(b *testing.B) {
				node := kubeLab(b, shape, n)
				pkts := kubePackets(kubeServices(n))
				var rules int
				var heap uint64
				for b.Loop() {
					snap, err := netfilter.Read(context.Background(), node.Path())
					if err != nil {
						b.Fatal(err)
					}
					ev := snap.Evaluator()
					for _, p := range pkts {
						if d := ev.Evaluate(p); d.Verdict == firewall.Indeterminate && d.Branches == 0 {
							b.Fatalf("%v: indeterminate: %s", p, d.Reason)
						}
					}
					rules = countRules(snap)
					b.StopTimer()
					var ms runtime.MemStats
					runtime.GC()
					runtime.ReadMemStats(&ms)
					heap = ms.HeapInuse
					runtime.KeepAlive(ev)
					b.StartTimer()
				}
				b.ReportMetric(float64(rules), "rules")
				b.ReportMetric(float64(heap)/(1<<20), "MB-heap-snapshot")
				reportPeakRSS(b)
				b.ReportMetric(float64(childPeakKB(b, node, shape))/1024, "MB-peak-child")
			})
		}
	}
}

// Target: allow_from = ["0.0.0.0/0"] on tcp/22 judged in ≤ 1 s after the
// read: the source range split only where rules that can see tcp/22
// draw boundaries, then one packet per stretch.
func BenchmarkKubeAllowFromAll(b *testing.B) {
	for _, shape := range []string{"iptables-nft", "nft"} {
		for _, n := range []int{5000, 10000} {
			b.Run(fmt.Sprintf("%s/%d-services", shape, n), func(b *testing.B) {
				node := kubeLab(b, shape, n)
				snap, err := netfilter.Read(context.Background(), node.Path())
				if err != nil {
					b.Fatal(err)
				}
				ev := snap.Evaluator()
				flow := firewall.Flow{Dst: netip.MustParseAddr(kubeNode), Proto: firewall.ProtoTCP, DPort: 22, SPort: 40000}
				var stretches int
				for b.Loop() {
					samples, truncated := ev.SourceSamples(netip.MustParsePrefix("0.0.0.0/0"), 4096, flow)
					if truncated {
						b.Fatalf("0.0.0.0/0 splits into more than 4096 stretches for tcp/22")
					}
					for _, s := range samples {
						d := ev.Evaluate(firewall.Packet{Src: s, Dst: flow.Dst, Proto: flow.Proto, SPort: flow.SPort, DPort: flow.DPort})
						if d.Verdict == firewall.Indeterminate {
							b.Fatalf("from %s: indeterminate: %s", s, d.Reason)
						}
					}
					stretches = len(samples)
				}
				b.ReportMetric(float64(stretches), "stretches")
			})
		}
	}
}

func countRules(s *netfilter.Snapshot) int {
	n := 0
	for _, t := range s.Ruleset.Tables {
		for _, c := range t.Chains {
			n += len(c.Rules)
		}
	}
	return n
}

// reportPeakRSS reports the benchmark process's peak resident memory (it
// includes the generated ruleset text, a few MB).
func reportPeakRSS(b *testing.B) {
	var self syscall.Rusage
	if syscall.Getrusage(syscall.RUSAGE_SELF, &self) == nil {
		b.ReportMetric(float64(self.Maxrss)/1024, "MB-peak-self")
	}
}

// childPeakKB is the largest peak resident memory of the programs Read
// runs for this shape, each measured by /usr/bin/time. (getrusage's
// RUSAGE_CHILDREN cannot tell: a child forked with vfork carries the
// parent's peak until it execs.)
func childPeakKB(b *testing.B, h *lab.Host, shape string) int {
	cmds := [][]string{{"nft", "-j", "list", "chains"}}
	if shape == "nft" {
		cmds = append(cmds, []string{"nft", "-j", "-p", "list", "ruleset"})
	} else {
		cmds = append(cmds, []string{"iptables-nft-save"}, []string{"ip6tables-nft-save"})
	}
	peak := 0
	for _, c := range cmds {
		args := append([]string{"netns", "exec", h.NS, "/usr/bin/time", "-f", "%M"}, c...)
		cmd := exec.Command("ip", args...)
		var stderr strings.Builder
		cmd.Stderr = &stderr
		if err := cmd.Run(); err != nil {
			b.Logf("measuring %v: %v", c, err)
			return 0
		}
		lines := strings.Fields(stderr.String())
		if len(lines) == 0 {
			continue
		}
		if kb, err := strconv.Atoi(lines[len(lines)-1]); err == nil && kb > peak {
			peak = kb
		}
	}
	return peak
}

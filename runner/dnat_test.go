package runner_test

import (
	"fmt"
	"os"
	"strings"
	"testing"

	"github.com/portcheck/portcheck/internal/lab"
	"github.com/portcheck/portcheck/runner"
)

// TestPublishedPortWithoutHostListener pins issue 9.3: a port DNATed to a
// container (Docker with userland-proxy=false, kube-proxy) has no listener
// on the host, yet traffic is delivered. L1 follows the DNAT L2 computes
// and looks for the listener in the container's namespace; when that
// namespace is not on this machine it says the listener is not checked —
// never a false not_listening.
func TestPublishedPortWithoutHostListener(t *testing.T) {
	lab.Require(t, "ip", "nft", "sysctl")
	l := lab.New(t)
	client, server := l.Pair()
	ctr := l.Host("ctr")
	b := 10 + os.Getpid()%200
	ctrAddr := fmt.Sprintf("172.30.%d.2", b)
	server.Exec("ip", "link", "add", "br0", "type", "bridge")
	server.Exec("ip", "addr", "add", fmt.Sprintf("172.30.%d.1/24", b), "dev", "br0")
	server.Exec("ip", "link", "set", "br0", "up")
	server.Exec("ip", "link", "add", "vh", "type", "veth", "peer", "name", "vc", "netns", ctr.NS)
	server.Exec("ip", "link", "set", "vh", "master", "br0")
	server.Exec("ip", "link", "set", "vh", "up")
	server.Exec("sysctl", "-qw", "net.ipv4.ip_forward=1")
	ctr.Exec("ip", "addr", "add", ctrAddr+"/24", "dev", "vc")
	ctr.Exec("ip", "link", "set", "vc", "up")
	ctr.Exec("ip", "route", "add", "default", "via", fmt.Sprintf("172.30.%d.1", b))
	ctr.ListenTCP("tcp4", "0.0.0.0:80")
	server.NFT(fmt.Sprintf(`table ip nat {
  chain prerouting {
    type nat hook prerouting priority dstnat; policy accept;
    tcp dport 8080 dnat to %s:80
    tcp dport 8081 dnat to %s:81
    tcp dport 8082 dnat to 198.51.100.9:80
  }
}
`, ctrAddr, ctrAddr))

	endpoint := func(port int, listening bool) string {
		x := ""
		if listening {
			x = "\n  expect {\n    listening {}\n  }"
		}
		return pairHosts(client, server) + fmt.Sprintf(`
endpoint "pub" {
  host    = host.server
  from    = [host.client]
  port    = %d
  timeout = "300ms"
  retries = 0%s
}
`, port, x)
	}

	t.Run("listener in the container", func(t *testing.T) {
		er := verifyOne(t, endpoint(8080, false), false)
		r := resultOf(er, "L1 listening")
		if r == nil || r.Status != runner.StatusPass || !strings.Contains(r.Summary, "DNATs it to "+ctrAddr+":80") || !strings.Contains(r.Summary, ctr.NS) {
			t.Fatalf("L1 should pass through the DNAT into %s:\n%s", ctr.NS, dump(er))
		}
		t.Log(r.Summary)
		if er.Diagnosis.Cause != runner.CauseOK || statusOf(er, "L4 connectivity") != runner.StatusPass {
			t.Errorf("diagnosis %s, want ok with L4 open:\n%s", er.Diagnosis.Cause, dump(er))
		}
	})
	t.Run("nothing listens behind the DNAT", func(t *testing.T) {
		er := verifyOne(t, endpoint(8081, false), false)
		r := resultOf(er, "L1 listening")
		if r == nil || r.Status != runner.StatusFail || r.Cause != runner.CauseNotListening || !strings.Contains(r.Summary, "nothing listens there") {
			t.Fatalf("L1 should fail naming the container:\n%s", dump(er))
		}
	})
	for _, declared := range []bool{false, true} {
		t.Run(fmt.Sprintf("translated address elsewhere, declared=%v", declared), func(t *testing.T) {
			er := verifyOne(t, endpoint(8082, declared), false)
			r := resultOf(er, "L1 listening")
			want := runner.StatusSkip
			if declared {
				want = runner.StatusError
			}
			if r == nil || r.Status != want || !strings.Contains(r.Summary, "198.51.100.9:80") || !strings.Contains(r.Summary, "not checked") {
				t.Fatalf("L1 should be %s saying the listener behind the DNAT is not checked:\n%s", want, dump(er))
			}
			if er.Diagnosis.Cause == runner.CauseNotListening {
				t.Errorf("diagnosis not_listening, which is false:\n%s", dump(er))
			}
		})
	}
}

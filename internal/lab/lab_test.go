package lab

import (
	"net"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/portcheck/portcheck/internal/netns"
)

func TestMain(m *testing.M) {
	MaybeServe()
	os.Exit(m.Run())
}

func TestPairConnectsAndTearsDown(t *testing.T) {
	var nsNames []string
	t.Run("lab", func(t *testing.T) {
		l := New(t)
		client, server := l.Pair()
		nsNames = []string{client.NS, server.NS}
		ln := server.ListenTCP("tcp", server.Addr().String()+":8080")
		c, err := netns.DialContext(t.Context(), client.Path(), &net.Dialer{Timeout: 2 * time.Second}, "tcp", ln.Addr().String())
		if err != nil {
			t.Fatalf("dial from client namespace: %v", err)
		}
		c.Close()
		// The lab address must live in the namespace, not on this machine.
		// (Never dial it from the host namespace: that would leave the box.)
		addrs, err := net.InterfaceAddrs()
		if err != nil {
			t.Fatal(err)
		}
		for _, a := range addrs {
			if strings.HasPrefix(a.String(), server.Addr().String()+"/") {
				t.Fatalf("lab address %s is configured in the host namespace", server.Addr())
			}
		}
	})
	out, _ := exec.Command("ip", "netns", "list").CombinedOutput()
	for _, ns := range nsNames {
		if strings.Contains(string(out), ns) {
			t.Errorf("namespace %s left behind after the test", ns)
		}
	}
}

func TestSpawnNamesProcess(t *testing.T) {
	l := New(t)
	_, server := l.Pair()
	pid := Spawn(t, server, "fake-nginx", "tcp", "0.0.0.0:8081")
	comm, err := os.ReadFile("/proc/" + itoa(pid) + "/comm")
	if err != nil {
		t.Fatal(err)
	}
	// ip netns exec execs the target, so the pid is the listener itself.
	if got := strings.TrimSpace(string(comm)); got != "fake-nginx" {
		t.Fatalf("comm = %q, want fake-nginx", got)
	}
}

func itoa(i int) string { return strconv.Itoa(i) }

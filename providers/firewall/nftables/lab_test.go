package nftables

import (
	"context"
	"flag"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/portcheck/portcheck/internal/lab"
)

// These tests load rulesets into throw-away namespaces with the real nft
// and iptables-nft and read them back; they need root and skip without it.

var update = flag.Bool("update", false, "rewrite testdata/*.json and *.txt from the real nft (needs root)")

// fixtures are the test rulesets: each loads into a fresh namespace, where
// rule handles come out the same every time.
var fixtures = []struct {
	name string
	load func(t *testing.T, h *lab.Host)
}{
	{"inet", loadFile("inet.nft")},
	{"families", loadFile("families.nft")},
	{"unsupported", loadFile("unsupported.nft")},
	{"iptables", func(t *testing.T, h *lab.Host) {
		lab.Require(t, "iptables-nft")
		h.Exec("iptables-nft", "-A", "INPUT", "-p", "tcp", "-m", "multiport", "--dports", "1,2", "-j", "ACCEPT")
		h.Exec("iptables-nft", "-A", "INPUT", "-p", "tcp", "--dport", "22", "-j", "ACCEPT")
		h.Exec("iptables-nft", "-t", "nat", "-A", "PREROUTING", "-p", "tcp", "--dport", "80", "-j", "DNAT", "--to-destination", "10.0.0.1:8080")
	}},
}

func loadFile(name string) func(t *testing.T, h *lab.Host) {
	return func(t *testing.T, h *lab.Host) {
		b, err := os.ReadFile(filepath.Join("testdata", name))
		if err != nil {
			t.Fatal(err)
		}
		h.NFT(string(b))
	}
}

// TestRead loads each fixture with the kernel and checks that Read gives
// the same model as Parse does for the stored listings. With -update it
// first rewrites those listings from the namespace.
func TestRead(t *testing.T) {
	lab.Require(t, "nft")
	for _, fx := range fixtures {
		t.Run(fx.name, func(t *testing.T) {
			h := lab.New(t).Host("fw")
			fx.load(t, h)
			if *update {
				dump(t, h, fx.name)
			}
			got, err := Read(context.Background(), h.Path())
			if err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(want[fx.name], got, netipEqual); diff != "" {
				t.Errorf("Read mismatch (-want +got):\n%s", diff)
			}
		})
	}
}

// dump stores what Read's two nft commands print. The text keeps stderr,
// where nft puts its iptables-nft warnings, as a terminal shows it.
func dump(t *testing.T, h *lab.Host, name string) {
	t.Helper()
	jsonOut, err := exec.Command("ip", "netns", "exec", h.NS, "nft", "-j", "list", "ruleset").Output()
	if err != nil {
		t.Fatal(err)
	}
	text, err := exec.Command("ip", "netns", "exec", h.NS, "sh", "-c", "nft -a -s list ruleset 2>&1").Output()
	if err != nil {
		t.Fatal(err)
	}
	for ext, b := range map[string][]byte{".json": jsonOut, ".txt": text} {
		if err := os.WriteFile(filepath.Join("testdata", name+ext), b, 0o644); err != nil {
			t.Fatal(err)
		}
	}
}

// TestReadNoNft checks the error when nft is not installed.
func TestReadNoNft(t *testing.T) {
	t.Setenv("PATH", t.TempDir())
	_, err := Read(context.Background(), "")
	if err == nil || !strings.Contains(err.Error(), "nft is not installed") {
		t.Fatalf("Read without nft: %v", err)
	}
}

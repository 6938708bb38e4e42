package firewalld

import (
	"context"
	"errors"
	"io/fs"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/godbus/dbus/v5"
	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"

	"github.com/portcheck/portcheck/internal/lab"
	"github.com/portcheck/portcheck/internal/netns"
)

func TestReadWithoutBus(t *testing.T) {
	t.Setenv("DBUS_SYSTEM_BUS_ADDRESS", "unix:path="+filepath.Join(t.TempDir(), "none.sock"))
	if _, err := Read(t.Context(), ""); !errors.Is(err, ErrNotRunning) {
		t.Fatalf("Read without a bus: %v, want ErrNotRunning", err)
	}
}

// TestLabFirewalld runs a real firewalld in a lab namespace and checks what
// Read reports against what firewall-cmd did and what the kernel does.
func TestLabFirewalld(t *testing.T) {
	lab.Require(t, "nft")
	l := lab.New(t)
	client, server := l.Host("client"), l.Host("server")
	clientAddr, serverAddr := l.Link(client, server, "10.77.1")
	iface := server.Ifaces[0]
	hostRuleset := hostNFT(t, "list", "ruleset")
	_, runDirErr := os.Stat("/run/firewalld")

	var fw *lab.Firewalld
	t.Run("firewalld", func(t *testing.T) {
		fw = server.StartFirewalld(t)
		ctx := t.Context()
		read := func() *State {
			t.Helper()
			st, err := Read(ctx, server.Path())
			if err != nil {
				t.Fatal(err)
			}
			return st
		}
		dial := func(port string) error {
			c, err := netns.DialContext(ctx, client.Path(), &net.Dialer{Timeout: 2 * time.Second}, "tcp", net.JoinHostPort(serverAddr.String(), port))
			if err == nil {
				c.Close()
			}
			return err
		}
		for _, port := range []string{"80", "8080", "8081"} {
			server.ListenTCP("tcp", net.JoinHostPort(serverAddr.String(), port))
		}

		st := read()
		if st.PID != fw.PID || st.DaemonState != "RUNNING" || st.Version == "" {
			t.Errorf("pid %d state %q version %q; want pid %d, RUNNING", st.PID, st.DaemonState, st.Version, fw.PID)
		}
		if st.DefaultZone != "public" || st.PermanentDefaultZone != "public" {
			t.Errorf("default zone %q, permanent %q; want public", st.DefaultZone, st.PermanentDefaultZone)
		}
		if want := []string{fw.ConfigDir, "/usr/lib/firewalld"}; !slices.Equal(st.ConfigDirs, want) {
			t.Errorf("config dirs %v, want %v", st.ConfigDirs, want)
		}
		if len(st.Drift) != 0 || len(st.PermanentErrors) != 0 {
			t.Errorf("fresh firewalld: drift %+v, errors %v", st.Drift, st.PermanentErrors)
		}
		if st.Runtime["public"] == nil || st.Permanent["drop"] == nil {
			t.Fatalf("zones missing: runtime %d, permanent %d", len(st.Runtime), len(st.Permanent))
		}
		if tables := server.Exec("nft", "list", "tables"); !strings.Contains(tables, "table inet firewalld") {
			t.Errorf("namespace ruleset has no firewalld table:\n%s", tables)
		}

		// The classic trap: opened without --permanent.
		fw.Cmd(t, "--add-port=8080/tcp")
		st = read()
		wantDrift(t, st, Drift{Zone: "public", Kind: "port", Item: "8080/tcp", Runtime: true})
		if z := st.ZoneFor(iface, clientAddr); z != "public" {
			t.Errorf("zone for %s from %s = %q, want public", iface, clientAddr, z)
		}
		if how, ok := st.Opens("public", "tcp", 8080, clientAddr); !ok || how != "port 8080/tcp" {
			t.Errorf("runtime: Opens 8080 = %q, %v", how, ok)
		}
		if how, ok := st.OpensPermanent("public", "tcp", 8080, clientAddr); ok {
			t.Errorf("permanent: 8080 open via %q", how)
		}
		// The kernel agrees with the runtime view.
		if err := dial("8080"); err != nil {
			t.Errorf("dial 8080 (open at runtime): %v", err)
		}
		if _, ok := st.Opens("public", "tcp", 8081, clientAddr); ok || dial("8081") == nil {
			t.Errorf("8081 should be closed in Opens and in the kernel")
		}

		fw.Cmd(t, "--permanent", "--add-port=9090/tcp")
		wantDrift(t, read(),
			Drift{Zone: "public", Kind: "port", Item: "8080/tcp", Runtime: true},
			Drift{Zone: "public", Kind: "port", Item: "9090/tcp", Permanent: true})

		// Rules firewalld writes to XML itself must read back as the same
		// canonical text it reports at runtime.
		fw.Cmd(t, `--add-rich-rule=rule family="ipv4" source address="10.77.0.0/16" port port="5432" protocol="tcp" log prefix="pg " level="info" limit value="3/minute" accept`,
			`--add-rich-rule=rule priority="-5" family="ipv6" source NOT address="fd00::/8" service name="http" reject type="icmp6-adm-prohibited"`)
		fw.Cmd(t, "--runtime-to-permanent")
		st = read()
		wantDrift(t, st)
		if _, ok := st.OpensPermanent("public", "tcp", 9090, clientAddr); ok {
			t.Errorf("9090 still permanent after --runtime-to-permanent")
		}
		if how, ok := st.OpensPermanent("public", "tcp", 5432, clientAddr); !ok || !strings.HasPrefix(how, "rich rule ") {
			t.Errorf("permanent: Opens 5432 = %q, %v; want the rich rule", how, ok)
		}

		fw.Cmd(t, "--zone=internal", "--change-interface="+iface)
		fw.Cmd(t, "--zone=internal", "--add-service=http")
		st = read()
		if a := st.Active["internal"]; a == nil || !slices.Contains(a.Interfaces, iface) {
			t.Errorf("internal not active on %s: %+v", iface, a)
		}
		if z := st.ZoneFor(iface, clientAddr); z != "internal" {
			t.Errorf("zone for %s = %q, want internal", iface, z)
		}
		if d := cmp.Diff([]Port{{"80", "tcp"}}, st.Services["http"].Ports); d != "" {
			t.Errorf("service http ports (-want +got):\n%s", d)
		}
		if how, ok := st.Opens("internal", "tcp", 80, clientAddr); !ok || how != "service http" {
			t.Errorf("Opens internal 80 = %q, %v; want service http", how, ok)
		}
		if err := dial("80"); err != nil {
			t.Errorf("dial 80 (service http in internal): %v", err)
		}
		if _, ok := st.Opens("internal", "tcp", 8080, clientAddr); ok || dial("8080") == nil {
			t.Errorf("8080 is public's, not internal's: should be closed now")
		}
		wantDrift(t, st,
			Drift{Zone: "internal", Kind: "service", Item: "http", Runtime: true},
			Drift{Zone: "internal", Kind: "interface", Item: iface, Runtime: true})

		t.Run("legacy API", func(t *testing.T) { compareLegacy(t, ctx, st) })

		// firewalld loads our parser's test zone itself: its runtime view
		// must equal what ParseZoneXML makes of the file.
		installLabZone(t, fw.ConfigDir)
		fw.Cmd(t, "--reload")
		st = read()
		if st.Runtime["lab"] == nil {
			t.Fatalf("firewalld did not load testdata/zones/lab.xml")
		}
		for _, d := range st.Drift {
			if d.Zone == "lab" {
				t.Errorf("lab.xml: firewalld and ParseZoneXML disagree: %+v", d)
			}
		}
		if _, ok := st.Opens("internal", "tcp", 80, clientAddr); ok {
			t.Errorf("service http survived the reload; it was runtime only")
		}

		_, err := Read(ctx, "")
		if !errors.Is(err, ErrNotRunning) || !strings.Contains(err.Error(), "another network namespace") {
			t.Errorf("Read for the host namespace: %v, want ErrNotRunning (another namespace)", err)
		}
		if got := hostNFT(t, "list", "ruleset"); got != hostRuleset {
			t.Errorf("the host's ruleset changed:\nbefore:\n%s\nafter:\n%s", hostRuleset, got)
		}
	})

	// The harness cleaned up after the subtest.
	if fw != nil {
		if err := syscall.Kill(fw.PID, 0); !errors.Is(err, syscall.ESRCH) {
			t.Errorf("firewalld (pid %d) still runs after the test: %v", fw.PID, err)
		}
		if _, err := os.Stat(filepath.Dir(fw.ConfigDir)); !errors.Is(err, fs.ErrNotExist) {
			t.Errorf("temp dir %s left behind", filepath.Dir(fw.ConfigDir))
		}
	}
	if _, err := os.Stat("/run/firewalld"); errors.Is(runDirErr, fs.ErrNotExist) && !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("/run/firewalld left behind")
	}
}

// wantDrift checks the complete drift list.
func wantDrift(t *testing.T, st *State, want ...Drift) {
	t.Helper()
	if d := cmp.Diff(want, st.Drift, cmpopts.EquateEmpty()); d != "" {
		t.Errorf("drift (-want +got):\n%s", d)
	}
}

// compareLegacy reads every zone and the http service through the tuple
// API of old firewalld versions, which 1.3 still serves, and compares.
func compareLegacy(t *testing.T, ctx context.Context, st *State) {
	conn, err := dbus.ConnectSystemBus(dbus.WithContext(ctx))
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	c := newClient(ctx, conn)
	c.legacy = true
	for name, want := range st.Runtime {
		got, err := c.zone(name)
		if err != nil {
			t.Fatal(err)
		}
		want := *want
		want.Forward = false // not in the tuple
		if d := cmp.Diff(&want, got); d != "" {
			t.Errorf("zone %s via getZoneSettings (-settings2 +legacy):\n%s", name, d)
		}
	}
	got, err := c.service("http")
	if err != nil {
		t.Fatal(err)
	}
	if d := cmp.Diff(st.Services["http"], got); d != "" {
		t.Errorf("service http via getServiceSettings (-settings2 +legacy):\n%s", d)
	}
}

// installLabZone copies testdata/zones/lab.xml into firewalld's permanent
// configuration, with the ipsets it names.
func installLabZone(t *testing.T, configDir string) {
	t.Helper()
	files := map[string][]byte{
		"zones/lab.xml":            readTestdata(t, "zones/lab.xml"),
		"ipsets/trusted-hosts.xml": []byte(`<?xml version="1.0" encoding="utf-8"?><ipset type="hash:ip"/>`),
		"ipsets/blocklist.xml":     []byte(`<?xml version="1.0" encoding="utf-8"?><ipset type="hash:ip"/>`),
	}
	for rel, data := range files {
		path := filepath.Join(configDir, rel)
		if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(path, data, 0o644); err != nil {
			t.Fatal(err)
		}
	}
}

// hostNFT runs a read-only nft command in the host's own namespace.
func hostNFT(t *testing.T, args ...string) string {
	t.Helper()
	out, err := exec.Command("nft", args...).CombinedOutput()
	if err != nil {
		t.Fatalf("nft %s: %v\n%s", strings.Join(args, " "), err, out)
	}
	// Counters change with every packet the host itself sends; the rules
	// are what must stay unchanged.
	return counterRe.ReplaceAllString(string(out), "counter packets N bytes N")
}

var counterRe = regexp.MustCompile(`counter packets \d+ bytes \d+`)

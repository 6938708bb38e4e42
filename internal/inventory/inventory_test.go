package inventory

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/portcheck/portcheck/config"
	"github.com/portcheck/portcheck/internal/golden"
)

// readAll reads files as the command does and returns the HCL, the
// notices and the errors as text.
func readAll(t testing.TB, f Format, states []string, files ...string) (string, string, string) {
	t.Helper()
	var entries []Entry
	var notes, errs []string
	for _, name := range files {
		data, err := os.ReadFile(name)
		if err != nil {
			t.Fatal(err)
		}
		e, n, es := Read(name, data, f, states)
		entries = append(entries, e...)
		for _, x := range n {
			notes = append(notes, x.String())
		}
		for _, x := range es {
			errs = append(errs, x.Error())
		}
	}
	if len(errs) > 0 {
		return "", strings.Join(notes, "\n"), strings.Join(errs, "\n")
	}
	out, es := HCL(entries, "Imported from "+strings.Join(files, ", ")+".")
	for _, x := range es {
		errs = append(errs, x.Error())
	}
	return string(out), strings.Join(notes, "\n"), strings.Join(errs, "\n")
}

// checkHCL: the output is a valid configuration and already canonical
// (what `portcheck validate` and `portcheck fmt -check` check).
func checkHCL(t testing.TB, src string) *config.Config {
	t.Helper()
	dir := t.TempDir()
	p := filepath.Join(dir, "import.pc.hcl")
	if err := os.WriteFile(p, []byte(src), 0o644); err != nil {
		t.Fatal(err)
	}
	cfg, diags := config.Load(dir, config.Options{})
	if diags.HasErrors() {
		t.Fatalf("imported HCL does not validate: %s\n%s", diags.Error(), src)
	}
	if formatted, diags := config.Format(p, []byte(src)); diags.HasErrors() || string(formatted) != src {
		t.Fatalf("imported HCL is not canonical (portcheck fmt): %v", diags)
	}
	return cfg
}

func TestImportGolden(t *testing.T) {
	for _, tc := range []struct {
		name, golden string
		format       Format
		states       []string
		files        []string
		endpoints    int
	}{
		{"batch file", "batch.pc.hcl", FormatBatch, nil, []string{"testdata/batch.txt"}, 11},
		{"host:port list", "list.pc.hcl", FormatList, nil, []string{"testdata/list.txt"}, 6},
		{"list, format detected", "list.pc.hcl", FormatAuto, nil, []string{"testdata/list.txt"}, 6},
		{"nmap open ports", "nmap.pc.hcl", FormatNmap, []string{"open"}, []string{"testdata/nmap.xml"}, 8},
		{"nmap, closed and filtered declared closed", "nmap_all.pc.hcl", FormatAuto, []string{"open", "closed", "filtered"}, []string{"testdata/nmap.xml"}, 11},
		{"batch and nmap together, hosts merged", "merged.pc.hcl", FormatAuto, []string{"open"}, []string{"testdata/batch.txt", "testdata/nmap.xml"}, 14},
	} {
		t.Run(tc.name, func(t *testing.T) {
			out, notes, errs := readAll(t, tc.format, tc.states, tc.files...)
			if errs != "" {
				t.Fatal(errs)
			}
			golden.Compare(t, filepath.Join("testdata", tc.golden), []byte(out))
			golden.Compare(t, filepath.Join("testdata", strings.TrimSuffix(tc.golden, ".pc.hcl")+".notes"), []byte(notes))
			cfg := checkHCL(t, out)
			if len(cfg.Endpoints) != tc.endpoints {
				t.Errorf("%d endpoints, want %d", len(cfg.Endpoints), tc.endpoints)
			}
			addrs := map[string]bool{}
			for _, h := range cfg.Hosts {
				for _, a := range h.Addresses {
					if addrs[a.String()] {
						t.Errorf("address %s in two host blocks", a)
					}
					addrs[a.String()] = true
				}
			}
		})
	}
}

// A line that cannot be read is an error with its file and line, never
// skipped; nothing is written.
func TestMalformedInputReportedWithLines(t *testing.T) {
	_, _, errs := readAll(t, FormatBatch, nil, "testdata/malformed.txt")
	golden.Compare(t, "testdata/malformed.err", []byte(errs+"\n"))
	if n := strings.Count(errs, "\n") + 1; n != 12 {
		t.Errorf("%d errors, want 12 (every line but the first)", n)
	}

	for _, tc := range []struct {
		name, data string
		format     Format
		want       string
	}{
		{"list line with a service", "10.0.0.5:22:ssh\n", FormatList, "in.txt:1: \"10.0.0.5:22:ssh\": want ADDRESS:PORT (a list line has no service"},
		{"error on line 3", "10.0.0.5:22\n\n10.0.0.5:x\n", FormatList, `in.txt:3: "10.0.0.5:x": port "x"`},
		{"not nmap XML", "<html><body/></html>", FormatAuto, "in.txt:1: root element <html>: not an nmap XML scan"},
		{"broken XML", "<nmaprun>\n<host>\n<address addr=\"10.0.0.5\" addrtype=\"ipv4\">\n</host>", FormatNmap, "in.txt:4: not well-formed XML"},
		{"bad port id", "<nmaprun>\n<host><address addr=\"10.0.0.5\" addrtype=\"ipv4\"/>\n<ports>\n<port protocol=\"tcp\" portid=\"99999\"><state state=\"open\"/></port>\n</ports></host></nmaprun>", FormatNmap, `in.txt:4: <port protocol="tcp" portid="99999">`},
		{"bad address", "<nmaprun>\n<host>\n<address addr=\"10.0.0.300\" addrtype=\"ipv4\"/>\n</host></nmaprun>", FormatNmap, `in.txt:3: address "10.0.0.300"`},
		{"ports without address", "<nmaprun>\n<host>\n<ports><port protocol=\"tcp\" portid=\"22\"><state state=\"open\"/></port></ports>\n</host></nmaprun>", FormatNmap, "in.txt:2: <host> with ports and no IPv4 or IPv6 address"},
		{"empty nmap file", "", FormatNmap, "in.txt:1: no XML element"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, _, errs := Read("in.txt", []byte(tc.data), tc.format, []string{"open"})
			if !strings.Contains(errs.Error(), tc.want) {
				t.Errorf("errors %q, want %q", errs.Error(), tc.want)
			}
		})
	}
}

// The same port read open in one file and closed in another cannot be
// declared both ways: an error naming both places.
func TestConflictingStatesAreAnError(t *testing.T) {
	dir := t.TempDir()
	batch := filepath.Join(dir, "b.txt")
	os.WriteFile(batch, []byte("10.0.0.5:23:telnet\n"), 0o644)
	_, _, errs := readAll(t, FormatAuto, []string{"open", "closed"}, batch, "testdata/nmap.xml")
	if !strings.Contains(errs, "testdata/nmap.xml:") || !strings.Contains(errs, "10.0.0.5:23/tcp is closed here and open at "+batch+":1") {
		t.Errorf("errors %q", errs)
	}
}

func TestEndpointNamesAreUniqueIdentifiers(t *testing.T) {
	var lines []string
	for _, l := range []string{"10.0.0.1:80:http", "10.0.0.2:80:http", "10.0.0.1:8080:http", "10.0.0.3:80:9p", "10.0.0.3:81:a.b/c",
		"10.0.0.3:82:http_80", "10.0.0.3:83:ssh", "10.0.0.3:83/udp:ssh", "10.0.0.4:1:" + strings.Repeat("x", 100)} {
		lines = append(lines, l)
	}
	entries, errs := ParseText("n.txt", []byte(strings.Join(lines, "\n")), FormatBatch)
	if len(errs) > 0 {
		t.Fatal(errs)
	}
	out, errs := HCL(entries, "names")
	if len(errs) > 0 {
		t.Fatal(errs)
	}
	cfg := checkHCL(t, string(out))
	if len(cfg.Endpoints) != len(lines) {
		t.Fatalf("%d endpoints, want %d", len(cfg.Endpoints), len(lines))
	}
	got := map[string]bool{}
	for _, ep := range cfg.Endpoints {
		got[ep.Name] = true
	}
	for _, want := range []string{"http_10_0_0_1", "http_10_0_0_2", "http_8080", "svc_9p", "a_b_c", "http_80", "ssh_83", "ssh_83_udp"} {
		if !got[want] {
			t.Errorf("no endpoint %q in %v", want, got)
		}
	}
}

func FuzzParseText(f *testing.F) {
	for _, s := range []string{"10.0.0.5:22:ssh\n", "[::1]:80\n", "10.0.0.5:53/udp:domain\n#c\n\n", "::1:80", "[fe80::1%eth0]:1", "\xff\xfe:1:a"} {
		f.Add([]byte(s))
	}
	b, _ := os.ReadFile("testdata/batch.txt")
	f.Add(b)
	f.Fuzz(func(t *testing.T, data []byte) {
		for _, format := range []Format{FormatAuto, FormatBatch, FormatList} {
			entries, errs := ParseText("f.txt", data, format)
			for _, e := range errs {
				if e.Line < 1 || e.File != "f.txt" {
					t.Fatalf("error without a line: %v", e)
				}
			}
			if len(errs) > 0 || len(entries) == 0 {
				continue
			}
			out, errs := HCL(entries, "fuzz")
			if len(errs) > 0 {
				continue // conflicting states
			}
			checkHCL(t, string(out))
		}
	})
}

func FuzzParseNmap(f *testing.F) {
	b, _ := os.ReadFile("testdata/nmap.xml")
	f.Add(b)
	f.Add([]byte("<nmaprun><host><address addr=\"::1\" addrtype=\"ipv6\"/><ports><port protocol=\"udp\" portid=\"53\"><state state=\"open\"/><service name=\"a b\"/></port></ports></host></nmaprun>"))
	f.Fuzz(func(t *testing.T, data []byte) {
		entries, _, errs := ParseNmap("f.xml", data, []string{"open", "closed", "filtered"})
		if len(errs) > 0 || len(entries) == 0 {
			return
		}
		out, errs := HCL(entries, "fuzz")
		if len(errs) > 0 {
			return
		}
		checkHCL(t, string(out))
	})
}

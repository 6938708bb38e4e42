package nginx

import (
	"context"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/portcheck/portcheck/internal/golden"
	"github.com/portcheck/portcheck/internal/lab"
	"github.com/portcheck/portcheck/providers/lb"
)

// move.conf is a configuration Debian's nginx accepts
// (TestFixtureIsValidNginx); stream.conf needs the stream module, which
// nginx-light does not load, so only the parser reads it.
func TestParseGoldens(t *testing.T) {
	for _, name := range []string{"move.conf", "stream.conf"} {
		f, err := Read(context.Background(), filepath.Join("testdata", name))
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		b, err := json.MarshalIndent(f, "", "  ")
		if err != nil {
			t.Fatal(err)
		}
		golden.Compare(t, filepath.Join("testdata", strings.TrimSuffix(name, ".conf")+".json"), append(b, '\n'))
	}
}

func TestFind(t *testing.T) {
	move, err := Read(context.Background(), "testdata/move.conf")
	if err != nil {
		t.Fatal(err)
	}
	stream, err := Read(context.Background(), "testdata/stream.conf")
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name     string
		facts    *lb.Facts
		target   lb.Target
		pools    []string
		want     lb.Verdict
		gone     bool
		evidence string
	}{
		{"new port", move, lb.Target{IDs: []string{"10.0.1.5"}, Port: 9090}, []string{"web"}, lb.VerdictRegistered, false, "upstream web has 10.0.1.5:9090 (line 13): registered"},
		{"old port down", move, lb.Target{IDs: []string{"10.0.1.5"}, Port: 8080}, []string{"web"}, lb.VerdictUnused, false, "disabled (marked down in the configuration) [down]"},
		{"multi-line server", move, lb.Target{IDs: []string{"10.0.3.1"}, Port: 8080}, []string{"legacy"}, lb.VerdictRegistered, false, "line 22"},
		{"default port 80", move, lb.Target{IDs: []string{"localhost"}, Port: 80}, nil, lb.VerdictRegistered, false, "localhost"},
		{"gone, with the unresolved include named", move, lb.Target{IDs: []string{"10.0.1.9"}, Port: 9090}, []string{"web"}, lb.VerdictAbsent, false, "/nonexistent-portcheck/conf.d/*.conf"},
		{"stream upstream", stream, lb.Target{IDs: []string{"10.0.5.2"}, Port: 6432}, []string{"db"}, lb.VerdictRegistered, false, "upstream db has 10.0.5.2:6432"},
	} {
		p := lb.Find(tc.facts, tc.target, tc.pools...)
		if p.Verdict != tc.want || p.Deregistered(true) != tc.gone {
			t.Errorf("%s: verdict %s gone %v; want %s %v\n%s", tc.name, p.Verdict, p.Deregistered(true), tc.want, tc.gone, strings.Join(p.Evidence, "\n"))
		}
		if !strings.Contains(strings.Join(p.Evidence, "\n"), tc.evidence) {
			t.Errorf("%s: evidence %q lacks %q", tc.name, p.Evidence, tc.evidence)
		}
	}
	// Only includes where an upstream can be defined stay unresolved; the
	// stock mime.types is an assumption stated in the notes.
	if len(move.Unresolved) != 1 || len(move.Notes) != 1 || !strings.Contains(move.Notes[0], "mime.types") {
		t.Errorf("unresolved %+v, notes %q", move.Unresolved, move.Notes)
	}
}

// Without unresolved includes, absence is certain and the stock-file
// assumption is part of the evidence.
func TestGoneWithOnlyStockIncludes(t *testing.T) {
	f, err := Parse("n.conf", []byte("http {\n include mime.types;\n upstream u { server 10.0.0.1:9090; }\n}\n"))
	if err != nil {
		t.Fatal(err)
	}
	p := lb.Find(f, lb.Target{IDs: []string{"10.0.0.1"}, Port: 8080}, "u")
	if !p.Deregistered(false) {
		t.Fatalf("not deregistered: %+v", p)
	}
	if !strings.Contains(strings.Join(p.Evidence, "\n"), "assumed to hold no upstream") {
		t.Errorf("evidence %q does not state the assumption", p.Evidence)
	}
}

func TestParseErrors(t *testing.T) {
	for _, tc := range []struct{ name, conf, want string }{
		{"unclosed block", "http {\n upstream u {\n server 10.0.0.1;\n", `n.conf:2: "upstream" block is not closed by "}"`},
		{"stray brace", "http { }\n}\n", `n.conf:2: unexpected "}"`},
		{"missing semicolon", "http {\n upstream u { server 10.0.0.1 }\n}", `n.conf:2: unexpected "}" ("server" is not terminated by ";")`},
		{"unterminated quote", "http {\n upstream u { server \"10.0.0.1; }\n}\n", "n.conf:2: unterminated \" quote"},
		{"bad port", "http { upstream u { server 10.0.0.1:99999; } }", `n.conf:1: upstream u: server 10.0.0.1:99999: port "99999": want 1 to 65535`},
		{"bare IPv6", "http { upstream u { server 2001:db8::1; } }", "write an IPv6 address as [address]:port"},
		{"unknown parameter", "http { upstream u { server 10.0.0.1 heavy; } }", `unknown parameter "heavy"`},
		{"bad weight", "http { upstream u { server 10.0.0.1 weight=0; } }", `weight "0": want a positive number`},
		{"stream without port", "stream { upstream u { server 10.0.0.1; } }", "no port (a stream upstream needs one)"},
		{"upstream without name", "http { upstream { server 10.0.0.1; } }", "upstream needs one name"},
		{"server without address", "http { upstream u { server; } }", "server without an address"},
		{"text after a quote", "http { upstream u { server \"a\"b; } }", "after a quoted string"},
		{"statement is only a semicolon", ";", `n.conf:1: unexpected ";"`},
	} {
		_, err := Parse("n.conf", []byte(tc.conf))
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: error %v, want one containing %q", tc.name, err, tc.want)
		}
	}
}

func TestFixtureIsValidNginx(t *testing.T) {
	lab.Require(t, "nginx")
	abs, err := filepath.Abs("testdata/move.conf")
	if err != nil {
		t.Fatal(err)
	}
	if out, err := exec.Command("nginx", "-t", "-q", "-c", abs).CombinedOutput(); err != nil {
		t.Errorf("nginx -t: %v\n%s", err, out)
	}
}

func FuzzParse(f *testing.F) {
	for _, name := range []string{"move.conf", "stream.conf"} {
		b, err := os.ReadFile(filepath.Join("testdata", name))
		if err != nil {
			f.Fatal(err)
		}
		f.Add(b)
	}
	f.Add([]byte("http{upstream u{server [::1]:80 backup;server unix:/x;}}"))
	f.Fuzz(func(t *testing.T, data []byte) {
		facts, err := Parse("fuzz.conf", data)
		if err != nil {
			if !strings.HasPrefix(err.Error(), "fuzz.conf:") {
				t.Errorf("error does not name the file: %v", err)
			}
			return
		}
		for _, p := range facts.Pools {
			for _, m := range p.Members {
				if m.Port < 0 || m.Port > 65535 || m.State == "" {
					t.Errorf("member %+v", m)
				}
			}
		}
		if _, err := json.Marshal(facts); err != nil {
			t.Error(err)
		}
	})
}

package haproxy

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

// The fixtures are configurations Debian's haproxy accepts (TestFixturesAreValidHAProxy);
// their facts are goldens (go test -update rewrites them).
func TestParseGoldens(t *testing.T) {
	for _, name := range []string{"move.cfg", "unresolved.cfg"} {
		f, err := Read(context.Background(), filepath.Join("testdata", name))
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		b, err := json.MarshalIndent(f, "", "  ")
		if err != nil {
			t.Fatal(err)
		}
		golden.Compare(t, filepath.Join("testdata", strings.TrimSuffix(name, ".cfg")+".json"), append(b, '\n'))
	}
}

// The checklist's questions, answered from the move fixture.
func TestFindInMove(t *testing.T) {
	f, err := Read(context.Background(), "testdata/move.cfg")
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name     string
		target   lb.Target
		pools    []string
		want     lb.Verdict
		healthy  bool
		gone     bool
		evidence string
	}{
		{"new port registered (health not in a file)", lb.Target{IDs: []string{"10.0.1.5"}, Port: 9090}, []string{"web"}, lb.VerdictRegistered, false, false, "backend web has web1-new (10.0.1.5:9090) (line 23): registered"},
		{"old port disabled", lb.Target{IDs: []string{"10.0.1.5"}, Port: 8080}, []string{"web"}, lb.VerdictUnused, false, false, "[check disabled]"},
		{"old port weight 0", lb.Target{IDs: []string{"10.0.1.6"}, Port: 8080}, nil, lb.VerdictUnused, false, false, "unused (weight 0)"},
		{"IPv6 backup, bracketed", lb.Target{IDs: []string{"2001:db8:0::7"}, Port: 9090}, nil, lb.VerdictRegistered, false, false, "[backup check]"},
		{"quoted address", lb.Target{IDs: []string{"10.0.1.8"}, Port: 9090}, []string{"web"}, lb.VerdictRegistered, false, false, "web3"},
		{"nowhere", lb.Target{IDs: []string{"10.9.9.9"}, Port: 9090}, nil, lb.VerdictAbsent, false, true, "is no backend of the 3 pools read"},
		{"server without a port may be it", lb.Target{IDs: []string{"10.0.2.2"}, Port: 7000}, nil, lb.VerdictAbsent, false, false, "without a port"},
		{"port offset is not a port", lb.Target{IDs: []string{"10.0.2.3"}, Port: 1000}, nil, lb.VerdictAbsent, false, false, "without a port"},
		{"disabled backend", lb.Target{IDs: []string{"10.0.3.1"}, Port: 8080}, []string{"old"}, lb.VerdictUnused, false, false, "the backend is disabled"},
		{"a pool not in the file", lb.Target{IDs: []string{"10.0.1.5"}, Port: 9090}, []string{"web", "nosuch"}, lb.VerdictRegistered, false, false, `pool "nosuch" was not read`},
		{"host name template", lb.Target{IDs: []string{"API.internal"}, Port: 7000}, nil, lb.VerdictRegistered, false, false, "dyn[1-3]"},
	} {
		p := lb.Find(f, tc.target, tc.pools...)
		if p.Verdict != tc.want || p.Healthy() != tc.healthy || p.Deregistered(false) != tc.gone {
			t.Errorf("%s: verdict %s healthy %v gone %v; want %s %v %v\n%s", tc.name, p.Verdict, p.Healthy(), p.Deregistered(false),
				tc.want, tc.healthy, tc.gone, strings.Join(p.Evidence, "\n"))
		}
		if !strings.Contains(strings.Join(p.Evidence, "\n"), tc.evidence) {
			t.Errorf("%s: evidence %q lacks %q", tc.name, p.Evidence, tc.evidence)
		}
	}
}

// A conditional block leaves the answer open: the server inside is kept
// (flagged) and "gone" is never certain.
func TestUnresolvedKeepsAnswersOpen(t *testing.T) {
	f, err := Read(context.Background(), "testdata/unresolved.cfg")
	if err != nil {
		t.Fatal(err)
	}
	if len(f.Unresolved) != 2 {
		t.Fatalf("unresolved %+v, want the .if and the environment variable", f.Unresolved)
	}
	p := lb.Find(f, lb.Target{IDs: []string{"10.0.7.7"}, Port: 5432})
	if p.Verdict != lb.VerdictAbsent || p.Deregistered(true) {
		t.Errorf("absent with unresolved directives: verdict %s, deregistered %v", p.Verdict, p.Deregistered(true))
	}
	if !strings.Contains(strings.Join(p.Evidence, "\n"), "was not followed") {
		t.Errorf("evidence does not name the unresolved lines: %q", p.Evidence)
	}
}

func TestParseErrors(t *testing.T) {
	for _, tc := range []struct {
		name, cfg, want string
	}{
		{"server without address", "backend b\n server s1\n", "t.cfg:2: server needs a name and an address"},
		{"bad port", "backend b\n server s1 10.0.0.1:70000\n", `t.cfg:2: server s1: address "10.0.0.1:70000": port "70000": want 1 to 65535`},
		{"IPv6 without brackets", "backend b\n server s1 2001:db8::1\n", "write IPv6 as [address]:port"},
		{"unclosed bracket", "backend b\n server s1 [2001:db8::1:80\n", "no closing ]"},
		{"unknown prefix", "backend b\n server s1 foo@1.2.3.4:80\n", `unknown family prefix "foo"`},
		{"unterminated quote", "backend b\n server s1 \"10.0.0.1:80\n", "t.cfg:2: unterminated \" quote"},
		{"bad weight", "backend b\n server s1 10.0.0.1:80 weight heavy\n", `weight "heavy": want 0 to 256`},
		{"weight without value", "backend b\n default-server weight\n", "default-server: weight without a value"},
		{"unclosed .if", "backend b\n.if defined(X)\n server s1 10.0.0.1:80\n", "not closed by .endif"},
		{"stray .endif", ".endif\n", "t.cfg:1: .endif without .if"},
		{"backend without name", "backend\n", "backend without a name"},
		{"backslash at the end", "backend b \\", "a backslash ends the line"},
	} {
		_, err := Parse("t.cfg", []byte(tc.cfg))
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: error %v, want one containing %q", tc.name, err, tc.want)
		}
	}
}

func TestSplit(t *testing.T) {
	for _, tc := range []struct {
		line string
		want []string
	}{
		{"  server  a\t1.2.3.4:80  ", []string{"server", "a", "1.2.3.4:80"}},
		{"server a 1.2.3.4:80 # comment", []string{"server", "a", "1.2.3.4:80"}},
		{`server a "1.2.3.4:80" 'x y' \#not-a-comment`, []string{"server", "a", "1.2.3.4:80", "x y", "#not-a-comment"}},
		{`option "a\"b"`, []string{"option", `a"b`}},
		{"#only a comment", nil},
		{"", nil},
	} {
		got, err := split(tc.line)
		if err != nil || strings.Join(got, "|") != strings.Join(tc.want, "|") {
			t.Errorf("split(%q) = %q, %v; want %q", tc.line, got, err, tc.want)
		}
	}
}

// The fixtures really are HAProxy configurations: Debian's haproxy checks
// them (-c), so the parser is tested on the format HAProxy reads.
func TestFixturesAreValidHAProxy(t *testing.T) {
	lab.Require(t, "haproxy")
	for _, name := range []string{"move.cfg", "unresolved.cfg"} {
		cmd := exec.Command("haproxy", "-c", "-f", filepath.Join("testdata", name))
		cmd.Env = append(os.Environ(), "DB_HOST=10.0.5.9")
		if out, err := cmd.CombinedOutput(); err != nil {
			t.Errorf("haproxy -c %s: %v\n%s", name, err, out)
		}
	}
}

func TestReadRefusesBinary(t *testing.T) {
	p := filepath.Join(t.TempDir(), "x.cfg")
	if err := os.WriteFile(p, []byte("backend b\x00\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err := Read(context.Background(), p); err == nil || !strings.Contains(err.Error(), "binary file") {
		t.Errorf("error %v, want a binary-file refusal", err)
	}
}

// Any text gives facts or an error, never a panic, and facts name real
// ports only.
func FuzzParse(f *testing.F) {
	for _, name := range []string{"move.cfg", "unresolved.cfg"} {
		b, err := os.ReadFile(filepath.Join("testdata", name))
		if err != nil {
			f.Fatal(err)
		}
		f.Add(b)
	}
	f.Add([]byte("backend b\n server s [::1]:80\n server t ipv6@[::1]\n"))
	f.Fuzz(func(t *testing.T, data []byte) {
		facts, err := Parse("fuzz.cfg", data)
		if err != nil {
			if !strings.HasPrefix(err.Error(), "fuzz.cfg") {
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

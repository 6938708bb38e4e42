package facts

import (
	"bytes"
	"strings"
	"testing"
	"time"

	"github.com/portcheck/portcheck/providers/firewall"
	"github.com/portcheck/portcheck/providers/firewall/netfilter"
	"github.com/portcheck/portcheck/providers/selinux"
	"github.com/portcheck/portcheck/providers/sockets"
)

func validDoc(t testing.TB) []byte { return encodeDoc(t, true) }

func encodeDoc(t testing.TB, withHost bool) []byte {
	t.Helper()
	d := &Document{Schema: Schema, Version: Version,
		Host:     Host{Hostname: "web1", Collected: time.Date(2026, 12, 3, 12, 0, 0, 0, time.UTC), Kernel: "6.1.0"},
		Sockets:  &sockets.Table{Sockets: []sockets.Socket{}},
		Firewall: &netfilter.Snapshot{Manager: "none", Host: &firewall.Host{}},
		SELinux:  &selinux.HostFacts{RuntimeMode: "disabled"},
		Failures: []Failure{},
	}
	if !withHost {
		d.Firewall.Host = nil
	}
	var b bytes.Buffer
	if err := d.Encode(&b); err != nil {
		t.Fatal(err)
	}
	return b.Bytes()
}

func TestDecodeErrors(t *testing.T) {
	valid := string(validDoc(t))
	tests := []struct {
		name, doc, want string
	}{
		{"valid", valid, ""},
		{"newer version", strings.Replace(valid, `"version": 1`, `"version": 7`, 1), "facts version 7 is newer than this portcheck reads (1)"},
		{"version zero", strings.Replace(valid, `"version": 1`, `"version": 0`, 1), "facts version 0 is not valid"},
		{"truncated", valid[:len(valid)/2], "truncated"},
		{"missing observer", strings.Replace(valid, `"selinux": {`, `"selinux_gone": {`, 1), `"selinux" is missing and no failure of that observer is recorded`},
		{"missing observer, failure recorded", strings.Replace(strings.Replace(valid, `"selinux": {`, `"x": {`, 1), `"failures": []`, `"failures": [{"observer": "selinux", "error": "semanage is not installed"}]`, 1), ""},
		{"unknown observer failure", strings.Replace(valid, `"failures": []`, `"failures": [{"observer": "dns", "error": "x"}]`, 1), `unknown observer "dns"`},
		{"garbage", "\x00\x01\x02binary\xff", "not a facts document"},
		{"empty", "  \n", "empty file"},
		{"other JSON", `{"version": 1, "endpoints": []}`, `no "schema"`},
		{"wrong schema", strings.Replace(valid, Schema, "portcheck/report", 1), `schema "portcheck/report"`},
		{"wrong type", strings.Replace(valid, `"hostname": "web1"`, `"hostname": 12`, 1), "line "},
		{"no time", strings.Replace(valid, `"collected": "2026-12-03T12:00:00Z"`, `"collected": "0001-01-01T00:00:00Z"`, 1), "host.collected is missing"},
		{"firewall without host", string(encodeDoc(t, false)), "firewall.host"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			d, err := Decode(strings.NewReader(tt.doc), "web1.json")
			if tt.want == "" {
				if err != nil || d == nil {
					t.Fatalf("valid document: %v", err)
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), tt.want) || !strings.HasPrefix(err.Error(), "web1.json: ") {
				t.Fatalf("error %v, want one naming the file and %q", err, tt.want)
			}
		})
	}
}

// FuzzDecode: any input gives a document or an error naming the source,
// never a panic.
func FuzzDecode(f *testing.F) {
	f.Add(validDoc(f))
	f.Add([]byte(`{"schema":"portcheck/facts","version":1}`))
	f.Add([]byte(`{"schema":"portcheck/facts","version":1,"host":{"collected":"2026-01-01T00:00:00Z"},"failures":[{"observer":"sockets"},{"observer":"firewall"},{"observer":"selinux"}]}`))
	f.Add([]byte(`[[[[[[[[[[[[[[[[[[[[`))
	f.Fuzz(func(t *testing.T, b []byte) {
		d, err := Decode(bytes.NewReader(b), "fuzz.json")
		if err != nil {
			if !strings.HasPrefix(err.Error(), "fuzz.json: ") {
				t.Fatalf("error does not name the source: %v", err)
			}
			return
		}
		if d.Firewall != nil {
			d.Firewall.Evaluator() // a decoded ruleset must compile without panicking
		}
	})
}

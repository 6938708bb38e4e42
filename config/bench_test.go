package config

import (
	"fmt"
	"strings"
	"testing"
)

// benchSources generates hosts hosts and endpoints endpoints spread over
// ten files, with the variables, locals, references and expect blocks a
// real configuration has.
func benchSources(hosts, endpoints int) map[string][]byte {
	var b strings.Builder
	b.WriteString("variable \"base_port\" {\n  type    = number\n  default = 8000\n}\n\n")
	b.WriteString("locals {\n  subnet = \"10.0.0.0/16\"\n}\n\n")
	for h := range hosts {
		fmt.Fprintf(&b, "host \"h%d\" {\n  addresses = [cidrhost(local.subnet, %d), \"fd00::%x\"]\n}\n\n", h, h+1, h+1)
	}
	files := map[string][]byte{"hosts.pc.hcl": []byte(b.String())}
	const nfiles = 10
	for f := range nfiles {
		b.Reset()
		for e := f; e < endpoints; e += nfiles {
			h := e % hosts
			fmt.Fprintf(&b, "endpoint \"e%d\" {\n  host    = host.h%d\n  port    = var.base_port + %d\n  address = host.h%d.address\n  from    = [host.h%d]\n  timeout = \"1s\"\n",
				e, h, e%1000, h, (h+1)%hosts)
			if e%2 == 0 {
				b.WriteString("  expect {\n    listening {\n      process = \"nginx\"\n    }\n    http {\n      path   = \"/healthz\"\n      status = [200, 204]\n      body   = \"ok\"\n    }\n  }\n")
			}
			b.WriteString("}\n\n")
		}
		files[fmt.Sprintf("endpoints%02d.pc.hcl", f)] = []byte(b.String())
	}
	return files
}

func BenchmarkLoad10k(b *testing.B) {
	files := benchSources(100, 10000)
	cfg, diags := LoadSources(files, Options{})
	if len(diags) > 0 {
		b.Fatal(diagText(cfg, diags))
	}
	if len(cfg.Endpoints) != 10000 || len(cfg.Hosts) != 100 {
		b.Fatalf("%d endpoints, %d hosts", len(cfg.Endpoints), len(cfg.Hosts))
	}
	b.ReportAllocs()
	b.ResetTimer()
	for b.Loop() {
		if _, diags := LoadSources(files, Options{}); diags.HasErrors() {
			b.Fatal(diags)
		}
	}
}

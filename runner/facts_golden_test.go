package runner_test

import (
	"bytes"
	"context"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/portcheck/portcheck/config"
	"github.com/portcheck/portcheck/internal/golden"
	"github.com/portcheck/portcheck/internal/lab"
	"github.com/portcheck/portcheck/providers"
	"github.com/portcheck/portcheck/providers/collect"
	"github.com/portcheck/portcheck/providers/facts"
	"github.com/portcheck/portcheck/runner"
	"github.com/portcheck/portcheck/runner/report"
)

var makeFacts = flag.Bool("make-facts", false, "collect the facts documents of testdata/facts from a lab (root)")

// TestGoldenFacts judges recorded facts documents with no lab at all: each
// testdata/facts/NAME.pc.hcl is verified -offline against NAME.json (the
// server's facts, collected once from a lab with -make-facts) and the JSON
// report must equal NAME.report.json. The evaluators of L1 (a DNAT into a
// container's namespace included), L2 and L3 are thereby tested on real
// facts anywhere, without root.
func TestGoldenFacts(t *testing.T) {
	if *makeFacts {
		makeFactsDocuments(t)
	}
	configs, _ := filepath.Glob("testdata/facts/*.pc.hcl")
	if len(configs) == 0 {
		t.Fatal("no facts fixtures")
	}
	for _, path := range configs {
		name := strings.TrimSuffix(filepath.Base(path), ".pc.hcl")
		t.Run(name, func(t *testing.T) {
			cfg, diags := config.Load(path, config.Options{})
			if diags.HasErrors() {
				t.Fatal(diags)
			}
			docs, err := facts.Load(filepath.Join("testdata/facts", name+".json"))
			if err != nil {
				t.Fatal(err)
			}
			src := facts.Recorded(docs)
			env := runner.Environment{GOOS: "linux", Offline: true, Facts: func(h *config.Host) error {
				_, err := src.For(h.Name, h.Addresses, providers.Exec{})
				return err
			}}
			plan, err := runner.BuildPlan(cfg, runner.PlanOptions{Env: env})
			if err != nil {
				t.Fatal(err)
			}
			var buf bytes.Buffer
			rep := &report.JSON{W: &buf}
			rep.Start(plan)
			sum := runner.Verify(context.Background(), plan, runner.Options{Observers: runner.Observers{Facts: src}}, rep.Endpoint)
			if _, err := rep.Finish(sum); err != nil {
				t.Fatal(err)
			}
			golden.Compare(t, filepath.Join("testdata/facts", name+".report.json"), stripDurationsJSON(buf.Bytes()))
		})
	}
}

var durationJSON = regexp.MustCompile(`("duration_ms": )[0-9.]+`)

func stripDurationsJSON(b []byte) []byte { return durationJSON.ReplaceAll(b, []byte("${1}0")) }

// makeFactsDocuments builds the labs and writes their documents and
// configurations; run as root with -make-facts, then review the diff.
func makeFactsDocuments(t *testing.T) {
	lab.Require(t, "ip", "nft", "sysctl")
	l := lab.New(t)
	client, server := l.Pair()
	ctr := l.Host("ctr")
	server.ListenTCP("tcp4", "0.0.0.0:8080")
	server.ListenTCP("tcp4", "0.0.0.0:9090")
	server.ListenTCP("tcp4", "127.0.0.1:6379")
	server.Exec("ip", "link", "add", "br0", "type", "bridge")
	server.Exec("ip", "addr", "add", "172.31.250.1/24", "dev", "br0")
	server.Exec("ip", "link", "set", "br0", "up")
	server.Exec("ip", "link", "add", "vh", "type", "veth", "peer", "name", "vc", "netns", ctr.NS)
	server.Exec("ip", "link", "set", "vh", "master", "br0")
	server.Exec("ip", "link", "set", "vh", "up")
	server.Exec("sysctl", "-qw", "net.ipv4.ip_forward=1")
	ctr.Exec("ip", "addr", "add", "172.31.250.2/24", "dev", "vc")
	ctr.Exec("ip", "link", "set", "vc", "up")
	ctr.ListenTCP("tcp4", "0.0.0.0:80")
	server.NFT(`table inet filter {
  chain input {
    type filter hook input priority 0; policy accept;
    tcp dport 9090 drop
  }
}
table ip nat {
  chain prerouting {
    type nat hook prerouting priority dstnat; policy accept;
    tcp dport 8081 dnat to 172.31.250.2:80
    tcp dport 8082 dnat to 198.51.100.9:80
  }
}
`)
	d, err := collect.Collect(context.Background(), collect.Options{Exec: providers.Exec{Host: "web", Netns: server.Path()}, SELinuxDomains: []string{"httpd_t"}, Version: "golden"})
	if err != nil {
		t.Fatal(err)
	}
	var buf bytes.Buffer
	if err := d.Encode(&buf); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile("testdata/facts/web.json", buf.Bytes(), 0o644); err != nil {
		t.Fatal(err)
	}
	hcl := fmt.Sprintf(`# Judged from web.json (collected from a lab by TestGoldenFacts -make-facts).
host "web" {
  address = %q
}

host "client" {
  address = %q
}

endpoint "app" {
  host = host.web
  port = 8080
  from = [host.client]
}

endpoint "admin" {
  host = host.web
  port = 9090
  from = [host.client]
}

endpoint "cache" {
  host = host.web
  port = 6379
  from = [host.client]
}

endpoint "published" {
  host = host.web
  port = 8081
  from = [host.client]
}

endpoint "elsewhere" {
  host = host.web
  port = 8082
  from = [host.client]
}

endpoint "bind" {
  host = host.web
  port = 9090
  from = [host.client]

  expect {
    selinux {
      type   = "http_port_t"
      domain = "httpd_t"
    }
  }
}
`, server.Addr(), client.Addr())
	if err := os.WriteFile("testdata/facts/web.pc.hcl", []byte(hcl), 0o644); err != nil {
		t.Fatal(err)
	}
}

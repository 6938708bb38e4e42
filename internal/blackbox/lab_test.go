package blackbox

import (
	"context"
	"fmt"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/prometheus/client_golang/api"
	v1 "github.com/prometheus/client_golang/api/prometheus/v1"
	"github.com/prometheus/common/model"

	"github.com/portcheck/portcheck/internal/lab"
	"github.com/portcheck/portcheck/internal/netns"
)

// End to end with the real programs: the HCL of a lab (a server with one
// port up and one dropped by nft, probed from a client namespace) is
// exported; Debian's blackbox_exporter runs in the client namespace with
// the exported blackbox.yml, Debian's Prometheus scrapes it there with the
// exported scrape configuration (and loads the rules); probe_success read
// through Prometheus's HTTP API is 1 for the port that is up and 0 for the
// filtered one. Everything listens on the client namespace's own loopback.
func TestExportedConfigProbesTheLab(t *testing.T) {
	lab.Require(t, "prometheus", "prometheus-blackbox-exporter", "nft")
	l := lab.New(t)
	client, server := l.Pair()
	srv := server.Addr()
	server.ListenTCP("tcp", net.JoinHostPort(srv.String(), "8080"))
	server.ListenTCP("tcp", net.JoinHostPort(srv.String(), "8081"))
	server.NFT("table inet pcexport {\n chain input {\n  type filter hook input priority 0; policy accept;\n  tcp dport 8081 drop\n }\n}\n")

	dir := t.TempDir()
	hcl := fmt.Sprintf(`host "server" {
  address = %q
  netns   = %q
}

host "client" {
  address = %q
  netns   = %q
}

endpoint "up" {
  host    = host.server
  port    = 8080
  from    = [host.client]
  timeout = "500ms"
}

endpoint "filtered" {
  host    = host.server
  port    = 8081
  from    = [host.client]
  timeout = "500ms"
}
`, srv, server.Path(), client.Addr(), client.Path())
	if err := os.WriteFile(filepath.Join(dir, "lab.pc.hcl"), []byte(hcl), 0o644); err != nil {
		t.Fatal(err)
	}
	const exporter, promAddr = "127.0.0.1:9115", "127.0.0.1:9090"
	e, err := Build(load(t, dir), Options{From: "client", Exporter: exporter, ScrapeInterval: time.Second})
	if err != nil {
		t.Fatal(err)
	}
	if len(e.NotExported) != 0 {
		t.Fatalf("not exported: %v", e.NotExported)
	}
	out := writeExport(t, e)
	bb, err := os.ReadFile(filepath.Join(out, FileBlackbox))
	if err != nil {
		t.Fatal(err)
	}
	client.StartBlackbox(t, exporter, string(bb))
	prom, err := os.ReadFile(prometheusYML(t, out, "  scrape_interval: 1s\n  evaluation_interval: 1s\n"))
	if err != nil {
		t.Fatal(err)
	}
	client.StartPrometheus(t, promAddr, string(prom))

	tr := &http.Transport{DialContext: func(ctx context.Context, network, addr string) (net.Conn, error) {
		return netns.DialContext(ctx, client.Path(), &net.Dialer{}, network, addr)
	}}
	defer tr.CloseIdleConnections()
	c, err := api.NewClient(api.Config{Address: "http://" + promAddr, RoundTripper: tr})
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]float64{"up": 1, "filtered": 0}
	got := map[string]float64{}
	deadline := time.Now().Add(30 * time.Second)
	for len(got) < len(want) {
		if time.Now().After(deadline) {
			t.Fatalf("Prometheus has no probe_success for every endpoint after 30s: %v", got)
		}
		time.Sleep(300 * time.Millisecond)
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
		v, _, _, err := v1.NewAPI(c).Query(ctx, `probe_success{job="portcheck_blackbox"}`, time.Now())
		cancel()
		if err != nil {
			continue
		}
		vec, _ := v.(model.Vector)
		for _, s := range vec {
			ep := string(s.Metric[LabelEndpoint])
			inst := string(s.Metric["instance"])
			port := map[string]string{"up": "8080", "filtered": "8081"}[ep]
			if inst != net.JoinHostPort(srv.String(), port) || s.Metric[LabelCheck] != "tcp" || s.Metric[LabelExpected] != "open" {
				t.Fatalf("series %v: want instance %s:%s, check tcp, expected open", s.Metric, srv, port)
			}
			got[ep] = float64(s.Value)
		}
	}
	for ep, w := range want {
		if got[ep] != w {
			t.Errorf("probe_success of endpoint.%s = %v, want %v", ep, got[ep], w)
		}
	}
}

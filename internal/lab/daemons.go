package lab

import (
	"net"
	"net/netip"
	"path/filepath"
	"testing"
)

// StartDnsmasq runs Debian's dnsmasq in h as a DNS server only: no DHCP,
// no /etc/hosts, no resolv.conf, no pid file, answering on addr port 53
// (bound to that address alone) from the records given as flags
// (--host-record=…, --cname=…, --srv-host=…, --local=/lab/, …). It waits
// until dnsmasq accepts TCP on addr:53 and stops it on cleanup. It skips
// the test (fails in CI) when dnsmasq is not installed.
func (h *Host) StartDnsmasq(t testing.TB, addr netip.Addr, flags ...string) *Server {
	t.Helper()
	Require(t, "dnsmasq")
	dir := serverDir(t, "pcdnsmasq-")
	argv := append([]string{"dnsmasq", "--no-daemon", "--conf-file=/dev/null", "--no-resolv", "--no-hosts",
		"--listen-address=" + addr.String(), "--bind-interfaces", "--port=53", "--pid-file=",
		"--log-facility=-", "--log-queries"}, flags...)
	return h.startServer(t, "dnsmasq", dir, net.JoinHostPort(addr.String(), "53"), argv...)
}

// StartPrometheus runs Debian's prometheus in h with the given
// configuration (prometheus.yml text), its TSDB in a temp dir, listening
// on addr (host:port); it waits until the web listener accepts and stops
// the server on cleanup. It skips the test (fails in CI) when prometheus
// is not installed.
func (h *Host) StartPrometheus(t testing.TB, addr, config string) *Server {
	t.Helper()
	Require(t, "prometheus")
	dir := serverDir(t, "pcprom-")
	path := filepath.Join(dir, "prometheus.yml")
	writeFile(t, path, config)
	return h.startServer(t, "prometheus", dir, addr, "prometheus",
		"--config.file="+path, "--storage.tsdb.path="+filepath.Join(dir, "data"),
		"--web.listen-address="+addr, "--log.level=warn")
}

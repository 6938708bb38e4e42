package lab

import (
	"path/filepath"
	"testing"
)

// StartBlackbox runs Debian's prometheus-blackbox-exporter in h with the
// given blackbox.yml text, listening on addr (host:port as seen inside
// h); it waits until the listener accepts and stops the exporter on
// cleanup. It skips the test (fails in CI) when the exporter is not
// installed.
func (h *Host) StartBlackbox(t testing.TB, addr, config string) *Server {
	t.Helper()
	Require(t, "prometheus-blackbox-exporter")
	dir := serverDir(t, "pcbbox-")
	path := filepath.Join(dir, "blackbox.yml")
	writeFile(t, path, config)
	return h.startServer(t, "prometheus-blackbox-exporter", dir, addr, "prometheus-blackbox-exporter",
		"--config.file="+path, "--web.listen-address="+addr, "--log.level=warn")
}

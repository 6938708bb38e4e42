package config

import (
	"os"
	"testing"

	"github.com/hashicorp/hcl/v2"
)

// FuzzChangeBlocks: change and attestation blocks of any shape never panic
// the decoder, and every error points at the source. The seeds are the
// change error fixture and a valid change with its attestation, so the
// fuzzer starts from every argument of every step.
func FuzzChangeBlocks(f *testing.F) {
	src, err := os.ReadFile("testdata/errors/change.pc.hcl")
	if err != nil {
		f.Fatal(err)
	}
	f.Add(src)
	f.Add([]byte(`host "h" {
  address = "10.0.0.5"
  netns   = "h"
}
endpoint "e" {
  host = host.h
  port = 9090
  from = [host.h]
}
change "c" {
  endpoint     = endpoint.e
  from_port    = 8080
  to_port      = 9090
  window_start = "2026-12-03T22:00:00Z"
  app_config {
    config_file  = "a.conf"
    config_match = "listen 9090"
  }
  firewall {}
  selinux {
    type = "http_port_t"
  }
  cloud {
    skip = "x"
  }
  load_balancer {
    type  = "nginx"
    file  = "n.conf"
    pools = ["web"]
  }
  dns {
    resolver  = "10.0.0.53"
    from      = host.h
    name      = "w."
    addresses = ["10.0.0.5"]
    srv       = "_h._tcp.w."
    timeout   = "2s"
  }
  monitoring {
    file_sd = "t.json"
  }
  document {}
  rollback {
    backup_dir = "b"
  }
}
attestation "c" "document" {
  by     = "a"
  at     = "2026-12-03T22:01:00Z"
  ticket = "T"
}
`))
	f.Fuzz(func(t *testing.T, src []byte) {
		cfg, diags := LoadSources(map[string][]byte{"fuzz.pc.hcl": src}, Options{})
		if cfg == nil {
			t.Fatal("nil Config")
		}
		for _, d := range diags {
			if d.Severity == hcl.DiagError && d.Subject == nil {
				t.Errorf("error without a subject: %s: %s", d.Summary, d.Detail)
			}
		}
		for _, c := range cfg.Changes {
			if !diags.HasErrors() && len(c.Steps) != len(Steps) {
				t.Errorf("change %s without errors has %d steps", c.Name, len(c.Steps))
			}
		}
	})
}

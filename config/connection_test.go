package config

import (
	"path/filepath"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"
	"github.com/hashicorp/hcl/v2"
)

// TestConnectionDecode checks the values a connection block decodes to:
// Terraform's defaults (ssh, port 22, root), the host's first address,
// a bastion by reference and inline, and netns moving to the remote side.
func TestConnectionDecode(t *testing.T) {
	name := "testdata/connection/hosts.pc.hcl"
	cfg, diags := Load(name, Options{})
	if diags.HasErrors() {
		t.Fatal(diags.Error())
	}
	hosts := map[string]*Host{}
	for _, h := range cfg.Hosts {
		hosts[h.Name] = h
	}
	jump := &Connection{Type: "ssh", Host: "192.0.2.1", Port: 2222, User: "ops", PrivateKey: "~/.ssh/id_ed25519",
		KnownHosts: filepath.Join("testdata/connection", "keys/known_hosts")}
	tests := []struct {
		host      string
		want      *Connection
		wantNetns string
	}{
		{"jump", jump, ""},
		{"app", &Connection{Type: "ssh", Host: "10.0.0.5", Port: 22, User: "root", Sudo: true, Timeout: 5 * time.Second,
			Bastion: jump, BastionHostName: "jump", Netns: "app"}, ""},
		{"v6", &Connection{Type: "ssh", Host: "fd00::6", Port: 22, User: "deploy",
			Bastion: &Connection{Type: "ssh", Host: "bastion.example", Port: 22, User: "ops", PrivateKey: "/etc/portcheck/bastion_key"}}, ""},
		{"here", nil, ""},
	}
	for _, tt := range tests {
		t.Run(tt.host, func(t *testing.T) {
			h := hosts[tt.host]
			if diff := cmp.Diff(tt.want, h.Connection, cmpopts.IgnoreTypes(hcl.Range{})); diff != "" {
				t.Errorf("connection (-want +got):\n%s", diff)
			}
			if h.Netns != tt.wantNetns {
				t.Errorf("host netns %q, want %q (a namespace behind a connection is the remote's)", h.Netns, tt.wantNetns)
			}
		})
	}
	if got := hosts["v6"].Connection.Target(); got != "deploy@[fd00::6]:22" {
		t.Errorf("Target() = %q", got)
	}
}

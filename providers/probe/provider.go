package probe

import (
	"context"
	"fmt"
	"strings"

	"github.com/portcheck/portcheck/internal/netns"
	"github.com/portcheck/portcheck/providers"
)

func init() { providers.Register(provider{}) }

// provider is "connect": layer 4 from a vantage point.
type provider struct{}

func (provider) Name() string           { return "connect" }
func (provider) Layer() providers.Layer { return providers.LayerConnectivity }

func (provider) Available(exec providers.Exec) error {
	return netns.Check(providers.NetnsPath(exec.Netns))
}

// Probe is layer 4's observer: TCP or UDP by the target's protocol.
func Probe(ctx context.Context, exec providers.Exec, t providers.Target, p Params) (Outcome, error) {
	switch strings.ToLower(string(t.Protocol)) {
	case "tcp", "":
		return TCP(ctx, exec, t, p)
	case "udp":
		return UDP(ctx, exec, t, p)
	}
	return Outcome{}, fmt.Errorf("probe: protocol %q not supported (tcp or udp)", t.Protocol)
}

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

// Observe returns an Outcome; req.Params is a Params, a *Params or nil.
func (provider) Observe(ctx context.Context, req providers.Request) (any, error) {
	var p Params
	switch v := req.Params.(type) {
	case nil:
	case Params:
		p = v
	case *Params:
		if v != nil {
			p = *v
		}
	default:
		return nil, fmt.Errorf("probe: params of type %T, want probe.Params", req.Params)
	}
	switch strings.ToLower(string(req.Target.Protocol)) {
	case "tcp", "":
		return TCP(ctx, req.Exec, req.Target, p)
	case "udp":
		return UDP(ctx, req.Exec, req.Target, p)
	}
	return nil, fmt.Errorf("probe: protocol %q not supported (tcp or udp)", req.Target.Protocol)
}

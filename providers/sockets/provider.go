package sockets

import (
	"context"

	"github.com/portcheck/portcheck/internal/netns"
	"github.com/portcheck/portcheck/providers"
)

func init() { providers.Register(provider{}) }

// provider is "sockdiag": the layer 1 observer.
type provider struct{}

func (provider) Name() string           { return "sockdiag" }
func (provider) Layer() providers.Layer { return providers.LayerListening }

// Available needs only that the namespace can be entered: sock_diag works
// without privileges, and missing privileges for /proc show up as warnings.
func (provider) Available(exec providers.Exec) error { return netns.Check(exec.Netns) }

// Observe returns the whole socket table of req.Exec's namespace as a
// *Table; the runner caches it per host and picks the target's port itself.
func (provider) Observe(ctx context.Context, req providers.Request) (any, error) {
	t, err := Snapshot(ctx, req.Exec)
	if err != nil {
		return nil, err // not a typed nil *Table inside a non-nil any
	}
	return t, nil
}

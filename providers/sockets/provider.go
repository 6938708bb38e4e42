package sockets

import (
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

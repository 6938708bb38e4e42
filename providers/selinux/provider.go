package selinux

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"

	"github.com/portcheck/portcheck/providers"
)

func init() { providers.Register(provider{}) }

// provider is "selinux": layer 3 on the machine that runs the service.
// SELinux is per machine, not per network namespace, so exec.Netns does not
// change what is observed.
type provider struct{}

func (provider) Name() string           { return "selinux" }
func (provider) Layer() providers.Layer { return providers.LayerSELinux }

// Available fails when the tooling or the policy store is absent.
func (provider) Available(providers.Exec) error {
	return available("")
}

func available(storeRoot string) error {
	if _, _, err := semanagePython(); err != nil {
		return err
	}
	store := filepath.Join(rootOr(storeRoot), "var/lib/selinux")
	if _, err := os.Stat(store); err != nil {
		if errors.Is(err, os.ErrNotExist) {
			return fmt.Errorf("no SELinux policy store at %s (apt install selinux-policy-default)", store)
		}
		return fmt.Errorf("SELinux policy store: %v", err)
	}
	if os.Geteuid() != 0 {
		return errors.New("reading the SELinux policy store needs root")
	}
	return nil
}

// Observe returns a *Facts; req.Params is a Params, a *Params or nil.
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
		return nil, fmt.Errorf("selinux: params of type %T, want selinux.Params", req.Params)
	}
	return Observe(ctx, req.Target.Port, string(req.Target.Protocol), p)
}

// HasSesearch reports whether name_bind can be checked.
func HasSesearch() error {
	if _, err := exec.LookPath("sesearch"); err != nil {
		return errNoSesearch
	}
	return nil
}

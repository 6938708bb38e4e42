package selinux

import (
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

// HasSesearch reports whether name_bind can be checked.
func HasSesearch() error {
	if _, err := exec.LookPath("sesearch"); err != nil {
		return errNoSesearch
	}
	return nil
}

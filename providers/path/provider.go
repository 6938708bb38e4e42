package path

import (
	"errors"
	"fmt"
	"os"
	"strconv"
	"strings"

	"github.com/portcheck/portcheck/internal/netns"
	"github.com/portcheck/portcheck/providers"
)

func init() { providers.Register(provider{}) }

// provider is "traceroute": layer 5 from a vantage point.
type provider struct{}

func (provider) Name() string           { return "traceroute" }
func (provider) Layer() providers.Layer { return providers.LayerPath }

const capHint = "needs CAP_NET_RAW: run as root or grant it with setcap cap_net_raw+ep $(command -v portcheck)"

// Available needs CAP_NET_RAW in the effective set (for the raw ICMP socket
// of the ping and the icmp mode) and an enterable namespace.
func (provider) Available(exec providers.Exec) error {
	ok, err := hasNetRaw()
	if err != nil {
		return fmt.Errorf("traceroute: cannot read capabilities: %w", err)
	}
	if !ok {
		return errors.New(capHint)
	}
	return netns.Check(providers.NetnsPath(exec.Netns))
}

// capNetRaw is CAP_NET_RAW's bit in /proc/self/status CapEff.
const capNetRaw = 13

func hasNetRaw() (bool, error) {
	b, err := os.ReadFile("/proc/self/status")
	if err != nil {
		return false, err
	}
	return capEffHas(string(b), capNetRaw)
}

func capEffHas(status string, bit uint) (bool, error) {
	for _, line := range strings.Split(status, "\n") {
		v, ok := strings.CutPrefix(line, "CapEff:")
		if !ok {
			continue
		}
		n, err := strconv.ParseUint(strings.TrimSpace(v), 16, 64)
		if err != nil {
			return false, fmt.Errorf("CapEff %q: %w", strings.TrimSpace(v), err)
		}
		return n&(1<<bit) != 0, nil
	}
	return false, errors.New("no CapEff line in /proc/self/status")
}

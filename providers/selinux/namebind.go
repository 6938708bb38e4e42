package selinux

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
)

// errNoSesearch is the reason name_bind is not checked without setools.
var errNoSesearch = errors.New("sesearch is not installed (apt install setools)")

type nameBindResult struct {
	allowed *bool
	notes   []string
}

// policyFile returns the highest <root>/etc/selinux/<type>/policy/policy.NN.
func policyFile(storeRoot, typ string) (string, error) {
	dir := filepath.Join(rootOr(storeRoot), "etc/selinux", typ, "policy")
	m, _ := filepath.Glob(filepath.Join(dir, "policy.*"))
	best, bestN := "", -1
	for _, p := range m {
		n, err := strconv.Atoi(strings.TrimPrefix(filepath.Base(p), "policy."))
		if err == nil && n > bestN {
			best, bestN = p, n
		}
	}
	if best == "" {
		return "", fmt.Errorf("no binary policy in %s (apt install selinux-policy-default)", dir)
	}
	return best, nil
}

func onOff(b bool) string {
	if b {
		return "on"
	}
	return "off"
}

// parseCond reads "[ name ]:True" (a single boolean).
func parseCond(c string) (name string, want bool, ok bool) {
	inner, branch, found := strings.Cut(c, "]:")
	if !found {
		return "", false, false
	}
	inner = strings.TrimSpace(strings.TrimPrefix(strings.TrimSpace(inner), "["))
	if inner == "" || strings.ContainsAny(inner, " !&|^") {
		return "", false, false
	}
	switch strings.TrimSpace(branch) {
	case "True":
		return inner, true, true
	case "False":
		return inner, false, true
	}
	return "", false, false
}

// readBool reads the current value of a boolean from selinuxfs ("1 1").
func readBool(root, name string) (bool, error) {
	b, err := os.ReadFile(filepath.Join(rootOr(root), "sys/fs/selinux/booleans", name))
	if err != nil {
		return false, err
	}
	f := strings.Fields(string(b))
	if len(f) == 0 {
		return false, fmt.Errorf("empty boolean file")
	}
	return f[0] == "1", nil
}

package selinux

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
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

// nameBind asks sesearch whether domain may name_bind on typ for class.
func nameBind(ctx context.Context, root, storeRoot, policyType, domain, typ, class string) (nameBindResult, error) {
	var r nameBindResult
	bin, err := exec.LookPath("sesearch")
	if err != nil {
		return r, errNoSesearch
	}
	pol, err := policyFile(storeRoot, policyType)
	if err != nil {
		return r, err
	}
	ctx, cancel := context.WithTimeout(ctx, cmdTimeout)
	defer cancel()
	cmd := exec.CommandContext(ctx, bin, "-A", "-s", domain, "-t", typ, "-c", class, "-p", "name_bind", pol)
	var out, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &stderr
	if err := cmd.Run(); err != nil {
		if ctx.Err() != nil {
			return r, fmt.Errorf("sesearch timed out after %v", cmdTimeout)
		}
		return r, fmt.Errorf("sesearch on %s: %v: %s", pol, err, lastLine(stderr.String()))
	}
	uncond, conds := parseSesearch(out.String())
	if uncond {
		t := true
		r.allowed = &t
		return r, nil
	}
	if len(conds) == 0 {
		f := false
		r.allowed = &f
		return r, nil
	}
	// Only conditional rules: they apply when their boolean is set so.
	sort.Strings(conds)
	undecided := false
	for _, c := range conds {
		name, want, ok := parseCond(c)
		if !ok {
			undecided = true
			r.notes = append(r.notes, fmt.Sprintf("name_bind allowed only under the condition %s", c))
			continue
		}
		cur, err := readBool(root, name)
		if err != nil {
			undecided = true
			r.notes = append(r.notes, fmt.Sprintf("name_bind allowed only when boolean %s is %v; its runtime value is unknown: %v", name, want, err))
			continue
		}
		if cur == want {
			t := true
			r.allowed = &t
			r.notes = append(r.notes, fmt.Sprintf("name_bind allowed by boolean %s=%v", name, cur))
			return r, nil
		}
		r.notes = append(r.notes, fmt.Sprintf("name_bind would be allowed by setting boolean %s to %v (setsebool -P %s %s)", name, want, name, onOff(want)))
	}
	if !undecided {
		f := false
		r.allowed = &f
	}
	return r, nil
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

package selinux

import (
	"bufio"
	"bytes"
	"context"
	_ "embed"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"sort"
	"strings"
)

//go:embed ports.py
var portsScript string

// PortCon is one port context of the semanage store.
type PortCon struct {
	Low   int    `json:"low"`
	High  int    `json:"high"`
	Proto string `json:"proto"`
	Type  string `json:"type"`
	Local bool   `json:"local"`
}

// Range renders "low-high".
func (p PortCon) Range() string { return fmt.Sprintf("%d-%d", p.Low, p.High) }

// errNoSemanage is the reason given when semanage is absent.
var errNoSemanage = errors.New("semanage is not installed (apt install policycoreutils-python-utils selinux-policy-default)")

// semanagePython returns the interpreter semanage runs with: it has the
// libsemanage bindings, which another python3 on PATH may lack.
func semanagePython() (string, []string, error) {
	sm, err := exec.LookPath("semanage")
	if err != nil {
		return "", nil, errNoSemanage
	}
	b, err := os.ReadFile(sm)
	if err != nil {
		return "", nil, fmt.Errorf("reading %s: %v", sm, err)
	}
	line, _, _ := bytes.Cut(b, []byte("\n"))
	rest, ok := bytes.CutPrefix(line, []byte("#!"))
	if !ok {
		return "", nil, fmt.Errorf("%s is not a python script", sm)
	}
	f := strings.Fields(string(rest))
	if len(f) == 0 {
		return "", nil, fmt.Errorf("%s has an empty #! line", sm)
	}
	if f[0] == "/usr/bin/env" && len(f) > 1 { // "#!/usr/bin/env python3"
		f = f[1:]
	}
	if _, err := exec.LookPath(f[0]); err != nil {
		return "", nil, fmt.Errorf("semanage's interpreter %s: %v", f[0], err)
	}
	return f[0], f[1:], nil
}

// listPorts lists the store's port contexts (merged and local).
func listPorts(ctx context.Context, storeRoot string) ([]PortCon, error) {
	py, args, err := semanagePython()
	if err != nil {
		return nil, err
	}
	ctx, cancel := context.WithTimeout(ctx, cmdTimeout)
	defer cancel()
	args = append(args, "-c", portsScript)
	if storeRoot != "" {
		args = append(args, storeRoot)
	}
	cmd := exec.CommandContext(ctx, py, args...)
	var out, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &stderr
	if err := cmd.Run(); err != nil {
		if ctx.Err() != nil {
			return nil, fmt.Errorf("listing the semanage store timed out after %v", cmdTimeout)
		}
		msg := lastLine(stderr.String())
		if os.Geteuid() != 0 {
			msg += " (reading the semanage store needs root)"
		}
		return nil, fmt.Errorf("listing the semanage store: %v: %s", err, msg)
	}
	return parsePorts(out.Bytes())
}

func lastLine(s string) string {
	s = strings.TrimSpace(s)
	if i := strings.LastIndexByte(s, '\n'); i >= 0 {
		s = s[i+1:]
	}
	return s
}

func parsePorts(b []byte) ([]PortCon, error) {
	var ps []PortCon
	if err := json.Unmarshal(b, &ps); err != nil {
		return nil, fmt.Errorf("reading the port list: %v", err)
	}
	return ps, nil
}

// decide picks the deciding entry for port/proto the way the kernel does:
// the narrowest range wins, a local entry wins at equal ranges.
func decide(f *Facts, ports []PortCon, port int, proto string) {
	// The merged list also holds the local entries; mark them.
	local := map[PortCon]bool{}
	for _, p := range ports {
		if p.Local {
			q := p
			q.Local = false
			local[q] = true
		}
	}
	var cover []PortCon
	seen := map[PortCon]bool{}
	for _, p := range ports {
		if p.Proto != proto || port < p.Low || port > p.High {
			continue
		}
		if local[p] {
			p.Local = true
		}
		if seen[p] {
			continue
		}
		seen[p] = true
		cover = append(cover, p)
	}
	sort.SliceStable(cover, func(i, j int) bool {
		wi, wj := cover[i].High-cover[i].Low, cover[j].High-cover[j].Low
		if wi != wj {
			return wi < wj
		}
		return cover[i].Local && !cover[j].Local
	})
	f.Entries = cover
	if len(cover) == 0 {
		f.note("no port context covers %s/%d: the kernel labels it with the initial SID port (port_t)", proto, port)
		return
	}
	d := cover[0]
	f.PortType, f.PortRange, f.Local = d.Type, d.Range(), d.Local
	for _, p := range cover[1:] {
		if p.Low == port && p.High == port && p.Type != d.Type && !contains(f.OtherTypes, p.Type) {
			f.OtherTypes = append(f.OtherTypes, p.Type)
		}
	}
}

func contains(ss []string, s string) bool {
	for _, x := range ss {
		if x == s {
			return true
		}
	}
	return false
}

// parseSesearch reads `sesearch -A` output: unconditional rules, and
// conditional ones as "allow a b:c p; [ bool ]:True".
func parseSesearch(out string) (uncond bool, conds []string) {
	sc := bufio.NewScanner(strings.NewReader(out))
	for sc.Scan() {
		line := strings.TrimSpace(sc.Text())
		if !strings.HasPrefix(line, "allow ") {
			continue
		}
		if i := strings.Index(line, "["); i >= 0 {
			conds = append(conds, strings.TrimSpace(line[i:]))
			continue
		}
		uncond = true
	}
	return uncond, conds
}

package runner

import (
	"context"
	"fmt"
	"strings"

	"github.com/portcheck/portcheck/config"
	"github.com/portcheck/portcheck/providers/selinux"
)

// selinuxExpected is what L3 was judged against.
type selinuxExpected struct {
	Type   string `json:"type,omitempty"`
	Domain string `json:"domain,omitempty"`
	Mode   string `json:"mode,omitempty"`
}

func (v *verifier) runSELinux(ctx context.Context, e *EndpointPlan, c *Check) *Result {
	x := e.Endpoint.Expect.SELinux
	domain, from := x.Domain, ""
	// The listening process, when L1 found one, gives the domain to check.
	if domain == "" {
		if snap := v.snapshot(ctx, c.Exec); snap.err == nil {
			for _, so := range snap.byKey[sockKey{string(c.Target.Protocol), c.Target.Port}] {
				for _, p := range so.Processes {
					if d := contextType(p.SELinuxContext); d != "" {
						domain, from = d, fmt.Sprintf("%s (pid %d)", p.Name, p.PID)
						break
					}
				}
				if domain != "" {
					break
				}
			}
		}
	}
	hf, err := v.hostFactsOf(c.Exec)
	if err != nil {
		return v.origin(c.Exec, errorResult(c, "reading SELinux", err))
	}
	// SELinux is the machine's, whatever network namespace the host is.
	h, err := hf.SELinux(ctx, []string{domain})
	if err != nil {
		return v.origin(c.Exec, errorResult(c, "reading SELinux", err))
	}
	f, err := h.Port(c.Target.Port, string(c.Target.Protocol), domain)
	if err != nil {
		return v.origin(c.Exec, errorResult(c, "reading SELinux", err))
	}
	if from != "" {
		f.Notes = append(f.Notes, "domain "+domain+" is the listening process's: "+from)
	}
	return v.origin(c.Exec, evalSELinux(c, x, f))
}

// contextType is the type of an SELinux context ("system_u:system_r:
// httpd_t:s0" → "httpd_t"); "" when there is none.
func contextType(ctx string) string {
	parts := strings.Split(ctx, ":")
	if len(parts) < 3 {
		return ""
	}
	return parts[2]
}

func evalSELinux(c *Check, x *config.ExpectSELinux, f *selinux.Facts) *Result {
	r := &Result{Check: c, Evidence: f, Expected: selinuxExpected{Type: x.Type, Domain: x.Domain, Mode: x.Mode}}
	port := fmt.Sprintf("%d/%s", c.Target.Port, c.Target.Protocol)
	if !f.Enabled {
		if x.Mode == "disabled" || x.Mode == "" {
			r.Status, r.Summary = StatusSkip, "SELinux is not enabled on this host (no selinuxfs): nothing to check"
			if x.Mode == "disabled" {
				r.Status, r.Summary = StatusPass, "SELinux is disabled, as declared"
			}
			return r
		}
		r.Status, r.Cause = StatusDrift, CauseSELinuxDenied
		r.Summary = fmt.Sprintf("SELinux is disabled, but mode %q is declared", x.Mode)
		return r
	}
	fix := fmt.Sprintf("semanage port -a -t %s -p %s %d", x.Type, c.Target.Protocol, c.Target.Port)
	if f.PortType != "" && (f.PortRange == fmt.Sprintf("%d-%d", c.Target.Port, c.Target.Port) || f.PortRange == fmt.Sprint(c.Target.Port)) {
		// The port is already defined with a type: -a fails with "already defined".
		fix = fmt.Sprintf("semanage port -m -t %s -p %s %d", x.Type, c.Target.Protocol, c.Target.Port)
	}
	switch {
	case x.Type != "" && f.PortType != x.Type:
		r.Status, r.Cause = StatusFail, CauseSELinuxDenied
		r.Summary = fmt.Sprintf("%s is %s, not %s", port, orNone(f.PortType), x.Type)
		r.Hint = fix
	case f.NameBind != nil && !*f.NameBind && f.RuntimeMode == "enforcing":
		r.Status, r.Cause = StatusFail, CauseSELinuxDenied
		r.Summary = fmt.Sprintf("the policy does not let %s bind %s (%s) and SELinux is enforcing", f.Domain, port, f.PortType)
		if x.Type != "" {
			r.Hint = fix
		} else {
			r.Hint = fmt.Sprintf("find a type %s may bind (sesearch -A -s %s -c %s_socket -p name_bind) and label the port with it (semanage port -a -t TYPE -p %s %d)", f.Domain, f.Domain, c.Target.Protocol, c.Target.Protocol, c.Target.Port)
		}
	case len(f.Denials) > 0:
		r.Status, r.Cause = StatusFail, CauseSELinuxDenied
		r.Summary = fmt.Sprintf("recent AVC denial for %s: %s", port, f.Denials[0].Line)
		r.Hint = fix
	case x.Domain != "" && f.NameBind == nil:
		// A declared domain must be judged, not passed unchecked.
		r.Status = StatusError
		r.Summary = fmt.Sprintf("%s is %s, but whether %s may bind it cannot be told: %s", port, orNone(f.PortType), x.Domain, lastNote(f.Notes, "name_bind"))
	case x.Mode != "" && f.RuntimeMode != x.Mode:
		r.Status, r.Cause = StatusDrift, CauseSELinuxDenied
		r.Summary = fmt.Sprintf("SELinux is %s, declared %s", f.RuntimeMode, x.Mode)
	case f.ConfigMode != "" && f.ConfigMode != f.RuntimeMode:
		r.Status, r.Cause = StatusDrift, CauseSELinuxDenied
		r.Summary = fmt.Sprintf("SELinux runs %s but /etc/selinux/config says %s: it changes at the next reboot", f.RuntimeMode, f.ConfigMode)
	default:
		r.Status = StatusPass
		r.Summary = fmt.Sprintf("%s is %s; SELinux %s", port, orNone(f.PortType), f.RuntimeMode)
		if f.NameBind != nil && *f.NameBind {
			r.Summary += fmt.Sprintf("; %s may bind it", f.Domain)
		}
	}
	return r
}

// lastNote is the last note mentioning topic, else the last note.
func lastNote(notes []string, topic string) string {
	for i := len(notes) - 1; i >= 0; i-- {
		if strings.Contains(notes[i], topic) {
			return notes[i]
		}
	}
	if len(notes) > 0 {
		return notes[len(notes)-1]
	}
	return "no reason recorded"
}

func orNone(s string) string {
	if s == "" {
		return "not labelled"
	}
	return s
}

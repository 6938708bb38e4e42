package runner

import (
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/portcheck/portcheck/config"
	"github.com/portcheck/portcheck/internal/fwbackup"
	"github.com/portcheck/portcheck/providers/dns"
	"github.com/portcheck/portcheck/providers/filematch"
	"github.com/portcheck/portcheck/providers/firewall"
	"github.com/portcheck/portcheck/providers/lb"
	"github.com/portcheck/portcheck/providers/lb/aliyunlb"
	"github.com/portcheck/portcheck/providers/lb/elbv2"
	"github.com/portcheck/portcheck/providers/lb/haproxy"
	"github.com/portcheck/portcheck/providers/lb/nginx"
	"github.com/portcheck/portcheck/providers/monitoring"
)

// observeStep runs the checks of a step that no layer makes: the
// configuration file, the load balancer, DNS, monitoring and the rollback
// backup. Each asks its observer and judges the facts with its helper.
func observeStep(ctx context.Context, c *config.Change, st *config.ChangeStep, phase Phase, opts ChangeOptions) []StepCheck {
	switch st.Name {
	case config.StepAppConfig:
		if x := st.AppConfig; x.ConfigFile != "" && phase == PhasePost {
			return []StepCheck{configFileCheck(ctx, x)}
		}
	case config.StepLoadBalancer:
		return lbChecks(ctx, c, st.LoadBalancer, phase)
	case config.StepDNS:
		return dnsChecks(ctx, c, st.DNS, phase)
	case config.StepMonitoring:
		return monitoringChecks(ctx, c, st.Monitoring, phase)
	}
	return nil
}

func errCheck(what string, err error) StepCheck {
	return StepCheck{What: what, Status: StatusError, Summary: err.Error()}
}

func configFileCheck(ctx context.Context, x *config.AppConfigStep) StepCheck {
	what := fmt.Sprintf("%s matches %q", x.ConfigFile, x.ConfigMatch.String())
	f, err := filematch.Match(ctx, x.ConfigFile, x.ConfigMatch.String(), filematch.Options{})
	if err != nil {
		return errCheck(what, err)
	}
	sc := StepCheck{What: what, Evidence: f, Summary: f.Evidence(), Status: StatusPass}
	if !f.Holds(true) {
		sc.Status = StatusFail
		sc.Commands = []string{fmt.Sprintf("edit %s so that it matches %q, then reload the service", x.ConfigFile, x.ConfigMatch.String())}
	}
	return sc
}

// lbTargetIDs are the names the balancer knows the backend by.
func lbTargetIDs(c *config.Change, x *config.LoadBalancerStep) []string {
	if len(x.Targets) > 0 {
		return x.Targets
	}
	var out []string
	for _, a := range targetAddresses(c.Endpoint) {
		out = append(out, a.String())
	}
	return out
}

func readLB(ctx context.Context, x *config.LoadBalancerStep) (*lb.Facts, error) {
	switch x.Type {
	case "haproxy":
		return haproxy.Read(ctx, x.File)
	case "nginx":
		return nginx.Read(ctx, x.File)
	case "elbv2":
		return elbv2.Read(ctx, elbv2.Config{Region: x.Region, Profile: x.Profile, AssumeRoleARN: x.AssumeRoleARN, Endpoint: x.Endpoint}, elbv2.Scope{TargetGroups: x.Pools})
	case "slb":
		return aliyunlb.ReadSLB(ctx, aliyunlb.Config{Region: x.Region, SLBEndpoint: x.Endpoint}, aliyunlb.SLBScope{VServerGroups: x.Pools, LoadBalancers: x.LoadBalancers})
	case "alb":
		return aliyunlb.ReadALB(ctx, aliyunlb.Config{Region: x.Region, ALBEndpoint: x.Endpoint}, aliyunlb.ALBScope{ServerGroups: x.Pools, Listeners: x.Listeners})
	}
	return nil, fmt.Errorf("load balancer type %q is not supported", x.Type)
}

func lbChecks(ctx context.Context, c *config.Change, x *config.LoadBalancerStep, phase Phase) []StepCheck {
	ids := lbTargetIDs(c, x)
	newT := lb.Target{IDs: ids, Port: c.ToPort}
	oldT := lb.Target{IDs: ids, Port: c.FromPort}
	where := x.Type
	if x.File != "" {
		where += " " + x.File
	}
	facts, err := readLB(ctx, x)
	if err != nil {
		return []StepCheck{errCheck("load balancer "+where, err)}
	}
	// Pools of a file are named by their section names; cloud pools were
	// read by the ids given, so every pool read is in scope.
	var pools []string
	if x.File != "" {
		pools = x.Pools
	}
	healthy := func(t lb.Target, what string) StepCheck {
		p, ok := backendHealthy(facts, t, pools, x.File != "")
		sc := StepCheck{What: what, Evidence: p, Summary: strings.Join(p.Evidence, "; "), Status: StatusPass}
		if ok && x.File != "" && p.Verdict == lb.VerdictRegistered {
			sc.Summary += " (assumption: a configuration file does not report health; the backend is registered, its health is not judged)"
		}
		if !ok {
			sc.Status = StatusFail
			sc.Commands = lbRegister(x, t)
			if sc.Summary == "" {
				sc.Summary = string(p.Verdict)
			}
		}
		return sc
	}
	if phase == PhasePre {
		return []StepCheck{healthy(oldT, "load balancer "+where+": old backend "+oldT.String()+" healthy")}
	}
	out := []StepCheck{healthy(newT, "load balancer "+where+": new backend "+newT.String()+" healthy")}
	p := lb.Find(facts, oldT, pools...)
	sc := StepCheck{What: "load balancer " + where + ": old backend " + oldT.String() + " deregistered", Evidence: p, Status: StatusPass, Summary: strings.Join(p.Evidence, "; ")}
	if !p.Deregistered(x.AllowDraining) {
		sc.Status = StatusFail
		sc.Summary = "still there: " + firstNonEmpty(sc.Summary, string(p.Verdict))
		sc.Commands = lbDeregister(withPools(x, p), oldT)
	}
	return append(out, sc)
}

// backendHealthy: the backend is healthy in at least one pool read (a
// port move often means a new target group: the old group need not have
// it) and in no pool in another state; every pool asked about was read.
// A configuration file reports no health, so there registered counts.
func backendHealthy(f *lb.Facts, t lb.Target, pools []string, file bool) (lb.Presence, bool) {
	all := lb.Find(f, t, pools...)
	if len(all.MissingPools) > 0 || len(all.Unresolved) > 0 || len(all.In) == 0 {
		return all, false
	}
	for _, m := range all.In {
		switch m.Member.State {
		case lb.StateHealthy:
		case lb.StateRegistered:
			if !file {
				return all, false
			}
		default:
			return all, false
		}
	}
	if file && len(pools) > 0 && len(all.NotIn) > 0 {
		return all, false // a named backend section without the server
	}
	return all, true
}

// onlyUnreported: every membership is registered with its health not
// reported (not unhealthy, disabled or draining).
func onlyUnreported(p lb.Presence) bool {
	for _, m := range p.In {
		if m.Member.State != lb.StateRegistered {
			return false
		}
	}
	return len(p.In) > 0
}

// withPools narrows the step's pools to those that still have the
// target, so a deregister command names only them.
func withPools(x *config.LoadBalancerStep, p lb.Presence) *config.LoadBalancerStep {
	if x.File != "" || len(p.In) == 0 {
		return x
	}
	y := *x
	y.Pools = nil
	for _, m := range p.In {
		if m.Pool != "" && !slices.Contains(y.Pools, m.Pool) {
			y.Pools = append(y.Pools, m.Pool)
		}
	}
	return &y
}

// lbRegister and lbDeregister say how to change the backend; the cloud
// commands are the CLIs' own, one per pool.
func lbRegister(x *config.LoadBalancerStep, t lb.Target) []string {
	return lbCommands(x, t, true)
}

func lbDeregister(x *config.LoadBalancerStep, t lb.Target) []string {
	return lbCommands(x, t, false)
}

func lbCommands(x *config.LoadBalancerStep, t lb.Target, register bool) []string {
	var out []string
	id := ""
	if len(t.IDs) > 0 {
		id = t.IDs[0]
	}
	switch x.Type {
	case "elbv2":
		verb := "register-targets"
		if !register {
			verb = "deregister-targets"
		}
		for _, p := range x.Pools {
			out = append(out, fmt.Sprintf("aws elbv2 %s --target-group-arn %s --targets Id=%s,Port=%d", verb, p, id, t.Port))
		}
	case "slb":
		verb := "AddVServerGroupBackendServers"
		if !register {
			verb = "RemoveVServerGroupBackendServers"
		}
		for _, p := range x.Pools {
			out = append(out, fmt.Sprintf(`aliyun slb %s --VServerGroupId %s --BackendServers '[{"ServerId":"%s","Port":"%d"}]'`, verb, p, id, t.Port))
		}
	case "alb":
		verb := "AddServersToServerGroup"
		if !register {
			verb = "RemoveServersFromServerGroup"
		}
		for _, p := range x.Pools {
			out = append(out, fmt.Sprintf("aliyun alb %s --ServerGroupId %s --Servers.1.ServerId %s --Servers.1.Port %d", verb, p, id, t.Port))
		}
	case "haproxy", "nginx":
		action := "point the server line(s) of %s at port %d"
		if !register {
			action = "remove the server line(s) for port %d from %s"
			out = append(out, fmt.Sprintf(action, t.Port, x.File))
		} else {
			out = append(out, fmt.Sprintf(action, x.File, t.Port))
		}
		if x.Type == "haproxy" {
			out = append(out, "haproxy -c -f "+x.File+" && systemctl reload haproxy")
		} else {
			out = append(out, "nginx -t && systemctl reload nginx")
		}
	}
	return out
}

func dnsChecks(ctx context.Context, c *config.Change, x *config.DNSStep, phase Phase) []StepCheck {
	r := dns.Resolver{Addr: x.Resolver}
	if x.From != nil {
		r.NetNS = x.From.Netns
	}
	opts := dns.Options{Timeout: x.Timeout}
	var out []StepCheck
	if x.Name != "" {
		want := x.Addresses
		if len(want) == 0 {
			want = targetAddresses(c.Endpoint)
		}
		what := fmt.Sprintf("%s resolves to %s at %s", x.Name, joinAddrs(want), x.Resolver)
		var addrs []*dns.Facts
		var err error
		for _, t := range []dns.Type{dns.TypeA, dns.TypeAAAA} {
			var f *dns.Facts
			f, err = dns.Resolve(ctx, r, x.Name, t, opts)
			if err != nil {
				break
			}
			addrs = append(addrs, f)
		}
		if err != nil {
			out = append(out, errCheck(what, err))
		} else {
			merged := *addrs[0]
			merged.Addresses = append(append([]dns.Address{}, addrs[0].Addresses...), addrs[1].Addresses...)
			ac := dns.CheckAddresses(&merged, want, false)
			sc := StepCheck{What: what, Evidence: ac, Summary: ac.Evidence, Status: StatusPass}
			if !ac.OK {
				sc.Status = StatusFail
				sc.Commands = []string{fmt.Sprintf("update the address records of %s to %s in its zone", x.Name, joinAddrs(want))}
			}
			out = append(out, sc)
		}
	}
	if x.SRV != "" {
		f, err := dns.Resolve(ctx, r, x.SRV, dns.TypeSRV, opts)
		port, other := c.ToPort, c.FromPort
		if phase == PhasePre {
			port, other = c.FromPort, 0
		}
		what := fmt.Sprintf("SRV %s carries port %d", x.SRV, port)
		if other != 0 {
			what += fmt.Sprintf(" and no longer %d", other)
		}
		if err != nil {
			return append(out, errCheck(what, err))
		}
		sc := StepCheck{What: what, Evidence: f, Status: StatusPass}
		has := dns.CheckSRV(f, uint16(port), "")
		sc.Summary = has.Evidence
		switch {
		case !has.OK:
			sc.Status = StatusFail
			sc.Commands = []string{fmt.Sprintf("update the SRV records of %s to port %d", x.SRV, port)}
		case other != 0 && dns.CheckSRV(f, uint16(other), "").OK:
			sc.Status = StatusFail
			sc.Summary = fmt.Sprintf("still there: a record with the old port %d (%s)", other, has.Evidence)
			sc.Commands = []string{fmt.Sprintf("remove the SRV records of %s with port %d", x.SRV, other)}
		}
		out = append(out, sc)
	}
	return out
}

// monitoringTargets are the new and old endpoint as the monitoring names
// them.
func monitoringTargets(c *config.Change, x *config.MonitoringStep) (newT, oldT string) {
	newT, oldT = x.Target, x.OldTarget
	addrs := targetAddresses(c.Endpoint)
	if newT == "" && len(addrs) > 0 {
		newT = net.JoinHostPort(addrs[0].String(), strconv.Itoa(c.ToPort))
	}
	if oldT == "" {
		if h, _, err := net.SplitHostPort(newT); err == nil {
			oldT = net.JoinHostPort(h, strconv.Itoa(c.FromPort))
		} else if ep, ok := monitoring.EndpointOf(newT); ok {
			if h, _, err := net.SplitHostPort(ep); err == nil {
				oldT = strings.Replace(newT, ep, net.JoinHostPort(h, strconv.Itoa(c.FromPort)), 1)
			}
		}
	}
	return newT, oldT
}

func monitoringChecks(ctx context.Context, c *config.Change, x *config.MonitoringStep, phase Phase) []StepCheck {
	newT, oldT := monitoringTargets(c, x)
	var find func(string) monitoring.Presence
	var where string
	server := x.Prometheus != ""
	if server {
		where = "Prometheus " + x.Prometheus
		s := monitoring.Server{URL: x.Prometheus, Timeout: config.DefaultChangeQueryTimeout}
		if x.From != nil {
			s.NetNS = x.From.Netns
		}
		f, err := monitoring.ReadTargets(ctx, s)
		if err != nil {
			return []StepCheck{errCheck(where+" targets", err)}
		}
		find = func(t string) monitoring.Presence { return monitoring.FindTarget(f, t, x.Jobs...) }
	} else {
		where = "file_sd " + x.FileSD
		f, err := monitoring.ReadFileSD(ctx, x.FileSD)
		if err != nil {
			return []StepCheck{errCheck(where, err)}
		}
		find = func(t string) monitoring.Presence { return monitoring.FindInFileSD(f, t) }
	}
	present := func(t string) StepCheck {
		p := find(t)
		what := where + " monitors " + t
		ok := p.Present && (!server || p.Up)
		if server {
			what += " (up)"
		}
		sc := StepCheck{What: what, Evidence: p, Summary: strings.Join(p.Evidence, "; "), Status: StatusPass}
		if !ok {
			sc.Status = StatusFail
			sc.Commands = []string{"add " + t + " to the scrape targets (" + where + ")"}
			if p.Present {
				sc.Commands = []string{"the target is listed but down: check that " + t + " answers the scrape"}
			}
		}
		return sc
	}
	if phase == PhasePre {
		if oldT == "" {
			return []StepCheck{{What: where, Status: StatusError, Summary: "cannot tell the old target from target " + newT + ": declare old_target"}}
		}
		return []StepCheck{present(oldT)}
	}
	out := []StepCheck{present(newT)}
	if oldT == "" {
		return append(out, StepCheck{What: where + ": old target", Status: StatusError, Summary: "cannot tell the old target from target " + newT + ": declare old_target"})
	}
	p := find(oldT)
	sc := StepCheck{What: where + " no longer monitors " + oldT, Evidence: p, Status: StatusPass, Summary: strings.Join(p.Evidence, "; ")}
	if p.Present {
		sc.Status = StatusFail
		sc.Summary = "still there: " + sc.Summary
		sc.Commands = []string{"remove " + oldT + " from the scrape targets (" + where + ")"}
	}
	return append(out, sc)
}

// backupEvidence is what the rollback step found.
type backupEvidence struct {
	Dir       string   `json:"dir"`
	Created   string   `json:"created"`
	Netns     string   `json:"netns"`
	Files     int      `json:"files"`
	Restore   []string `json:"restore_steps"`
	DryRun    string   `json:"dry_run"`
	Candidate []string `json:"ignored,omitempty"` // backups that do not qualify, and why
}

// backupCheck: a backup of the server's firewall taken before the window
// start, intact, whose restore plan passes a dry run (nothing changed).
func backupCheck(ctx context.Context, c *config.Change, x *config.RollbackStep, env Environment) StepCheck {
	h := c.Endpoint.Host
	what := fmt.Sprintf("firewall backup of host %s in %s taken before %s, restore dry run valid", h.Name, x.BackupDir, c.WindowStart.Format(time.RFC3339))
	entries, err := os.ReadDir(x.BackupDir)
	if errors.Is(err, os.ErrNotExist) {
		// No backup directory is no backup: the step is not done yet.
		return withBackupCommand(StepCheck{What: what, Status: StatusFail, Summary: "no backup: " + x.BackupDir + " does not exist"}, c, x)
	}
	if err != nil {
		return withBackupCommand(errCheck(what, err), c, x)
	}
	ev := backupEvidence{}
	var best *fwbackup.Backup
	var bestT time.Time
	for _, e := range entries {
		if !e.IsDir() {
			continue
		}
		dir := filepath.Join(x.BackupDir, e.Name())
		b, err := fwbackup.Open(dir)
		if err != nil {
			var nb *fwbackup.NotBackupError
			if !errors.As(err, &nb) {
				ev.Candidate = append(ev.Candidate, fmt.Sprintf("%s: %v", e.Name(), err))
			}
			continue
		}
		t, err := time.Parse(time.RFC3339, b.Manifest.Created)
		switch {
		case err != nil:
			ev.Candidate = append(ev.Candidate, fmt.Sprintf("%s: created %q is not a time", e.Name(), b.Manifest.Created))
		case b.Manifest.Netns != h.Netns:
			ev.Candidate = append(ev.Candidate, fmt.Sprintf("%s: taken from %s, not host %s's %s", e.Name(), orThisMachine(b.Manifest.Netns), h.Name, orThisMachine(h.Netns)))
		case !t.Before(c.WindowStart):
			ev.Candidate = append(ev.Candidate, fmt.Sprintf("%s: taken %s, not before the window start", e.Name(), b.Manifest.Created))
		case best == nil || t.After(bestT):
			best, bestT = b, t
		}
	}
	sort.Strings(ev.Candidate)
	if best == nil {
		sc := StepCheck{What: what, Status: StatusFail, Evidence: ev, Summary: "no backup taken before the window start"}
		if len(ev.Candidate) > 0 {
			sc.Summary += " (" + strings.Join(ev.Candidate, "; ") + ")"
		}
		return withBackupCommand(sc, c, x)
	}
	ev.Dir, ev.Created, ev.Netns, ev.Files = best.Dir, best.Manifest.Created, best.Manifest.Netns, len(best.Manifest.Files)
	plan, err := fwbackup.NewPlan(ctx, fwbackup.Options{Netns: h.Netns}, best)
	if err != nil {
		return StepCheck{What: what, Status: StatusError, Evidence: ev, Summary: "working out the restore of " + best.Dir + ": " + err.Error()}
	}
	ev.Restore = plan.Steps()
	if err := plan.DryRun(ctx); err != nil {
		ev.DryRun = err.Error()
		return StepCheck{What: what, Status: StatusFail, Evidence: ev, Summary: "the restore of " + best.Dir + " would fail: " + err.Error()}
	}
	ev.DryRun = "ok"
	return StepCheck{What: what, Status: StatusPass, Evidence: ev,
		Summary:  fmt.Sprintf("backup %s taken %s; restore plan of %d steps passes its dry run", best.Dir, best.Manifest.Created, len(ev.Restore)),
		Commands: []string{restoreCommand(h, best.Dir)}}
}

func withBackupCommand(sc StepCheck, c *config.Change, x *config.RollbackStep) StepCheck {
	cmd := "portcheck backup"
	if ns := c.Endpoint.Host.Netns; ns != "" {
		cmd += " -netns " + ns
	}
	sc.Commands = []string{cmd + " " + x.BackupDir + "   # before the window start"}
	return sc
}

func restoreCommand(h *config.Host, dir string) string {
	cmd := "portcheck restore"
	if h.Netns != "" {
		cmd += " -netns " + h.Netns
	}
	return cmd + " --yes " + dir
}

func orThisMachine(ns string) string {
	if ns == "" {
		return "this machine"
	}
	return ns
}

// stepRollback are the undo commands of a verified step that its layers'
// pre-window hints do not give: the firewall backup's restore, the SELinux
// port label, the balancer and DNS and monitoring changes.
func stepRollback(c *config.Change, st *config.ChangeStep, backup *StepCheck) []string {
	h := c.Endpoint.Host
	switch st.Name {
	case config.StepFirewall:
		if backup != nil {
			if ev, ok := backup.Evidence.(backupEvidence); ok && ev.Dir != "" {
				return []string{restoreCommand(h, ev.Dir)}
			}
		}
	case config.StepSELinux:
		return []string{firewall.CommandIn("", fmt.Sprintf("semanage port -d -t %s -p %s %d", st.SELinux.Type, c.Endpoint.Protocol, c.ToPort))}
	case config.StepAppConfig:
		if st.AppConfig.ConfigFile != "" {
			return []string{fmt.Sprintf("restore %s to port %d and restart the service", st.AppConfig.ConfigFile, c.FromPort)}
		}
		return []string{fmt.Sprintf("configure the service back to port %d and restart it", c.FromPort)}
	case config.StepLoadBalancer:
		ids := lbTargetIDs(c, st.LoadBalancer)
		return append(lbRegister(st.LoadBalancer, lb.Target{IDs: ids, Port: c.FromPort}), lbDeregister(st.LoadBalancer, lb.Target{IDs: ids, Port: c.ToPort})...)
	case config.StepDNS:
		if st.DNS.SRV != "" {
			return []string{fmt.Sprintf("set the SRV records of %s back to port %d", st.DNS.SRV, c.FromPort)}
		}
	case config.StepMonitoring:
		newT, oldT := monitoringTargets(c, st.Monitoring)
		return []string{fmt.Sprintf("monitor %s again instead of %s", oldT, newT)}
	}
	return nil
}

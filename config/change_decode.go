package config

import (
	"fmt"
	"net/netip"
	"strings"
	"time"

	"github.com/hashicorp/hcl/v2"
)

const rootEndpoint = "endpoint"

var changeSchema = &hcl.BodySchema{
	Attributes: []hcl.AttributeSchema{
		{Name: "endpoint", Required: true},
		{Name: "from_port", Required: true},
		{Name: "to_port", Required: true},
		{Name: "window_start", Required: true},
		{Name: "ticket"},
		{Name: "description"},
	},
	Blocks: stepHeaders(),
}

func stepHeaders() []hcl.BlockHeaderSchema {
	out := make([]hcl.BlockHeaderSchema, len(Steps))
	for i, s := range Steps {
		out[i] = hcl.BlockHeaderSchema{Type: string(s)}
	}
	return out
}

// Every step block takes skip and attest; the step's own arguments follow.
type appConfigSpec struct {
	Skip        hcl.Expression `hcl:"skip,optional"`
	Attest      hcl.Expression `hcl:"attest,optional"`
	Process     hcl.Expression `hcl:"process,optional"`
	ConfigFile  hcl.Expression `hcl:"config_file,optional"`
	ConfigMatch hcl.Expression `hcl:"config_match,optional"`
}

type firewallStepSpec struct {
	Skip      hcl.Expression `hcl:"skip,optional"`
	Attest    hcl.Expression `hcl:"attest,optional"`
	Sources   hcl.Expression `hcl:"sources,optional"`
	Backend   hcl.Expression `hcl:"backend,optional"`
	Permanent hcl.Expression `hcl:"permanent,optional"`
}

type selinuxStepSpec struct {
	Skip   hcl.Expression `hcl:"skip,optional"`
	Attest hcl.Expression `hcl:"attest,optional"`
	Type   hcl.Expression `hcl:"type,optional"`
	Domain hcl.Expression `hcl:"domain,optional"`
	Mode   hcl.Expression `hcl:"mode,optional"`
}

type cloudStepSpec struct {
	Skip           hcl.Expression `hcl:"skip,optional"`
	Attest         hcl.Expression `hcl:"attest,optional"`
	Provider       hcl.Expression `hcl:"provider,optional"`
	Target         hcl.Expression `hcl:"target,optional"`
	Sources        hcl.Expression `hcl:"sources,optional"`
	EphemeralPorts hcl.Expression `hcl:"ephemeral_ports,optional"`
}

type lbStepSpec struct {
	Skip          hcl.Expression `hcl:"skip,optional"`
	Attest        hcl.Expression `hcl:"attest,optional"`
	Type          hcl.Expression `hcl:"type,optional"`
	Pools         hcl.Expression `hcl:"pools,optional"`
	Listeners     hcl.Expression `hcl:"listeners,optional"`
	LoadBalancers hcl.Expression `hcl:"load_balancers,optional"`
	Targets       hcl.Expression `hcl:"targets,optional"`
	File          hcl.Expression `hcl:"file,optional"`
	Region        hcl.Expression `hcl:"region,optional"`
	Profile       hcl.Expression `hcl:"profile,optional"`
	AssumeRoleARN hcl.Expression `hcl:"assume_role_arn,optional"`
	Endpoint      hcl.Expression `hcl:"endpoint,optional"`
	AllowDraining hcl.Expression `hcl:"allow_draining,optional"`
}

type dnsStepSpec struct {
	Skip      hcl.Expression `hcl:"skip,optional"`
	Attest    hcl.Expression `hcl:"attest,optional"`
	Resolver  hcl.Expression `hcl:"resolver,optional"`
	From      hcl.Expression `hcl:"from,optional"`
	Name      hcl.Expression `hcl:"name,optional"`
	Addresses hcl.Expression `hcl:"addresses,optional"`
	SRV       hcl.Expression `hcl:"srv,optional"`
	Timeout   hcl.Expression `hcl:"timeout,optional"`
}

type monitoringStepSpec struct {
	Skip       hcl.Expression `hcl:"skip,optional"`
	Attest     hcl.Expression `hcl:"attest,optional"`
	Prometheus hcl.Expression `hcl:"prometheus,optional"`
	FileSD     hcl.Expression `hcl:"file_sd,optional"`
	From       hcl.Expression `hcl:"from,optional"`
	Jobs       hcl.Expression `hcl:"jobs,optional"`
	Target     hcl.Expression `hcl:"target,optional"`
	OldTarget  hcl.Expression `hcl:"old_target,optional"`
}

type documentStepSpec struct {
	Skip   hcl.Expression `hcl:"skip,optional"`
	Attest hcl.Expression `hcl:"attest,optional"`
}

type rollbackStepSpec struct {
	Skip      hcl.Expression `hcl:"skip,optional"`
	Attest    hcl.Expression `hcl:"attest,optional"`
	BackupDir hcl.Expression `hcl:"backup_dir,optional"`
}

type attestationSpec struct {
	By     hcl.Expression `hcl:"by,optional"`
	At     hcl.Expression `hcl:"at,optional"`
	Ticket hcl.Expression `hcl:"ticket,optional"`
	Note   hcl.Expression `hcl:"note,optional"`
}

// declareChanges decodes change blocks after the endpoints they name, then
// the attestation blocks, which must each name a declared change and one
// of its attested steps: a typo must never count as a person's word.
func (l *loader) declareChanges(changeBlocks, attBlocks hcl.Blocks) hcl.Diagnostics {
	var diags hcl.Diagnostics
	s := l.scope(rootVar, rootLocal, rootHost)
	byName := map[string]*Change{}
	for _, b := range changeBlocks {
		name := b.Labels[0]
		diags = append(diags, checkName("change", b)...)
		if first, dup := byName[name]; dup {
			diags = append(diags, duplicateDiag("change", name, first.DeclRange, b.DefRange))
			continue
		}
		c, d := l.decodeChangeBlock(b, s)
		diags = append(diags, d...)
		byName[name] = c
		l.cfg.Changes = append(l.cfg.Changes, c)
	}
	for _, b := range attBlocks {
		diags = append(diags, l.decodeAttestation(b, s, byName)...)
	}
	return diags
}

func (l *loader) decodeChangeBlock(b *hcl.Block, s *scope) (*Change, hcl.Diagnostics) {
	c := &Change{Name: b.Labels[0], Attestations: map[StepName]*Attestation{}, DeclRange: b.DefRange}
	content, diags := b.Body.Content(changeSchema)
	if content == nil {
		return c, diags
	}
	if a, ok := content.Attributes["endpoint"]; ok {
		e, d := l.endpointRef(a.Expr)
		diags = append(diags, d...)
		c.Endpoint = e
	}
	for _, p := range []struct {
		attr string
		dst  *int
	}{{"from_port", &c.FromPort}, {"to_port", &c.ToPort}} {
		if a, ok := content.Attributes[p.attr]; ok {
			into(p.dst, &diags)(s.integer(a.Expr, p.attr, 1, 65535))
		}
	}
	if c.FromPort != 0 && c.FromPort == c.ToPort {
		diags = diags.Append(errorf(content.Attributes["to_port"].Expr.Range(), "Invalid port change",
			"from_port and to_port are both %d: a change moves a service to another port.", c.ToPort))
	}
	if c.Endpoint != nil && len(c.Endpoint.Ports) > 0 && !c.Endpoint.Ports.Single() {
		diags = diags.Append(errorf(content.Attributes["endpoint"].Expr.Range(), "Invalid port change",
			"endpoint.%s declares several ports (%s); a change moves one port.", c.Endpoint.Name, c.Endpoint.Ports))
	}
	if a, ok := content.Attributes["window_start"]; ok {
		into(&c.WindowStart, &diags)(s.timestamp(a.Expr, "window_start"))
	}
	if a, ok := content.Attributes["ticket"]; ok {
		into(&c.Ticket, &diags)(s.str(a.Expr, "ticket"))
	}
	if a, ok := content.Attributes["description"]; ok {
		into(&c.Description, &diags)(s.str(a.Expr, "description"))
	}

	seen := map[string]*hcl.Block{}
	for _, sb := range content.Blocks {
		if first, dup := seen[sb.Type]; dup {
			diags = diags.Append(errorf(sb.DefRange, "Duplicate step", "The %s step of change %q was first declared at %s.", sb.Type, c.Name, SourceOf(first.DefRange)))
			continue
		}
		seen[sb.Type] = sb
	}
	var missing []string
	for _, name := range Steps {
		sb, ok := seen[string(name)]
		if !ok {
			missing = append(missing, string(name))
			continue
		}
		st, d := l.decodeStep(name, sb, s, c)
		diags = append(diags, d...)
		c.Steps = append(c.Steps, st)
	}
	if len(missing) > 0 {
		diags = diags.Append(errorf(b.DefRange, "Missing change steps",
			"Change %q does not declare %s. Every step of a port change is declared, so none is forgotten: write `%s { skip = \"why it is not needed\" }` for a step this change does not need.",
			c.Name, strings.Join(missing, ", "), missing[0]))
	}
	return c, diags
}

// stepMode decodes skip and attest, which exclude each other and, for skip,
// every other argument.
func stepMode(s *scope, skip, attest hcl.Expression, others map[string]hcl.Expression) (StepMode, string, hcl.Diagnostics) {
	var diags hcl.Diagnostics
	skipR, skipSt, d := s.str(skip, "skip")
	diags = append(diags, d...)
	attR, attSt, d := s.str(attest, "attest")
	diags = append(diags, d...)
	switch {
	case skipSt == valid && attSt == valid:
		return ModeSkip, skipR, diags.Append(errorf(attest.Range(), "Conflicting step arguments", "A step is either skipped or attested, not both."))
	case skipSt == valid:
		if strings.TrimSpace(skipR) == "" {
			diags = diags.Append(errorf(skip.Range(), "Invalid skip", "skip gives the reason the change does not need this step; it must not be empty."))
		}
		for _, k := range sortedKeys(others) {
			if !isNullExpr(others[k]) {
				diags = diags.Append(errorf(others[k].Range(), "Conflicting step arguments", "A skipped step takes no other argument; remove %s or the skip.", k))
			}
		}
		return ModeSkip, skipR, diags
	case attSt == valid:
		if strings.TrimSpace(attR) == "" {
			diags = diags.Append(errorf(attest.Range(), "Invalid attest", "attest says why a person, not portcheck, confirms this step; it must not be empty."))
		}
		return ModeAttest, attR, diags
	}
	return ModeVerify, "", diags
}

func (l *loader) decodeStep(name StepName, b *hcl.Block, s *scope, c *Change) (*ChangeStep, hcl.Diagnostics) {
	st := &ChangeStep{Name: name, DeclRange: b.DefRange}
	var diags hcl.Diagnostics
	mode := func(skip, attest hcl.Expression, others map[string]hcl.Expression) bool {
		m, r, d := stepMode(s, skip, attest, others)
		diags = append(diags, d...)
		st.Mode, st.Reason = m, r
		return m == ModeVerify
	}
	switch name {
	case StepAppConfig:
		var sp appConfigSpec
		diags = decodeSpec(b.Body, &sp)
		if mode(sp.Skip, sp.Attest, map[string]hcl.Expression{"process": sp.Process, "config_file": sp.ConfigFile, "config_match": sp.ConfigMatch}) {
			x := &AppConfigStep{}
			if c.Endpoint != nil && c.Endpoint.Expect.Listening != nil {
				x.Process = c.Endpoint.Expect.Listening.Process
			}
			into(&x.Process, &diags)(s.str(sp.Process, "process"))
			into(&x.ConfigFile, &diags)(s.path(sp.ConfigFile, "config_file"))
			into(&x.ConfigMatch, &diags)(s.regexp(sp.ConfigMatch, "config_match"))
			if isNullExpr(sp.ConfigFile) != isNullExpr(sp.ConfigMatch) {
				diags = diags.Append(errorf(b.DefRange, "Incomplete config file check", "config_file and config_match go together: the file, and the regular expression its text must match."))
			}
			st.AppConfig = x
		}
	case StepFirewall:
		var sp firewallStepSpec
		diags = decodeSpec(b.Body, &sp)
		if mode(sp.Skip, sp.Attest, map[string]hcl.Expression{"sources": sp.Sources, "backend": sp.Backend, "permanent": sp.Permanent}) {
			x := &FirewallStep{Backend: "auto", Permanent: true}
			if c.Endpoint != nil && c.Endpoint.Expect.Firewall != nil {
				fw := c.Endpoint.Expect.Firewall
				x.Sources, x.Backend, x.Permanent = fw.AllowFrom, fw.Backend, fw.Permanent
			}
			into(&x.Sources, &diags)(s.cidrList(sp.Sources, "sources"))
			into(&x.Backend, &diags)(s.oneOf(sp.Backend, "backend", "Invalid firewall backend", FirewallBackends))
			into(&x.Permanent, &diags)(s.boolean(sp.Permanent, "permanent"))
			st.Firewall = x
		}
	case StepSELinux:
		var sp selinuxStepSpec
		diags = decodeSpec(b.Body, &sp)
		if mode(sp.Skip, sp.Attest, map[string]hcl.Expression{"type": sp.Type, "domain": sp.Domain, "mode": sp.Mode}) {
			x := &ExpectSELinux{DeclRange: b.DefRange}
			into(&x.Type, &diags)(s.selinuxName(sp.Type, "type", "_t"))
			into(&x.Domain, &diags)(s.selinuxName(sp.Domain, "domain", "_t"))
			into(&x.Mode, &diags)(s.oneOf(sp.Mode, "mode", "Invalid SELinux mode", selinuxModes))
			if x.Type == "" && !diags.HasErrors() {
				diags = diags.Append(errorf(b.DefRange, "Missing SELinux port type", "The selinux step checks the new port's type: give type = \"http_port_t\" (or the type the service's domain may bind), or skip the step on a host without SELinux."))
			}
			st.SELinux = x
		}
	case StepCloud:
		var sp cloudStepSpec
		diags = decodeSpec(b.Body, &sp)
		if mode(sp.Skip, sp.Attest, map[string]hcl.Expression{"provider": sp.Provider, "target": sp.Target, "sources": sp.Sources, "ephemeral_ports": sp.EphemeralPorts}) {
			x := &ExpectCloud{Ephemeral: PortRange{From: DefaultEphemeralFrom, To: DefaultEphemeralTo}, DeclRange: b.DefRange}
			if isNullExpr(sp.Provider) {
				diags = diags.Append(errorf(b.DefRange, "Missing provider", "The cloud step needs provider = provider.TYPE, a reference to a provider block such as provider.aws."))
			} else {
				p, d := l.providerRef(sp.Provider)
				diags = append(diags, d...)
				x.Provider = p
			}
			into(&x.Target, &diags)(s.str(sp.Target, "target"))
			into(&x.Sources, &diags)(s.cidrList(sp.Sources, "sources"))
			into(&x.Ephemeral, &diags)(s.ruleports(sp.EphemeralPorts, "ephemeral_ports"))
			st.Cloud = x
		}
	case StepLoadBalancer:
		var sp lbStepSpec
		diags = decodeSpec(b.Body, &sp)
		others := map[string]hcl.Expression{"type": sp.Type, "pools": sp.Pools, "listeners": sp.Listeners, "load_balancers": sp.LoadBalancers, "targets": sp.Targets,
			"file": sp.File, "region": sp.Region, "profile": sp.Profile, "assume_role_arn": sp.AssumeRoleARN, "endpoint": sp.Endpoint, "allow_draining": sp.AllowDraining}
		if mode(sp.Skip, sp.Attest, others) {
			st.LoadBalancer, diags = decodeLBStep(b, s, sp, diags)
		}
	case StepDNS:
		var sp dnsStepSpec
		diags = decodeSpec(b.Body, &sp)
		if mode(sp.Skip, sp.Attest, map[string]hcl.Expression{"resolver": sp.Resolver, "from": sp.From, "name": sp.Name, "addresses": sp.Addresses, "srv": sp.SRV, "timeout": sp.Timeout}) {
			x := &DNSStep{Timeout: DefaultChangeQueryTimeout}
			into(&x.Resolver, &diags)(s.str(sp.Resolver, "resolver"))
			into(&x.Name, &diags)(s.str(sp.Name, "name"))
			into(&x.SRV, &diags)(s.str(sp.SRV, "srv"))
			into(&x.Timeout, &diags)(s.duration(sp.Timeout, "timeout"))
			addrs, ast, d := s.addrList(sp.Addresses, "addresses")
			diags = append(diags, d...)
			if ast == valid {
				x.Addresses = addrs
			}
			if !isNullExpr(sp.From) {
				h, d := l.hostRef(sp.From)
				diags = append(diags, d...)
				x.From = h
			}
			if x.Resolver == "" && isNullExpr(sp.Resolver) {
				diags = diags.Append(errorf(b.DefRange, "Missing resolver", "The dns step asks a declared resolver: give resolver = \"10.0.0.53\" (port 53 by default), the server clients use."))
			}
			if x.Name == "" && x.SRV == "" && isNullExpr(sp.Name) && isNullExpr(sp.SRV) {
				diags = diags.Append(errorf(b.DefRange, "Missing DNS name", "The dns step needs name (the address record clients resolve), srv (a service record that must carry the new port), or both."))
			}
			st.DNS = x
		}
	case StepMonitoring:
		var sp monitoringStepSpec
		diags = decodeSpec(b.Body, &sp)
		if mode(sp.Skip, sp.Attest, map[string]hcl.Expression{"prometheus": sp.Prometheus, "file_sd": sp.FileSD, "from": sp.From, "jobs": sp.Jobs, "target": sp.Target, "old_target": sp.OldTarget}) {
			x := &MonitoringStep{}
			into(&x.Prometheus, &diags)(s.str(sp.Prometheus, "prometheus"))
			into(&x.FileSD, &diags)(s.path(sp.FileSD, "file_sd"))
			into(&x.Jobs, &diags)(strs(s.stringList(sp.Jobs, "jobs")))
			into(&x.Target, &diags)(s.str(sp.Target, "target"))
			into(&x.OldTarget, &diags)(s.str(sp.OldTarget, "old_target"))
			if !isNullExpr(sp.From) {
				h, d := l.hostRef(sp.From)
				diags = append(diags, d...)
				x.From = h
			}
			if (x.Prometheus == "") == (x.FileSD == "") && !diags.HasErrors() {
				diags = diags.Append(errorf(b.DefRange, "Invalid monitoring step", "Give one of prometheus (a server's URL, whose /api/v1/targets is read) or file_sd (a file_sd target file on this host)."))
			}
			st.Monitoring = x
		}
	case StepDocument:
		var sp documentStepSpec
		diags = decodeSpec(b.Body, &sp)
		if mode(sp.Skip, sp.Attest, nil) {
			// Documenting is a person's act: an attestation always judges it.
			st.Mode, st.Reason = ModeAttest, "the change record is written and filed with the ticket (portcheck change report)"
		}
	case StepRollback:
		var sp rollbackStepSpec
		diags = decodeSpec(b.Body, &sp)
		if mode(sp.Skip, sp.Attest, map[string]hcl.Expression{"backup_dir": sp.BackupDir}) {
			x := &RollbackStep{}
			into(&x.BackupDir, &diags)(s.path(sp.BackupDir, "backup_dir"))
			if x.BackupDir == "" && !diags.HasErrors() {
				diags = diags.Append(errorf(b.DefRange, "Missing backup directory", "The rollback step looks for the firewall backup taken before the window: give backup_dir, the directory given to `portcheck backup`."))
			}
			st.Rollback = x
		}
	}
	return st, diags
}

func decodeLBStep(b *hcl.Block, s *scope, sp lbStepSpec, diags hcl.Diagnostics) (*LoadBalancerStep, hcl.Diagnostics) {
	x := &LoadBalancerStep{}
	if isNullExpr(sp.Type) {
		diags = diags.Append(errorf(b.DefRange, "Missing load balancer type", "Give type = one of %s.", quoteList(LoadBalancerTypes)))
	}
	into(&x.Type, &diags)(s.oneOf(sp.Type, "type", "Invalid load balancer type", LoadBalancerTypes))
	into(&x.Pools, &diags)(strs(s.stringList(sp.Pools, "pools")))
	into(&x.Listeners, &diags)(strs(s.stringList(sp.Listeners, "listeners")))
	into(&x.LoadBalancers, &diags)(strs(s.stringList(sp.LoadBalancers, "load_balancers")))
	into(&x.Targets, &diags)(strs(s.stringList(sp.Targets, "targets")))
	into(&x.File, &diags)(s.path(sp.File, "file"))
	into(&x.Region, &diags)(s.str(sp.Region, "region"))
	into(&x.Profile, &diags)(s.str(sp.Profile, "profile"))
	into(&x.AssumeRoleARN, &diags)(s.str(sp.AssumeRoleARN, "assume_role_arn"))
	into(&x.Endpoint, &diags)(s.str(sp.Endpoint, "endpoint"))
	into(&x.AllowDraining, &diags)(s.boolean(sp.AllowDraining, "allow_draining"))
	onlyFor := func(expr hcl.Expression, attr string, types ...string) {
		if !isNullExpr(expr) && x.Type != "" && !contains(types, x.Type) {
			diags = diags.Append(errorf(expr.Range(), "Unsupported argument", "%s applies to type %s, not %q.", attr, strings.Join(types, " or "), x.Type))
		}
	}
	onlyFor(sp.File, "file", "haproxy", "nginx")
	onlyFor(sp.Listeners, "listeners", "alb")
	onlyFor(sp.LoadBalancers, "load_balancers", "slb")
	onlyFor(sp.Region, "region", "elbv2", "slb", "alb")
	onlyFor(sp.Endpoint, "endpoint", "elbv2", "slb", "alb")
	onlyFor(sp.Profile, "profile", "elbv2")
	onlyFor(sp.AssumeRoleARN, "assume_role_arn", "elbv2")
	switch x.Type {
	case "haproxy", "nginx":
		if x.File == "" && !diags.HasErrors() {
			diags = diags.Append(errorf(b.DefRange, "Missing file", "A %s load balancer is read from its configuration: give file.", x.Type))
		}
	case "elbv2", "alb":
		if len(x.Pools) == 0 && !diags.HasErrors() {
			diags = diags.Append(errorf(b.DefRange, "Missing pools", "Give pools: the target groups (%s) the service is registered in.", map[string]string{"elbv2": "ARN or name", "alb": "server group ids"}[x.Type]))
		}
	case "slb":
		if len(x.Pools)+len(x.LoadBalancers) == 0 && !diags.HasErrors() {
			diags = diags.Append(errorf(b.DefRange, "Missing pools", "Give pools (VServer group ids) or load_balancers (SLB instance ids)."))
		}
	}
	return x, diags
}

func (l *loader) decodeAttestation(b *hcl.Block, s *scope, changes map[string]*Change) hcl.Diagnostics {
	a := &Attestation{Change: b.Labels[0], Step: StepName(b.Labels[1]), DeclRange: b.DefRange}
	var sp attestationSpec
	diags := decodeSpec(b.Body, &sp)
	c, ok := changes[a.Change]
	if !ok {
		return diags.Append(errorf(b.LabelRanges[0], "Attestation for an undeclared change",
			"There is no change %q (changes: %s); an attestation counts only for a declared change and step.", a.Change, changeNames(changes)))
	}
	if !IsStep(string(a.Step)) {
		return diags.Append(errorf(b.LabelRanges[1], "Attestation for an unknown step",
			"%q is not a step of a change; the steps are %s.", a.Step, quoteList(stepStrings())))
	}
	st := c.Step(a.Step)
	switch {
	case st == nil:
		return diags // the change's own diagnostics say the step is missing
	case st.Mode == ModeSkip:
		return diags.Append(errorf(b.LabelRanges[1], "Attestation for a skipped step",
			"Step %s of change %q is skipped (%s at %s): nothing to attest.", a.Step, a.Change, st.Reason, SourceOf(st.DeclRange)))
	case st.Mode == ModeVerify:
		return diags.Append(errorf(b.LabelRanges[1], "Attestation for a verified step",
			"Step %s of change %q is verified by portcheck (declared at %s); a person's word cannot stand in for the check. Declare attest = \"why\" in the step if only a person can confirm it.", a.Step, a.Change, SourceOf(st.DeclRange)))
	}
	if first, dup := c.Attestations[a.Step]; dup {
		return diags.Append(errorf(b.DefRange, "Duplicate attestation", "Step %s of change %q was already attested at %s.", a.Step, a.Change, SourceOf(first.DeclRange)))
	}
	into(&a.By, &diags)(s.str(sp.By, "by"))
	into(&a.At, &diags)(s.timestamp(sp.At, "at"))
	into(&a.Ticket, &diags)(s.str(sp.Ticket, "ticket"))
	into(&a.Note, &diags)(s.str(sp.Note, "note"))
	for _, m := range []struct {
		expr hcl.Expression
		attr string
	}{{sp.By, "by (who attests)"}, {sp.At, "at (when, RFC 3339)"}} {
		if isNullExpr(m.expr) {
			diags = diags.Append(errorf(b.DefRange, "Incomplete attestation", "An attestation records who, when and under which ticket: give %s.", m.attr))
		}
	}
	if strings.TrimSpace(a.By) == "" && !isNullExpr(sp.By) {
		diags = diags.Append(errorf(sp.By.Range(), "Invalid attestation", "by names the person who attests; it must not be empty."))
	}
	if a.Ticket == "" {
		a.Ticket = c.Ticket
	}
	if a.Ticket == "" && !diags.HasErrors() {
		diags = diags.Append(errorf(b.DefRange, "Missing ticket", "An attestation records its ticket: give ticket here, or in change %q.", c.Name))
	}
	if !diags.HasErrors() {
		c.Attestations[a.Step] = a
	}
	return diags
}

// endpointRef resolves a static endpoint.NAME traversal.
func (l *loader) endpointRef(expr hcl.Expression) (*Endpoint, hcl.Diagnostics) {
	tr, d := hcl.AbsTraversalForExpr(expr)
	name := traversalName(tr)
	if d.HasErrors() || len(tr) != 2 || tr.RootName() != rootEndpoint || name == "" {
		return nil, hcl.Diagnostics{errorf(expr.Range(), "Invalid endpoint reference",
			"Expected a reference to an endpoint, like endpoint.web (in JSON syntax, the string \"endpoint.web\").")}
	}
	for _, e := range l.cfg.Endpoints {
		if e.Name == name {
			return e, nil
		}
	}
	return nil, hcl.Diagnostics{errorf(expr.Range(), "Reference to undeclared endpoint", "An endpoint named %q has not been declared.", name)}
}

// timestamp decodes an RFC 3339 time ("2026-12-03T22:00:00Z").
func (s *scope) timestamp(expr hcl.Expression, attr string) (time.Time, state, hcl.Diagnostics) {
	v, st, diags := s.str(expr, attr)
	if st != valid {
		return time.Time{}, st, diags
	}
	t, err := time.Parse(time.RFC3339, v)
	if err != nil {
		return time.Time{}, invalid, diags.Append(errorf(expr.Range(), "Invalid timestamp",
			"%s must be an RFC 3339 time with its zone, like \"2026-12-03T22:00:00Z\"; got %q.", attr, v))
	}
	return t.UTC(), valid, diags
}

// addrList decodes a list of IP addresses.
func (s *scope) addrList(expr hcl.Expression, attr string) ([]netip.Addr, state, hcl.Diagnostics) {
	strs, ranges, st, diags := s.stringList(expr, attr)
	if st != valid {
		return nil, st, diags
	}
	var out []netip.Addr
	for i, str := range strs {
		a, err := parseIP(str)
		if err != nil {
			diags = diags.Append(inContext(errorDiag(ranges[i], "Invalid IP address", err.Error()), expr.Range()))
			st = invalid
			continue
		}
		out = append(out, a)
	}
	return out, st, diags
}

// strs drops the ranges of stringList's answer.
func strs(v []string, _ []hcl.Range, st state, d hcl.Diagnostics) ([]string, state, hcl.Diagnostics) {
	return v, st, d
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}

func quoteList(list []string) string {
	q := make([]string, len(list))
	for i, s := range list {
		q[i] = fmt.Sprintf("%q", s)
	}
	return strings.Join(q, ", ")
}

func stepStrings() []string {
	out := make([]string, len(Steps))
	for i, s := range Steps {
		out[i] = string(s)
	}
	return out
}

func changeNames(m map[string]*Change) string {
	if len(m) == 0 {
		return "none declared"
	}
	return strings.Join(sortedKeys(m), ", ")
}

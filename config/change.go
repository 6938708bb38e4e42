package config

import (
	"net/netip"
	"regexp"
	"slices"
	"time"

	"github.com/hashicorp/hcl/v2"
)

// StepName names one of the nine steps of a port change, in the order of
// the checklist operators already follow (app config first, rollback last).
type StepName string

const (
	StepAppConfig    StepName = "app_config"
	StepFirewall     StepName = "firewall"
	StepSELinux      StepName = "selinux"
	StepCloud        StepName = "cloud"
	StepLoadBalancer StepName = "load_balancer"
	StepDNS          StepName = "dns"
	StepMonitoring   StepName = "monitoring"
	StepDocument     StepName = "document"
	StepRollback     StepName = "rollback"
)

// Steps are every step of a change, in checklist order. A change declares
// each one, if only to skip it: a step is never silently absent.
var Steps = []StepName{StepAppConfig, StepFirewall, StepSELinux, StepCloud, StepLoadBalancer, StepDNS, StepMonitoring, StepDocument, StepRollback}

// StepMode is how a step is judged.
type StepMode string

const (
	// ModeVerify: a layer or an observer checks it on the host, cloud or
	// service.
	ModeVerify StepMode = "verify"
	// ModeAttest: only a person can say it was done; an attestation block
	// records who, when and under which ticket.
	ModeAttest StepMode = "attest"
	// ModeSkip: the change does not need the step, and says why.
	ModeSkip StepMode = "skip"
)

// Change is a `change "name" {}` block: moving an endpoint's service from
// one port to another, as nine steps checked in two phases (pre: before
// the window; post: after it).
type Change struct {
	Name string
	// Endpoint is the service that moves: its host, vantage hosts and
	// expect blocks (listening process, firewall sources…) are the
	// defaults of the steps. Its own port may be either of the two.
	Endpoint    *Endpoint
	FromPort    int
	ToPort      int
	WindowStart time.Time
	Ticket      string
	Description string
	// Steps are the nine steps in the order of Steps.
	Steps []*ChangeStep
	// Attestations by step, as the attestation blocks declare them (they
	// count only from WindowStart on; the runner judges that).
	Attestations map[StepName]*Attestation
	DeclRange    hcl.Range
}

// Step returns the change's step of that name.
func (c *Change) Step(n StepName) *ChangeStep {
	for _, s := range c.Steps {
		if s.Name == n {
			return s
		}
	}
	return nil
}

// ChangeStep is one step block of a change. Exactly one of the typed
// fields is set for a verified step (none for document, which is always
// attested).
type ChangeStep struct {
	Name StepName
	Mode StepMode
	// Reason is why the step is skipped, or why a person attests it.
	Reason       string
	AppConfig    *AppConfigStep
	Firewall     *FirewallStep
	SELinux      *ExpectSELinux
	Cloud        *ExpectCloud
	LoadBalancer *LoadBalancerStep
	DNS          *DNSStep
	Monitoring   *MonitoringStep
	Rollback     *RollbackStep
	DeclRange    hcl.Range
}

// AppConfigStep: the service listens on the new port (owned by Process
// when given), and a configuration file on the host says so.
type AppConfigStep struct {
	Process     string
	ConfigFile  string
	ConfigMatch *regexp.Regexp
}

// FirewallStep: the new port is accepted from Sources, runtime and
// permanent; the old one no longer is.
type FirewallStep struct {
	// Sources default to the endpoint's firewall allow_from, else its
	// vantage hosts' addresses.
	Sources   []netip.Prefix
	Backend   string
	Permanent bool
}

// Load balancer kinds a load_balancer step may read.
var LoadBalancerTypes = []string{"elbv2", "slb", "alb", "haproxy", "nginx"}

// LoadBalancerStep: the balancer's backend targets the new port and is
// healthy there; the old port is deregistered.
type LoadBalancerStep struct {
	Type string
	// Pools are target groups (ARN or name), VServer groups, ALB server
	// groups, HAProxy backends or nginx upstreams; empty for a file = all.
	Pools []string
	// Listeners are the ALB listeners whose health is read; LoadBalancers
	// the SLB instances whose backends and health are read.
	Listeners     []string
	LoadBalancers []string
	// Targets are how the balancer names the backend (an address, an
	// instance id); default the endpoint's addresses.
	Targets []string
	// File is the HAProxy or nginx configuration.
	File string
	// Cloud API settings (elbv2: region, profile, assume_role_arn,
	// endpoint; slb and alb: region, endpoint).
	Region, Profile, AssumeRoleARN, Endpoint string
	// AllowDraining counts an old target that is draining as gone.
	AllowDraining bool
}

// DNSStep: Name resolves to Addresses from Resolver, and SRV (when given)
// carries the new port and no longer the old one.
type DNSStep struct {
	Resolver  string
	From      *Host // the namespace the query leaves from; nil = this machine
	Name      string
	Addresses []netip.Addr // default the endpoint's addresses
	SRV       string
	Timeout   time.Duration
}

// MonitoringStep: a Prometheus server's targets (or a file_sd file) list
// the new endpoint (up, for a server) and no longer the old one.
type MonitoringStep struct {
	Prometheus string
	FileSD     string
	From       *Host
	Jobs       []string
	// Target is the new endpoint as the monitoring names it (host:port or
	// a URL); default the endpoint's first address and the new port.
	Target string
	// OldTarget likewise for the old port; default from Target with the
	// old port.
	OldTarget string
}

// RollbackStep: a firewall backup taken before the window exists under
// BackupDir and can be restored.
type RollbackStep struct {
	BackupDir string
}

// Attestation is an `attestation "change" "step" {}` block: a person says
// a step was done.
type Attestation struct {
	Change    string
	Step      StepName
	By        string
	At        time.Time
	Ticket    string
	Note      string
	DeclRange hcl.Range
}

// IsStep reports whether n is one of the nine steps.
func IsStep(n string) bool { return slices.Contains(Steps, StepName(n)) }

// Package lb holds the facts of load-balancer backends — which targets a
// pool (an AWS ELBv2 target group, an Alibaba Cloud SLB VServer group or
// load balancer, an ALB server group, an HAProxy backend, an nginx
// upstream) sends traffic to, and their health where the balancer reports
// it — and pure helpers that answer a port-change checklist's load-balancer
// step from those facts alone: is ADDR:PORT registered and healthy, only
// draining, or gone.
//
// The readers live in sub-packages, one per kind of balancer (elbv2,
// aliyunlb, haproxy, nginx); they observe and never decide. Everything here
// is plain JSON-serialisable data, so a step can be judged later or on
// another machine from recorded facts.
package lb

import (
	"fmt"
	"slices"
	"strings"
)

// Kind is the kind of balancer the facts were read from.
type Kind string

// Kinds of balancer.
const (
	KindELBv2   Kind = "elbv2"   // AWS Application/Network/Gateway Load Balancer target groups
	KindSLB     Kind = "slb"     // Alibaba Cloud Classic Load Balancer (SLB/CLB)
	KindALB     Kind = "alb"     // Alibaba Cloud Application Load Balancer
	KindHAProxy Kind = "haproxy" // an HAProxy configuration file
	KindNginx   Kind = "nginx"   // an nginx configuration file
)

// PoolType says what a pool is on its balancer.
type PoolType string

// Pool types.
const (
	PoolTargetGroup  PoolType = "target_group"  // ELBv2
	PoolVServerGroup PoolType = "vserver_group" // SLB
	PoolLoadBalancer PoolType = "load_balancer" // SLB: every backend the listeners of one load balancer use
	PoolServerGroup  PoolType = "server_group"  // ALB
	PoolBackend      PoolType = "backend"       // HAProxy backend section
	PoolListen       PoolType = "listen"        // HAProxy listen section (frontend and backend in one)
	PoolUpstream     PoolType = "upstream"      // nginx upstream block
)

// State is one membership's state as the balancer (or the configuration
// file) gives it.
type State string

// States of a member.
const (
	// StateHealthy: registered and passing the balancer's health checks.
	StateHealthy State = "healthy"
	// StateUnhealthy: registered and failing the health checks.
	StateUnhealthy State = "unhealthy"
	// StateInitial: registered, the first health checks have not decided
	// yet (ELBv2 initial, ALB Initial or Adding).
	StateInitial State = "initial"
	// StateDraining: being deregistered (ELBv2 draining, ALB Removing):
	// existing connections finish, new ones go elsewhere.
	StateDraining State = "draining"
	// StateUnused: registered but sent no traffic (ELBv2 unused: the
	// target group has no load balancer, the zone is not enabled, the
	// instance is stopped; ALB Unused: weight 0).
	StateUnused State = "unused"
	// StateUnavailable: health checks are disabled or their result is not
	// available (ELBv2 unavailable, SLB unavailable, ALB Unavailable).
	StateUnavailable State = "unavailable"
	// StateDisabled: the configuration file takes the server out of
	// rotation (HAProxy `disabled`, nginx `down`).
	StateDisabled State = "disabled"
	// StateRegistered: listed, its health not reported (a configuration
	// file, or a cloud pool that no listener read forwards to).
	StateRegistered State = "registered"
)

// Facts is what one read of one balancer (or one configuration file)
// found.
type Facts struct {
	Kind Kind `json:"kind"`
	// Region of a cloud read; File of a configuration file read.
	Region string `json:"region,omitempty"`
	File   string `json:"file,omitempty"`
	Pools  []Pool `json:"pools"`
	// Unresolved lists what the read could not follow (an nginx include,
	// an HAProxy conditional block): pools or servers may be missing from
	// Pools because of them, so a "gone" answer must say so.
	Unresolved []Unresolved `json:"unresolved,omitempty"`
	// Notes are facts about the read worth showing (a pool whose health
	// no listener read reports, say).
	Notes []string `json:"notes,omitempty"`
}

// Unresolved is one directive a configuration read did not follow.
type Unresolved struct {
	Line      int    `json:"line"`
	Directive string `json:"directive"` // "include", ".if"
	Text      string `json:"text"`      // the line as written, trimmed
	Why       string `json:"why"`
}

// Pool is one set of backends traffic is balanced over.
type Pool struct {
	// ID is the balancer's id (ARN, rsp-…, sgp-…, lb-…) or, in a
	// configuration file, the section or block name.
	ID   string   `json:"id"`
	Name string   `json:"name,omitempty"`
	Type PoolType `json:"type"`
	// Protocol and Port are the pool's own (ELBv2: the target group's
	// protocol and default target port).
	Protocol string `json:"protocol,omitempty"`
	Port     int    `json:"port,omitempty"`
	// TargetType says what member ids are (ELBv2 instance, ip, lambda,
	// alb).
	TargetType string `json:"target_type,omitempty"`
	// LoadBalancers that use the pool (ELBv2 LoadBalancerArns, the SLB
	// instance of a VServer group). Empty for ELBv2 means no load
	// balancer routes to the target group.
	LoadBalancers []string `json:"load_balancers,omitempty"`
	// HealthReported is true when the members' states come from the
	// balancer's health checks.
	HealthReported bool `json:"health_reported"`
	// Line is where a configuration file declares the pool.
	Line    int      `json:"line,omitempty"`
	Members []Member `json:"members"`
}

// Member is one backend of a pool.
type Member struct {
	// ID is what the balancer calls the member: an instance or server id,
	// an IP address, an HAProxy server name.
	ID string `json:"id"`
	// Address is where traffic goes (an IP address or a host name); empty
	// when the balancer only names an instance.
	Address string `json:"address,omitempty"`
	// Port is the member's port; 0 when the configuration gives none
	// (HAProxy then uses the port the client connected to) or it is a
	// Unix socket.
	Port   int    `json:"port"`
	Weight *int   `json:"weight,omitempty"`
	Zone   string `json:"zone,omitempty"`
	// State is the member's state; with several listeners' health checks
	// (Listeners), the least ready of them.
	State State `json:"state"`
	// Reason and Description are the balancer's words for State
	// (ELBv2 "Target.FailedHealthChecks", ALB reason codes).
	Reason      string `json:"reason,omitempty"`
	Description string `json:"description,omitempty"`
	// Status is the member's registration status where the balancer has
	// one apart from health (ALB Adding, Available, Configuring, Removing).
	Status string `json:"status,omitempty"`
	// HealthCheckPort is the port health checks go to when it differs
	// from Port (ELBv2).
	HealthCheckPort string `json:"health_check_port,omitempty"`
	// Listeners holds each listener's health check result when there are
	// several (SLB, ALB).
	Listeners []ListenerHealth `json:"listeners,omitempty"`
	// Flags of a configuration file's server line (backup, disabled,
	// down, …).
	Flags []string `json:"flags,omitempty"`
	// Line is where a configuration file declares the member.
	Line int `json:"line,omitempty"`
}

// ListenerHealth is one listener's view of a member's health.
type ListenerHealth struct {
	Listener string `json:"listener"` // ALB lsn-…, SLB "http:80"
	State    State  `json:"state"`
	Reason   string `json:"reason,omitempty"`
}

// readiness orders states from ready to not: a member seen by several
// listeners takes the least ready state.
var readiness = map[State]int{
	StateHealthy:     0,
	StateRegistered:  1,
	StateInitial:     2,
	StateUnavailable: 3,
	StateUnused:      4,
	StateDisabled:    5,
	StateUnhealthy:   6,
	StateDraining:    7,
}

// LeastReady is the least ready of states (StateRegistered for none).
func LeastReady(states ...State) State {
	out := StateRegistered
	for i, s := range states {
		if i == 0 || readiness[s] > readiness[out] {
			out = s
		}
	}
	return out
}

// NotFoundError says that pools asked for do not exist on the balancer
// (ELBv2 TargetGroupNotFound, an unknown VServer or server group): what
// was declared cannot be checked, which is an error, not an answer.
type NotFoundError struct {
	Kind    string   // "target group", "VServer group", …
	IDs     []string // what was asked for and is missing
	Message string   // the API's own message
}

func (e *NotFoundError) Error() string {
	s := fmt.Sprintf("%s not found: %s", e.Kind, strings.Join(e.IDs, ", "))
	if e.Message != "" {
		s += " (" + e.Message + ")"
	}
	return s
}

// Names reports whether p is the pool called name (its id or its name).
func (p *Pool) Names(name string) bool {
	return name != "" && (p.ID == name || p.Name == name)
}

// PoolByName is the pool with that id or name, or nil.
func (f *Facts) PoolByName(name string) *Pool {
	for i := range f.Pools {
		if f.Pools[i].Names(name) {
			return &f.Pools[i]
		}
	}
	return nil
}

// sortedFlags keeps Flags in a stable order for facts and goldens.
func sortedFlags(flags []string) []string {
	if len(flags) == 0 {
		return nil
	}
	out := slices.Clone(flags)
	slices.Sort(out)
	return slices.Compact(out)
}

// SortFlags sorts and de-duplicates every member's flags (readers call it
// once at the end).
func (f *Facts) SortFlags() {
	for i := range f.Pools {
		for j := range f.Pools[i].Members {
			m := &f.Pools[i].Members[j]
			m.Flags = sortedFlags(m.Flags)
		}
	}
}

package aliyunlb

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"strings"

	slb "github.com/alibabacloud-go/slb-20140515/v4/client"
	"github.com/alibabacloud-go/tea/dara"
	"github.com/alibabacloud-go/tea/tea"

	"github.com/portcheck/portcheck/providers/cloud/aliyun"
	"github.com/portcheck/portcheck/providers/lb"
)

// SLBScope says what to read of a Classic Load Balancer.
type SLBScope struct {
	// VServerGroups are VServer group ids (rsp-…): each becomes a pool of
	// its backend servers and ports, with the health the listeners of its
	// load balancer report.
	VServerGroups []string
	// LoadBalancers are load balancer ids (lb-…): each becomes a pool of
	// every backend server and port its listeners forward to (the default
	// server group's included), with their health.
	LoadBalancers []string
}

// ReadSLB reads scope. Health comes from DescribeHealthStatus of each
// load balancer involved, per listener: a member several listeners use
// takes the least ready state and lists each listener's (Member.Listeners).
func ReadSLB(ctx context.Context, cfg Config, scope SLBScope) (*lb.Facts, error) {
	groups, err := ids(scope.VServerGroups, "rsp-", "VServer group")
	if err != nil {
		return nil, err
	}
	lbs, err := ids(scope.LoadBalancers, "lb-", "load balancer")
	if err != nil {
		return nil, err
	}
	if len(groups)+len(lbs) == 0 {
		return nil, errors.New("aliyun: nothing to read: give VServer groups or load balancers")
	}
	client, hc, err := newSLB(cfg)
	if err != nil {
		return nil, err
	}
	defer hc.close()
	r := &slbReader{client: client, region: strings.TrimSpace(cfg.Region), attempts: cfg.MaxAttempts, health: map[string][]slbHealth{}}
	facts := &lb.Facts{Kind: lb.KindSLB, Region: r.region, Pools: []lb.Pool{}}
	for _, id := range groups {
		pool, lbID, err := r.vserverGroup(ctx, id)
		if err != nil {
			return nil, err
		}
		health, err := r.healthOf(ctx, lbID)
		if err != nil {
			return nil, err
		}
		for i := range pool.Members {
			applyHealth(&pool.Members[i], health, lbID)
		}
		facts.Pools = append(facts.Pools, pool)
	}
	for _, id := range lbs {
		health, err := r.healthOf(ctx, id)
		if err != nil {
			return nil, err
		}
		pool := lb.Pool{ID: id, Type: lb.PoolLoadBalancer, LoadBalancers: []string{id}, HealthReported: true, Members: []lb.Member{}}
		for _, h := range health {
			i := memberIndex(pool.Members, h.serverID, h.port)
			if i < 0 {
				pool.Members = append(pool.Members, lb.Member{ID: h.serverID, Address: h.serverIP, Port: h.port})
				i = len(pool.Members) - 1
			}
			pool.Members[i].Listeners = append(pool.Members[i].Listeners, lb.ListenerHealth{Listener: h.listener, State: h.state, Reason: h.reason})
		}
		for i := range pool.Members {
			settle(&pool.Members[i])
		}
		if len(pool.Members) == 0 {
			facts.Notes = append(facts.Notes, fmt.Sprintf("load balancer %s: DescribeHealthStatus lists no backend (no listener, or no backend server)", id))
		}
		facts.Pools = append(facts.Pools, pool)
	}
	return facts, nil
}

// newSLB builds an SLB client with its own HTTP client.
func newSLB(cfg Config) (*slb.Client, *httpClient, error) {
	hc := newHTTPClient()
	c, err := sdkConfig(cfg, cfg.SLBEndpoint, hc)
	if err != nil {
		return nil, nil, err
	}
	client, err := slb.NewClient(c)
	if err != nil {
		return nil, nil, fmt.Errorf("aliyun: SLB client: %w", err)
	}
	return client, hc, nil
}

type slbReader struct {
	client   *slb.Client
	region   string
	attempts int
	health   map[string][]slbHealth // by load balancer, read once
}

// slbHealth is one DescribeHealthStatus entry.
type slbHealth struct {
	listener, serverID, serverIP string
	port                         int
	state                        lb.State
	reason                       string
}

func (r *slbReader) vserverGroup(ctx context.Context, id string) (lb.Pool, string, error) {
	var out *slb.DescribeVServerGroupAttributeResponse
	err := aliyun.Call(ctx, "slb:DescribeVServerGroupAttribute", r.attempts, func(ctx context.Context) error {
		var err error
		out, err = r.client.DescribeVServerGroupAttributeWithContext(ctx,
			&slb.DescribeVServerGroupAttributeRequest{RegionId: tea.String(r.region), VServerGroupId: tea.String(id)}, &dara.RuntimeOptions{})
		return err
	})
	if err != nil {
		return lb.Pool{}, "", notFound(err, "VServer group", id)
	}
	b := out.Body
	if b == nil {
		return lb.Pool{}, "", fmt.Errorf("aliyun: slb:DescribeVServerGroupAttribute %s: an empty answer", id)
	}
	lbID := tea.StringValue(b.LoadBalancerId)
	pool := lb.Pool{ID: id, Name: tea.StringValue(b.VServerGroupName), Type: lb.PoolVServerGroup, HealthReported: true, Members: []lb.Member{}}
	if lbID != "" {
		pool.LoadBalancers = []string{lbID}
	}
	if b.BackendServers != nil {
		for _, s := range b.BackendServers.BackendServer {
			m := lb.Member{ID: tea.StringValue(s.ServerId), Address: tea.StringValue(s.ServerIp), Port: int(tea.Int32Value(s.Port)),
				Description: tea.StringValue(s.Description)}
			if s.Weight != nil {
				w := int(*s.Weight)
				m.Weight = &w
			}
			pool.Members = append(pool.Members, m)
		}
	}
	return pool, lbID, nil
}

// healthOf reads (once per read) the health of every backend of a load
// balancer's listeners.
func (r *slbReader) healthOf(ctx context.Context, lbID string) ([]slbHealth, error) {
	if lbID == "" {
		return nil, nil
	}
	if h, ok := r.health[lbID]; ok {
		return h, nil
	}
	var out *slb.DescribeHealthStatusResponse
	err := aliyun.Call(ctx, "slb:DescribeHealthStatus", r.attempts, func(ctx context.Context) error {
		var err error
		out, err = r.client.DescribeHealthStatusWithContext(ctx,
			&slb.DescribeHealthStatusRequest{RegionId: tea.String(r.region), LoadBalancerId: tea.String(lbID)}, &dara.RuntimeOptions{})
		return err
	})
	if err != nil {
		return nil, notFound(err, "load balancer", lbID)
	}
	health := []slbHealth{}
	if out.Body != nil && out.Body.BackendServers != nil {
		for _, s := range out.Body.BackendServers.BackendServer {
			h := slbHealth{serverID: tea.StringValue(s.ServerId), serverIP: tea.StringValue(s.ServerIp), port: int(tea.Int32Value(s.Port))}
			h.listener = strings.ToLower(tea.StringValue(s.Protocol)) + ":" + strconv.Itoa(int(tea.Int32Value(s.ListenerPort)))
			switch st := tea.StringValue(s.ServerHealthStatus); st {
			case "normal":
				h.state = lb.StateHealthy
			case "abnormal":
				h.state = lb.StateUnhealthy
			case "unavailable":
				h.state, h.reason = lb.StateUnavailable, "health check not completed or disabled"
			default:
				h.state, h.reason = lb.StateRegistered, fmt.Sprintf("health status %q not known to portcheck", st)
			}
			health = append(health, h)
		}
	}
	r.health[lbID] = health
	return health, nil
}

// applyHealth gives a VServer group member the listeners' view of its
// server and port.
func applyHealth(m *lb.Member, health []slbHealth, lbID string) {
	for _, h := range health {
		if h.serverID == m.ID && h.port == m.Port {
			m.Listeners = append(m.Listeners, lb.ListenerHealth{Listener: h.listener, State: h.state, Reason: h.reason})
		}
	}
	if len(m.Listeners) == 0 {
		m.State = lb.StateRegistered
		m.Reason = "no listener of " + lbID + " reports it (DescribeHealthStatus has no entry for this server and port)"
		return
	}
	settle(m)
}

// settle sets State (and Reason) from the listeners' views: the least
// ready one.
func settle(m *lb.Member) {
	var states []lb.State
	for _, l := range m.Listeners {
		states = append(states, l.State)
	}
	m.State = lb.LeastReady(states...)
	for _, l := range m.Listeners {
		if l.State == m.State && m.State != lb.StateHealthy {
			m.Reason = l.Listener
			if l.Reason != "" {
				m.Reason += ": " + l.Reason
			}
			break
		}
	}
}

func memberIndex(ms []lb.Member, id string, port int) int {
	for i, m := range ms {
		if m.ID == id && m.Port == port {
			return i
		}
	}
	return -1
}

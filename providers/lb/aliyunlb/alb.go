package aliyunlb

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"strings"

	alb "github.com/alibabacloud-go/alb-20200616/v2/client"
	"github.com/alibabacloud-go/tea/dara"
	"github.com/alibabacloud-go/tea/tea"

	"github.com/portcheck/portcheck/providers/cloud/aliyun"
	"github.com/portcheck/portcheck/providers/lb"
)

// ALBScope says what to read of an Application Load Balancer.
type ALBScope struct {
	// ServerGroups are server group ids (sgp-…): each becomes a pool of
	// its servers and ports.
	ServerGroups []string
	// Listeners are listener ids (lsn-…) whose health checks give the
	// servers' health: ALB reports health per listener (and forwarding
	// rule), listing only the servers that are not healthy. A server
	// group that none of them forwards to keeps its members "registered"
	// (health not known), which Facts.Notes says.
	Listeners []string
}

// maxServersPage is ListServerGroupServers' largest page.
const maxServersPage = 100

// ReadALB reads scope.
func ReadALB(ctx context.Context, cfg Config, scope ALBScope) (*lb.Facts, error) {
	groups, err := ids(scope.ServerGroups, "sgp-", "server group")
	if err != nil {
		return nil, err
	}
	listeners, err := ids(scope.Listeners, "lsn-", "listener")
	if err != nil {
		return nil, err
	}
	if len(groups) == 0 {
		return nil, errors.New("aliyun: nothing to read: give ALB server groups")
	}
	client, hc, err := newALB(cfg)
	if err != nil {
		return nil, err
	}
	defer hc.close()
	r := &albReader{client: client, attempts: cfg.MaxAttempts}
	views := map[string][]groupView{} // by server group
	for _, l := range listeners {
		if err := r.listenerHealth(ctx, l, views); err != nil {
			return nil, err
		}
	}
	facts := &lb.Facts{Kind: lb.KindALB, Region: strings.TrimSpace(cfg.Region), Pools: []lb.Pool{}}
	for _, g := range groups {
		pool, err := r.serverGroup(ctx, g)
		if err != nil {
			return nil, err
		}
		vs := views[g]
		pool.HealthReported = len(vs) > 0
		for i := range pool.Members {
			albHealth(&pool.Members[i], g, vs)
		}
		if len(vs) == 0 && len(pool.Members) > 0 {
			facts.Notes = append(facts.Notes, fmt.Sprintf("server group %s: no listener read forwards to it, so its servers' health is not known", g))
		}
		facts.Pools = append(facts.Pools, pool)
	}
	return facts, nil
}

// newALB builds an ALB client with its own HTTP client.
func newALB(cfg Config) (*alb.Client, *httpClient, error) {
	hc := newHTTPClient()
	c, err := sdkConfig(cfg, cfg.ALBEndpoint, hc)
	if err != nil {
		return nil, nil, err
	}
	client, err := alb.NewClient(c)
	if err != nil {
		return nil, nil, fmt.Errorf("aliyun: ALB client: %w", err)
	}
	return client, hc, nil
}

type albReader struct {
	client   *alb.Client
	attempts int
}

// groupView is one listener's (or forwarding rule's) health report on a
// server group: health checks on or off, and the servers not healthy.
type groupView struct {
	listener  string
	checks    bool
	nonNormal []nonNormal
}

type nonNormal struct {
	id, ip string
	port   int
	status string
	reason string
}

func (r *albReader) serverGroup(ctx context.Context, id string) (lb.Pool, error) {
	pool := lb.Pool{ID: id, Type: lb.PoolServerGroup, Members: []lb.Member{}}
	var token *string
	for {
		var out *alb.ListServerGroupServersResponse
		err := aliyun.Call(ctx, "alb:ListServerGroupServers", r.attempts, func(ctx context.Context) error {
			var err error
			out, err = r.client.ListServerGroupServersWithContext(ctx, &alb.ListServerGroupServersRequest{
				ServerGroupId: tea.String(id), MaxResults: tea.Int32(maxServersPage), NextToken: token}, &dara.RuntimeOptions{})
			return err
		})
		if err != nil {
			return pool, notFound(err, "server group", id)
		}
		if out.Body == nil {
			return pool, fmt.Errorf("aliyun: alb:ListServerGroupServers %s: an empty answer", id)
		}
		for _, s := range out.Body.Servers {
			m := lb.Member{ID: tea.StringValue(s.ServerId), Address: tea.StringValue(s.ServerIp), Port: int(tea.Int32Value(s.Port)),
				Status: tea.StringValue(s.Status), Description: tea.StringValue(s.Description)}
			if m.Address == "" && tea.StringValue(s.ServerType) == "Ip" {
				m.Address = m.ID
			}
			if s.Weight != nil {
				w := int(*s.Weight)
				m.Weight = &w
			}
			pool.Members = append(pool.Members, m)
		}
		if tea.StringValue(out.Body.NextToken) == "" {
			return pool, nil
		}
		if token != nil && *token == *out.Body.NextToken {
			return pool, fmt.Errorf("aliyun: alb:ListServerGroupServers %s: the same NextToken twice", id)
		}
		token = out.Body.NextToken
	}
}

// listenerHealth reads a listener's health report, every page, rules
// included, into views.
func (r *albReader) listenerHealth(ctx context.Context, listener string, views map[string][]groupView) error {
	var token *string
	for {
		var out *alb.GetListenerHealthStatusResponse
		err := aliyun.Call(ctx, "alb:GetListenerHealthStatus", r.attempts, func(ctx context.Context) error {
			var err error
			out, err = r.client.GetListenerHealthStatusWithContext(ctx, &alb.GetListenerHealthStatusRequest{
				ListenerId: tea.String(listener), IncludeRule: tea.Bool(true), NextToken: token}, &dara.RuntimeOptions{})
			return err
		})
		if err != nil {
			return notFound(err, "listener", listener)
		}
		if out.Body == nil {
			return fmt.Errorf("aliyun: alb:GetListenerHealthStatus %s: an empty answer", listener)
		}
		for _, l := range out.Body.ListenerHealthStatus {
			label := tea.StringValue(l.ListenerId)
			if p := tea.Int32Value(l.ListenerPort); p != 0 {
				label += " (" + strings.ToLower(tea.StringValue(l.ListenerProtocol)) + ":" + strconv.Itoa(int(p)) + ")"
			}
			for _, g := range l.ServerGroupInfos {
				v := groupView{listener: label, checks: tea.StringValue(g.HealthCheckEnabled) == "on"}
				for _, s := range g.NonNormalServers {
					n := nonNormal{id: tea.StringValue(s.ServerId), ip: tea.StringValue(s.ServerIp), port: int(tea.Int32Value(s.Port)), status: tea.StringValue(s.Status)}
					if s.Reason != nil {
						n.reason = reasonText(tea.StringValue(s.Reason.ReasonCode), tea.StringValue(s.Reason.ExpectedResponse), tea.StringValue(s.Reason.ActualResponse))
					}
					v.nonNormal = append(v.nonNormal, n)
				}
				id := tea.StringValue(g.ServerGroupId)
				views[id] = append(views[id], v)
			}
		}
		for _, rule := range out.Body.RuleHealthStatus {
			label := listener + " rule " + tea.StringValue(rule.RuleId)
			for _, g := range rule.ServerGroupInfos {
				v := groupView{listener: label, checks: tea.StringValue(g.HealthCheckEnabled) == "on"}
				for _, s := range g.NonNormalServers {
					n := nonNormal{id: tea.StringValue(s.ServerId), ip: tea.StringValue(s.ServerIp), port: int(tea.Int32Value(s.Port)), status: tea.StringValue(s.Status)}
					if s.Reason != nil {
						n.reason = reasonText(tea.StringValue(s.Reason.ReasonCode), tea.StringValue(s.Reason.ExpectedResponse), tea.StringValue(s.Reason.ActualResponse))
					}
					v.nonNormal = append(v.nonNormal, n)
				}
				id := tea.StringValue(g.ServerGroupId)
				views[id] = append(views[id], v)
			}
		}
		if tea.StringValue(out.Body.NextToken) == "" {
			return nil
		}
		if token != nil && *token == *out.Body.NextToken {
			return fmt.Errorf("aliyun: alb:GetListenerHealthStatus %s: the same NextToken twice", listener)
		}
		token = out.Body.NextToken
	}
}

func reasonText(code, expected, actual string) string {
	s := code
	if expected != "" || actual != "" {
		s += fmt.Sprintf(" (expected %s, got %s)", expected, actual)
	}
	return s
}

// albHealth sets a member's state from the listeners' reports on its
// group: listed as not normal → that status; not listed where health
// checks are on → healthy; checks off → unavailable. A server being
// removed is draining whatever its health.
func albHealth(m *lb.Member, group string, views []groupView) {
	for _, v := range views {
		h := lb.ListenerHealth{Listener: v.listener, State: lb.StateHealthy}
		if !v.checks {
			h.State, h.Reason = lb.StateUnavailable, "health checks are off"
		}
		for _, n := range v.nonNormal {
			if n.port == m.Port && ((n.id != "" && n.id == m.ID) || (n.ip != "" && n.ip == m.Address)) {
				h.State, h.Reason = albState(n.status), n.reason
				if h.Reason == "" {
					h.Reason = n.status
				}
			}
		}
		m.Listeners = append(m.Listeners, h)
	}
	if len(m.Listeners) == 0 {
		m.State, m.Reason = lb.StateRegistered, "no listener read forwards to "+group
	} else {
		settle(m)
	}
	if m.Status == "Removing" {
		m.State, m.Reason = lb.StateDraining, "Removing"
	}
}

func albState(status string) lb.State {
	switch status {
	case "Initial":
		return lb.StateInitial
	case "Unhealthy":
		return lb.StateUnhealthy
	case "Unused":
		return lb.StateUnused
	case "Unavailable":
		return lb.StateUnavailable
	}
	return lb.StateRegistered
}

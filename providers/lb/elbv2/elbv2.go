// Package elbv2 reads AWS Elastic Load Balancing v2 target groups (of
// Application, Network and Gateway Load Balancers) and the health of their
// targets into lb.Facts, for the port-change checklist's load-balancer
// step: the target on the new port registered and healthy, the old port's
// target deregistered.
//
// It calls two read-only actions, DescribeTargetGroups (by ARN or name,
// every page) and DescribeTargetHealth (per target group), through
// github.com/aws/aws-sdk-go-v2/service/elasticloadbalancingv2. The SDK
// configuration — default credential chain or profile, region, assumed
// role, retries with backoff on throttling — is providers/cloud/aws's
// (LoadSDKConfig); the endpoint is ELBv2's own: Config.Endpoint, else the
// SDK's resolution, which honours AWS_ENDPOINT_URL_ELASTIC_LOAD_BALANCING_V2
// and AWS_ENDPOINT_URL.
package elbv2

import (
	"context"
	"errors"
	"fmt"
	"net/netip"
	"slices"
	"strconv"
	"strings"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/aws/retry"
	elb "github.com/aws/aws-sdk-go-v2/service/elasticloadbalancingv2"
	"github.com/aws/aws-sdk-go-v2/service/elasticloadbalancingv2/types"
	"github.com/aws/smithy-go"

	cloudaws "github.com/portcheck/portcheck/providers/cloud/aws"
	"github.com/portcheck/portcheck/providers/lb"
)

// RequiredActions are the IAM actions Read calls, both read-only.
var RequiredActions = []string{
	"elasticloadbalancing:DescribeTargetGroups",
	"elasticloadbalancing:DescribeTargetHealth",
}

// LeastPrivilegePolicy is an IAM policy document (JSON) allowing exactly
// RequiredActions. ELBv2's Describe actions support no resource-level
// permissions, so the resource is "*".
func LeastPrivilegePolicy() string {
	return cloudaws.PolicyDocument("PortcheckReadTargetHealth", RequiredActions)
}

// Config says how to reach the ELBv2 API.
type Config struct {
	// Region, Profile, AssumeRoleARN and MaxAttempts as in
	// providers/cloud/aws.Config.
	Region        string
	Profile       string
	AssumeRoleARN string
	MaxAttempts   int
	// Endpoint overrides the ELBv2 endpoint (a VPC endpoint, tests); ""
	// keeps the SDK's resolution.
	Endpoint string
}

// Scope says which target groups to read.
type Scope struct {
	// TargetGroups are target group ARNs (arn:…:targetgroup/…) or names.
	TargetGroups []string
}

// retryMaxBackoff caps the delay between two attempts (the SDK's default;
// tests lower it).
var retryMaxBackoff = retry.DefaultMaxBackoff

// Read reads the target groups of scope and the health of every target
// registered with them. A target group that does not exist is a
// *lb.NotFoundError naming it; a denied action a
// *cloudaws.PermissionError naming the IAM action.
func Read(ctx context.Context, cfg Config, scope Scope) (*lb.Facts, error) {
	var arns, names []string
	for _, tg := range scope.TargetGroups {
		tg = strings.TrimSpace(tg)
		switch {
		case tg == "":
			return nil, errors.New("elbv2: an empty target group name")
		case strings.HasPrefix(tg, "arn:"):
			if !strings.Contains(tg, ":targetgroup/") {
				return nil, fmt.Errorf("elbv2: %q is not a target group ARN (arn:…:elasticloadbalancing:…:targetgroup/NAME/ID)", tg)
			}
			arns = appendNew(arns, tg)
		default:
			names = appendNew(names, tg)
		}
	}
	if len(arns)+len(names) == 0 {
		return nil, errors.New("elbv2: nothing to read: give target group ARNs or names")
	}
	awsCfg, err := cloudaws.LoadSDKConfig(ctx, cloudaws.Config{Region: cfg.Region, Profile: cfg.Profile,
		AssumeRoleARN: cfg.AssumeRoleARN, MaxAttempts: cfg.MaxAttempts})
	if err != nil {
		return nil, fmt.Errorf("elbv2: %w", err)
	}
	client := elb.NewFromConfig(awsCfg, func(o *elb.Options) {
		if cfg.Endpoint != "" {
			o.BaseEndpoint = aws.String(cfg.Endpoint)
		}
		o.Retryer = retry.AddWithMaxBackoffDelay(o.Retryer, retryMaxBackoff)
	})
	r := &reader{client: client}
	groups, err := r.targetGroups(ctx, arns, names)
	if err != nil {
		return nil, err
	}
	facts := &lb.Facts{Kind: lb.KindELBv2, Region: awsCfg.Region, Pools: []lb.Pool{}}
	for _, g := range groups {
		pool, err := r.pool(ctx, g)
		if err != nil {
			return nil, err
		}
		if len(pool.LoadBalancers) == 0 {
			facts.Notes = append(facts.Notes, fmt.Sprintf("target group %s is used by no load balancer: its targets take no traffic", pool.Name))
		}
		facts.Pools = append(facts.Pools, pool)
	}
	return facts, nil
}

type reader struct {
	client *elb.Client
}

// targetGroups describes the groups asked for, by ARN and by name (the API
// takes one kind per call), in the order asked, each once.
func (r *reader) targetGroups(ctx context.Context, arns, names []string) ([]types.TargetGroup, error) {
	var out []types.TargetGroup
	var missing []string
	var message string
	for _, ask := range []struct {
		ids   []string
		input func([]string) *elb.DescribeTargetGroupsInput
	}{
		{arns, func(ids []string) *elb.DescribeTargetGroupsInput {
			return &elb.DescribeTargetGroupsInput{TargetGroupArns: ids}
		}},
		{names, func(ids []string) *elb.DescribeTargetGroupsInput { return &elb.DescribeTargetGroupsInput{Names: ids} }},
	} {
		if len(ask.ids) == 0 {
			continue
		}
		groups, err := r.describe(ctx, ask.input(ask.ids))
		if msg, ok := notFound(err); ok {
			// The API names none of the missing groups: ask for each
			// alone to say which.
			message = msg
			groups = nil
			for _, id := range ask.ids {
				g, err := r.describe(ctx, ask.input([]string{id}))
				if _, ok := notFound(err); ok {
					missing = append(missing, id)
					continue
				}
				if err != nil {
					return nil, err
				}
				groups = append(groups, g...)
			}
		} else if err != nil {
			return nil, err
		}
		for _, g := range groups {
			if !slices.ContainsFunc(out, func(o types.TargetGroup) bool {
				return aws.ToString(o.TargetGroupArn) == aws.ToString(g.TargetGroupArn)
			}) {
				out = append(out, g)
			}
		}
	}
	if len(missing) > 0 {
		return nil, fmt.Errorf("elbv2: %w", &lb.NotFoundError{Kind: "target group", IDs: missing, Message: message})
	}
	return out, nil
}

func (r *reader) describe(ctx context.Context, in *elb.DescribeTargetGroupsInput) ([]types.TargetGroup, error) {
	var out []types.TargetGroup
	p := elb.NewDescribeTargetGroupsPaginator(r.client, in)
	for p.HasMorePages() {
		page, err := p.NextPage(ctx)
		if err != nil {
			return nil, apiError(err)
		}
		out = append(out, page.TargetGroups...)
	}
	return out, nil
}

// pool reads the health of every target of g.
func (r *reader) pool(ctx context.Context, g types.TargetGroup) (lb.Pool, error) {
	pool := lb.Pool{
		ID:             aws.ToString(g.TargetGroupArn),
		Name:           aws.ToString(g.TargetGroupName),
		Type:           lb.PoolTargetGroup,
		Protocol:       string(g.Protocol),
		Port:           int(aws.ToInt32(g.Port)),
		TargetType:     string(g.TargetType),
		LoadBalancers:  slices.Clone(g.LoadBalancerArns),
		HealthReported: true,
		Members:        []lb.Member{},
	}
	out, err := r.client.DescribeTargetHealth(ctx, &elb.DescribeTargetHealthInput{TargetGroupArn: g.TargetGroupArn})
	if err != nil {
		if msg, ok := notFound(err); ok {
			// Deleted between the two calls.
			return pool, fmt.Errorf("elbv2: %w", &lb.NotFoundError{Kind: "target group", IDs: []string{pool.ID}, Message: msg})
		}
		return pool, apiError(err)
	}
	for _, d := range out.TargetHealthDescriptions {
		pool.Members = append(pool.Members, member(d))
	}
	return pool, nil
}

func member(d types.TargetHealthDescription) lb.Member {
	var m lb.Member
	if d.Target != nil {
		m.ID = aws.ToString(d.Target.Id)
		m.Port = int(aws.ToInt32(d.Target.Port))
		m.Zone = aws.ToString(d.Target.AvailabilityZone)
	}
	if a, err := netip.ParseAddr(m.ID); err == nil {
		m.Address = a.String()
	}
	if hc := aws.ToString(d.HealthCheckPort); hc != "" && hc != strconv.Itoa(m.Port) {
		m.HealthCheckPort = hc
	}
	if h := d.TargetHealth; h != nil {
		m.State, m.Description = state(h.State), aws.ToString(h.Description)
		m.Reason = string(h.Reason)
		if m.State == "" {
			m.State = lb.StateRegistered
			m.Description = strings.TrimSpace(fmt.Sprintf("state %q not known to portcheck. %s", h.State, m.Description))
		}
	} else {
		m.State = lb.StateRegistered
		m.Description = "no health reported"
	}
	return m
}

// state maps ELBv2's target states; "" for one it does not know.
func state(s types.TargetHealthStateEnum) lb.State {
	switch s {
	case types.TargetHealthStateEnumHealthy:
		return lb.StateHealthy
	case types.TargetHealthStateEnumUnhealthy:
		return lb.StateUnhealthy
	case types.TargetHealthStateEnumInitial:
		return lb.StateInitial
	case types.TargetHealthStateEnumDraining, types.TargetHealthStateEnumUnhealthyDraining:
		return lb.StateDraining
	case types.TargetHealthStateEnumUnused:
		return lb.StateUnused
	case types.TargetHealthStateEnumUnavailable:
		return lb.StateUnavailable
	}
	return ""
}

// notFound reports whether err is TargetGroupNotFound, with the API's
// message.
func notFound(err error) (string, bool) {
	var ae smithy.APIError
	if errors.As(err, &ae) && ae.ErrorCode() == "TargetGroupNotFound" {
		return ae.ErrorMessage(), true
	}
	return "", false
}

// apiError names the IAM action of a denied call and says when AWS
// rejected the credentials themselves, with providers/cloud/aws's error
// types so that callers treat every AWS reader's failures alike.
func apiError(err error) error {
	var ae smithy.APIError
	var oe *smithy.OperationError
	if errors.As(err, &ae) && errors.As(err, &oe) {
		switch ae.ErrorCode() {
		case "AccessDenied", "AccessDeniedException", "UnauthorizedOperation":
			return fmt.Errorf("elbv2: %w", &cloudaws.PermissionError{Action: "elasticloadbalancing:" + oe.OperationName, Code: ae.ErrorCode(), Err: err})
		case "InvalidClientTokenId", "SignatureDoesNotMatch", "ExpiredToken", "RequestExpired", "InvalidAccessKeyId", "AuthFailure":
			return fmt.Errorf("elbv2: %w", &cloudaws.CredentialsError{Code: ae.ErrorCode(), Err: err})
		}
	}
	return fmt.Errorf("elbv2: %w", err)
}

func appendNew(list []string, s string) []string {
	if slices.Contains(list, s) {
		return list
	}
	return append(list, s)
}

// Package aws reads the packet filters of an AWS region — security groups
// with their rules, network ACLs, the network interfaces (ENIs) they apply
// to, and the managed prefix lists the rules name — through the EC2 API and
// turns them into the provider-neutral cloud.Snapshot.
//
// Only read-only Describe*/Get* actions are called (RequiredActions;
// LeastPrivilegePolicy gives the IAM policy). Credentials come from the
// SDK's default chain (environment, shared profiles, SSO, web identity,
// instance metadata), optionally through an assumed role.
//
// The account of the snapshot is not asked of STS (sts:GetCallerIdentity
// would be one more permission to grant): it is the OwnerId of the security
// groups read (the most common one), else of the interfaces, else of the
// network ACLs. In a shared VPC it is therefore the owner of the groups,
// which need not be the caller's account.
package aws

import (
	"context"
	"errors"
	"fmt"
	"net/netip"
	"strings"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/aws/retry"
	"github.com/aws/aws-sdk-go-v2/config"
	"github.com/aws/aws-sdk-go-v2/credentials/ec2rolecreds"
	"github.com/aws/aws-sdk-go-v2/credentials/stscreds"
	"github.com/aws/aws-sdk-go-v2/service/ec2"
	"github.com/aws/aws-sdk-go-v2/service/sts"

	"github.com/portcheck/portcheck/providers/cloud"
)

// DefaultMaxAttempts is the number of attempts of one API call (the first
// one included) when Config.MaxAttempts is 0.
const DefaultMaxAttempts = 5

// retryMaxBackoff caps the delay between two attempts (the SDK's default;
// tests lower it).
var retryMaxBackoff = retry.DefaultMaxBackoff

// roleSessionName names the session of an assumed role in CloudTrail.
const roleSessionName = "portcheck"

// Config says how to reach the EC2 API.
type Config struct {
	// Region, e.g. "eu-west-1"; "" takes the SDK's (AWS_REGION, profile).
	Region string
	// Profile of the shared config/credentials files; "" is the SDK's
	// choice (AWS_PROFILE, else "default").
	Profile string
	// AssumeRoleARN, when set, is assumed (sts:AssumeRole) with the
	// credentials found for Profile; the EC2 calls then run as that role.
	AssumeRoleARN string
	// Endpoint overrides the EC2 endpoint (a VPC endpoint, tests); "" keeps
	// the SDK's resolution, which honours AWS_ENDPOINT_URL and
	// AWS_ENDPOINT_URL_EC2.
	Endpoint string
	// MaxAttempts of each API call, retried with exponential backoff on
	// throttling (RequestLimitExceeded, Throttling) and transient errors;
	// 0 means DefaultMaxAttempts.
	MaxAttempts int
}

// Scope says which interfaces to read.
type Scope struct {
	// Targets are instance ids (i-…), network interface ids (eni-…) or IP
	// addresses (private IPv4 or IPv6 addresses, or public IPv4 addresses
	// associated with an interface).
	Targets []string
	// All reads every interface, security group and network ACL of the
	// region (an audit); the snapshot is then Complete.
	All bool
	// Groups are extra security group ids to read (declared ones, say). A
	// group that does not exist is left out of Snapshot.Groups.
	Groups []string
}

// ErrNoCredentials is returned (wrapped) when the SDK's credential chain
// found nothing.
var ErrNoCredentials = errors.New("no AWS credentials found: set AWS_PROFILE, or AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY, log in with `aws sso login`, or run on an instance with a role")

// ErrNoRegion is returned when no region was given nor configured.
var ErrNoRegion = errors.New("no AWS region: give one, or set AWS_REGION or a region in the profile")

// Read reads what scope needs from one account and region.
//
// Interfaces: All lists every ENI; otherwise the targets' ENIs (instances
// through DescribeInstances, then DescribeNetworkInterfaces by id, private
// or public address) plus every ENI that uses one of the groups read
// (DescribeNetworkInterfaces by group-id, every page), so that rules naming
// a group resolve: each group read is marked MembersListed. Groups: those
// of the interfaces, Scope.Groups, and the same-account groups their rules
// reference (one level; a referenced group the API says does not exist is
// recorded in MissingGroups; groups of other accounts are not read). Rules
// come from DescribeSecurityGroupRules (with their sgr- ids), prefix lists
// named by rules are resolved, and the network ACLs and subnets (with
// their CIDR blocks, DescribeSubnets) are those of the interfaces (All:
// every ACL and subnet).
func Read(ctx context.Context, cfg Config, scope Scope) (*cloud.Snapshot, error) {
	t, err := parseTargets(scope.Targets)
	if err != nil {
		return nil, err
	}
	if !scope.All && len(scope.Targets) == 0 && len(scope.Groups) == 0 {
		return nil, errors.New("aws: nothing to read: give targets, groups, or read all")
	}
	client, region, err := newClient(ctx, cfg)
	if err != nil {
		return nil, err
	}
	r := newReader(client, region)
	return r.read(ctx, scope, t)
}

// newClient loads the SDK configuration, checks that credentials can be
// had, and builds the EC2 client.
func newClient(ctx context.Context, cfg Config) (*ec2.Client, string, error) {
	awsCfg, err := LoadSDKConfig(ctx, cfg)
	if err != nil {
		return nil, "", err
	}
	client := ec2.NewFromConfig(awsCfg, func(o *ec2.Options) {
		if cfg.Endpoint != "" {
			o.BaseEndpoint = aws.String(cfg.Endpoint)
		}
	})
	return client, awsCfg.Region, nil
}

// LoadSDKConfig loads the SDK configuration as Read does — the default
// credential chain or Profile, Region, the retryer (backoff on throttling,
// MaxAttempts), credentials retrieved once so that a missing source fails
// before any call, AssumeRoleARN — for readers of other AWS services
// (providers/lb/elbv2). Endpoint is EC2's and is not used here: each
// service client takes its own (the SDK's resolution honours
// AWS_ENDPOINT_URL and AWS_ENDPOINT_URL_<SERVICE>).
func LoadSDKConfig(ctx context.Context, cfg Config) (aws.Config, error) {
	attempts := cfg.MaxAttempts
	if attempts <= 0 {
		attempts = DefaultMaxAttempts
	}
	opts := []func(*config.LoadOptions) error{
		config.WithRetryer(func() aws.Retryer { return newRetryer(attempts) }),
	}
	if cfg.Region != "" {
		opts = append(opts, config.WithRegion(cfg.Region))
	}
	if cfg.Profile != "" {
		opts = append(opts, config.WithSharedConfigProfile(cfg.Profile))
	}
	awsCfg, err := config.LoadDefaultConfig(ctx, opts...)
	if err != nil {
		return aws.Config{}, fmt.Errorf("aws: loading the SDK configuration: %w", err)
	}
	if awsCfg.Region == "" {
		return aws.Config{}, ErrNoRegion
	}
	if err := checkCredentials(ctx, awsCfg.Credentials); err != nil {
		return aws.Config{}, err
	}
	if cfg.AssumeRoleARN != "" {
		provider := stscreds.NewAssumeRoleProvider(sts.NewFromConfig(awsCfg), cfg.AssumeRoleARN,
			func(o *stscreds.AssumeRoleOptions) { o.RoleSessionName = roleSessionName })
		awsCfg.Credentials = aws.NewCredentialsCache(provider)
		if _, err := awsCfg.Credentials.Retrieve(ctx); err != nil {
			return aws.Config{}, fmt.Errorf("aws: assuming role %s: %w", cfg.AssumeRoleARN, apiError(err))
		}
	}
	return awsCfg, nil
}

// checkCredentials retrieves the credentials once, so that a missing or
// broken credential source is reported before any API call. Nothing of the
// credentials themselves is ever printed.
func checkCredentials(ctx context.Context, provider aws.CredentialsProvider) error {
	if provider == nil {
		return ErrNoCredentials
	}
	_, err := provider.Retrieve(ctx)
	if err == nil {
		return nil
	}
	if ctx.Err() != nil {
		return ctx.Err()
	}
	// The default chain ends with the instance metadata role: failing
	// there means that no other source had credentials either.
	if aws.IsCredentialsProvider(provider, (*ec2rolecreds.Provider)(nil)) {
		return fmt.Errorf("%w (instance metadata: %w)", ErrNoCredentials, err)
	}
	return fmt.Errorf("aws: loading credentials: %w", apiError(err))
}

// newRetryer is the SDK's standard retryer (exponential backoff with
// jitter, a retry token bucket) with maxAttempts, and with EC2's throttling
// codes named explicitly as retryable throttling errors.
func newRetryer(maxAttempts int) aws.Retryer {
	throttling := map[string]struct{}{
		"RequestLimitExceeded":  {},
		"Throttling":            {},
		"ThrottlingException":   {},
		"EC2ThrottledException": {},
	}
	return retry.NewStandard(func(o *retry.StandardOptions) {
		o.MaxAttempts = maxAttempts
		o.MaxBackoff = retryMaxBackoff
		o.Retryables = append(o.Retryables, retry.RetryableErrorCode{Codes: throttling})
		o.Throttles = append(o.Throttles, retry.ThrottleErrorCode{Codes: throttling})
	})
}

// targets are Scope.Targets sorted by kind.
type targets struct {
	instances, enis []string
	privateV4       []string // addresses.private-ip-address
	publicV4        []string // association.public-ip
	v6              []string // ipv6-addresses.ipv6-address
}

func parseTargets(list []string) (targets, error) {
	var t targets
	for _, s := range list {
		kind, addr, err := targetKind(s)
		if err != nil {
			return t, err
		}
		switch kind {
		case "instance":
			t.instances = append(t.instances, s)
		case "eni":
			t.enis = append(t.enis, s)
		default:
			switch {
			case addr.Is6():
				t.v6 = append(t.v6, addr.String())
			case addr.IsPrivate() || addr.IsLoopback() || addr.IsLinkLocalUnicast():
				t.privateV4 = append(t.privateV4, addr.String())
			default:
				// AWS also allows public ranges inside a VPC: ask both.
				t.privateV4 = append(t.privateV4, addr.String())
				t.publicV4 = append(t.publicV4, addr.String())
			}
		}
	}
	return t, nil
}

// targetKind tells an instance id, an ENI id and an IP address apart.
func targetKind(s string) (kind string, addr netip.Addr, err error) {
	switch {
	case strings.HasPrefix(s, "i-") && len(s) > 2:
		return "instance", addr, nil
	case strings.HasPrefix(s, "eni-") && len(s) > 4:
		return "eni", addr, nil
	}
	addr, perr := netip.ParseAddr(s)
	if perr != nil || addr.Zone() != "" {
		return "", addr, fmt.Errorf("aws: target %q is neither an instance id (i-…), a network interface id (eni-…) nor an IP address", s)
	}
	return "ip", addr.Unmap(), nil
}

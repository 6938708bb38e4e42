// Package aliyun reads Alibaba Cloud packet filters — ECS security groups
// and their rules, the ENIs they apply to, prefix lists and VPC network
// ACLs — into the provider-neutral cloud.Snapshot.
//
// It uses the maintained V2 SDK (darabonba: ecs-20140526/v7,
// vpc-20160428/v6); github.com/aliyun/alibaba-cloud-sdk-go reached end of
// support on 2025-03-01. Every call is a read-only Describe* operation
// (RequiredActions, LeastPrivilegePolicy). Credentials come from the
// default chain of github.com/aliyun/credentials-go: the environment
// (ALIBABA_CLOUD_ACCESS_KEY_ID, ALIBABA_CLOUD_ACCESS_KEY_SECRET,
// ALIBABA_CLOUD_SECURITY_TOKEN), the CLI profile ~/.aliyun/config.json,
// ~/.alibabacloud/credentials, the ECS RAM role of the instance.
package aliyun

import (
	"context"
	"errors"
	"fmt"
	"net/netip"
	"slices"
	"strings"

	"github.com/portcheck/portcheck/providers/cloud"
)

// Config says where and how to call the APIs.
type Config struct {
	Region string
	// Endpoint overrides the ECS endpoint (VPC endpoints, private clouds,
	// tests): "host[:port]" or "scheme://host[:port]". "" is the SDK's
	// regional endpoint (ecs.<region>.aliyuncs.com, or the SDK's
	// endpoint map entry for the region).
	Endpoint string
	// VPCEndpoint overrides the VPC API endpoint the same way; "" is
	// vpc.<region>.aliyuncs.com (or the SDK's endpoint map entry).
	VPCEndpoint string
	// Protocol is "https" (default) or "http" (tests); when empty, an
	// endpoint given as a URL uses its scheme.
	Protocol string
	// MaxAttempts bounds the attempts of one call that is throttled
	// (Throttling, Throttling.*) or fails transiently (HTTP 5xx,
	// ServiceUnavailable), with exponential backoff between them; 0 means
	// 5, 1 disables retries.
	MaxAttempts int
}

// Scope is what to read.
type Scope struct {
	// Targets are instance ids (i-…), ENI ids (eni-…) or private IP
	// addresses (IPv4 primary or secondary, or IPv6) to audit.
	Targets []string
	// All reads every instance, ENI, security group and network ACL of
	// the region (the snapshot is Complete).
	All bool
	// Groups are security groups (sg-…) to read in addition.
	Groups []string
}

// Read reads what scope needs from one region and returns it as a
// snapshot.
//
// Besides the groups of the targets' interfaces (and Scope.Groups), it
// reads the groups that their rules reference (one level, same account),
// and — when the scope is not All — lists the members of every group read
// (DescribeInstances and DescribeNetworkInterfaces by SecurityGroupId,
// every page), so that group attachments and group peers resolve for those
// groups: each group read is marked MembersListed. A referenced group that
// the API says does not exist (InvalidSecurityGroupId.NotFound) is listed
// in MissingGroups. Network ACLs and vSwitches (with their CIDR blocks,
// DescribeVSwitches) are those of the VPCs of the targets (All: of the
// region). Each read has its own HTTP client (see httpClient).
//
// Errors: *PermissionError when the RAM identity may not call an action,
// *APIError for other API errors (after retries for throttling).
func Read(ctx context.Context, cfg Config, scope Scope) (*cloud.Snapshot, error) {
	if strings.TrimSpace(cfg.Region) == "" {
		return nil, errors.New("aliyun: Config.Region is required")
	}
	if !scope.All && len(scope.Targets) == 0 && len(scope.Groups) == 0 {
		return nil, errors.New("aliyun: empty scope: give targets, groups or All")
	}
	for _, t := range scope.Targets {
		if _, err := classify(t); err != nil {
			return nil, err
		}
	}
	for _, g := range scope.Groups {
		if !strings.HasPrefix(strings.TrimSpace(g), "sg-") {
			return nil, fmt.Errorf("aliyun: group %q: want a security group id (sg-…)", g)
		}
	}
	a, err := newAPI(cfg)
	if err != nil {
		return nil, err
	}
	defer a.close()
	return newReader(a, strings.TrimSpace(cfg.Region), scope).run(ctx)
}

type targetKind int

const (
	kindInstance targetKind = iota
	kindENI
	kindIP
)

func classify(t string) (targetKind, error) {
	t = strings.TrimSpace(t)
	switch {
	case strings.HasPrefix(t, "i-"):
		return kindInstance, nil
	case strings.HasPrefix(t, "eni-"):
		return kindENI, nil
	}
	if _, err := netip.ParseAddr(t); err == nil {
		return kindIP, nil
	}
	return 0, fmt.Errorf("aliyun: target %q: want an instance id (i-…), an ENI id (eni-…) or a private IP address", t)
}

// Resolve finds the interfaces of a target in a snapshot: every interface
// of an instance (i-…), the ENI (eni-…), or the interface that has the
// address as a private address (else as a public one).
func Resolve(s *cloud.Snapshot, target string) ([]cloud.Interface, error) {
	if s == nil {
		return nil, errors.New("aliyun: Resolve: nil snapshot")
	}
	k, err := classify(target)
	if err != nil {
		return nil, err
	}
	t := strings.TrimSpace(target)
	var out []cloud.Interface
	switch k {
	case kindInstance:
		for _, in := range s.Interfaces {
			if in.Instance == t {
				out = append(out, in)
			}
		}
	case kindENI:
		for _, in := range s.Interfaces {
			if in.ID == t {
				out = append(out, in)
			}
		}
	case kindIP:
		a := netip.MustParseAddr(t).Unmap().WithZone("")
		has := func(list []netip.Addr) bool {
			return slices.ContainsFunc(list, func(b netip.Addr) bool { return b.Unmap() == a })
		}
		for _, in := range s.Interfaces {
			if has(in.PrivateIPs) {
				out = append(out, in)
			}
		}
		if len(out) == 0 {
			for _, in := range s.Interfaces {
				if has(in.PublicIPs) {
					out = append(out, in)
				}
			}
		}
	}
	if len(out) == 0 {
		return nil, fmt.Errorf("aliyun: %s: no such interface in the snapshot of %s", t, s.Region)
	}
	return out, nil
}

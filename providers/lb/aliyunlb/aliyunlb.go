// Package aliyunlb reads Alibaba Cloud load balancer backends and their
// health into lb.Facts, for the port-change checklist's load-balancer
// step: Classic Load Balancer (SLB) VServer groups and the backends each
// load balancer's listeners forward to (DescribeVServerGroupAttribute,
// DescribeHealthStatus), and Application Load Balancer (ALB) server
// groups with the health their listeners' checks report
// (ListServerGroupServers, GetListenerHealthStatus).
//
// It uses the maintained V2 SDK modules (slb-20140515/v4, alb-20200616/v2),
// reached as providers/cloud/aliyun reaches ECS and VPC: the default
// credential chain, context-aware retries on throttling, *PermissionError
// naming the RAM action. Each read has its own HTTP client: the darabonba
// runtime's shared default client has its Timeout rewritten by every call
// while other goroutines use it, a data race when reads run at once.
package aliyunlb

import (
	"errors"
	"fmt"
	"net/http"
	"regexp"
	"slices"
	"strings"
	"time"

	openapiutil "github.com/alibabacloud-go/darabonba-openapi/v2/utils"
	"github.com/alibabacloud-go/tea/tea"

	"github.com/portcheck/portcheck/providers/cloud/aliyun"
	"github.com/portcheck/portcheck/providers/lb"
)

// RequiredActions are the RAM actions ReadSLB and ReadALB call, all
// read-only.
var RequiredActions = []string{
	"slb:DescribeVServerGroupAttribute",
	"slb:DescribeHealthStatus",
	"alb:ListServerGroupServers",
	"alb:GetListenerHealthStatus",
}

// LeastPrivilegePolicy is a RAM policy document (JSON) allowing exactly
// RequiredActions.
func LeastPrivilegePolicy() string {
	return aliyun.PolicyDocument(RequiredActions)
}

// Config says where and how to call the APIs.
type Config struct {
	Region string
	// SLBEndpoint and ALBEndpoint override the products' endpoints
	// ("host[:port]" or "scheme://host[:port]"); "" is the SDK's regional
	// endpoint.
	SLBEndpoint string
	ALBEndpoint string
	// Protocol is "https" (default) or "http" (tests); when empty, an
	// endpoint given as a URL uses its scheme.
	Protocol string
	// MaxAttempts of a throttled or transiently failing call; 0 means 5.
	MaxAttempts int
}

const (
	readTimeout = 60 * time.Second // whole request
	userAgent   = "portcheck"
)

// httpClient is one read's own HTTP client, given to the SDK client
// (Config.HttpClient) so that it never uses the runtime's shared one.
type httpClient struct {
	transport *http.Transport
	client    *http.Client
}

func newHTTPClient() *httpClient {
	// The default transport's settings: proxies from the environment,
	// TLS verified, dial and idle timeouts.
	t := http.DefaultTransport.(*http.Transport).Clone()
	return &httpClient{transport: t, client: &http.Client{Transport: t, Timeout: readTimeout}}
}

// Call is dara.HttpClient's method; the per-call transport the runtime
// builds is not used, so connections are kept from one call to the next.
func (h *httpClient) Call(req *http.Request, _ *http.Transport) (*http.Response, error) {
	return h.client.Do(req)
}

func (h *httpClient) close() { h.transport.CloseIdleConnections() }

// sdkConfig is the SDK configuration of one product for one read.
func sdkConfig(cfg Config, endpoint string, hc *httpClient) (*openapiutil.Config, error) {
	if strings.TrimSpace(cfg.Region) == "" {
		return nil, errors.New("aliyun: Config.Region is required")
	}
	host, scheme, err := aliyun.SplitEndpoint(endpoint)
	if err != nil {
		return nil, fmt.Errorf("aliyun: endpoint: %w", err)
	}
	proto := strings.ToLower(strings.TrimSpace(cfg.Protocol))
	if proto == "" {
		proto = scheme
	}
	if proto == "" {
		proto = "https"
	}
	if proto != "https" && proto != "http" {
		return nil, fmt.Errorf("aliyun: Protocol %q: want https or http", cfg.Protocol)
	}
	cred, err := aliyun.DefaultCredential()
	if err != nil {
		return nil, err
	}
	c := &openapiutil.Config{
		RegionId:    tea.String(strings.TrimSpace(cfg.Region)),
		Protocol:    tea.String(proto),
		Credential:  cred,
		ReadTimeout: tea.Int(int(readTimeout / time.Millisecond)),
		UserAgent:   tea.String(userAgent),
		HttpClient:  hc,
		// No RetryOptions: aliyun.Call retries, honouring the context.
	}
	if host != "" {
		c.Endpoint = tea.String(host)
	}
	return c, nil
}

// notFoundCode matches the API codes that say a named resource does not
// exist (InvalidLoadBalancerId.NotFound, ResourceNotFound.ServerGroup,
// …NotExist).
var notFoundCode = regexp.MustCompile(`(?i)notfound|notexist`)

// notFound turns an API "does not exist" answer about id into an
// *lb.NotFoundError; other errors pass.
func notFound(err error, kind, id string) error {
	var ae *aliyun.APIError
	if errors.As(err, &ae) && notFoundCode.MatchString(ae.Code) {
		return fmt.Errorf("aliyun: %w", &lb.NotFoundError{Kind: kind, IDs: []string{id}, Message: ae.Code + ": " + ae.Message})
	}
	return err
}

func ids(list []string, prefix, what string) ([]string, error) {
	var out []string
	for _, s := range list {
		s = strings.TrimSpace(s)
		if !strings.HasPrefix(s, prefix) || len(s) == len(prefix) {
			return nil, fmt.Errorf("aliyun: %s %q: want an id %s…", what, s, prefix)
		}
		if !slices.Contains(out, s) {
			out = append(out, s)
		}
	}
	return out, nil
}

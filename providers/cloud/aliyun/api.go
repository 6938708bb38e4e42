package aliyun

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"math/rand/v2"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"time"

	openapiutil "github.com/alibabacloud-go/darabonba-openapi/v2/utils"
	ecs "github.com/alibabacloud-go/ecs-20140526/v7/client"
	"github.com/alibabacloud-go/tea/dara"
	"github.com/alibabacloud-go/tea/tea"
	vpc "github.com/alibabacloud-go/vpc-20160428/v6/client"
	credential "github.com/aliyun/credentials-go/credentials"
)

// RequiredActions are the RAM actions Read calls: read-only Describe*
// operations of ECS (2014-05-26) and VPC (2016-04-28), nothing else.
var RequiredActions = []string{
	"ecs:DescribeInstances",
	"ecs:DescribeNetworkInterfaces",
	"ecs:DescribeSecurityGroups",
	"ecs:DescribeSecurityGroupAttribute",
	"ecs:DescribePrefixListAttributes",
	"ecs:DescribePortRangeListEntries",
	"vpc:DescribeNetworkAcls",
	"vpc:DescribeVSwitches",
}

// LeastPrivilegePolicy is a RAM policy document (JSON) that allows exactly
// RequiredActions on all resources of the account, for a custom policy
// attached to the RAM user or role that runs the audit.
func LeastPrivilegePolicy() string {
	return PolicyDocument(RequiredActions)
}

// PolicyDocument is a RAM policy document (JSON) with one statement
// allowing actions on every resource (ECS and VPC here, SLB and ALB in
// providers/lb/aliyunlb).
func PolicyDocument(actions []string) string {
	type statement struct {
		Effect   string   `json:"Effect"`
		Action   []string `json:"Action"`
		Resource string   `json:"Resource"`
	}
	doc := struct {
		Version   string      `json:"Version"`
		Statement []statement `json:"Statement"`
	}{"1", []statement{{"Allow", slices.Clone(actions), "*"}}}
	b, err := json.MarshalIndent(doc, "", "  ")
	if err != nil {
		panic(err) // plain strings: cannot fail
	}
	return string(b)
}

// APIError is an error answer of the Alibaba Cloud API (after retries,
// for throttling).
type APIError struct {
	Action     string // RAM form of the call, "ecs:DescribeSecurityGroupAttribute"
	StatusCode int
	Code       string // "InvalidSecurityGroupId.NotFound", "Throttling.User", …
	Message    string
	RequestID  string
	Attempts   int
	hint       string
	err        error // the SDK's error
}

func (e *APIError) Error() string {
	var b strings.Builder
	fmt.Fprintf(&b, "aliyun: %s: ", e.Action)
	if e.Code != "" {
		b.WriteString(e.Code)
	} else {
		b.WriteString("error")
	}
	if e.StatusCode != 0 {
		fmt.Fprintf(&b, " (HTTP %d)", e.StatusCode)
	}
	if e.Message != "" {
		b.WriteString(": " + e.Message)
	}
	if e.RequestID != "" {
		b.WriteString(" [request id " + e.RequestID + "]")
	}
	if e.Attempts > 1 {
		fmt.Fprintf(&b, " (gave up after %d attempts)", e.Attempts)
	}
	if e.hint != "" {
		b.WriteString("; " + e.hint)
	}
	return b.String()
}

func (e *APIError) Unwrap() error { return e.err }

// PermissionError says that the RAM identity of the credentials may not
// call an action (Forbidden.RAM, NoPermission, …).
type PermissionError struct {
	// Action is the denied RAM action, "ecs:DescribeSecurityGroupAttribute":
	// the AuthAction of the answer's AccessDeniedDetail when present, else
	// the action that was called.
	Action string
	API    *APIError
}

func (e *PermissionError) Error() string {
	s := fmt.Sprintf("aliyun: permission denied: the RAM identity may not call %s (%s", e.Action, e.API.Code)
	if e.API.RequestID != "" {
		s += ", request id " + e.API.RequestID
	}
	return s + "); grant the RAM action " + e.Action + " — LeastPrivilegePolicy() has the read-only policy with every action an audit needs"
}

func (e *PermissionError) Unwrap() error { return e.API }

// Retry timing; tests shorten it.
var (
	retryBaseDelay = 500 * time.Millisecond
	retryMaxDelay  = 20 * time.Second
)

const (
	defaultMaxAttempts = 5
	readTimeoutMillis  = 60_000 // whole request (the SDK's http.Client.Timeout)
	userAgent          = "portcheck"
)

type api struct {
	ecs         *ecs.Client
	vpc         *vpc.Client
	http        *httpClient
	maxAttempts int
}

// httpClient is one reader's own HTTP client, given to both SDK clients
// (Config.HttpClient). Without one, the darabonba runtime takes an
// *http.Client from a process-wide pool keyed by endpoint and timeouts and
// sets its Timeout (and first Transport) on every call, under its own lock,
// while calls of other goroutines read the same client in net/http without
// it (tea dara/core.go DoRequestWithCtx): a data race as soon as two
// snapshots are read at once, which verify does. The *http.Transport the
// runtime builds for each call is not used: this client's transport keeps
// its connections from one call to the next instead of dialing anew.
type httpClient struct {
	transport *http.Transport
	client    *http.Client
}

func newHTTPClient() *httpClient {
	// The default transport's settings: proxies from the environment
	// (HTTPS_PROXY, NO_PROXY), TLS verified, dial and idle timeouts.
	t := http.DefaultTransport.(*http.Transport).Clone()
	return &httpClient{transport: t, client: &http.Client{Transport: t, Timeout: readTimeoutMillis * time.Millisecond}}
}

// Call is dara.HttpClient's method.
func (h *httpClient) Call(req *http.Request, _ *http.Transport) (*http.Response, error) {
	return h.client.Do(req)
}

// close releases the idle connections once a read is over.
func (a *api) close() { a.http.transport.CloseIdleConnections() }

func newAPI(cfg Config) (*api, error) {
	cred, err := defaultCredential()
	if err != nil {
		return nil, err
	}
	proto := strings.ToLower(strings.TrimSpace(cfg.Protocol))
	ecsEndpoint, ecsProto, err := splitEndpoint(cfg.Endpoint)
	if err != nil {
		return nil, fmt.Errorf("aliyun: Endpoint: %w", err)
	}
	vpcEndpoint, vpcProto, err := splitEndpoint(cfg.VPCEndpoint)
	if err != nil {
		return nil, fmt.Errorf("aliyun: VPCEndpoint: %w", err)
	}
	hc := newHTTPClient()
	config := func(endpoint, endpointProto string) (*openapiutil.Config, error) {
		p := proto
		if p == "" {
			p = endpointProto
		}
		if p == "" {
			p = "https"
		}
		if p != "https" && p != "http" {
			return nil, fmt.Errorf("aliyun: Protocol %q: want https or http", cfg.Protocol)
		}
		c := &openapiutil.Config{
			RegionId:    tea.String(cfg.Region),
			Protocol:    tea.String(p),
			Credential:  cred,
			ReadTimeout: tea.Int(readTimeoutMillis),
			UserAgent:   tea.String(userAgent),
			HttpClient:  hc,
			// No RetryOptions: the SDK does not retry (and its backoff
			// sleeps milliseconds as seconds, ignoring the context); call
			// retries with a context-aware backoff instead.
		}
		if endpoint != "" {
			c.Endpoint = tea.String(endpoint)
		}
		return c, nil
	}
	ec, err := config(ecsEndpoint, ecsProto)
	if err != nil {
		return nil, err
	}
	vc, err := config(vpcEndpoint, vpcProto)
	if err != nil {
		return nil, err
	}
	a := &api{http: hc, maxAttempts: cfg.MaxAttempts}
	if a.maxAttempts == 0 {
		a.maxAttempts = defaultMaxAttempts
	}
	if a.maxAttempts < 1 {
		a.maxAttempts = 1
	}
	if a.ecs, err = ecs.NewClient(ec); err != nil {
		return nil, fmt.Errorf("aliyun: ECS client: %w", err)
	}
	if a.vpc, err = vpc.NewClient(vc); err != nil {
		return nil, fmt.Errorf("aliyun: VPC client: %w", err)
	}
	return a, nil
}

// splitEndpoint accepts "host[:port]" or "scheme://host[:port]".
func splitEndpoint(e string) (host, scheme string, err error) {
	e = strings.TrimSpace(e)
	if !strings.Contains(e, "://") {
		return strings.TrimSuffix(e, "/"), "", nil
	}
	u, err := url.Parse(e)
	if err != nil {
		return "", "", err
	}
	if u.Host == "" || (u.Path != "" && u.Path != "/") {
		return "", "", fmt.Errorf("%q: want host[:port] or scheme://host[:port]", e)
	}
	return u.Host, strings.ToLower(u.Scheme), nil
}

// defaultCredential is the default credential chain of credentials-go
// (environment, OIDC, the CLI profile ~/.aliyun/config.json, the
// credentials file ~/.alibabacloud/credentials, the ECS RAM role of the
// instance metadata service, a credentials URI), resolved once up front so
// that missing credentials fail before any call.
func defaultCredential() (credential.Credential, error) {
	cred, err := credential.NewCredential(nil)
	if err != nil {
		return nil, fmt.Errorf("aliyun: credentials: %s", redactChain(err.Error()))
	}
	m, err := cred.GetCredential()
	if err != nil {
		return nil, fmt.Errorf("aliyun: no Alibaba Cloud credentials found (%s); set ALIBABA_CLOUD_ACCESS_KEY_ID and ALIBABA_CLOUD_ACCESS_KEY_SECRET (and ALIBABA_CLOUD_SECURITY_TOKEN for STS), configure a profile with `aliyun configure` (~/.aliyun/config.json), or run on an ECS instance with a RAM role",
			redactChain(err.Error()))
	}
	if m == nil || (tea.StringValue(m.AccessKeyId) == "" && tea.StringValue(m.BearerToken) == "") {
		return nil, errors.New("aliyun: the credential chain returned empty credentials")
	}
	return cred, nil
}

var (
	quoted     = regexp.MustCompile(`'([^']*)'`)
	uriFailure = regexp.MustCompile(`(?:get|refresh) credentials from [a-z]+://`)
)

// redactChain turns the credential chain's error into a list of reasons
// without quoting anything the providers read: some of their messages
// embed a whole (malformed) CLI configuration file or a metadata
// answer, secrets included.
func redactChain(msg string) string {
	var why []string
	add := func(s string) {
		if !slices.Contains(why, s) {
			why = append(why, s)
		}
	}
	path := func(after string) string {
		i := strings.Index(msg, after)
		if i < 0 {
			return ""
		}
		if m := quoted.FindStringSubmatch(msg[i+len(after)-1:]); m != nil {
			return filepath.Clean(m[1])
		}
		return ""
	}
	switch {
	case strings.Contains(msg, "(ALIBABA_CLOUD_ACCESS_KEY_ID)"):
		add("environment: ALIBABA_CLOUD_ACCESS_KEY_ID not set")
	case strings.Contains(msg, "(ALIBABA_CLOUD_ACCESS_KEY_SECRET)"):
		add("environment: ALIBABA_CLOUD_ACCESS_KEY_SECRET not set")
	}
	switch {
	case strings.Contains(msg, "the CLI profile is disabled"):
		add("CLI profile: disabled (ALIBABA_CLOUD_CLI_PROFILE_DISABLED)")
	case strings.Contains(msg, "unmarshal aliyun cli config from '"):
		add("CLI profile: " + path("unmarshal aliyun cli config from '") + " is not valid JSON (contents not shown)")
	case strings.Contains(msg, "reading aliyun cli config from '"):
		p := path("reading aliyun cli config from '")
		if _, err := os.Stat(p); errors.Is(err, os.ErrNotExist) {
			add("CLI profile: " + p + " does not exist")
		} else {
			add("CLI profile: cannot read " + p)
		}
	case strings.Contains(msg, "no any configured profiles in"):
		add("CLI profile: no profiles configured")
	case strings.Contains(msg, "unable to get profile with '"):
		add("CLI profile: profile " + path("unable to get profile with '") + " not found")
	case strings.Contains(msg, "unsupported profile mode"):
		add("CLI profile: unsupported profile mode")
	case strings.Contains(msg, "cannot found home dir"):
		add("CLI profile: no home directory")
	}
	if strings.Contains(msg, "Can not open file") {
		add("credentials file ~/.alibabacloud/credentials: cannot be opened")
	}
	switch {
	case strings.Contains(msg, "IMDS credentials is disabled"), strings.EqualFold(os.Getenv("ALIBABA_CLOUD_ECS_METADATA_DISABLED"), "true"):
		// A disabled provider is left out of the chain, with no message.
		add("ECS RAM role: disabled (ALIBABA_CLOUD_ECS_METADATA_DISABLED)")
	case strings.Contains(msg, "get role name failed"), strings.Contains(msg, "refresh Ecs sts token err"), strings.Contains(msg, "get metadata token failed"):
		add("ECS RAM role: instance metadata service unavailable or no role attached")
	}
	if strings.Contains(msg, "oidc") || strings.Contains(msg, "OIDC") {
		add("OIDC role: failed")
	}
	if uriFailure.MatchString(msg) {
		add("credentials URI: failed")
	}
	if len(why) == 0 {
		return "every provider of the default chain failed"
	}
	return strings.Join(why, "; ")
}

// runtime options of one SDK call: no SDK-level retries (see newAPI).
func rtOpts() *dara.RuntimeOptions { return &dara.RuntimeOptions{} }

// callECS runs an ECS call (the SDK honours the context) with retries.
func (a *api) callECS(ctx context.Context, action string, fn func(context.Context) error) error {
	return a.do(ctx, "ecs:"+action, fn)
}

// callVPC runs a VPC call with retries. The VPC SDK has no context-aware
// methods: the call runs in a goroutine that is abandoned (it ends with
// the request timeout) when ctx is done.
func (a *api) callVPC(ctx context.Context, action string, fn func() error) error {
	return a.do(ctx, "vpc:"+action, func(ctx context.Context) error {
		done := make(chan error, 1)
		go func() { done <- fn() }()
		select {
		case err := <-done:
			return err
		case <-ctx.Done():
			return ctx.Err()
		}
	})
}

func (a *api) do(ctx context.Context, action string, fn func(context.Context) error) error {
	for attempt := 1; ; attempt++ {
		if err := ctx.Err(); err != nil {
			return fmt.Errorf("aliyun: %s: %w", action, err)
		}
		err := fn(ctx)
		if err == nil {
			return nil
		}
		if cerr := ctx.Err(); cerr != nil {
			return fmt.Errorf("aliyun: %s: %w", action, cerr)
		}
		ae := asAPIError(action, err)
		if ae == nil {
			return fmt.Errorf("aliyun: %s: %w", action, err)
		}
		ae.Attempts = attempt
		if retryable(ae) && attempt < a.maxAttempts {
			t := time.NewTimer(backoff(attempt))
			select {
			case <-t.C:
				continue
			case <-ctx.Done():
				t.Stop()
				return fmt.Errorf("aliyun: %s: %w", action, ctx.Err())
			}
		}
		switch {
		case isPermission(ae):
			pe := &PermissionError{Action: action, API: ae}
			if aa := authAction(ae); aa != "" {
				pe.Action = aa
			}
			return pe
		case isCredentialRejected(ae.Code):
			ae.hint = "the API rejected the credentials of the default chain (check the AccessKey pair, its secret and, for STS, the security token)"
		}
		return ae
	}
}

// backoff before attempt+1: exponential, with jitter in [d/2, d].
func backoff(attempt int) time.Duration {
	d := retryBaseDelay << min(attempt-1, 20)
	if d <= 0 || d > retryMaxDelay {
		d = retryMaxDelay
	}
	half := d / 2
	return half + rand.N(half+1)
}

func retryable(e *APIError) bool {
	switch {
	case e.Code == "Throttling", strings.HasPrefix(e.Code, "Throttling."),
		e.Code == "ServiceUnavailable", e.Code == "InternalError", e.Code == "UnknownError":
		return true
	}
	switch e.StatusCode {
	case 500, 502, 503, 504:
		return true
	}
	return false
}

func isPermission(e *APIError) bool {
	switch e.Code {
	case "Forbidden.RAM", "NoPermission", "NotAuthorized", "Forbidden", "Forbidden.NoPermission",
		"Forbidden.SubUser", "Forbidden.Unauthorized", "Forbidden.AccessDenied":
		return true
	}
	if strings.HasPrefix(e.Code, "Forbidden.RAM") || strings.HasPrefix(e.Code, "NoPermission") {
		return true
	}
	return e.StatusCode == 403 && authAction(e) != ""
}

func isCredentialRejected(code string) bool {
	for _, p := range []string{"InvalidAccessKeyId", "InvalidAccessKeySecret", "InvalidSecurityToken", "SignatureDoesNotMatch", "IncompleteSignature", "InvalidAuthorization"} {
		if code == p || strings.HasPrefix(code, p+".") {
			return true
		}
	}
	return false
}

// isNotFound: the API says the resource named by the parameter does not
// exist ("InvalidSecurityGroupId.NotFound" for param "SecurityGroupId");
// other 404s (InvalidRegionId.NotFound) are errors.
func isNotFound(err error, param string) bool {
	var ae *APIError
	if !errors.As(err, &ae) {
		return false
	}
	code := strings.ToLower(ae.Code)
	return strings.HasSuffix(code, ".notfound") && strings.Contains(code, strings.ToLower(param))
}

// authAction is the AuthAction of the AccessDeniedDetail of a denied call.
func authAction(e *APIError) string {
	var sdk *tea.SDKError
	if errors.As(e.err, &sdk) {
		if s, ok := sdk.AccessDeniedDetail["AuthAction"].(string); ok {
			return strings.TrimSpace(s)
		}
	}
	var dsdk *dara.SDKError
	if errors.As(e.err, &dsdk) {
		if s, ok := dsdk.AccessDeniedDetail["AuthAction"].(string); ok {
			return strings.TrimSpace(s)
		}
	}
	return ""
}

// asAPIError reads an SDK error (the darabonba client turns error answers
// into *tea.SDKError); nil for errors that are not API answers (network,
// decoding).
func asAPIError(action string, err error) *APIError {
	e := &APIError{Action: action, err: err}
	var data *string
	var sdk *tea.SDKError
	var dsdk *dara.SDKError
	var resp dara.ResponseError
	switch {
	case errors.As(err, &sdk):
		e.Code, e.StatusCode, e.Message, data = tea.StringValue(sdk.Code), tea.IntValue(sdk.StatusCode), tea.StringValue(sdk.Message), sdk.Data
	case errors.As(err, &dsdk):
		e.Code, e.StatusCode, e.Message, data = tea.StringValue(dsdk.Code), tea.IntValue(dsdk.StatusCode), tea.StringValue(dsdk.Message), dsdk.Data
	case errors.As(err, &resp):
		e.Code, e.StatusCode = tea.StringValue(resp.GetCode()), tea.IntValue(resp.GetStatusCode())
		body := resp.GetData()
		e.Message, _ = body["Message"].(string)
		e.RequestID, _ = body["RequestId"].(string)
		return e
	default:
		return nil
	}
	if e.Code == "" && e.StatusCode == 0 {
		return nil
	}
	// The SDK's Message is "code: 403, <message> request id: <id>"; the
	// answer itself is in Data.
	if data != nil {
		var body map[string]any
		if json.Unmarshal([]byte(*data), &body) == nil {
			if m, ok := body["Message"].(string); ok {
				e.Message = m
			}
			if id, ok := body["RequestId"].(string); ok {
				e.RequestID = id
			}
		}
	}
	return e
}

package aliyun

import (
	"context"

	credential "github.com/aliyun/credentials-go/credentials"
)

// What other Alibaba Cloud readers (providers/lb/aliyunlb: SLB and ALB)
// share with Read, so that every product is reached the same way:
// credentials from the default chain with the same redacted diagnostics,
// the same retries and the same error types.

// DefaultCredential resolves the default credential chain once, as Read
// does: missing credentials fail before any call, with the chain's
// reasons and nothing they read.
func DefaultCredential() (credential.Credential, error) { return defaultCredential() }

// Call runs one API call of any product with Read's policy: throttling
// and transient failures retried with a context-aware exponential backoff
// (maxAttempts; 0 means 5, 1 no retry), and errors turned into
// *PermissionError (naming the RAM action, "slb:DescribeHealthStatus") or
// *APIError. fn must honour its context.
func Call(ctx context.Context, action string, maxAttempts int, fn func(context.Context) error) error {
	if maxAttempts == 0 {
		maxAttempts = defaultMaxAttempts
	}
	if maxAttempts < 1 {
		maxAttempts = 1
	}
	a := &api{maxAttempts: maxAttempts}
	return a.do(ctx, action, fn)
}

// SplitEndpoint reads an endpoint override as Config.Endpoint takes it:
// "host[:port]" or "scheme://host[:port]".
func SplitEndpoint(e string) (host, scheme string, err error) { return splitEndpoint(e) }

package aws

import (
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"

	"github.com/aws/smithy-go"
)

// RequiredActions are the IAM actions Read calls, all read-only. Assuming a
// role (Config.AssumeRoleARN) also needs sts:AssumeRole on that role for
// the principal that assumes it; that is granted on the caller's side and
// is not part of this list.
var RequiredActions = []string{
	"ec2:DescribeInstances",
	"ec2:DescribeNetworkInterfaces",
	"ec2:DescribeSecurityGroups",
	"ec2:DescribeSecurityGroupRules",
	"ec2:DescribeNetworkAcls",
	"ec2:DescribeSubnets",
	"ec2:DescribeManagedPrefixLists",
	"ec2:GetManagedPrefixListEntries",
}

// LeastPrivilegePolicy is an IAM policy document (JSON) that allows exactly
// RequiredActions. EC2's Describe actions support no resource-level
// permissions, so the resource is "*".
func LeastPrivilegePolicy() string {
	return PolicyDocument("PortcheckReadCloudFilters", RequiredActions)
}

// PolicyDocument is an IAM policy document (JSON) with one statement
// allowing actions on every resource, for read-only Describe actions that
// support no resource-level permissions (EC2's here, ELBv2's in
// providers/lb/elbv2).
func PolicyDocument(sid string, actions []string) string {
	type statement struct {
		Sid      string
		Effect   string
		Action   []string
		Resource string
	}
	doc := struct {
		Version   string
		Statement []statement
	}{"2012-10-17", []statement{{sid, "Allow", slices.Clone(actions), "*"}}}
	b, err := json.MarshalIndent(doc, "", "  ")
	if err != nil {
		panic(err) // a fixed document always marshals
	}
	return string(b) + "\n"
}

// PermissionError says that the principal may not call an action.
type PermissionError struct {
	// Action is the IAM action refused, e.g. "ec2:DescribeSecurityGroupRules".
	Action string
	// Code is the API's error code (UnauthorizedOperation, AccessDenied).
	Code string
	Err  error
}

func (e *PermissionError) Error() string {
	return fmt.Sprintf("%s is not allowed for this principal (%s)", e.Action, e.Code)
}

func (e *PermissionError) Unwrap() error { return e.Err }

// CredentialsError says that AWS rejected the credentials themselves
// (unknown key, bad signature, expired token).
type CredentialsError struct {
	Code string
	Err  error
}

func (e *CredentialsError) Error() string {
	return fmt.Sprintf("AWS rejected the credentials (%s): check the access key, the session token's expiry and the clock", e.Code)
}

func (e *CredentialsError) Unwrap() error { return e.Err }

// actions maps the SDK's service and operation names to IAM actions.
var actions = map[string]string{
	"EC2.DescribeInstances":           "ec2:DescribeInstances",
	"EC2.DescribeNetworkInterfaces":   "ec2:DescribeNetworkInterfaces",
	"EC2.DescribeSecurityGroups":      "ec2:DescribeSecurityGroups",
	"EC2.DescribeSecurityGroupRules":  "ec2:DescribeSecurityGroupRules",
	"EC2.DescribeNetworkAcls":         "ec2:DescribeNetworkAcls",
	"EC2.DescribeSubnets":             "ec2:DescribeSubnets",
	"EC2.DescribeManagedPrefixLists":  "ec2:DescribeManagedPrefixLists",
	"EC2.GetManagedPrefixListEntries": "ec2:GetManagedPrefixListEntries",
	"STS.AssumeRole":                  "sts:AssumeRole",
}

// iamAction names the IAM action of an SDK operation.
func iamAction(service, operation string) string {
	if a, ok := actions[service+"."+operation]; ok {
		return a
	}
	// IAM's prefix is the service's lower-cased id for EC2 and STS, the
	// only services called here.
	return strings.ToLower(service) + ":" + operation
}

// apiError turns authorization and authentication failures into
// PermissionError and CredentialsError; other errors are returned as they
// are.
func apiError(err error) error {
	var ae smithy.APIError
	if !errors.As(err, &ae) {
		return err
	}
	switch ae.ErrorCode() {
	case "UnauthorizedOperation", "AccessDenied", "AccessDeniedException", "UnauthorizedAccess":
		var oe *smithy.OperationError
		if !errors.As(err, &oe) {
			return err
		}
		return &PermissionError{Action: iamAction(oe.ServiceID, oe.OperationName), Code: ae.ErrorCode(), Err: err}
	case "AuthFailure", "InvalidClientTokenId", "SignatureDoesNotMatch", "ExpiredToken", "RequestExpired", "InvalidAccessKeyId":
		return &CredentialsError{Code: ae.ErrorCode(), Err: err}
	}
	return err
}

// isNotFound reports whether err is the API's "does not exist" for a kind
// of resource (code like InvalidGroup.NotFound, InvalidPrefixListID.NotFound),
// and returns the API's message, which names the ids.
func isNotFound(err error, kind string) (string, bool) {
	var ae smithy.APIError
	if !errors.As(err, &ae) {
		return "", false
	}
	code := strings.ToLower(ae.ErrorCode())
	if strings.HasPrefix(code, strings.ToLower(kind)) && strings.HasSuffix(code, ".notfound") {
		return ae.ErrorMessage(), true
	}
	return "", false
}

package config

import (
	"github.com/hashicorp/hcl/v2"
)

// rootSchema is the top level of every file; loadSources switches on the
// block type.
var rootSchema = &hcl.BodySchema{
	Blocks: []hcl.BlockHeaderSchema{
		{Type: "variable", LabelNames: []string{"name"}},
		{Type: "locals"},
		{Type: "host", LabelNames: []string{"name"}},
		{Type: "endpoint", LabelNames: []string{"name"}},
		{Type: "provider", LabelNames: []string{"type"}},
		{Type: "security_group", LabelNames: []string{"name"}},
		{Type: "change", LabelNames: []string{"name"}},
		{Type: "attestation", LabelNames: []string{"change", "step"}},
	},
}

// variableSchema is decoded by hand rather than with gohcl: "type" is a type
// expression, not a value, and an absent default differs from default = null.
var variableSchema = &hcl.BodySchema{
	Attributes: []hcl.AttributeSchema{
		{Name: "type"},
		{Name: "default"},
		{Name: "description"},
	},
}

var endpointSchema = &hcl.BodySchema{
	Attributes: []hcl.AttributeSchema{
		{Name: "host", Required: true},
		{Name: "port", Required: true},
		{Name: "protocol"},
		{Name: "address"},
		{Name: "from"},
		{Name: "state"},
		{Name: "timeout"},
		{Name: "retries"},
		{Name: "max_ports"},
	},
	Blocks: []hcl.BlockHeaderSchema{
		{Type: "expect"},
	},
}

var expectSchema = &hcl.BodySchema{
	Blocks: []hcl.BlockHeaderSchema{
		{Type: "listening"},
		{Type: "firewall"},
		{Type: "selinux"},
		{Type: "connectivity"},
		{Type: "path"},
		{Type: "cloud"},
		{Type: "http"},
		{Type: "tls"},
		{Type: "grpc"},
		{Type: "banner"},
	},
}

// The leaf blocks are decoded with gohcl into these specs. Every field is an
// hcl.Expression (absent = a null expression) so that each value is checked
// with its own range, and references are checked before evaluation.

type hostSpec struct {
	Address   hcl.Expression `hcl:"address,optional"`
	Addresses hcl.Expression `hcl:"addresses,optional"`
	Netns     hcl.Expression `hcl:"netns,optional"`
	Local     hcl.Expression `hcl:"local,optional"`
}

type listeningSpec struct {
	Process   hcl.Expression `hcl:"process,optional"`
	Addresses hcl.Expression `hcl:"addresses,optional"`
}

type connectivitySpec struct {
	Timeout hcl.Expression `hcl:"timeout,optional"`
	Retries hcl.Expression `hcl:"retries,optional"`
	Payload hcl.Expression `hcl:"payload,optional"`
}

type httpSpec struct {
	Scheme          hcl.Expression `hcl:"scheme,optional"`
	Method          hcl.Expression `hcl:"method,optional"`
	Path            hcl.Expression `hcl:"path,optional"`
	HostHeader      hcl.Expression `hcl:"host_header,optional"`
	Headers         hcl.Expression `hcl:"headers,optional"`
	Status          hcl.Expression `hcl:"status,optional"`
	Body            hcl.Expression `hcl:"body,optional"`
	ResponseHeaders hcl.Expression `hcl:"response_headers,optional"`
	ServerName      hcl.Expression `hcl:"server_name,optional"`
	CAFile          hcl.Expression `hcl:"ca_file,optional"`
	Insecure        hcl.Expression `hcl:"insecure,optional"`
	ClientCert      hcl.Expression `hcl:"client_cert,optional"`
	ClientKey       hcl.Expression `hcl:"client_key,optional"`
	Timeout         hcl.Expression `hcl:"timeout,optional"`
}

type tlsSpec struct {
	ServerName   hcl.Expression `hcl:"server_name,optional"`
	CAFile       hcl.Expression `hcl:"ca_file,optional"`
	MinDaysValid hcl.Expression `hcl:"min_days_valid,optional"`
	MinVersion   hcl.Expression `hcl:"min_version,optional"`
	ClientCert   hcl.Expression `hcl:"client_cert,optional"`
	ClientKey    hcl.Expression `hcl:"client_key,optional"`
	Timeout      hcl.Expression `hcl:"timeout,optional"`
}

type grpcSpec struct {
	Service    hcl.Expression `hcl:"service,optional"`
	TLS        hcl.Expression `hcl:"tls,optional"`
	ServerName hcl.Expression `hcl:"server_name,optional"`
	CAFile     hcl.Expression `hcl:"ca_file,optional"`
	ClientCert hcl.Expression `hcl:"client_cert,optional"`
	ClientKey  hcl.Expression `hcl:"client_key,optional"`
	Timeout    hcl.Expression `hcl:"timeout,optional"`
}

type bannerSpec struct {
	Send    hcl.Expression `hcl:"send,optional"`
	SendHex hcl.Expression `hcl:"send_hex,optional"`
	Match   hcl.Expression `hcl:"match,optional"`
	Timeout hcl.Expression `hcl:"timeout,optional"`
}

type firewallSpec struct {
	AllowFrom hcl.Expression `hcl:"allow_from,optional"`
	DenyFrom  hcl.Expression `hcl:"deny_from,optional"`
	Backend   hcl.Expression `hcl:"backend,optional"`
	Permanent hcl.Expression `hcl:"permanent,optional"`
}

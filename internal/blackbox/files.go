package blackbox

// Typed shapes of the three files export writes. Only the fields export
// sets are here; names and nesting are blackbox_exporter's configuration
// (0.23 and later) and Prometheus's scrape and rule files, checked by
// `prometheus-blackbox-exporter --config.check`, `promtool check config`
// and `promtool check rules` in the tests.

// Config is a blackbox.yml.
type Config struct {
	// Modules by name; yaml.v3 writes map keys sorted, so the file is
	// deterministic.
	Modules map[string]Module `yaml:"modules"`
}

// Module is one blackbox module: a prober and its settings.
type Module struct {
	Prober  string     `yaml:"prober"`
	Timeout string     `yaml:"timeout,omitempty"`
	HTTP    *HTTPProbe `yaml:"http,omitempty"`
	TCP     *TCPProbe  `yaml:"tcp,omitempty"`
	GRPC    *GRPCProbe `yaml:"grpc,omitempty"`
	DNS     *DNSProbe  `yaml:"dns,omitempty"`
	ICMP    *ICMPProbe `yaml:"icmp,omitempty"`
}

// HTTPProbe is a module's http: section.
type HTTPProbe struct {
	ValidStatusCodes             []int             `yaml:"valid_status_codes,flow"`
	Method                       string            `yaml:"method"`
	Headers                      map[string]string `yaml:"headers,omitempty"`
	FailIfBodyNotMatchesRegexp   []string          `yaml:"fail_if_body_not_matches_regexp,omitempty"`
	FailIfHeaderNotMatchesRegexp []HeaderMatch     `yaml:"fail_if_header_not_matches,omitempty"`
	// FollowRedirects is false: portcheck takes a 3xx as the answer.
	FollowRedirects bool       `yaml:"follow_redirects"`
	TLSConfig       *TLSConfig `yaml:"tls_config,omitempty"`
}

// HeaderMatch is one fail_if_header_not_matches entry.
type HeaderMatch struct {
	Header string `yaml:"header"`
	Regexp string `yaml:"regexp"`
}

// TLSConfig is Prometheus's common tls_config. File paths only: the
// exporter reads certificates and keys itself, nothing secret is copied.
type TLSConfig struct {
	ServerName         string `yaml:"server_name,omitempty"`
	CAFile             string `yaml:"ca_file,omitempty"`
	CertFile           string `yaml:"cert_file,omitempty"`
	KeyFile            string `yaml:"key_file,omitempty"`
	InsecureSkipVerify bool   `yaml:"insecure_skip_verify,omitempty"`
}

// TCPProbe is a module's tcp: section.
type TCPProbe struct {
	TLS           bool            `yaml:"tls,omitempty"`
	TLSConfig     *TLSConfig      `yaml:"tls_config,omitempty"`
	QueryResponse []QueryResponse `yaml:"query_response,omitempty"`
}

// QueryResponse is one step of a tcp module's dialogue: blackbox reads
// lines until one matches Expect, or writes Send followed by "\n".
type QueryResponse struct {
	Expect string `yaml:"expect,omitempty"`
	Send   string `yaml:"send,omitempty"`
}

// GRPCProbe is a module's grpc: section.
type GRPCProbe struct {
	Service   string     `yaml:"service,omitempty"`
	TLS       bool       `yaml:"tls,omitempty"`
	TLSConfig *TLSConfig `yaml:"tls_config,omitempty"`
}

// DNSProbe is a module's dns: section.
type DNSProbe struct {
	TransportProtocol string   `yaml:"transport_protocol"`
	QueryName         string   `yaml:"query_name"`
	QueryType         string   `yaml:"query_type"`
	ValidRcodes       []string `yaml:"valid_rcodes,flow"`
}

// ICMPProbe is a module's icmp: section.
type ICMPProbe struct {
	// PreferredIPProtocol ip4 or ip6 as the target's address is.
	PreferredIPProtocol string `yaml:"preferred_ip_protocol"`
}

// ScrapeFragment is the scrape_configs: part of a prometheus.yml.
type ScrapeFragment struct {
	ScrapeConfigs []ScrapeConfig `yaml:"scrape_configs"`
}

// ScrapeConfig is one Prometheus job.
type ScrapeConfig struct {
	JobName        string          `yaml:"job_name"`
	ScrapeInterval string          `yaml:"scrape_interval,omitempty"`
	ScrapeTimeout  string          `yaml:"scrape_timeout,omitempty"`
	MetricsPath    string          `yaml:"metrics_path"`
	StaticConfigs  []StaticConfig  `yaml:"static_configs"`
	RelabelConfigs []RelabelConfig `yaml:"relabel_configs"`
}

// StaticConfig is a group of targets with the same labels.
type StaticConfig struct {
	Targets []string          `yaml:"targets"`
	Labels  map[string]string `yaml:"labels"`
}

// RelabelConfig is one relabeling step (replace action).
type RelabelConfig struct {
	SourceLabels []string `yaml:"source_labels,omitempty,flow"`
	TargetLabel  string   `yaml:"target_label"`
	Replacement  string   `yaml:"replacement,omitempty"`
}

// RuleFile is a Prometheus rule file.
type RuleFile struct {
	Groups []RuleGroup `yaml:"groups"`
}

// RuleGroup is one group of alerting rules.
type RuleGroup struct {
	Name  string `yaml:"name"`
	Rules []Rule `yaml:"rules"`
}

// Rule is one alerting rule.
type Rule struct {
	Alert       string            `yaml:"alert"`
	Expr        string            `yaml:"expr"`
	For         string            `yaml:"for"`
	Labels      map[string]string `yaml:"labels"`
	Annotations map[string]string `yaml:"annotations"`
}

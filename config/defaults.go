package config

import "time"

// Defaults of what an endpoint and its expect blocks leave out, in one
// place: the HCL decoder applies them, and `portcheck diagnose` builds its
// endpoint with the same values, so the runner never falls back on its own.
const (
	// DefaultTimeout is how long one L4 probe attempt waits.
	DefaultTimeout = 2 * time.Second
	// DefaultRetries are the extra L4 attempts after a timeout.
	DefaultRetries = 1
	// DefaultAppTimeout bounds an L7 check when neither its block nor the
	// endpoint declares a timeout.
	DefaultAppTimeout = 5 * time.Second
	// DefaultHTTPMethod and DefaultHTTPStatus: a GET that must answer 200.
	DefaultHTTPMethod = "GET"
	DefaultHTTPStatus = 200
	// DefaultMinDaysValid: a certificate must stay valid two more weeks.
	DefaultMinDaysValid = 14
	// DefaultPathMaxHops, DefaultPathRounds and DefaultPathTimeout are a
	// path block's (mtr's count of 10 rounds: loss in 10% steps).
	DefaultPathMaxHops = 30
	DefaultPathRounds  = 10
	DefaultPathTimeout = time.Second
	// DefaultEphemeralFrom/To are the clients' source ports a stateless
	// network ACL must let the reply reach (AWS's advice).
	DefaultEphemeralFrom = 1024
	DefaultEphemeralTo   = 65535
)

// DefaultChangeQueryTimeout bounds one question a change step asks a
// service (a DNS query, a Prometheus targets read).
const DefaultChangeQueryTimeout = 5 * time.Second

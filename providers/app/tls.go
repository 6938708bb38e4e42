package app

import (
	"bytes"
	"context"
	"crypto/dsa" //nolint:staticcheck // to name an old server's DSA key, not to use it
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/tls"
	"crypto/x509"
	"encoding/hex"
	"errors"
	"fmt"
	"math"
	"net"
	"os"
	"strings"
	"time"

	"github.com/portcheck/portcheck/providers"
)

// Cert is one certificate as the server presented it.
type Cert struct {
	Subject     string    `json:"subject"` // RFC 2253, e.g. "CN=web.example,O=Acme"
	Issuer      string    `json:"issuer"`
	DNSNames    []string  `json:"dns_names,omitempty"`
	IPAddresses []string  `json:"ip_addresses,omitempty"`
	NotBefore   time.Time `json:"not_before"`
	NotAfter    time.Time `json:"not_after"`
	// DaysLeft is floor((NotAfter-now)/24h), negative when expired.
	DaysLeft     int    `json:"days_left"`
	SerialNumber string `json:"serial"` // lowercase hex
	SHA256       string `json:"sha256"` // of the DER, lowercase hex
	IsCA         bool   `json:"is_ca,omitempty"`
	// KeyAlgorithm is "RSA", "ECDSA", "Ed25519" or "DSA"; KeyBits the RSA
	// modulus, the ECDSA curve or the DSA prime size.
	KeyAlgorithm       string `json:"key_algorithm,omitempty"`
	KeyBits            int    `json:"key_bits,omitempty"`
	SignatureAlgorithm string `json:"signature_algorithm,omitempty"` // e.g. "SHA256-RSA"
	// SelfSigned: the issuer is the subject and the certificate's own key
	// verifies its signature.
	SelfSigned bool `json:"self_signed,omitempty"`
}

// TLSParams configures a TLS handshake.
type TLSParams struct {
	// ServerName is sent as SNI and verified; "" sends no SNI and verifies
	// the certificate against the target IP.
	ServerName string
	// CAFile is a PEM bundle of trusted roots; "" uses the system roots.
	CAFile string
	// Timeout bounds connect and handshake; default 5s.
	Timeout time.Duration
	// ClientCert and ClientKey are PEM files of a client certificate sent
	// when the server asks for one (mTLS); "" = none. The key is read by
	// the handshake only; errors name the file, never its contents.
	ClientCert string
	ClientKey  string
	// RefuseBelow, when above TLS 1.0, makes TLS (the check) try a second
	// handshake offering only the versions below it, to see whether the
	// server refuses them (min_version).
	RefuseBelow uint16
	// Now is the clock for verification and DaysLeft (tests); nil = time.Now.
	Now func() time.Time
}

// BelowFacts is the second handshake of a min_version check: offering
// only the versions below the minimum.
type BelowFacts struct {
	Offered  []string `json:"offered"`           // e.g. ["TLS1.0", "TLS1.1"]
	Accepted bool     `json:"accepted"`          // the server completed it
	Version  string   `json:"version,omitempty"` // what it negotiated then
	Error    string   `json:"error,omitempty"`   // how it refused
}

// TLSFacts is what a TLS handshake showed.
type TLSFacts struct {
	Handshake   bool   `json:"handshake"`         // handshake completed
	Version     string `json:"version,omitempty"` // "TLS1.3"
	CipherSuite string `json:"cipher_suite,omitempty"`
	ServerName  string `json:"server_name,omitempty"` // SNI sent
	ALPN        string `json:"alpn,omitempty"`
	// Chain is as presented by the server, leaf first, also when
	// verification fails (expired, unknown CA, wrong name).
	Chain    []Cert `json:"chain,omitempty"`
	Verified bool   `json:"verified"`
	// VerifyError lists every verification problem found, "; "-separated:
	// the chain (expiry, unknown authority) and the name are checked apart
	// so that an expired cert for the wrong name shows both.
	VerifyError string `json:"verify_error,omitempty"`
	Error       string `json:"error,omitempty"` // connect or handshake failure
	Phase       string `json:"phase,omitempty"`
	// ClientCertRequested: the server sent a CertificateRequest (mTLS);
	// ClientCertSent: a client certificate was given and sent.
	ClientCertRequested bool `json:"client_cert_requested,omitempty"`
	ClientCertSent      bool `json:"client_cert_sent,omitempty"`
	// Alert is a TLS alert the server sent after the handshake completed
	// on the client's side, e.g. "tls: certificate required": under TLS
	// 1.3 a server rejects a missing client certificate only then.
	Alert string `json:"alert,omitempty"`
	// BelowMin is the min_version check's second handshake, when asked.
	BelowMin *BelowFacts `json:"below_min,omitempty"`
	// DurationMs is the whole check; inside HTTP or gRPC facts it is the
	// handshake alone.
	DurationMs float64 `json:"duration_ms"`
}

const defaultTimeout = 5 * time.Second

// TLS connects to t, completes a TLS handshake offering ALPN h2 and
// http/1.1, and reports the negotiated parameters, the presented chain and
// whether it verifies. A verification failure is not an Error: the
// handshake worked, and Verified/VerifyError say what is wrong.
func TLS(ctx context.Context, exec providers.Exec, t providers.Target, p TLSParams) (*TLSFacts, error) {
	addr, err := hostPort("tls", t)
	if err != nil {
		return nil, err
	}
	timeout := orDuration(p.Timeout, defaultTimeout)
	probe, err := newTLSProbe("tls", t, p, "", []string{"h2", "http/1.1"}, timeout)
	if err != nil {
		return nil, err
	}
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	start := time.Now()

	conn, err := dial(ctx, exec, addr)
	if err != nil {
		if errors.As(err, new(errNamespace)) {
			return nil, err
		}
		return &TLSFacts{Error: errText(ctx, err, timeout), Phase: PhaseConnect, DurationMs: msSince(start)}, nil
	}
	defer conn.Close()
	tc, facts := probe.handshake(ctx, conn)
	if tc != nil {
		facts.Alert, _ = postHandshakeAlert(ctx, tc, facts)
		tc.Close()
	}
	if p.RefuseBelow > tls.VersionTLS10 && ctx.Err() == nil {
		facts.BelowMin = probe.below(ctx, exec, addr, p.RefuseBelow)
	}
	facts.DurationMs = msSince(start)
	return facts, nil
}

// alertWait is how long a TLS 1.3 client waits, after a handshake in
// which the server asked for a client certificate, for the alert with
// which the server rejects it (it is sent right after the client's
// Finished; a server that accepts says nothing).
const alertWait = 500 * time.Millisecond

// postHandshakeAlert reads briefly after a TLS 1.3 handshake in which a
// client certificate was requested, and returns the server's alert, if
// any, and the application data read meanwhile (for the caller to replay).
// Under TLS 1.3 the client's handshake completes before the server has
// judged the client certificate, so without this read a strict mTLS
// server looks healthy.
func postHandshakeAlert(ctx context.Context, tc *tls.Conn, f *TLSFacts) (string, []byte) {
	if !f.ClientCertRequested || tc.ConnectionState().Version != tls.VersionTLS13 {
		return "", nil
	}
	deadline := time.Now().Add(alertWait)
	if d, ok := ctx.Deadline(); ok && d.Before(deadline) {
		deadline = d
	}
	tc.SetReadDeadline(deadline)
	defer tc.SetReadDeadline(time.Time{})
	buf := make([]byte, 4096)
	n, err := tc.Read(buf)
	// A timeout is not sticky on a tls.Conn: the caller can go on using it.
	return remoteAlert(err), buf[:n]
}

// replayConn returns pre before reading on from the connection.
type replayConn struct {
	net.Conn
	pre []byte
}

func (c *replayConn) Read(b []byte) (int, error) {
	if len(c.pre) > 0 {
		n := copy(b, c.pre)
		c.pre = c.pre[n:]
		return n, nil
	}
	return c.Conn.Read(b)
}

// remoteAlert is the text of a TLS alert the peer sent ("tls: certificate
// required"), "" when err is something else.
func remoteAlert(err error) string {
	var oe *net.OpError
	if errors.As(err, &oe) && oe.Op == "remote error" && oe.Err != nil {
		return oe.Err.Error()
	}
	return ""
}

// below tries a handshake offering only the versions below min; a server
// that completes it does not refuse them.
func (pr tlsProbe) below(ctx context.Context, exec providers.Exec, addr string, min uint16) *BelowFacts {
	bf := &BelowFacts{}
	for v := uint16(tls.VersionTLS10); v < min; v++ {
		bf.Offered = append(bf.Offered, tlsVersionName(v))
	}
	conn, err := dial(ctx, exec, addr)
	if err != nil {
		bf.Error = "connect: " + errText(ctx, err, pr.timeout)
		return bf
	}
	defer conn.Close()
	pr.minVersion, pr.maxVersion = tls.VersionTLS10, min-1
	tc, f := pr.handshake(ctx, conn)
	if tc == nil {
		bf.Error = f.Error
		return bf
	}
	tc.Close()
	bf.Accepted, bf.Version = true, f.Version
	return bf
}

// tlsProbe is a client handshake that accepts any certificate, then
// verifies by hand so the chain and the reason survive a failure.
type tlsProbe struct {
	sni        string // "" = none sent
	verifyName string // DNS name or IP the leaf must match
	roots      *x509.CertPool
	now        func() time.Time
	alpn       []string
	timeout    time.Duration
	clientCert *tls.Certificate
	// Versions offered; zero = TLS 1.0 up to the newest.
	minVersion, maxVersion uint16
}

// newTLSProbe prepares a handshake with t. sniFallback is used as SNI when
// p.ServerName is empty (HTTP passes its Host header, as a browser would).
func newTLSProbe(kind string, t providers.Target, p TLSParams, sniFallback string, alpn []string, timeout time.Duration) (tlsProbe, error) {
	pr := tlsProbe{sni: p.ServerName, now: p.Now, alpn: alpn, timeout: timeout}
	if pr.sni == "" {
		pr.sni = sniFallback
	}
	if pr.now == nil {
		pr.now = time.Now
	}
	pr.verifyName = pr.sni
	if pr.verifyName == "" {
		// A zone is not part of an IP SAN.
		if !t.Address.IsValid() {
			return pr, fmt.Errorf("app/%s: no target address", kind)
		}
		pr.verifyName = t.Address.WithZone("").String()
	}
	if p.CAFile != "" {
		pem, err := os.ReadFile(p.CAFile)
		if err != nil {
			return pr, fmt.Errorf("app/%s: CA file: %w", kind, err)
		}
		pr.roots = x509.NewCertPool()
		if !pr.roots.AppendCertsFromPEM(pem) {
			return pr, fmt.Errorf("app/%s: CA file %s holds no PEM certificate", kind, p.CAFile)
		}
	}
	switch {
	case p.ClientCert != "" && p.ClientKey != "":
		// LoadX509KeyPair's errors describe the PEM structure, never the
		// key material.
		c, err := tls.LoadX509KeyPair(p.ClientCert, p.ClientKey)
		if err != nil {
			return pr, fmt.Errorf("app/%s: client certificate %s / key %s: %w", kind, p.ClientCert, p.ClientKey, err)
		}
		pr.clientCert = &c
	case p.ClientCert != "" || p.ClientKey != "":
		return pr, fmt.Errorf("app/%s: a client certificate needs both a certificate and a key file", kind)
	}
	return pr, nil
}

// probeSuites offers every suite Go implements, insecure ones included
// (Go still prefers secure ones): an observer must be able to reach a
// legacy server to report what it negotiates.
var probeSuites = func() []uint16 {
	var ids []uint16
	for _, s := range append(tls.CipherSuites(), tls.InsecureCipherSuites()...) {
		ids = append(ids, s.ID)
	}
	return ids
}()

// handshake runs the TLS client handshake on conn. It returns the TLS conn
// (nil when the handshake failed) and the facts, with Error and Phase set
// on failure and the verification result on success. DurationMs is the
// handshake alone (TLS replaces it with the whole check's).
func (pr tlsProbe) handshake(ctx context.Context, conn net.Conn) (*tls.Conn, *TLSFacts) {
	facts := &TLSFacts{}
	if net.ParseIP(pr.sni) == nil {
		facts.ServerName = pr.sni // crypto/tls never sends an IP as SNI
	}
	var presented [][]byte
	minV := pr.minVersion
	if minV == 0 {
		// crypto/tls offers TLS 1.0 and 1.1 as a client only when asked to.
		minV = tls.VersionTLS10
	}
	cfg := &tls.Config{
		ServerName:         pr.sni,
		InsecureSkipVerify: true, // verified below, keeping the details
		NextProtos:         pr.alpn,
		MinVersion:         minV,
		MaxVersion:         pr.maxVersion,
		CipherSuites:       probeSuites,
		GetClientCertificate: func(*tls.CertificateRequestInfo) (*tls.Certificate, error) {
			// Called only when the server sends a CertificateRequest.
			facts.ClientCertRequested = true
			if pr.clientCert != nil {
				facts.ClientCertSent = true
				return pr.clientCert, nil
			}
			return &tls.Certificate{}, nil
		},
		// Keep the chain even if the handshake fails after the server's
		// Certificate message (e.g. it then demands a client certificate).
		VerifyPeerCertificate: func(raw [][]byte, _ [][]*x509.Certificate) error {
			presented = raw
			return nil
		},
	}
	tc := tls.Client(conn, cfg)
	start := time.Now()
	err := tc.HandshakeContext(ctx)
	facts.DurationMs = msSince(start)
	if err != nil {
		facts.Error = errText(ctx, err, pr.timeout)
		facts.Phase = PhaseTLS
		for _, der := range presented {
			if c, err := x509.ParseCertificate(der); err == nil {
				facts.Chain = append(facts.Chain, certFacts(c, pr.now()))
			}
		}
		return nil, facts
	}
	st := tc.ConnectionState()
	facts.Handshake = true
	facts.Version = tlsVersionName(st.Version)
	facts.CipherSuite = tls.CipherSuiteName(st.CipherSuite)
	facts.ALPN = st.NegotiatedProtocol
	now := pr.now()
	for _, c := range st.PeerCertificates {
		facts.Chain = append(facts.Chain, certFacts(c, now))
	}
	if err := pr.verify(st.PeerCertificates, now); err != nil {
		facts.VerifyError = err.Error()
	} else {
		facts.Verified = true
	}
	return tc, facts
}

// verify checks the chain against the roots and the leaf against the
// name separately, so both problems are reported when both exist.
func (pr tlsProbe) verify(certs []*x509.Certificate, now time.Time) error {
	if len(certs) == 0 {
		return errors.New("server presented no certificate")
	}
	leaf := certs[0]
	inter := x509.NewCertPool()
	for _, c := range certs[1:] {
		inter.AddCert(c)
	}
	var errs []string
	if _, err := leaf.Verify(x509.VerifyOptions{Roots: pr.roots, Intermediates: inter, CurrentTime: now}); err != nil {
		errs = append(errs, err.Error())
	}
	if err := leaf.VerifyHostname(pr.verifyName); err != nil {
		errs = append(errs, err.Error())
	}
	if len(errs) > 0 {
		return errors.New(strings.Join(errs, "; "))
	}
	return nil
}

func certFacts(c *x509.Certificate, now time.Time) Cert {
	var ips []string
	for _, ip := range c.IPAddresses {
		ips = append(ips, ip.String())
	}
	sum := sha256.Sum256(c.Raw)
	serial := ""
	if c.SerialNumber != nil {
		serial = c.SerialNumber.Text(16)
	}
	cf := Cert{
		Subject:            c.Subject.String(),
		Issuer:             c.Issuer.String(),
		DNSNames:           c.DNSNames,
		IPAddresses:        ips,
		NotBefore:          c.NotBefore.UTC(),
		NotAfter:           c.NotAfter.UTC(),
		DaysLeft:           daysLeft(c.NotAfter, now),
		SerialNumber:       serial,
		SHA256:             hex.EncodeToString(sum[:]),
		IsCA:               c.IsCA,
		SignatureAlgorithm: c.SignatureAlgorithm.String(),
	}
	cf.KeyAlgorithm, cf.KeyBits = keyInfo(c.PublicKey)
	// A self-signed certificate's own key verifies it; SHA-1 self-
	// signatures are refused by Go, so fall back to the names then.
	if bytes.Equal(c.RawIssuer, c.RawSubject) {
		// CheckSignatureFrom would refuse a parent that is no CA, which
		// is what a self-signed leaf is.
		err := c.CheckSignature(c.SignatureAlgorithm, c.RawTBSCertificate, c.Signature)
		cf.SelfSigned = err == nil || errors.As(err, new(x509.InsecureAlgorithmError))
	}
	return cf
}

func keyInfo(pub any) (string, int) {
	switch k := pub.(type) {
	case *rsa.PublicKey:
		return "RSA", k.N.BitLen()
	case *ecdsa.PublicKey:
		return "ECDSA", k.Curve.Params().BitSize
	case ed25519.PublicKey:
		return "Ed25519", 256
	case *dsa.PublicKey:
		return "DSA", k.P.BitLen()
	}
	return fmt.Sprintf("%T", pub), 0
}

func daysLeft(notAfter, now time.Time) int {
	return int(math.Floor(notAfter.Sub(now).Hours() / 24))
}

func tlsVersionName(v uint16) string {
	switch v {
	case tls.VersionTLS10:
		return "TLS1.0"
	case tls.VersionTLS11:
		return "TLS1.1"
	case tls.VersionTLS12:
		return "TLS1.2"
	case tls.VersionTLS13:
		return "TLS1.3"
	}
	return fmt.Sprintf("0x%04x", v)
}

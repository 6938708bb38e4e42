// Package testcert makes throw-away certificate authorities and leaf
// certificates for tests of real TLS servers; nothing comes from outside.
package testcert

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"math/big"
	"net"
	"os"
	"path/filepath"
	"testing"
	"time"
)

// CA is a certificate authority: a self-signed root (NewCA) or an
// intermediate (Intermediate).
type CA struct {
	Cert *x509.Certificate
	Key  *ecdsa.PrivateKey
	PEM  []byte // Cert alone

	// chain is what a server presents after a leaf this CA issued: the
	// intermediates up to, not including, the root.
	chain [][]byte
}

// Option adjusts a CA certificate before it is signed.
type Option func(*x509.Certificate)

// Organization sets the subject's O attribute, so the subject reads
// "CN=<name>,O=<org>".
func Organization(org ...string) Option {
	return func(c *x509.Certificate) { c.Subject.Organization = org }
}

// Validity sets the certificate's NotBefore and NotAfter exactly.
func Validity(notBefore, notAfter time.Time) Option {
	return func(c *x509.Certificate) { c.NotBefore, c.NotAfter = notBefore, notAfter }
}

// NewCA creates a self-signed CA with subject CN=name, valid from an hour
// ago for ten years unless an option says otherwise.
func NewCA(t testing.TB, name string, opts ...Option) *CA {
	t.Helper()
	return newCA(t, nil, name, time.Now().Add(10*365*24*time.Hour), opts)
}

// Intermediate creates a CA with subject CN=name signed by ca, valid from
// an hour ago for five years unless an option says otherwise. Leaves it
// issues carry it (and any intermediates above it) in their chain, so a
// client trusting only the root can verify them.
func (ca *CA) Intermediate(t testing.TB, name string, opts ...Option) *CA {
	t.Helper()
	return newCA(t, ca, name, time.Now().Add(5*365*24*time.Hour), opts)
}

// newCA makes a CA signed by parent, or self-signed when parent is nil.
func newCA(t testing.TB, parent *CA, name string, notAfter time.Time, opts []Option) *CA {
	t.Helper()
	key := newKey(t)
	tmpl := &x509.Certificate{
		SerialNumber:          serial(t),
		Subject:               pkix.Name{CommonName: name},
		NotBefore:             time.Now().Add(-time.Hour),
		NotAfter:              notAfter,
		IsCA:                  true,
		BasicConstraintsValid: true,
		KeyUsage:              x509.KeyUsageCertSign | x509.KeyUsageDigitalSignature,
	}
	for _, o := range opts {
		o(tmpl)
	}
	issuer, signer := tmpl, key
	if parent != nil {
		issuer, signer = parent.Cert, parent.Key
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, issuer, &key.PublicKey, signer)
	if err != nil {
		t.Fatal(err)
	}
	cert, err := x509.ParseCertificate(der)
	if err != nil {
		t.Fatal(err)
	}
	ca := &CA{Cert: cert, Key: key, PEM: pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der})}
	if parent != nil {
		ca.chain = append([][]byte{der}, parent.chain...)
	}
	return ca
}

// WriteCA writes the CA's PEM into a temp file and returns its path.
func (ca *CA) WriteCA(t testing.TB) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), "ca.pem")
	if err := os.WriteFile(p, ca.PEM, 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}

// Leaf issues a server certificate for the names (DNS names or IPs; the
// first is the subject's CN), valid between notBefore and notAfter. Its
// chain holds the leaf, then the intermediates when ca is one.
func (ca *CA) Leaf(t testing.TB, notBefore, notAfter time.Time, names ...string) tls.Certificate {
	t.Helper()
	if len(names) == 0 {
		t.Fatal("testcert: Leaf needs at least one name")
	}
	key := newKey(t)
	tmpl := &x509.Certificate{
		SerialNumber: serial(t),
		Subject:      pkix.Name{CommonName: names[0]},
		NotBefore:    notBefore,
		NotAfter:     notAfter,
		KeyUsage:     x509.KeyUsageDigitalSignature,
		ExtKeyUsage:  []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
	}
	for _, n := range names {
		if ip := net.ParseIP(n); ip != nil {
			tmpl.IPAddresses = append(tmpl.IPAddresses, ip)
		} else {
			tmpl.DNSNames = append(tmpl.DNSNames, n)
		}
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, ca.Cert, &key.PublicKey, ca.Key)
	if err != nil {
		t.Fatal(err)
	}
	return tls.Certificate{Certificate: append([][]byte{der}, ca.chain...), PrivateKey: key}
}

// RSALeaf issues a server certificate with an RSA key of the given size
// (e.g. 1024, to test weak-key findings), valid for a year.
func (ca *CA) RSALeaf(t testing.TB, bits int, names ...string) tls.Certificate {
	t.Helper()
	key, err := rsa.GenerateKey(rand.Reader, bits)
	if err != nil {
		t.Fatal(err)
	}
	return ca.issue(t, key, &key.PublicKey, x509.ExtKeyUsageServerAuth, time.Now().Add(-time.Hour), time.Now().Add(365*24*time.Hour), names)
}

// Client issues a client certificate (for mTLS) with subject CN=name.
func (ca *CA) Client(t testing.TB, name string) tls.Certificate {
	t.Helper()
	key := newKey(t)
	return ca.issue(t, key, &key.PublicKey, x509.ExtKeyUsageClientAuth, time.Now().Add(-time.Hour), time.Now().Add(365*24*time.Hour), []string{name})
}

// SelfSigned makes a certificate for the names that signs itself and is
// no CA, as `openssl req -x509` or a fresh appliance makes one.
func SelfSigned(t testing.TB, names ...string) tls.Certificate {
	t.Helper()
	key := newKey(t)
	tmpl := &x509.Certificate{
		SerialNumber: serial(t),
		Subject:      pkix.Name{CommonName: names[0]},
		NotBefore:    time.Now().Add(-time.Hour),
		NotAfter:     time.Now().Add(365 * 24 * time.Hour),
		KeyUsage:     x509.KeyUsageDigitalSignature,
		ExtKeyUsage:  []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
	}
	addNames(tmpl, names)
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	return tls.Certificate{Certificate: [][]byte{der}, PrivateKey: key}
}

// WritePair writes the certificate chain and its key as PEM files in a
// temp dir (for servers and client_cert/client_key); it returns the paths.
func WritePair(t testing.TB, c tls.Certificate) (certFile, keyFile string) {
	t.Helper()
	dir := t.TempDir()
	var chain []byte
	for _, der := range c.Certificate {
		chain = append(chain, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der})...)
	}
	keyDER, err := x509.MarshalPKCS8PrivateKey(c.PrivateKey)
	if err != nil {
		t.Fatal(err)
	}
	certFile, keyFile = filepath.Join(dir, "cert.pem"), filepath.Join(dir, "key.pem")
	if err := os.WriteFile(certFile, chain, 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(keyFile, pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: keyDER}), 0o600); err != nil {
		t.Fatal(err)
	}
	return certFile, keyFile
}

// LeafOnly drops the intermediates from a leaf's chain, as a server
// misconfigured to send only its own certificate does.
func LeafOnly(c tls.Certificate) tls.Certificate {
	c.Certificate = c.Certificate[:1]
	return c
}

func (ca *CA) issue(t testing.TB, signer any, pub any, eku x509.ExtKeyUsage, notBefore, notAfter time.Time, names []string) tls.Certificate {
	t.Helper()
	tmpl := &x509.Certificate{
		SerialNumber: serial(t),
		Subject:      pkix.Name{CommonName: names[0]},
		NotBefore:    notBefore,
		NotAfter:     notAfter,
		KeyUsage:     x509.KeyUsageDigitalSignature | x509.KeyUsageKeyEncipherment,
		ExtKeyUsage:  []x509.ExtKeyUsage{eku},
	}
	if eku == x509.ExtKeyUsageServerAuth {
		addNames(tmpl, names)
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, ca.Cert, pub, ca.Key)
	if err != nil {
		t.Fatal(err)
	}
	return tls.Certificate{Certificate: append([][]byte{der}, ca.chain...), PrivateKey: signer}
}

func addNames(tmpl *x509.Certificate, names []string) {
	for _, n := range names {
		if ip := net.ParseIP(n); ip != nil {
			tmpl.IPAddresses = append(tmpl.IPAddresses, ip)
		} else {
			tmpl.DNSNames = append(tmpl.DNSNames, n)
		}
	}
}

// Valid issues a leaf valid from an hour ago for a year.
func (ca *CA) Valid(t testing.TB, names ...string) tls.Certificate {
	t.Helper()
	return ca.Leaf(t, time.Now().Add(-time.Hour), time.Now().Add(365*24*time.Hour), names...)
}

// Expired issues a leaf that expired ten days ago.
func (ca *CA) Expired(t testing.TB, names ...string) tls.Certificate {
	t.Helper()
	return ca.Leaf(t, time.Now().Add(-100*24*time.Hour), time.Now().Add(-10*24*time.Hour), names...)
}

func newKey(t testing.TB) *ecdsa.PrivateKey {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	return key
}

func serial(t testing.TB) *big.Int {
	t.Helper()
	n, err := rand.Int(rand.Reader, new(big.Int).Lsh(big.NewInt(1), 62))
	if err != nil {
		t.Fatal(err)
	}
	return n
}

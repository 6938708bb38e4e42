package testcert

import (
	"crypto/x509"
	"testing"
	"time"
)

// A leaf from an intermediate carries the intermediate and verifies
// against the root alone.
func TestIntermediateChain(t *testing.T) {
	root := NewCA(t, "root", Organization("test org"))
	now := time.Now().Truncate(time.Second)
	inter := root.Intermediate(t, "inter", Validity(now.Add(-time.Hour), now.Add(48*time.Hour)))
	sub := inter.Intermediate(t, "sub")
	leaf := sub.Valid(t, "web.example", "127.0.0.1")

	if got := root.Cert.Subject.String(); got != "CN=root,O=test org" {
		t.Errorf("root subject = %q", got)
	}
	if got := inter.Cert.Issuer.String(); got != "CN=root,O=test org" {
		t.Errorf("intermediate issuer = %q", got)
	}
	if !inter.Cert.IsCA || !inter.Cert.NotBefore.Equal(now.Add(-time.Hour)) || !inter.Cert.NotAfter.Equal(now.Add(48*time.Hour)) {
		t.Errorf("intermediate: IsCA %v, valid %v to %v", inter.Cert.IsCA, inter.Cert.NotBefore, inter.Cert.NotAfter)
	}
	if len(leaf.Certificate) != 3 {
		t.Fatalf("leaf chain has %d certificates, want leaf, sub, inter", len(leaf.Certificate))
	}
	certs := make([]*x509.Certificate, len(leaf.Certificate))
	for i, der := range leaf.Certificate {
		c, err := x509.ParseCertificate(der)
		if err != nil {
			t.Fatal(err)
		}
		certs[i] = c
	}
	if certs[1].Subject.CommonName != "sub" || certs[2].Subject.CommonName != "inter" {
		t.Errorf("chain = %s, %s, %s", certs[0].Subject, certs[1].Subject, certs[2].Subject)
	}
	roots, inters := x509.NewCertPool(), x509.NewCertPool()
	roots.AddCert(root.Cert)
	inters.AddCert(certs[1])
	inters.AddCert(certs[2])
	if _, err := certs[0].Verify(x509.VerifyOptions{Roots: roots, Intermediates: inters, DNSName: "web.example"}); err != nil {
		t.Errorf("Verify: %v", err)
	}
	if len(root.Valid(t, "a.example").Certificate) != 1 {
		t.Error("a root's leaf carries more than itself")
	}
}

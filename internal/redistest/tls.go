package redistest

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"errors"
	"fmt"
	"math/big"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"testing"
	"time"
)

// TLSServer is a redis-server that accepts only TLS connections (its plain
// port is 0), with a certificate for 127.0.0.1 signed by a CA made for it.
// Clients are not asked for certificates (tls-auth-clients no).
type TLSServer struct {
	*Server // Addr is the TLS port

	CAFile      string // the CA that signed the server's certificate (PEM)
	CertFile    string // the server's certificate (PEM)
	KeyFile     string // the server's private key (PEM)
	OtherCAFile string // an unrelated self-signed CA (PEM): trusting only it, a client must refuse the server
}

// StartTLS makes a CA, a server certificate for the IP address 127.0.0.1
// signed by it, and an unrelated second CA, writes them into dir as
// ca.pem, server.pem, server-key.pem and other-ca.pem, and starts a
// TLS-only redis-server with them and the extra configuration args. It
// returns once a TLS client that trusts only ca.pem gets an answer from the
// new process. dir belongs to the caller (a test's t.TempDir()); the
// server's data directory is its own, removed by Stop.
func StartTLS(dir string, args ...string) (*TLSServer, error) {
	if _, err := exec.LookPath("redis-server"); err != nil {
		return nil, ErrNotInstalled
	}
	ts := &TLSServer{
		CAFile:      filepath.Join(dir, "ca.pem"),
		CertFile:    filepath.Join(dir, "server.pem"),
		KeyFile:     filepath.Join(dir, "server-key.pem"),
		OtherCAFile: filepath.Join(dir, "other-ca.pem"),
	}
	roots, err := ts.writeCerts()
	if err != nil {
		return nil, fmt.Errorf("redistest: TLS certificates: %w", err)
	}
	cfg := serverConfig{
		password: passwordOf(args),
		tls:      &tls.Config{RootCAs: roots, ServerName: "127.0.0.1", MinVersion: tls.VersionTLS12},
	}
	s, err := startServer(cfg, func(port int, dir string) ([]string, error) {
		tlsArgs := []string{"--port", "0", "--tls-port", strconv.Itoa(port),
			"--tls-cert-file", ts.CertFile,
			"--tls-key-file", ts.KeyFile,
			"--tls-ca-cert-file", ts.CAFile,
			"--tls-auth-clients", "no"}
		return append(append(tlsArgs, commonArgs(dir)...), args...), nil
	})
	if err != nil {
		return nil, err
	}
	ts.Server = s
	return ts, nil
}

// TLSConfig returns a client configuration that trusts only the server's
// CA, for go-redis's Options.TLSConfig.
func (ts *TLSServer) TLSConfig() *tls.Config { return ts.tls.Clone() }

// StartTLSForTest is [StartTLS] into a temporary directory of tb, stopped
// when tb ends; like [StartForTest], a missing redis-server skips the test
// (fails it if [Required]).
func StartTLSForTest(tb testing.TB, args ...string) *TLSServer {
	tb.Helper()
	ts, err := StartTLS(tb.TempDir(), args...)
	if err != nil {
		skipOrFail(tb, "redis-server with TLS", err)
		return nil
	}
	tb.Cleanup(ts.Stop)
	return ts
}

// writeCerts generates the certificates and keys, writes them to ts's
// files, and returns a pool holding the server's CA.
func (ts *TLSServer) writeCerts() (*x509.CertPool, error) {
	now := time.Now()
	ca, caKey, caDER, err := newCA("redistest CA", now)
	if err != nil {
		return nil, err
	}
	_, _, otherDER, err := newCA("redistest unrelated CA", now)
	if err != nil {
		return nil, err
	}
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, err
	}
	tmpl := &x509.Certificate{
		SerialNumber: serial(),
		Subject:      pkix.Name{CommonName: "127.0.0.1"},
		NotBefore:    now.Add(-time.Hour),
		NotAfter:     now.Add(24 * time.Hour),
		KeyUsage:     x509.KeyUsageDigitalSignature,
		ExtKeyUsage:  []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
		IPAddresses:  []net.IP{net.IPv4(127, 0, 0, 1)},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, ca, &key.PublicKey, caKey)
	if err != nil {
		return nil, err
	}
	keyDER, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		return nil, err
	}
	files := []struct {
		path, kind string
		der        []byte
	}{
		{ts.CAFile, "CERTIFICATE", caDER},
		{ts.OtherCAFile, "CERTIFICATE", otherDER},
		{ts.CertFile, "CERTIFICATE", der},
		{ts.KeyFile, "PRIVATE KEY", keyDER},
	}
	for _, f := range files {
		if err := os.WriteFile(f.path, pem.EncodeToMemory(&pem.Block{Type: f.kind, Bytes: f.der}), 0o600); err != nil {
			return nil, err
		}
	}
	roots := x509.NewCertPool()
	roots.AddCert(ca)
	return roots, nil
}

// newCA returns a self-signed CA certificate, its key and its DER form.
func newCA(name string, now time.Time) (*x509.Certificate, *ecdsa.PrivateKey, []byte, error) {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, nil, nil, err
	}
	tmpl := &x509.Certificate{
		SerialNumber:          serial(),
		Subject:               pkix.Name{CommonName: name},
		NotBefore:             now.Add(-time.Hour),
		NotAfter:              now.Add(24 * time.Hour),
		IsCA:                  true,
		BasicConstraintsValid: true,
		KeyUsage:              x509.KeyUsageCertSign | x509.KeyUsageCRLSign,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		return nil, nil, nil, err
	}
	cert, err := x509.ParseCertificate(der)
	if err != nil {
		return nil, nil, nil, err
	}
	return cert, key, der, nil
}

// serial returns a random certificate serial number.
func serial() *big.Int {
	n, err := rand.Int(rand.Reader, new(big.Int).Lsh(big.NewInt(1), 120))
	if err != nil {
		panic(errors.New("redistest: no randomness: " + err.Error()))
	}
	return n
}

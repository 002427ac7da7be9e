package redistest

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/pem"
	"errors"
	"net"
	"os"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// readCert parses the first certificate of a PEM file.
func readCert(t *testing.T, path string) *x509.Certificate {
	t.Helper()
	b, err := os.ReadFile(path)
	require.NoError(t, err)
	block, _ := pem.Decode(b)
	require.NotNil(t, block, "PEM in %s", path)
	cert, err := x509.ParseCertificate(block.Bytes)
	require.NoError(t, err)
	return cert
}

// poolOf returns a pool with the certificates of a PEM file.
func poolOf(t *testing.T, path string) *x509.CertPool {
	t.Helper()
	b, err := os.ReadFile(path)
	require.NoError(t, err)
	pool := x509.NewCertPool()
	require.True(t, pool.AppendCertsFromPEM(b))
	return pool
}

func TestStartTLS(t *testing.T) {
	ts := StartTLSForTest(t)
	ctx := context.Background()

	// The files: a server certificate for the IP 127.0.0.1 that the CA
	// verifies and the other CA does not.
	cert := readCert(t, ts.CertFile)
	require.Len(t, cert.IPAddresses, 1)
	assert.True(t, cert.IPAddresses[0].Equal(net.IPv4(127, 0, 0, 1)))
	opts := x509.VerifyOptions{DNSName: "127.0.0.1", KeyUsages: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth}}
	opts.Roots = poolOf(t, ts.CAFile)
	_, err := cert.Verify(opts)
	assert.NoError(t, err, "the CA verifies the server")
	opts.Roots = poolOf(t, ts.OtherCAFile)
	_, err = cert.Verify(opts)
	assert.Error(t, err, "the other CA does not")
	assert.True(t, readCert(t, ts.OtherCAFile).IsCA)
	_, err = os.Stat(ts.KeyFile)
	require.NoError(t, err)

	client := func(conf *tls.Config) *redis.Client {
		return redis.NewClient(&redis.Options{Addr: ts.Addr, TLSConfig: conf, MaxRetries: -1,
			DialerRetries: 1, DialTimeout: 2 * time.Second, ReadTimeout: 2 * time.Second})
	}

	// A client that trusts the CA is served.
	good := client(ts.TLSConfig())
	defer good.Close()
	require.NoError(t, good.Set(ctx, "k", "v", 0).Err())

	// One that trusts only the other CA refuses the server.
	bad := client(&tls.Config{RootCAs: poolOf(t, ts.OtherCAFile), ServerName: "127.0.0.1"})
	defer bad.Close()
	err = bad.Ping(ctx).Err()
	var unknown x509.UnknownAuthorityError
	assert.True(t, errors.As(err, &unknown), "want an unknown-authority error, got %v", err)

	// Plain TCP is not served at all.
	plain := client(nil)
	defer plain.Close()
	assert.Error(t, plain.Ping(ctx).Err())

	// A restart keeps TLS, the address and the certificate.
	require.NoError(t, ts.Restart())
	eventually(t, 5*time.Second, "GET over TLS after a restart", func(ctx context.Context) error {
		err := good.Get(ctx, "k").Err()
		if errors.Is(err, redis.Nil) {
			return nil
		}
		if err == nil {
			return errors.New("the key survived the crash")
		}
		return err
	})
}

package engine_test

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"math/big"
	"net"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"go.temporal.io/api/workflowservice/v1"
	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/peer"

	"github.com/elega/impagos/internal/engine"
)

// These tests need no Temporal server: Dial talks to a stand-in frontend that
// speaks TLS with a certificate made for the test and records what the client
// presents. They prove that the standard variables alone give a client that
// Temporal Cloud or a TLS-protected cluster accepts.

// frontend stands in for a Temporal frontend behind TLS.
type frontend struct {
	workflowservice.UnimplementedWorkflowServiceServer
	addr string

	mu    sync.Mutex
	calls []presented
}

// presented is what one call of the client showed the server.
type presented struct {
	method        string
	authorization string
	namespace     string
	clientCert    string // common name of the client certificate, if any
}

func (f *frontend) GetSystemInfo(context.Context, *workflowservice.GetSystemInfoRequest) (*workflowservice.GetSystemInfoResponse, error) {
	return &workflowservice.GetSystemInfoResponse{ServerVersion: "1.29.1"}, nil
}

func (f *frontend) record(ctx context.Context, req any, info *grpc.UnaryServerInfo, next grpc.UnaryHandler) (any, error) {
	md, _ := metadata.FromIncomingContext(ctx)
	c := presented{method: info.FullMethod, authorization: first(md["authorization"]), namespace: first(md["temporal-namespace"])}
	if p, ok := peer.FromContext(ctx); ok {
		if ti, ok := p.AuthInfo.(credentials.TLSInfo); ok && len(ti.State.PeerCertificates) > 0 {
			c.clientCert = ti.State.PeerCertificates[0].Subject.CommonName
		}
	}
	f.mu.Lock()
	f.calls = append(f.calls, c)
	f.mu.Unlock()
	return next(ctx, req)
}

func (f *frontend) seen() []presented {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]presented(nil), f.calls...)
}

func first(v []string) string {
	if len(v) == 0 {
		return ""
	}
	return v[0]
}

// startFrontend serves TLS only, with the server certificate of pki; with
// clientCA, it also requires a client certificate signed by it.
func startFrontend(t *testing.T, pki testPKI, clientCA bool) *frontend {
	t.Helper()
	conf := &tls.Config{Certificates: []tls.Certificate{pki.server}, MinVersion: tls.VersionTLS12}
	if clientCA {
		conf.ClientAuth = tls.RequireAndVerifyClientCert
		conf.ClientCAs = pki.pool
	}
	f := &frontend{}
	srv := grpc.NewServer(grpc.Creds(credentials.NewTLS(conf)), grpc.UnaryInterceptor(f.record))
	workflowservice.RegisterWorkflowServiceServer(srv, f)
	lis, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	f.addr = lis.Addr().String()
	go func() { _ = srv.Serve(lis) }()
	t.Cleanup(srv.Stop)
	return f
}

// testPKI is a throwaway certificate authority with a server certificate for
// 127.0.0.1 and a client certificate, all written as PEM files.
type testPKI struct {
	pool                      *x509.CertPool
	server                    tls.Certificate
	caFile, certFile, keyFile string // the CA, and the client's certificate and key
}

func newPKI(t *testing.T) testPKI {
	t.Helper()
	dir := t.TempDir()
	caKey := newKey(t)
	caTmpl := &x509.Certificate{
		SerialNumber:          big.NewInt(1),
		Subject:               pkix.Name{CommonName: "impagos test CA"},
		NotBefore:             time.Now().Add(-time.Hour),
		NotAfter:              time.Now().Add(time.Hour),
		IsCA:                  true,
		BasicConstraintsValid: true,
		KeyUsage:              x509.KeyUsageCertSign,
	}
	caDER, err := x509.CreateCertificate(rand.Reader, caTmpl, caTmpl, &caKey.PublicKey, caKey)
	if err != nil {
		t.Fatal(err)
	}
	ca, err := x509.ParseCertificate(caDER)
	if err != nil {
		t.Fatal(err)
	}
	issue := func(serial int64, cn string, usage x509.ExtKeyUsage, ips ...net.IP) ([]byte, *ecdsa.PrivateKey) {
		key := newKey(t)
		der, err := x509.CreateCertificate(rand.Reader, &x509.Certificate{
			SerialNumber: big.NewInt(serial),
			Subject:      pkix.Name{CommonName: cn},
			NotBefore:    time.Now().Add(-time.Hour),
			NotAfter:     time.Now().Add(time.Hour),
			KeyUsage:     x509.KeyUsageDigitalSignature,
			ExtKeyUsage:  []x509.ExtKeyUsage{usage},
			IPAddresses:  ips,
		}, ca, &key.PublicKey, caKey)
		if err != nil {
			t.Fatal(err)
		}
		return der, key
	}
	serverDER, serverKey := issue(2, "frontend", x509.ExtKeyUsageServerAuth, net.ParseIP("127.0.0.1"))
	clientDER, clientKey := issue(3, "impagos-worker", x509.ExtKeyUsageClientAuth)

	p := testPKI{
		pool:     x509.NewCertPool(),
		server:   tls.Certificate{Certificate: [][]byte{serverDER}, PrivateKey: serverKey},
		caFile:   writePEM(t, dir, "ca.pem", "CERTIFICATE", caDER),
		certFile: writePEM(t, dir, "client.pem", "CERTIFICATE", clientDER),
		keyFile:  writePEM(t, dir, "client.key", "PRIVATE KEY", marshalKey(t, clientKey)),
	}
	p.pool.AddCert(ca)
	return p
}

func newKey(t *testing.T) *ecdsa.PrivateKey {
	t.Helper()
	k, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	return k
}

func marshalKey(t *testing.T, k *ecdsa.PrivateKey) []byte {
	t.Helper()
	der, err := x509.MarshalPKCS8PrivateKey(k)
	if err != nil {
		t.Fatal(err)
	}
	return der
}

func writePEM(t *testing.T, dir, name, kind string, der []byte) string {
	t.Helper()
	path := filepath.Join(dir, name)
	if err := os.WriteFile(path, pem.EncodeToMemory(&pem.Block{Type: kind, Bytes: der}), 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

// temporalEnv leaves only the given Temporal variables set (and no payload
// key), so neither the machine's environment nor its Temporal CLI profile
// leaks into the test.
func temporalEnv(t *testing.T, vars map[string]string) {
	t.Helper()
	for _, kv := range os.Environ() {
		k, _, _ := strings.Cut(kv, "=")
		if strings.HasPrefix(k, "TEMPORAL_") || strings.HasPrefix(k, "IMPAGOS_PAYLOAD_") {
			t.Setenv(k, "") // restored when the test ends
			if err := os.Unsetenv(k); err != nil {
				t.Fatal(err)
			}
		}
	}
	if _, ok := vars["TEMPORAL_CONFIG_FILE"]; !ok {
		vars["TEMPORAL_CONFIG_FILE"] = filepath.Join(t.TempDir(), "none.toml")
	}
	for k, v := range vars {
		t.Setenv(k, v)
	}
}

// dial connects as the worker does and, once connected, makes one call of a
// namespace (the stand-in answers it "unimplemented"; what matters is what it
// was shown).
func dial(t *testing.T) error {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	c, err := engine.Dial(ctx)
	if err != nil {
		return err
	}
	defer c.Close()
	_, _ = c.DescribeWorkflow(ctx, "impago-F2026-0001", "")
	return nil
}

// checkCalls checks every call the frontend saw; calls of the whole cluster
// (GetSystemInfo) name no namespace.
func checkCalls(t *testing.T, f *frontend, ok func(presented) bool) {
	t.Helper()
	calls := f.seen()
	namespaced := 0
	for _, c := range calls {
		if c.namespace != "" {
			namespaced++
		}
		if !ok(c) {
			t.Errorf("%s presented %+v", c.method, c)
		}
	}
	if namespaced == 0 {
		t.Errorf("no call of a namespace among %+v", calls)
	}
}

func TestDialWithAnAPIKeyUsesTLSAndSendsTheKey(t *testing.T) {
	pki := newPKI(t)
	f := startFrontend(t, pki, false)

	// TEMPORAL_API_KEY alone switches TLS on: the client checks the server's
	// certificate (unknown here) and sends nothing to a server it cannot trust.
	temporalEnv(t, map[string]string{
		"TEMPORAL_ADDRESS":   f.addr,
		"TEMPORAL_NAMESPACE": "impagos-prod.a1b2c",
		"TEMPORAL_API_KEY":   "key-of-the-test",
	})
	err := dial(t)
	if err == nil || !strings.Contains(err.Error(), "failed to verify certificate") {
		t.Fatalf("dial with an API key to a server of an unknown CA: want a certificate error, got %v", err)
	}
	t.Log(err)
	if calls := f.seen(); len(calls) != 0 {
		t.Fatalf("calls reached a server the client could not verify: %+v", calls)
	}

	// With the server's CA the same variables connect, and every call carries
	// the key as a bearer token and the namespace.
	t.Setenv("TEMPORAL_TLS_SERVER_CA_CERT_PATH", pki.caFile)
	if err := dial(t); err != nil {
		t.Fatal(err)
	}
	checkCalls(t, f, func(c presented) bool {
		return c.authorization == "Bearer key-of-the-test" && (c.namespace == "" || c.namespace == "impagos-prod.a1b2c")
	})
}

func TestDialWithAClientCertificatePresentsIt(t *testing.T) {
	pki := newPKI(t)
	f := startFrontend(t, pki, true)
	temporalEnv(t, map[string]string{
		"TEMPORAL_ADDRESS":                 f.addr,
		"TEMPORAL_NAMESPACE":               "impagos-prod",
		"TEMPORAL_TLS_CLIENT_CERT_PATH":    pki.certFile,
		"TEMPORAL_TLS_CLIENT_KEY_PATH":     pki.keyFile,
		"TEMPORAL_TLS_SERVER_CA_CERT_PATH": pki.caFile,
	})
	if err := dial(t); err != nil {
		t.Fatal(err)
	}
	checkCalls(t, f, func(c presented) bool {
		return c.clientCert == "impagos-worker" && c.authorization == "" && (c.namespace == "" || c.namespace == "impagos-prod")
	})

	// A frontend that requires a client certificate refuses a client without one.
	os.Unsetenv("TEMPORAL_TLS_CLIENT_CERT_PATH")
	os.Unsetenv("TEMPORAL_TLS_CLIENT_KEY_PATH")
	if err := dial(t); err == nil {
		t.Fatal("dial without a client certificate succeeded against a frontend that requires one")
	}
}

func TestDialReadsAProfileOfTheConfigFile(t *testing.T) {
	pki := newPKI(t)
	f := startFrontend(t, pki, false)
	profile := filepath.Join(t.TempDir(), "temporal.toml")
	toml := `[profile.prod]
address = "` + f.addr + `"
namespace = "impagos-prod"
api_key = "key-from-the-profile"

[profile.prod.tls]
server_ca_cert_path = "` + filepath.ToSlash(pki.caFile) + `"
`
	if err := os.WriteFile(profile, []byte(toml), 0o600); err != nil {
		t.Fatal(err)
	}
	temporalEnv(t, map[string]string{"TEMPORAL_CONFIG_FILE": profile, "TEMPORAL_PROFILE": "prod"})
	if err := dial(t); err != nil {
		t.Fatal(err)
	}
	checkCalls(t, f, func(c presented) bool {
		return c.authorization == "Bearer key-from-the-profile" && (c.namespace == "" || c.namespace == "impagos-prod")
	})
}

package integration

import (
	"bytes"
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"math/big"
	"net"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/ftpd/ftpd/bench/peers"
	"github.com/ftpd/ftpd/ftpclient"
)

// Interop tests run ftpd against real programs: lftp, curl, Python's
// ftplib, vsftpd, ProFTPD and Pure-FTPd (see /work/shared/PEERS.md and
// bench/peers). Third-party servers listen on peerHost (127.0.0.4);
// clients leave from 127.0.0.10.
const (
	peerHost = "127.0.0.4"
	// interopTimeout bounds every external client run.
	interopTimeout = 60 * time.Second
)

// interopCI reports whether a missing program is a failure (CI=true)
// rather than a reason to skip.
func interopCI() bool { return os.Getenv("CI") == "true" }

// interopUnavailable skips the test, or fails it in CI, because something
// it needs is not installed.
func interopUnavailable(t testing.TB, why error) {
	t.Helper()
	msg := "interop: " + why.Error() + "; " + peers.InstallHint
	if interopCI() {
		t.Fatal(msg + " (CI=true: a missing program is a failure)")
	}
	t.Skip(msg)
}

// interopNeed returns the path of a client program or skips/fails.
func interopNeed(t testing.TB, name string) string {
	t.Helper()
	p, err := peers.Find(name)
	if err != nil {
		interopUnavailable(t, err)
	}
	return p
}

// interopDir is a t.TempDir that other users can search: the third-party
// servers' sessions run as peers.UserName below it, and testing creates
// its directories 0700.
func interopDir(t testing.TB) string {
	t.Helper()
	dir := t.TempDir()
	for _, d := range []string{dir, filepath.Dir(dir)} {
		if err := os.Chmod(d, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	return dir
}

// interopStartPeer starts a third-party server on host and stops it when the test
// ends.
func interopStartPeer(t testing.TB, kind peers.Kind, host string, fxp bool) *peers.Server {
	t.Helper()
	if err := kind.Available(); err != nil {
		interopUnavailable(t, err)
	}
	dir := interopDir(t)
	s, err := peers.Start(peers.Options{Kind: kind, Addr: netip.MustParseAddr(host), Dir: dir, FXP: fxp})
	if err != nil {
		t.Fatalf("start %s: %v", kind, err)
	}
	t.Cleanup(func() {
		if err := s.Stop(); err != nil {
			t.Error(err)
		}
		if t.Failed() {
			t.Logf("%s (%s) config %s, output:\n%s", kind, s.Addr, s.Config, s.Log())
		}
	})
	return s
}

// interopDialPeer logs in to a third-party server from clientIP.
func interopDialPeer(t testing.TB, s *peers.Server, clientIP string) *ftpclient.Conn {
	t.Helper()
	c, err := ftpclient.Dial(context.Background(), s.Addr, ftpclient.Options{
		LocalAddr: netip.MustParseAddr(clientIP), Timeout: 20 * time.Second,
	})
	if err != nil {
		t.Fatalf("%s: %v\n%s", s.Kind, err, s.Log())
	}
	t.Cleanup(func() { c.Close() })
	if err := c.Login(peers.UserName, peers.Password); err != nil {
		t.Fatalf("%s login: %v\n%s", s.Kind, err, s.Log())
	}
	return c
}

// interopCert writes a self-signed ECDSA certificate for the server
// addresses into dir and returns the PEM file names.
func interopCert(t testing.TB, dir string) (certFile, keyFile string) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(time.Now().UnixNano()),
		Subject:      pkix.Name{CommonName: "ftpd interop"},
		NotBefore:    time.Now().Add(-time.Hour),
		NotAfter:     time.Now().Add(24 * time.Hour),
		KeyUsage:     x509.KeyUsageDigitalSignature,
		ExtKeyUsage:  []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
		IPAddresses:  []net.IP{net.ParseIP(hostA), net.ParseIP(hostB)},
		DNSNames:     []string{"localhost"},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	kder, err := x509.MarshalECPrivateKey(key)
	if err != nil {
		t.Fatal(err)
	}
	certFile, keyFile = filepath.Join(dir, "cert.pem"), filepath.Join(dir, "key.pem")
	if err := os.WriteFile(certFile, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(keyFile, pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: kder}), 0o600); err != nil {
		t.Fatal(err)
	}
	return certFile, keyFile
}

// interopTLSTable is a [server.tls] table for mode with a fresh certificate.
func interopTLSTable(t testing.TB, mode string) string {
	t.Helper()
	cert, key := interopCert(t, t.TempDir())
	return "[server.tls]\nmode = \"" + mode + "\"\ncert_file = \"" + cert + "\"\nkey_file = \"" + key + "\"\n"
}

// interopRun runs an external client with a timeout, in its own process
// group (killed by id when the time is up), and returns its combined
// output.
func interopRun(t testing.TB, timeout time.Duration, stdin string, name string, args ...string) (string, error) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	cmd := exec.CommandContext(ctx, name, args...)
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	cmd.Cancel = func() error { return syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL) }
	cmd.WaitDelay = 5 * time.Second
	cmd.Env = append(os.Environ(), "LC_ALL=C", "HOME="+t.TempDir())
	if stdin != "" {
		cmd.Stdin = strings.NewReader(stdin)
	}
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	err := cmd.Run()
	if ctx.Err() != nil {
		return out.String(), ctx.Err()
	}
	return out.String(), err
}

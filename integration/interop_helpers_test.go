package integration

import (
	"bytes"
	"context"
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
	return interopStartPeerWith(t, peers.Options{Kind: kind, Addr: netip.MustParseAddr(host), FXP: fxp})
}

// interopStartPeerWith starts a third-party server with opts (Dir is
// made here) and stops it when the test ends.
func interopStartPeerWith(t testing.TB, opts peers.Options) *peers.Server {
	t.Helper()
	kind := opts.Kind
	if err := kind.Available(); err != nil {
		interopUnavailable(t, err)
	}
	opts.Dir = interopDir(t)
	s, err := peers.Start(opts)
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

// interopCert writes a self-signed certificate for the server addresses
// into dir (see writeTestCert) and returns the PEM file names.
func interopCert(t testing.TB, dir string) (certFile, keyFile string) {
	t.Helper()
	writeTestCert(t, dir)
	return filepath.Join(dir, "cert.pem"), filepath.Join(dir, "key.pem")
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

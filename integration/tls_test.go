package integration

import (
	"bytes"
	"context"
	"crypto/tls"
	"crypto/x509"
	"net"
	"net/netip"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/ftpd/ftpd/ftpclient"
	"github.com/ftpd/ftpd/testcert"
)

// writeTestCert writes a self-signed certificate for the loopback test
// addresses into dir and returns a client TLS config that trusts it.
func writeTestCert(t testing.TB, dir string) *tls.Config {
	t.Helper()
	f, err := testcert.Write(dir, netip.MustParseAddr(hostA), netip.MustParseAddr(hostB))
	if err != nil {
		t.Fatal(err)
	}
	pool := x509.NewCertPool()
	pool.AddCert(f.Leaf)
	return &tls.Config{RootCAs: pool, MinVersion: tls.VersionTLS12}
}

// startTLSServer starts a server whose cert lives in a directory of its
// own, made before the config is loaded (the config names the files).
func startTLSServer(t *testing.T, host, mode string, required bool, extra string) (*instance, *tls.Config) {
	t.Helper()
	certDir := t.TempDir()
	clientCfg := writeTestCert(t, certDir)
	tlsTable := "[server.tls]\nmode = \"" + mode + "\"\ncert_file = \"" + certDir + "/cert.pem\"\nkey_file = \"" + certDir + "/key.pem\"\n"
	if required {
		tlsTable += "required = true\n"
	}
	return startServer(t, host, pairConfig(extra+"\n"+tlsTable, "")), clientCfg
}

func dialTLS(t *testing.T, in *instance, cfg *tls.Config, implicit, clearData bool) *ftpclient.Conn {
	t.Helper()
	host, _, _ := net.SplitHostPort(in.addr)
	cfg = cfg.Clone()
	cfg.ServerName = host // verified against the certificate's IP SANs
	c, err := ftpclient.Dial(context.Background(), in.addr, ftpclient.Options{
		LocalAddr: netip.MustParseAddr(client1), Timeout: 10 * time.Second,
		TLS: cfg, ImplicitTLS: implicit, ClearData: clearData,
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	if err := c.Login("alice", testPass); err != nil {
		t.Fatal(err)
	}
	return c
}

func TestTLSExplicitAndImplicit(t *testing.T) {
	for _, mode := range []string{"explicit", "implicit"} {
		t.Run(mode, func(t *testing.T) {
			a, cfg := startTLSServer(t, hostA, mode, false, "")
			c := dialTLS(t, a, cfg, mode == "implicit", false)
			data := randomBytes(t, 1<<20)
			if _, err := c.Stor("secret.bin", bytes.NewReader(data)); err != nil {
				t.Fatal(err)
			}
			var buf bytes.Buffer
			if _, err := c.Retr("secret.bin", &buf); err != nil || sha(buf.Bytes()) != sha(data) {
				t.Fatalf("PROT P download: %v", err)
			}
			if list, err := c.List("NLST", ""); err != nil || len(list) != 1 {
				t.Fatalf("PROT P listing: %q %v", list, err)
			}
			a.logs.waitFor(t, `"msg":"login ok"`, `"tls":true`)
		})
	}
}

func TestTLSRequired(t *testing.T) {
	a, cfg := startTLSServer(t, hostA, "explicit", true, "")
	plain := a.dial(client1, "", "")
	msg, err := plain.Expect(530, "USER alice")
	if err != nil || !strings.Contains(msg, "TLS is required") {
		t.Fatalf("plain USER: %q %v", msg, err)
	}
	dialTLS(t, a, cfg, false, false)
	a.logs.waitFor(t, `"msg":"login refused"`, `"reason":"tls_required"`)
}

func TestTLSCommandGuards(t *testing.T) {
	off := startServer(t, hostA, basicConfig("", ""))
	c := off.dial(client1, "alice", testPass)
	if msg, err := c.Expect(503, "PROT P"); err != nil || !strings.Contains(msg, "AUTH TLS first") {
		t.Fatalf("PROT P without TLS: %q %v", msg, err)
	}
	c2 := off.dial(client1, "", "")
	if _, err := c2.Expect(502, "AUTH TLS"); err != nil {
		t.Fatalf("AUTH TLS with TLS off: %v", err)
	}
	if _, err := c2.Expect(331, "USER alice"); err != nil {
		t.Fatal(err) // the connection is still usable in clear
	}
	on, _ := startTLSServer(t, hostB, "explicit", false, "")
	c3 := on.dial(client1, "", "")
	if _, err := c3.Expect(504, "AUTH KERBEROS"); err != nil {
		t.Fatalf("AUTH with an unknown mechanism: %v", err)
	}
	if msg, err := c3.Expect(211, "FEAT"); err != nil || !strings.Contains(msg, "AUTH TLS") {
		t.Fatalf("FEAT: %q %v", msg, err)
	}
}

// TestFXPWithTLSControl: FXP between two servers with encrypted control
// connections and clear data (PROT C) works (protected data: securefxp_test).
func TestFXPWithTLSControl(t *testing.T) {
	a, cfgA := startTLSServer(t, hostA, "explicit", true, fxpOn)
	b, cfgB := startTLSServer(t, hostB, "explicit", true, fxpOn)
	data := randomBytes(t, 2<<20)
	writeFile(t, filepath.Join(a.root("alice"), "src.bin"), data)
	ca := dialTLS(t, a, cfgA, false, true)
	cb := dialTLS(t, b, cfgB, false, true)
	for _, passiveSrc := range []bool{true, false} {
		if r := fxpCopy(t, ca, cb, "src.bin", "dst.bin", passiveSrc, false); !r.ok() {
			t.Fatalf("passiveSrc=%v: %v", passiveSrc, r)
		}
		if fileSHA(t, filepath.Join(b.root("alice"), "dst.bin")) != sha(data) {
			t.Fatal("copy differs")
		}
	}
}

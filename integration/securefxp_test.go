package integration

import (
	"bytes"
	"context"
	"crypto/sha256"
	"crypto/tls"
	"encoding/hex"
	"encoding/pem"
	"fmt"
	"io"
	"net"
	"net/netip"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/ftpd/ftpd/ftpclient"
)

// securePair starts A and B with explicit TLS and FXP between them, and
// logs alice in on both with PROT P.
func securePair(t *testing.T, fxpB string) (a, b *instance, ca, cb *ftpclient.Conn) {
	t.Helper()
	a, cfgA := startTLSServer(t, hostA, "explicit", false, fxpOn)
	b, cfgB := startTLSServer(t, hostB, "explicit", false, fxpB)
	ca = dialTLS(t, a, cfgA, false, false)
	cb = dialTLS(t, b, cfgB, false, false)
	return a, b, ca, cb
}

// sscn sets SSCN on c and checks the reply of the SSCN draft.
func sscn(t *testing.T, c *ftpclient.Conn, on bool) {
	t.Helper()
	arg, want := "OFF", "SSCN:SERVER METHOD"
	if on {
		arg, want = "ON", "SSCN:CLIENT METHOD"
	}
	if msg, err := c.Expect(200, "SSCN %s", arg); err != nil || msg != want {
		t.Fatalf("SSCN %s: %q %v", arg, msg, err)
	}
}

// TestSecureFXP: ftpd <-> ftpd with PROT P on both, the TLS client role
// given to the passive side or to the active side by SSCN ON, or to the
// passive side by CPSV; PASV on either side; both directions.
func TestSecureFXP(t *testing.T) {
	a, b, ca, cb := securePair(t, fxpOn)
	data := randomBytes(t, 8<<20)
	writeFile(t, filepath.Join(a.root("alice"), "a.bin"), data)
	writeFile(t, filepath.Join(b.root("alice"), "b.bin"), data)
	for _, method := range []string{"sscn-passive", "sscn-active", "cpsv"} {
		for _, passiveSrc := range []bool{true, false} {
			for _, dir := range []string{"A-to-B", "B-to-A"} {
				name := fmt.Sprintf("%s/passiveSrc=%v/%s", method, passiveSrc, dir)
				t.Run(name, func(t *testing.T) {
					src, dst, srcPath, dstRoot := ca, cb, "a.bin", b.root("alice")
					if dir == "B-to-A" {
						src, dst, srcPath, dstRoot = cb, ca, "b.bin", a.root("alice")
					}
					pasvSide, portSide := dst, src
					if passiveSrc {
						pasvSide, portSide = src, dst
					}
					sscn(t, ca, false)
					sscn(t, cb, false)
					passive := "PASV"
					switch method {
					case "sscn-passive":
						sscn(t, pasvSide, true)
					case "sscn-active":
						sscn(t, portSide, true)
					case "cpsv":
						passive = "CPSV"
					}
					out := "copy-" + strings.NewReplacer("/", "-", "=", "-").Replace(name)
					if r := fxpCopyWith(t, src, dst, srcPath, out, passiveSrc, passive); !r.ok() {
						t.Fatal(r)
					}
					if fileSHA(t, filepath.Join(dstRoot, out)) != sha(data) {
						t.Fatal("copy differs")
					}
				})
			}
		}
	}
}

// relay forwards one TCP connection to target, dialling from 127.0.0.4
// (an allowed peer of both servers), and keeps every byte it forwards.
type relay struct {
	ln       net.Listener
	mu       sync.Mutex
	up, down bytes.Buffer // client->target, target->client
	done     chan struct{}
}

func startRelay(t *testing.T, target netip.AddrPort) *relay {
	t.Helper()
	ln, err := net.Listen("tcp", peerHost+":0")
	if err != nil {
		t.Fatal(err)
	}
	r := &relay{ln: ln, done: make(chan struct{})}
	t.Cleanup(func() { ln.Close() })
	go func() {
		defer close(r.done)
		in, err := ln.Accept()
		if err != nil {
			return
		}
		defer in.Close()
		d := net.Dialer{LocalAddr: &net.TCPAddr{IP: net.ParseIP(peerHost)}, Timeout: 5 * time.Second}
		out, err := d.Dial("tcp", target.String())
		if err != nil {
			return
		}
		defer out.Close()
		var wg sync.WaitGroup
		pipe := func(dst, src net.Conn, keep *bytes.Buffer) {
			defer wg.Done()
			buf := make([]byte, 64<<10)
			for {
				n, err := src.Read(buf)
				if n > 0 {
					r.mu.Lock()
					keep.Write(buf[:n])
					r.mu.Unlock()
					if _, werr := dst.Write(buf[:n]); werr != nil {
						break
					}
				}
				if err != nil {
					break
				}
			}
			if tc, ok := dst.(*net.TCPConn); ok {
				_ = tc.CloseWrite()
			}
		}
		wg.Add(2)
		go pipe(out, in, &r.up)
		go pipe(in, out, &r.down)
		wg.Wait()
	}()
	return r
}

func (r *relay) captured(t *testing.T) (up, down []byte) {
	t.Helper()
	select {
	case <-r.done:
	case <-time.After(20 * time.Second):
		t.Fatal("relay did not finish")
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]byte(nil), r.up.Bytes()...), append([]byte(nil), r.down.Bytes()...)
}

// TestSecureFXPDataIsEncrypted taps the data path between the two servers:
// the client sends the source its own relay's address in PORT. With PROT P
// the tap sees TLS handshake records and never the file's marker; with
// PROT C (the control that the tap works) it sees the marker.
func TestSecureFXPDataIsEncrypted(t *testing.T) {
	a, b, ca, cb := securePair(t, fxpOn)
	marker := []byte("FTPD-SECRET-MARKER-7f3a91")
	data := bytes.Repeat(append(randomBytes(t, 4096), marker...), 64)
	writeFile(t, filepath.Join(a.root("alice"), "secret.bin"), data)
	for _, prot := range []string{"P", "C"} {
		t.Run("PROT "+prot, func(t *testing.T) {
			for _, c := range []*ftpclient.Conn{ca, cb} {
				if _, err := c.Expect(200, "PROT %s", prot); err != nil {
					t.Fatal(err)
				}
			}
			sscn(t, ca, false)
			sscn(t, cb, prot == "P") // B, the passive side, is the TLS client
			pasv, err := cb.Pasv()
			if err != nil {
				t.Fatal(err)
			}
			r := startRelay(t, pasv)
			if err := ca.Port(mustAP(r.ln.Addr().String()), false); err != nil {
				t.Fatal(err)
			}
			out := "secret-" + prot + ".bin"
			if err := cb.Send("STOR %s", out); err != nil {
				t.Fatal(err)
			}
			if err := ca.Send("RETR secret.bin"); err != nil {
				t.Fatal(err)
			}
			for _, c := range []*ftpclient.Conn{ca, cb} {
				if code, msg, err := finalReply(c); err != nil || code != 226 {
					t.Fatalf("final reply %d %s %v", code, msg, err)
				}
			}
			if fileSHA(t, filepath.Join(b.root("alice"), out)) != sha(data) {
				t.Fatal("copy differs")
			}
			up, down := r.captured(t)
			sawMarker := bytes.Contains(up, marker) || bytes.Contains(down, marker)
			if prot == "C" {
				if !sawMarker {
					t.Fatalf("the tap missed clear data (%d bytes seen): it proves nothing", len(up))
				}
				return
			}
			if sawMarker {
				t.Fatal("the file's marker crossed the data path in clear under PROT P")
			}
			// B (TLS client) speaks first: a handshake record (0x16), TLS
			// 1.2+ (0x03 0x01..0x03 in the record version).
			if len(down) < 3 || down[0] != 0x16 || len(up) < 3 || up[0] != 0x16 {
				t.Fatalf("no TLS handshake records on the data path: up %x..., down %x...", head(up), head(down))
			}
			if len(up) < len(data) {
				t.Fatalf("tap saw %d bytes from the source, file is %d", len(up), len(data))
			}
		})
	}
}

func head(b []byte) []byte {
	if len(b) > 8 {
		return b[:8]
	}
	return b
}

// TestSecureFXPBothTLSServers: PROT P on both servers and no SSCN/CPSV
// would make both TLS servers; the copy fails within seconds with a reply
// that says so, never hangs, and the destination file is unchanged.
func TestSecureFXPBothTLSServers(t *testing.T) {
	a, b, ca, cb := securePair(t, fxpOn)
	writeFile(t, filepath.Join(a.root("alice"), "a.bin"), randomBytes(t, 1<<20))
	old := []byte("destination before the refused copy")
	writeFile(t, filepath.Join(b.root("alice"), "dst.bin"), old)
	for _, passiveSrc := range []bool{true, false} {
		start := time.Now()
		r := fxpCopy(t, ca, cb, "a.bin", "dst.bin", passiveSrc, false)
		if r.ok() {
			t.Fatal("both TLS servers, yet the copy succeeded")
		}
		// The reply text below proves the refusal came from the check,
		// not a timeout; this bound only catches a hang (a loaded machine
		// needs a few seconds for the TLS handshakes under -race).
		if d := time.Since(start); d > 60*time.Second {
			t.Fatalf("passiveSrc=%v: failed only after %v", passiveSrc, d)
		}
		if !strings.Contains(r.srcMsg+r.dstMsg, "both sides are TLS servers; use SSCN ON or CPSV on one of them") {
			t.Fatalf("passiveSrc=%v: reply does not say why: %v", passiveSrc, r)
		}
		if got, _ := os.ReadFile(filepath.Join(b.root("alice"), "dst.bin")); !bytes.Equal(got, old) {
			t.Fatalf("destination changed (%d bytes)", len(got))
		}
	}
	b.logs.waitFor(t, `"reason":"tls_handshake"`)
}

// certFingerprint is the SHA-256 of the first certificate in a PEM file.
func certFingerprint(t *testing.T, path string) string {
	t.Helper()
	raw, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	blk, _ := pem.Decode(raw)
	if blk == nil {
		t.Fatalf("%s: no PEM", path)
	}
	sum := sha256.Sum256(blk.Bytes)
	return hex.EncodeToString(sum[:])
}

// TestSecureFXPPeerFingerprint: B, as TLS client (SSCN ON), accepts A's
// certificate only if its SHA-256 is in peer_fingerprints; a wrong one is
// refused before any data, with reason peer_certificate.
func TestSecureFXPPeerFingerprint(t *testing.T) {
	other := t.TempDir()
	writeTestCert(t, other) // a second certificate, not A's
	wrong := certFingerprint(t, filepath.Join(other, "cert.pem"))
	a, b, ca, cb := securePair(t, fxpOn+"peer_fingerprints = [\""+wrong+"\"]\n")
	data := randomBytes(t, 1<<20)
	writeFile(t, filepath.Join(a.root("alice"), "a.bin"), data)
	old := []byte("kept")
	writeFile(t, filepath.Join(b.root("alice"), "dst.bin"), old)
	sscn(t, cb, true)
	r := fxpCopy(t, ca, cb, "a.bin", "dst.bin", false, false)
	if r.ok() || !strings.Contains(r.dstMsg, "is not in peer_fingerprints") {
		t.Fatalf("wrong fingerprint: %v", r)
	}
	if got, _ := os.ReadFile(filepath.Join(b.root("alice"), "dst.bin")); !bytes.Equal(got, old) {
		t.Fatal("destination changed")
	}
	b.logs.waitFor(t, `"reason":"peer_certificate"`)
	// The right fingerprint (A's own certificate), after a reload.
	right := certFingerprint(t, a.cfg.Server.TLS.CertFile)
	b.editConfig(t, replaceOnce(t, wrong, "SHA256:"+strings.ToUpper(right)))
	if r := fxpCopy(t, ca, cb, "a.bin", "dst.bin", false, false); !r.ok() {
		t.Fatalf("right fingerprint: %v", r)
	}
	if fileSHA(t, filepath.Join(b.root("alice"), "dst.bin")) != sha(data) {
		t.Fatal("copy differs")
	}
}

// TestSSCNAndFEAT: FEAT lists SSCN and CPSV only when TLS is configured;
// SSCN, CPSV and PROT before AUTH TLS answer 503; SSCN without an argument
// reports the mode.
func TestSSCNAndFEAT(t *testing.T) {
	plain := startServer(t, hostA, basicConfig("", ""))
	c := plain.dial(client1, "alice", testPass)
	if msg, err := c.Expect(211, "FEAT"); err != nil || strings.Contains(msg, "SSCN") {
		t.Fatalf("FEAT without TLS: %q %v", msg, err)
	}
	tlsSrv, cfg := startTLSServer(t, hostB, "explicit", false, "")
	clear := tlsSrv.dial(client1, "alice", testPass)
	if msg, err := clear.Expect(211, "FEAT"); err != nil || !strings.Contains(msg, " SSCN") || !strings.Contains(msg, " CPSV") {
		t.Fatalf("FEAT with TLS: %q %v", msg, err)
	}
	for _, cmd := range []string{"SSCN ON", "SSCN", "CPSV", "PROT P"} {
		if msg, err := clear.Expect(503, "%s", cmd); err != nil || !strings.Contains(msg, "AUTH TLS") {
			t.Fatalf("%s before AUTH TLS: %q %v", cmd, msg, err)
		}
	}
	sec := dialTLS(t, tlsSrv, cfg, false, false)
	if msg, err := sec.Expect(200, "SSCN"); err != nil || msg != "SSCN:SERVER METHOD" {
		t.Fatalf("SSCN: %q %v", msg, err)
	}
	sscn(t, sec, true)
	if msg, err := sec.Expect(200, "SSCN"); err != nil || msg != "SSCN:CLIENT METHOD" {
		t.Fatalf("SSCN after ON: %q %v", msg, err)
	}
	if _, err := sec.Expect(501, "SSCN MAYBE"); err != nil {
		t.Fatal(err)
	}
}

// TestDataSessionReuse: with require_data_session_reuse (the default), a
// PROT P data connection from the client must resume the client's control
// session: a fresh TLS session, or one resumed from another client's
// control connection, is refused; the client's own resumed session works.
func TestDataSessionReuse(t *testing.T) {
	a, cfg := startTLSServer(t, hostA, "explicit", false, "")
	writeFile(t, filepath.Join(a.root("alice"), "f.bin"), []byte("protected"))
	victim := dialTLS(t, a, cfg, false, false)
	// Another client of the same server, whose session tickets land in a
	// cache the test holds: a valid session of this server, not the
	// victim's.
	attackerCfg := cfg.Clone()
	attackerCfg.ServerName, attackerCfg.ClientSessionCache = hostA, tls.NewLRUClientSessionCache(4)
	attacker, err := ftpclient.Dial(context.Background(), a.addr, ftpclient.Options{
		LocalAddr: netip.MustParseAddr(client2), Timeout: 10 * time.Second, TLS: attackerCfg,
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { attacker.Close() })
	if err := attacker.Login("alice", testPass); err != nil {
		t.Fatal(err)
	}
	if _, err := attacker.Expect(200, "NOOP"); err != nil { // reads the tickets
		t.Fatal(err)
	}
	fresh := cfg.Clone()
	fresh.ServerName = hostA
	for _, at := range []struct {
		name string
		tls  *tls.Config
	}{{"a fresh TLS session", fresh}, {"another client's session", attackerCfg}} {
		addr, err := victim.Pasv()
		if err != nil {
			t.Fatal(err)
		}
		if err := victim.Send("RETR f.bin"); err != nil {
			t.Fatal(err)
		}
		got, code, msg := grabTLSData(t, victim, client1, addr, at.tls)
		if len(got) > 0 || code == 226 {
			t.Fatalf("%s: got %q, reply %d %s", at.name, got, code, msg)
		}
		if !strings.Contains(msg, "does not resume the control connection's session") {
			t.Fatalf("%s: refusal does not say why: %d %s", at.name, code, msg)
		}
	}
	// The victim's own client (its session cache) still works.
	var buf bytes.Buffer
	if _, err := victim.Retr("f.bin", &buf); err != nil || buf.String() != "protected" {
		t.Fatalf("own resumed session: %q %v", buf.String(), err)
	}
}

// TestFXPCmdSecure: fxp copy --secure between two ftpd: PROT P on both,
// SSCN ON on the chosen side (or CPSV), PASV on either side; the start and
// done events say secure=true and both servers log the copy as TLS, with
// the roles --sscn asked for. Without ftps:// URLs --secure is a usage
// error.
func TestFXPCmdSecure(t *testing.T) {
	a, _ := startTLSServer(t, hostA, "explicit", false, fxpOn)
	b, _ := startTLSServer(t, hostB, "explicit", false, fxpOn)
	data := randomBytes(t, 4<<20)
	writeFile(t, filepath.Join(a.root("alice"), "f.bin"), data)
	url := func(in *instance, p string) string { return "ftps://alice:" + testPass + "@" + in.addr + "/" + p }
	for _, tc := range []struct {
		passive, sscn string
		clientOnA     bool // A (the source) is the TLS client
	}{
		{"dst", "passive", false}, {"src", "passive", true},
		{"dst", "active", true}, {"src", "active", false},
		{"dst", "src", true}, {"src", "dst", false},
	} {
		name := "passive-" + tc.passive + "/sscn-" + tc.sscn
		t.Run(name, func(t *testing.T) {
			out := "s-" + tc.passive + "-" + tc.sscn + ".bin"
			stdout, errOut, code := fxpRun(t, nil, "copy", "--secure", "--sscn", tc.sscn, "--insecure", "--json",
				"--passive", tc.passive, "--bind", client1, url(a, "f.bin"), url(b, out))
			if code != 0 {
				t.Fatalf("exit %d\n%s\n%s", code, stdout, errOut)
			}
			if fileSHA(t, filepath.Join(b.root("alice"), out)) != sha(data) {
				t.Fatal("copy differs")
			}
			for _, kind := range []string{`"event":"start"`, `"event":"done"`} {
				found := false
				for _, line := range strings.Split(stdout, "\n") {
					if strings.Contains(line, kind) && strings.Contains(line, `"secure":true`) {
						found = true
					}
				}
				if !found {
					t.Fatalf("no %s event with secure=true:\n%s", kind, stdout)
				}
			}
			roleA, roleB := "server", "client"
			if tc.clientOnA {
				roleA, roleB = "client", "server"
			}
			a.logs.waitFor(t, `"msg":"transfer"`, `"command":"RETR"`, `"foreign":true`, `"tls":"`+roleA+`"`)
			b.logs.waitFor(t, `"msg":"transfer"`, `"path":"/.fxp-`+out+`.`, `"foreign":true`, `"tls":"`+roleB+`"`) // fxp's temporary file
		})
	}
	// --secure needs TLS on both servers.
	_, errOut, code := fxpRun(t, nil, "copy", "--secure", "--bind", client1, fxpURL(a, "f.bin"), url(b, "x.bin"))
	if code != 2 || !strings.Contains(errOut, "--secure needs TLS on both servers") {
		t.Fatalf("--secure with ftp://: exit %d\n%s", code, errOut)
	}
}

// TestProtBeforeLogin: clients such as FileZilla send PBSZ/PROT right
// after AUTH TLS, before USER. ftpd answers PROT itself then too (the
// library must never act on it: it would wrap data connections a second
// time), and FEAT before login lists SSCN/CPSV.
func TestProtBeforeLogin(t *testing.T) {
	a, cfg := startTLSServer(t, hostA, "explicit", false, "")
	writeFile(t, filepath.Join(a.root("alice"), "f.bin"), []byte("protected before login"))
	cfg = cfg.Clone()
	cfg.ServerName = hostA
	c, err := ftpclient.Dial(context.Background(), a.addr, ftpclient.Options{
		LocalAddr: netip.MustParseAddr(client1), Timeout: 10 * time.Second, TLS: cfg,
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	if msg, err := c.Expect(211, "FEAT"); err != nil || !strings.Contains(msg, " SSCN") {
		t.Fatalf("FEAT before login: %q %v", msg, err)
	}
	if _, err := c.Expect(200, "PBSZ 0"); err != nil {
		t.Fatal(err)
	}
	if msg, err := c.Expect(200, "PROT P"); err != nil || !strings.Contains(msg, "protected by TLS") {
		t.Fatalf("PROT P before login: %q %v", msg, err)
	}
	if msg, err := c.Expect(200, "SSCN"); err != nil || msg != "SSCN:SERVER METHOD" {
		t.Fatalf("SSCN before login: %q %v", msg, err)
	}
	if err := c.Login("alice", testPass); err != nil {
		t.Fatal(err)
	}
	var buf bytes.Buffer
	if _, err := c.Retr("f.bin", &buf); err != nil || buf.String() != "protected before login" {
		t.Fatalf("RETR: %q %v", buf.String(), err)
	}
	a.logs.waitFor(t, `"msg":"transfer"`, `"tls":"server"`)
	// Before AUTH TLS, PROT P is refused, also before login.
	plain := a.dial(client1, "", "")
	if msg, err := plain.Expect(503, "PROT P"); err != nil || !strings.Contains(msg, "AUTH TLS") {
		t.Fatalf("PROT P in clear before login: %q %v", msg, err)
	}
}

// TestSecureFXPPeerCA: B, as TLS client (SSCN ON), accepts A only if A's
// certificate chains to peer_ca; a CA that did not issue it is refused
// before any data (peer_certificate). A server with FXP on and TLS but
// neither peer_ca nor peer_fingerprints warns at start that it accepts any
// peer certificate. The FXP policy is decided before TLS: with FXP off,
// the refusal is the policy's, not a handshake failure.
func TestSecureFXPPeerCA(t *testing.T) {
	other := t.TempDir()
	writeTestCert(t, other) // a CA (self-signed) that did not issue A's certificate
	a, b, ca, cb := securePair(t, fxpOn+"peer_ca = \""+filepath.Join(other, "cert.pem")+"\"\n")
	a.logs.waitFor(t, `accepts any peer certificate`) // A: neither peer_ca nor fingerprints
	if strings.Contains(b.logs.String(), "accepts any peer certificate") {
		t.Fatal("B has peer_ca, yet warns that it accepts any certificate")
	}
	data := randomBytes(t, 1<<20)
	writeFile(t, filepath.Join(a.root("alice"), "a.bin"), data)
	sscn(t, cb, true)
	r := fxpCopy(t, ca, cb, "a.bin", "dst.bin", false, false)
	if r.ok() || !strings.Contains(r.dstMsg, "does not chain to peer_ca") {
		t.Fatalf("certificate from another CA: %v", r)
	}
	b.logs.waitFor(t, `"reason":"peer_certificate"`)
	// peer_ca = A's own (self-signed) certificate: accepted.
	b.editConfig(t, replaceOnce(t, filepath.Join(other, "cert.pem"), a.cfg.Server.TLS.CertFile))
	if r := fxpCopy(t, ca, cb, "a.bin", "dst.bin", false, false); !r.ok() {
		t.Fatalf("certificate chaining to peer_ca: %v", r)
	}
	if fileSHA(t, filepath.Join(b.root("alice"), "dst.bin")) != sha(data) {
		t.Fatal("copy differs")
	}

	// FXP off on C: PROT P and SSCN ON do not matter, the policy refuses.
	c, cfgC := startTLSServer(t, hostB, "explicit", false, "")
	cc := dialTLS(t, c, cfgC, false, false)
	sscn(t, cc, true)
	r = fxpCopy(t, ca, cc, "a.bin", "dst.bin", false, false)
	if r.ok() || !strings.Contains(r.dstMsg, "FXP is disabled on this server") {
		t.Fatalf("FXP off: %v", r)
	}
	if strings.Contains(c.logs.String(), `"reason":"tls_handshake"`) {
		t.Fatal("a handshake was tried before the policy refused")
	}
}

// TestImplicitDataProtectedByDefault: with implicit FTPS, data is
// protected without PROT P (RFC 4217 12.1); PROT C turns it off.
func TestImplicitDataProtectedByDefault(t *testing.T) {
	a, cfg := startTLSServer(t, hostA, "implicit", false, "")
	writeFile(t, filepath.Join(a.root("alice"), "f.bin"), []byte("implicitly protected"))
	cfg = cfg.Clone()
	cfg.ServerName, cfg.ClientSessionCache = hostA, tls.NewLRUClientSessionCache(4)
	c, err := ftpclient.Dial(context.Background(), a.addr, ftpclient.Options{
		LocalAddr: netip.MustParseAddr(client1), Timeout: 10 * time.Second, TLS: cfg, ImplicitTLS: true,
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	if _, err := c.Expect(331, "USER alice"); err != nil {
		t.Fatal(err)
	}
	if _, err := c.Expect(230, "PASS %s", testPass); err != nil {
		t.Fatal(err)
	}
	retr := func(protected bool) string {
		addr, err := c.Pasv()
		if err != nil {
			t.Fatal(err)
		}
		if err := c.Send("RETR f.bin"); err != nil {
			t.Fatal(err)
		}
		var data net.Conn = rawDial(t, client1, addr.String())
		if protected {
			data = tls.Client(data, cfg)
		}
		_ = data.SetDeadline(time.Now().Add(5 * time.Second))
		got, _ := io.ReadAll(data)
		if code, msg, err := finalReply(c); err != nil || code != 226 {
			t.Fatalf("protected=%v: %d %s %v", protected, code, msg, err)
		}
		return string(got)
	}
	if got := retr(true); got != "implicitly protected" {
		t.Fatalf("TLS data without PROT: %q", got)
	}
	if _, err := c.Expect(200, "PBSZ 0"); err != nil {
		t.Fatal(err)
	}
	if _, err := c.Expect(200, "PROT C"); err != nil {
		t.Fatal(err)
	}
	if got := retr(false); got != "implicitly protected" {
		t.Fatalf("clear data after PROT C: %q", got)
	}
	a.logs.waitFor(t, `"msg":"transfer"`, `"tls":""`)
}

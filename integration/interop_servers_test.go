package integration

import (
	"context"
	"crypto/tls"
	"fmt"
	"net/netip"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/ftpd/ftpd/bench/peers"
	"github.com/ftpd/ftpd/ftpclient"
)

// TestInteropServerFXP pairs ftpd with vsftpd, ProFTPD and Pure-FTPd (FXP
// switched on in each) and copies a file both ways, with PASV on either
// side. ftpd's peers list names the third-party server's exact address,
// from which it dials (Pure-FTPd from port 20).
func TestInteropServerFXP(t *testing.T) {
	data := randomBytes(t, 4<<20)
	for _, kind := range peers.Kinds {
		t.Run(string(kind), func(t *testing.T) {
			peer := interopStartPeer(t, kind, peerHost, true)
			a := startServer(t, hostA, pairConfig(fxpOn, ""))
			writeFile(t, filepath.Join(a.root("alice"), "from-ftpd.bin"), data)
			if err := peer.WriteFile("from-peer.bin", data); err != nil {
				t.Fatal(err)
			}
			ca := a.dial(client1, "alice", testPass)
			cp := interopDialPeer(t, peer, client1)
			for _, tc := range []struct {
				name       string
				toPeer     bool // ftpd is the source
				passiveSrc bool
			}{
				{"ftpd-to-peer/pasv-on-ftpd", true, true},
				{"ftpd-to-peer/pasv-on-peer", true, false},
				{"peer-to-ftpd/pasv-on-peer", false, true},
				{"peer-to-ftpd/pasv-on-ftpd", false, false},
			} {
				t.Run(tc.name, func(t *testing.T) {
					var src, dst *ftpclient.Conn
					var srcName, dstName, dstPath string
					if tc.toPeer {
						src, dst, srcName = ca, cp, "from-ftpd.bin"
						dstName = "got-" + filepath.Base(t.Name())
						dstPath = filepath.Join(peer.Root, dstName)
					} else {
						src, dst, srcName = cp, ca, "from-peer.bin"
						dstName = "got-" + filepath.Base(t.Name())
						dstPath = filepath.Join(a.root("alice"), dstName)
					}
					r := fxpCopy(t, src, dst, srcName, dstName, tc.passiveSrc, false)
					if !r.ok() {
						t.Fatalf("%s: %v", kind, r)
					}
					if got := fileSHA(t, dstPath); got != sha(data) {
						t.Fatalf("%s: destination sha256 %s, want %s", kind, got, sha(data))
					}
					_ = os.Remove(dstPath)
					if kind == peers.PureFTPd && tc.passiveSrc == tc.toPeer {
						// PASV on ftpd: Pure-FTPd dials it from port 20,
						// and ftpd must accept that source port.
						a.logs.waitFor(t, `"msg":"transfer"`, `"peer":"`+peerHost+`:20"`, `"foreign":true`)
					}
				})
			}
		})
	}
}

// TestInteropServerRefusals checks what each third-party server answers
// when FXP is off there (the table in PEERS.md): PORT to a foreign IP (the
// address ftpd announced in PASV) is refused at PORT time.
func TestInteropServerRefusals(t *testing.T) {
	for _, tc := range []struct {
		kind peers.Kind
		code int
		text string
	}{
		{peers.Vsftpd, 500, "Illegal PORT command"},
		{peers.ProFTPD, 500, "Illegal PORT command"},
		{peers.PureFTPd, 500, "I won't open a connection to " + hostA + " (only to " + client1 + ")"},
	} {
		t.Run(string(tc.kind), func(t *testing.T) {
			peer := interopStartPeer(t, tc.kind, peerHost, false)
			a := startServer(t, hostA, pairConfig(fxpOn, ""))
			ca := a.dial(client1, "alice", testPass)
			cp := interopDialPeer(t, peer, client1)
			addr, err := ca.Pasv()
			if err != nil {
				t.Fatal(err)
			}
			expectCode(t, cp.Port(addr, false), tc.code, tc.text)
		})
	}
}

// TestInteropProFTPDSecureFXP: protected FXP (PROT P on both) between ftpd
// and ProFTPD 1.3.8 (mod_tls, TLS 1.2), both directions, PASV on either
// side, with SSCN ON on ProFTPD (it is the TLS client) or on ftpd. ProFTPD
// answers SSCN but not CPSV.
func TestInteropProFTPDSecureFXP(t *testing.T) {
	cert, key := interopCert(t, t.TempDir())
	peer := interopStartPeerWith(t, peers.Options{Kind: peers.ProFTPD, Addr: netip.MustParseAddr(peerHost), FXP: true, TLSCert: cert, TLSKey: key})
	a, cfgA := startTLSServer(t, hostA, "explicit", false, fxpOn)
	data := randomBytes(t, 4<<20)
	writeFile(t, filepath.Join(a.root("alice"), "from-ftpd.bin"), data)
	if err := peer.WriteFile("from-peer.bin", data); err != nil {
		t.Fatal(err)
	}
	ca := dialTLS(t, a, cfgA, false, false)
	cp, err := ftpclient.Dial(context.Background(), peer.Addr, ftpclient.Options{
		LocalAddr: netip.MustParseAddr(client1), Timeout: 20 * time.Second,
		TLS: &tls.Config{InsecureSkipVerify: true, MinVersion: tls.VersionTLS12}, // ProFTPD's test certificate names ftpd's addresses
	})
	if err != nil {
		t.Fatalf("ProFTPD: %v\n%s", err, peer.Log())
	}
	t.Cleanup(func() { cp.Close() })
	if err := cp.Login(peers.UserName, peers.Password); err != nil {
		t.Fatalf("ProFTPD login: %v\n%s", err, peer.Log())
	}
	for _, toPeer := range []bool{true, false} {
		for _, passiveSrc := range []bool{true, false} {
			for _, client := range []string{"proftpd", "ftpd"} {
				name := fmt.Sprintf("toPeer=%v/passiveSrc=%v/tls-client=%s", toPeer, passiveSrc, client)
				t.Run(name, func(t *testing.T) {
					src, dst, srcName := ca, cp, "from-ftpd.bin"
					dstName := "got-" + strings.NewReplacer("/", "-", "=", "-").Replace(name)
					dstPath := filepath.Join(peer.Root, dstName)
					if !toPeer {
						src, dst, srcName = cp, ca, "from-peer.bin"
						dstPath = filepath.Join(a.root("alice"), dstName)
					}
					for _, c := range []*ftpclient.Conn{ca, cp} {
						if _, err := c.Expect(200, "SSCN OFF"); err != nil {
							t.Fatal(err)
						}
					}
					on := ca
					if client == "proftpd" {
						on = cp
					}
					if _, err := on.Expect(200, "SSCN ON"); err != nil {
						t.Fatal(err)
					}
					if r := fxpCopy(t, src, dst, srcName, dstName, passiveSrc, false); !r.ok() {
						t.Fatalf("%v\n%s", r, peer.Log())
					}
					if got := fileSHA(t, dstPath); got != sha(data) {
						t.Fatalf("destination sha256 %s, want %s", got, sha(data))
					}
				})
			}
		}
	}
}

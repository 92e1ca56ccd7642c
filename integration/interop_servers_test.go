package integration

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/ftpd/ftpd/bench/peers"
	"github.com/ftpd/ftpd/ftpclient"
)

// TestInteropServerFXP pairs ftpd with vsftpd, ProFTPD and Pure-FTPd (FXP
// switched on in each) and copies a file both ways, with PASV on either
// side. ftpd's peers list is 127.0.0.0/8: the third-party server dials from
// its own address (Pure-FTPd from port 20), ftpd from 127.0.0.1.
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

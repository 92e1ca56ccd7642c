package integration

import (
	"context"
	"net/netip"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/ftpd/ftpd/bench/peers"
	"github.com/ftpd/ftpd/fxp"
)

// TestInteropFxpClient drives copies between ftpd and vsftpd, ProFTPD and
// Pure-FTPd with ftpd's own FXP client (package fxp), both ways, with PASV
// forced on either side, verification on.
func TestInteropFxpClient(t *testing.T) {
	data := randomBytes(t, 4<<20)
	for _, kind := range peers.Kinds {
		t.Run(string(kind), func(t *testing.T) {
			peer := interopStartPeer(t, kind, peerHost, true)
			a := startServer(t, hostA, pairConfig(fxpOn, ""))
			writeFile(t, filepath.Join(a.root("alice"), "from-ftpd.bin"), data)
			if err := peer.WriteFile("from-peer.bin", data); err != nil {
				t.Fatal(err)
			}
			ftpdEP := func(path string) fxp.Endpoint {
				ap := netip.MustParseAddrPort(a.addr)
				return fxp.Endpoint{Host: ap.Addr().String(), Port: ap.Port(), User: "alice", Pass: testPass, Path: path}
			}
			peerEP := func(path string) fxp.Endpoint {
				ap := netip.MustParseAddrPort(peer.Addr)
				return fxp.Endpoint{Host: ap.Addr().String(), Port: ap.Port(), User: peers.UserName, Pass: peers.Password, Path: path}
			}
			for _, tc := range []struct {
				name    string
				toPeer  bool
				passive fxp.Passive
				want    string // Summary.Passive
			}{
				{"ftpd-to-peer/pasv-on-peer", true, fxp.PassiveDst, "destination"},
				{"ftpd-to-peer/pasv-on-ftpd", true, fxp.PassiveSrc, "source"},
				{"peer-to-ftpd/pasv-on-ftpd", false, fxp.PassiveDst, "destination"},
				{"peer-to-ftpd/pasv-on-peer", false, fxp.PassiveSrc, "source"},
			} {
				t.Run(tc.name, func(t *testing.T) {
					name := "fxpclient-" + filepath.Base(t.Name())
					src, dst := ftpdEP("from-ftpd.bin"), peerEP(name)
					dstPath := filepath.Join(peer.Root, name)
					if !tc.toPeer {
						src, dst = peerEP("from-peer.bin"), ftpdEP(name)
						dstPath = filepath.Join(a.root("alice"), name)
					}
					ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
					defer cancel()
					sum, err := fxp.New(fxp.Options{
						Passive: tc.passive, Verify: true,
						Bind: netip.MustParseAddr(client1), Timeout: 15 * time.Second,
					}).Copy(ctx, src, dst)
					if err != nil {
						t.Fatalf("fxp %s: %v", kind, err)
					}
					if sum.Files != 1 || sum.Passive != tc.want {
						t.Fatalf("summary %+v, want 1 file, PASV on the %s", sum, tc.want)
					}
					if got := fileSHA(t, dstPath); got != sha(data) {
						t.Fatalf("destination sha256 %s, want %s", got, sha(data))
					}
					_ = os.Remove(dstPath)
				})
			}
		})
	}
}

package integration

import (
	"fmt"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/ftpd/ftpd/bench/peers"
)

// TestInteropMirrorProFTPD mirrors a tree from ftpd to ProFTPD with the fxp
// binary: the first run copies all, the second nothing (ProFTPD takes
// MFMT and lists modify facts), then one touched, one resized, one new
// and one deleted file are exactly what the third run does.
func TestInteropMirrorProFTPD(t *testing.T) {
	peer := interopStartPeer(t, peers.ProFTPD, peerHost, true)
	a := startServer(t, hostA, pairConfig(fxpOn, ""))
	srcRoot := filepath.Join(a.root("alice"), "rel")
	old := time.Now().Add(-72 * time.Hour).Truncate(time.Second)
	for _, p := range []string{"a.bin", "b.bin", "d/c.bin", "d/gone.bin"} {
		writeFile(t, filepath.Join(srcRoot, p), randomBytes(t, 64<<10+len(p)))
		if err := os.Chtimes(filepath.Join(srcRoot, p), old, old); err != nil {
			t.Fatal(err)
		}
	}
	src := fxpURL(a, "rel")
	dst := fmt.Sprintf("ftp://%s:%s@%s/m/rel/", peers.UserName, peers.Password, peer.Addr)
	r, code, out := fxpMirror(t, src, dst)
	if code != 0 || r.Copied != 4 {
		t.Fatalf("first run: exit %d %+v\n%s", code, r, out)
	}
	r, code, out = fxpMirror(t, src, dst)
	if code != 0 || r.Copied != 0 || r.Skipped != 4 {
		t.Fatalf("second run: exit %d %+v\n%s", code, r, out)
	}
	newer := old.Add(time.Hour)
	if err := os.Chtimes(filepath.Join(srcRoot, "a.bin"), newer, newer); err != nil {
		t.Fatal(err)
	}
	writeFile(t, filepath.Join(srcRoot, "b.bin"), randomBytes(t, 10))
	writeFile(t, filepath.Join(srcRoot, "d/new.bin"), randomBytes(t, 10))
	if err := os.Remove(filepath.Join(srcRoot, "d/gone.bin")); err != nil {
		t.Fatal(err)
	}
	r, code, out = fxpMirror(t, "--delete", src, dst)
	if code != 0 || r.Copied != 3 || r.Deleted != 1 || r.Skipped != 1 {
		t.Fatalf("third run: exit %d %+v\n%s", code, r, out)
	}
	for _, p := range []string{"a.bin", "b.bin", "d/c.bin", "d/new.bin"} {
		if fileSHA(t, filepath.Join(peer.Root, "m/rel", p)) != fileSHA(t, filepath.Join(srcRoot, p)) {
			t.Fatalf("%s differs", p)
		}
	}
	if _, err := os.Stat(filepath.Join(peer.Root, "m/rel/d/gone.bin")); !os.IsNotExist(err) {
		t.Fatalf("deleted file still on ProFTPD: %v", err)
	}
	r, code, out = fxpMirror(t, "--delete", src, dst)
	if code != 0 || r.Copied != 0 || r.Deleted != 0 {
		t.Fatalf("last run: exit %d %+v\n%s", code, r, out)
	}
}

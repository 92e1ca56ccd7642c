package integration

import (
	"bytes"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"
)

// crashConfig is one writable user, alice, under dir (or under root when
// given).
func crashConfig(root string) string {
	return `
[server]
listen = "` + hostA + `:0"

[[users]]
name = "alice"
password_hash = "` + testHash + `"
root = "` + root + `"
`
}

// TestStorKilledServerKeepsOldFile: ftpd is killed (-9) during a STOR over
// an existing file. The file stays byte-identical; the partial file the
// crash left is removed when ftpd starts again, and nothing else is.
func TestStorKilledServerKeepsOldFile(t *testing.T) {
	dir := t.TempDir()
	root := filepath.Join(dir, "alice")
	cfg := binWriteConfig(t, dir, crashConfig(root))
	path := filepath.Join(root, "precious.bin")
	old := randomBytes(t, 1<<20)
	writeFile(t, path, old)
	// A look-alike that is not one of ftpd's names must survive the sweep.
	writeFile(t, filepath.Join(root, "sub", ".ftpd-upload-keep"), []byte("not ours"))

	p := binStart(t, dir, "-config", cfg)
	c := binDial(t, p.listening(), client1, "alice", testPass)
	data := openStor(t, c, client1, "STOR", "precious.bin")
	if _, err := data.Write(randomBytes(t, 512<<10)); err != nil {
		t.Fatal(err)
	}
	var partial string
	eventually(t, 5*time.Second, "the upload's bytes on disk", func() bool {
		for _, e := range leftovers(t, root, "sub") {
			if st, err := os.Stat(filepath.Join(root, e)); err == nil && st.Size() == 512<<10 {
				partial = e
				return true
			}
		}
		return false
	})
	_ = p.cmd.Process.Kill()
	p.waitExit(10 * time.Second)
	if fileSHA(t, path) != sha(old) {
		t.Fatal("kill -9 during STOR changed the existing file")
	}
	if _, err := os.Stat(filepath.Join(root, partial)); partial == "precious.bin" || err != nil {
		t.Fatalf("the crash left no partial file to sweep: %v", err)
	}

	// Restart: the leftover is gone before the first connection.
	p2 := binStart(t, dir, "-config", cfg)
	addr := p2.listening()
	if l := leftovers(t, root, "precious.bin", "sub"); len(l) != 0 {
		t.Fatalf("after restart, still on disk: %v", l)
	}
	if !strings.Contains(p2.stderr.String(), "removed partial uploads left by an earlier run") {
		t.Errorf("sweep not logged:\n%s", p2.stderr.String())
	}
	// The start says how many it removed in all (issue 22).
	if !strings.Contains(p2.stderr.String(), `msg="partial uploads swept at start" removed=1 `) {
		t.Errorf("the sweep's count is not logged:\n%s", p2.stderr.String())
	}
	if _, err := os.Stat(filepath.Join(root, "sub", ".ftpd-upload-keep")); err != nil {
		t.Fatalf("the sweep removed a file that is not ftpd's: %v", err)
	}
	var buf bytes.Buffer
	if _, err := binDial(t, addr, client1, "alice", testPass).Retr("precious.bin", &buf); err != nil || sha(buf.Bytes()) != sha(old) {
		t.Fatalf("after restart: %v", err)
	}
}

// TestStorDiskFull: a STOR that fills the disk answers 452, keeps the old
// file and frees the partial file's space. ftpd runs in a mount namespace
// of its own with a 4 MiB tmpfs as alice's root (needs root).
func TestStorDiskFull(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("needs root: mounts a small tmpfs inside a private mount namespace (unshare -m)")
	}
	unshare, err := exec.LookPath("unshare")
	if err != nil {
		t.Skip("needs unshare(1) from util-linux")
	}
	dir := t.TempDir()
	root := filepath.Join(dir, "alice")
	if err := os.MkdirAll(root, 0o755); err != nil {
		t.Fatal(err)
	}
	cfg := binWriteConfig(t, dir, crashConfig(root))
	// unshare execs sh, which execs ftpd: one pid, whose /proc/PID/root
	// shows the namespace's view of the tmpfs.
	p := binStartPath(t, unshare, dir, "-m", "--propagation", "private", "sh", "-c",
		`mount -t tmpfs -o size=4m ftpd-test "$0" && exec "$@"`, root, binBuild(t), "-config", cfg)
	addr := p.listening()
	inNS := filepath.Join(fmt.Sprintf("/proc/%d/root", p.cmd.Process.Pid), root)
	free := func() uint64 {
		var st syscall.Statfs_t
		if err := syscall.Statfs(inNS, &st); err != nil {
			t.Fatal(err)
		}
		return st.Bavail * uint64(st.Bsize)
	}
	if _, err := os.Stat(filepath.Join(root, "precious.bin")); err == nil {
		t.Fatal("the tmpfs is visible outside the namespace")
	}

	c := binDial(t, addr, client1, "alice", testPass)
	old := randomBytes(t, 1<<20)
	if _, err := c.Stor("precious.bin", bytes.NewReader(old)); err != nil {
		t.Fatal(err)
	}
	before := free()
	_, err = c.Stor("precious.bin", bytes.NewReader(randomBytes(t, 8<<20)))
	expectCode(t, err, 452, "insufficient storage")
	if fileSHA(t, filepath.Join(inNS, "precious.bin")) != sha(old) {
		t.Fatal("a STOR on a full disk changed the existing file")
	}
	if l := leftovers(t, inNS, "precious.bin"); len(l) != 0 {
		t.Fatalf("left on the full disk: %v", l)
	}
	if after := free(); after != before {
		t.Fatalf("free space %d after the failed upload, %d before", after, before)
	}
	// The space is usable: an upload that fits succeeds.
	fits := randomBytes(t, int(before)-(256<<10))
	if _, err := c.Stor("fits.bin", bytes.NewReader(fits)); err != nil {
		t.Fatalf("upload into the freed space: %v", err)
	}
	if fileSHA(t, filepath.Join(inNS, "fits.bin")) != sha(fits) {
		t.Fatal("fits.bin differs")
	}
}

package integration

// Tests of fxp's operator features (issue 18): missing destination
// parents, sites file, mirror, job files with retries, state and lock.

import (
	"encoding/json"
	"fmt"
	"net/netip"
	"os"
	"path/filepath"
	"reflect"
	"regexp"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/ftpd/ftpd/bench/peers"
)

// TestFXPOpsRecursiveCreatesParents: fxp copy -r into a destination whose
// parents do not exist creates them (it used to fail with MKD ... 550).
func TestFXPOpsRecursiveCreatesParents(t *testing.T) {
	a, b := fxpPair(t, fxpOn, fxpOn, "", "")
	data := randomBytes(t, 64<<10)
	writeFile(t, filepath.Join(a.root("alice"), "tree/d/f.bin"), data)
	if err := os.MkdirAll(b.root("alice"), 0o755); err != nil {
		t.Fatal(err)
	}
	out, errOut, code := fxpRun(t, nil, "copy", "-r", "--bind", client1, "--timeout", "10s",
		fxpURL(a, "tree"), fxpURL(b, "missing/parents/"))
	if code != 0 {
		t.Fatalf("exit %d\n%s\n%s", code, out, errOut)
	}
	if fileSHA(t, filepath.Join(b.root("alice"), "missing/parents/tree/d/f.bin")) != sha(data) {
		t.Fatal("copy differs")
	}
}

// mirrorResult is fxp mirror --json's summary object.
type mirrorResult struct {
	Event   string `json:"event"`
	Copied  int    `json:"copied"`
	Skipped int    `json:"skipped"`
	Deleted int    `json:"deleted"`
	Failed  int    `json:"failed"`
	Bytes   int64  `json:"bytes"`
	DryRun  bool   `json:"dry_run"`
	Error   string `json:"error"`
}

// fxpMirror runs fxp mirror --json and returns its summary and exit code.
func fxpMirror(t *testing.T, args ...string) (mirrorResult, int, string) {
	t.Helper()
	all := append([]string{"mirror", "--json", "--bind", client1, "--timeout", "10s"}, args...)
	out, errOut, code := fxpRun(t, nil, all...)
	noPassword(t, "stdout", out)
	noPassword(t, "stderr", errOut)
	lines := strings.Split(strings.TrimSpace(out), "\n")
	var r mirrorResult
	if err := json.Unmarshal([]byte(lines[len(lines)-1]), &r); err != nil || r.Event != "summary" {
		t.Fatalf("no summary object (exit %d): %v\n%s\n%s", code, err, out, errOut)
	}
	return r, code, out + errOut
}

// snapshot maps every file below root to its sha256 and mtime.
func snapshot(t *testing.T, root string) map[string]string {
	t.Helper()
	m := map[string]string{}
	err := filepath.Walk(root, func(p string, fi os.FileInfo, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(root, p)
		if fi.IsDir() {
			m[rel+"/"] = "dir"
			return nil
		}
		m[rel] = fileSHA(t, p) + " " + fi.ModTime().UTC().Format(time.RFC3339Nano)
		return nil
	})
	if err != nil && !os.IsNotExist(err) {
		t.Fatal(err)
	}
	return m
}

func TestFXPOpsMirror(t *testing.T) {
	a, b := fxpPair(t, fxpOn, fxpOn, "", "")
	srcRoot := filepath.Join(a.root("alice"), "rel")
	dstRoot := filepath.Join(b.root("alice"), "mirror/rel")
	old := time.Now().Add(-48 * time.Hour).Truncate(time.Second)
	for _, p := range []string{"f1.bin", "f2.bin", "sub/f3.bin", "sub/deep/f4.bin", "skip.tmp"} {
		writeFile(t, filepath.Join(srcRoot, p), randomBytes(t, 100<<10+len(p)))
		if err := os.Chtimes(filepath.Join(srcRoot, p), old, old); err != nil {
			t.Fatal(err)
		}
	}
	if err := os.MkdirAll(b.root("alice"), 0o755); err != nil {
		t.Fatal(err)
	}
	src, dst := fxpURL(a, "rel"), fxpURL(b, "mirror/rel/")

	// First run: everything but the excluded file, parents created.
	r, code, out := fxpMirror(t, "-j", "2", "--exclude", "*.tmp", src, dst)
	if code != 0 || r.Copied != 4 || r.Failed != 0 {
		t.Fatalf("first run: exit %d, %+v\n%s", code, r, out)
	}
	if _, err := os.Stat(filepath.Join(dstRoot, "skip.tmp")); !os.IsNotExist(err) {
		t.Fatalf("excluded file copied: %v", err)
	}
	for _, p := range []string{"f1.bin", "sub/deep/f4.bin"} {
		st, err := os.Stat(filepath.Join(dstRoot, p))
		if err != nil || !st.ModTime().Equal(old) {
			t.Fatalf("%s: mtime not set by MFMT: %v %v, want %v", p, err, st.ModTime(), old)
		}
	}
	// Second run right after: nothing to do, and it says so.
	r, code, out = fxpMirror(t, "--exclude", "*.tmp", src, dst)
	if code != 0 || r.Copied != 0 || r.Skipped != 4 || r.Deleted != 0 {
		t.Fatalf("second run: exit %d, %+v\n%s", code, r, out)
	}
	line, _, code := fxpRun(t, nil, "mirror", "--bind", client1, "--exclude", "*.tmp", src, dst)
	if code != 0 || !strings.Contains(line, "nothing to do") {
		t.Fatalf("second run's line: exit %d %q", code, line)
	}

	// Touch one, change one's size, add one, remove one from the source.
	newer := old.Add(time.Hour)
	if err := os.Chtimes(filepath.Join(srcRoot, "f1.bin"), newer, newer); err != nil {
		t.Fatal(err)
	}
	writeFile(t, filepath.Join(srcRoot, "f2.bin"), randomBytes(t, 7))
	writeFile(t, filepath.Join(srcRoot, "sub/new.bin"), randomBytes(t, 5000))
	if err := os.RemoveAll(filepath.Join(srcRoot, "sub/deep")); err != nil {
		t.Fatal(err)
	}
	// --dry-run changes nothing.
	before := snapshot(t, dstRoot)
	r, code, out = fxpMirror(t, "--delete", "--dry-run", "--exclude", "*.tmp", src, dst)
	if code != 0 || r.Copied != 3 || r.Deleted != 2 || !r.DryRun { // f4.bin and its directory
		t.Fatalf("dry run: exit %d %+v\n%s", code, r, out)
	}
	if after := snapshot(t, dstRoot); !reflect.DeepEqual(before, after) {
		t.Fatalf("--dry-run changed the destination:\n%v\n%v", before, after)
	}
	r, code, out = fxpMirror(t, "--delete", "--exclude", "*.tmp", src, dst)
	if code != 0 || r.Copied != 3 || r.Deleted != 2 || r.Skipped != 1 {
		t.Fatalf("changes: exit %d %+v\n%s", code, r, out)
	}
	for _, p := range []string{"f1.bin", "f2.bin", "sub/f3.bin", "sub/new.bin"} {
		if fileSHA(t, filepath.Join(dstRoot, p)) != fileSHA(t, filepath.Join(srcRoot, p)) {
			t.Fatalf("%s differs", p)
		}
	}
	if _, err := os.Stat(filepath.Join(dstRoot, "sub/deep")); !os.IsNotExist(err) {
		t.Fatalf("deleted source directory still on the destination: %v", err)
	}
	r, code, out = fxpMirror(t, "--delete", "--checksum", "--exclude", "*.tmp", src, dst)
	if code != 0 || r.Copied != 0 || r.Deleted != 0 || r.Skipped != 4 {
		t.Fatalf("run after changes: exit %d %+v\n%s", code, r, out)
	}

	// Same size, same time, other bytes: only --checksum sees it.
	f3 := filepath.Join(srcRoot, "sub/f3.bin")
	st, err := os.Stat(f3)
	if err != nil {
		t.Fatal(err)
	}
	writeFile(t, f3, randomBytes(t, int(st.Size())))
	if err := os.Chtimes(f3, st.ModTime(), st.ModTime()); err != nil {
		t.Fatal(err)
	}
	if r, code, out = fxpMirror(t, "--exclude", "*.tmp", src, dst); code != 0 || r.Copied != 0 {
		t.Fatalf("size+time mirror copied a same-size, same-time file: exit %d %+v\n%s", code, r, out)
	}
	if r, code, out = fxpMirror(t, "--checksum", "--exclude", "*.tmp", src, dst); code != 0 || r.Copied != 1 {
		t.Fatalf("--checksum missed changed bytes: exit %d %+v\n%s", code, r, out)
	}
	if fileSHA(t, filepath.Join(dstRoot, "sub/f3.bin")) != fileSHA(t, f3) {
		t.Fatal("--checksum copy differs")
	}

	// An empty source listing never empties the destination...
	if err := os.MkdirAll(filepath.Join(a.root("alice"), "empty"), 0o755); err != nil {
		t.Fatal(err)
	}
	before = snapshot(t, dstRoot)
	r, code, out = fxpMirror(t, "--delete", fxpURL(a, "empty"), dst)
	if code != 1 || r.Deleted != 0 || !strings.Contains(out, "allow-empty-source") {
		t.Fatalf("empty source: exit %d %+v\n%s", code, r, out)
	}
	if after := snapshot(t, dstRoot); !reflect.DeepEqual(before, after) {
		t.Fatal("--delete with an empty source changed the destination")
	}
	// ...unless asked; and only below DST: the file next to it stays.
	writeFile(t, filepath.Join(b.root("alice"), "mirror/keep.bin"), []byte("keep"))
	r, code, out = fxpMirror(t, "--delete", "--allow-empty-source", fxpURL(a, "empty"), dst)
	if code != 0 || r.Deleted != 5 { // f1, f2, sub/f3, sub/new and sub/
		t.Fatalf("allow-empty-source: exit %d %+v\n%s", code, r, out)
	}
	if got := snapshot(t, dstRoot); len(got) != 1 {
		t.Fatalf("destination not emptied: %v", got)
	}
	if _, err := os.Stat(filepath.Join(b.root("alice"), "mirror/keep.bin")); err != nil {
		t.Fatalf("file outside DST deleted: %v", err)
	}
}

// sitesFile writes a sites file naming a (password in a 0600 file) and b
// (password in an environment variable) and returns its path.
func sitesFile(t *testing.T, a, b *instance, passMode os.FileMode) string {
	t.Helper()
	dir := t.TempDir()
	passFile := filepath.Join(dir, "a.pass")
	if err := os.WriteFile(passFile, []byte(testPass+"\n"), passMode); err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(passFile, passMode); err != nil {
		t.Fatal(err)
	}
	ap, bp := netip.MustParseAddrPort(a.addr), netip.MustParseAddrPort(b.addr)
	text := fmt.Sprintf(`
[site.siteA]
host = %q
port = %d
user = "alice"
password_file = %q

[site.siteB]
host = %q
port = %d
user = "alice"
password_env = "FXP_TEST_B_PASS"
`, ap.Addr(), ap.Port(), passFile, bp.Addr(), bp.Port())
	path := filepath.Join(dir, "sites.toml")
	if err := os.WriteFile(path, []byte(text), 0o644); err != nil {
		t.Fatal(err)
	}
	return path
}

func TestFXPOpsSites(t *testing.T) {
	a, b := fxpPair(t, fxpOn, fxpOn, "", "")
	data := randomBytes(t, 200<<10)
	writeFile(t, filepath.Join(a.root("alice"), "x.iso"), data)
	if err := os.MkdirAll(b.root("alice"), 0o755); err != nil {
		t.Fatal(err)
	}
	env := []string{"FXP_TEST_B_PASS=" + testPass}

	// A group-readable password file is refused before anything is sent.
	loose := sitesFile(t, a, b, 0o640)
	_, errOut, code := fxpRun(t, env, "copy", "--sites", loose, "--bind", client1, "siteA:x.iso", "siteB:isos/")
	if code != 2 || !strings.Contains(errOut, "mode 0640") || !strings.Contains(errOut, "chmod 600") {
		t.Fatalf("group-readable password file: exit %d\n%s", code, errOut)
	}
	if strings.Contains(a.logs.String(), `"msg":"login`) {
		t.Fatal("logged in with a refused password file")
	}

	sites := sitesFile(t, a, b, 0o600)
	// The sites file is found through XDG_CONFIG_HOME too.
	xdg := t.TempDir()
	writeFile(t, filepath.Join(xdg, "fxp/sites.toml"), mustRead(t, sites))
	out, errOut, code := fxpRun(t, append(env, "XDG_CONFIG_HOME="+xdg), "copy", "--bind", client1, "siteA:x.iso", "siteB:isos/deep/")
	if code != 0 {
		t.Fatalf("copy by site names: exit %d\n%s\n%s", code, out, errOut)
	}
	noPassword(t, "copy output", out+errOut)
	if fileSHA(t, filepath.Join(b.root("alice"), "isos/deep/x.iso")) != sha(data) {
		t.Fatal("copy differs")
	}

	// fxp sites lists both, with where the password comes from, never it.
	out, errOut, code = fxpRun(t, env, "sites", "--sites", sites)
	if code != 0 || !strings.Contains(out, "siteA") || !strings.Contains(out, "env FXP_TEST_B_PASS") || !strings.Contains(out, "file ") {
		t.Fatalf("fxp sites: exit %d\n%s\n%s", code, out, errOut)
	}
	noPassword(t, "fxp sites", out+errOut)

	// fxp sites check logs in and reports the greeting, FEAT and FXP.
	out, errOut, code = fxpRun(t, env, "sites", "--sites", sites, "--bind", client1, "--peer", "siteA", "check", "siteB")
	if code != 0 || !strings.Contains(out, "greeting") || !strings.Contains(out, "+MLSD") || !strings.Contains(out, "+MFMT") ||
		!strings.Contains(out, "as PORT side: yes") {
		t.Fatalf("fxp sites check: exit %d\n%s\n%s", code, out, errOut)
	}
	noPassword(t, "fxp sites check", out+errOut)
	// A server with FXP off says no.
	c := startServer(t, hostA, pairConfig("", ""))
	cp := netip.MustParseAddrPort(c.addr)
	off := filepath.Join(t.TempDir(), "off.toml")
	writeFile(t, off, []byte(fmt.Sprintf("[site.off]\nhost = %q\nport = %d\nuser = \"alice\"\npassword_env = \"FXP_TEST_B_PASS\"\n", cp.Addr(), cp.Port())))
	out, errOut, code = fxpRun(t, env, "sites", "--sites", off, "--bind", client1, "--peer", hostB, "check", "off")
	if code != 0 || !strings.Contains(out, "as PORT side: no") {
		t.Fatalf("fxp sites check (FXP off): exit %d\n%s\n%s", code, out, errOut)
	}
	// An unknown site is a usage error.
	if _, errOut, code = fxpRun(t, env, "copy", "--sites", sites, "nosuch:x", "siteB:x"); code != 2 || !strings.Contains(errOut, `no site "nosuch"`) {
		t.Fatalf("unknown site: exit %d\n%s", code, errOut)
	}
}

func mustRead(t *testing.T, path string) []byte {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// writeJobs writes a job file and returns its path.
func writeJobs(t *testing.T, text string) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), "jobs.toml")
	if err := os.WriteFile(p, []byte(text), 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

// binSourceConfig writes the config of an ftpd binary on hostA (a fixed
// port, so that it can be started again), JSON logs, FXP on, alice with
// extra settings and her root under dir.
func binSourceConfig(t *testing.T, dir, alice string) string {
	t.Helper()
	return binWriteConfig(t, dir, fmt.Sprintf(`
[server]
listen = "%s:%d"

[log]
format = "json"
%s
[[users]]
name = "alice"
password_hash = "%s"
root = "{{DIR}}/alice"
%s
`, hostA, binFreePort(t, hostA), strings.ReplaceAll(fxpOn, "{{PEERS}}", peersOf(hostA)), testHash, alice))
}

// TestFXPOpsRunWaitsForSource: a mirror job whose source is not up yet
// retries its connection with backoff and runs once the server starts.
func TestFXPOpsRunWaitsForSource(t *testing.T) {
	_, b := fxpPair(t, fxpOn, fxpOn, "", "")
	dir := t.TempDir()
	cfg := binSourceConfig(t, dir, "")
	data := randomBytes(t, 1<<20)
	writeFile(t, filepath.Join(dir, "alice/rel/f.bin"), data)
	addr := regexp.MustCompile(`listen = "([^"]+)"`).FindStringSubmatch(string(mustRead(t, cfg)))[1]
	jobs := writeJobs(t, fmt.Sprintf(`
retries = 8
backoff = "200ms"

[[job]]
name = "late"
mode = "mirror"
src = %q
dst = %q
`, "ftp://alice:"+testPass+"@"+addr+"/rel", fxpURL(b, "rel")))
	p := fxpStart(t, "run", "--bind", client1, "--timeout", "5s", jobs)
	time.Sleep(700 * time.Millisecond)
	if p.exited() {
		t.Fatalf("fxp run gave up at once: exit %d\n%s", p.code, p.stderr.String())
	}
	binStart(t, dir, "-config", cfg).listening()
	if code := p.waitExit(30 * time.Second); code != 0 {
		t.Fatalf("fxp run: exit %d\n%s\n%s", code, p.stdout.String(), p.stderr.String())
	}
	if fileSHA(t, filepath.Join(b.root("alice"), "rel/f.bin")) != sha(data) {
		t.Fatal("mirror differs")
	}
}

// waitProgress waits until fxp's JSON events show more than n bytes
// copied.
func waitProgress(t *testing.T, p *binProc, n int64) {
	t.Helper()
	re := regexp.MustCompile(`"event":"progress".*?"bytes":(\d+)`)
	eventually(t, 30*time.Second, "copy progress", func() bool {
		for _, m := range re.FindAllStringSubmatch(p.stdout.String(), -1) {
			if b, _ := strconv.ParseInt(m[1], 10, 64); b > n {
				return true
			}
		}
		return false
	})
}

// killSourceMidCopy runs a one-file copy job from an ftpd binary (source,
// 8 MiB/s) to dstURL, kills the source once 4 MiB have moved, starts it
// again, and returns the restarted source and fxp run's output; fxp run
// must succeed.
func killSourceMidCopy(t *testing.T, data []byte, dstURL string) (*binProc, string) {
	t.Helper()
	dir := t.TempDir()
	cfg := binSourceConfig(t, dir, slowSource)
	writeFile(t, filepath.Join(dir, "alice/big.bin"), data)
	first := binStart(t, dir, "-config", cfg)
	addr := first.listening()
	jobs := writeJobs(t, fmt.Sprintf(`
retries = 6
backoff = "300ms"

[[job]]
name = "big"
src = %q
dst = %q
`, "ftp://alice:"+testPass+"@"+addr+"/big.bin", dstURL))
	p := fxpStart(t, "run", "--json", "--bind", client1, "--timeout", "5s", jobs)
	waitProgress(t, p, 4<<20)
	first.signal(syscall.SIGKILL)
	first.waitExit(10 * time.Second)
	second := binStart(t, dir, "-config", cfg)
	second.listening()
	if code := p.waitExit(time.Minute); code != 0 {
		t.Fatalf("fxp run: exit %d\n%s\n%s", code, p.stdout.String(), p.stderr.String())
	}
	if !strings.Contains(p.stdout.String(), `"event":"retry"`) {
		t.Fatalf("no retry event:\n%s", p.stdout.String())
	}
	return second, p.stdout.String()
}

// retrBytes is what the source's transfer log says its RETR sent.
func retrBytes(t *testing.T, src *binProc) int64 {
	t.Helper()
	m := src.waitMatch(src.stderr, regexp.MustCompile(`"msg":"transfer".*"command":"RETR".*"bytes":(\d+)`))
	n, _ := strconv.ParseInt(m[1], 10, 64)
	return n
}

// TestFXPOpsRunRetryResume: the source server is killed in the middle of
// a job's file; fxp run retries with backoff and, once the server is
// back, resumes the temporary file (REST + APPE) and renames it onto the
// target: the source's transfer log shows the second RETR sent less than
// the file. On an ftpd destination too (its STOR is atomic, but fxp
// writes the temporary file with APPE, in place), and the old target
// stays until the rename.
func TestFXPOpsRunRetryResume(t *testing.T) {
	data := randomBytes(t, 24<<20)
	t.Run("pure-ftpd-keeps-partial", func(t *testing.T) {
		peer := interopStartPeer(t, peers.PureFTPd, peerHost, true)
		src, _ := killSourceMidCopy(t, data, fmt.Sprintf("ftp://%s:%s@%s/big.bin", peers.UserName, peers.Password, peer.Addr))
		if fileSHA(t, filepath.Join(peer.Root, "big.bin")) != sha(data) {
			t.Fatal("resumed copy differs")
		}
		sent := retrBytes(t, src)
		if sent <= 0 || sent >= int64(len(data)) {
			t.Fatalf("second attempt sent %d bytes of %d: not a resume", sent, len(data))
		}
		t.Logf("second attempt sent %d of %d bytes", sent, len(data))
	})
	t.Run("proftpd-refuses-append", func(t *testing.T) {
		// ProFTPD without AllowStoreRestart answers APPE with 451: the
		// try after that starts over and completes.
		peer := interopStartPeer(t, peers.ProFTPD, peerHost, true)
		_, out := killSourceMidCopy(t, data, fmt.Sprintf("ftp://%s:%s@%s/big.bin", peers.UserName, peers.Password, peer.Addr))
		if fileSHA(t, filepath.Join(peer.Root, "big.bin")) != sha(data) {
			t.Fatal("copy differs")
		}
		if !strings.Contains(out, "Append/Restart not permitted") {
			t.Logf("ProFTPD allowed the append this time:\n%s", out)
		}
	})
	t.Run("ftpd-resumes-temp-file", func(t *testing.T) {
		_, b := fxpPair(t, fxpOn, fxpOn, "", "")
		dstFile := filepath.Join(b.root("alice"), "big.bin")
		writeFile(t, dstFile, randomBytes(t, 1<<20)) // an older version
		src, _ := killSourceMidCopy(t, data, fxpURL(b, "big.bin"))
		if fileSHA(t, dstFile) != sha(data) {
			t.Fatal("retried copy differs: appended to the old file?")
		}
		if sent := retrBytes(t, src); sent <= 0 || sent >= int64(len(data)) {
			t.Fatalf("second attempt sent %d bytes of %d: not a resume", sent, len(data))
		}
		if temps := fxpTemps(t, b.root("alice")); len(temps) != 0 {
			t.Fatalf("temporary files left: %q", temps)
		}
	})
}

// TestFXPOpsRunStateAndLock: --state skips what an earlier, interrupted
// run finished; --lock makes a second run exit 3 at once.
func TestFXPOpsRunStateAndLock(t *testing.T) {
	a, b := fxpPair(t, fxpOn, fxpOn, "", "")
	writeFile(t, filepath.Join(a.root("alice"), "one.bin"), randomBytes(t, 300<<10))
	writeFile(t, filepath.Join(a.root("alice"), "two/t1.bin"), randomBytes(t, 100<<10))
	writeFile(t, filepath.Join(a.root("alice"), "two/t2.bin"), randomBytes(t, 100<<10))
	if err := os.MkdirAll(b.root("alice"), 0o755); err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	state, lock := filepath.Join(dir, "state"), filepath.Join(dir, "lock")
	jobs := writeJobs(t, fmt.Sprintf(`
retries = 0

[[job]]
name = "one"
src = %q
dst = %q

[[job]]
name = "tree"
src = %q
dst = %q
recursive = true

[[job]]
name = "missing"
src = %q
dst = %q
`, fxpURL(a, "one.bin"), fxpURL(b, "out/one.bin"), fxpURL(a, "two"), fxpURL(b, "out/"),
		fxpURL(a, "later.bin"), fxpURL(b, "out/later.bin")))
	args := []string{"run", "--json", "--bind", client1, "--timeout", "5s", "--state", state, "--lock", lock, jobs}
	out, errOut, code := fxpRun(t, nil, args...)
	if code != 1 || !strings.Contains(errOut, "job missing") {
		t.Fatalf("first run: exit %d\n%s\n%s", code, out, errOut)
	}
	noPassword(t, "fxp run", out+errOut)
	retrs := func() int { return strings.Count(a.logs.String(), `"msg":"transfer","session"`) }
	if n := retrs(); n != 3 {
		t.Fatalf("%d transfers on A, want 3", n)
	}
	// The missing file appears; the next run copies only it.
	writeFile(t, filepath.Join(a.root("alice"), "later.bin"), randomBytes(t, 1000))
	out, errOut, code = fxpRun(t, nil, args...)
	if code != 0 || strings.Count(out, `"skipped":1`) != 1 || strings.Count(out, `"skipped":2`) != 1 {
		t.Fatalf("second run: exit %d\n%s\n%s", code, out, errOut)
	}
	if n := retrs(); n != 4 {
		t.Fatalf("%d transfers on A after the second run, want 4 (finished files skipped)", n)
	}
	if _, err := os.Stat(state); !os.IsNotExist(err) {
		t.Fatalf("state file kept after a complete run: %v", err)
	}
	// A run holding the lock: the next one exits 3 at once.
	f, err := os.OpenFile(lock, os.O_RDWR|os.O_CREATE, 0o600)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX|syscall.LOCK_NB); err != nil {
		t.Fatal(err)
	}
	start := time.Now()
	_, errOut, code = fxpRun(t, nil, args...)
	// Exit 3 and no new RETR (below) prove the run did no work; fxpRun
	// bounds it against a hang. No speed claim: the binary's start may
	// take seconds on a loaded machine.
	if code != 3 || !strings.Contains(errOut, "holds the lock") {
		t.Fatalf("locked run: exit %d after %s\n%s", code, time.Since(start), errOut)
	}
	if n := retrs(); n != 4 {
		t.Fatal("a locked run copied")
	}
	// A broken job file is exit 2.
	if _, errOut, code = fxpRun(t, nil, "run", writeJobs(t, "[[job]]\nmode = \"sync\"\n")); code != 2 || !strings.Contains(errOut, "mode") {
		t.Fatalf("bad job file: exit %d\n%s", code, errOut)
	}
}

// TestFXPOpsRunStateAfterSIGINT: a run interrupted (SIGINT) in its second
// job keeps its state; the next run skips the first job's finished file.
func TestFXPOpsRunStateAfterSIGINT(t *testing.T) {
	a, b := fxpPair(t, fxpOn, fxpOn, slowSource, "")
	writeFile(t, filepath.Join(a.root("alice"), "small.bin"), randomBytes(t, 64<<10))
	big := randomBytes(t, 24<<20)
	writeFile(t, filepath.Join(a.root("alice"), "big.bin"), big)
	if err := os.MkdirAll(b.root("alice"), 0o755); err != nil {
		t.Fatal(err)
	}
	state := filepath.Join(t.TempDir(), "state")
	jobs := writeJobs(t, fmt.Sprintf(`
[[job]]
name = "small"
src = %q
dst = %q

[[job]]
name = "big"
src = %q
dst = %q
`, fxpURL(a, "small.bin"), fxpURL(b, "small.bin"), fxpURL(a, "big.bin"), fxpURL(b, "big.bin")))
	p := fxpStart(t, "run", "--json", "--bind", client1, "--timeout", "5s", "--state", state, jobs)
	waitProgress(t, p, 2<<20) // the big file is under way
	p.signal(syscall.SIGINT)
	if code := p.waitExit(20 * time.Second); code != 1 {
		t.Fatalf("interrupted run: exit %d\n%s", code, p.stderr.String())
	}
	if st, err := os.Stat(state); err != nil || st.Size() == 0 {
		t.Fatalf("no state after the interrupt: %v", err)
	}
	out, errOut, code := fxpRun(t, nil, "run", "--json", "--bind", client1, "--timeout", "5s", "--state", state, jobs)
	if code != 0 || !strings.Contains(errOut, "1 file(s) finished by an earlier run") ||
		!strings.Contains(out, `"job":"small","copied":0,"skipped":1`) {
		t.Fatalf("second run: exit %d\n%s\n%s", code, out, errOut)
	}
	if fileSHA(t, filepath.Join(b.root("alice"), "big.bin")) != sha(big) {
		t.Fatal("big file differs")
	}
	sent := regexp.MustCompile(`"msg":"transfer".*"command":"RETR","path":"/small.bin"`)
	if n := len(sent.FindAllString(a.logs.String(), -1)); n != 1 {
		t.Fatalf("small.bin sent %d times, want once", n)
	}
}

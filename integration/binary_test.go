package integration

// End-to-end tests of the ftpd binary itself: flags, exit codes, signals,
// the built-in default config and config error reporting. The binary is
// built once per test run (with -race when the tests are) into a temporary
// directory that TestMain removes.

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"hash"
	"net"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"runtime/debug"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"golang.org/x/crypto/bcrypt"

	"github.com/ftpd/ftpd/ftpclient"
)

// binWait bounds every wait for the binary: building, listening, exiting.
// It is a liveness bound, never a speed claim: a passing test waits only
// as long as the binary needs, so the bound is wide (a -race binary on a
// loaded 2-core machine building, starting or running the lab demo takes
// several seconds; 60 s is about 10x the worst seen).
const binWait = 60 * time.Second

var (
	binOnce   sync.Once
	binPath   string // the built ftpd
	binModDir string // the module root
	binTmpDir string // holds binPath; removed by TestMain
	binErr    error
)

func TestMain(m *testing.M) {
	code := m.Run()
	if binTmpDir != "" {
		os.RemoveAll(binTmpDir)
	}
	os.Exit(code)
}

// binRace reports whether this test binary was built with -race.
func binRace() bool {
	info, ok := debug.ReadBuildInfo()
	if !ok {
		return false
	}
	for _, s := range info.Settings {
		if s.Key == "-race" && s.Value == "true" {
			return true
		}
	}
	return false
}

// binModuleRoot walks up from the working directory to the go.mod.
func binModuleRoot() (string, error) {
	dir, err := os.Getwd()
	if err != nil {
		return "", err
	}
	for {
		if _, err := os.Stat(filepath.Join(dir, "go.mod")); err == nil {
			return dir, nil
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			return "", errors.New("no go.mod above the working directory")
		}
		dir = parent
	}
}

// binGoBuild builds pkg into out (with -race when the tests run with it).
func binGoBuild(out, pkg string) error {
	args := []string{"build", "-o", out}
	if binRace() {
		args = append(args, "-race")
	}
	args = append(args, pkg)
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, "go", args...)
	cmd.Dir = binModDir
	if out, err := cmd.CombinedOutput(); err != nil {
		return fmt.Errorf("go %s: %v\n%s", strings.Join(args, " "), err, out)
	}
	return nil
}

// binBuild builds ./cmd/ftpd once and returns the binary's path.
func binBuild(t *testing.T) string {
	t.Helper()
	binOnce.Do(func() {
		binModDir, binErr = binModuleRoot()
		if binErr != nil {
			return
		}
		binTmpDir, binErr = os.MkdirTemp("", "ftpd-bin-")
		if binErr != nil {
			return
		}
		binPath = filepath.Join(binTmpDir, "ftpd")
		binErr = binGoBuild(binPath, "./cmd/ftpd")
	})
	if binErr != nil {
		t.Fatal(binErr)
	}
	return binPath
}

// binRun runs the binary to completion in dir ("" = the test's working
// directory) and returns its output and exit code.
func binRun(t *testing.T, dir string, stdin string, args ...string) (stdout, stderr string, code int) {
	t.Helper()
	path := binBuild(t)
	ctx, cancel := context.WithTimeout(context.Background(), binWait)
	defer cancel()
	cmd := exec.CommandContext(ctx, path, args...)
	cmd.Dir = dir
	cmd.Stdin = strings.NewReader(stdin)
	var out, errOut bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errOut
	err := cmd.Run()
	var exitErr *exec.ExitError
	switch {
	case err == nil:
	case errors.As(err, &exitErr) && ctx.Err() == nil:
	default:
		t.Fatalf("ftpd %s: %v\nstderr:\n%s", strings.Join(args, " "), err, errOut.String())
	}
	if strings.Contains(errOut.String(), "WARNING: DATA RACE") {
		t.Errorf("ftpd %s: data race:\n%s", strings.Join(args, " "), errOut.String())
	}
	return out.String(), errOut.String(), cmd.ProcessState.ExitCode()
}

// binRefused runs ftpd -check-config with the config at path, then ftpd
// serving it, and fails the test unless both exit non-zero with every one
// of want in their stderr.
func binRefused(t *testing.T, dir, path string, want ...string) {
	t.Helper()
	for _, args := range [][]string{{"-check-config", "-config", path}, {"-config", path}} {
		_, stderr, code := binRun(t, dir, "", args...)
		ok := code != 0
		for _, w := range want {
			ok = ok && strings.Contains(stderr, w)
		}
		if !ok {
			t.Fatalf("%v: exit %d, want non-zero naming %q; stderr:\n%s", args, code, want, stderr)
		}
	}
}

// binProc is a running ftpd.
type binProc struct {
	t      *testing.T
	cmd    *exec.Cmd
	stdout *logBuffer
	stderr *logBuffer
	done   chan struct{} // closed once the process has exited
	code   int           // exit code (-1 if killed by a signal); valid after done
}

// binStart starts the binary in dir with args. The process is killed, if
// still running, when the test ends.
func binStart(t *testing.T, dir string, args ...string) *binProc {
	t.Helper()
	return binStartPath(t, binBuild(t), dir, args...)
}

// binStartPath starts the program at path in dir (the test's directory when
// ""); it is killed, if still running, when the test ends, and a data race
// it reports fails the test.
func binStartPath(t *testing.T, path, dir string, args ...string) *binProc {
	t.Helper()
	name := filepath.Base(path)
	p := &binProc{t: t, stdout: &logBuffer{}, stderr: &logBuffer{}, done: make(chan struct{})}
	p.cmd = exec.Command(path, args...)
	p.cmd.Dir = dir
	p.cmd.Stdout, p.cmd.Stderr = p.stdout, p.stderr
	if err := p.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go func() {
		_ = p.cmd.Wait()
		p.code = p.cmd.ProcessState.ExitCode()
		close(p.done)
	}()
	t.Cleanup(func() {
		if !p.exited() {
			_ = p.cmd.Process.Kill()
			select {
			case <-p.done:
			case <-time.After(binWait):
				t.Errorf("%s (pid %d) did not die after SIGKILL", name, p.cmd.Process.Pid)
			}
		}
		if strings.Contains(p.stderr.String(), "WARNING: DATA RACE") {
			t.Errorf("%s reported a data race:\n%s", name, p.stderr.String())
		} else if t.Failed() {
			t.Logf("%s stdout:\n%s\n%s stderr:\n%s", name, p.stdout.String(), name, p.stderr.String())
		}
	})
	return p
}

func (p *binProc) exited() bool {
	select {
	case <-p.done:
		return true
	default:
		return false
	}
}

func (p *binProc) signal(sig os.Signal) {
	p.t.Helper()
	if err := p.cmd.Process.Signal(sig); err != nil {
		p.t.Fatalf("send %v: %v", sig, err)
	}
}

// waitExit waits for the process to exit and returns its exit code.
func (p *binProc) waitExit(within time.Duration) int {
	p.t.Helper()
	select {
	case <-p.done:
		return p.code
	case <-time.After(within):
		p.t.Fatalf("ftpd still running after %v", within)
		return 0
	}
}

// waitMatch polls buf until re matches and returns the submatches; it
// fails if the process exits first or binWait passes.
func (p *binProc) waitMatch(buf *logBuffer, re *regexp.Regexp) []string {
	p.t.Helper()
	deadline := time.Now().Add(binWait)
	for {
		if m := re.FindStringSubmatch(buf.String()); m != nil {
			return m
		}
		if p.exited() {
			// The last output may have landed just before the exit.
			if m := re.FindStringSubmatch(buf.String()); m != nil {
				return m
			}
			p.t.Fatalf("ftpd exited (code %d) before printing %q", p.code, re)
		}
		if time.Now().After(deadline) {
			p.t.Fatalf("ftpd printed no %q within %v", re, binWait)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// waitCount polls the process's stderr until s occurs at least n times.
func (p *binProc) waitCount(s string, n int) {
	p.t.Helper()
	deadline := time.Now().Add(binWait)
	for strings.Count(p.stderr.String(), s) < n {
		if p.exited() {
			p.t.Fatalf("ftpd exited (code %d) before logging %q %d times", p.code, s, n)
		}
		if time.Now().After(deadline) {
			p.t.Fatalf("ftpd logged %q fewer than %d times within %v", s, n, binWait)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// binListenRe matches ftpd's own "listening" log line, text or JSON (not
// the library's "Listening..."), and captures its addr.
var binListenRe = regexp.MustCompile(`msg=listening addr=(\S+)|"msg":"listening","addr":"([^"]+)"`)

// listening waits for the "listening" log line and returns its address.
func (p *binProc) listening() string {
	p.t.Helper()
	m := p.waitMatch(p.stderr, binListenRe)
	if m[1] != "" {
		return m[1]
	}
	return m[2]
}

// binDial connects to addr from clientIP and logs in unless user is empty.
func binDial(t *testing.T, addr, clientIP, user, pass string) *ftpclient.Conn {
	t.Helper()
	c, err := ftpclient.Dial(context.Background(), addr, ftpclient.Options{
		LocalAddr: netip.MustParseAddr(clientIP), Timeout: 15 * time.Second,
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	if user != "" {
		if err := c.Login(user, pass); err != nil {
			t.Fatalf("login %s: %v", user, err)
		}
	}
	return c
}

// binWriteConfig writes text as dir/ftpd.toml, {{DIR}} replaced by dir and
// {{PEERS}} by the other test servers of one on hostA (the binaries the
// tests start run there).
func binWriteConfig(t *testing.T, dir, text string) string {
	t.Helper()
	path := filepath.Join(dir, "ftpd.toml")
	text = strings.ReplaceAll(text, "{{PEERS}}", peersOf(hostA))
	if err := os.WriteFile(path, []byte(strings.ReplaceAll(text, "{{DIR}}", dir)), 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

// binFreePort returns a port that nothing listened on a moment ago.
func binFreePort(t *testing.T, ip string) int {
	t.Helper()
	l, err := net.Listen("tcp", ip+":0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port
}

func TestBinaryVersion(t *testing.T) {
	stdout, stderr, code := binRun(t, "", "", "-version")
	if code != 0 || !strings.HasPrefix(stdout, "ftpd ") {
		t.Fatalf("ftpd -version: exit %d, stdout %q, stderr %q", code, stdout, stderr)
	}
}

func TestBinaryHashPassword(t *testing.T) {
	stdout, stderr, code := binRun(t, "", "pw\n", "hash-password")
	if code != 0 {
		t.Fatalf("exit %d, stderr %q", code, stderr)
	}
	h := strings.TrimSpace(stdout)
	if err := bcrypt.CompareHashAndPassword([]byte(h), []byte("pw")); err != nil {
		t.Fatalf("hash %q does not match \"pw\": %v", h, err)
	}
	if err := bcrypt.CompareHashAndPassword([]byte(h), []byte("pw\n")); err == nil {
		t.Fatal("the trailing newline was hashed into the password")
	}

	for name, in := range map[string]string{"empty": "", "newline only": "\n"} {
		t.Run(name, func(t *testing.T) {
			stdout, stderr, code := binRun(t, "", in, "hash-password")
			if code != 2 || stdout != "" || !strings.Contains(stderr, "empty password") {
				t.Fatalf("exit %d, stdout %q, stderr %q; want 2, nothing, \"empty password\"", code, stdout, stderr)
			}
		})
	}
}

func TestBinaryCheckConfig(t *testing.T) {
	cases := []struct {
		file string
		want []string // each "FILE:LINE: KEY" with FILE as given to -config
	}{
		{"unknown_key.toml", []string{":4: server.listne: unknown key"}},
		{"unknown_user_key.toml", []string{":14: users[1].readonly: unknown key"}},
		{"bad_cidr.toml", []string{`:9: fxp.peers[1]: invalid CIDR "10.0.0.0/33"`}},
		{"bad_fxp_mode.toml", []string{`:9: users[0].fxp: unknown value "sideways"`}},
		{"bad_rate.toml", []string{`:6: limits.download_rate: invalid size "10 parsecs"`}},
		{"bad_duration.toml", []string{`:4: server.idle_timeout: invalid duration "5 minutes"`}},
		{"bad_passive_ports.toml", []string{`:4: server.passive_ports: invalid port range "40100-40000"`}},
		{"low_passive_ports.toml", []string{`:4: server.passive_ports: "21-30": passive ports must not be below 1024`}},
		{"duplicate_user.toml", []string{`:11: users[1].name: duplicate user "alice" (first at line 6)`}},
		{"no_password.toml", []string{`:5: users[0]: user "alice" needs password_hash (bcrypt) or password`}},
		{"empty_root.toml", []string{":8: users[0].root: required"}},
		{"syntax.toml", []string{":3: server.listen: TOML syntax:"}},
		{"several.toml", []string{
			`:4: server.idle_timeout: invalid duration "forever"`,
			`:7: limits.upload_rate: invalid size "fast"`,
			`:9: users[0]: user "alice" needs password_hash`,
			`:17: users[1].fxp: unknown value "maybe"`,
		}},
	}
	for _, tc := range cases {
		t.Run(strings.TrimSuffix(tc.file, ".toml"), func(t *testing.T) {
			file := filepath.Join("testdata", "badconf", tc.file)
			stdout, stderr, code := binRun(t, "", "", "-check-config", "-config", file)
			if code != 2 {
				t.Errorf("exit %d, want 2", code)
			}
			if strings.Contains(stdout, "valid") {
				t.Errorf("stdout says valid: %q", stdout)
			}
			for _, w := range tc.want {
				if !strings.Contains(stderr, file+w) {
					t.Errorf("stderr lacks %q:\n%s", file+w, stderr)
				}
			}
			// Nothing beyond the expected problems (one line each, after
			// the "invalid configuration" header).
			if n := strings.Count(stderr, file+":"); n != len(tc.want) {
				t.Errorf("stderr names %d problems, want %d:\n%s", n, len(tc.want), stderr)
			}
		})
	}

	t.Run("valid", func(t *testing.T) {
		dir := t.TempDir()
		path := binWriteConfig(t, dir, `
[server]
listen = "127.0.0.2:2121"
passive_ports = "40000-40100"

[fxp]
enabled = true
peers = ["127.0.0.3"]

[[users]]
name = "alice"
password_hash = "`+testHash+`"
root = "{{DIR}}/alice"
fxp = "send"
`)
		stdout, stderr, code := binRun(t, "", "", "-check-config", "-config", path)
		if code != 0 || !strings.Contains(stdout, path+": configuration is valid") {
			t.Fatalf("exit %d, stdout %q, stderr %q", code, stdout, stderr)
		}
		// Checking does not create the users' roots.
		if _, err := os.Stat(filepath.Join(dir, "alice")); !os.IsNotExist(err) {
			t.Errorf("-check-config created the root (stat: %v)", err)
		}
	})

	t.Run("missing file", func(t *testing.T) {
		path := filepath.Join(t.TempDir(), "nope.toml")
		stdout, stderr, code := binRun(t, "", "", "-check-config", "-config", path)
		if code != 2 || !strings.Contains(stderr, path) || strings.Contains(stdout, "valid") {
			t.Fatalf("exit %d, stdout %q, stderr %q; want 2 and the file named", code, stdout, stderr)
		}
	})

	t.Run("built-in default", func(t *testing.T) {
		stdout, stderr, code := binRun(t, t.TempDir(), "", "-check-config")
		if code != 0 || !strings.Contains(stdout, "configuration is valid") {
			t.Fatalf("exit %d, stdout %q, stderr %q", code, stdout, stderr)
		}
	})
}

func TestBinaryCheckConfigExample(t *testing.T) {
	binBuild(t)
	path := filepath.Join(binModDir, "ftpd.toml.example")
	if _, err := os.Stat(path); os.IsNotExist(err) {
		t.Skip("ftpd.toml.example not written yet")
	}
	stdout, stderr, code := binRun(t, t.TempDir(), "", "-check-config", "-config", path)
	if code != 0 || !strings.Contains(stdout, "configuration is valid") {
		t.Fatalf("exit %d, stdout %q, stderr %q", code, stdout, stderr)
	}
}

func TestBinaryBadConfigAtStart(t *testing.T) {
	dir := t.TempDir()
	port := binFreePort(t, hostA)
	path := binWriteConfig(t, dir, fmt.Sprintf(`
[server]
listen = "%s:%d"
idle_timeout = "soon"

[[users]]
name = "alice"
password = "pw"
root = "{{DIR}}/alice"
fxp = "everywhere"
`, hostA, port))
	p := binStart(t, dir, "-config", path)
	if code := p.waitExit(binWait); code != 2 {
		t.Errorf("exit %d, want 2", code)
	}
	stderr := p.stderr.String()
	for _, w := range []string{path + ":4: server.idle_timeout:", path + ":10: users[0].fxp:"} {
		if !strings.Contains(stderr, w) {
			t.Errorf("stderr lacks %q:\n%s", w, stderr)
		}
	}
	if binListenRe.MatchString(stderr) {
		t.Errorf("ftpd logged that it was listening:\n%s", stderr)
	}
	if c, err := net.DialTimeout("tcp", fmt.Sprintf("%s:%d", hostA, port), 2*time.Second); err == nil {
		c.Close()
		t.Errorf("something listens on %s:%d", hostA, port)
	}
	if _, err := os.Stat(filepath.Join(dir, "alice")); !os.IsNotExist(err) {
		t.Errorf("a rejected config created the user's root (stat: %v)", err)
	}
}

func TestBinaryDefaultConfig(t *testing.T) {
	const addr = "127.0.0.1:2121"
	binBuild(t)
	if l, err := net.Listen("tcp", addr); err != nil {
		t.Skipf("the built-in config listens on %s, which is not free here: %v", addr, err)
	} else {
		l.Close()
	}
	dir := t.TempDir()
	p := binStart(t, dir)
	if got := p.listening(); got != addr {
		t.Fatalf("listening on %s, want %s", got, addr)
	}
	password := p.waitMatch(p.stdout, regexp.MustCompile(`"demo" with password (\S+)`))[1]
	root := filepath.Join(dir, "ftproot")
	if fi, err := os.Stat(root); err != nil || !fi.IsDir() {
		t.Fatalf("./ftproot not created: %v", err)
	}
	pub := randomBytes(t, 100<<10)
	writeFile(t, filepath.Join(root, "pub.bin"), pub)

	// anonymous: reads, never writes.
	anon := binDial(t, addr, client1, "anonymous", "guest@example.com")
	var got bytes.Buffer
	if _, err := anon.Retr("pub.bin", &got); err != nil || sha(got.Bytes()) != sha(pub) {
		t.Fatalf("anonymous RETR: %v (sha match %v)", err, sha(got.Bytes()) == sha(pub))
	}
	_, err := anon.Stor("anon.bin", bytes.NewReader([]byte("nope")))
	expectCode(t, err, 550, "")
	if _, err := os.Stat(filepath.Join(root, "anon.bin")); !os.IsNotExist(err) {
		t.Errorf("anonymous upload left a file (stat: %v)", err)
	}

	// demo: the password printed on stdout, writable.
	bad := binDial(t, addr, client2, "", "")
	expectCode(t, bad.Login("demo", password+"x"), 530, "")
	demo := binDial(t, addr, client2, "demo", password)
	data := randomBytes(t, 1<<20)
	if n, err := demo.Stor("demo.bin", bytes.NewReader(data)); err != nil || n != int64(len(data)) {
		t.Fatalf("demo STOR: %d, %v", n, err)
	}
	if fileSHA(t, filepath.Join(root, "demo.bin")) != sha(data) {
		t.Fatal("uploaded file differs")
	}

	p.signal(syscall.SIGTERM)
	if code := p.waitExit(binWait); code != 0 {
		t.Fatalf("exit %d after SIGTERM, want 0", code)
	}
}

func TestBinarySIGHUP(t *testing.T) {
	dir := t.TempDir()
	base := `
[server]
listen = "` + hostA + `:0"

[fxp]
enabled = false

[[users]]
name = "alice"
password_hash = "` + testHash + `"
root = "{{DIR}}/alice"
`
	path := binWriteConfig(t, dir, base)
	p := binStart(t, dir, "-config", path)
	addr := p.listening()

	alice := binDial(t, addr, client1, "alice", testPass)
	expectCode(t, binDial(t, addr, client2, "", "").Login("dave", testPass), 530, "")

	// Add dave and reload.
	binWriteConfig(t, dir, base+`
[[users]]
name = "dave"
password = "`+testPass+`"
root = "{{DIR}}/dave"
`)
	reloads := strings.Count(p.stderr.String(), "configuration reloaded")
	p.signal(syscall.SIGHUP)
	p.waitCount("configuration reloaded", reloads+1)
	binDial(t, addr, client2, "dave", testPass)

	// The session opened before the reload goes on.
	for _, cmd := range []string{"NOOP", "PWD"} {
		if code, msg, err := alice.Cmd("%s", cmd); err != nil || code/100 != 2 {
			t.Fatalf("%s on the old session: %d %s %v", cmd, code, msg, err)
		}
	}
	small := randomBytes(t, 4096)
	if _, err := alice.Stor("after-reload.bin", bytes.NewReader(small)); err != nil {
		t.Fatalf("upload on the old session: %v", err)
	}
	if fileSHA(t, filepath.Join(dir, "alice", "after-reload.bin")) != sha(small) {
		t.Fatal("uploaded file differs")
	}

	// A broken file is refused; what runs stays.
	if err := os.WriteFile(path, []byte("[server]\nlisten = \""+hostA+":0\"\nbanner = \"unterminated\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	rejects := strings.Count(p.stderr.String(), "reload rejected")
	p.signal(syscall.SIGHUP)
	p.waitCount("reload rejected", rejects+1)
	var line string
	for _, l := range strings.Split(p.stderr.String(), "\n") {
		if strings.Contains(l, "reload rejected") {
			line = l
		}
	}
	for _, w := range []string{"level=ERROR", path + ":3: server.banner: TOML syntax"} {
		if !strings.Contains(line, w) {
			t.Errorf("reload error line lacks %q: %s", w, line)
		}
	}
	if p.exited() {
		t.Fatalf("ftpd exited (code %d) after a bad reload", p.code)
	}
	binDial(t, addr, client2, "dave", testPass)
	if code, msg, err := alice.Cmd("NOOP"); err != nil || code != 200 {
		t.Fatalf("NOOP on the old session: %d %s %v", code, msg, err)
	}
}

// binPausingWriter hashes what it is given; once past pauseAt bytes it
// calls pause, once, before taking more.
type binPausingWriter struct {
	h       hash.Hash
	n       int64
	pauseAt int64
	pause   func()
}

func (w *binPausingWriter) Write(b []byte) (int, error) {
	if w.pause != nil && w.n >= w.pauseAt {
		pause := w.pause
		w.pause = nil
		pause()
	}
	w.n += int64(len(b))
	return w.h.Write(b)
}

func TestBinarySIGTERM(t *testing.T) {
	config := `
[server]
listen = "` + hostA + `:0"

[log]
format = "json"

[[users]]
name = "alice"
password_hash = "` + testHash + `"
root = "{{DIR}}/alice"
`
	t.Run("idle session", func(t *testing.T) {
		dir := t.TempDir()
		p := binStart(t, dir, "-config", binWriteConfig(t, dir, config))
		addr := p.listening()
		c := binDial(t, addr, client1, "alice", testPass)
		start := time.Now()
		p.signal(syscall.SIGTERM)
		if code := p.waitExit(5 * time.Second); code != 0 {
			t.Fatalf("exit %d after SIGTERM, want 0", code)
		}
		// About 1s under -race: the race runtime sleeps before exiting.
		t.Logf("exited %v after SIGTERM", time.Since(start).Round(time.Millisecond))
		if _, _, err := c.Cmd("NOOP"); err == nil {
			t.Error("the control connection still answers after exit")
		}
	})

	t.Run("running transfer finishes", func(t *testing.T) {
		dir := t.TempDir()
		data := randomBytes(t, 64<<20)
		writeFile(t, filepath.Join(dir, "alice", "big.bin"), data)
		p := binStart(t, dir, "-config", binWriteConfig(t, dir, config))
		addr := p.listening()
		c := binDial(t, addr, client1, "alice", testPass)

		w := &binPausingWriter{h: sha256.New(), pauseAt: 1 << 20, pause: func() {
			// 1 MiB in: the server is still sending. Stop it from taking
			// new connections, then let the transfer go on.
			p.signal(syscall.SIGTERM)
			p.waitCount(`"msg":"shutting down"`, 1)
			deadline := time.Now().Add(binWait)
			for {
				nc, err := ftpclient.Dial(context.Background(), addr, ftpclient.Options{
					LocalAddr: netip.MustParseAddr(client2), Timeout: 5 * time.Second,
				})
				if err != nil {
					break
				}
				nc.Close()
				if time.Now().After(deadline) {
					t.Errorf("a shutting-down server still greets new connections")
					break
				}
				time.Sleep(10 * time.Millisecond)
			}
			if p.exited() {
				t.Errorf("ftpd exited (code %d) with a transfer running", p.code)
			}
		}}
		n, err := c.Retr("big.bin", w)
		if err != nil {
			t.Fatalf("RETR during shutdown: %v (after %d bytes)", err, n)
		}
		if w.pause != nil {
			t.Fatal("the transfer never reached 1 MiB")
		}
		if n != int64(len(data)) || hex.EncodeToString(w.h.Sum(nil)) != sha(data) {
			t.Fatalf("got %d bytes (want %d), sha match %v", n, len(data), hex.EncodeToString(w.h.Sum(nil)) == sha(data))
		}
		if code := p.waitExit(10 * time.Second); code != 0 {
			t.Fatalf("exit %d after SIGTERM, want 0", code)
		}
		if s := p.stderr.String(); strings.Contains(s, "cutting running transfers") || !strings.Contains(s, `"msg":"stopped"`) {
			t.Errorf("unexpected shutdown log:\n%s", s)
		}
	})
}

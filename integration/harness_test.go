package integration

import (
	"bytes"
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"io"

	"log/slog"
	"net"
	"net/netip"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/ftpd/ftpd/conf"
	"github.com/ftpd/ftpd/ftpclient"
	"github.com/ftpd/ftpd/server"
)

// Addresses: servers A and B, clients from .10 up. Nothing else is used.
const (
	hostA    = "127.0.0.2"
	hostB    = "127.0.0.3"
	client1  = "127.0.0.10"
	client2  = "127.0.0.11"
	testPass = "s3cret-pass"
	// bcrypt of testPass at cost 4 (fast in tests).
	testHash = "$2a$04$ZdFd7IzZ7fHS14fChZVyseMgqvV2xMPoToy/vs0GR2NzZcjwLb6Te"
)

// instance is one running in-process server.
type instance struct {
	t      testing.TB
	srv    *server.Server
	addr   string
	dir    string // holds the config file and user roots
	cfg    *conf.Config
	logs   *logBuffer
	config string // path of the config file
}

// logBuffer collects a server's log lines (JSON) for assertions.
type logBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (l *logBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.buf.Write(p)
}

func (l *logBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.buf.String()
}

// waitFor polls the log until it contains every part, or fails the test.
func (l *logBuffer) waitFor(t testing.TB, parts ...string) string {
	t.Helper()
	// Polls: returns as soon as the line is there. The deadline only
	// bounds a failing test, so it is wide enough for a loaded machine.
	deadline := time.Now().Add(30 * time.Second)
	for {
		for _, line := range strings.Split(l.String(), "\n") {
			ok := true
			for _, p := range parts {
				if !strings.Contains(line, p) {
					ok = false
					break
				}
			}
			if ok {
				return line
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("no log line with %q in:\n%s", parts, l.String())
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// serverConfig is a TOML template: {{DIR}} is the instance's directory,
// {{HOST}} its address, {{PEERS}} the other servers' exact addresses (as
// TOML strings, /32 each). Port 0 picks a free port.
func startServer(t testing.TB, host, tomlText string) *instance {
	t.Helper()
	return startServerWith(t, host, tomlText, server.Options{})
}

// startServerWith is startServer with options (an injected clock); the
// logger is the instance's own.
func startServerWith(t testing.TB, host, tomlText string, opts server.Options) *instance {
	t.Helper()
	return startServerLogOpts(t, host, tomlText, slogJSON, opts)
}

// slogJSON is the tests' default log handler.
func slogJSON(w io.Writer, opts *slog.HandlerOptions) slog.Handler {
	return slog.NewJSONHandler(w, opts)
}

// startServerLog is startServer with the server's log written by the
// handler newHandler makes (the tests' default is JSON).
func startServerLog(t testing.TB, host, tomlText string, newHandler func(io.Writer, *slog.HandlerOptions) slog.Handler) *instance {
	t.Helper()
	return startServerLogOpts(t, host, tomlText, newHandler, server.Options{})
}

// startServerLogOpts is startServer with a log handler and options; the
// options' logger is the instance's own.
func startServerLogOpts(t testing.TB, host, tomlText string, newHandler func(io.Writer, *slog.HandlerOptions) slog.Handler, opts server.Options) *instance {
	t.Helper()
	dir := t.TempDir()
	text := strings.ReplaceAll(tomlText, "{{DIR}}", dir)
	text = strings.ReplaceAll(text, "{{HOST}}", host)
	text = strings.ReplaceAll(text, "{{PEERS}}", peersOf(host))
	path := filepath.Join(dir, "ftpd.toml")
	if err := os.WriteFile(path, []byte(text), 0o600); err != nil {
		t.Fatal(err)
	}
	cfg, err := conf.Load(path)
	if err != nil {
		t.Fatalf("config: %v\n%s", err, text)
	}
	logs := &logBuffer{}
	opts.Logger = slog.New(newHandler(logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
	srv, err := server.New(cfg, opts)
	if err != nil {
		t.Fatal(err)
	}
	if err := srv.Start(); err != nil {
		t.Fatal(err)
	}
	inst := &instance{t: t, srv: srv, addr: srv.Addr().String(), dir: dir, cfg: cfg, logs: logs, config: path}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		if err := srv.Shutdown(ctx); err != nil {
			t.Errorf("shutdown %s: %v", inst.addr, err)
		}
		if t.Failed() {
			t.Logf("server %s log:\n%s", inst.addr, logs.String())
		}
	})
	return inst
}

// peersOf lists, for a server on host, the other servers the tests run
// (A, B and the third-party peer), each as its exact /32.
func peersOf(host string) string {
	var out []string
	for _, h := range []string{hostA, hostB, peerHost} {
		if h != host {
			out = append(out, `"`+h+`/32"`)
		}
	}
	return strings.Join(out, ", ")
}

// basicConfig has alice (bcrypt), bob (plain), an anonymous login and a
// read-only carol, each with a root of its own under the instance dir.
// extra is appended (more tables or [fxp]).
func basicConfig(extraServer, extra string) string {
	return `
[server]
listen = "{{HOST}}:0"
` + extraServer + `
` + extra + `
[[users]]
name = "alice"
password_hash = "` + testHash + `"
root = "{{DIR}}/alice"

[[users]]
name = "bob"
password = "` + testPass + `"
root = "{{DIR}}/bob"

[[users]]
name = "carol"
password = "` + testPass + `"
root = "{{DIR}}/carol"
read_only = true

[[users]]
name = "anonymous"
root = "{{DIR}}/pub"
`
}

// root returns a user's root directory on disk.
func (in *instance) root(user string) string {
	for _, u := range in.cfg.Users {
		if u.Name == user {
			return u.Root
		}
	}
	in.t.Fatalf("no user %q", user)
	return ""
}

// dial connects from clientIP and logs in (if user is not empty).
func (in *instance) dial(clientIP, user, pass string) *ftpclient.Conn {
	in.t.Helper()
	c, err := ftpclient.Dial(context.Background(), in.addr, ftpclient.Options{
		LocalAddr: netip.MustParseAddr(clientIP), Timeout: 15 * time.Second,
	})
	if err != nil {
		in.t.Fatal(err)
	}
	in.t.Cleanup(func() { c.Close() })
	if user != "" {
		if err := c.Login(user, pass); err != nil {
			in.t.Fatalf("login %s: %v", user, err)
		}
	}
	return c
}

func randomBytes(t testing.TB, n int) []byte {
	t.Helper()
	b := make([]byte, n)
	if _, err := rand.Read(b); err != nil {
		t.Fatal(err)
	}
	return b
}

func sha(b []byte) string {
	s := sha256.Sum256(b)
	return hex.EncodeToString(s[:])
}

func fileSHA(t testing.TB, path string) string {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return sha(b)
}

func writeFile(t testing.TB, path string, data []byte) {
	t.Helper()
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, data, 0o644); err != nil {
		t.Fatal(err)
	}
}

// expectCode fails unless err is a *ftpclient.ReplyError with code (and,
// if given, a message containing text).
func expectCode(t testing.TB, err error, code int, text string) {
	t.Helper()
	re, ok := err.(*ftpclient.ReplyError)
	if !ok {
		t.Fatalf("want reply %d, got %v", code, err)
	}
	if re.Code != code || !strings.Contains(re.Msg, text) {
		t.Fatalf("want %d containing %q, got %d %q", code, text, re.Code, re.Msg)
	}
}

// rawDial opens a bare TCP connection from localIP.
func rawDial(t testing.TB, localIP, addr string) net.Conn {
	t.Helper()
	d := net.Dialer{LocalAddr: &net.TCPAddr{IP: net.ParseIP(localIP)}, Timeout: 5 * time.Second}
	c, err := d.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

// drainCount reads c to its end in the background and sends how many
// bytes came (10 s bound on a connection left open: a hang, not speed).
func drainCount(c net.Conn) <-chan int {
	got := make(chan int, 1)
	go func() {
		_ = c.SetReadDeadline(time.Now().Add(10 * time.Second))
		n, _ := io.Copy(io.Discard, c)
		got <- int(n)
	}()
	return got
}

func mustAP(s string) netip.AddrPort { return netip.MustParseAddrPort(s) }

// listenLocal listens on ip:0 and closes the listener when the test ends.
func listenLocal(t testing.TB, ip string) net.Listener {
	t.Helper()
	l, err := net.Listen("tcp", ip+":0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { l.Close() })
	return l
}

// reload re-reads the instance's config file, as SIGHUP does.
func (in *instance) reload(t testing.TB) {
	t.Helper()
	cfg, err := conf.Load(in.config)
	if err != nil {
		t.Fatal(err)
	}
	if err := in.srv.Reload(cfg); err != nil {
		t.Fatal(err)
	}
}

// editConfig rewrites the instance's config file with edit (which gets
// and returns its text) and reloads it.
func (in *instance) editConfig(t testing.TB, edit func(string) string) {
	t.Helper()
	text, err := os.ReadFile(in.config)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(in.config, []byte(edit(string(text))), 0o600); err != nil {
		t.Fatal(err)
	}
	in.reload(t)
}

// replaceOnce is an edit for editConfig: old, which must be there, becomes
// new.
func replaceOnce(t testing.TB, old, new string) func(string) string {
	return func(text string) string {
		if !strings.Contains(text, old) {
			t.Fatalf("config lacks %q", old)
		}
		return strings.Replace(text, old, new, 1)
	}
}

// eventually polls cond until it holds or timeout passes.
func eventually(t testing.TB, timeout time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting: %s", what)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

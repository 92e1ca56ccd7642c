package driver

import (
	"bytes"
	"crypto/sha256"
	"errors"
	"io"
	"math/rand/v2"
	"net"
	"net/netip"
	"os"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/spf13/afero"
	"golang.org/x/time/rate"

	"github.com/ftpd/ftpd/acl"
)

// Addresses used by every socket in these tests: the "server" listens on
// serverIP, the "client" dials from clientIP. Nothing else is ever used.
const (
	serverIP = "127.0.0.2"
	clientIP = "127.0.0.10"
)

// authCall is what the fake hooks saw in one Authorize call. (Transfer holds
// an atomic counter, so it is not copied whole.)
type authCall struct {
	Command   string
	Path      string
	Direction acl.Direction
	Offset    int64
	Peer      netip.AddrPort
	Started   time.Time
}

type doneCall struct {
	t   *Transfer
	err error
}

// fakeHooks records Authorize and Done calls. refuse, when non-nil, is
// returned by Authorize; limiters, when non-nil, are installed on every
// authorized transfer.
type fakeHooks struct {
	mu       sync.Mutex
	refuse   error
	limiters func() []*rate.Limiter
	auths    []authCall
	dones    []doneCall
}

func (h *fakeHooks) Authorize(t *Transfer) error {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.auths = append(h.auths, authCall{
		Command: t.Command, Path: t.Path, Direction: t.Direction,
		Offset: t.Offset, Peer: t.Peer, Started: t.Started,
	})
	if h.refuse != nil {
		return h.refuse
	}
	if h.limiters != nil {
		t.Limiters = h.limiters()
	}
	return nil
}

func (h *fakeHooks) Done(t *Transfer, err error) {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.dones = append(h.dones, doneCall{t: t, err: err})
}

func (h *fakeHooks) authCalls() []authCall {
	h.mu.Lock()
	defer h.mu.Unlock()
	return append([]authCall(nil), h.auths...)
}

func (h *fakeHooks) doneCalls() []doneCall {
	h.mu.Lock()
	defer h.mu.Unlock()
	return append([]doneCall(nil), h.dones...)
}

// oneDone asserts Done was called exactly once and returns its error.
func (h *fakeHooks) oneDone(t *testing.T) error {
	t.Helper()
	d := h.doneCalls()
	if len(d) != 1 {
		t.Fatalf("Done called %d times, want 1", len(d))
	}
	return d[0].err
}

// oneAuth asserts Authorize was called exactly once and returns the call.
func (h *fakeHooks) oneAuth(t *testing.T) authCall {
	t.Helper()
	a := h.authCalls()
	if len(a) != 1 {
		t.Fatalf("Authorize called %d times, want 1", len(a))
	}
	return a[0]
}

var fixedNow = time.Date(2025, 11, 25, 12, 0, 0, 0, time.UTC)

// newRootDriver returns an FS over a RootFs in a fresh temporary directory.
func newRootDriver(t *testing.T, readOnly bool) (*FS, *fakeHooks, string) {
	t.Helper()
	dir := t.TempDir()
	rfs, err := OpenRootFs(dir)
	if err != nil {
		t.Fatalf("OpenRootFs: %v", err)
	}
	t.Cleanup(func() { rfs.Close() })
	hooks := &fakeHooks{}
	d, err := New(rfs, Options{ReadOnly: readOnly, Hooks: hooks, Now: func() time.Time { return fixedNow }})
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	return d, hooks, dir
}

func newMemDriver(t *testing.T) (*FS, *fakeHooks, afero.Fs) {
	t.Helper()
	mem := afero.NewMemMapFs()
	hooks := &fakeHooks{}
	d, err := New(mem, Options{Hooks: hooks, Now: func() time.Time { return fixedNow }})
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	return d, hooks, mem
}

// tcpPair returns a connected pair of real loopback TCP connections: server
// is the accepted end (listening on 127.0.0.2), client the dialling end
// (bound to 127.0.0.10). Both are closed at cleanup.
func tcpPair(t *testing.T) (server, client *net.TCPConn) {
	t.Helper()
	ln, err := net.Listen("tcp4", net.JoinHostPort(serverIP, "0"))
	if err != nil {
		t.Fatalf("listen: %v", err)
	}
	t.Cleanup(func() { ln.Close() })

	type accepted struct {
		c   net.Conn
		err error
	}
	ch := make(chan accepted, 1)
	go func() {
		c, err := ln.Accept()
		ch <- accepted{c, err}
	}()

	dialer := net.Dialer{
		LocalAddr: &net.TCPAddr{IP: net.ParseIP(clientIP)},
		Timeout:   10 * time.Second,
	}
	cc, err := dialer.Dial("tcp4", ln.Addr().String())
	if err != nil {
		t.Fatalf("dial: %v", err)
	}
	t.Cleanup(func() { cc.Close() })

	var a accepted
	select {
	case a = <-ch:
	case <-time.After(10 * time.Second):
		t.Fatal("accept timed out")
	}
	if a.err != nil {
		t.Fatalf("accept: %v", a.err)
	}
	t.Cleanup(func() { a.c.Close() })
	ln.Close()
	return a.c.(*net.TCPConn), cc.(*net.TCPConn)
}

// addrPortOf is the netip form of a TCP connection's local address.
func addrPortOf(t *testing.T, a net.Addr) netip.AddrPort {
	t.Helper()
	ap, err := netip.ParseAddrPort(a.String())
	if err != nil {
		t.Fatalf("parse %v: %v", a, err)
	}
	return ap
}

// receiveAll reads r to EOF in a goroutine; the result arrives on the channel.
type received struct {
	data []byte
	err  error
}

func receiveAsync(r io.Reader) <-chan received {
	ch := make(chan received, 1)
	go func() {
		var buf bytes.Buffer
		_, err := io.Copy(&buf, r)
		ch <- received{buf.Bytes(), err}
	}()
	return ch
}

func waitReceived(t *testing.T, ch <-chan received) received {
	t.Helper()
	select {
	case r := <-ch:
		return r
	case <-time.After(60 * time.Second):
		t.Fatal("receiver timed out")
		return received{}
	}
}

// sendAsync writes data to c then half-closes it (EOF for the reader).
func sendAsync(c *net.TCPConn, data []byte) <-chan error {
	ch := make(chan error, 1)
	go func() {
		_, err := c.Write(data)
		if cerr := c.CloseWrite(); err == nil {
			err = cerr
		}
		ch <- err
	}()
	return ch
}

func waitErr(t *testing.T, ch <-chan error) error {
	t.Helper()
	select {
	case err := <-ch:
		return err
	case <-time.After(60 * time.Second):
		t.Fatal("timed out")
		return nil
	}
}

// randomBytes returns n reproducible pseudo-random bytes.
func randomBytes(n int, seed uint64) []byte {
	r := rand.New(rand.NewPCG(seed, seed^0x9e3779b97f4a7c15))
	b := make([]byte, n)
	for i := range b {
		b[i] = byte(r.Uint32())
	}
	return b
}

func sum(b []byte) [32]byte { return sha256.Sum256(b) }

func writeFile(t *testing.T, path string, data []byte) {
	t.Helper()
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, data, 0o644); err != nil {
		t.Fatal(err)
	}
}

func readFile(t *testing.T, path string) []byte {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("read %s: %v", path, err)
	}
	return b
}

func mustNotExist(t *testing.T, path string) {
	t.Helper()
	if _, err := os.Lstat(path); !errors.Is(err, os.ErrNotExist) {
		t.Fatalf("%s: want not exist, got err=%v", path, err)
	}
}

func memRead(t *testing.T, fs afero.Fs, name string) []byte {
	t.Helper()
	b, err := afero.ReadFile(fs, name)
	if err != nil {
		t.Fatalf("read %s: %v", name, err)
	}
	return b
}

// sentinel is a file outside every root; tests check it is never read,
// modified or replaced through a jailed FS.
type sentinel struct {
	dir, path string
	data      []byte
	info      os.FileInfo
}

func newSentinel(t *testing.T) *sentinel {
	t.Helper()
	dir := t.TempDir()
	s := &sentinel{dir: dir, path: filepath.Join(dir, "secret"), data: []byte("OUTSIDE-THE-JAIL sentinel 7f3a9c\n")}
	writeFile(t, s.path, s.data)
	// A fixed mtime makes any modification (write, chtimes) visible.
	old := time.Date(2001, 2, 3, 4, 5, 6, 0, time.UTC)
	if err := os.Chtimes(s.path, old, old); err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(s.path, 0o640); err != nil {
		t.Fatal(err)
	}
	info, err := os.Stat(s.path)
	if err != nil {
		t.Fatal(err)
	}
	s.info = info
	return s
}

// check asserts the sentinel and its directory are exactly as created.
func (s *sentinel) check(t *testing.T) {
	t.Helper()
	info, err := os.Lstat(s.path)
	if err != nil {
		t.Fatalf("sentinel gone: %v", err)
	}
	if info.Mode() != s.info.Mode() || info.Size() != s.info.Size() || !info.ModTime().Equal(s.info.ModTime()) {
		t.Fatalf("sentinel changed: mode %v->%v size %d->%d mtime %v->%v",
			s.info.Mode(), info.Mode(), s.info.Size(), info.Size(), s.info.ModTime(), info.ModTime())
	}
	if got := readFile(t, s.path); !bytes.Equal(got, s.data) {
		t.Fatalf("sentinel content changed: %q", got)
	}
	entries, err := os.ReadDir(s.dir)
	if err != nil {
		t.Fatal(err)
	}
	if len(entries) != 1 || entries[0].Name() != "secret" {
		names := []string{}
		for _, e := range entries {
			names = append(names, e.Name())
		}
		t.Fatalf("sentinel directory changed: %v", names)
	}
}

// noLeak fails if b contains the sentinel's content.
func (s *sentinel) noLeak(t *testing.T, what string, b []byte) {
	t.Helper()
	if bytes.Contains(b, s.data) {
		t.Fatalf("%s revealed the sentinel's content", what)
	}
}

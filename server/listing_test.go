package server

import (
	"bufio"
	"bytes"
	"context"
	"crypto/tls"
	"crypto/x509"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/netip"
	"os"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/spf13/afero"

	"github.com/ftpd/ftpd/conf"
	"github.com/ftpd/ftpd/ftpclient"
	"github.com/ftpd/ftpd/testcert"
)

const (
	listHost   = "127.0.0.2"
	listClient = "127.0.0.10"
	listPass   = "list-pass"
)

// listTLS is a server certificate's TOML table and the client config that
// trusts it.
type listTLS struct {
	table  string
	client *tls.Config
}

func newListTLS(t *testing.T) *listTLS {
	t.Helper()
	dir := t.TempDir()
	f, err := testcert.Write(dir, netip.MustParseAddr(listHost))
	if err != nil {
		t.Fatal(err)
	}
	pool := x509.NewCertPool()
	pool.AddCert(f.Leaf)
	return &listTLS{
		table: fmt.Sprintf("[server.tls]\nmode = \"explicit\"\ncert_file = %q\nkey_file = %q\n", f.Cert, f.Key),
		// One session cache for control and data connections.
		client: &tls.Config{RootCAs: pool, MinVersion: tls.VersionTLS12, ServerName: listHost,
			ClientSessionCache: tls.NewLRUClientSessionCache(4)},
	}
}

// startListServer starts an in-process ftpd on listHost with user alice
// on backend ("os": root is a directory; "memory": a memory root) and
// returns it; buffered makes it let the library render listings from the
// whole slice (ftpd's streaming off).
func startListServer(t *testing.T, backend, root string, tl *listTLS, buffered bool) *Server {
	t.Helper()
	text := "[server]\nlisten = \"" + listHost + ":0\"\n"
	if tl != nil {
		text += tl.table
	}
	text += fmt.Sprintf("[[users]]\nname = \"alice\"\npassword = %q\nbackend = %q\nroot = %q\n", listPass, backend, root)
	cfg, err := conf.Parse("list.toml", []byte(text))
	if err != nil {
		t.Fatal(err)
	}
	s, err := New(cfg, Options{Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		t.Fatal(err)
	}
	s.bufferListings = buffered
	if err := s.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		if err := s.Shutdown(ctx); err != nil {
			t.Errorf("shutdown: %v", err)
		}
	})
	return s
}

func dialList(t *testing.T, s *Server, tl *listTLS) *ftpclient.Conn {
	t.Helper()
	opts := ftpclient.Options{LocalAddr: netip.MustParseAddr(listClient), Timeout: 60 * time.Second}
	if tl != nil {
		opts.TLS = tl.client
	}
	c, err := ftpclient.Dial(context.Background(), s.Addr().String(), opts)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	if err := c.Login("alice", listPass); err != nil {
		t.Fatal(err)
	}
	return c
}

// pasvConn sends PASV and connects to the port from listClient.
func pasvConn(t *testing.T, c *ftpclient.Conn) net.Conn {
	t.Helper()
	addr, err := c.Pasv()
	if err != nil {
		t.Fatal(err)
	}
	d := net.Dialer{LocalAddr: &net.TCPAddr{IP: net.ParseIP(listClient)}, Timeout: 30 * time.Second}
	conn, err := d.Dial("tcp", addr.String())
	if err != nil {
		t.Fatal(err)
	}
	return conn
}

// listRaw runs a listing command over PASV and hands its data connection
// (TLS when tl is set) to read; it returns the final reply.
func listRaw(t *testing.T, c *ftpclient.Conn, tl *listTLS, line string, read func(r io.Reader) error) (int, string) {
	t.Helper()
	conn := pasvConn(t, c)
	defer conn.Close()
	code, msg, err := c.Cmd("%s", line)
	if err != nil {
		t.Fatal(err)
	}
	if code != 150 && code != 125 {
		return code, msg
	}
	var r io.Reader = conn
	if tl != nil {
		r = tls.Client(conn, tl.client)
	}
	if err := read(r); err != nil {
		t.Fatalf("%s: data: %v", line, err)
	}
	conn.Close()
	code, msg, err = c.ReadReply()
	if err != nil {
		t.Fatal(err)
	}
	return code, msg
}

// listBytes is a listing's bytes and final reply, as one string.
func listBytes(t *testing.T, c *ftpclient.Conn, tl *listTLS, line string) string {
	t.Helper()
	var got []byte
	code, msg := listRaw(t, c, tl, line, func(r io.Reader) error {
		var err error
		got, err = io.ReadAll(r)
		return err
	})
	return fmt.Sprintf("%s -> %d %s\n%s", line, code, msg, got)
}

// guardTree makes the tree the guard test lists, through fs.
func guardTree(t *testing.T, fs afero.Fs) {
	t.Helper()
	old := time.Now().AddDate(-2, 0, 0)
	for _, d := range []string{"/sub", "/sub2/deeper", "/empty", "/dir with space"} {
		if err := fs.MkdirAll(d, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	files := map[string]string{
		"/a.txt": "hello", "/b c.txt": "with spaces", "/old.bin": "old", "/sub/x": "x",
		"/sub/y y": "yy", "/sub2/deeper/z": "zzz", "/.hidden": "dot",
		"/.ftpd-upload-0123456789abcdef0123456789abcdef": "a partial upload: never listed",
	}
	for name, body := range files {
		if err := afero.WriteFile(fs, name, []byte(body), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	if err := fs.Chtimes("/old.bin", old, old); err != nil {
		t.Fatal(err)
	}
	if err := fs.Chtimes("/sub", old, old); err != nil {
		t.Fatal(err)
	}
}

// guardCommands lists the tree in every way the library renders: LIST
// with and without its options, NLST relative and absolute, from the root
// and from a subdirectory, MLSD, and file paths (the library's own path).
func guardCommands(t *testing.T, c *ftpclient.Conn, tl *listTLS) []string {
	t.Helper()
	var out []string
	for _, line := range []string{"LIST", "LIST -a", "LIST -l", "LIST -al", "LIST sub", "LIST /dir with space",
		"NLST", "NLST sub", "NLST /sub", "NLST sub2/deeper", "MLSD", "MLSD sub", "LIST empty", "MLSD empty",
		"LIST a.txt", "NLST b c.txt", "LIST missing"} {
		out = append(out, listBytes(t, c, tl, line))
	}
	if _, err := c.Expect(250, "CWD /sub2/deeper"); err != nil {
		t.Fatal(err)
	}
	for _, line := range []string{"NLST", "NLST ..", "NLST ../..", "NLST /sub", "NLST ../../sub", "LIST ../..", "MLSD /", "NLST /"} {
		out = append(out, listBytes(t, c, tl, line))
	}
	return out
}

// TestListingMatchesLibrary is the guard of the listing hook (package
// listing): ftpd's streamed LIST, NLST and MLSD are byte for byte what
// the FTP library renders itself from the whole directory, on disk and
// in memory, clear and under PROT P. A library upgrade that stops
// calling ReadDir, stops writing an empty listing through the connection
// it was given, or changes its format, fails here.
func TestListingMatchesLibrary(t *testing.T) {
	tl := newListTLS(t)
	for _, backend := range []string{"os", "memory"} {
		for _, prot := range []string{"clear", "PROT P"} {
			t.Run(backend+" "+prot, func(t *testing.T) {
				var ptl *listTLS
				if prot == "PROT P" {
					ptl = tl
				}
				root := "/alice"
				if backend == "os" {
					root = t.TempDir()
				}
				streamed := startListServer(t, backend, root, tl, false)
				library := startListServer(t, backend, root, tl, true)
				if backend == "os" {
					guardTree(t, afero.NewBasePathFs(afero.NewOsFs(), root))
				} else {
					u := &conf.User{Name: "alice", Root: root, Backend: conf.BackendMemory}
					for _, s := range []*Server{streamed, library} {
						fs, release, err := s.storage.Open(context.Background(), u)
						if err != nil {
							t.Fatal(err)
						}
						guardTree(t, fs)
						_ = release()
					}
				}
				got := guardCommands(t, dialList(t, streamed, ptl), ptl)
				want := guardCommands(t, dialList(t, library, ptl), ptl)
				for i := range want {
					if got[i] != want[i] {
						t.Errorf("streamed differs from the library:\n--- streamed\n%s\n--- library\n%s", got[i], want[i])
					}
				}
				all := strings.Join(got, "\n")
				for _, must := range []string{"b c.txt\r\n", "sub/y y\r\n", "../../sub/x\r\n", "Type=dir;", " old.bin\r\n"} {
					if !strings.Contains(all, must) {
						t.Errorf("listings lack %q:\n%s", must, all)
					}
				}
				if strings.Contains(all, ".ftpd-upload-") {
					t.Errorf("a partial upload was listed:\n%s", all)
				}
				if y := strconv.Itoa(time.Now().AddDate(-2, 0, 0).Year()); !strings.Contains(all, "  "+y+" old.bin") {
					t.Errorf("old.bin not listed with its year %s:\n%s", y, all)
				}
			})
		}
	}
}

// bigDirEntries is the size of the flat-memory test's directory.
const bigDirEntries = 100000

// heapProbe measures the process's live heap (after a collection) against
// a baseline: the server runs in this process, so its listing is in it.
type heapProbe struct {
	base uint64
	max  uint64
}

func liveHeap() uint64 {
	runtime.GC()
	var m runtime.MemStats
	runtime.ReadMemStats(&m)
	return m.HeapAlloc
}

func (p *heapProbe) sample() {
	if h := liveHeap(); h > p.base && h-p.base > p.max {
		p.max = h - p.base
	}
}

// listBig lists the big directory with line (LIST or MLSD) and checks
// that every entry f000000..f099999 arrives exactly once. It samples the
// live heap when the first entry arrives and after every tenth of them:
// points fixed by the listing's progress, not by time. The server is
// ahead of the client by at most the sockets' buffers, so every sample
// falls while the server is still listing.
func listBig(t *testing.T, c *ftpclient.Conn, line string) (growth uint64) {
	t.Helper()
	p := &heapProbe{base: liveHeap()}
	seen := make([]uint64, (bigDirEntries+63)/64)
	n := 0
	code, msg := listRaw(t, c, nil, line, func(r io.Reader) error {
		br := bufio.NewReaderSize(r, 64<<10)
		for {
			l, err := br.ReadSlice('\n')
			if err == io.EOF && len(l) == 0 {
				return nil
			}
			if err != nil {
				return err
			}
			name := string(l[bytes.LastIndexByte(l, ' ')+1 : len(l)-2])
			i, perr := strconv.Atoi(strings.TrimPrefix(name, "f"))
			if perr != nil || i < 0 || i >= bigDirEntries || !strings.HasPrefix(name, "f") {
				return fmt.Errorf("unexpected entry %q", l)
			}
			if seen[i/64]&(1<<(i%64)) != 0 {
				return fmt.Errorf("entry %q listed twice", name)
			}
			seen[i/64] |= 1 << (i % 64)
			n++
			if n == 1 || n%(bigDirEntries/10) == 0 {
				p.sample()
			}
		}
	})
	if code != 226 || n != bigDirEntries {
		t.Fatalf("%s: %d entries, reply %d %s", line, n, code, msg)
	}
	return p.max
}

// TestListingFlatMemory lists a directory of 100 000 files with LIST and
// MLSD: streamed, the server's live heap grows by less than
// listingHeapBound whatever the directory's size; rendered by the library
// from the whole slice (ftpd's streaming off), it grows with the
// directory. Both are measured and logged; every entry arrives once.
func TestListingFlatMemory(t *testing.T) {
	root := t.TempDir()
	makeFiles(t, filepath.Join(root, "big"), bigDirEntries)
	streamed := dialList(t, startListServer(t, "os", root, nil, false), nil)
	library := dialList(t, startListServer(t, "os", root, nil, true), nil)
	for _, verb := range []string{"LIST", "MLSD"} {
		on := listBig(t, streamed, verb+" big")
		off := listBig(t, library, verb+" big")
		t.Logf("%s of %d entries: live heap growth %d KiB streamed, %d KiB rendered by the library from the whole slice",
			verb, bigDirEntries, on>>10, off>>10)
		if on >= listingHeapBound {
			t.Errorf("%s streamed: the live heap grew by %d KiB, over %d KiB", verb, on>>10, listingHeapBound>>10)
		}
		if off < 4*listingHeapBound {
			t.Errorf("%s by the library: the live heap grew by %d KiB only: the probe does not see a whole listing", verb, off>>10)
		}
	}
}

// listingHeapBound is what one streamed listing may add to the live heap:
// a page of 1000 entries, the 32 KiB buffer, and the client's own 64 KiB
// reader in this process, with room to spare.
const listingHeapBound = 4 << 20

// makeFiles creates n empty files f000000... in dir.
func makeFiles(t *testing.T, dir string, n int) {
	t.Helper()
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	for i := range n {
		f, err := os.Create(filepath.Join(dir, fmt.Sprintf("f%06d", i)))
		if err != nil {
			t.Fatal(err)
		}
		f.Close()
	}
}

// pendingListing is the server's only session's pending listing.
func pendingListing(t *testing.T, s *Server) bool {
	t.Helper()
	sessions := s.allSessions()
	if len(sessions) != 1 {
		t.Fatalf("%d sessions, want 1", len(sessions))
	}
	sessions[0].list.mu.Lock()
	defer sessions[0].list.mu.Unlock()
	return sessions[0].list.pending != nil
}

// TestListingStatBounded: STAT of a directory, which the library lists on
// the control connection from the whole directory, is refused past
// statMaxEntries entries instead of growing with it; a smaller one is
// listed as before. (Failed before: STAT listed all 10001 entries, 212.)
func TestListingStatBounded(t *testing.T) {
	root := t.TempDir()
	makeFiles(t, filepath.Join(root, "big"), statMaxEntries+1)
	makeFiles(t, filepath.Join(root, "small"), 3)
	c := dialList(t, startListServer(t, "os", root, nil, false), nil)
	code, msg, err := c.Cmd("STAT big")
	if err != nil {
		t.Fatal(err)
	}
	if code != 450 || !strings.Contains(msg, "more than 10000 entries") {
		t.Fatalf("STAT big: %d %s", code, msg)
	}
	code, msg, err = c.Cmd("STAT small")
	if err != nil {
		t.Fatal(err)
	}
	if code != 212 || !strings.Contains(msg, "f000002") {
		t.Fatalf("STAT small: %d %s", code, msg)
	}
}

// TestListingFailClosed: a listing that never reaches its data
// connection leaves nothing pending; a listing pipelined with the next
// command (which the control screen sees before the library runs the
// listing) is listed whole; ABOR in the middle of a streamed listing gets
// the library's 426 and 226, and the next listing is whole.
func TestListingFailClosed(t *testing.T) {
	const n = 20000
	root := t.TempDir()
	makeFiles(t, filepath.Join(root, "big"), n)
	s := startListServer(t, "os", root, nil, false)
	c := dialList(t, s, nil)

	// No data connection prepared: the listing fails before its handover.
	code, msg, err := c.Cmd("LIST big")
	if err != nil {
		t.Fatal(err)
	}
	if code < 400 {
		t.Fatalf("LIST without PASV: %d %s", code, msg)
	}
	if pendingListing(t, s) {
		t.Fatal("a listing that failed before its data connection is still pending")
	}

	count := func(r io.Reader) (int, error) {
		br := bufio.NewReader(r)
		got := 0
		for {
			_, err := br.ReadSlice('\n')
			if err == io.EOF {
				return got, nil
			}
			if err != nil {
				return got, err
			}
			got++
		}
	}
	// LIST and NOOP sent back to back.
	conn := pasvConn(t, c)
	for _, cmd := range []string{"LIST big", "NOOP"} { // no reply awaited in between
		if err := c.Send("%s", cmd); err != nil {
			t.Fatal(err)
		}
	}
	got, err := count(conn)
	conn.Close()
	if err != nil {
		t.Fatal(err)
	}
	var codes []int
	for range 3 {
		code, _, err := c.ReadReply()
		if err != nil {
			t.Fatal(err)
		}
		codes = append(codes, code)
	}
	if got != n || fmt.Sprint(codes) != "[150 226 200]" {
		t.Fatalf("pipelined LIST: %d of %d entries, replies %v", got, n, codes)
	}

	// ABOR after the first line.
	conn = pasvConn(t, c)
	if _, err := c.Expect(150, "LIST big"); err != nil {
		t.Fatal(err)
	}
	if _, err := bufio.NewReader(conn).ReadString('\n'); err != nil {
		t.Fatal(err)
	}
	if err := c.Send("ABOR"); err != nil {
		t.Fatal(err)
	}
	codes = codes[:0]
	for range 2 {
		code, _, err := c.ReadReply()
		if err != nil {
			t.Fatal(err)
		}
		codes = append(codes, code)
	}
	conn.Close()
	if fmt.Sprint(codes) != "[426 226]" {
		t.Fatalf("ABOR during a listing: replies %v", codes)
	}
	code, msg = listRaw(t, c, nil, "MLSD big", func(r io.Reader) error {
		var err error
		got, err = count(r)
		return err
	})
	if code != 226 || got != n {
		t.Fatalf("MLSD after ABOR: %d of %d entries, reply %d %s", got, n, code, msg)
	}
}

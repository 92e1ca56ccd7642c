package integration

import (
	"bufio"
	"fmt"
	"io"
	"log"
	"net"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"os"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/ftpd/ftpd/ftpclient"
	"github.com/ftpd/ftpd/storage/s3store/s3test"
)

// listGate is an HTTP proxy between ftpd and its S3 store that counts the
// ListObjectsV2 requests for directory pages and holds the first one that asks for a second
// page (it carries a continuation token) until released.
type listGate struct {
	mu       sync.Mutex
	pages    int           // directory pages forwarded
	held     bool          // a next-page request is waiting at the gate
	arrived  chan struct{} // closed when it arrives
	released chan struct{} // closed to let it through
	once     sync.Once
}

func startListGate(t *testing.T, endpoint string) (*listGate, string) {
	t.Helper()
	target, err := url.Parse(endpoint)
	if err != nil {
		t.Fatal(err)
	}
	g := &listGate{arrived: make(chan struct{}), released: make(chan struct{})}
	proxy := &httputil.ReverseProxy{Rewrite: func(r *httputil.ProxyRequest) {
		r.SetURL(target)
		r.Out.Host = r.In.Host // signed by the SDK
	}, ErrorLog: log.New(io.Discard, "", 0)} // a killed store is the point
	srv := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		q := r.URL.Query()
		// A directory page: ListObjectsV2 with "/" as delimiter (Stat
		// lists too, one key, without a delimiter).
		if r.Method == http.MethodGet && q.Get("list-type") == "2" && q.Get("delimiter") == "/" {
			if q.Get("continuation-token") != "" {
				g.mu.Lock()
				first := !g.held
				g.held = true
				g.mu.Unlock()
				if first {
					close(g.arrived)
					<-g.released
				}
			}
			g.mu.Lock()
			g.pages++
			g.mu.Unlock()
		}
		proxy.ServeHTTP(w, r)
	}))
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	srv.Listener = l
	srv.Start()
	t.Cleanup(srv.Close)
	t.Cleanup(g.release) // before srv.Close: a held request must end
	return g, srv.URL
}

func (g *listGate) release() { g.once.Do(func() { close(g.released) }) }

func (g *listGate) forwarded() int {
	g.mu.Lock()
	defer g.mu.Unlock()
	return g.pages
}

// s3BigDir writes n empty objects sam/big/f000000... as plain files in
// versitygw's directory (it serves them as objects).
func s3BigDir(t *testing.T, store *s3test.Server, n int) {
	t.Helper()
	dir := filepath.Join(store.Dir, "ftp", "sam", "big")
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	for i := range n {
		if err := os.WriteFile(filepath.Join(dir, fmt.Sprintf("f%06d", i)), nil, 0o644); err != nil {
			t.Fatal(err)
		}
	}
}

// s3Entries reads listing lines and checks that each names one of
// f000000..f(n-1), once; it returns how many arrived. each, if set, runs
// after every entry with the count so far.
func s3Entries(r *bufio.Reader, seen []bool, each func(got int)) (int, error) {
	got := 0
	for {
		l, err := r.ReadString('\n')
		if err == io.EOF && l == "" {
			return got, nil
		}
		if err != nil {
			return got, err
		}
		l = strings.TrimSuffix(l, "\r\n")
		name := l[strings.LastIndexByte(l, ' ')+1:]
		name = name[strings.LastIndexByte(name, '/')+1:] // NLST big
		i, perr := strconv.Atoi(strings.TrimPrefix(name, "f"))
		if perr != nil || i < 0 || i >= len(seen) {
			return got, fmt.Errorf("unexpected entry %q", l)
		}
		if seen[i] {
			return got, fmt.Errorf("%q listed twice", name)
		}
		seen[i] = true
		got++
		if each != nil {
			each(got)
		}
	}
}

// s3ListSize is the size of the S3 listing test's directory: 2500
// objects (three ListObjectsV2 pages), or FTPD_S3_BIGDIR (e.g. 100000).
func s3ListSize() int {
	if n, err := strconv.Atoi(os.Getenv("FTPD_S3_BIGDIR")); err == nil && n > 2000 {
		return n
	}
	return 2500
}

// TestS3ListingStreams lists a directory of s3ListSize() objects (three
// ListObjectsV2 pages by default) on S3 with LIST, NLST and MLSD: each entry arrives
// once, the first page reaches the client while the request for the
// second page is held at a proxy in front of the store (the listing
// streams page by page), and the server's live heap grows by less than
// 4 MiB. (Before, the library read every page before the
// first byte: the client waited at the gate until the test gave up.)
func TestS3ListingStreams(t *testing.T) {
	n := s3ListSize()
	store := s3test.Start(t)
	_ = store.Store(t, "ftp", 5<<20, 10<<20) // creates the bucket
	s3BigDir(t, store, n)
	for _, verb := range []string{"LIST", "NLST", "MLSD"} {
		t.Run(verb, func(t *testing.T) {
			gate, endpoint := startListGate(t, store.Endpoint)
			in := startServer(t, hostA, s3Config(endpoint, ""))
			c := in.dial(client1, "sam", testPass)
			conn := openStor(t, c, client1, verb, "big")
			_ = conn.SetReadDeadline(time.Now().Add(60 * time.Second)) // only a failing run waits this long
			r := bufio.NewReader(conn)
			first, err := r.ReadString('\n')
			if err != nil {
				t.Fatalf("no listing byte while the second page is held: %v", err)
			}
			select {
			case <-gate.arrived:
			case <-time.After(60 * time.Second):
				t.Fatal("ftpd never asked for the second page")
			}
			before := gate.forwarded()
			gate.release()
			seen := make([]bool, n)
			// The server runs in this process: its live heap is sampled
			// after every tenth of the entries (points fixed by the
			// listing's progress; the server is ahead of the client by
			// the sockets' buffers at most, so it is still listing).
			base, growth := liveHeap(), uint64(0)
			got, err := s3Entries(bufio.NewReader(io.MultiReader(strings.NewReader(first), r)), seen, func(got int) {
				if got%(n/10) == 0 {
					if h := liveHeap(); h > base {
						growth = max(growth, h-base)
					}
				}
			})
			if err != nil {
				t.Fatal(err)
			}
			code, msg, err := c.ReadReply()
			if err != nil {
				t.Fatal(err)
			}
			if code != 226 || got != n {
				t.Fatalf("%s big: %d of %d entries, reply %d %s", verb, got, n, code, msg)
			}
			if before != 1 {
				t.Fatalf("%d ListObjectsV2 pages were fetched before the first listing byte, want 1", before)
			}
			t.Logf("%s: first line %q arrived after 1 ListObjectsV2 page; %d pages in all; live heap growth %d KiB",
				verb, strings.TrimSpace(first), gate.forwarded(), growth>>10)
			if growth >= 4<<20 {
				t.Errorf("%s of %d objects: the live heap grew by %d KiB, over 4096 KiB", verb, n, growth>>10)
			}
		})
	}
}

// s3ListingAtPage2 starts versitygw with a directory of n objects behind
// a listGate and an ftpd on it, and runs verb on the directory until the
// request for its second page waits at the gate.
func s3ListingAtPage2(t *testing.T, n int, verb string) (*s3test.Server, *listGate, *ftpclient.Conn, *net.TCPConn) {
	t.Helper()
	store := s3test.Start(t)
	_ = store.Store(t, "ftp", 5<<20, 10<<20)
	s3BigDir(t, store, n)
	gate, endpoint := startListGate(t, store.Endpoint)
	in := startServer(t, hostA, s3Config(endpoint, ""))
	c := in.dial(client1, "sam", testPass)
	conn := openStor(t, c, client1, verb, "big")
	select {
	case <-gate.arrived:
	case <-time.After(60 * time.Second): // only a failing run waits this long
		t.Fatal("ftpd never asked for the second page")
	}
	return store, gate, c, conn
}

// TestS3ListingStoreKilled: the store dies after the first page of a
// listing: the client gets the first page, then 451, never 226.
func TestS3ListingStoreKilled(t *testing.T) {
	const n = 2500
	store, gate, c, conn := s3ListingAtPage2(t, n, "LIST")
	_ = conn.SetReadDeadline(time.Now().Add(120 * time.Second)) // the SDK retries a dead store with backoff
	store.Kill()
	gate.release()
	seen := make([]bool, n)
	got, err := s3Entries(bufio.NewReader(conn), seen, nil)
	if err != nil {
		t.Fatal(err)
	}
	code, msg, err := c.ReadReply()
	if err != nil {
		t.Fatal(err)
	}
	if code != 451 || got >= n {
		t.Fatalf("LIST through a killed store: reply %d %s after %d of %d entries", code, msg, got, n)
	}
	t.Logf("reply %d %s after %d of %d entries", code, msg, got, n)
}

// TestS3ListingClientGone: the client resets the data connection after
// the first page of a listing: the next page's write fails and the reply
// is 426, not 226 (the library would say 550).
func TestS3ListingClientGone(t *testing.T) {
	_, gate, c, conn := s3ListingAtPage2(t, 2500, "MLSD")
	_ = conn.SetLinger(0)
	conn.Close() // a reset: the server's next write fails at once
	gate.release()
	code, msg, err := c.ReadReply()
	if err != nil {
		t.Fatal(err)
	}
	if code != 426 {
		t.Fatalf("MLSD to a client that reset the data connection: reply %d %s", code, msg)
	}
	t.Logf("reply %d %s", code, msg)
}

// liveHeap is the process's live heap after a collection.
func liveHeap() uint64 {
	runtime.GC()
	var m runtime.MemStats
	runtime.ReadMemStats(&m)
	return m.HeapAlloc
}

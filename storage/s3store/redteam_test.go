package s3store_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"log"
	"net"
	"net/http"
	"net/http/httputil"
	"net/url"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"

	"github.com/ftpd/ftpd/conf"
	"github.com/ftpd/ftpd/storage/s3store"
	"github.com/ftpd/ftpd/storage/s3store/s3test"
)

// silentStore is a TCP endpoint that accepts connections and reads
// requests but never answers: a store that hangs.
func silentStore(t *testing.T) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	var mu sync.Mutex
	var conns []net.Conn
	go func() {
		for {
			c, err := l.Accept()
			if err != nil {
				return
			}
			mu.Lock()
			conns = append(conns, c)
			mu.Unlock()
			go func() {
				buf := make([]byte, 4096)
				for {
					if _, err := c.Read(buf); err != nil {
						return
					}
				}
			}()
		}
	}()
	t.Cleanup(func() {
		l.Close()
		mu.Lock()
		defer mu.Unlock()
		for _, c := range conns {
			c.Close()
		}
	})
	return "http://" + l.Addr().String()
}

func testCreds(t *testing.T) {
	dir := t.TempDir()
	t.Setenv("AWS_ACCESS_KEY_ID", "k")
	t.Setenv("AWS_SECRET_ACCESS_KEY", "s")
	t.Setenv("AWS_CONFIG_FILE", filepath.Join(dir, "none"))
	t.Setenv("AWS_SHARED_CREDENTIALS_FILE", filepath.Join(dir, "none"))
	t.Setenv("AWS_EC2_METADATA_DISABLED", "true")
}

// TestSilentStoreBounded: a store that accepts connections and never
// answers does not hold a command forever. Each of Stat (SIZE, MDTM, CWD),
// Mkdir, Remove, Rename, Chtimes, a listing and a token spend fails once the request
// timeout passes (was: blocked until the session's context ended, which
// is never while the session's only goroutine waits in the command).
func TestSilentStoreBounded(t *testing.T) {
	testCreds(t)
	st, err := s3store.New(context.Background(), s3store.Config{
		Endpoint: silentStore(t), Region: "us-east-1", Bucket: "ftp", PathStyle: true,
		PartSize: 5 * mib, UploadMemory: 5 * mib, RequestTimeout: 200 * time.Millisecond,
	})
	if err != nil {
		t.Fatal(err)
	}
	fs, err := st.Fs(context.Background(), "u/")
	if err != nil {
		t.Fatal(err)
	}
	ops := map[string]func() error{
		"stat":    func() error { _, err := fs.Stat("x"); return err },
		"mkdir":   func() error { return fs.Mkdir("d", 0o755) },
		"remove":  func() error { return fs.Remove("x") },
		"rename":  func() error { return fs.Rename("x", "y") },
		"chtimes": func() error { return fs.Chtimes("x", time.Now(), time.Now()) },
		// A token login's spend (tokens.spent_store = "s3").
		"spend": func() error {
			_, err := st.Spent(nil).Spend(context.Background(), "tok", 1, time.Now().Add(time.Hour))
			if err != nil {
				err = fmt.Errorf("%w: %w", s3store.ErrStore, err)
			}
			return err
		},
		"list": func() error {
			d, err := fs.Open("/")
			if err != nil {
				return err
			}
			defer d.Close()
			_, err = d.Readdir(-1)
			return err
		},
	}
	for name, op := range ops {
		done := make(chan error, 1)
		go func() { done <- op() }()
		select {
		case err := <-done:
			if err == nil {
				t.Errorf("%s on a silent store succeeded", name)
			}
			if !errors.Is(err, s3store.ErrStore) {
				t.Errorf("%s on a silent store: %v, want a store error", name, err)
			}
		case <-time.After(30 * time.Second): // 150x the 200 ms timeout: a loaded machine cannot reach it
			t.Fatalf("%s on a silent store still blocked after 30 s", name)
		}
	}
}

// TestListingSkipsUnaddressableNames: keys another writer put in the
// bucket whose names no FTP command can address — with CR, LF or other
// control characters (C0, DEL, C1) — are left out of
// listings: a name with CRLF would forge lines of a LIST reply for a
// client parsing it (was: every such name listed as is).
func TestListingSkipsUnaddressableNames(t *testing.T) {
	srv := s3test.Start(t)
	st := srv.Store(t, "ftp", 5*mib, 5*mib)
	dir := filepath.Join(srv.Dir, "ftp", "u")
	bad := []string{
		"evil\r\n-rw-r--r-- 1 ftp ftp 999 Jan  1 00:00 forged",
		"lf\nname", "cr\rname", "tab\tname", "del\x7f", "c1\u0085nel", "c1\u009bcsi",
	}
	// (ESC and the other C0 controls but TAB, LF and CR cannot pass XML
	// 1.0: the listing shows U+FFFD in their place.)
	for _, n := range bad {
		if err := os.MkdirAll(dir, 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(dir, n), []byte("x"), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	if err := os.MkdirAll(filepath.Join(dir, "sub\nforged"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "sub\nforged", "f"), []byte("x"), 0o644); err != nil {
		t.Fatal(err)
	}
	for _, good := range []string{"ok", "é ü", "\u202ebidi"} {
		s3test.Put(t, st, "u/"+good, []byte("x"))
	}
	fs, _ := st.Fs(context.Background(), "u/")
	d, err := fs.Open("/")
	if err != nil {
		t.Fatal(err)
	}
	defer d.Close()
	names, err := d.Readdirnames(-1)
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]bool{"ok": true, "é ü": true, "\u202ebidi": true}
	for _, n := range names {
		if !want[n] {
			t.Errorf("listed %q", n)
		}
		delete(want, n)
	}
	for n := range want {
		t.Errorf("%q missing from the listing", n)
	}
}

// proxyStore starts a real HTTP proxy in front of srv; hook sees every
// request first and may answer it itself (returning true). It returns a
// Store (bucket "ftp", which must exist) that reaches srv through the
// proxy.
func proxyStore(t *testing.T, srv *s3test.Server, hook func(w http.ResponseWriter, r *http.Request) bool) *s3store.Store {
	t.Helper()
	target, err := url.Parse(srv.Endpoint)
	if err != nil {
		t.Fatal(err)
	}
	proxy := httputil.NewSingleHostReverseProxy(target)
	proxy.ErrorLog = log.New(io.Discard, "", 0)
	return fakeStore(t, func(w http.ResponseWriter, r *http.Request) {
		if hook != nil && hook(w, r) {
			return
		}
		proxy.ServeHTTP(w, r)
	})
}

// TestRenameKeepsSourceReplacedDuringCopy: another writer of the bucket
// replaces the source between RNTO's copy and its delete (the hook
// writes the new object just before the delete reaches the store). The
// new object survives: the delete is conditional on the object that was
// copied (was: the delete removed the other writer's new file, lost).
func TestRenameKeepsSourceReplacedDuringCopy(t *testing.T) {
	srv := s3test.Start(t)
	direct := srv.Store(t, "ftp", 5*mib, 5*mib)
	s3test.Put(t, direct, "u/src", []byte("old"))
	var replaced atomic.Bool
	st := proxyStore(t, srv, func(w http.ResponseWriter, r *http.Request) bool {
		if r.Method == http.MethodDelete && r.URL.Path == "/ftp/u/src" && replaced.CompareAndSwap(false, true) {
			s3test.Put(t, direct, "u/src", []byte("new upload by another writer"))
		}
		return false
	})
	fs, _ := st.Fs(context.Background(), "u/")
	err := fs.Rename("src", "dst")
	if !replaced.Load() {
		t.Fatal("the rename sent no delete")
	}
	got, gerr := s3test.Get(t, direct, "u/src")
	if gerr != nil || string(got) != "new upload by another writer" {
		t.Fatalf("rename (err %v) deleted the source replaced during the copy: %q, %v", err, got, gerr)
	}
	if err == nil {
		t.Error("the rename reported success though the source is still there")
	}
	if got, _ := s3test.Get(t, direct, "u/dst"); string(got) != "old" {
		t.Errorf("destination %q, want the copied %q", got, "old")
	}
}

// TestMultipartCopyFailureKeepsDestination: a multipart copy (limits
// lowered) whose second part fails — the store answers 500 to every try,
// or another writer replaces the source between two parts — leaves the
// destination as it was, the source intact, and no multipart upload.
func TestMultipartCopyFailureKeepsDestination(t *testing.T) {
	for _, how := range []string{"part fails", "source replaced"} {
		t.Run(how, func(t *testing.T) {
			srv := s3test.Start(t)
			direct := srv.Store(t, "ftp", 5*mib, 5*mib)
			data := bytes.Repeat([]byte("0123456789abcdef"), 12*mib/16+1)
			s3test.Put(t, direct, "u/big", data)
			s3test.Put(t, direct, "u/dst", []byte("keep me"))
			var hits atomic.Int32
			st := proxyStore(t, srv, func(w http.ResponseWriter, r *http.Request) bool {
				if r.Method != http.MethodPut || r.URL.Query().Get("partNumber") != "2" || r.Header.Get("X-Amz-Copy-Source") == "" {
					return false
				}
				hits.Add(1)
				if how == "part fails" {
					http.Error(w, "<Error><Code>InternalError</Code></Error>", http.StatusInternalServerError)
					return true
				}
				if hits.Load() == 1 {
					s3test.Put(t, direct, "u/big", append([]byte("changed"), data[7:]...))
				}
				return false
			})
			st.SetCopyLimits(6*mib, 5*mib)
			fs, _ := st.Fs(context.Background(), "u/")
			if err := fs.Rename("big", "dst"); err == nil {
				t.Fatal("the rename succeeded")
			}
			if hits.Load() == 0 {
				t.Fatal("no second part was copied")
			}
			if got, _ := s3test.Get(t, direct, "u/dst"); string(got) != "keep me" {
				t.Errorf("destination changed: %d bytes", len(got))
			}
			if !s3test.Exists(t, direct, "u/big") {
				t.Error("the source is gone")
			}
			if ups := s3test.Uploads(t, direct); len(ups) != 0 {
				t.Errorf("multipart uploads left: %v", ups)
			}
		})
	}
}

// TestHugeErrorBodyBounded: a store answering 500 with an endless body
// (here 96 MiB per request) has at most a bounded part of it read: the
// SDK reads an error body whole into memory before parsing it, once per
// retry (was: all 96 MiB read, three times).
func TestHugeErrorBodyBounded(t *testing.T) {
	served, err := endlessReply(t, http.StatusInternalServerError, "<Error><Code>InternalError</Code><Message>")
	if !errors.Is(err, s3store.ErrStore) {
		t.Fatalf("listing on a failing store: %v", err)
	}
	for i, n := range served {
		// 1 MiB read at most; the rest of the margin is what loopback
		// socket buffers take in before the client closes.
		if n >= 32<<20 {
			t.Errorf("request %d: %d MiB of the error body were taken", i+1, n>>20)
		}
	}
	t.Logf("bytes taken per request: %v", served)
}

// endlessReply lists "/" of a store that answers every request with
// status and head followed by 96 MiB of "x", and returns how many bytes
// each request took from it and the listing's error.
func endlessReply(t *testing.T, status int, head string) ([]int64, error) {
	t.Helper()
	const serve = 96 << 20
	var mu sync.Mutex
	var served []int64
	var handlers sync.WaitGroup
	st := fakeStore(t, func(w http.ResponseWriter, r *http.Request) {
		handlers.Add(1)
		defer handlers.Done()
		w.Header().Set("Content-Type", "application/xml")
		w.WriteHeader(status)
		k, _ := io.WriteString(w, head)
		n := int64(k)
		chunk := bytes.Repeat([]byte("x"), 64<<10)
		for n < serve {
			k, err := w.Write(chunk)
			n += int64(k)
			if err != nil {
				break
			}
		}
		mu.Lock()
		served = append(served, n)
		mu.Unlock()
	})
	fs, _ := st.Fs(context.Background(), "u/")
	d, err := fs.Open("/")
	if err != nil {
		t.Fatal(err)
	}
	_, err = d.Readdir(-1)
	// The client has closed its connections: the handlers' writes fail.
	done := make(chan struct{})
	go func() { handlers.Wait(); close(done) }()
	select {
	case <-done:
	case <-time.After(30 * time.Second): // a hang detector, not a speed bound
		t.Fatal("the store's handlers still write 30 s after the listing ended")
	}
	mu.Lock()
	defer mu.Unlock()
	if len(served) == 0 {
		t.Fatal("no request reached the store")
	}
	return served, err
}

// TestSweepKeepsOtherWritersUploads: the start-up sweep aborts stale
// multipart uploads only under the S3 users' prefixes, where ftpd writes:
// a bucket shared with another application (or used only for the token
// spent store) keeps that application's long uploads (was: every upload
// of the bucket older than a day was aborted).
func TestSweepKeepsOtherWritersUploads(t *testing.T) {
	srv := s3test.Start(t)
	direct := srv.Store(t, "ftp", 5*mib, 5*mib)
	ctx := context.Background()
	for _, k := range []string{"backup-tool/huge", "u/stale"} {
		if _, err := direct.Client().CreateMultipartUpload(ctx, &s3.CreateMultipartUploadInput{Bucket: aws.String("ftp"), Key: aws.String(k)}); err != nil {
			t.Fatal(err)
		}
	}
	base := conf.Config{Source: "ftpd.toml", S3: conf.S3{Endpoint: srv.Endpoint, Region: "us-east-1", Bucket: "ftp", PathStyle: true, PartSize: 5 * mib, UploadMemory: 5 * mib}}
	spentOnly := base
	spentOnly.Tokens.SpentStore = conf.SpentS3
	withUser := base
	withUser.Users = []conf.User{{Name: "u", Backend: conf.BackendS3, Root: "u/"}}
	for _, c := range []struct {
		name string
		cfg  conf.Config
		want int
	}{{"spent store only", spentOnly, 0}, {"user u/", withUser, 1}} {
		b, err := s3store.NewBackend(&c.cfg, nil)
		if err != nil {
			t.Fatal(err)
		}
		b.Store().SetNow(func() time.Time { return time.Now().Add(48 * time.Hour) })
		n, err := b.Sweep(ctx)
		if err != nil || n != c.want {
			t.Errorf("%s: sweep aborted %d (%v), want %d", c.name, n, err, c.want)
		}
	}
	ups := s3test.Uploads(t, direct)
	if len(ups) != 1 || !strings.HasPrefix(ups[0], "backup-tool/huge(") {
		t.Errorf("uploads left %v, want only backup-tool/huge", ups)
	}
}

// TestSpendRequestsLogarithmic: a login with a token whose uses are all
// spent (or nearly) costs a few requests, not one per use already spent:
// a holder of an exhausted 1000-use link made every login attempt send
// 1000 PUTs to the store (was: 200 requests here for uses = 200).
func TestSpendRequestsLogarithmic(t *testing.T) {
	srv := s3test.Start(t)
	direct := srv.Store(t, "ftp", 5*mib, 5*mib)
	ctx := context.Background()
	const uses = 200
	for n := 1; n <= uses; n++ {
		if ok, err := direct.CreateIfAbsent(ctx, s3store.SpentKey("tok", n), []byte("x\n")); !ok || err != nil {
			t.Fatalf("spend %d: %v %v", n, ok, err)
		}
	}
	var requests atomic.Int32
	st := proxyStore(t, srv, func(http.ResponseWriter, *http.Request) bool {
		requests.Add(1)
		return false
	})
	expires := time.Now().Add(time.Hour)
	sp := st.Spent(nil)
	if ok, err := sp.Spend(ctx, "tok", uses, expires); ok || err != nil {
		t.Fatalf("spend of an exhausted token: %v %v", ok, err)
	}
	if n := requests.Load(); n > 20 {
		t.Errorf("spend of an exhausted %d-use token sent %d requests", uses, n)
	}
	requests.Store(0)
	if ok, err := sp.Spend(ctx, "tok", uses+3, expires); !ok || err != nil {
		t.Fatalf("spend with uses left: %v %v", ok, err)
	}
	if n := requests.Load(); n > 20 {
		t.Errorf("spend of use %d sent %d requests", uses+1, n)
	}
	if !s3test.Exists(t, direct, s3store.SpentKey("tok", uses+1)) {
		t.Error("the grant did not take use number uses+1")
	}
	// Fresh token: one request.
	requests.Store(0)
	if ok, err := sp.Spend(ctx, "fresh", 1000, expires); !ok || err != nil || requests.Load() != 1 {
		t.Errorf("fresh token: %v %v after %d requests, want granted after 1", ok, err, requests.Load())
	}
}

// TestForeignMtimeOutOfRange: another writer's ftpd-mtime metadata
// outside years 1..9999 is ignored (the store's modification time is
// shown): MDTM, MLSD's modify= and LIST print a year of four digits
// (was: year 3170843 from "99999999999999").
func TestForeignMtimeOutOfRange(t *testing.T) {
	srv := s3test.Start(t)
	st := srv.Store(t, "ftp", 5*mib, 5*mib)
	ctx := context.Background()
	for _, v := range []string{"99999999999999", "-99999999999", "253402300800"} {
		if _, err := st.Client().PutObject(ctx, &s3.PutObjectInput{Bucket: aws.String("ftp"), Key: aws.String("u/f"),
			Body: strings.NewReader("x"), Metadata: map[string]string{"ftpd-mtime": v}}); err != nil {
			t.Fatal(err)
		}
		fs, _ := st.Fs(ctx, "u/")
		fi, err := fs.Stat("f")
		if err != nil {
			t.Fatal(err)
		}
		if y := fi.ModTime().Year(); y < 1 || y > 9999 {
			t.Errorf("ftpd-mtime %s: modification year %d", v, y)
		}
	}
}

// fakeStore is a real HTTP server answering every request with handle;
// it returns a Store on it.
func fakeStore(t *testing.T, handle http.HandlerFunc) *s3store.Store {
	t.Helper()
	testCreds(t)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	hs := &http.Server{Handler: handle}
	go hs.Serve(ln)
	t.Cleanup(func() { hs.Close() })
	st, err := s3store.New(context.Background(), s3store.Config{
		Endpoint: "http://" + ln.Addr().String(), Region: "us-east-1", Bucket: "ftp", PathStyle: true,
		PartSize: 5 * mib, UploadMemory: 5 * mib,
	})
	if err != nil {
		t.Fatal(err)
	}
	return st
}

// TestListingThatDoesNotAdvance: a store whose listing pages say "more
// to come" but give the same continuation token again (or none), or go
// back to keys already listed, fails the listing instead of looping
// forever with the listing's memory growing (was: 1000 pages requested,
// the same entry buffered each time, until the test's store gave up).
func TestListingThatDoesNotAdvance(t *testing.T) {
	for _, c := range []struct{ name, next string }{
		{"same token", "<NextContinuationToken>t</NextContinuationToken>"},
		{"no token", ""},
		{"keys go back", "<NextContinuationToken>%d</NextContinuationToken>"},
	} {
		t.Run(c.name, func(t *testing.T) {
			var requests atomic.Int32
			st := fakeStore(t, func(w http.ResponseWriter, r *http.Request) {
				n := requests.Add(1)
				if n > 1000 {
					http.Error(w, "<Error><Code>InternalError</Code></Error>", http.StatusInternalServerError)
					return
				}
				next := c.next
				if strings.Contains(next, "%d") {
					next = fmt.Sprintf(next, n)
				}
				fmt.Fprintf(w, `<?xml version="1.0" encoding="UTF-8"?>
<ListBucketResult xmlns="http://s3.amazonaws.com/doc/2006-03-01/"><Name>ftp</Name><Prefix>u/</Prefix><Delimiter>/</Delimiter><MaxKeys>1000</MaxKeys><KeyCount>1</KeyCount><IsTruncated>true</IsTruncated>%s<Contents><Key>u/x</Key><Size>1</Size></Contents></ListBucketResult>`, next)
			})
			fs, _ := st.Fs(context.Background(), "u/")
			d, err := fs.Open("/")
			if err != nil {
				t.Fatal(err)
			}
			fis, err := d.Readdir(-1)
			if !errors.Is(err, s3store.ErrStore) {
				t.Errorf("listing that does not advance: %d entries, %v", len(fis), err)
			}
			if n := requests.Load(); n > 3 {
				t.Errorf("%d pages requested", n)
			}
		})
	}
}

// TestListingPagesOfDirsAndFiles: a real store's pages of common
// prefixes and keys mixed pass the order check of listings (every name
// once, none refused).
func TestListingPagesOfDirsAndFiles(t *testing.T) {
	srv := s3test.Start(t)
	st := srv.Store(t, "ftp", 5*mib, 5*mib)
	const n = 1500 // with files: three pages of 1000
	for i := range n {
		d := filepath.Join(srv.Dir, "ftp", "u", fmt.Sprintf("e%05d", i))
		if err := os.MkdirAll(d, 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(d, "f"), nil, 0o644); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(d+".txt", nil, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	fs, _ := st.Fs(context.Background(), "u/")
	d, err := fs.Open("/")
	if err != nil {
		t.Fatal(err)
	}
	fis, err := d.Readdir(-1)
	if err != nil || len(fis) != 2*n {
		t.Fatalf("listed %d of %d entries: %v", len(fis), 2*n, err)
	}
}

// TestHugeListingReplyBounded: a store answering a listing with 200 OK
// and an endless body (a name that never ends) has a bounded part of it
// read: every reply but GetObject's data is cut at 16 MiB (was: all 96
// MiB read into one string).
func TestHugeListingReplyBounded(t *testing.T) {
	served, err := endlessReply(t, http.StatusOK, `<?xml version="1.0" encoding="UTF-8"?><ListBucketResult xmlns="http://s3.amazonaws.com/doc/2006-03-01/"><Name>`)
	if !errors.Is(err, s3store.ErrStore) {
		t.Errorf("endless listing reply: %v", err)
	}
	for i, n := range served {
		// 16 MiB read at most, plus what loopback socket buffers hold.
		if n >= 48<<20 {
			t.Errorf("request %d: %d MiB of the reply were taken", i+1, n>>20)
		}
	}
	t.Logf("bytes taken per request: %v", served)
}

// TestReadBeyondReplyLimit: GetObject's data is not cut by the limit on
// other replies' bodies: a 20 MiB object reads whole.
func TestReadBeyondReplyLimit(t *testing.T) {
	srv := s3test.Start(t)
	st := srv.Store(t, "ftp", 5*mib, 5*mib)
	data := bytes.Repeat([]byte("0123456789abcdef"), 20*mib/16)
	s3test.Put(t, st, "u/big", data)
	fs, _ := st.Fs(context.Background(), "u/")
	f, err := fs.Open("big")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	got, err := io.ReadAll(f)
	if err != nil || !bytes.Equal(got, data) {
		t.Fatalf("read %d of %d bytes: %v", len(got), len(data), err)
	}
}

// TestListingObjectAndPrefixOnce: on a store where "a" is an object and
// "a/b" another (AWS allows both; a posix store cannot hold them), the
// listing shows "a" once, as the file Stat, SIZE and RETR see (was: a
// file "a" and a directory "a", which a mirroring client cannot create
// both of). The prefix may come on a later page than the object.
func TestListingObjectAndPrefixOnce(t *testing.T) {
	pages := []string{
		`<IsTruncated>true</IsTruncated><NextContinuationToken>t</NextContinuationToken><Contents><Key>u/a</Key><Size>1</Size></Contents><Contents><Key>u/a!x</Key><Size>1</Size></Contents>`,
		`<IsTruncated>false</IsTruncated><CommonPrefixes><Prefix>u/a/</Prefix></CommonPrefixes><CommonPrefixes><Prefix>u/b/</Prefix></CommonPrefixes><Contents><Key>u/b</Key><Size>1</Size></Contents><Contents><Key>u/c</Key><Size>1</Size></Contents>`,
	}
	st := fakeStore(t, func(w http.ResponseWriter, r *http.Request) {
		page := pages[0]
		if r.URL.Query().Get("continuation-token") == "t" {
			page = pages[1]
		}
		fmt.Fprintf(w, `<?xml version="1.0" encoding="UTF-8"?>
<ListBucketResult xmlns="http://s3.amazonaws.com/doc/2006-03-01/"><Name>ftp</Name><Prefix>u/</Prefix><Delimiter>/</Delimiter><MaxKeys>1000</MaxKeys>%s</ListBucketResult>`, page)
	})
	fs, _ := st.Fs(context.Background(), "u/")
	d, err := fs.Open("/")
	if err != nil {
		t.Fatal(err)
	}
	fis, err := d.Readdir(-1)
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, fi := range fis {
		got = append(got, fmt.Sprintf("%s dir=%v", fi.Name(), fi.IsDir()))
	}
	want := []string{"a dir=false", "a!x dir=false", "b dir=false", "c dir=false"}
	if strings.Join(got, ", ") != strings.Join(want, ", ") {
		t.Fatalf("listed %v, want %v", got, want)
	}
}

// TestRenameTargetsRefused: RNTO into .ftpd/ (a whole-bucket user), onto
// a directory (a marker, or a prefix with objects), and onto itself
// leave every object as it was.
func TestRenameTargetsRefused(t *testing.T) {
	srv := s3test.Start(t)
	st := srv.Store(t, "ftp", 5*mib, 5*mib)
	s3test.Put(t, st, "x", []byte("x"))
	s3test.Put(t, st, "marker/", nil)
	s3test.Put(t, st, "implicit/f", []byte("f"))
	whole, _ := st.Fs(context.Background(), "")
	for _, to := range []string{".ftpd/spent/zz", "/.ftpd/x", "a/../.ftpd/x", ".ftpd", "marker", "marker/", "implicit", "/implicit/"} {
		if err := whole.Rename("x", to); err == nil {
			t.Errorf("rename x -> %q succeeded", to)
		}
	}
	if err := whole.Rename("x", "/./x"); err != nil {
		t.Errorf("rename onto itself: %v", err)
	}
	if got, _ := s3test.Get(t, st, "x"); string(got) != "x" {
		t.Errorf("x is now %q", got)
	}
	out, err := st.Client().ListObjectsV2(context.Background(), &s3.ListObjectsV2Input{Bucket: aws.String("ftp"), Prefix: aws.String(".ftpd/")})
	if err != nil || len(out.Contents) != 0 {
		t.Errorf("keys under .ftpd/: %d, %v", len(out.Contents), err)
	}
}

// TestListingSkipsDotNames: keys "u/..", "u/../x" and "u/./y" (AWS
// stores them; a posix store cannot) list neither "." nor "..", names no
// command can address (was: a directory ".." and a file "..").
func TestListingSkipsDotNames(t *testing.T) {
	st := fakeStore(t, func(w http.ResponseWriter, r *http.Request) {
		fmt.Fprint(w, `<?xml version="1.0" encoding="UTF-8"?>
<ListBucketResult xmlns="http://s3.amazonaws.com/doc/2006-03-01/"><Name>ftp</Name><Prefix>u/</Prefix><Delimiter>/</Delimiter><MaxKeys>1000</MaxKeys><IsTruncated>false</IsTruncated><CommonPrefixes><Prefix>u/./</Prefix></CommonPrefixes><CommonPrefixes><Prefix>u/../</Prefix></CommonPrefixes><Contents><Key>u/..</Key><Size>1</Size></Contents><Contents><Key>u/ok</Key><Size>1</Size></Contents></ListBucketResult>`)
	})
	fs, _ := st.Fs(context.Background(), "u/")
	d, err := fs.Open("/")
	if err != nil {
		t.Fatal(err)
	}
	names, err := d.Readdirnames(-1)
	if err != nil || len(names) != 1 || names[0] != "ok" {
		t.Fatalf("listed %q, %v; want only ok", names, err)
	}
}

// TestNamesListingsCannotShow: a name with a control character (NUL, CR,
// C1) or invalid UTF-8 is refused as invalid before any request: a
// listing would leave it out (control characters) or show it with U+FFFD
// in place of the bad byte (XML carries only UTF-8), so a user could
// create files nobody can list or name again (was: MKD "c\rd" and
// "e\x85f" created them; NUL went to the store, three tries, each a
// logged store error).
func TestNamesListingsCannotShow(t *testing.T) {
	var requests atomic.Int32
	st := fakeStore(t, func(w http.ResponseWriter, r *http.Request) {
		requests.Add(1)
		http.Error(w, "", http.StatusNotFound)
	})
	fs, _ := st.Fs(context.Background(), "u/")
	for _, n := range []string{"a\x00b", "c\rd", "d/e\nf", "e\x85f", "g\u0085h", "i\x7f"} {
		if _, err := fs.Stat(n); !errors.Is(err, os.ErrInvalid) {
			t.Errorf("stat %q: %v", n, err)
		}
		if err := fs.Mkdir(n, 0o755); !errors.Is(err, os.ErrInvalid) {
			t.Errorf("mkdir %q: %v", n, err)
		}
		if _, err := fs.Create(n); !errors.Is(err, os.ErrInvalid) {
			t.Errorf("create %q: %v", n, err)
		}
		if err := fs.Rename("x", n); !errors.Is(err, os.ErrInvalid) {
			t.Errorf("rename to %q: %v", n, err)
		}
	}
	if n := requests.Load(); n != 0 {
		t.Errorf("%d requests reached the store", n)
	}
}

// TestWholeBucketListingHidesReserved: a whole-bucket user (root "")
// lists neither ftpd's area ".ftpd/" nor an object ".ftpd" another
// writer put beside it (no command can name either: was, a file ".ftpd"
// listed).
func TestWholeBucketListingHidesReserved(t *testing.T) {
	st := fakeStore(t, func(w http.ResponseWriter, r *http.Request) {
		fmt.Fprint(w, `<?xml version="1.0" encoding="UTF-8"?>
<ListBucketResult xmlns="http://s3.amazonaws.com/doc/2006-03-01/"><Name>ftp</Name><Prefix></Prefix><Delimiter>/</Delimiter><MaxKeys>1000</MaxKeys><IsTruncated>false</IsTruncated><CommonPrefixes><Prefix>.ftpd/</Prefix></CommonPrefixes><Contents><Key>.ftpd</Key><Size>1</Size></Contents><Contents><Key>x</Key><Size>1</Size></Contents></ListBucketResult>`)
	})
	fs, _ := st.Fs(context.Background(), "")
	d, err := fs.Open("/")
	if err != nil {
		t.Fatal(err)
	}
	names, err := d.Readdirnames(-1)
	if err != nil || len(names) != 1 || names[0] != "x" {
		t.Fatalf("listed %q, %v; want only x", names, err)
	}
}

// TestSweepThatDoesNotAdvance: a store whose multipart upload listing
// says "more to come" with the same markers again fails the start-up
// sweep at once instead of repeating the request until its deadline
// (was: thousands of requests in the test's 5 s).
func TestSweepThatDoesNotAdvance(t *testing.T) {
	var requests atomic.Int32
	st := fakeStore(t, func(w http.ResponseWriter, r *http.Request) {
		requests.Add(1)
		fmt.Fprint(w, `<?xml version="1.0" encoding="UTF-8"?>
<ListMultipartUploadsResult xmlns="http://s3.amazonaws.com/doc/2006-03-01/"><Bucket>ftp</Bucket><IsTruncated>true</IsTruncated><NextKeyMarker>k</NextKeyMarker><NextUploadIdMarker>i</NextUploadIdMarker></ListMultipartUploadsResult>`)
	})
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if _, err := st.SweepUploads(ctx, time.Hour, []string{"u/"}); err == nil {
		t.Error("a sweep of a listing that does not advance succeeded")
	}
	if n := requests.Load(); n > 3 {
		t.Errorf("%d listing requests", n)
	}
}

// TestListingStoreFailsMidway: a store that answers the first page and
// then 503 fails the listing with a store error (LIST gets no 226 for a
// part of the directory).
func TestListingStoreFailsMidway(t *testing.T) {
	st := fakeStore(t, func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Query().Get("continuation-token") != "" {
			http.Error(w, "<Error><Code>SlowDown</Code></Error>", http.StatusServiceUnavailable)
			return
		}
		fmt.Fprint(w, `<?xml version="1.0" encoding="UTF-8"?>
<ListBucketResult xmlns="http://s3.amazonaws.com/doc/2006-03-01/"><Name>ftp</Name><Prefix>u/</Prefix><Delimiter>/</Delimiter><MaxKeys>1000</MaxKeys><IsTruncated>true</IsTruncated><NextContinuationToken>t</NextContinuationToken><Contents><Key>u/a</Key><Size>1</Size></Contents></ListBucketResult>`)
	})
	fs, _ := st.Fs(context.Background(), "u/")
	d, err := fs.Open("/")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := d.Readdir(-1); !errors.Is(err, s3store.ErrStore) {
		t.Fatalf("listing with its second page failing: %v", err)
	}
}

// TestRenameDeleteFails: when the copy succeeds and the store refuses the
// delete, RNTO fails with a store error and both names hold the file:
// nothing is lost.
func TestRenameDeleteFails(t *testing.T) {
	srv := s3test.Start(t)
	direct := srv.Store(t, "ftp", 5*mib, 5*mib)
	s3test.Put(t, direct, "u/src", []byte("data"))
	st := proxyStore(t, srv, func(w http.ResponseWriter, r *http.Request) bool {
		if r.Method == http.MethodDelete {
			http.Error(w, "<Error><Code>InternalError</Code></Error>", http.StatusInternalServerError)
			return true
		}
		return false
	})
	fs, _ := st.Fs(context.Background(), "u/")
	if err := fs.Rename("src", "dst"); !errors.Is(err, s3store.ErrStore) {
		t.Fatalf("rename with the delete refused: %v", err)
	}
	for _, k := range []string{"u/src", "u/dst"} {
		if got, err := s3test.Get(t, direct, k); err != nil || string(got) != "data" {
			t.Errorf("%s: %q, %v", k, got, err)
		}
	}
}

// TestSilentStoreBoundsUploads: a store that answers stats and listings
// but never answers an upload's requests (PutObject, CreateMultipartUpload,
// UploadPart) fails the upload with a store error once the request's
// deadline passes (was: the upload waited as long as the session lived,
// holding its part buffer).
func TestSilentStoreBoundsUploads(t *testing.T) {
	srv := s3test.Start(t)
	srv.Store(t, "ftp", 5*mib, 5*mib)
	var silent atomic.Bool
	st := proxyStore(t, srv, func(w http.ResponseWriter, r *http.Request) bool {
		if !silent.Load() || (r.Method != http.MethodPut && r.Method != http.MethodPost) {
			return false
		}
		<-r.Context().Done() // never answer: the client gives up
		return true
	})
	st.SetRequestTimeouts(200*time.Millisecond, 1<<30)
	fs, err := st.Fs(context.Background(), "u/")
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		name string
		size int
	}{{"one part (PutObject)", 1024}, {"multipart", 6 * mib}} {
		silent.Store(false)
		f, err := fs.Create("f")
		if err != nil {
			t.Fatal(err)
		}
		silent.Store(true)
		done := make(chan error, 1)
		go func() {
			_, err := f.Write(make([]byte, c.size))
			if err == nil {
				err = f.(interface{ Commit() error }).Commit()
			}
			done <- err
		}()
		select {
		case err := <-done:
			if !errors.Is(err, s3store.ErrStore) {
				t.Errorf("%s on a store silent to uploads: %v, want a store error", c.name, err)
			}
		case <-time.After(30 * time.Second): // 150x the 200 ms timeout: a loaded machine cannot reach it
			t.Fatalf("%s on a store silent to uploads still blocked after 30 s", c.name)
		}
		silent.Store(false)
		f.Close()
	}
}

// TestSilentStoreBoundsDownloads: a store that sends an object's head and
// part of its body, then nothing, fails the download with a store error
// once a Read has waited the request timeout (was: the Read waited as
// long as the session lived). A slow reader is not a silent store: time
// spent outside Read does not count.
func TestSilentStoreBoundsDownloads(t *testing.T) {
	srv := s3test.Start(t)
	direct := srv.Store(t, "ftp", 5*mib, 5*mib)
	body := bytes.Repeat([]byte("x"), 1<<20)
	s3test.Put(t, direct, "u/obj", body)
	var silent atomic.Bool
	st := proxyStore(t, srv, func(w http.ResponseWriter, r *http.Request) bool {
		if !silent.Load() || r.Method != http.MethodGet || r.URL.Path != "/ftp/u/obj" {
			return false
		}
		w.Header().Set("Content-Length", strconv.Itoa(len(body)))
		w.WriteHeader(http.StatusOK)
		w.Write(body[:len(body)/2])
		w.(http.Flusher).Flush()
		<-r.Context().Done() // and then nothing
		return true
	})
	st.SetRequestTimeouts(300*time.Millisecond, 1<<30)
	fs, err := st.Fs(context.Background(), "u/")
	if err != nil {
		t.Fatal(err)
	}

	// Healthy store, slow reader: pauses longer than the timeout between
	// reads do not fail the download.
	f, err := fs.Open("obj")
	if err != nil {
		t.Fatal(err)
	}
	buf := make([]byte, 256<<10)
	var got int
	for {
		n, err := f.Read(buf)
		got += n
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatalf("slow reader of a healthy store: %v after %d bytes", err, got)
		}
		time.Sleep(400 * time.Millisecond)
	}
	f.Close()
	if got != len(body) {
		t.Fatalf("read %d of %d bytes", got, len(body))
	}

	silent.Store(true)
	f, err = fs.Open("obj")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	done := make(chan error, 1)
	go func() { _, err := io.Copy(io.Discard, f); done <- err }()
	select {
	case err := <-done:
		if !errors.Is(err, s3store.ErrStore) {
			t.Fatalf("download from a store gone silent: %v, want a store error", err)
		}
	case <-time.After(30 * time.Second): // 100x the 300 ms timeout: a loaded machine cannot reach it
		t.Fatal("download from a store gone silent still blocked after 30 s")
	}
}

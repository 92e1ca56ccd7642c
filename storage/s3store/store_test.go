package s3store_test

import (
	"bytes"
	"context"
	"errors"
	"io"
	"os"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"

	"github.com/ftpd/ftpd/storage/s3store"
	"github.com/ftpd/ftpd/storage/s3store/s3test"
)

const mib = 1 << 20

func TestCreateIfAbsentOneWinnerOf32(t *testing.T) {
	srv := s3test.Start(t)
	st := srv.Store(t, "ftp", 5*mib, 10*mib)
	ctx := context.Background()
	for round := range 5 {
		key := ".ftpd/spent/race-" + string(rune('a'+round))
		var wg sync.WaitGroup
		var mu sync.Mutex
		wins, errs := 0, 0
		for range 32 {
			wg.Add(1)
			go func() {
				defer wg.Done()
				ok, err := st.CreateIfAbsent(ctx, key, []byte("x"))
				mu.Lock()
				defer mu.Unlock()
				if err != nil {
					t.Errorf("CreateIfAbsent: %v", err)
					errs++
				}
				if ok {
					wins++
				}
			}()
		}
		wg.Wait()
		if wins != 1 || errs != 0 {
			t.Fatalf("key %s: %d winners, %d errors of 32 racing creates, want exactly 1 winner", key, wins, errs)
		}
	}
}

func TestCheck(t *testing.T) {
	srv := s3test.Start(t)
	st := srv.Store(t, "ftp", 5*mib, 10*mib)
	if err := st.Check(context.Background()); err != nil {
		t.Fatalf("Check on a good store: %v", err)
	}
	// A wrong secret is named as such.
	t.Setenv("AWS_SECRET_ACCESS_KEY", "wrong")
	bad, err := s3store.New(context.Background(), s3store.Config{Endpoint: srv.Endpoint, Region: "us-east-1", Bucket: "ftp", PathStyle: true, PartSize: 5 * mib, UploadMemory: 5 * mib})
	if err != nil {
		t.Fatal(err)
	}
	err = bad.Check(context.Background())
	if err == nil || !bytes.Contains([]byte(err.Error()), []byte("secret key is wrong")) {
		t.Fatalf("Check with a wrong secret = %v, want it to name the secret", err)
	}
	t.Setenv("AWS_SECRET_ACCESS_KEY", "s")
	missing, _ := s3store.New(context.Background(), s3store.Config{Endpoint: srv.Endpoint, Region: "us-east-1", Bucket: "nope", PathStyle: true, PartSize: 5 * mib, UploadMemory: 5 * mib})
	if err := missing.Check(context.Background()); err == nil || !bytes.Contains([]byte(err.Error()), []byte("does not exist")) {
		t.Fatalf("Check of a missing bucket = %v", err)
	}
}

// An upload appears only at Commit; Close without Commit aborts and the
// old object stays, with no multipart upload left behind.
func TestUploadAtomic(t *testing.T) {
	srv := s3test.Start(t)
	st := srv.Store(t, "ftp", 5*mib, 10*mib)
	fs, err := st.Fs(context.Background(), "alice/")
	if err != nil {
		t.Fatal(err)
	}
	small := []byte("old contents")
	f, err := fs.Create("/f")
	if err != nil {
		t.Fatal(err)
	}
	f.Write(small)
	if err := f.(*s3store.Upload).Commit(); err != nil {
		t.Fatal(err)
	}
	f.Close()
	big := bytes.Repeat([]byte("0123456789abcdef"), 12*mib/16) // 12 MiB: 3 parts
	for _, commit := range []bool{false, true} {
		f, err := fs.OpenFile("f", os.O_WRONLY|os.O_CREATE|os.O_TRUNC, 0o644)
		if err != nil {
			t.Fatal(err)
		}
		if n, err := f.(io.ReaderFrom).ReadFrom(bytes.NewReader(big)); err != nil || n != int64(len(big)) {
			t.Fatalf("ReadFrom = %d, %v", n, err)
		}
		if commit {
			if err := f.(*s3store.Upload).Commit(); err != nil {
				t.Fatal(err)
			}
		}
		if err := f.Close(); err != nil {
			t.Fatal(err)
		}
		got, err := s3test.Get(t, st, "alice/f")
		if err != nil {
			t.Fatal(err)
		}
		want := small
		if commit {
			want = big
		}
		if !bytes.Equal(got, want) {
			t.Fatalf("commit=%v: object has %d bytes, want %d", commit, len(got), len(want))
		}
		if ups := s3test.Uploads(t, st); len(ups) != 0 {
			t.Fatalf("commit=%v: multipart uploads left: %v", commit, ups)
		}
	}
	// Read back with a REST offset.
	r, err := fs.Open("/f")
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	if _, err := r.Seek(5*mib+3, io.SeekStart); err != nil {
		t.Fatal(err)
	}
	rest, err := io.ReadAll(r)
	if err != nil || !bytes.Equal(rest, big[5*mib+3:]) {
		t.Fatalf("ranged read: %d bytes, %v", len(rest), err)
	}
}

// Uploads wait for part buffers: with a budget of two parts, a third
// upload blocks until one closes.
func TestUploadBudgetBackPressure(t *testing.T) {
	srv := s3test.Start(t)
	st := srv.Store(t, "ftp", 5*mib, 10*mib)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	fs, _ := st.Fs(ctx, "u/")
	a, _ := fs.Create("a")
	b, _ := fs.Create("b")
	a.Write([]byte("a"))
	b.Write([]byte("b"))
	c, _ := fs.Create("c")
	done := make(chan error, 1)
	go func() { _, err := c.Write([]byte("c")); done <- err }()
	select {
	case err := <-done:
		t.Fatalf("third upload got a buffer beyond the budget (err %v)", err)
	default:
	}
	a.Close()
	if err := <-done; err != nil {
		t.Fatalf("third upload after a release: %v", err)
	}
	b.Close()
	c.Close()
	// A waiting upload ends with its context.
	x, _ := fs.Create("x")
	y, _ := fs.Create("y")
	x.Write([]byte("x"))
	y.Write([]byte("y"))
	z, _ := fs.Create("z")
	cancel()
	if _, err := z.Write([]byte("z")); !errors.Is(err, context.Canceled) {
		t.Fatalf("waiting upload after cancel: %v", err)
	}
}

func TestJailSpellings(t *testing.T) {
	srv := s3test.Start(t)
	st := srv.Store(t, "ftp", 5*mib, 10*mib)
	ctx := context.Background()
	for _, k := range []string{"secret", "bob/secret", ".ftpd/x"} {
		st.Client().PutObject(ctx, &s3.PutObjectInput{Bucket: aws.String("ftp"), Key: aws.String(k), Body: bytes.NewReader([]byte("no"))})
	}
	fs, _ := st.Fs(ctx, "alice/")
	for _, name := range []string{"../secret", "/../secret", "//../secret", "..//bob/secret", "/a/../../bob/secret", `..\secret`, `\..\secret`, "../.ftpd/x", "%2e%2e/secret"} {
		if _, err := fs.Stat(name); err == nil {
			t.Errorf("Stat(%q) reached a key outside alice/", name)
		}
		if f, err := fs.Open(name); err == nil {
			f.Close()
			t.Errorf("Open(%q) reached a key outside alice/", name)
		}
	}
	whole, _ := st.Fs(ctx, "")
	for _, name := range []string{".ftpd/x", "/.ftpd/x", "a/../.ftpd/x"} {
		if _, err := whole.Stat(name); err == nil {
			t.Errorf("whole-bucket user reached %q", name)
		}
	}
	if _, err := st.Fs(ctx, ".ftpd/"); err == nil {
		t.Error("a prefix inside .ftpd/ was accepted")
	}
	for _, p := range []string{"a", "/a/", "a/../b/", `a\b/`, "a//b/", ".ftpd/x/"} {
		if _, err := st.Fs(ctx, p); err == nil {
			t.Errorf("prefix %q accepted", p)
		}
	}
}

// TestSpentRacingLogins: 32 racing logins with a token of 3 uses, spread
// over two Store clients (two instances), get exactly 3 grants; an
// expired token gets none.
func TestSpentRacingLogins(t *testing.T) {
	srv := s3test.Start(t)
	st := srv.Store(t, "ftp", 5*mib, 5*mib)
	other, err := s3store.New(context.Background(), s3store.Config{Endpoint: srv.Endpoint, Region: "us-east-1", Bucket: "ftp", PathStyle: true, PartSize: 5 * mib, UploadMemory: 5 * mib})
	if err != nil {
		t.Fatal(err)
	}
	now := time.Unix(1_700_000_000, 0)
	clock := func() time.Time { return now }
	spents := []*s3store.Spent{st.Spent(clock), other.Spent(clock)}
	expires := now.Add(time.Hour)
	var wg sync.WaitGroup
	var mu sync.Mutex
	granted := 0
	for i := range 32 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			ok, err := spents[i%2].Spend(context.Background(), "tok-1", 3, expires)
			if err != nil {
				t.Error(err)
			}
			if ok {
				mu.Lock()
				granted++
				mu.Unlock()
			}
		}()
	}
	wg.Wait()
	if granted != 3 {
		t.Fatalf("32 racing logins with a 3-use token: %d granted, want 3", granted)
	}
	if ok, err := spents[0].Spend(context.Background(), "tok-2", 1, now); ok || err != nil {
		t.Fatalf("expired token: granted %v, %v", ok, err)
	}
}

// TestMultipartCopy: beyond the single-copy limit (5 GiB on S3, lowered
// here), RNFR/RNTO and MFMT copy in parts; the copy is whole, the source
// gone after a rename, and no multipart upload is left.
func TestMultipartCopy(t *testing.T) {
	srv := s3test.Start(t)
	st := srv.Store(t, "ftp", 5*mib, 10*mib)
	st.SetCopyLimits(6*mib, 5*mib)
	ctx := context.Background()
	fs, _ := st.Fs(ctx, "u/")
	data := make([]byte, 12*mib+7) // three parts: 5, 5 and 2 MiB + 7
	for i := range data {
		data[i] = byte(i * 7 / 5)
	}
	s3test.Put(t, st, "u/big", data)
	if err := fs.Rename("big", "moved"); err != nil {
		t.Fatalf("rename of a 12 MiB object with a 6 MiB copy limit: %v", err)
	}
	if got, err := s3test.Get(t, st, "u/moved"); err != nil || !bytes.Equal(got, data) {
		t.Fatalf("renamed object: %d bytes, %v; want the %d bytes", len(got), err, len(data))
	}
	if s3test.Exists(t, st, "u/big") {
		t.Error("the source is still there after the rename")
	}
	when := time.Date(2020, 1, 2, 3, 4, 5, 0, time.UTC)
	if err := fs.Chtimes("moved", when, when); err != nil {
		t.Fatalf("MFMT of a 12 MiB object: %v", err)
	}
	fi, err := fs.Stat("moved")
	if err != nil || !fi.ModTime().Equal(when) || fi.Size() != int64(len(data)) {
		t.Fatalf("after MFMT: %v %v", fi, err)
	}
	if got, err := s3test.Get(t, st, "u/moved"); err != nil || !bytes.Equal(got, data) {
		t.Fatalf("object after MFMT differs: %d bytes, %v", len(got), err)
	}
	if ups := s3test.Uploads(t, st); len(ups) != 0 {
		t.Errorf("multipart uploads left: %v", ups)
	}
}

package s3store_test

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"testing"
	"time"

	"github.com/ftpd/ftpd/storage/s3store"
	"github.com/ftpd/ftpd/storage/s3store/s3test"
)

// bigDir is the size of the big-directory test: objects are written as
// plain files under versitygw's directory (it serves them as objects).
// 20 000 by default (creating them takes seconds on a loaded machine);
// FTPD_S3_BIGDIR=100000 runs the full size.
func bigDir() int {
	if n, err := strconv.Atoi(os.Getenv("FTPD_S3_BIGDIR")); err == nil && n > 0 {
		return n
	}
	return 20000
}

// TestListBigDirectoryFlat lists a directory of bigDir() objects a page
// at a time: every name comes back once, in order, and the listing never
// holds more than one ListObjectsV2 page (1000 entries), whatever the
// directory's size.
func TestListBigDirectoryFlat(t *testing.T) {
	srv := s3test.Start(t)
	st := srv.Store(t, "ftp", 5*mib, 5*mib)
	n := bigDir()
	dir := filepath.Join(srv.Dir, "ftp", "u", "big")
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	start := time.Now()
	for i := range n {
		if err := os.WriteFile(filepath.Join(dir, fmt.Sprintf("f%06d", i)), nil, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	t.Logf("created %d files in %v", n, time.Since(start))
	fs, err := st.Fs(context.Background(), "u/")
	if err != nil {
		t.Fatal(err)
	}
	f, err := fs.Open("/big")
	if err != nil {
		t.Fatal(err)
	}
	d := f
	start = time.Now()
	seen, maxBuf := 0, 0
	for {
		fis, err := d.Readdir(100)
		if len(fis) == 0 {
			if err == nil {
				t.Fatal("Readdir(100) returned nothing and no io.EOF")
			}
			break
		}
		for _, fi := range fis {
			if want := fmt.Sprintf("f%06d", seen); fi.Name() != want {
				t.Fatalf("entry %d = %q, want %q", seen, fi.Name(), want)
			}
			seen++
		}
		maxBuf = max(maxBuf, s3store.DirBuffered(d))
	}
	t.Logf("listed %d objects in %v; largest buffer %d entries", seen, time.Since(start), maxBuf)
	if seen != n {
		t.Fatalf("listed %d of %d objects", seen, n)
	}
	if maxBuf > 2000 {
		t.Fatalf("listing buffered up to %d entries: not one page at a time", maxBuf)
	}
}

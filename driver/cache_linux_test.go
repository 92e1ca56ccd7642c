package driver

import (
	"os"
	"path/filepath"
	"syscall"
	"testing"
	"time"
	"unsafe"

	"golang.org/x/sys/unix"
)

// residentFraction is the share of f's pages in the page cache (mincore
// on a shared mapping; it faults nothing in).
func residentFraction(t *testing.T, f *os.File) float64 {
	t.Helper()
	info, err := f.Stat()
	if err != nil {
		t.Fatal(err)
	}
	size := int(info.Size())
	m, err := unix.Mmap(int(f.Fd()), 0, size, unix.PROT_READ, unix.MAP_SHARED)
	if err != nil {
		t.Fatalf("mmap: %v", err)
	}
	defer unix.Munmap(m)
	page := os.Getpagesize()
	vec := make([]byte, (size+page-1)/page)
	if _, _, e := unix.Syscall(unix.SYS_MINCORE, uintptr(unsafe.Pointer(&m[0])), uintptr(len(m)), uintptr(unsafe.Pointer(&vec[0]))); e != 0 {
		t.Fatalf("mincore: %v", e)
	}
	in := 0
	for _, v := range vec {
		in += int(v & 1)
	}
	return float64(in) / float64(len(vec))
}

func skipOnTmpfs(t *testing.T, dir string) {
	t.Helper()
	var st unix.Statfs_t
	if err := unix.Statfs(dir, &st); err != nil {
		t.Fatal(err)
	}
	if st.Type == unix.TMPFS_MAGIC || st.Type == unix.RAMFS_MAGIC {
		t.Skipf("%s is tmpfs/ramfs: its pages cannot be dropped", dir)
	}
}

// A STOR over an existing file drops the old file's cached pages when its
// data starts to flow, so the upload reuses them instead of needing a
// second file's worth of memory (see dropReplaced).
func TestAtomicStorDropsReplacedFilesCache(t *testing.T) {
	d, _, dir := newRootDriver(t, false)
	skipOnTmpfs(t, dir)
	old := randomBytes(16<<20, 7)
	path := filepath.Join(dir, "f.bin")
	writeFile(t, path, old)
	oldFile, err := os.Open(path) // keeps the old inode after the rename
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { oldFile.Close() })
	if err := oldFile.Sync(); err != nil { // clean pages: only those can be dropped
		t.Fatal(err)
	}
	if got := readFile(t, path); len(got) != len(old) { // into the cache
		t.Fatalf("read %d bytes", len(got))
	}
	if r := residentFraction(t, oldFile); r < 0.9 {
		t.Skipf("only %.0f%% of a file just read is cached here: cannot observe the drop", r*100)
	}
	data := randomBytes(1<<20, 8)
	h, _, _, err := stor(t, d, "f.bin", flagsSTOR, 0, data)
	if err != nil {
		t.Fatalf("STOR: %v", err)
	}
	if err := h.Close(); err != nil {
		t.Fatalf("Close: %v", err)
	}
	if got := readFile(t, path); sum(got) != sum(data) {
		t.Fatal("the target does not hold the upload")
	}
	if r := residentFraction(t, oldFile); r > 0.1 {
		t.Errorf("%.0f%% of the replaced file is still cached after the STOR that replaced it", r*100)
	}
	// The old content is intact for whoever still reads it.
	buf := make([]byte, len(old))
	if _, err := oldFile.ReadAt(buf, 0); err != nil || sum(buf) != sum(old) {
		t.Fatalf("old file changed: %v", err)
	}
}

// A FIFO where the target was is replaced without being opened (opening
// a FIFO to read blocks until a writer comes).
func TestAtomicStorOverFIFODoesNotBlock(t *testing.T) {
	d, _, dir := newRootDriver(t, false)
	if err := syscall.Mkfifo(filepath.Join(dir, "p"), 0o644); err != nil {
		t.Skipf("mkfifo: %v", err)
	}
	done := make(chan error, 1)
	data := randomBytes(64<<10, 9)
	go func() {
		h, _, _, err := stor(t, d, "p", flagsSTOR, 0, data)
		if err == nil {
			err = h.Close()
		}
		done <- err
	}()
	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("STOR over a FIFO: %v", err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("STOR over a FIFO blocked")
	}
	if got := readFile(t, filepath.Join(dir, "p")); sum(got) != sum(data) {
		t.Fatal("the FIFO was not replaced by the upload")
	}
}

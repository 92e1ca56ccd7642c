package driver

import (
	"errors"
	"io"
	"os"
	"path/filepath"
	"testing"
	"time"
)

// An upload's progress shows within a chunk: splice writes the file long
// before a 16 MiB chunk completes, and Bytes() follows the file's size.
func TestUploadProgressWithinChunk(t *testing.T) {
	d, _, dir := newRootDriver(t, false)
	h, err := d.OpenTransfer("/up.bin", os.O_WRONLY|os.O_CREATE|os.O_TRUNC, 0)
	if err != nil {
		t.Fatal(err)
	}
	server, client := tcpPair(t)
	done := make(chan error, 1)
	go func() {
		_, err := io.Copy(h, server) // as the FTP library does
		done <- err
	}()
	first := randomBytes(1<<20, 1)
	if _, err := client.Write(first); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(10 * time.Second)
	for h.Transfer().Bytes() < int64(len(first)) {
		if time.Now().After(deadline) {
			t.Fatalf("progress stuck at %d of %d while the chunk is open", h.Transfer().Bytes(), len(first))
		}
		time.Sleep(10 * time.Millisecond)
	}
	second := randomBytes(1<<20, 2)
	if _, err := client.Write(second); err != nil {
		t.Fatal(err)
	}
	client.Close()
	if err := <-done; err != nil && !errors.Is(err, io.EOF) {
		t.Fatal(err)
	}
	if err := h.Close(); err != nil {
		t.Fatal(err)
	}
	if got := h.Transfer().Bytes(); got != 2<<20 {
		t.Fatalf("final count %d", got)
	}
	if got := readFile(t, filepath.Join(dir, "up.bin")); sum(got) != sum(append(first, second...)) {
		t.Fatal("content differs")
	}
}

// Names are one view on every storage: "x", "/x" and "/a/../x" are the
// same file on the memory backend too.
func TestMemoryNamesAreClean(t *testing.T) {
	d, _, _ := newMemDriver(t)
	f, err := d.Create("x.bin")
	if err != nil {
		t.Fatal(err)
	}
	f.Close()
	for _, name := range []string{"x.bin", "/x.bin", "/a/../x.bin", "./x.bin"} {
		if _, err := d.Stat(name); err != nil {
			t.Errorf("Stat(%q): %v", name, err)
		}
	}
	if _, err := d.Hash("x.bin", "SHA-256", 0, 0); err != nil {
		t.Errorf("Hash of a relative name: %v", err)
	}
}

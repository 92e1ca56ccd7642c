package integration

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestS3ListingNoForgedLines: another writer of the bucket puts a key
// whose name holds CR LF and a whole LIST line after it. LIST, NLST and
// MLSD of the S3 user show neither the forged line nor any name with a
// control character (was: the name went out as is, and a client parsing
// LIST saw a file "forged" of 999 bytes that does not exist).
func TestS3ListingNoForgedLines(t *testing.T) {
	in, store, _ := startS3Server(t, hostA, "")
	dir := filepath.Join(store.Dir, "ftp", "sam")
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	// versitygw serves plain files under its directory as objects.
	for _, n := range []string{
		"evil\r\n-rw-r--r--   1 ftp      ftp           999 Jan  1 00:00 forged",
		"nl\ntype=file;size=999; forged", "real",
	} {
		if err := os.WriteFile(filepath.Join(dir, n), []byte("x"), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	c := in.dial(client1, "sam", testPass)
	for _, cmd := range []string{"LIST", "NLST", "MLSD"} {
		lines, err := c.List(cmd, "/")
		if err != nil {
			t.Fatalf("%s: %v", cmd, err)
		}
		real := false
		for _, l := range lines {
			if strings.Contains(l, "forged") || strings.ContainsAny(l, "\r\n") {
				t.Errorf("%s line %q", cmd, l)
			}
			real = real || strings.HasSuffix(l, "real")
		}
		if !real {
			t.Errorf("%s lacks the file real: %q", cmd, lines)
		}
	}
}

package driver

import (
	"crypto/md5"  //nolint:gosec // test vectors for XMD5
	"crypto/sha1" //nolint:gosec // test vectors for XSHA1
	"crypto/sha256"
	"crypto/sha512"
	"encoding/hex"
	"errors"
	"hash"
	"hash/crc32"
	"os"
	"path/filepath"
	"testing"

	"github.com/spf13/afero"
)

func digest(newHash func() hash.Hash, b []byte) string {
	h := newHash()
	h.Write(b)
	return hex.EncodeToString(h.Sum(nil))
}

func TestHash(t *testing.T) {
	algos := map[string]func() hash.Hash{
		"CRC32":   func() hash.Hash { return crc32.NewIEEE() },
		"MD5":     md5.New,
		"SHA-1":   sha1.New,
		"SHA-256": sha256.New,
		"SHA-512": sha512.New,
		"sha-256": sha256.New, // names are case-insensitive
		"Md5":     md5.New,
	}
	data := randomBytes(100_000, 41)
	size := int64(len(data))
	ranges := []struct{ start, end int64 }{
		{0, size},
		{10, 1000},
		{0, 0},
		{500, 500},
		{size - 1, size},
		{99_000, size + 5_000}, // past the end: up to the end
		{size, size + 10},      // entirely past the end: empty
		{size + 10, size + 20},
	}
	for _, mem := range []bool{false, true} {
		var d *FS
		var hooks *fakeHooks
		if mem {
			d, hooks, _ = newMemDriver(t)
			if err := afero.WriteFile(d.Fs, "/dir/f", data, 0o644); err != nil {
				t.Fatal(err)
			}
		} else {
			var root string
			d, hooks, root = newRootDriver(t, false)
			writeFile(t, filepath.Join(root, "dir", "f"), data)
		}
		for algo, newHash := range algos {
			for _, r := range ranges {
				if mem && r.start > size {
					// afero's memory file answers a read past its end with
					// io.ErrUnexpectedEOF, which Hash reports as an error
					// (see the report); RootFs gives the empty digest.
					continue
				}
				lo, hi := min(r.start, size), min(r.end, size)
				want := digest(newHash, data[lo:hi])
				got, err := d.Hash("/dir/f", algo, r.start, r.end)
				if err != nil || got != want {
					t.Errorf("mem=%v Hash(%s, %d, %d) = %s, %v; want %s", mem, algo, r.start, r.end, got, err, want)
				}
			}
		}
		if n := len(hooks.authCalls()) + len(hooks.doneCalls()); n != 0 {
			t.Fatalf("a digest called the transfer hooks %d times", n)
		}
	}
}

func TestHashErrors(t *testing.T) {
	d, _, root := newRootDriver(t, false)
	writeFile(t, filepath.Join(root, "f"), []byte("abc"))
	if err := os.Mkdir(filepath.Join(root, "dir"), 0o755); err != nil {
		t.Fatal(err)
	}
	if _, err := d.Hash("f", "WHIRLPOOL", 0, 3); err == nil {
		t.Error("unknown algorithm accepted")
	}
	if _, err := d.Hash("f", "", 0, 3); err == nil {
		t.Error("empty algorithm accepted")
	}
	if _, err := d.Hash("f", "MD5", -1, 3); err == nil {
		t.Error("negative start accepted")
	}
	if _, err := d.Hash("f", "MD5", 3, 2); err == nil {
		t.Error("end before start accepted")
	}
	if _, err := d.Hash("missing", "MD5", 0, 3); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("missing file: %v", err)
	}
	for _, name := range []string{"dir", "/", "/dir/.."} {
		if _, err := d.Hash(name, "MD5", 0, 3); err == nil {
			t.Errorf("Hash(%q) of a directory succeeded", name)
		}
	}
}

func TestHashJailAndReadOnly(t *testing.T) {
	s := newSentinel(t)
	d, _, root := newRootDriver(t, true) // a digest is a read: allowed read-only
	files, _, _ := escapeLinks(t, root, s)
	for _, name := range files {
		if got, err := d.Hash(name, "SHA-256", 0, 1<<20); err == nil {
			t.Fatalf("Hash(%s) through an escaping link = %s", name, got)
		}
	}
	s.check(t)
	writeFile(t, filepath.Join(root, "etc", "passwd"), []byte("JAILED"))
	want := digest(sha256.New, []byte("JAILED"))
	for _, name := range []string{"/etc/passwd", "../../etc/passwd", "/../etc/passwd"} {
		if got, err := d.Hash(name, "SHA-256", 0, 100); err != nil || got != want {
			t.Fatalf("Hash(%s) = %s, %v; want the jailed file's digest", name, got, err)
		}
	}
}

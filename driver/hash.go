package driver

import (
	"crypto/md5"  //nolint:gosec // clients ask for it by name (XMD5, HASH MD5)
	"crypto/sha1" //nolint:gosec // likewise (XSHA1)
	"crypto/sha256"
	"crypto/sha512"
	"encoding/hex"
	"errors"
	"fmt"
	"hash"
	"hash/crc32"
	"io"
	"strings"
)

// hashes are the digests HASH and its X* relatives offer, by RFC name.
var hashes = map[string]func() hash.Hash{
	"CRC32":   func() hash.Hash { return crc32.NewIEEE() },
	"MD5":     md5.New,
	"SHA-1":   sha1.New,
	"SHA-256": sha256.New,
	"SHA-512": sha512.New,
}

// Hash returns the hex digest of bytes [start, end) of name with the named
// algorithm (CRC32, MD5, SHA-1, SHA-256, SHA-512). It reads the storage
// directly: a digest is not a data connection and needs no verdict.
func (d *FS) Hash(name, algo string, start, end int64) (string, error) {
	newHash, ok := hashes[strings.ToUpper(algo)]
	if !ok {
		return "", fmt.Errorf("unknown hash algorithm %q", algo)
	}
	if start < 0 || end < start {
		return "", fmt.Errorf("invalid range %d-%d", start, end)
	}
	f, err := d.Fs.Open(name)
	if err != nil {
		return "", err
	}
	defer f.Close()
	if err := refuseDirectory(f, name); err != nil {
		return "", err
	}
	if _, err := f.Seek(start, io.SeekStart); err != nil {
		return "", fmt.Errorf("seek %s: %w", name, err)
	}
	h := newHash()
	if _, err := io.CopyN(h, f, end-start); err != nil && !errors.Is(err, io.EOF) && !errors.Is(err, io.ErrUnexpectedEOF) {
		return "", fmt.Errorf("read %s: %w", name, err)
	}
	return hex.EncodeToString(h.Sum(nil)), nil
}

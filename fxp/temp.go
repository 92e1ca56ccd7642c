package fxp

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"path"
	"strings"
	"time"
	"unicode/utf8"
)

// A copy writes into a temporary file beside its target and renames it
// onto the target only once it is complete (and verified): readers never
// see a partial target, and an interrupted copy leaves the temporary file
// for --resume to continue (lftp's xfer:use-temp-file).
//
// The name is ".fxp-<target name>.<8 hex>.part". The hex digits are the
// start of a SHA-256 of the source (scheme, host, port, user, path) and of
// its size and modification time when the source tells them: a resume
// continues only a file that the same, unchanged source began. A source
// that changed, or another source copied onto the same target, gets a
// different name and starts from byte 0.
const (
	tempPrefix = ".fxp-"
	tempSuffix = ".part"
	tempHexLen = 8
	// maxNameLen is the longest file name most file systems take (NAME_MAX).
	maxNameLen = 255
)

// tempPath is the temporary file of a copy of src (size, mtime: the
// source's, -1 and zero when unknown) onto dst.
func tempPath(dst string, src Endpoint, size int64, mtime time.Time) string {
	h := sha256.New()
	mt := ""
	if !mtime.IsZero() {
		mt = mtime.UTC().Format(mlsdTime)
	}
	fmt.Fprintf(h, "%s\x00%s\x00%d\x00%s\x00%s\x00%d\x00%s", src.Scheme(), src.Host, src.Port, src.User, src.Path, size, mt)
	sum := hex.EncodeToString(h.Sum(nil))[:tempHexLen]
	dir, base := path.Split(dst)
	tail := "." + sum + tempSuffix
	if room := maxNameLen - len(tempPrefix) - len(tail); len(base) > room {
		base = base[:room]
		for len(base) > 0 && !utf8.ValidString(base) {
			base = base[:len(base)-1] // do not cut a character in two
		}
	}
	return dir + tempPrefix + base + tail
}

// IsTempName reports whether a file's base name is one of fxp's
// temporary files (".fxp-*.<8 lowercase hex>.part").
func IsTempName(base string) bool {
	if !strings.HasPrefix(base, tempPrefix) || !strings.HasSuffix(base, tempSuffix) {
		return false
	}
	rest := strings.TrimSuffix(base[len(tempPrefix):], tempSuffix)
	if len(rest) < tempHexLen+1 || rest[len(rest)-tempHexLen-1] != '.' {
		return false
	}
	for _, c := range rest[len(rest)-tempHexLen:] {
		if !strings.ContainsRune("0123456789abcdef", c) {
			return false
		}
	}
	return true
}

// dropTemps removes fxp's temporary files from a tree listing and returns
// their paths (relative to the tree), sorted as listed.
func dropTemps(tree map[string]node) []string {
	var out []string
	for rel, n := range tree {
		if !n.dir && IsTempName(path.Base(rel)) {
			out = append(out, rel)
			delete(tree, rel)
		}
	}
	return out
}

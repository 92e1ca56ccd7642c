package driver

import (
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"strings"
	"time"

	"github.com/spf13/afero"
)

// A STOR writes into a partial file next to its target and renames it over
// the target only when the transfer succeeded. Partial files are named
// PartialPrefix + 32 hex digits. No client can address them: every name
// with a component starting with PartialPrefix is refused as if absent
// (so it can be neither read, listed, deleted, renamed nor created by a
// client), and listings leave them out.
const PartialPrefix = ".ftpd-upload-"

// partialName returns a fresh partial-file name.
func partialName() string {
	var b [16]byte
	_, _ = rand.Read(b[:]) // crypto/rand.Read never fails on Linux
	return PartialPrefix + hex.EncodeToString(b[:])
}

// isOwnPartial reports whether base is exactly a name partialName makes,
// the only names SweepPartials removes.
func isOwnPartial(base string) bool {
	hexPart, ok := strings.CutPrefix(base, PartialPrefix)
	if !ok || len(hexPart) != 32 {
		return false
	}
	_, err := hex.DecodeString(hexPart)
	return err == nil && strings.ToLower(hexPart) == hexPart
}

// reserved reports whether a client-supplied path names a partial file
// (or anything below a directory so named).
func reserved(name string) bool {
	for _, part := range strings.Split(name, "/") {
		if strings.HasPrefix(part, PartialPrefix) {
			return true
		}
	}
	return false
}

func hiddenErr(op, name string) error {
	return &os.PathError{Op: op, Path: name, Err: os.ErrNotExist}
}

// hidden is the client's view of a storage: partial files do not exist.
type hidden struct{ afero.Fs }

func (h hidden) Create(name string) (afero.File, error) {
	if reserved(name) {
		return nil, hiddenErr("create", name)
	}
	return h.Fs.Create(name)
}

func (h hidden) Mkdir(name string, perm os.FileMode) error {
	if reserved(name) {
		return hiddenErr("mkdir", name)
	}
	return h.Fs.Mkdir(name, perm)
}

func (h hidden) MkdirAll(name string, perm os.FileMode) error {
	if reserved(name) {
		return hiddenErr("mkdir", name)
	}
	return h.Fs.MkdirAll(name, perm)
}

func (h hidden) Open(name string) (afero.File, error) {
	if reserved(name) {
		return nil, hiddenErr("open", name)
	}
	return h.Fs.Open(name)
}

func (h hidden) OpenFile(name string, flag int, perm os.FileMode) (afero.File, error) {
	if reserved(name) {
		return nil, hiddenErr("open", name)
	}
	return h.Fs.OpenFile(name, flag, perm)
}

func (h hidden) Remove(name string) error {
	if reserved(name) {
		return hiddenErr("remove", name)
	}
	return h.Fs.Remove(name)
}

func (h hidden) RemoveAll(name string) error {
	if reserved(name) {
		return hiddenErr("remove", name)
	}
	return h.Fs.RemoveAll(name)
}

func (h hidden) Rename(oldname, newname string) error {
	if reserved(oldname) {
		return hiddenErr("rename", oldname)
	}
	if reserved(newname) {
		return hiddenErr("rename", newname)
	}
	return h.Fs.Rename(oldname, newname)
}

func (h hidden) Stat(name string) (os.FileInfo, error) {
	if reserved(name) {
		return nil, hiddenErr("stat", name)
	}
	return h.Fs.Stat(name)
}

func (h hidden) Chmod(name string, mode os.FileMode) error {
	if reserved(name) {
		return hiddenErr("chmod", name)
	}
	return h.Fs.Chmod(name, mode)
}

func (h hidden) Chown(name string, uid, gid int) error {
	if reserved(name) {
		return hiddenErr("chown", name)
	}
	return h.Fs.Chown(name, uid, gid)
}

func (h hidden) Chtimes(name string, atime, mtime time.Time) error {
	if reserved(name) {
		return hiddenErr("chtimes", name)
	}
	return h.Fs.Chtimes(name, atime, mtime)
}

// ReadDir lists a directory without partial files, sorted by name (the FTP
// library's ClientDriverExtensionFileList; ftpd's sessions stream LIST,
// NLST and MLSD through OpenDir instead).
func (d *FS) ReadDir(name string) ([]os.FileInfo, error) {
	dir, err := d.OpenDir(name)
	if err != nil {
		return nil, err
	}
	defer dir.Close()
	return dir.Readdir(-1)
}

// createPartial creates a new partial file in the directory of target
// (both storage paths, cleaned) and returns its path and handle.
func createPartial(storage afero.Fs, target string) (string, afero.File, error) {
	for range 3 {
		tmp := path.Join(path.Dir(target), partialName())
		f, err := storage.OpenFile(tmp, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o644)
		if errors.Is(err, os.ErrExist) {
			continue
		}
		if err != nil {
			// Report the client's name, not the partial file's.
			var pe *os.PathError
			if errors.As(err, &pe) {
				err = pe.Err
			}
			return "", nil, &os.PathError{Op: "open", Path: target, Err: err}
		}
		return tmp, f, nil
	}
	return "", nil, &os.PathError{Op: "open", Path: target, Err: errors.New("could not name a temporary file")}
}

// SweepPartials removes ftpd's own partial files (exactly the names it
// makes) under dir that were last modified before cutoff: leftovers of an
// upload cut short by a crash. Uploads running in this process write to
// theirs, which keeps them newer than the process's start. It returns how
// many it removed; unreadable subdirectories are skipped.
func SweepPartials(dir string, cutoff time.Time) (int, error) {
	removed := 0
	err := filepath.WalkDir(dir, func(p string, e fs.DirEntry, err error) error {
		if err != nil {
			if p == dir {
				return err
			}
			return nil // skip what cannot be read
		}
		if e.Type().IsRegular() && isOwnPartial(e.Name()) {
			info, err := e.Info()
			if err != nil || !info.ModTime().Before(cutoff) {
				return nil
			}
			if err := os.Remove(p); err == nil {
				removed++
			}
		}
		return nil
	})
	if err != nil {
		return removed, fmt.Errorf("sweep %s: %w", dir, err)
	}
	return removed, nil
}

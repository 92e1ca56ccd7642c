package driver

import (
	"errors"
	"fmt"
	"os"
	"path"
	"time"

	"github.com/spf13/afero"
)

// RootFs is an afero.Fs jailed in one directory by os.Root: "..", absolute
// paths and symlinks that lead outside the directory all fail, while the
// files it opens are plain *os.File values, so the kernel's zero-copy paths
// (sendfile, splice) stay available. (afero.BasePathFs wraps every file and
// so loses them.)
type RootFs struct {
	root *os.Root
}

var _ afero.Fs = (*RootFs)(nil)

// OpenRootFs opens dir as a jail, creating it (and its parents) if missing.
func OpenRootFs(dir string) (*RootFs, error) {
	if dir == "" {
		return nil, errors.New("open root: empty directory name")
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, fmt.Errorf("create root %s: %w", dir, err)
	}
	root, err := os.OpenRoot(dir)
	if err != nil {
		return nil, fmt.Errorf("open root %s: %w", dir, err)
	}
	return &RootFs{root: root}, nil
}

// Close releases the root directory.
func (r *RootFs) Close() error { return r.root.Close() }

// rel turns an FTP path ("/a/b", "a/../b", "") into a path relative to the
// root. Cleaning against "/" first means ".." can never climb above it;
// os.Root still guards against symlinks that do.
func rel(name string) string {
	clean := path.Clean("/" + name) // a backslash is part of a name
	if clean == "/" {
		return "."
	}
	return clean[1:]
}

// Name implements afero.Fs.
func (r *RootFs) Name() string { return "RootFs" }

// Create implements afero.Fs.
func (r *RootFs) Create(name string) (afero.File, error) {
	return fileOrNil(r.root.Create(rel(name)))
}

// Mkdir implements afero.Fs.
func (r *RootFs) Mkdir(name string, perm os.FileMode) error { return r.root.Mkdir(rel(name), perm) }

// MkdirAll implements afero.Fs.
func (r *RootFs) MkdirAll(name string, perm os.FileMode) error {
	return r.root.MkdirAll(rel(name), perm)
}

// Open implements afero.Fs.
func (r *RootFs) Open(name string) (afero.File, error) { return fileOrNil(r.root.Open(rel(name))) }

// OpenFile implements afero.Fs.
func (r *RootFs) OpenFile(name string, flag int, perm os.FileMode) (afero.File, error) {
	return fileOrNil(r.root.OpenFile(rel(name), flag, perm))
}

// Remove implements afero.Fs.
func (r *RootFs) Remove(name string) error {
	if rel(name) == "." {
		return &os.PathError{Op: "remove", Path: name, Err: os.ErrPermission}
	}
	return r.root.Remove(rel(name))
}

// RemoveAll implements afero.Fs.
func (r *RootFs) RemoveAll(name string) error {
	if rel(name) == "." {
		return &os.PathError{Op: "removeall", Path: name, Err: os.ErrPermission}
	}
	return r.root.RemoveAll(rel(name))
}

// Rename implements afero.Fs.
func (r *RootFs) Rename(oldname, newname string) error {
	return r.root.Rename(rel(oldname), rel(newname))
}

// Stat implements afero.Fs.
func (r *RootFs) Stat(name string) (os.FileInfo, error) { return r.root.Stat(rel(name)) }

// LstatIfPossible implements afero.Lstater: the entry itself, a symbolic
// link not followed.
func (r *RootFs) LstatIfPossible(name string) (os.FileInfo, bool, error) {
	fi, err := r.root.Lstat(rel(name))
	return fi, true, err
}

// Chmod implements afero.Fs.
func (r *RootFs) Chmod(name string, mode os.FileMode) error { return r.root.Chmod(rel(name), mode) }

// Chown implements afero.Fs.
func (r *RootFs) Chown(name string, uid, gid int) error { return r.root.Chown(rel(name), uid, gid) }

// Chtimes implements afero.Fs.
func (r *RootFs) Chtimes(name string, atime, mtime time.Time) error {
	return r.root.Chtimes(rel(name), atime, mtime)
}

// fileOrNil avoids returning a typed nil *os.File inside a non-nil
// afero.File interface.
func fileOrNil(f *os.File, err error) (afero.File, error) {
	if err != nil {
		return nil, err
	}
	return f, nil
}

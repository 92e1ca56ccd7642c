package server

import (
	"errors"
	"io/fs"
	"os"
	"path"
	"strings"
	"sync"
	"time"

	"github.com/spf13/afero"

	"github.com/ftpd/ftpd/driver"
	"github.com/ftpd/ftpd/token"
)

// tokenFs narrows a user's storage to what a token allows: its path (a
// file, or a subtree), read for Send, write for Receive. Directories above
// the path can be looked at (CWD, SIZE of the path) but not listed;
// nothing can be deleted except the driver's own partial upload files.
// Every refusal is a permission error (550).
type tokenFs struct {
	afero.Fs
	c       token.Claims
	written *writtenSet // what this login wrote (MFMT of a receive token)
}

// scopeStorage wraps storage for a token login (claims not nil).
func scopeStorage(storage afero.Fs, claims *token.Claims) afero.Fs {
	if claims == nil {
		return storage
	}
	return tokenFs{Fs: storage, c: *claims, written: &writtenSet{m: map[string]bool{}}}
}

// maxWritten bounds writtenSet: past it, the oldest names are forgotten
// (their MFMT is then refused: fail closed).
const maxWritten = 1024

// writtenSet holds the paths a login wrote, so that a receive token may
// date (MFMT) its own uploads and no other file: setting the time of a
// file would tell that it exists.
type writtenSet struct {
	mu    sync.Mutex
	m     map[string]bool
	order []string
}

func (w *writtenSet) add(p string) {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.m[p] {
		return
	}
	if len(w.order) >= maxWritten {
		delete(w.m, w.order[0])
		w.order = w.order[1:]
	}
	w.m[p] = true
	w.order = append(w.order, p)
}

func (w *writtenSet) has(p string) bool {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.m[p]
}

// receiveOnly reports whether the token may write but not read.
func (f tokenFs) receiveOnly() bool { return f.c.Dir&token.Send == 0 }

func deny(op, name string) error {
	return &os.PathError{Op: op, Path: name, Err: os.ErrPermission}
}

func clean(name string) string { return path.Clean("/" + name) }

// ancestor reports whether p is a directory above the token's path.
func (f tokenFs) ancestor(p string) bool {
	scope := strings.TrimSuffix(f.c.Path, "/")
	return p != scope && (p == "/" || strings.HasPrefix(scope, p+"/")) && !f.viaLink(p)
}

// covers reports whether p is within the token's scope and reached
// through no symbolic link: the scope is a place in the tree, and a link
// inside it may lead anywhere in the user's root.
func (f tokenFs) covers(p string) bool { return f.c.Covers(p) && !f.viaLink(p) }

// viaLink reports whether p, or a directory on the way to it, is a
// symbolic link (fail closed: an entry that cannot be examined for a
// reason other than not existing counts as one).
func (f tokenFs) viaLink(p string) bool {
	ls, ok := f.Fs.(afero.Lstater)
	if !ok {
		return false // a storage without links (memory)
	}
	cur := ""
	for _, part := range strings.Split(strings.Trim(p, "/"), "/") {
		if part == "" {
			continue
		}
		cur += "/" + part
		fi, _, err := ls.LstatIfPossible(cur)
		if errors.Is(err, fs.ErrNotExist) {
			return false // what does not exist yet is created, not followed
		}
		if err != nil || fi.Mode()&os.ModeSymlink != 0 {
			return true
		}
	}
	return false
}

// partial reports whether p is one of the driver's partial upload files
// where a receiving token may store (clients cannot name these: the
// driver refuses such names as absent).
func (f tokenFs) partial(p string) bool {
	if f.c.Dir&token.Receive == 0 || !strings.HasPrefix(path.Base(p), driver.PartialPrefix) {
		return false
	}
	dir := path.Dir(p)
	return (f.c.Covers(dir) || !f.c.Subtree() && dir == path.Dir(f.c.Path)) && !f.viaLink(dir)
}

func (f tokenFs) mayWrite(p string) bool {
	return f.c.Dir&token.Receive != 0 && f.covers(p) || f.partial(p)
}

func (f tokenFs) Create(name string) (afero.File, error) {
	return f.OpenFile(name, os.O_RDWR|os.O_CREATE|os.O_TRUNC, 0o666)
}

func (f tokenFs) Open(name string) (afero.File, error) { return f.OpenFile(name, os.O_RDONLY, 0) }

func (f tokenFs) OpenFile(name string, flag int, perm os.FileMode) (afero.File, error) {
	p := clean(name)
	if flag&(os.O_WRONLY|os.O_RDWR|os.O_CREATE|os.O_TRUNC|os.O_APPEND) != 0 {
		if !f.mayWrite(p) {
			return nil, deny("open", name)
		}
		file, err := f.Fs.OpenFile(name, flag, perm)
		if err == nil && !f.partial(p) {
			f.written.add(p)
		}
		return file, err
	}
	if f.partial(p) {
		return f.Fs.OpenFile(name, flag, perm)
	}
	if !f.covers(p) || f.c.Dir&token.Send == 0 {
		return nil, deny("open", name) // a receiving token reads no file and lists no directory
	}
	return f.Fs.OpenFile(name, flag, perm)
}

func (f tokenFs) Stat(name string) (os.FileInfo, error) {
	p := clean(name)
	if !f.covers(p) && !f.ancestor(p) && !f.partial(p) {
		return nil, deny("stat", name)
	}
	if !f.covers(p) && f.ancestor(p) {
		// Above the path: that it is a directory (CWD), nothing else;
		// its date would tell when anything there last changed.
		fi, err := f.Fs.Stat(name)
		if err != nil {
			return nil, err
		}
		return bareDir{name: fi.Name(), mode: fi.Mode()}, nil
	}
	if f.receiveOnly() && !f.partial(p) {
		// Directories only: a file answers as nothing does, with the
		// same text (CWD words its reply from this error), so that a
		// receive token cannot tell which files are there. An upload
		// replaces the name whatever it holds.
		fi, err := f.Fs.Stat(name)
		if err == nil && fi.IsDir() {
			return fi, nil
		}
		return nil, &os.PathError{Op: "stat", Path: name, Err: fs.ErrNotExist}
	}
	return f.Fs.Stat(name)
}

func (f tokenFs) Mkdir(name string, perm os.FileMode) error {
	if !f.c.Subtree() || !f.mayWrite(clean(name)) {
		return deny("mkdir", name)
	}
	return f.Fs.Mkdir(name, perm)
}

func (f tokenFs) MkdirAll(name string, perm os.FileMode) error {
	if !f.c.Subtree() || !f.mayWrite(clean(name)) {
		return deny("mkdir", name)
	}
	return f.Fs.MkdirAll(name, perm)
}

func (f tokenFs) Remove(name string) error {
	if !f.partial(clean(name)) {
		return deny("remove", name)
	}
	return f.Fs.Remove(name)
}

func (f tokenFs) RemoveAll(name string) error {
	if !f.partial(clean(name)) {
		return deny("remove", name)
	}
	return f.Fs.RemoveAll(name)
}

// Rename is only the driver's last step of an upload: its partial file
// over the target.
func (f tokenFs) Rename(oldname, newname string) error {
	if !f.partial(clean(oldname)) || !f.mayWrite(clean(newname)) || f.partial(clean(newname)) {
		return deny("rename", oldname)
	}
	err := f.Fs.Rename(oldname, newname)
	if err == nil {
		f.written.add(clean(newname))
	}
	return err
}

func (f tokenFs) Chtimes(name string, atime, mtime time.Time) error {
	p := clean(name)
	if !f.mayWrite(p) || f.receiveOnly() && !f.partial(p) && !f.written.has(p) {
		// A receive token dates only what this login wrote: the answer
		// for another file would tell whether it exists.
		return deny("chtimes", name)
	}
	return f.Fs.Chtimes(name, atime, mtime)
}

func (f tokenFs) Chmod(name string, mode os.FileMode) error { return deny("chmod", name) }

func (f tokenFs) Chown(name string, uid, gid int) error { return deny("chown", name) }

// bareDir is what a token sees of a directory above its path: the name and
// the type, no size and no date.
type bareDir struct {
	name string
	mode fs.FileMode
}

func (d bareDir) Name() string       { return d.name }
func (d bareDir) Size() int64        { return 0 }
func (d bareDir) Mode() fs.FileMode  { return d.mode }
func (d bareDir) ModTime() time.Time { return time.Time{} }
func (d bareDir) IsDir() bool        { return d.mode.IsDir() }
func (d bareDir) Sys() any           { return nil }

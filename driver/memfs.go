package driver

import (
	"os"
	"path"
	"sync"
	"syscall"

	"github.com/spf13/afero"
)

// MemoryFs is the memory backend: afero's MemMapFs made to keep the tree a
// disk keeps. MemMapFs removes a directory that still holds entries and
// creates files in directories that do not exist; either leaves an entry
// without a parent, and renaming that entry then panics inside MemMapFs
// ("parent of /d/f is nil", a fatal error that no recover catches: it took
// the whole server down). MemoryFs refuses both, as a disk does, and
// serializes the calls that change the tree so that no other session can
// slip an entry in between its check and the change.
type MemoryFs struct {
	afero.Fs
	mu sync.Mutex // held by every call that adds, moves or removes a name
}

// NewMemoryFs returns an empty memory storage.
func NewMemoryFs() *MemoryFs { return &MemoryFs{Fs: afero.NewMemMapFs()} }

// parentIsDir fails unless name's parent directory exists.
func (m *MemoryFs) parentIsDir(op, name string) error {
	dir := path.Dir(path.Clean("/" + name))
	fi, err := m.Fs.Stat(dir)
	if err != nil {
		return &os.PathError{Op: op, Path: name, Err: syscall.ENOENT}
	}
	if !fi.IsDir() {
		return &os.PathError{Op: op, Path: name, Err: syscall.ENOTDIR}
	}
	return nil
}

// Create implements afero.Fs.
func (m *MemoryFs) Create(name string) (afero.File, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if err := m.parentIsDir("create", name); err != nil {
		return nil, err
	}
	return m.Fs.Create(name)
}

// OpenFile implements afero.Fs.
func (m *MemoryFs) OpenFile(name string, flag int, perm os.FileMode) (afero.File, error) {
	if flag&os.O_CREATE == 0 {
		return m.Fs.OpenFile(name, flag, perm)
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	if err := m.parentIsDir("open", name); err != nil {
		return nil, err
	}
	return m.Fs.OpenFile(name, flag, perm)
}

// Mkdir implements afero.Fs.
func (m *MemoryFs) Mkdir(name string, perm os.FileMode) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	if err := m.parentIsDir("mkdir", name); err != nil {
		return err
	}
	return m.Fs.Mkdir(name, perm)
}

// MkdirAll implements afero.Fs.
func (m *MemoryFs) MkdirAll(name string, perm os.FileMode) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.Fs.MkdirAll(name, perm)
}

// Remove implements afero.Fs: a directory must be empty.
func (m *MemoryFs) Remove(name string) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	if fi, err := m.Fs.Stat(name); err == nil && fi.IsDir() {
		f, err := m.Fs.Open(name)
		if err != nil {
			return err
		}
		names, err := f.Readdirnames(1)
		f.Close()
		if err == nil && len(names) > 0 {
			return &os.PathError{Op: "remove", Path: name, Err: syscall.ENOTEMPTY}
		}
	}
	return m.Fs.Remove(name)
}

// RemoveAll implements afero.Fs.
func (m *MemoryFs) RemoveAll(name string) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.Fs.RemoveAll(name)
}

// Rename implements afero.Fs: the new name's directory must exist.
func (m *MemoryFs) Rename(oldname, newname string) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	if _, err := m.Fs.Stat(oldname); err != nil {
		return err
	}
	if err := m.parentIsDir("rename", newname); err != nil {
		return err
	}
	return m.Fs.Rename(oldname, newname)
}

package driver

import (
	"os"
	"path"
	"time"

	"github.com/spf13/afero"
)

// cleanNames gives every storage the same view of names: absolute, clean,
// with "/" for the root ("x", "/x" and "/a/../x" are one file). RootFs does
// this itself; afero's memory storage would otherwise keep "x" and "/x"
// apart. It returns the storage's files unwrapped (*os.File stays
// *os.File).
type cleanNames struct{ afero.Fs }

// A backslash is an ordinary character of a name, as for vsftpd and
// ProFTPD: `a\b` is one file, never "a/b".
func cleanName(name string) string {
	return path.Clean("/" + name)
}

func (c cleanNames) Create(name string) (afero.File, error) { return c.Fs.Create(cleanName(name)) }
func (c cleanNames) Mkdir(name string, perm os.FileMode) error {
	return c.Fs.Mkdir(cleanName(name), perm)
}
func (c cleanNames) MkdirAll(name string, perm os.FileMode) error {
	return c.Fs.MkdirAll(cleanName(name), perm)
}
func (c cleanNames) Open(name string) (afero.File, error) { return c.Fs.Open(cleanName(name)) }
func (c cleanNames) OpenFile(name string, flag int, perm os.FileMode) (afero.File, error) {
	return c.Fs.OpenFile(cleanName(name), flag, perm)
}
func (c cleanNames) Remove(name string) error    { return c.Fs.Remove(cleanName(name)) }
func (c cleanNames) RemoveAll(name string) error { return c.Fs.RemoveAll(cleanName(name)) }
func (c cleanNames) Rename(oldname, newname string) error {
	return c.Fs.Rename(cleanName(oldname), cleanName(newname))
}
func (c cleanNames) Stat(name string) (os.FileInfo, error) { return c.Fs.Stat(cleanName(name)) }
func (c cleanNames) Chmod(name string, mode os.FileMode) error {
	return c.Fs.Chmod(cleanName(name), mode)
}
func (c cleanNames) Chown(name string, uid, gid int) error {
	return c.Fs.Chown(cleanName(name), uid, gid)
}
func (c cleanNames) Chtimes(name string, atime, mtime time.Time) error {
	return c.Fs.Chtimes(cleanName(name), atime, mtime)
}

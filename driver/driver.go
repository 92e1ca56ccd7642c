// Package driver is ftpd's storage side: an afero.Fs per user (a jailed
// directory or memory), read-only enforcement, no-clobber uploads, and the
// file handles through which every transfer's bytes move. A transfer's
// handle asks the server's Hooks for a verdict once the data connection's
// peer is known and before a byte moves, then copies with the kernel's
// zero-copy paths (sendfile, splice) where the storage allows it.
package driver

import (
	"context"
	"errors"
	"fmt"
	"os"
	"time"

	"github.com/spf13/afero"

	"github.com/ftpd/ftpd/acl"
)

// ErrReadOnly is returned by every write operation of a read-only FS.
var ErrReadOnly = errors.New("permission denied: this account is read-only")

// Hooks connect a session's transfers to the server's policy, limits and
// reports. Both methods are called from the transfer's goroutine.
type Hooks interface {
	// Authorize is called once per transfer, when the data connection
	// exists and before any byte moves. t.Peer is set. A non-nil error
	// refuses the transfer; its text is shown to the client. Authorize may
	// set t.Foreign and t.Limiters.
	Authorize(t *Transfer) error
	// Done is called once for every transfer handle that was opened,
	// authorized or not; err is nil for a transfer that ended cleanly.
	Done(t *Transfer, err error)
}

// Options configure an FS.
type Options struct {
	ReadOnly bool
	Hooks    Hooks            // required
	Now      func() time.Time // clock; nil = time.Now
	// Context bounds waits inside transfers (rate limiting); cancel it when
	// the session ends. nil = context.Background().
	Context context.Context
	// FsyncUploads flushes every successful upload to stable storage
	// before it is reported done (and, for STOR, before it replaces the
	// target).
	FsyncUploads bool
	// DataSocketBuffer, when above 0, is the send buffer set on each
	// download's data connection (RETR, so also an FXP source):
	// SO_SNDBUFFORCE, which needs CAP_NET_ADMIN, else SO_SNDBUF, capped
	// by net.core.wmem_max. 0 leaves the kernel's autotuning. Uploads
	// keep receive autotuning (see setSocketBuffer).
	DataSocketBuffer int
}

// FS is one session's view of a user's storage. It implements afero.Fs and
// the FTP library's file-transfer extension (GetHandle).
type FS struct {
	afero.Fs          // the client's view: partial uploads hidden
	raw      afero.Fs // the storage with clean names, partial files included
	opts     Options
	direct   bool // the storage's uploads appear only when committed
}

// CommitStorage is a storage whose uploads are atomic by themselves (S3):
// a file opened for writing appears under its name only when the driver
// calls its Commit, after a transfer that succeeded; closing it without
// Commit leaves the old file as it was. A STOR then writes to its target
// directly, with no partial file and no rename.
type CommitStorage interface {
	afero.Fs
	CommitsUploads() bool
}

// Committer is a file of a CommitStorage opened for writing.
type Committer interface {
	Commit() error
}

// New returns an FS over storage.
func New(storage afero.Fs, opts Options) (*FS, error) {
	if storage == nil {
		return nil, errors.New("driver: nil storage")
	}
	if opts.Hooks == nil {
		return nil, errors.New("driver: nil hooks")
	}
	if opts.Now == nil {
		opts.Now = time.Now
	}
	if opts.Context == nil {
		opts.Context = context.Background()
	}
	raw := cleanNames{storage}
	cs, ok := storage.(CommitStorage)
	return &FS{Fs: hidden{raw}, raw: raw, opts: opts, direct: ok && cs.CommitsUploads()}, nil
}

// ReadOnly reports whether writes are refused.
func (d *FS) ReadOnly() bool { return d.opts.ReadOnly }

func (d *FS) denyWrite(op, name string) error {
	if d.opts.ReadOnly {
		return &os.PathError{Op: op, Path: name, Err: ErrReadOnly}
	}
	return nil
}

// Create implements afero.Fs.
func (d *FS) Create(name string) (afero.File, error) {
	if err := d.denyWrite("create", name); err != nil {
		return nil, err
	}
	return d.Fs.Create(name)
}

// OpenFile implements afero.Fs; write flags fail on a read-only FS.
func (d *FS) OpenFile(name string, flag int, perm os.FileMode) (afero.File, error) {
	if flag&(os.O_WRONLY|os.O_RDWR|os.O_CREATE|os.O_TRUNC|os.O_APPEND) != 0 {
		if err := d.denyWrite("open", name); err != nil {
			return nil, err
		}
	}
	return d.Fs.OpenFile(name, flag, perm)
}

// Mkdir implements afero.Fs.
func (d *FS) Mkdir(name string, perm os.FileMode) error {
	if err := d.denyWrite("mkdir", name); err != nil {
		return err
	}
	return d.Fs.Mkdir(name, perm)
}

// MkdirAll implements afero.Fs.
func (d *FS) MkdirAll(name string, perm os.FileMode) error {
	if err := d.denyWrite("mkdir", name); err != nil {
		return err
	}
	return d.Fs.MkdirAll(name, perm)
}

// Remove implements afero.Fs.
func (d *FS) Remove(name string) error {
	if err := d.denyWrite("remove", name); err != nil {
		return err
	}
	return d.Fs.Remove(name)
}

// RemoveAll implements afero.Fs.
func (d *FS) RemoveAll(name string) error {
	if err := d.denyWrite("remove", name); err != nil {
		return err
	}
	return d.Fs.RemoveAll(name)
}

// Rename implements afero.Fs.
func (d *FS) Rename(oldname, newname string) error {
	if err := d.denyWrite("rename", oldname); err != nil {
		return err
	}
	return d.Fs.Rename(oldname, newname)
}

// ErrModeBits is returned by Chmod for anything but permission bits.
var ErrModeBits = errors.New("only permission bits (0-0777) may be set: no setuid, setgid or sticky bit")

// Chmod implements afero.Fs. Only permission bits may be set: FTP users
// never create setuid, setgid or sticky files.
func (d *FS) Chmod(name string, mode os.FileMode) error {
	if err := d.denyWrite("chmod", name); err != nil {
		return err
	}
	if mode&^os.ModePerm != 0 {
		return &os.PathError{Op: "chmod", Path: name, Err: ErrModeBits}
	}
	return d.Fs.Chmod(name, mode)
}

// Chown implements afero.Fs.
func (d *FS) Chown(name string, uid, gid int) error {
	if err := d.denyWrite("chown", name); err != nil {
		return err
	}
	return d.Fs.Chown(name, uid, gid)
}

// Chtimes implements afero.Fs (MFMT).
func (d *FS) Chtimes(name string, atime, mtime time.Time) error {
	if err := d.denyWrite("chtimes", name); err != nil {
		return err
	}
	return d.Fs.Chtimes(name, atime, mtime)
}

// OpenTransfer opens name for a transfer (the FTP library's GetHandle). flags follow the FTP library:
// O_RDONLY for RETR; O_WRONLY|O_CREATE[|O_TRUNC] for STOR;
// O_WRONLY|O_CREATE|O_APPEND for APPE. offset is the REST position.
//
// STOR from the start (no REST, or REST 0) is atomic: the data goes into a
// partial file in the target's directory, renamed over the target only
// when the transfer succeeded, and removed otherwise; the target is never
// opened for writing. APPE and REST+STOR resume: they write into the
// target in place. Those never truncate or append here: the file is opened
// without O_TRUNC and without O_APPEND (which would disable splice); the
// handle truncates at the REST offset, or seeks to the end for APPE, only
// once the transfer is authorized and the sender has sent.
func (d *FS) OpenTransfer(name string, flags int, offset int64) (*Handle, error) {
	t := &Transfer{Path: name, Offset: offset, Size: -1}
	if offset < 0 {
		return nil, &RestError{Offset: offset}
	}
	if flags&(os.O_WRONLY|os.O_RDWR) == 0 {
		t.Command, t.Direction = "RETR", acl.DirectionSend
		f, err := d.Fs.Open(name)
		if err != nil {
			return nil, err
		}
		info, err := f.Stat()
		if err != nil || info.IsDir() {
			f.Close()
			if err == nil {
				err = &os.PathError{Op: "open", Path: name, Err: errors.New("is a directory")}
			}
			return nil, err
		}
		if offset > info.Size() {
			f.Close()
			return nil, &RestError{Offset: offset, Size: info.Size()}
		}
		t.Size = info.Size() - offset
		return d.newHandle(t, f, false), nil
	}

	t.Direction = acl.DirectionReceive
	t.Command = "STOR"
	if flags&os.O_APPEND != 0 {
		t.Command = "APPE"
	}
	if err := d.denyWrite("open", name); err != nil {
		return nil, err
	}
	if reserved(name) {
		return nil, hiddenErr("open", name)
	}
	if t.Command == "STOR" && offset == 0 {
		return d.openAtomic(t)
	}
	if t.Command == "STOR" {
		return d.openResume(t)
	}
	// Let the open decide whether the file is new (O_EXCL), not a Stat
	// before it: that would race with other sessions and follow a dangling
	// symlink.
	created := true
	f, err := d.Fs.OpenFile(name, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o644)
	if errors.Is(err, os.ErrExist) {
		created = false
		f, err = d.Fs.OpenFile(name, os.O_WRONLY, 0)
	}
	if err != nil {
		return nil, err
	}
	if err := refuseDirectory(f, name); err != nil {
		f.Close()
		return nil, err
	}
	return d.newHandle(t, f, created), nil
}

// openResume opens the file a REST+STOR continues: it must exist and
// hold at least the offset (prepareUpload checks again before writing).
func (d *FS) openResume(t *Transfer) (*Handle, error) {
	f, err := d.Fs.OpenFile(t.Path, os.O_WRONLY, 0)
	if errors.Is(err, os.ErrNotExist) {
		return nil, &RestError{Offset: t.Offset, Missing: true}
	}
	if err != nil {
		return nil, err
	}
	if err := refuseDirectory(f, t.Path); err != nil {
		f.Close()
		return nil, err
	}
	info, err := f.Stat()
	if err == nil && info.Size() < t.Offset {
		err = &RestError{Offset: t.Offset, Size: info.Size()}
	}
	if err != nil {
		f.Close()
		return nil, err
	}
	return d.newHandle(t, f, false), nil
}

// openAtomic opens a STOR's partial file next to its target.
func (d *FS) openAtomic(t *Transfer) (*Handle, error) {
	target := cleanName(t.Path)
	// The target is replaced, never written through: but a name that
	// cannot be resolved inside the root (a symlink leading out) is
	// refused, as for every other operation.
	info, err := d.raw.Stat(target)
	switch {
	case err == nil && info.IsDir():
		return nil, &os.PathError{Op: "open", Path: t.Path, Err: errors.New("is a directory")}
	case err != nil && !errors.Is(err, os.ErrNotExist):
		return nil, err
	}
	if d.direct {
		f, err := d.raw.OpenFile(target, os.O_WRONLY|os.O_CREATE|os.O_TRUNC, 0o644)
		if err != nil {
			return nil, err
		}
		return d.newHandle(t, f, false), nil
	}
	tmp, f, err := createPartial(d.raw, target)
	if err != nil {
		return nil, err
	}
	h := d.newHandle(t, f, false)
	h.partial = tmp
	return h, nil
}

func refuseDirectory(f afero.File, name string) error {
	info, err := f.Stat()
	if err != nil {
		return fmt.Errorf("stat %s: %w", name, err)
	}
	if info.IsDir() {
		return &os.PathError{Op: "open", Path: name, Err: errors.New("is a directory")}
	}
	return nil
}

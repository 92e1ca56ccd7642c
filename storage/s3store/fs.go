package s3store

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"path"
	"slices"
	"sort"
	"strconv"
	"strings"
	"syscall"
	"time"
	"unicode/utf8"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/spf13/afero"

	"github.com/ftpd/ftpd/conf"
)

// ErrUnsupported is what S3 cannot do the way a disk does (directory
// rename, append, resume, chmod, chown): the FTP reply is a 5xx.
var ErrUnsupported = errors.New("not supported on S3 storage")

// Fs is one user's view of the bucket: the keys under prefix. It
// implements afero.Fs. Names are FTP paths; every name is cleaned against
// "/" before it becomes a key, so no spelling ("..", "//") leaves the
// prefix, and a backslash is refused rather than guessed at.
type Fs struct {
	s      *Store
	prefix string
	ctx    context.Context
	client string // the client block its uploads count against (WithClient)
}

var _ afero.Fs = (*Fs)(nil)

// Fs returns the view of the keys under prefix (see conf.S3PrefixProblem); ctx
// bounds its requests (the session's lifetime) and names the client block
// its uploads count against (WithClient).
func (s *Store) Fs(ctx context.Context, prefix string) (*Fs, error) {
	if why := conf.S3PrefixProblem(prefix); why != "" {
		return nil, fmt.Errorf("s3: prefix %q %s", prefix, why)
	}
	return &Fs{s: s, prefix: prefix, ctx: ctx, client: clientOf(ctx)}, nil
}

// key maps an FTP path to its object key; "" for the root.
func (f *Fs) key(op, name string) (string, error) {
	if strings.Contains(name, "\\") {
		return "", &os.PathError{Op: op, Path: name, Err: os.ErrPermission}
	}
	if !utf8.ValidString(name) || hasControl(name) {
		// A listing could not show it (see addressable; XML carries
		// only UTF-8): no file nobody can list or name again.
		return "", &os.PathError{Op: op, Path: name, Err: os.ErrInvalid}
	}
	clean := path.Clean("/" + name)
	if clean == "/" {
		return f.prefix, nil
	}
	k := f.prefix + clean[1:]
	if strings.HasPrefix(k, Reserved) || k+"/" == Reserved {
		return "", &os.PathError{Op: op, Path: name, Err: os.ErrNotExist}
	}
	if len(k)+1 > maxKey {
		// +1: the directory marker k+"/" must fit too.
		return "", &os.PathError{Op: op, Path: name, Err: syscall.ENAMETOOLONG}
	}
	return k, nil
}

// req is the context of one request on the store: the session's, bounded
// by the request timeout, so a store that stops answering fails the
// command instead of holding the session.
func (f *Fs) req() (context.Context, context.CancelFunc) {
	return context.WithTimeout(f.ctx, f.s.reqTimeout)
}

// maxKey is S3's longest key in bytes.
const maxKey = 1024

// Name implements afero.Fs.
func (f *Fs) Name() string { return "S3" }

// Create implements afero.Fs: a new upload (see OpenFile).
func (f *Fs) Create(name string) (afero.File, error) {
	return f.OpenFile(name, os.O_WRONLY|os.O_CREATE|os.O_TRUNC, 0o644)
}

// Mkdir writes a "dir/" marker.
func (f *Fs) Mkdir(name string, _ os.FileMode) error {
	k, err := f.key("mkdir", name)
	if err != nil {
		return err
	}
	if k == f.prefix {
		return &os.PathError{Op: "mkdir", Path: name, Err: os.ErrExist}
	}
	if _, err := f.Stat(name); err == nil {
		return &os.PathError{Op: "mkdir", Path: name, Err: os.ErrExist}
	}
	if parent := path.Dir(path.Clean("/" + name)); parent != "/" {
		if fi, err := f.Stat(parent); err != nil || !fi.IsDir() {
			return &os.PathError{Op: "mkdir", Path: name, Err: os.ErrNotExist}
		}
	}
	ctx, cancel := f.req()
	defer cancel()
	_, err = f.s.c.PutObject(ctx, &s3.PutObjectInput{Bucket: &f.s.bucket, Key: aws.String(k + "/"), Body: strings.NewReader(""), ContentLength: aws.Int64(0)})
	return f.pathErr("mkdir", name, err)
}

// MkdirAll writes the markers of name and its missing parents.
func (f *Fs) MkdirAll(name string, perm os.FileMode) error {
	clean := path.Clean("/" + name)
	if clean == "/" {
		return nil
	}
	if fi, err := f.Stat(clean); err == nil {
		if fi.IsDir() {
			return nil
		}
		return &os.PathError{Op: "mkdir", Path: name, Err: syscall.ENOTDIR}
	}
	if err := f.MkdirAll(path.Dir(clean), perm); err != nil {
		return err
	}
	return f.Mkdir(clean, perm)
}

// Open opens a file for reading or a directory for listing.
func (f *Fs) Open(name string) (afero.File, error) {
	return f.OpenFile(name, os.O_RDONLY, 0)
}

// OpenFile opens for reading, or, with O_WRONLY|O_CREATE, starts an upload
// that replaces the object only when committed (Upload.Commit). Append
// and read-write are refused.
func (f *Fs) OpenFile(name string, flag int, _ os.FileMode) (afero.File, error) {
	k, err := f.key("open", name)
	if err != nil {
		return nil, err
	}
	if flag&(os.O_WRONLY|os.O_RDWR|os.O_APPEND|os.O_CREATE|os.O_TRUNC) == 0 {
		fi, err := f.Stat(name)
		if err != nil {
			return nil, err
		}
		if fi.IsDir() {
			return &dirFile{fs: f, name: name, key: k, info: fi}, nil
		}
		return &reader{fs: f, name: name, key: k, info: fi}, nil
	}
	if flag&(os.O_APPEND|os.O_RDWR) != 0 || flag&os.O_CREATE == 0 {
		// In-place writes (APPE, REST+STOR) need the existing object.
		return nil, &os.PathError{Op: "open", Path: name, Err: ErrUnsupported}
	}
	if k == f.prefix {
		return nil, &os.PathError{Op: "open", Path: name, Err: errors.New("is a directory")}
	}
	if fi, err := f.Stat(name); err == nil {
		if fi.IsDir() {
			return nil, &os.PathError{Op: "open", Path: name, Err: errors.New("is a directory")}
		}
		if flag&os.O_EXCL != 0 {
			return nil, &os.PathError{Op: "open", Path: name, Err: os.ErrExist}
		}
	}
	if parent := path.Dir(path.Clean("/" + name)); parent != "/" {
		if fi, err := f.Stat(parent); err != nil || !fi.IsDir() {
			return nil, &os.PathError{Op: "open", Path: name, Err: os.ErrNotExist}
		}
	}
	return newUpload(f, name, k), nil
}

// Remove deletes a file, or a directory's marker when it is empty.
func (f *Fs) Remove(name string) error {
	k, err := f.key("remove", name)
	if err != nil {
		return err
	}
	if k == f.prefix {
		return &os.PathError{Op: "remove", Path: name, Err: os.ErrPermission}
	}
	fi, err := f.Stat(name)
	if err != nil {
		return err
	}
	ctx, cancel := f.req()
	defer cancel()
	if !fi.IsDir() {
		_, err = f.s.c.DeleteObject(ctx, &s3.DeleteObjectInput{Bucket: &f.s.bucket, Key: &k})
		return f.pathErr("remove", name, err)
	}
	out, err := f.s.c.ListObjectsV2(ctx, &s3.ListObjectsV2Input{Bucket: &f.s.bucket, Prefix: aws.String(k + "/"), MaxKeys: aws.Int32(2)})
	if err != nil {
		return f.pathErr("remove", name, err)
	}
	for _, o := range out.Contents {
		if aws.ToString(o.Key) != k+"/" {
			return &os.PathError{Op: "remove", Path: name, Err: syscall.ENOTEMPTY}
		}
	}
	_, err = f.s.c.DeleteObject(ctx, &s3.DeleteObjectInput{Bucket: &f.s.bucket, Key: aws.String(k + "/")})
	return f.pathErr("remove", name, err)
}

// RemoveAll is refused: a recursive delete of a prefix is not an FTP
// command, and a half-done one cannot be undone.
func (f *Fs) RemoveAll(name string) error {
	return &os.PathError{Op: "removeall", Path: name, Err: ErrUnsupported}
}

// Rename copies a file to its new key, then deletes the old one.
// Directories are refused (S3 has no rename: every key would be copied).
func (f *Fs) Rename(oldname, newname string) error {
	ok, err := f.key("rename", oldname)
	if err != nil {
		return err
	}
	nk, err := f.key("rename", newname)
	if err != nil {
		return err
	}
	fi, err := f.Stat(oldname)
	if err != nil {
		return err
	}
	if fi.IsDir() {
		return &os.PathError{Op: "rename", Path: oldname, Err: fmt.Errorf("directory rename: %w", ErrUnsupported)}
	}
	if ok == nk {
		return nil
	}
	if ti, err := f.Stat(newname); err == nil && ti.IsDir() {
		return &os.PathError{Op: "rename", Path: newname, Err: errors.New("is a directory")}
	}
	if parent := path.Dir(path.Clean("/" + newname)); parent != "/" {
		if pi, err := f.Stat(parent); err != nil || !pi.IsDir() {
			return &os.PathError{Op: "rename", Path: newname, Err: os.ErrNotExist}
		}
	}
	etag := fi.(*info).etag
	if err := f.s.copyObject(f.ctx, ok, nk, fi.Size(), etag, nil); err != nil {
		return f.pathErr("rename", oldname, err)
	}
	// Delete only the object copied: another writer of the bucket may
	// have replaced it since, and its new file must not be lost.
	ctx, cancel := f.req()
	defer cancel()
	_, err = f.s.c.DeleteObject(ctx, &s3.DeleteObjectInput{Bucket: &f.s.bucket, Key: &ok, IfMatch: etag})
	if httpStatus(err) == http.StatusNotImplemented {
		// A store without conditional deletes: delete as before.
		_, err = f.s.c.DeleteObject(ctx, &s3.DeleteObjectInput{Bucket: &f.s.bucket, Key: &ok})
	}
	if httpStatus(err) == http.StatusPreconditionFailed {
		return &os.PathError{Op: "rename", Path: oldname, Err: errChanged}
	}
	return f.pathErr("rename", oldname, err)
}

// errChanged is a rename whose source was replaced after it was copied:
// both names exist, the old one with the new content.
var errChanged = errors.New("replaced during the rename: copied, and kept under its old name")

func copySource(bucket, key string) string {
	// CopySource is bucket/key, URL-escaped per segment.
	parts := strings.Split(key, "/")
	for i, p := range parts {
		parts[i] = urlEscape(p)
	}
	return bucket + "/" + strings.Join(parts, "/")
}

func urlEscape(s string) string {
	const hexd = "0123456789ABCDEF"
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || strings.IndexByte("-_.~", c) >= 0 {
			b.WriteByte(c)
			continue
		}
		b.WriteByte('%')
		b.WriteByte(hexd[c>>4])
		b.WriteByte(hexd[c&15])
	}
	return b.String()
}

// Stat is HeadObject for a file; a key with objects below it (or a
// marker) is a directory.
func (f *Fs) Stat(name string) (os.FileInfo, error) {
	k, err := f.key("stat", name)
	if err != nil {
		return nil, err
	}
	base := path.Base(path.Clean("/" + name))
	if k == f.prefix {
		return &info{name: "/", dir: true}, nil
	}
	ctx, cancel := f.req()
	defer cancel()
	out, err := f.s.c.HeadObject(ctx, &s3.HeadObjectInput{Bucket: &f.s.bucket, Key: &k})
	if err == nil {
		return &info{name: base, size: aws.ToInt64(out.ContentLength), mtime: mtimeOf(out.Metadata, out.LastModified), etag: out.ETag}, nil
	}
	if httpStatus(err) != http.StatusNotFound {
		return nil, f.pathErr("stat", name, err)
	}
	lo, err := f.s.c.ListObjectsV2(ctx, &s3.ListObjectsV2Input{Bucket: &f.s.bucket, Prefix: aws.String(k + "/"), MaxKeys: aws.Int32(1)})
	if err != nil {
		return nil, f.pathErr("stat", name, err)
	}
	if len(lo.Contents) == 0 && len(lo.CommonPrefixes) == 0 {
		return nil, &os.PathError{Op: "stat", Path: name, Err: os.ErrNotExist}
	}
	fi := &info{name: base, dir: true}
	if len(lo.Contents) > 0 && aws.ToString(lo.Contents[0].Key) == k+"/" && lo.Contents[0].LastModified != nil {
		fi.mtime = *lo.Contents[0].LastModified
	}
	return fi, nil
}

// Years 1 to 9999: what MFMT can set and MDTM, MLSD and LIST print (the
// metadata may come from another writer of the bucket).
const (
	minMtime = -62135596800 // 0001-01-01 00:00:00 UTC
	maxMtime = 253402300799 // 9999-12-31 23:59:59 UTC
)

func mtimeOf(meta map[string]string, lm *time.Time) time.Time {
	if v, ok := meta[metaMtime]; ok {
		if sec, err := strconv.ParseInt(v, 10, 64); err == nil && sec >= minMtime && sec <= maxMtime {
			return time.Unix(sec, 0).UTC()
		}
	}
	if lm != nil {
		return *lm
	}
	return time.Time{}
}

// Chmod is refused: S3 objects have no mode (SITE CHMOD answers 550).
func (f *Fs) Chmod(name string, _ os.FileMode) error {
	return &os.PathError{Op: "chmod", Path: name, Err: ErrUnsupported}
}

// Chown is refused.
func (f *Fs) Chown(name string, _, _ int) error {
	return &os.PathError{Op: "chown", Path: name, Err: ErrUnsupported}
}

// Chtimes (MFMT) keeps the time in the object's metadata: a copy of the
// object onto itself with replaced metadata (a multipart copy beyond 5 GiB).
func (f *Fs) Chtimes(name string, _, mtime time.Time) error {
	k, err := f.key("chtimes", name)
	if err != nil {
		return err
	}
	ctx, cancel := f.req()
	head, err := f.s.c.HeadObject(ctx, &s3.HeadObjectInput{Bucket: &f.s.bucket, Key: &k})
	cancel()
	if httpStatus(err) == http.StatusNotFound {
		// No object: a directory (refused) or nothing (not found).
		fi, serr := f.Stat(name)
		if serr != nil {
			return serr
		}
		if fi.IsDir() {
			return &os.PathError{Op: "chtimes", Path: name, Err: ErrUnsupported}
		}
	}
	if err != nil {
		return f.pathErr("chtimes", name, err)
	}
	meta := map[string]string{}
	for mk, mv := range head.Metadata {
		meta[mk] = mv
	}
	meta[metaMtime] = strconv.FormatInt(mtime.Unix(), 10)
	return f.pathErr("chtimes", name, f.s.copyObject(f.ctx, k, k, aws.ToInt64(head.ContentLength), head.ETag, meta))
}

// pathErr is the error of a failed request on name. The store's own text
// names the endpoint, the bucket, the user's key prefix and request ids:
// it goes to the log, and the error (which becomes the FTP reply) says
// only ErrStore.
func (f *Fs) pathErr(op, name string, err error) error {
	if err == nil {
		return nil
	}
	if httpStatus(err) == http.StatusNotFound {
		return &os.PathError{Op: op, Path: name, Err: os.ErrNotExist}
	}
	f.s.log.Warn("S3 request failed", "op", op, "path", name, "err", err)
	return &os.PathError{Op: op, Path: name, Err: ErrStore}
}

// info is an object's or a directory's os.FileInfo.
type info struct {
	name  string
	size  int64
	mtime time.Time
	dir   bool
	etag  *string // an object's, from HeadObject (nil from a listing)
}

func (i *info) Name() string { return i.name }
func (i *info) Size() int64  { return i.size }
func (i *info) Mode() os.FileMode {
	if i.dir {
		return os.ModeDir | 0o755
	}
	return 0o644
}
func (i *info) ModTime() time.Time { return i.mtime }
func (i *info) IsDir() bool        { return i.dir }
func (i *info) Sys() any           { return nil }

// notFile is the part of afero.File a reader, a directory or an upload
// does not do.
type notFile struct{ name string }

func (n notFile) Name() string { return n.name }
func (n notFile) ReadAt([]byte, int64) (int, error) {
	return 0, &os.PathError{Op: "readat", Path: n.name, Err: ErrUnsupported}
}
func (n notFile) WriteAt([]byte, int64) (int, error) {
	return 0, &os.PathError{Op: "writeat", Path: n.name, Err: ErrUnsupported}
}
func (n notFile) WriteString(string) (int, error) {
	return 0, &os.PathError{Op: "write", Path: n.name, Err: ErrUnsupported}
}
func (n notFile) Truncate(int64) error {
	return &os.PathError{Op: "truncate", Path: n.name, Err: ErrUnsupported}
}
func (n notFile) Sync() error { return nil }
func (n notFile) Readdir(int) ([]os.FileInfo, error) {
	return nil, &os.PathError{Op: "readdir", Path: n.name, Err: syscall.ENOTDIR}
}
func (n notFile) Readdirnames(int) ([]string, error) {
	return nil, &os.PathError{Op: "readdir", Path: n.name, Err: syscall.ENOTDIR}
}

// reader streams an object with GetObject from its read position (REST:
// a Range request).
type reader struct {
	notFile
	fs   *Fs
	name string
	key  string
	info os.FileInfo
	pos  int64
	body io.ReadCloser
	// cancel ends the GetObject behind body; silent, armed only while
	// ftpd waits on the store, calls it after the request timeout.
	cancel context.CancelFunc
	silent *time.Timer
}

func (r *reader) Name() string               { return r.name }
func (r *reader) Stat() (os.FileInfo, error) { return r.info, nil }
func (r *reader) Write([]byte) (int, error)  { return 0, os.ErrPermission }
func (r *reader) Readdir(int) ([]os.FileInfo, error) {
	return nil, &os.PathError{Op: "readdir", Path: r.name, Err: syscall.ENOTDIR}
}

func (r *reader) Read(p []byte) (int, error) {
	s := r.fs.s
	if r.body == nil {
		if r.pos >= r.info.Size() {
			return 0, io.EOF
		}
		in := &s3.GetObjectInput{Bucket: &s.bucket, Key: &r.key}
		if r.pos > 0 {
			in.Range = aws.String(fmt.Sprintf("bytes=%d-", r.pos))
		}
		ctx, cancel := context.WithCancel(r.fs.ctx)
		silent := time.AfterFunc(s.reqTimeout, cancel) // armed for the reply's head
		out, err := s.c.GetObject(ctx, in)
		if !silent.Stop() && err == nil {
			err = errSilent
		}
		if err != nil {
			cancel()
			return 0, &os.PathError{Op: "read", Path: r.name, Err: fmt.Errorf("%w: %w", ErrStore, err)}
		}
		r.body, r.cancel, r.silent = out.Body, cancel, silent
	}
	// Only the time spent waiting here is the store's: a slow client
	// keeps ftpd out of Read, not in it. A store that leaves a Read
	// waiting for the request timeout fails the download (451) instead
	// of holding it.
	r.silent.Reset(s.reqTimeout)
	n, err := r.body.Read(p)
	if !r.silent.Stop() && n == 0 {
		err = errSilent
	}
	r.pos += int64(n)
	if err != nil && !errors.Is(err, io.EOF) {
		err = &os.PathError{Op: "read", Path: r.name, Err: fmt.Errorf("%w: %w", ErrStore, err)}
	}
	if errors.Is(err, io.EOF) && r.pos < r.info.Size() {
		err = &os.PathError{Op: "read", Path: r.name, Err: fmt.Errorf("%w: %w", ErrStore, io.ErrUnexpectedEOF)}
	}
	return n, err
}

// errSilent is a download the store left waiting for the request timeout.
var errSilent = errors.New("the store sent nothing for the request timeout")

// drop ends the GetObject in progress, if any.
func (r *reader) drop() error {
	if r.body == nil {
		return nil
	}
	err := r.body.Close()
	r.silent.Stop()
	r.cancel()
	r.body, r.cancel, r.silent = nil, nil, nil
	return err
}

func (r *reader) Seek(off int64, whence int) (int64, error) {
	switch whence {
	case io.SeekStart:
	case io.SeekCurrent:
		off += r.pos
	case io.SeekEnd:
		off += r.info.Size()
	}
	if off < 0 {
		return 0, &os.PathError{Op: "seek", Path: r.name, Err: os.ErrInvalid}
	}
	if off != r.pos {
		_ = r.drop()
	}
	r.pos = off
	return off, nil
}

func (r *reader) Close() error { return r.drop() }

// dirFile lists a directory with ListObjectsV2 and "/" as delimiter, one
// page (at most 1000 keys) at a time.
type dirFile struct {
	notFile
	fs    *Fs
	name  string
	key   string
	info  os.FileInfo
	token *string
	last  string // the greatest key (or common prefix) listed so far
	// pending is the objects listed whose "name/" prefix may come on a
	// later page (see page).
	pending []string
	done    bool
	buf     []os.FileInfo
}

func (d *dirFile) Name() string                   { return d.name }
func (d *dirFile) Stat() (os.FileInfo, error)     { return d.info, nil }
func (d *dirFile) Read([]byte) (int, error)       { return 0, syscall.EISDIR }
func (d *dirFile) Write([]byte) (int, error)      { return 0, syscall.EISDIR }
func (d *dirFile) Seek(int64, int) (int64, error) { return 0, syscall.EISDIR }
func (d *dirFile) Close() error                   { return nil }

// Readdir returns up to n entries (all when n <= 0), sorted within each
// page (S3 lists in key order).
func (d *dirFile) Readdir(n int) ([]os.FileInfo, error) {
	var out []os.FileInfo
	for n <= 0 || len(out) < n {
		if len(d.buf) == 0 {
			if d.done {
				break
			}
			if err := d.page(); err != nil {
				return out, err
			}
			continue
		}
		take := len(d.buf)
		if n > 0 && n-len(out) < take {
			take = n - len(out)
		}
		out = append(out, d.buf[:take]...)
		d.buf = d.buf[take:]
	}
	if n > 0 && len(out) == 0 {
		return nil, io.EOF
	}
	return out, nil
}

func (d *dirFile) Readdirnames(n int) ([]string, error) {
	fis, err := d.Readdir(n)
	names := make([]string, len(fis))
	for i, fi := range fis {
		names[i] = fi.Name()
	}
	return names, err
}

func (d *dirFile) page() error {
	prefix := d.key
	if prefix != "" && !strings.HasSuffix(prefix, "/") {
		prefix += "/"
	}
	ctx, cancel := d.fs.req()
	defer cancel()
	out, err := d.fs.s.c.ListObjectsV2(ctx, &s3.ListObjectsV2Input{
		Bucket: &d.fs.s.bucket, Prefix: &prefix, Delimiter: aws.String("/"), ContinuationToken: d.token,
	})
	if err != nil {
		return d.fs.pathErr("readdir", d.name, err)
	}
	if err := d.advances(out); err != nil {
		// The detail names keys (the user's prefix): the log's, not the
		// reply's.
		d.fs.s.log.Warn("S3 listing refused", "path", d.name, "err", err)
		return &os.PathError{Op: "readdir", Path: d.name, Err: ErrStore}
	}
	// A name both an object and a prefix ("a" and "a/b") is the file
	// Stat sees, listed once. The prefix may come pages after the object:
	// pending keeps the objects whose prefix may still come (prefixes of
	// the last key listed, so a few).
	objects := make(map[string]bool, len(out.Contents))
	for _, o := range out.Contents {
		objects[strings.TrimPrefix(aws.ToString(o.Key), prefix)] = true
	}
	for _, cp := range out.CommonPrefixes {
		n := strings.TrimSuffix(strings.TrimPrefix(aws.ToString(cp.Prefix), prefix), "/")
		if n == "" || prefix+n+"/" == Reserved || !addressable(n) || objects[n] || slices.Contains(d.pending, n) {
			continue
		}
		d.buf = append(d.buf, &info{name: n, dir: true})
	}
	pending := d.pending[:0]
	for _, n := range d.pending {
		if prefix+n+"/" > d.last {
			pending = append(pending, n)
		}
	}
	for _, o := range out.Contents {
		n := strings.TrimPrefix(aws.ToString(o.Key), prefix)
		if n == "" || strings.Contains(n, "/") {
			continue // the directory's own marker
		}
		if prefix+n+"/" > d.last {
			pending = append(pending, n)
		}
		if !addressable(n) || prefix+n+"/" == Reserved {
			continue
		}
		fi := &info{name: n, size: aws.ToInt64(o.Size)}
		if o.LastModified != nil {
			fi.mtime = *o.LastModified
		}
		d.buf = append(d.buf, fi)
	}
	d.pending = pending
	sort.Slice(d.buf, func(i, j int) bool { return d.buf[i].Name() < d.buf[j].Name() })
	d.token = out.NextContinuationToken
	d.done = !aws.ToBool(out.IsTruncated)
	return nil
}

// advances checks that a listing page moves forward, as S3 lists: keys
// and common prefixes in increasing order, each once, and a page that
// says more follow gives a new continuation token. A store that repeats
// itself would otherwise keep the listing going (and growing) forever.
func (d *dirFile) advances(out *s3.ListObjectsV2Output) error {
	if aws.ToBool(out.IsTruncated) {
		next := aws.ToString(out.NextContinuationToken)
		if next == "" || d.token != nil && next == *d.token {
			return errors.New("the store's listing does not advance (truncated page without a new continuation token)")
		}
	}
	greatest := d.last
	check := func(k string) error {
		if d.last != "" && k <= d.last {
			return fmt.Errorf("the store's listing went back to %q", k)
		}
		greatest = max(greatest, k)
		return nil
	}
	for _, cp := range out.CommonPrefixes {
		if err := check(aws.ToString(cp.Prefix)); err != nil {
			return err
		}
	}
	for _, o := range out.Contents {
		if err := check(aws.ToString(o.Key)); err != nil {
			return err
		}
	}
	d.last = greatest
	return nil
}

// addressable reports whether an FTP command can name n. Keys come from
// anyone who writes to the bucket; a name with a control character (CR
// and LF would forge lines of a LIST reply, ESC drives the client's
// terminal), or "." or "..", is left out of listings rather than shown.
func addressable(n string) bool {
	return n != "." && n != ".." && !hasControl(n)
}

// hasControl reports whether s holds a C0 or C1 control character or DEL.
func hasControl(s string) bool {
	for _, r := range s {
		if r < 0x20 || r >= 0x7f && r <= 0x9f {
			return true
		}
	}
	return false
}

// CommitsUploads tells the driver that an upload appears only at Commit
// (driver.CommitStorage): a STOR writes to its target directly.
func (f *Fs) CommitsUploads() bool { return true }

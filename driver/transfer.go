package driver

import (
	"errors"
	"fmt"
	"io"
	"net"
	"net/netip"
	"os"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/spf13/afero"
	"golang.org/x/time/rate"

	"github.com/ftpd/ftpd/acl"
)

// chunk is how much an unlimited transfer moves per zero-copy call.
// publishes its progress and, when rate limited, waits for tokens: progress
// and limits cost one bookkeeping step per chunk, not per buffer.
const chunk = 16 << 20

// copyBufSize is the buffer of a download from storage that has no
// zero-copy path (an S3 object, a memory file). io.Copy would move it
// 32 KiB at a time (net.TCPConn's generic ReadFrom): a read, a write and
// a wake-up of the receiver per 32 KiB were most of ftpd's CPU in an S3
// RETR (perf: 94% in system calls, 30% of it waking the peers); 1 MiB
// took ftpd's CPU per GB from about 0.97 s to 0.4 s. One buffer per
// running download, reused through copyBufs.
const copyBufSize = 1 << 20

var copyBufs = sync.Pool{New: func() any { return new([copyBufSize]byte) }}

// writerOnly hides a connection's ReadFrom, so io.CopyBuffer uses the
// buffer it is given.
type writerOnly struct{ io.Writer }

// ErrNotAuthorized is returned when the FTP library reads or writes a
// transfer handle directly instead of through ReadFrom/WriteTo, i.e. without
// the data connection having been judged. It means a setting that inserts a
// wrapper (ASCII conversion, MODE Z) is on; we fail closed.
var ErrNotAuthorized = errors.New("transfer refused: data connection was not checked")

// Transfer describes one file transfer, for the server's hooks and reports.
type Transfer struct {
	Command   string        // RETR, STOR or APPE
	Path      string        // the path as the client named it, inside the user's root
	Direction acl.Direction // DirectionSend (RETR) or DirectionReceive
	Offset    int64         // REST position
	Size      int64         // bytes this transfer should move; -1 if unknown (uploads)
	// Expect is the size the client announced with ALLO for an upload
	// (0 = none): a data stream that ends short of it fails.
	Expect  int64
	Peer    netip.AddrPort
	Started time.Time // when the data connection was judged

	// Set by Hooks.Authorize:
	Foreign  bool            // the peer is not the control client
	TLS      string          // "" clear; "server" or "client": ftpd's TLS role on the data connection
	Limiters []*rate.Limiter // all must grant each chunk; nil = unlimited

	bytes atomic.Int64
	// live, when set, reports progress within the running chunk (an
	// upload's file grows while splice runs; the counter moves per chunk).
	live atomic.Pointer[func() int64]
}

// Bytes is how many bytes have moved so far. Safe to call from any goroutine.
func (t *Transfer) Bytes() int64 {
	n := t.bytes.Load()
	if f := t.live.Load(); f != nil {
		n = max(n, (*f)())
	}
	return n
}

// Handle is the file handle of one transfer. The FTP library copies through
// its ReadFrom (uploads) and WriteTo (downloads), which see the data
// connection itself.
type Handle struct {
	fs       *FS
	file     afero.File
	t        *Transfer
	created  bool   // the upload created the file: remove it if refused
	partial  string // atomic STOR: the partial file, renamed over t.Path on success
	onClosed func() // runs once Close is done with the storage

	mu         sync.Mutex
	conn       any  // the data connection, once authorized
	prepared   bool // an upload has truncated or moved: it owns the file now
	authorized bool
	refused    error
	failed     error
	closed     bool
}

func (d *FS) newHandle(t *Transfer, f afero.File, created bool) *Handle {
	return &Handle{fs: d, file: f, t: t, created: created}
}

// OnClosed sets f to run once Close has finished with the storage (the
// partial file renamed or removed, the hooks told): the owner of the
// storage keeps it open until then, even if its session has ended.
func (h *Handle) OnClosed(f func()) { h.onClosed = f }

// SenderDone reports whether this is an upload whose sender has ended
// the data connection cleanly (its FIN arrived; Linux only): all of the
// file is in the socket, and the transfer ends by itself once it has read
// it. A reset, or a connection still open, reports false.
func (h *Handle) SenderDone() bool {
	if h.t.Direction != acl.DirectionReceive {
		return false
	}
	h.mu.Lock()
	conn := h.conn
	h.mu.Unlock()
	return conn != nil && peerEnded(conn)
}

// Transfer returns the transfer this handle carries.
func (h *Handle) Transfer() *Transfer { return h.t }

// WriteTo sends the file to the data connection w (RETR).
func (h *Handle) WriteTo(w io.Writer) (int64, error) {
	if err := h.authorize(w); err != nil {
		resetOnClose(w)
		return 0, err
	}
	setSocketBuffer(w, h.fs.opts.DataSocketBuffer, true)
	step := func(want int64) (int64, error) {
		return io.Copy(w, &io.LimitedReader{R: h.file, N: want})
	}
	if _, zeroCopy := h.file.(*os.File); !zeroCopy {
		// No sendfile: copy through a large buffer (see copyBufSize).
		buf := copyBufs.Get().(*[copyBufSize]byte)
		defer copyBufs.Put(buf)
		step = func(want int64) (int64, error) {
			return io.CopyBuffer(writerOnly{w}, &io.LimitedReader{R: h.file, N: want}, buf[:])
		}
	}
	n, err := h.copyChunks(step)
	if err == nil && h.t.Size >= 0 && n < h.t.Size {
		// The file shrank under us: what was sent is not the file.
		err = &IncompleteError{Got: n, Want: h.t.Size}
	}
	return n, err
}

// ReadFrom receives the file from the data connection r (STOR, APPE).
//
// An atomic STOR writes into its partial file from the first byte. An
// upload in place (APPE, REST+STOR) only truncates or extends the existing
// file once the sender has shown that it really sends: a first byte, or a
// clean end of an empty upload. A sender that resets the connection
// instead (as ftpd does when it refuses to be an FXP source) leaves the
// file as it was.
func (h *Handle) ReadFrom(r io.Reader) (int64, error) {
	if err := h.authorize(r); err != nil {
		resetOnClose(r)
		return 0, err
	}
	n, err := h.receive(r)
	if err != nil {
		return n, storageError(err)
	}
	if h.t.Expect > 0 && n < h.t.Expect {
		return n, &IncompleteError{Got: n, Want: h.t.Expect}
	}
	return n, nil
}

func (h *Handle) receive(r io.Reader) (int64, error) {
	var total int64
	if h.partial == "" {
		// Wait for the first byte without taking it where the socket
		// allows (so the file stays page-aligned for splice); else take
		// it by hand.
		first, err := peekFirst(r)
		if err != nil {
			return 0, fmt.Errorf("data connection: %w", err)
		}
		if err := h.prepareUpload(); err != nil {
			return 0, err
		}
		if len(first) > 0 {
			if _, err := h.file.Write(first); err != nil {
				return 0, err
			}
			h.t.bytes.Add(int64(len(first)))
			total = int64(len(first))
		}
	}
	if start, err := h.file.Seek(0, io.SeekCurrent); err == nil {
		// The file's size shows what splice has written so far.
		base := start - total
		live := func() int64 {
			info, err := h.file.Stat()
			if err != nil {
				return 0
			}
			return info.Size() - base
		}
		h.t.live.Store(&live)
		defer h.t.live.Store(nil)
	}
	if h.partial != "" {
		// The old file's cached pages make room for the new one's.
		dropReplaced(h.fs.raw, cleanName(h.t.Path))
	}
	n, err := h.copyChunks(func(want int64) (int64, error) {
		return io.Copy(h.file, &io.LimitedReader{R: r, N: want})
	})
	return total + n, err
}

// peekFirst blocks until r has data or has ended. It returns nil when data
// is waiting in the socket (peeked, not consumed) or the sender ended
// cleanly; for a reader that is not a socket it consumes and returns the
// first byte. An error (a reset) means the sender never really sent.
func peekFirst(r io.Reader) ([]byte, error) {
	if sc, ok := r.(syscall.Conn); ok {
		if rc, err := sc.SyscallConn(); err == nil {
			var peekErr error
			err := rc.Read(func(fd uintptr) bool {
				var b [1]byte
				_, _, peekErr = syscall.Recvfrom(int(fd), b[:], syscall.MSG_PEEK)
				return !errors.Is(peekErr, syscall.EAGAIN)
			})
			if err != nil {
				return nil, err
			}
			return nil, peekErr
		}
	}
	var b [1]byte
	for {
		n, err := r.Read(b[:])
		if n > 0 {
			return b[:1], nil
		}
		if errors.Is(err, io.EOF) {
			return nil, nil
		}
		if err != nil {
			return nil, err
		}
	}
}

// resetOnClose makes the data connection close with a TCP reset, so the
// peer reads a failure, not the clean end of an empty file.
func resetOnClose(conn any) {
	if nc, ok := conn.(interface{ NetConn() net.Conn }); ok { // *tls.Conn
		conn = nc.NetConn()
	}
	if l, ok := conn.(interface{ SetLinger(int) error }); ok {
		_ = l.SetLinger(0)
	}
}

// prepareUpload truncates (STOR, at the REST offset) or moves to the end
// (APPE) now that the transfer is allowed.
func (h *Handle) prepareUpload() error {
	h.mu.Lock()
	h.prepared = true
	h.mu.Unlock()
	if h.t.Command == "APPE" {
		if _, err := h.file.Seek(0, io.SeekEnd); err != nil {
			return fmt.Errorf("seek to end: %w", err)
		}
		return nil
	}
	// Truncate only when the size is wrong: on ext4 a truncate to zero
	// marks the file for forced block allocation at close (auto_da_alloc),
	// which costs a new file a third of its upload speed.
	info, err := h.file.Stat()
	if err != nil {
		return fmt.Errorf("stat: %w", err)
	}
	if info.Size() < h.t.Offset {
		// It shrank since it was opened: writing at the offset would
		// leave a hole.
		return &RestError{Offset: h.t.Offset, Size: info.Size()}
	}
	if info.Size() != h.t.Offset {
		if err := h.file.Truncate(h.t.Offset); err != nil {
			return fmt.Errorf("truncate: %w", err)
		}
	}
	return nil
}

func (h *Handle) authorize(conn any) error {
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.authorized || h.refused != nil {
		return errors.New("transfer handle used twice")
	}
	h.conn = conn
	h.t.Peer = PeerOf(conn)
	h.t.Started = h.fs.opts.Now()
	if err := h.fs.opts.Hooks.Authorize(h.t); err != nil {
		h.refused = err
		return err
	}
	h.authorized = true
	return nil
}

func (h *Handle) chunkSize() int64 {
	n := int64(chunk)
	for _, l := range h.t.Limiters {
		if b := int64(l.Burst()); b > 0 && b < n {
			n = b
		}
	}
	return n
}

// copyChunks runs step until it reports the end of the data, counting
// bytes. step(want) moves at most want bytes; moving fewer than asked means
// the source ended (end of file, or the sender's clean end of stream),
// since io.Copy through an io.LimitedReader only stops short at EOF or on
// an error. want is fixed before each step, so a limit that changes during
// the step (a reload, a retune) can never be mistaken for the end.
//
// Under rate limits each step is paid for before it runs: a chunk, or only
// the rest of the file when the transfer's size is known, so a download
// pays for exactly what it sends and an upload for at most one chunk more.
// Bytes beyond what was paid (a file that grew) are paid after.
func (h *Handle) copyChunks(step func(want int64) (int64, error)) (int64, error) {
	var total int64
	for {
		want := h.chunkSize()
		paid := want
		if h.t.Size >= 0 {
			if rest := h.t.Size - h.t.Bytes(); rest >= 0 && rest < want {
				paid = rest
			}
		}
		if err := h.pay(paid); err != nil {
			return total, err
		}
		n, err := step(want)
		total += n
		h.t.bytes.Add(n)
		if n > paid {
			if perr := h.pay(n - paid); perr != nil && err == nil {
				err = perr
			}
		}
		if err != nil {
			return total, err
		}
		if n < want {
			return total, nil
		}
	}
}

// pay waits until every limiter grants n bytes. It asks in pieces no
// larger than each limiter's burst at that moment, so a burst that shrinks
// while a transfer runs only makes the wait longer, never an error.
func (h *Handle) pay(n int64) error {
	ctx := h.fs.opts.Context
	for _, l := range h.t.Limiters {
		for rest, refused := n, 0; rest > 0; {
			piece := min(rest, int64(max(l.Burst(), 1)))
			if err := l.WaitN(ctx, int(piece)); err != nil {
				// A reload that shrank the burst between Burst and WaitN
				// makes the piece too big for it: ask again with the new
				// burst. The session's context has no deadline, so a
				// refusal that is not the context's own comes only from
				// that; the bound keeps a limiter with no burst at all
				// from spinning.
				if ctx.Err() != nil || refused >= maxBurstRetries {
					return fmt.Errorf("rate limit: %w", err)
				}
				refused++
				continue
			}
			rest -= piece
		}
	}
	return nil
}

// maxBurstRetries bounds how often pay asks again after a limiter refused
// a piece that its burst, shrunk by a reload meanwhile, no longer holds.
const maxBurstRetries = 100

// Read implements io.Reader; see ErrNotAuthorized.
func (h *Handle) Read(p []byte) (int, error) {
	if !h.isAuthorized() {
		return 0, ErrNotAuthorized
	}
	n, err := h.file.Read(p)
	h.t.bytes.Add(int64(n))
	return n, err
}

// Write implements io.Writer; see ErrNotAuthorized.
func (h *Handle) Write(p []byte) (int, error) {
	if !h.isAuthorized() {
		if len(p) == 0 {
			return 0, nil
		}
		return 0, ErrNotAuthorized
	}
	n, err := h.file.Write(p)
	h.t.bytes.Add(int64(n))
	return n, err
}

func (h *Handle) isAuthorized() bool {
	h.mu.Lock()
	defer h.mu.Unlock()
	return h.authorized
}

// Seek implements io.Seeker (the library seeks to the REST offset).
func (h *Handle) Seek(offset int64, whence int) (int64, error) {
	return h.file.Seek(offset, whence)
}

// TransferError records that the transfer was interrupted (the FTP
// library's FileTransferError extension).
func (h *Handle) TransferError(err error) {
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.failed == nil {
		h.failed = err
	}
}

// Close ends the transfer and reports it to the hooks. A successful
// upload is flushed to disk first when FsyncUploads is set; an atomic STOR
// then replaces its target, and any other outcome removes its partial
// file. A file that a refused or never-started in-place upload created is
// removed.
func (h *Handle) Close() error {
	h.mu.Lock()
	if h.closed {
		h.mu.Unlock()
		return nil
	}
	h.closed = true
	result := h.refused
	if result == nil {
		result = h.failed
	}
	if result == nil && !h.authorized {
		result = errors.New("data connection was never opened")
	}
	dropCreated := h.created && !h.prepared
	h.mu.Unlock()

	var err error
	upload := h.t.Direction == acl.DirectionReceive
	if upload && result == nil && h.fs.opts.FsyncUploads {
		if serr := h.file.Sync(); serr != nil {
			err = storageError(fmt.Errorf("fsync: %w", serr))
		}
	}
	if c, ok := h.file.(Committer); ok && upload && result == nil && err == nil {
		// A CommitStorage upload: only now does the file appear.
		if cerr := c.Commit(); cerr != nil {
			err = storageError(fmt.Errorf("store %s: %w", h.t.Path, cerr))
		}
	}
	if dropCreated {
		err = errors.Join(err, h.dropCreated())
	}
	if cerr := h.file.Close(); cerr != nil {
		err = errors.Join(err, storageError(cerr))
	}
	if h.partial != "" {
		err = h.finishPartial(result == nil && err == nil, err)
	}
	if result == nil && err != nil && upload {
		result = err
	}
	h.fs.opts.Hooks.Done(h.t, result)
	if h.onClosed != nil {
		h.onClosed()
	}
	return err
}

// finishPartial renames an atomic STOR's partial file over its target when
// ok, and removes it otherwise (or when the rename fails).
func (h *Handle) finishPartial(ok bool, err error) error {
	if ok {
		rerr := h.fs.raw.Rename(h.partial, cleanName(h.t.Path))
		if rerr == nil {
			return nil
		}
		err = fmt.Errorf("replace %s: %w", h.t.Path, unwrapPath(rerr))
	}
	if rerr := h.fs.raw.Remove(h.partial); rerr != nil && !errors.Is(rerr, os.ErrNotExist) {
		err = errors.Join(err, fmt.Errorf("remove partial upload: %w", rerr))
	}
	return err
}

// unwrapPath drops the partial file's name from a path error.
func unwrapPath(err error) error {
	var le *os.LinkError
	if errors.As(err, &le) {
		return le.Err
	}
	var pe *os.PathError
	if errors.As(err, &pe) {
		return pe.Err
	}
	return err
}

// dropCreated removes the empty file this upload created and never wrote,
// but only if the name still holds that same empty file: another session
// may have uploaded to the name since.
func (h *Handle) dropCreated() error {
	mine, err := h.file.Stat()
	if err != nil || mine.Size() != 0 {
		return nil
	}
	cur, err := h.fs.Fs.Stat(h.t.Path)
	if err != nil || cur.Size() != 0 {
		return nil
	}
	if mine.Sys() != nil && cur.Sys() != nil && !os.SameFile(mine, cur) {
		return nil
	}
	if err := h.fs.Fs.Remove(h.t.Path); err != nil && !errors.Is(err, os.ErrNotExist) {
		return fmt.Errorf("remove unused upload: %w", err)
	}
	return nil
}

// PeerOf returns the remote address of a data connection, or the zero
// AddrPort if it cannot be told (which the policy refuses). It sees through
// the wrappers the FTP library and net package put around *net.TCPConn,
// since they still expose RemoteAddr.
func PeerOf(conn any) netip.AddrPort {
	ra, ok := conn.(interface{ RemoteAddr() net.Addr })
	if !ok {
		return netip.AddrPort{}
	}
	tcp, ok := ra.RemoteAddr().(*net.TCPAddr)
	if !ok || tcp == nil {
		return netip.AddrPort{}
	}
	ap := tcp.AddrPort()
	return netip.AddrPortFrom(ap.Addr().Unmap(), ap.Port())
}

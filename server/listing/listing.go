package listing

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"path"
	"strings"
	"sync"
	"time"
)

// Defaults for a Listing.
const (
	// Page is how many entries a listing reads from storage at a time
	// (S3 returns at most 1000 keys a ListObjectsV2 page).
	Page = 1000
	// BufferSize is the write buffer between the entries and the data
	// connection.
	BufferSize = 32 << 10
)

// Date layouts and the switch between them, as the FTP library writes
// them.
const (
	layoutRecent = "Jan _2 15:04"
	layoutOld    = "Jan _2  2006"
	layoutMLSD   = "20060102150405"
	oldAfter     = 6 * 30 * 24 * time.Hour
)

// Dir is a directory read a page at a time (driver.Dir): Readdir(n)
// returns at most n entries and io.EOF after the last.
type Dir interface {
	Readdir(n int) ([]os.FileInfo, error)
	Close() error
}

// Listing is one listing command's directory and how to render it.
type Listing struct {
	Verb string // LIST, NLST or MLSD
	Path string // the directory, as the library resolved it (for logs)
	Dir  Dir
	// Since is the session's start: LIST shows the year instead of the
	// time for entries more than 6 months older.
	Since time.Time
	// Parent is NLST's prefix: the listed directory relative to the
	// working directory (RelativeTo).
	Parent string
	Page   int // entries per Readdir; 0 = Page

	// First is the first page, read before the data connection is used
	// (Prefetch), and Done whether it was the last.
	First []os.FileInfo
	Done  bool

	closeOnce sync.Once
}

// Prefetch reads the first page, so that a directory that cannot be read
// at all is answered before the transfer starts, as the library answers
// it; the error is the storage's.
func (l *Listing) Prefetch() error {
	fis, err := l.Dir.Readdir(l.page())
	if err != nil && !errors.Is(err, io.EOF) {
		return err
	}
	l.First, l.Done = fis, errors.Is(err, io.EOF) || len(fis) == 0
	return nil
}

func (l *Listing) page() int {
	if l.Page <= 0 {
		return Page
	}
	return l.Page
}

// Valid reports whether verb is a listing this package renders.
func Valid(verb string) bool { return verb == "LIST" || verb == "NLST" || verb == "MLSD" }

// Close releases the directory (once).
func (l *Listing) Close() error {
	var err error
	l.closeOnce.Do(func() { err = l.Dir.Close() })
	return err
}

// ReadError is a listing that failed reading its directory (the storage),
// as opposed to writing to the data connection.
type ReadError struct{ Err error }

func (e *ReadError) Error() string { return "listing: " + e.Err.Error() }
func (e *ReadError) Unwrap() error { return e.Err }

// Stream writes the listing to w a page at a time through one buffer of
// BufferSize bytes, flushed after each page, and returns how many entries it wrote. A read error is
// a *ReadError; a write error is returned wrapped. It does not close the
// directory.
func (l *Listing) Stream(w io.Writer) (int, error) {
	bw := bufio.NewWriterSize(w, BufferSize)
	var line []byte
	n := 0
	fis, err := l.First, error(nil)
	switch {
	case l.Done:
		err = io.EOF
	case fis == nil:
		fis, err = l.Dir.Readdir(l.page())
	}
	l.First = nil
	for {
		for _, fi := range fis {
			line = l.Entry(line[:0], fi)
			if _, werr := bw.Write(line); werr != nil {
				return n, fmt.Errorf("write listing: %w", werr)
			}
			n++
		}
		if errors.Is(err, io.EOF) || (err == nil && len(fis) == 0) {
			break
		}
		if err != nil {
			return n, &ReadError{Err: err}
		}
		// The client gets each page while the next one is read (an S3
		// page is a round trip to the store).
		if ferr := bw.Flush(); ferr != nil {
			return n, fmt.Errorf("write listing: %w", ferr)
		}
		fis, err = l.Dir.Readdir(l.page())
	}
	if err := bw.Flush(); err != nil {
		return n, fmt.Errorf("write listing: %w", err)
	}
	return n, nil
}

// Entry appends fi's line (with CRLF) in the listing's format to b.
func (l *Listing) Entry(b []byte, fi os.FileInfo) []byte {
	switch l.Verb {
	case "NLST":
		b = append(b, path.Join(l.Parent, fi.Name())...)
		return append(b, '\r', '\n')
	case "MLSD":
		typ := "file"
		if fi.IsDir() {
			typ = "dir"
		}
		return fmt.Appendf(b, "Type=%s;Size=%d;Modify=%s; %s\r\n",
			typ, fi.Size(), fi.ModTime().UTC().Format(layoutMLSD), fi.Name())
	default:
		layout := layoutRecent
		if l.Since.Sub(fi.ModTime()) > oldAfter {
			layout = layoutOld
		}
		return fmt.Appendf(b, "%s 1 ftp ftp %12d %s %s\r\n",
			fi.Mode(), fi.Size(), fi.ModTime().Format(layout), fi.Name())
	}
}

// RelativeTo is target relative to the directory dir, both absolute and
// clean: "" for dir itself, "a/b" below it, "../x" beside it. NLST names
// are path.Join(RelativeTo(cwd, listed directory), name).
func RelativeTo(dir, target string) string {
	if dir == target {
		return ""
	}
	ups := 0
	for base := dir; ; base = path.Dir(base) {
		prefix := base
		if !strings.HasSuffix(prefix, "/") {
			prefix += "/"
		}
		if rest, ok := strings.CutPrefix(target, prefix); ok {
			return strings.Repeat("../", ups) + rest
		}
		if target == base {
			return strings.Repeat("../", ups)
		}
		if base == "/" || base == "." {
			return target
		}
		ups++
	}
}

// Conn is a listing command's data connection as the FTP library gets it.
// The library, handed an empty listing, writes zero bytes; that Write
// streams the Listing instead (see the package comment). Every other
// Write passes through.
type Conn struct {
	net.Conn
	done func(l *Listing, entries int, err error)

	mu sync.Mutex
	l  *Listing // until streamed or closed
}

// NewConn returns c streaming l at the library's empty write; done is
// called once the listing ended, with its error.
func NewConn(c net.Conn, l *Listing, done func(l *Listing, entries int, err error)) *Conn {
	return &Conn{Conn: c, l: l, done: done}
}

func (c *Conn) take() *Listing {
	c.mu.Lock()
	defer c.mu.Unlock()
	l := c.l
	c.l = nil
	return l
}

// Write implements net.Conn.
func (c *Conn) Write(p []byte) (int, error) {
	l := c.take()
	if l == nil {
		return c.Conn.Write(p)
	}
	if len(p) > 0 {
		// The library is listing by itself (it was not given an empty
		// listing): this connection's Listing is not the one sent.
		_ = l.Close()
		return c.Conn.Write(p)
	}
	// The library's own empty write first: on a TLS connection it runs
	// the handshake, which an empty listing must still complete.
	if _, err := c.Conn.Write(p); err != nil {
		_ = l.Close()
		err = fmt.Errorf("write listing: %w", err)
		c.done(l, 0, err)
		return 0, err
	}
	n, err := l.Stream(c.Conn)
	_ = l.Close()
	c.done(l, n, err)
	return 0, err
}

// Close implements net.Conn; a listing not streamed is dropped.
func (c *Conn) Close() error {
	if l := c.take(); l != nil {
		_ = l.Close()
	}
	return c.Conn.Close()
}

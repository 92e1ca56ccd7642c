// Package proxyhdr reads the PROXY protocol header (v1 or v2) a TCP load
// balancer such as HAProxy puts in front of every connection it forwards,
// and returns the connection with the addresses the header carries: its
// RemoteAddr is the client, its LocalAddr the address the client dialled.
//
// Only connections from a trusted proxy (a list of prefixes) are read; any
// other connection, a missing or malformed header, or one that does not
// arrive within the timeout is refused: the caller closes it without a
// reply. The header is read exactly, byte for byte, so nothing that
// follows it is buffered here and the returned connection still wraps the
// *net.TCPConn (zero-copy paths stay in use). Parsing is
// github.com/pires/go-proxyproto's.
package proxyhdr

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/netip"
	"sync"
	"syscall"
	"time"

	proxyproto "github.com/pires/go-proxyproto"
)

// DefaultTimeout bounds the wait for a header when Options.Timeout is 0.
const DefaultTimeout = 5 * time.Second

// maxV1 is the longest v1 header, CRLF included (the spec's 107 bytes).
const maxV1 = 107

// maxV2 bounds the TLV part of a v2 header: HAProxy's own headers are a few
// dozen bytes; nothing legitimate comes close.
const maxV2 = 4096

// Options say whom to trust and how long to wait.
type Options struct {
	Trusted []netip.Prefix // sources allowed to send a header
	Timeout time.Duration  // 0 = DefaultTimeout
}

// ErrUntrusted is returned for a connection from outside Options.Trusted.
var ErrUntrusted = errors.New("not from a trusted proxy")

// Conn is a connection whose addresses come from its PROXY header.
type Conn struct {
	*net.TCPConn
	remote, local *net.TCPAddr
}

// RemoteAddr is the client's address, as the header says.
func (c *Conn) RemoteAddr() net.Addr { return c.remote }

// LocalAddr is the address the client dialled, as the header says.
func (c *Conn) LocalAddr() net.Addr { return c.local }

// WriteTo hands w's ReadFrom (an upload's file) a reader that still
// shows the header's addresses and the socket (for splice), instead of
// *net.TCPConn's own WriteTo, which would show the balancer's address.
func (c *Conn) WriteTo(w io.Writer) (int64, error) {
	if rf, ok := w.(io.ReaderFrom); ok {
		return rf.ReadFrom(reader{c})
	}
	return io.Copy(w, reader{c})
}

// reader is a Conn without WriteTo.
type reader struct{ c *Conn }

func (r reader) Read(p []byte) (int, error)            { return r.c.TCPConn.Read(p) }
func (r reader) RemoteAddr() net.Addr                  { return r.c.remote }
func (r reader) LocalAddr() net.Addr                   { return r.c.local }
func (r reader) SyscallConn() (syscall.RawConn, error) { return r.c.TCPConn.SyscallConn() }

// Proxy is the address the connection really came from (the balancer).
func (c *Conn) Proxy() net.Addr { return c.TCPConn.RemoteAddr() }

// Trusted reports whether addr may send a header.
func (o Options) trusted(a net.Addr) bool {
	tcp, ok := a.(*net.TCPAddr)
	if !ok {
		return false
	}
	ip := tcp.AddrPort().Addr().Unmap()
	for _, p := range o.Trusted {
		if p.Contains(ip) {
			return true
		}
	}
	return false
}

// Read checks c's source and reads its header within the timeout. On
// error the caller closes c (without a reply).
func Read(c *net.TCPConn, o Options) (*Conn, error) {
	if !o.trusted(c.RemoteAddr()) {
		return nil, fmt.Errorf("PROXY header from %s: %w", c.RemoteAddr(), ErrUntrusted)
	}
	timeout := o.Timeout
	if timeout <= 0 {
		timeout = DefaultTimeout
	}
	if err := c.SetReadDeadline(time.Now().Add(timeout)); err != nil {
		return nil, err
	}
	raw, err := readExact(c)
	if err != nil {
		return nil, fmt.Errorf("PROXY header from %s: %w", c.RemoteAddr(), err)
	}
	if err := c.SetReadDeadline(time.Time{}); err != nil {
		return nil, err
	}
	h, err := proxyproto.Read(bufio.NewReader(bytes.NewReader(raw)))
	if err != nil {
		return nil, fmt.Errorf("PROXY header from %s: %w", c.RemoteAddr(), err)
	}
	if h.Command.IsLocal() {
		// A health check of the balancer itself: no client to act for.
		return nil, fmt.Errorf("PROXY header from %s: LOCAL command (no client address)", c.RemoteAddr())
	}
	src, dst, ok := h.TCPAddrs()
	if !ok {
		return nil, fmt.Errorf("PROXY header from %s: not a TCP connection (%v)", c.RemoteAddr(), h.TransportProtocol)
	}
	return &Conn{TCPConn: c, remote: unmapped(src), local: unmapped(dst)}, nil
}

func unmapped(a *net.TCPAddr) *net.TCPAddr {
	ap := a.AddrPort()
	return net.TCPAddrFromAddrPort(netip.AddrPortFrom(ap.Addr().Unmap(), ap.Port()))
}

// readExact returns the header's bytes and not one byte more.
func readExact(r io.Reader) ([]byte, error) {
	buf := make([]byte, 16, 16+maxV2)
	if _, err := io.ReadFull(r, buf[:6]); err != nil {
		return nil, fmt.Errorf("no header: %w", err)
	}
	if string(buf[:6]) == "PROXY " {
		// v1: a text line ending in CRLF; read a byte at a time so
		// nothing after it is consumed.
		line := buf[:6]
		var b [1]byte
		for len(line) < maxV1 {
			if _, err := io.ReadFull(r, b[:]); err != nil {
				return nil, fmt.Errorf("v1 header cut short: %w", err)
			}
			line = append(line, b[0])
			if bytes.HasSuffix(line, []byte("\r\n")) {
				return line, nil
			}
		}
		return nil, errors.New("v1 header longer than 107 bytes")
	}
	if !bytes.Equal(buf[:6], proxyproto.SIGV2[:6]) {
		return nil, errors.New("no PROXY header")
	}
	if _, err := io.ReadFull(r, buf[6:16]); err != nil {
		return nil, fmt.Errorf("v2 header cut short: %w", err)
	}
	if !bytes.Equal(buf[:12], proxyproto.SIGV2) {
		return nil, errors.New("no PROXY header")
	}
	n := int(buf[14])<<8 | int(buf[15])
	if n > maxV2 {
		return nil, fmt.Errorf("v2 header of %d bytes (limit %d)", n, maxV2)
	}
	buf = buf[:16+n]
	if _, err := io.ReadFull(r, buf[16:]); err != nil {
		return nil, fmt.Errorf("v2 header cut short: %w", err)
	}
	return buf, nil
}

// Listener returns, from an underlying TCP listener, only connections
// whose header was read and trusted. Headers are read concurrently (a
// slow peer does not hold up others), at most Pending at a time; a
// refused connection is closed without a reply and logged.
type Listener struct {
	ln   *net.TCPListener
	opts Options
	log  *slog.Logger

	ready  chan *Conn
	errc   chan error
	slots  chan struct{}
	ctx    context.Context
	cancel context.CancelFunc
	once   sync.Once
}

// Pending bounds the headers being read at once; past it, Accept waits.
const Pending = 256

// NewListener starts accepting on ln.
func NewListener(ln *net.TCPListener, o Options, log *slog.Logger) *Listener {
	ctx, cancel := context.WithCancel(context.Background())
	l := &Listener{ln: ln, opts: o, log: log, ready: make(chan *Conn), errc: make(chan error, 1),
		slots: make(chan struct{}, Pending), ctx: ctx, cancel: cancel}
	go l.loop()
	return l
}

func (l *Listener) loop() {
	for {
		select {
		case l.slots <- struct{}{}:
		case <-l.ctx.Done():
			return
		}
		c, err := l.ln.AcceptTCP()
		if err != nil {
			<-l.slots
			var ne net.Error
			if errors.As(err, &ne) && ne.Timeout() {
				continue
			}
			select {
			case l.errc <- err:
			case <-l.ctx.Done():
			}
			return
		}
		go l.handshake(c)
	}
}

func (l *Listener) handshake(c *net.TCPConn) {
	defer func() { <-l.slots }()
	pc, err := Read(c, l.opts)
	if err != nil {
		l.log.Warn("connection closed without a reply", "from", c.RemoteAddr().String(), "err", err.Error())
		_ = c.SetLinger(0)
		_ = c.Close()
		return
	}
	select {
	case l.ready <- pc:
	case <-l.ctx.Done():
		_ = c.Close()
	}
}

// Accept implements net.Listener.
func (l *Listener) Accept() (net.Conn, error) {
	select {
	case c := <-l.ready:
		return c, nil
	case err := <-l.errc:
		l.errc <- err // every later Accept sees it too
		return nil, err
	case <-l.ctx.Done():
		return nil, net.ErrClosed
	}
}

// Close implements net.Listener.
func (l *Listener) Close() error {
	var err error
	l.once.Do(func() {
		l.cancel()
		err = l.ln.Close()
	})
	return err
}

// Addr implements net.Listener.
func (l *Listener) Addr() net.Addr { return l.ln.Addr() }

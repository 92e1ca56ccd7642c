// Package controlconn sits between an FTP control socket and the FTP
// library. It terminates TLS itself (implicit, or explicit on AUTH TLS), so
// that above it every command and reply is plain text; it hands each command
// line to a Screener, which may rewrite it before the library sees it, and
// shows it every reply line the library writes. That is how ftpd refuses
// PORT/EPRT targets and foreign listings with a reply that says why, and
// learns which passive port belongs to which session, without changing the
// library.
package controlconn

import (
	"bufio"
	"bytes"
	"context"
	"crypto/rand"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"net"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

// MaxLine is the FTP library's line limit, CRLF included: a command line
// of more than MaxLine-2 bytes is refused.
const MaxLine = 4096

// handshakeTimeout bounds a TLS handshake on the control connection when
// no login deadline is set.
const handshakeTimeout = 15 * time.Second

// ErrLineTooLong is returned by Read for a command line over MaxLine
// bytes, after the client was told "500 line too long".
var ErrLineTooLong = errors.New("command line too long")

// Screener sees the control connection's traffic.
type Screener interface {
	// Screen gets each command line without its CRLF and returns the line
	// the FTP library should see instead (usually the same).
	Screen(line string) string
	// Reply sees each reply line the FTP library writes, without CRLF,
	// and returns the line to send instead (usually the same).
	Reply(line string) string
}

// TLSConfigFunc returns the TLS configuration for a handshake, or nil when
// TLS is not offered.
type TLSConfigFunc func() *tls.Config

// Conn is a control connection as the FTP library sees it.
type Conn struct {
	raw       net.Conn
	tlsConfig TLSConfigFunc

	// Read side: only the library's command goroutine reads.
	transport net.Conn // raw, or a *tls.Conn over raw
	reader    *bufio.Reader
	pending   []byte

	// Write side: the library writes from several goroutines, and Conn
	// writes its own replies (AUTH); wmu keeps lines whole.
	wmu     sync.Mutex
	partial []byte

	screener atomic.Pointer[screenerBox]
	tlsConn  atomic.Pointer[tls.Conn] // set once TLS is on
	closed   atomic.Bool

	// tag marks the TLS session tickets issued on this connection, so a
	// data connection can prove it resumes this control session; seen
	// holds the tags of the ticket this connection itself resumed from.
	tag     []byte
	tagMu   sync.Mutex
	seenTag [][]byte

	// loginTimer closes the connection unless LoggedIn stops it first.
	loginTimer    *time.Timer
	loginDeadline time.Time // zero: none
}

type screenerBox struct{ s Screener }

// New wraps raw. If implicit is true, the TLS handshake starts at once and
// tlsConfig must return a configuration. A loginTimeout above 0 closes the
// connection that many seconds from now unless LoggedIn is called first:
// TLS handshake (implicit or AUTH TLS) and login must both be done by then,
// whatever the client sends meanwhile.
func New(raw net.Conn, tlsConfig TLSConfigFunc, implicit bool, loginTimeout time.Duration) (*Conn, error) {
	c := &Conn{raw: raw, tlsConfig: tlsConfig, transport: raw, tag: newTag()}
	if implicit {
		cfg := c.config()
		if cfg == nil {
			return nil, errors.New("implicit TLS without a TLS configuration")
		}
		tc := tls.Server(raw, cfg)
		c.transport = tc
		c.tlsConn.Store(tc)
	}
	c.reader = bufio.NewReaderSize(c.transport, MaxLine)
	if loginTimeout > 0 {
		c.loginDeadline = time.Now().Add(loginTimeout)
		// Close the socket itself: a handshake or a write stuck on a
		// silent peer must not delay it.
		c.loginTimer = time.AfterFunc(loginTimeout, func() {
			c.closed.Store(true)
			_ = c.raw.Close()
		})
	}
	return c, nil
}

// LoggedIn stops the login deadline. It reports false if the deadline
// already closed the connection.
func (c *Conn) LoggedIn() bool {
	if c.loginTimer == nil {
		return !c.closed.Load()
	}
	return c.loginTimer.Stop()
}

// Hangup sends one reply line and closes the connection; the command being
// read, if any, fails.
func (c *Conn) Hangup(code int, msg string) {
	_ = c.raw.SetWriteDeadline(time.Now().Add(writeRefusalTimeout))
	_ = c.reply(code, msg)
	_ = c.Close()
}

func (c *Conn) config() *tls.Config {
	if c.tlsConfig == nil {
		return nil
	}
	base := c.tlsConfig()
	if base == nil {
		return nil
	}
	cfg := base.Clone()
	cfg.WrapSession = func(cs tls.ConnectionState, ss *tls.SessionState) ([]byte, error) {
		return c.WrapTicket(base, cs, ss)
	}
	cfg.UnwrapSession = func(identity []byte, cs tls.ConnectionState) (*tls.SessionState, error) {
		ss, err := base.DecryptTicket(identity, cs)
		if ss != nil {
			c.tagMu.Lock()
			for _, e := range ss.Extra {
				if isTag(e) {
					c.seenTag = append(c.seenTag, e)
				}
			}
			c.tagMu.Unlock()
		}
		return ss, err
	}
	return cfg
}

// WrapTicket issues a session ticket (with base's keys) marked as this
// control connection's: tickets issued on its data connections carry the
// mark too, so the next data connection may resume from any of them.
func (c *Conn) WrapTicket(base *tls.Config, cs tls.ConnectionState, ss *tls.SessionState) ([]byte, error) {
	ss.Extra = append(withoutTags(ss.Extra), c.tag)
	return base.EncryptTicket(cs, ss)
}

// tagPrefix starts every session tag ftpd puts in a ticket's Extra.
const tagPrefix = "ftpd-control:"

func newTag() []byte {
	b := make([]byte, len(tagPrefix)+16)
	copy(b, tagPrefix)
	_, _ = rand.Read(b[len(tagPrefix):]) // crypto/rand.Read never fails on Linux
	return b
}

func isTag(e []byte) bool { return bytes.HasPrefix(e, []byte(tagPrefix)) }

func withoutTags(extra [][]byte) [][]byte {
	out := extra[:0:0]
	for _, e := range extra {
		if !isTag(e) {
			out = append(out, e)
		}
	}
	return out
}

// ResumesThisSession reports whether a TLS session state (decrypted from a
// data connection's ticket) was issued on this control connection, or on
// the one it resumed from: a data connection that resumes it belongs to
// this client.
func (c *Conn) ResumesThisSession(ss *tls.SessionState) bool {
	if ss == nil {
		return false
	}
	c.tagMu.Lock()
	defer c.tagMu.Unlock()
	for _, e := range ss.Extra {
		if bytes.Equal(e, c.tag) {
			return true
		}
		for _, t := range c.seenTag {
			if bytes.Equal(e, t) {
				return true
			}
		}
	}
	return false
}

// SetScreener installs the screener; until then traffic passes untouched.
func (c *Conn) SetScreener(s Screener) { c.screener.Store(&screenerBox{s}) }

// TLS reports whether the control connection is encrypted.
func (c *Conn) TLS() bool { return c.tlsConn.Load() != nil }

// ConnectionState returns the TLS state, if the connection is encrypted.
func (c *Conn) ConnectionState() (tls.ConnectionState, bool) {
	if tc := c.tlsConn.Load(); tc != nil {
		return tc.ConnectionState(), true
	}
	return tls.ConnectionState{}, false
}

// Read gives the FTP library the next screened command bytes.
func (c *Conn) Read(p []byte) (int, error) {
	for len(c.pending) == 0 {
		line, err := c.readLine()
		if err != nil {
			return 0, err
		}
		handled, err := c.handleAUTH(line)
		if err != nil {
			return 0, err
		}
		if handled {
			continue
		}
		if box := c.screener.Load(); box != nil {
			line = box.s.Screen(line)
		}
		if c.closed.Load() {
			return 0, net.ErrClosed // the screener hung up
		}
		c.pending = append(c.pending[:0], line...)
		c.pending = append(c.pending, '\r', '\n')
	}
	n := copy(p, c.pending)
	c.pending = c.pending[n:]
	return n, nil
}

// readLine reads one command line without its line ending.
func (c *Conn) readLine() (string, error) {
	raw, err := c.reader.ReadSlice('\n')
	full := errors.Is(err, bufio.ErrBufferFull)
	if err != nil && !full && !(len(raw) > 0 && errors.Is(err, io.EOF)) {
		return "", err
	}
	line := stripTelnet(strings.TrimRight(string(raw), "\r\n"))
	// The library gets the line back with CRLF, within its MaxLine: a
	// longer one it would drop without a reply.
	if full || len(line)+2 > MaxLine {
		c.Hangup(500, "line too long")
		return "", fmt.Errorf("%w: over %d bytes", ErrLineTooLong, MaxLine-2)
	}
	return line, nil
}

// stripTelnet removes Telnet commands (IAC, 0xFF, and the byte after it:
// IP, DM, ...) that clients put before ABOR and friends (RFC 959 4.1.3).
// An escaped IAC (0xFF 0xFF) stays one 0xFF; 0xFF never occurs in UTF-8.
func stripTelnet(line string) string {
	if !strings.Contains(line, "\xff") {
		return line
	}
	var b strings.Builder
	for i := 0; i < len(line); i++ {
		if line[i] != 0xff {
			b.WriteByte(line[i])
			continue
		}
		if i+1 < len(line) && line[i+1] == 0xff {
			b.WriteByte(0xff)
			i++
			continue
		}
		if i+1 < len(line) && line[i+1] >= 0xf0 {
			i++ // a Telnet command: drop it with its IAC
		}
	}
	return b.String()
}

// handleAUTH answers AUTH itself and upgrades the connection, so the layers
// above stay plain text. It reports whether the line was consumed.
func (c *Conn) handleAUTH(line string) (bool, error) {
	verb, arg, _ := strings.Cut(line, " ")
	if !strings.EqualFold(verb, "AUTH") {
		return false, nil
	}
	if c.TLS() {
		return true, c.reply(503, "Already using TLS")
	}
	cfg := c.config()
	if cfg == nil {
		return true, c.reply(502, "TLS is not enabled on this server")
	}
	switch strings.ToUpper(strings.TrimSpace(arg)) {
	case "TLS", "TLS-C", "SSL", "TLS-P":
	default:
		return true, c.reply(504, fmt.Sprintf("AUTH %s not supported: use AUTH TLS", strings.TrimSpace(arg)))
	}
	if c.reader.Buffered() > 0 {
		// The client may not send anything between AUTH and its
		// ClientHello; bytes here would be a command injected in clear.
		return true, errors.New("data after AUTH before the TLS handshake")
	}
	if err := c.reply(234, "AUTH command ok. Expecting TLS Negotiation."); err != nil {
		return true, err
	}
	c.wmu.Lock()
	defer c.wmu.Unlock()
	tc := tls.Server(c.raw, cfg)
	deadline := time.Now().Add(handshakeTimeout)
	if !c.loginDeadline.IsZero() {
		deadline = c.loginDeadline
	}
	ctx, cancel := context.WithDeadline(context.Background(), deadline)
	defer cancel()
	if err := tc.HandshakeContext(ctx); err != nil {
		return true, fmt.Errorf("TLS handshake: %w", err)
	}
	c.transport = tc
	c.reader = bufio.NewReaderSize(tc, MaxLine)
	c.tlsConn.Store(tc)
	return true, nil
}

func (c *Conn) reply(code int, msg string) error {
	_, err := c.Write([]byte(fmt.Sprintf("%d %s\r\n", code, msg)))
	return err
}

// Write sends reply bytes, showing each complete line to the screener.
// The library writes (and flushes) one whole line per call, so such a call
// may be rewritten by the screener; bytes of an unfinished line pass as
// they are and are shown to the screener once the line is complete.
func (c *Conn) Write(p []byte) (int, error) {
	c.wmu.Lock()
	defer c.wmu.Unlock()
	box := c.screener.Load()
	if box == nil {
		return c.transport.Write(p)
	}
	if len(c.partial) == 0 && bytes.IndexByte(p, '\n') == len(p)-1 {
		line := strings.TrimRight(string(p), "\r\n")
		if out := box.s.Reply(line); out != line {
			if _, err := c.transport.Write([]byte(out + "\r\n")); err != nil {
				return 0, err
			}
			return len(p), nil
		}
		return c.transport.Write(p)
	}
	c.observe(box.s, p)
	return c.transport.Write(p)
}

func (c *Conn) observe(s Screener, p []byte) {
	c.partial = append(c.partial, p...)
	for {
		i := bytes.IndexByte(c.partial, '\n')
		if i < 0 {
			break
		}
		s.Reply(strings.TrimRight(string(c.partial[:i]), "\r"))
		c.partial = c.partial[i+1:]
	}
	if len(c.partial) > MaxLine {
		c.partial = c.partial[:0]
	}
}

// Close closes the connection (sending a TLS close_notify when encrypted).
func (c *Conn) Close() error {
	if c.closed.Swap(true) {
		return nil
	}
	if tc := c.tlsConn.Load(); tc != nil {
		// A write stuck on a dead peer must not hold up the close.
		_ = c.raw.SetWriteDeadline(time.Now().Add(time.Second))
		_ = tc.Close() // sends close_notify, closes raw
		return nil
	}
	return c.raw.Close()
}

// LocalAddr implements net.Conn.
func (c *Conn) LocalAddr() net.Addr { return c.raw.LocalAddr() }

// RemoteAddr implements net.Conn.
func (c *Conn) RemoteAddr() net.Addr { return c.raw.RemoteAddr() }

// SetDeadline implements net.Conn.
func (c *Conn) SetDeadline(t time.Time) error { return c.raw.SetDeadline(t) }

// SetReadDeadline implements net.Conn.
func (c *Conn) SetReadDeadline(t time.Time) error { return c.raw.SetReadDeadline(t) }

// SetWriteDeadline implements net.Conn.
func (c *Conn) SetWriteDeadline(t time.Time) error { return c.raw.SetWriteDeadline(t) }

// writeRefusalTimeout bounds the write of a refusal to a new connection.
const writeRefusalTimeout = 2 * time.Second

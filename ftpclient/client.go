// Package ftpclient is a small FTP client for ftpd's tests and for the fxp
// command: one control connection, plain or TLS, with the commands FXP and
// file transfers need. Replies are returned verbatim; a reply with an
// unexpected code is a *ReplyError that carries it.
package ftpclient

import (
	"bufio"
	"bytes"
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"net"
	"net/netip"
	"strconv"
	"strings"
	"time"
)

// Options configure a connection.
type Options struct {
	// LocalAddr, if valid, is the address both the control and the data
	// connections leave from.
	LocalAddr netip.Addr
	// Timeout bounds dialing and each reply wait; zero means 30s.
	Timeout time.Duration
	// TLS enables AUTH TLS (explicit) after connecting, with PROT P data;
	// with ImplicitTLS the control connection starts with a handshake.
	TLS         *tls.Config
	ImplicitTLS bool
	// ClearData keeps data connections unencrypted (PROT C) under TLS, as
	// FXP needs.
	ClearData bool
	// DataTimeout bounds how long a data connection (listing, RETR,
	// STOR) may move no byte; zero means Timeout.
	DataTimeout time.Duration
	// MaxListing caps the bytes of one listing; zero means
	// DefaultMaxListing.
	MaxListing int64
}

// Bounds on what a server can make this client hold.
const (
	// MaxLine is the longest reply line (or listing line) accepted.
	MaxLine = 64 << 10
	// MaxReply is the longest reply, all lines of a multi-line reply
	// together.
	MaxReply = 1 << 20
	// DefaultMaxListing is the default cap on one listing's bytes.
	DefaultMaxListing = 128 << 20
)

// Conn is one control connection.
type Conn struct {
	opts   Options
	raw    net.Conn
	conn   net.Conn // raw or TLS
	r      *bufio.Reader
	Banner string
	tlsOn  bool
	protP  bool
}

// ReplyError is a reply whose code was not the one expected.
type ReplyError struct {
	Command string // the command sent, with a PASS argument masked
	Code    int
	Msg     string
}

func (e *ReplyError) Error() string {
	return fmt.Sprintf("%s: server replied %d %s", Printable(e.Command), e.Code, Printable(strings.ReplaceAll(e.Msg, "\n", " | ")))
}

// Dial connects to addr and reads the greeting.
func Dial(ctx context.Context, addr string, opts Options) (*Conn, error) {
	if opts.Timeout == 0 {
		opts.Timeout = 30 * time.Second
	}
	if opts.DataTimeout <= 0 {
		opts.DataTimeout = opts.Timeout
	}
	if opts.MaxListing <= 0 {
		opts.MaxListing = DefaultMaxListing
	}
	d := net.Dialer{Timeout: opts.Timeout}
	if opts.LocalAddr.IsValid() {
		d.LocalAddr = &net.TCPAddr{IP: opts.LocalAddr.AsSlice()}
	}
	raw, err := d.DialContext(ctx, "tcp", addr)
	if err != nil {
		return nil, fmt.Errorf("connect to %s: %w", addr, err)
	}
	opts.TLS = sessionTLS(opts.TLS, addr)
	c := &Conn{opts: opts, raw: raw, conn: raw}
	if opts.ImplicitTLS {
		if opts.TLS == nil {
			raw.Close()
			return nil, errors.New("implicit TLS needs a TLS config")
		}
		c.conn = tls.Client(raw, opts.TLS)
		c.tlsOn = true
	}
	c.r = bufio.NewReader(c.conn)
	code, msg, err := c.readReply()
	if err != nil {
		raw.Close()
		return nil, fmt.Errorf("read greeting from %s: %w", addr, err)
	}
	if code != 220 {
		raw.Close()
		return nil, &ReplyError{Command: "connect", Code: code, Msg: msg}
	}
	c.Banner = msg
	if opts.TLS != nil && !opts.ImplicitTLS {
		if err := c.authTLS(); err != nil {
			raw.Close()
			return nil, err
		}
	}
	return c, nil
}

func (c *Conn) authTLS() error {
	if _, err := c.Expect(234, "AUTH TLS"); err != nil {
		return err
	}
	tc := tls.Client(c.raw, c.opts.TLS)
	if err := tc.Handshake(); err != nil {
		return fmt.Errorf("TLS handshake: %w", err)
	}
	c.conn = tc
	c.r = bufio.NewReader(tc)
	c.tlsOn = true
	return nil
}

// sessionTLS prepares a caller's TLS configuration for FTPS: its own copy,
// with a session cache and a server name, so that data connections resume
// the control connection's TLS session (servers may require it, as
// vsftpd's require_ssl_reuse and ftpd's require_data_session_reuse do).
func sessionTLS(cfg *tls.Config, addr string) *tls.Config {
	if cfg == nil {
		return nil
	}
	cfg = cfg.Clone()
	if cfg.ClientSessionCache == nil {
		cfg.ClientSessionCache = tls.NewLRUClientSessionCache(4)
	}
	if cfg.ServerName == "" {
		if host, _, err := net.SplitHostPort(addr); err == nil {
			cfg.ServerName = host
		}
	}
	return cfg
}

// Close closes the control connection without QUIT.
func (c *Conn) Close() error { return c.conn.Close() }

// Quit sends QUIT and closes.
func (c *Conn) Quit() error {
	_, _, _ = c.Cmd("QUIT")
	return c.Close()
}

// RemoteAddr is the server's control address.
func (c *Conn) RemoteAddr() net.Addr { return c.raw.RemoteAddr() }

// LocalAddr is this side's control address.
func (c *Conn) LocalAddr() net.Addr { return c.raw.LocalAddr() }

func (c *Conn) readReply() (int, string, error) {
	_ = c.raw.SetReadDeadline(time.Now().Add(c.opts.Timeout))
	defer c.raw.SetReadDeadline(time.Time{})
	return c.readResponse()
}

// ReadReply reads one (possibly multi-line) reply.
func (c *Conn) ReadReply() (int, string, error) { return c.readReply() }

// Send writes a command line without reading a reply. A 0xFF byte (Telnet
// IAC) goes out doubled, as RFC 854 and 959 want, so that a server which
// strips Telnet commands gets the name as sent; a CR, LF or NUL, which
// would end the command early or smuggle a second one, is refused.
func (c *Conn) Send(format string, args ...any) error {
	line := fmt.Sprintf(format, args...)
	if strings.ContainsAny(line, "\r\n\x00") {
		return fmt.Errorf("%s: refused: a line break or NUL in a command", Printable(maskPass(line)))
	}
	wire := strings.ReplaceAll(line, "\xff", "\xff\xff") + "\r\n"
	_ = c.raw.SetWriteDeadline(time.Now().Add(c.opts.Timeout))
	defer c.raw.SetWriteDeadline(time.Time{})
	_, err := io.WriteString(c.conn, wire)
	return err
}

// Cmd sends a command and reads its reply.
func (c *Conn) Cmd(format string, args ...any) (int, string, error) {
	if err := c.Send(format, args...); err != nil {
		return 0, "", err
	}
	return c.readReply()
}

// Expect sends a command and fails with a *ReplyError unless the reply
// code is want.
func (c *Conn) Expect(want int, format string, args ...any) (string, error) {
	code, msg, err := c.Cmd(format, args...)
	if err != nil {
		return "", err
	}
	if code != want {
		return msg, &ReplyError{Command: maskPass(fmt.Sprintf(format, args...)), Code: code, Msg: msg}
	}
	return msg, nil
}

func maskPass(cmd string) string {
	if strings.HasPrefix(strings.ToUpper(cmd), "PASS ") {
		return "PASS ****"
	}
	return cmd
}

// Login sends USER and PASS, sets binary mode and, under TLS, the data
// protection level.
func (c *Conn) Login(user, pass string) error {
	code, msg, err := c.Cmd("USER %s", user)
	if err != nil {
		return err
	}
	switch code {
	case 230:
	case 331, 332:
		if _, err := c.Expect(230, "PASS %s", pass); err != nil {
			return err
		}
	default:
		return &ReplyError{Command: "USER " + user, Code: code, Msg: msg}
	}
	if _, err := c.Expect(200, "TYPE I"); err != nil {
		return err
	}
	if c.tlsOn {
		if _, err := c.Expect(200, "PBSZ 0"); err != nil {
			return err
		}
		level := "P"
		if c.opts.ClearData {
			level = "C"
		}
		if _, err := c.Expect(200, "PROT %s", level); err != nil {
			return err
		}
		c.protP = level == "P"
	}
	return nil
}

// Pasv sends PASV and returns the announced address.
func (c *Conn) Pasv() (netip.AddrPort, error) {
	msg, err := c.Expect(227, "PASV")
	if err != nil {
		return netip.AddrPort{}, err
	}
	return ParsePASV(msg)
}

// Epsv sends EPSV and returns the announced port on the control host.
func (c *Conn) Epsv() (netip.AddrPort, error) {
	msg, err := c.Expect(229, "EPSV")
	if err != nil {
		return netip.AddrPort{}, err
	}
	port, err := ParseEPSV(msg)
	if err != nil {
		return netip.AddrPort{}, err
	}
	host := c.raw.RemoteAddr().(*net.TCPAddr).AddrPort().Addr().Unmap()
	return netip.AddrPortFrom(host, port), nil
}

// Port sends PORT (IPv4) or EPRT (IPv6, or when extended is true).
func (c *Conn) Port(target netip.AddrPort, extended bool) error {
	_, err := c.Expect(200, "%s", PortCommand(target, extended))
	return err
}

// PortCommand formats PORT or EPRT for target.
func PortCommand(target netip.AddrPort, extended bool) string {
	a := target.Addr().Unmap()
	if extended || !a.Is4() {
		af := 1
		if !a.Is4() {
			af = 2
		}
		return fmt.Sprintf("EPRT |%d|%s|%d|", af, a, target.Port())
	}
	b := a.As4()
	return fmt.Sprintf("PORT %d,%d,%d,%d,%d,%d", b[0], b[1], b[2], b[3], target.Port()>>8, target.Port()&0xff)
}

// ParsePASV reads the address of a 227 reply text.
func ParsePASV(msg string) (netip.AddrPort, error) {
	open, end := strings.IndexByte(msg, '('), strings.LastIndexByte(msg, ')')
	if open < 0 || end < open {
		return netip.AddrPort{}, fmt.Errorf("malformed PASV reply %q", msg)
	}
	parts := strings.Split(msg[open+1:end], ",")
	if len(parts) != 6 {
		return netip.AddrPort{}, fmt.Errorf("malformed PASV reply %q", msg)
	}
	var b [6]byte
	for i, p := range parts {
		n, err := strconv.ParseUint(strings.TrimSpace(p), 10, 8)
		if err != nil {
			return netip.AddrPort{}, fmt.Errorf("malformed PASV reply %q", msg)
		}
		b[i] = byte(n)
	}
	return netip.AddrPortFrom(netip.AddrFrom4([4]byte(b[:4])), uint16(b[4])<<8|uint16(b[5])), nil
}

// ParseEPSV reads the port of a 229 reply text.
func ParseEPSV(msg string) (uint16, error) {
	open, end := strings.IndexByte(msg, '('), strings.LastIndexByte(msg, ')')
	if open < 0 || end < open {
		return 0, fmt.Errorf("malformed EPSV reply %q", msg)
	}
	fields := strings.Split(msg[open+1:end], "|")
	if len(fields) != 5 {
		return 0, fmt.Errorf("malformed EPSV reply %q", msg)
	}
	port, err := strconv.ParseUint(fields[3], 10, 16)
	if err != nil || port == 0 {
		return 0, fmt.Errorf("malformed EPSV reply %q", msg)
	}
	return uint16(port), nil
}

// Size returns the size of path (SIZE).
func (c *Conn) Size(path string) (int64, error) {
	msg, err := c.Expect(213, "SIZE %s", path)
	if err != nil {
		return 0, err
	}
	return strconv.ParseInt(strings.TrimSpace(msg), 10, 64)
}

// Hash asks for the digest of path with HASH (after OPTS HASH algo).
func (c *Conn) Hash(algo, path string) (string, error) {
	if _, err := c.Expect(200, "OPTS HASH %s", algo); err != nil {
		return "", err
	}
	msg, err := c.Expect(213, "HASH %s", path)
	if err != nil {
		return "", err
	}
	// "...\nSHA-256 0-123 <hex> path": the digest is on the last line.
	if i := strings.LastIndexByte(msg, '\n'); i >= 0 {
		msg = msg[i+1:]
	}
	f := strings.Fields(msg)
	if len(f) < 3 {
		return "", fmt.Errorf("malformed HASH reply %q", msg)
	}
	return strings.ToLower(f[2]), nil
}

// openData opens a data connection by PASV (or EPSV for IPv6 servers) to
// be used by the next transfer command.
func (c *Conn) openData() (net.Conn, error) {
	var addr netip.AddrPort
	var err error
	host := c.raw.RemoteAddr().(*net.TCPAddr).AddrPort().Addr().Unmap()
	if host.Is4() {
		addr, err = c.Pasv()
	} else {
		addr, err = c.Epsv()
	}
	if err != nil {
		return nil, err
	}
	// The client's own data connection goes to the server it talks to,
	// whatever address a PASV reply names (as curl does since
	// CVE-2020-8284): a hostile server cannot point it at a third host.
	// FXP, where the address is handed to the other server, uses Pasv.
	addr = netip.AddrPortFrom(host, addr.Port())
	d := net.Dialer{Timeout: c.opts.Timeout}
	if c.opts.LocalAddr.IsValid() {
		d.LocalAddr = &net.TCPAddr{IP: c.opts.LocalAddr.AsSlice()}
	}
	conn, err := d.Dial("tcp", addr.String())
	if err != nil {
		return nil, fmt.Errorf("data connection to %s: %w", addr, err)
	}
	return conn, nil
}

func (c *Conn) wrapData(conn net.Conn) net.Conn {
	if !c.protP {
		return conn
	}
	cfg := c.opts.TLS.Clone()
	return tls.Client(conn, cfg)
}

// transfer runs a data command over a passive connection; move copies.
func (c *Conn) transfer(cmd string, move func(net.Conn) (int64, error)) (int64, error) {
	conn, err := c.openData()
	if err != nil {
		return 0, err
	}
	defer conn.Close()
	code, msg, err := c.Cmd("%s", cmd)
	if err != nil {
		return 0, err
	}
	if code != 150 && code != 125 {
		return 0, &ReplyError{Command: cmd, Code: code, Msg: msg}
	}
	data := c.wrapData(&idleConn{Conn: conn, idle: c.opts.DataTimeout})
	n, moveErr := move(data)
	if tc, ok := data.(*tls.Conn); ok {
		_ = tc.CloseWrite()
	}
	data.Close()
	if isTimeout(moveErr) {
		// The data connection fell silent for DataTimeout: that bounds
		// the transfer on its own. The final reply is not waited for (a
		// server silent on data is likely silent on control too, and
		// --timeout would be paid on top); the control connection is
		// closed, since that reply could still arrive and be taken for
		// the next command's.
		c.Close()
		return n, fmt.Errorf("%s: data: %w", Printable(cmd), moveErr)
	}
	code, msg, err = c.readReply()
	if moveErr != nil && (err != nil || code == 226 || code == 250) {
		// The data failed (a cap, a silent connection): that is the
		// news, whatever the server says or does not say after it.
		return n, fmt.Errorf("%s: data: %w", Printable(cmd), moveErr)
	}
	if err != nil {
		return n, err
	}
	if code != 226 && code != 250 {
		return n, &ReplyError{Command: cmd, Code: code, Msg: msg}
	}
	if moveErr != nil {
		return n, fmt.Errorf("%s: data: %w", Printable(cmd), moveErr)
	}
	return n, nil
}

// Retr downloads path into w.
func (c *Conn) Retr(path string, w io.Writer) (int64, error) {
	return c.transfer("RETR "+path, func(conn net.Conn) (int64, error) { return io.Copy(w, conn) })
}

// Stor uploads r as path (APPE when appendTo is true).
func (c *Conn) Stor(path string, r io.Reader) (int64, error) {
	return c.transfer("STOR "+path, func(conn net.Conn) (int64, error) { return io.Copy(conn, r) })
}

// Appe appends r to path.
func (c *Conn) Appe(path string, r io.Reader) (int64, error) {
	return c.transfer("APPE "+path, func(conn net.Conn) (int64, error) { return io.Copy(conn, r) })
}

// List runs a listing command (LIST, NLST, MLSD) and returns its lines.
func (c *Conn) List(cmd, path string) ([]string, error) {
	var out []string
	err := c.ListFunc(cmd, path, func(l []byte) error {
		out = append(out, string(l))
		return nil
	})
	return out, err
}

// ListFunc runs a listing command and hands each non-empty line, without
// its line end, to fn as it arrives; the slice is valid only during the
// call. A line longer than MaxLine or a listing longer than MaxListing
// stops the listing with an error, as does an error from fn.
func (c *Conn) ListFunc(cmd, path string, fn func(line []byte) error) error {
	line := cmd
	if path != "" {
		line += " " + path
	}
	_, err := c.transfer(line, func(conn net.Conn) (int64, error) {
		r := bufio.NewReader(&capReader{r: conn, left: c.opts.MaxListing})
		var n int64
		for {
			l, err := readLine(r, MaxLine)
			n += int64(len(l))
			if errors.Is(err, errCapped) {
				return n, fmt.Errorf("listing longer than %d bytes (the listing cap): refused", c.opts.MaxListing)
			}
			if errors.Is(err, errLineTooLong) {
				return n, fmt.Errorf("listing line longer than %d bytes: refused", MaxLine)
			}
			if l = bytes.TrimRight(l, "\r\n"); len(l) > 0 {
				if ferr := fn(l); ferr != nil {
					return n, ferr
				}
			}
			if err == io.EOF {
				return n, nil
			}
			if err != nil {
				return n, err
			}
		}
	})
	return err
}

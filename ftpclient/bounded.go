package ftpclient

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"net"
	"strconv"
	"strings"
	"time"
)

var (
	errLineTooLong = errors.New("line too long")
	errCapped      = errors.New("cap reached")
)

// readLine reads one line (with its "\n") of at most max bytes from r;
// the returned slice is the reader's own or a copy when the line spans
// buffers. Past max it stops with errLineTooLong, having held no more.
func readLine(r *bufio.Reader, max int) ([]byte, error) {
	l, err := r.ReadSlice('\n')
	if !errors.Is(err, bufio.ErrBufferFull) {
		if len(l) > max {
			return nil, errLineTooLong
		}
		return l, err
	}
	buf := append([]byte(nil), l...)
	for errors.Is(err, bufio.ErrBufferFull) {
		if len(buf) > max {
			return nil, errLineTooLong
		}
		l, err = r.ReadSlice('\n')
		buf = append(buf, l...)
	}
	if len(buf) > max {
		return nil, errLineTooLong
	}
	return buf, err
}

// readResponse reads one reply as net/textproto does (a multi-line reply
// "123-..." ends at "123 ..."; its lines are joined with "\n", their code
// prefixes dropped), bounded: a line longer than MaxLine or a reply longer
// than MaxReply is an error.
func (c *Conn) readResponse() (int, string, error) {
	total := 0
	next := func() (string, error) {
		l, err := readLine(c.r, MaxLine)
		if errors.Is(err, errLineTooLong) {
			return "", fmt.Errorf("reply line longer than %d bytes: refused", MaxLine)
		}
		if err == io.EOF && len(l) > 0 {
			err = io.ErrUnexpectedEOF
		}
		if err != nil {
			return "", err
		}
		if total += len(l); total > MaxReply {
			return "", fmt.Errorf("reply longer than %d bytes: refused", MaxReply)
		}
		return strings.TrimRight(string(l), "\r\n"), nil
	}
	line, err := next()
	if err != nil {
		return 0, "", err
	}
	code, cont, msg, ok := parseCodeLine(line)
	if !ok {
		return 0, "", fmt.Errorf("malformed reply %s", strconv.Quote(Printable(line)))
	}
	var sb strings.Builder
	sb.WriteString(msg)
	for cont {
		if line, err = next(); err != nil {
			return 0, "", err
		}
		c2, more, m2, ok := parseCodeLine(line)
		sb.WriteByte('\n')
		if !ok || c2 != code {
			sb.WriteString(line)
			continue
		}
		sb.WriteString(m2)
		cont = more
	}
	return code, sb.String(), nil
}

// parseCodeLine splits "123 text" or "123-text".
func parseCodeLine(line string) (code int, cont bool, msg string, ok bool) {
	if len(line) < 4 || (line[3] != ' ' && line[3] != '-') {
		if len(line) == 3 {
			line += " "
		} else {
			return 0, false, "", false
		}
	}
	code, err := strconv.Atoi(line[:3])
	if err != nil || code < 100 {
		return 0, false, "", false
	}
	return code, line[3] == '-', line[4:], true
}

// capReader reads at most left bytes, then fails with errCapped.
type capReader struct {
	r    io.Reader
	left int64
}

func (c *capReader) Read(p []byte) (int, error) {
	if c.left <= 0 {
		return 0, errCapped
	}
	if int64(len(p)) > c.left {
		p = p[:c.left]
	}
	n, err := c.r.Read(p)
	c.left -= int64(n)
	return n, err
}

// idleConn is a data connection whose every read and write must move a
// byte within idle.
type idleConn struct {
	net.Conn
	idle time.Duration
}

func (c *idleConn) Read(p []byte) (int, error) {
	_ = c.Conn.SetReadDeadline(time.Now().Add(c.idle))
	n, err := c.Conn.Read(p)
	return n, c.timeout(err)
}

func (c *idleConn) Write(p []byte) (int, error) {
	_ = c.Conn.SetWriteDeadline(time.Now().Add(c.idle))
	n, err := c.Conn.Write(p)
	return n, c.timeout(err)
}

// isTimeout reports whether err is a deadline that passed (a data
// connection silent for DataTimeout).
func isTimeout(err error) bool {
	var ne net.Error
	return errors.As(err, &ne) && ne.Timeout()
}

func (c *idleConn) timeout(err error) error {
	var ne net.Error
	if errors.As(err, &ne) && ne.Timeout() {
		return fmt.Errorf("data connection: no data for %s: %w", c.idle, err)
	}
	return err
}

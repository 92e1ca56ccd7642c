package proxyhdr

import (
	"errors"
	"io"
	"log/slog"
	"net"
	"net/netip"
	"testing"
	"time"

	proxyproto "github.com/pires/go-proxyproto"
)

func listen(t *testing.T, o Options) *Listener {
	t.Helper()
	ln, err := net.ListenTCP("tcp", &net.TCPAddr{IP: net.IPv4(127, 0, 0, 2)})
	if err != nil {
		t.Fatal(err)
	}
	l := NewListener(ln, o, slog.New(slog.DiscardHandler))
	t.Cleanup(func() { l.Close() })
	return l
}

func dialFrom(t *testing.T, from string, to net.Addr) net.Conn {
	t.Helper()
	d := net.Dialer{LocalAddr: &net.TCPAddr{IP: net.ParseIP(from)}, Timeout: 5 * time.Second}
	c, err := d.Dial("tcp", to.String())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

func header(t *testing.T, version byte, src, dst string) []byte {
	t.Helper()
	s, _ := net.ResolveTCPAddr("tcp", src)
	d, _ := net.ResolveTCPAddr("tcp", dst)
	b, err := proxyproto.HeaderProxyFromAddrs(version, s, d).Format()
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func accept(t *testing.T, l *Listener) net.Conn {
	t.Helper()
	type res struct {
		c   net.Conn
		err error
	}
	ch := make(chan res, 1)
	go func() { c, err := l.Accept(); ch <- res{c, err} }()
	select {
	case r := <-ch:
		if r.err != nil {
			t.Fatal(r.err)
		}
		t.Cleanup(func() { r.c.Close() })
		return r.c
	case <-time.After(10 * time.Second): // a bound on a hang, not a speed check
		t.Fatal("no connection accepted")
	}
	return nil
}

// closedWithoutReply reads from c until EOF or reset: nothing may arrive.
func closedWithoutReply(t *testing.T, c net.Conn) {
	t.Helper()
	_ = c.SetReadDeadline(time.Now().Add(10 * time.Second)) // a hang bound; the close comes at once
	b, err := io.ReadAll(c)
	if len(b) > 0 {
		t.Fatalf("got %q, want nothing", b)
	}
	var ne net.Error
	if errors.As(err, &ne) && ne.Timeout() {
		t.Fatal("connection left open")
	}
}

var trusted = Options{Trusted: []netip.Prefix{netip.MustParsePrefix("127.0.0.4/32")}}

func TestHeaderGivesAddressesAndKeepsWhatFollows(t *testing.T) {
	for _, v := range []byte{1, 2} {
		l := listen(t, trusted)
		c := dialFrom(t, "127.0.0.4", l.Addr())
		msg := append(header(t, v, "127.0.0.10:40000", "127.0.0.4:2121"), "USER x\r\n"...)
		if _, err := c.Write(msg); err != nil {
			t.Fatal(err)
		}
		sc := accept(t, l)
		if got := sc.RemoteAddr().String(); got != "127.0.0.10:40000" {
			t.Errorf("v%d RemoteAddr = %s", v, got)
		}
		if got := sc.LocalAddr().String(); got != "127.0.0.4:2121" {
			t.Errorf("v%d LocalAddr = %s", v, got)
		}
		if got := sc.(*Conn).Proxy().(*net.TCPAddr).IP.String(); got != "127.0.0.4" {
			t.Errorf("v%d Proxy = %s", v, got)
		}
		buf := make([]byte, 8)
		if _, err := io.ReadFull(sc, buf); err != nil || string(buf) != "USER x\r\n" {
			t.Errorf("v%d after the header: %q, %v", v, buf, err)
		}
	}
}

func TestRefusedConnectionsCloseWithoutReply(t *testing.T) {
	for name, tc := range map[string]struct {
		from string
		send []byte
	}{
		"untrusted source":  {"127.0.0.10", nil},
		"no header":         {"127.0.0.4", []byte("USER anonymous\r\n")},
		"garbage v2":        {"127.0.0.4", append(append([]byte{}, proxyproto.SIGV2...), 0x21, 0x11, 0xff, 0xff)},
		"v1 without CRLF":   {"127.0.0.4", []byte("PROXY TCP4 127.0.0.10 127.0.0.4 1 2 " + string(make([]byte, 120)))},
		"untrusted, header": {"127.0.0.11", nil},
	} {
		t.Run(name, func(t *testing.T) {
			l := listen(t, trusted)
			d := net.Dialer{LocalAddr: &net.TCPAddr{IP: net.ParseIP(tc.from)}, Timeout: 5 * time.Second}
			c, err := d.Dial("tcp", l.Addr().String())
			if err != nil {
				// Reset before connect returned: closed, and nothing sent.
				return
			}
			defer c.Close()
			send := tc.send
			if name == "untrusted, header" {
				send = header(t, 2, "127.0.0.10:1", "127.0.0.4:2")
			}
			if send != nil {
				_, _ = c.Write(send)
			}
			closedWithoutReply(t, c)
		})
	}
}

// A trusted peer that never finishes its header (slowloris) is dropped at
// the timeout, and does not hold up another client meanwhile.
func TestSlowHeaderTimesOutWithoutBlockingOthers(t *testing.T) {
	o := trusted
	o.Timeout = 300 * time.Millisecond
	l := listen(t, o)
	slow := dialFrom(t, "127.0.0.4", l.Addr())
	_, _ = slow.Write([]byte("PROXY TCP4"))
	fast := dialFrom(t, "127.0.0.4", l.Addr())
	_, _ = fast.Write(header(t, 2, "127.0.0.10:1", "127.0.0.4:2"))
	if got := accept(t, l).RemoteAddr().String(); got != "127.0.0.10:1" {
		t.Fatalf("got %s", got)
	}
	closedWithoutReply(t, slow)
}

func TestLocalCommandRefused(t *testing.T) {
	l := listen(t, trusted)
	c := dialFrom(t, "127.0.0.4", l.Addr())
	h := &proxyproto.Header{Version: 2, Command: proxyproto.LOCAL, TransportProtocol: proxyproto.UNSPEC}
	b, err := h.Format()
	if err != nil {
		t.Fatal(err)
	}
	_, _ = c.Write(b)
	closedWithoutReply(t, c)
}

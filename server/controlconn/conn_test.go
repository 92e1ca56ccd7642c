package controlconn

import (
	"bufio"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"math/big"
	"net"
	"os"
	"strings"
	"sync"
	"testing"
	"time"
)

// recorder is a Screener that upper-cases "rewrite me" and records replies.
type recorder struct {
	mu      sync.Mutex
	screens []string
	replies []string
}

func (r *recorder) Screen(line string) string {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.screens = append(r.screens, line)
	if line == "rewrite me" {
		return "REWRITTEN"
	}
	return line
}

func (r *recorder) Reply(line string) string {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.replies = append(r.replies, line)
	if line == "214 old" {
		return "214 new"
	}
	return line
}

func (r *recorder) snapshot() ([]string, []string) {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]string(nil), r.screens...), append([]string(nil), r.replies...)
}

func selfSigned(t *testing.T) *tls.Config {
	t.Helper()
	key, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(1), NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour),
		IPAddresses: []net.IP{net.ParseIP("127.0.0.2")}}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	return &tls.Config{Certificates: []tls.Certificate{{Certificate: [][]byte{der}, PrivateKey: key}}}
}

// pair returns a server-side *Conn (from a Listener on 127.0.0.2) and the
// client's raw connection (from 127.0.0.10).
func pair(t *testing.T, cfg *tls.Config, implicit bool) (*Conn, net.Conn) {
	t.Helper()
	raw, err := net.Listen("tcp", "127.0.0.2:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { raw.Close() })
	var tlsFn TLSConfigFunc
	if cfg != nil {
		tlsFn = func() *tls.Config { return cfg }
	}
	l := &Listener{Listener: raw, TLSConfig: tlsFn, Implicit: implicit}
	accepted := make(chan net.Conn, 1)
	go func() {
		c, err := l.Accept()
		if err == nil {
			accepted <- c
		}
	}()
	d := net.Dialer{LocalAddr: &net.TCPAddr{IP: net.ParseIP("127.0.0.10")}}
	client, err := d.Dial("tcp", raw.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { client.Close() })
	select {
	case c := <-accepted:
		t.Cleanup(func() { c.Close() })
		return c.(*Conn), client
	case <-time.After(5 * time.Second):
		t.Fatal("accept timed out")
	}
	return nil, nil
}

func TestScreenAndReply(t *testing.T) {
	c, client := pair(t, nil, false)
	rec := &recorder{}
	c.SetScreener(rec)
	go func() {
		_, _ = client.Write([]byte("USER alice\r\nrewrite me\nPORT 1,2,3,4,5,6\r\n"))
	}()
	r := bufio.NewReader(c)
	for _, want := range []string{"USER alice", "REWRITTEN", "PORT 1,2,3,4,5,6"} {
		line, err := r.ReadString('\n')
		if err != nil || line != want+"\r\n" {
			t.Fatalf("library read %q (%v), want %q", line, err, want)
		}
	}
	// Replies are observed line by line, even when written in pieces.
	for _, chunk := range []string{"227 Entering Passive Mode (127,0,0,2,", "156,64)\r\n211-FEAT\r\n 211 End\r\n"} {
		if _, err := c.Write([]byte(chunk)); err != nil {
			t.Fatal(err)
		}
	}
	got, err := bufio.NewReader(client).ReadString('\n')
	if err != nil || !strings.HasPrefix(got, "227 ") {
		t.Fatalf("client read %q %v", got, err)
	}
	screens, replies := rec.snapshot()
	if len(screens) != 3 || strings.Join(replies, "|") != "227 Entering Passive Mode (127,0,0,2,156,64)|211-FEAT| 211 End" {
		t.Fatalf("screens %q replies %q", screens, replies)
	}
}

func TestLineTooLong(t *testing.T) {
	c, client := pair(t, nil, false)
	go func() { _, _ = client.Write([]byte(strings.Repeat("A", MaxLine+10) + "\r\n")) }()
	if _, err := c.Read(make([]byte, 100)); !errors.Is(err, ErrLineTooLong) {
		t.Fatalf("long line: %v", err)
	}
	_ = client.SetReadDeadline(time.Now().Add(5 * time.Second))
	r := bufio.NewReader(client)
	if line, err := r.ReadString('\n'); line != "500 line too long\r\n" {
		t.Fatalf("client got %q %v, want 500 line too long", line, err)
	}
	if _, err := r.ReadString('\n'); err == nil {
		t.Fatal("connection open after a too-long line")
	}
}

func TestLoginTimeoutCloses(t *testing.T) {
	// The silent connection: its read ends because the login timer closed
	// it (an EOF or reset), not because of the test's own read deadline.
	// No elapsed-time bound: the 20 s read deadline only stops a broken
	// timer from hanging the test, and a timeout error fails it.
	silentL := loginListener(t, 300*time.Millisecond)
	silent := dialFrom(t, silentL)
	<-silentL.accepted
	_ = silent.SetReadDeadline(time.Now().Add(20 * time.Second))
	if _, err := silent.Read(make([]byte, 1)); err == nil || errors.Is(err, os.ErrDeadlineExceeded) {
		t.Fatalf("silent connection, login timeout 300 ms: read ended with %v, want it closed", err)
	}
	// LoggedIn in time stops the deadline. The timeout here is 2 s so
	// that a loaded machine's delay between accept and LoggedIn (usually
	// microseconds) cannot reach it; the wait past it is then what shows
	// the timer stopped.
	keptL := loginListener(t, 2*time.Second)
	kept := dialFrom(t, keptL)
	c := <-keptL.accepted
	if !c.LoggedIn() {
		t.Fatal("LoggedIn false before the deadline")
	}
	time.Sleep(2500 * time.Millisecond)
	if _, err := c.Write([]byte("200 still here\r\n")); err != nil {
		t.Fatalf("logged-in connection closed: %v", err)
	}
	_ = kept.SetReadDeadline(time.Now().Add(20 * time.Second))
	if line, err := bufio.NewReader(kept).ReadString('\n'); err != nil || line != "200 still here\r\n" {
		t.Fatalf("logged-in connection after the login timeout: %q %v", line, err)
	}
}

// loginTestListener is a Listener with a login timeout whose accepted
// connections arrive on accepted.
type loginTestListener struct {
	*Listener
	accepted chan *Conn
}

func loginListener(t *testing.T, timeout time.Duration) loginTestListener {
	t.Helper()
	raw, err := net.Listen("tcp", "127.0.0.2:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { raw.Close() })
	l := loginTestListener{&Listener{Listener: raw, LoginTimeout: timeout}, make(chan *Conn, 1)}
	go func() {
		c, err := l.Accept()
		if err != nil {
			close(l.accepted)
			return
		}
		t.Cleanup(func() { c.Close() })
		l.accepted <- c.(*Conn)
	}()
	return l
}

func dialFrom(t *testing.T, l loginTestListener) net.Conn {
	t.Helper()
	d := net.Dialer{LocalAddr: &net.TCPAddr{IP: net.ParseIP("127.0.0.10")}, Timeout: 20 * time.Second}
	c, err := d.Dial("tcp", l.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

func TestAuthTLS(t *testing.T) {
	cfg := selfSigned(t)
	c, client := pair(t, cfg, false)
	rec := &recorder{}
	c.SetScreener(rec)
	lib := make(chan string, 4)
	go func() { // the "library": reads commands, answers one
		r := bufio.NewReader(c)
		for {
			line, err := r.ReadString('\n')
			if err != nil {
				close(lib)
				return
			}
			lib <- strings.TrimSpace(line)
			_, _ = c.Write([]byte("200 ok\r\n"))
		}
	}()
	if _, err := client.Write([]byte("AUTH TLS\r\n")); err != nil {
		t.Fatal(err)
	}
	br := bufio.NewReader(client)
	line, err := br.ReadString('\n')
	if err != nil || !strings.HasPrefix(line, "234 ") {
		t.Fatalf("AUTH reply %q %v", line, err)
	}
	tc := tls.Client(client, &tls.Config{InsecureSkipVerify: true}) //nolint:gosec // test
	if err := tc.Handshake(); err != nil {
		t.Fatal(err)
	}
	if _, err := tc.Write([]byte("USER alice\r\n")); err != nil {
		t.Fatal(err)
	}
	if got := <-lib; got != "USER alice" {
		t.Fatalf("library got %q after TLS", got)
	}
	reply, err := bufio.NewReader(tc).ReadString('\n')
	if err != nil || reply != "200 ok\r\n" {
		t.Fatalf("reply over TLS %q %v", reply, err)
	}
	if !c.TLS() {
		t.Fatal("TLS() false after AUTH")
	}
	if screens, _ := rec.snapshot(); len(screens) != 1 || screens[0] != "USER alice" {
		t.Fatalf("AUTH must not reach the screener/library: %q", screens)
	}
}

func TestAuthWithInjectedCommandRefused(t *testing.T) {
	c, client := pair(t, selfSigned(t), false)
	// A command smuggled in clear behind AUTH must not be run after the
	// upgrade: the connection fails instead.
	go func() { _, _ = client.Write([]byte("AUTH TLS\r\nDELE x\r\n")) }()
	time.Sleep(50 * time.Millisecond) // both lines in the buffer
	if _, err := c.Read(make([]byte, 64)); err == nil || !strings.Contains(err.Error(), "data after AUTH") {
		t.Fatalf("smuggled command: %v", err)
	}
}

func TestImplicitTLS(t *testing.T) {
	c, client := pair(t, selfSigned(t), true)
	if !c.TLS() {
		t.Fatal("implicit connection not TLS")
	}
	tc := tls.Client(client, &tls.Config{InsecureSkipVerify: true}) //nolint:gosec // test
	go func() { _, _ = c.Write([]byte("220 hello\r\n")) }()
	line, err := bufio.NewReader(tc).ReadString('\n')
	if err != nil || line != "220 hello\r\n" {
		t.Fatalf("greeting %q %v", line, err)
	}
}

func TestAdmitRefusal(t *testing.T) {
	raw, err := net.Listen("tcp", "127.0.0.2:0")
	if err != nil {
		t.Fatal(err)
	}
	defer raw.Close()
	admitted := make(chan *Conn, 1)
	l := &Listener{Listener: raw, Admit: func(c net.Conn) string {
		if strings.HasPrefix(c.RemoteAddr().String(), "127.0.0.11:") {
			return "421 go away"
		}
		return ""
	}}
	go func() {
		c, err := l.Accept()
		if err == nil {
			admitted <- c.(*Conn)
		}
	}()
	dial := func(ip string) net.Conn {
		d := net.Dialer{LocalAddr: &net.TCPAddr{IP: net.ParseIP(ip)}}
		c, err := d.Dial("tcp", raw.Addr().String())
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { c.Close() })
		return c
	}
	refused := dial("127.0.0.11")
	_ = refused.SetReadDeadline(time.Now().Add(5 * time.Second))
	if line, _ := bufio.NewReader(refused).ReadString('\n'); line != "421 go away\r\n" {
		t.Fatalf("refusal %q", line)
	}
	dial("127.0.0.10")
	select {
	case c := <-admitted:
		c.Close()
	case <-time.After(5 * time.Second):
		t.Fatal("admitted connection not returned")
	}
}

func TestStripTelnet(t *testing.T) {
	cases := map[string]string{
		"NOOP":                      "NOOP",
		"\xff\xf4\xff\xf2ABOR":      "ABOR",
		"\xff\xf4\xffREST 0":        "REST 0",
		"STOR caf\xc3\xa9":          "STOR caf\xc3\xa9",
		"STOR \xf0\x9f\x98\x80.txt": "STOR \xf0\x9f\x98\x80.txt", // UTF-8 lead byte 0xF0 is kept
		"SITE x\xff\xffy":           "SITE x\xffy",
	}
	for in, want := range cases {
		if got := stripTelnet(in); got != want {
			t.Errorf("stripTelnet(%q) = %q, want %q", in, got, want)
		}
	}
}

func TestReplyRewrite(t *testing.T) {
	c, client := pair(t, nil, false)
	c.SetScreener(&recorder{})
	for _, line := range []string{"214 old\r\n", "200 kept\r\n"} {
		if n, err := c.Write([]byte(line)); err != nil || n != len(line) {
			t.Fatalf("Write(%q) = %d, %v", line, n, err)
		}
	}
	r := bufio.NewReader(client)
	for _, want := range []string{"214 new\r\n", "200 kept\r\n"} {
		if got, err := r.ReadString('\n'); err != nil || got != want {
			t.Fatalf("client read %q (%v), want %q", got, err, want)
		}
	}
}

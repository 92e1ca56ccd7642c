package dataplane

import (
	"crypto/tls"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/ftpd/ftpd/acl"
)

// fakeSession is a control session without the FTP library: the client is
// 127.0.0.10, the control connection arrives on 127.0.0.2, and the policy
// admits the client's own address and, for send, 127.0.0.3.
type fakeSession struct {
	local netip.Addr
	cmd   string
	block netip.Prefix // zero: 127.0.0.10/32

	mu      sync.Mutex
	judged  []Request
	refused []Request
}

func newFake(cmd string) *fakeSession {
	return &fakeSession{local: netip.MustParseAddr("127.0.0.2"), cmd: cmd}
}

func (f *fakeSession) ControlLocal() netip.Addr { return f.local }
func (f *fakeSession) WaitingCommand() string   { return f.cmd }

func (f *fakeSession) Judge(r Request) acl.Verdict {
	f.mu.Lock()
	f.judged = append(f.judged, r)
	f.mu.Unlock()
	p := acl.FXPPolicy{Enabled: true, Peers: acl.Networks{netip.MustParsePrefix("127.0.0.3/32")}}
	u := acl.UserFXP{Name: "alice", Send: true}
	return p.Decide(&u, acl.DataRequest{Direction: r.Direction, Client: netip.MustParseAddr("127.0.0.10"), Peer: r.Peer, Active: r.Active})
}

func (f *fakeSession) Refused(r Request, _ acl.Verdict) {
	f.mu.Lock()
	f.refused = append(f.refused, r)
	f.mu.Unlock()
}

func (f *fakeSession) DataTLS() *TLS { return nil }

func (f *fakeSession) ClientBlock() netip.Prefix {
	if f.block.IsValid() {
		return f.block
	}
	return netip.MustParsePrefix("127.0.0.10/32")
}

func (f *fakeSession) Warn(string, ...any) {}

func (f *fakeSession) ResumesControlSession(*tls.SessionState) bool { return false }

func (f *fakeSession) WrapTicket(base *tls.Config, cs tls.ConnectionState, ss *tls.SessionState) ([]byte, error) {
	return base.EncryptTicket(cs, ss)
}

func (f *fakeSession) counts() (judged, refused int) {
	f.mu.Lock()
	defer f.mu.Unlock()
	return len(f.judged), len(f.refused)
}

// libraryListen stands in for the FTP library's PASV: a listener on all
// addresses, wrapped by the plane, announced with a 229 reply.
func libraryListen(t *testing.T, p *Plane) (*Listener, string) {
	t.Helper()
	raw, err := net.ListenTCP("tcp", &net.TCPAddr{IP: net.IPv4zero})
	if err != nil {
		t.Fatal(err)
	}
	l, err := p.Wrap(raw)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { l.Close() })
	port := raw.Addr().(*net.TCPAddr).Port
	return l.(*Listener), fmt.Sprintf("229 Entering Extended Passive Mode (|||%d|)", port)
}

// target is a listener on ip that reports each connection's source.
func target(t *testing.T, ip string) (netip.AddrPort, <-chan netip.AddrPort) {
	t.Helper()
	ln, err := net.Listen("tcp", ip+":0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ln.Close() })
	got := make(chan netip.AddrPort, 4)
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			got <- PeerOf(c)
			c.Close()
		}
	}()
	return netip.MustParseAddrPort(ln.Addr().String()), got
}

func dialFrom(t *testing.T, from, to string) net.Conn {
	t.Helper()
	d := net.Dialer{LocalAddr: &net.TCPAddr{IP: net.ParseIP(from)}, Timeout: 2 * time.Second}
	c, err := d.Dial("tcp", to)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

func TestActiveDialsFromControlAddressAfterVerdict(t *testing.T) {
	cases := []struct {
		name, cmd, targetIP string
		allowed             bool
		reason              string
	}{
		{"own address, RETR", "RETR", "127.0.0.10", true, ""},
		{"own address, LIST", "LIST", "127.0.0.10", true, ""},
		{"peer, RETR (send allowed)", "RETR", "127.0.0.3", true, ""},
		{"peer, STOR (receive not allowed)", "STOR", "127.0.0.3", false, "FXP receive not allowed for alice"},
		{"peer, LIST", "LIST", "127.0.0.3", false, "listings are never sent to a foreign address"},
		{"stranger, RETR", "RETR", "127.0.0.12", false, "not an allowed FXP peer"},
		{"nothing known waiting: a listing", "", "127.0.0.3", false, "listings are never sent"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			p := New(Options{})
			fs := newFake(tc.cmd)
			ch := p.NewChannel(fs)
			l, reply := libraryListen(t, p)
			to, got := target(t, tc.targetIP)
			if line, err := ch.Active("PORT", to); err != nil || line != "EPSV" {
				t.Fatalf("Active: %q %v", line, err)
			}
			if r := ch.Reply(reply); r != "200 PORT command successful" {
				t.Fatalf("reply %q", r)
			}
			c, err := l.Accept()
			if !tc.allowed {
				if err == nil || !strings.Contains(err.Error(), tc.reason) {
					t.Fatalf("want refusal with %q, got %v", tc.reason, err)
				}
				select {
				case src := <-got:
					t.Fatalf("dialled %s before/despite the verdict (from %s)", to, src)
				case <-time.After(100 * time.Millisecond):
				}
				if _, refused := fs.counts(); refused != 1 {
					t.Fatalf("refusals reported: %d", refused)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			defer c.Close()
			src := <-got
			if src.Addr() != fs.local {
				t.Fatalf("data connection left from %s, want the control address %s", src.Addr(), fs.local)
			}
			if v, tlsRole, ok := ch.Approved(PeerOf(c)); !ok || !v.Allowed() || tlsRole != "" {
				t.Fatal("handed-over peer not approved")
			}
			if _, _, ok := ch.Approved(netip.MustParseAddrPort("127.0.0.12:1")); ok {
				t.Fatal("another peer approved")
			}
		})
	}
}

func TestPassiveAdmitsOnlyJudgedPeersOnTheSessionAddress(t *testing.T) {
	p := New(Options{Grace: 2 * time.Second})
	fs := newFake("RETR")
	ch := p.NewChannel(fs)
	ch.Passive("EPSV")
	l, reply := libraryListen(t, p)
	if r := ch.Reply(reply); r != reply {
		t.Fatalf("passive reply changed: %q", r)
	}
	port := l.Addr().(*net.TCPAddr).Port
	// A stranger on the right address, and the client on a wrong one.
	stranger := dialFrom(t, "127.0.0.12", fmt.Sprintf("127.0.0.2:%d", port))
	wrongLocal := dialFrom(t, "127.0.0.10", fmt.Sprintf("127.0.0.5:%d", port))
	accepted := make(chan net.Conn, 1)
	go func() {
		c, err := l.Accept()
		if err != nil {
			t.Error(err)
		}
		accepted <- c
	}()
	for _, c := range []net.Conn{stranger, wrongLocal} {
		_ = c.SetReadDeadline(time.Now().Add(2 * time.Second))
		if n, err := c.Read(make([]byte, 1)); n != 0 || err == nil {
			t.Fatalf("refused connection read %d %v", n, err)
		}
	}
	real := dialFrom(t, "127.0.0.10", fmt.Sprintf("127.0.0.2:%d", port))
	c := <-accepted
	if c == nil {
		t.Fatal("no connection")
	}
	defer c.Close()
	if PeerOf(c) != netip.MustParseAddrPort(real.LocalAddr().String()) {
		t.Fatalf("accepted %s, want the client %s", PeerOf(c), real.LocalAddr())
	}
	fs.mu.Lock()
	defer fs.mu.Unlock()
	if len(fs.refused) != 2 || !fs.refused[0].Stranger || !fs.refused[1].Stranger {
		t.Fatalf("refusals: %+v", fs.refused)
	}
}

func TestAbortEndsAWaitAtOnce(t *testing.T) {
	for _, mode := range []string{"passive", "active"} {
		t.Run(mode, func(t *testing.T) {
			p := New(Options{})
			ch := p.NewChannel(newFake("RETR"))
			var reply string
			var l *Listener
			if mode == "passive" {
				ch.Passive("PASV")
				l, reply = libraryListen(t, p)
			} else {
				// A target that never answers the SYN is hard to make on
				// loopback; a listener with a full backlog is not portable.
				// Abort before Accept is reached instead.
				to, _ := target(t, "127.0.0.10")
				if _, err := ch.Active("PORT", to); err != nil {
					t.Fatal(err)
				}
				l, reply = libraryListen(t, p)
			}
			ch.Reply(reply)
			errc := make(chan error, 1)
			if mode == "active" {
				ch.Abort()
			}
			start := time.Now()
			go func() {
				c, err := l.Accept()
				if c != nil {
					c.Close()
				}
				errc <- err
			}()
			if mode == "passive" {
				time.Sleep(50 * time.Millisecond)
				ch.Abort()
			}
			// Without the abort, Accept waits for a client that never
			// comes (no listener timeout is set here): any bound tells the
			// two apart. 20 s is far past what a loaded machine needs to
			// run the abort, and only bounds a broken test.
			select {
			case err := <-errc:
				if err == nil {
					t.Fatal("Accept succeeded after Abort")
				}
			case <-time.After(20 * time.Second):
				t.Fatalf("Accept still waiting %v after Abort", time.Since(start).Round(time.Millisecond))
			}
			if r := ch.Reply("425 failed to accept passive transfer connection: " + abortedText); !strings.HasPrefix(r, "426 ") {
				t.Fatalf("abort reply %q", r)
			}
		})
	}
}

func TestUnclaimedAndClearedListenersRefuse(t *testing.T) {
	p := New(Options{})
	// Not announced to anyone (no setup pending): fail closed.
	l, reply := libraryListen(t, p)
	ch := p.NewChannel(newFake("RETR"))
	if r := ch.Reply(reply); r != reply {
		t.Fatalf("reply without a setup changed: %q", r)
	}
	if _, err := l.Accept(); err == nil || !strings.Contains(err.Error(), "not announced") {
		t.Fatalf("unclaimed listener: %v", err)
	}
	// Claimed, then cleared by a refused PORT: nothing to connect to.
	ch.Passive("PASV")
	l2, reply2 := libraryListen(t, p)
	ch.Reply(reply2)
	ch.Clear()
	if _, err := l2.Accept(); !errors.Is(err, errNoData) {
		t.Fatalf("cleared listener: %v", err)
	}
	// A port is never claimed by two sessions.
	other := p.NewChannel(newFake("RETR"))
	ch.Passive("PASV")
	l3, reply3 := libraryListen(t, p)
	ch.Reply(reply3)
	other.Passive("PASV")
	if r := other.Reply(reply3); !strings.HasPrefix(r, "425 ") {
		t.Fatalf("second claim of one port: %q", r)
	}
	_ = l3
	l.Close() // the library closes what it opened
	if p.Open() != 1 {
		t.Fatalf("open listeners %d, want 1 (the cleared ones closed)", p.Open())
	}
}

func TestFailedSetupIsReportedForWhatWasAsked(t *testing.T) {
	p := New(Options{})
	ch := p.NewChannel(newFake("RETR"))
	to := netip.MustParseAddrPort("127.0.0.10:5000")
	if _, err := ch.Active("EPRT", to); err != nil {
		t.Fatal(err)
	}
	if r := ch.Reply("421 Could not listen for passive connection: no port"); r != "425 EPRT failed: Could not listen for passive connection: no port" {
		t.Fatalf("%q", r)
	}
	// A transfer's own replies pass untouched.
	for _, line := range []string{"226 Closing transfer connection", "150 Using transfer connection", "421 command timeout"} {
		if r := ch.Reply(line); r != line {
			t.Fatalf("%q became %q", line, r)
		}
	}
}

func TestActiveRefusesAnotherAddressFamily(t *testing.T) {
	p := New(Options{})
	ch := p.NewChannel(newFake("RETR"))
	if _, err := ch.Active("EPRT", netip.MustParseAddrPort("[::1]:5000")); err == nil {
		t.Fatal("IPv6 target on an IPv4 control connection accepted")
	}
}

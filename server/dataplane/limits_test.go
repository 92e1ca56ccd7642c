package dataplane

import (
	"net"
	"net/netip"
	"strings"
	"testing"
	"time"

	"github.com/ftpd/ftpd/acl"
)

// TestMaxPerClientCountsBlocks: MaxPerClient counts the ports held by
// every session of one client block — for IPv6 its /64 (acl.ClientBlock),
// so addresses of one block share the cap — and a session's own port is
// not held against its next one. Past the cap the port is closed at once.
func TestMaxPerClientCountsBlocks(t *testing.T) {
	p := New(Options{})
	p.SetLimits(Limits{MaxPerClient: 2})
	session := func(ip string) *Channel {
		f := newFake("RETR")
		f.block = acl.ClientBlock(netip.MustParseAddr(ip), 64)
		return p.NewChannel(f)
	}
	announce := func(ch *Channel) (string, *Listener) {
		l, reply := libraryListen(t, p)
		ch.Passive("EPSV")
		return ch.Reply(reply), l
	}
	a, b := session("fd00::1"), session("fd00::2:3") // one /64
	for i, ch := range []*Channel{a, a, b} {         // a's second EPSV replaces its first
		if got, _ := announce(ch); !strings.HasPrefix(got, "229 ") {
			t.Fatalf("EPSV %d within the cap: %q", i, got)
		}
	}
	got, l := announce(session("fd00::ffff"))
	if !strings.HasPrefix(got, "425 EPSV refused") || !strings.Contains(got, "max_passive_per_ip") {
		t.Errorf("a third port for the /64: %q", got)
	}
	if _, err := net.Dial("tcp", l.Addr().String()); err == nil {
		t.Error("the refused port is still open")
	}
	if got, _ := announce(session("fd00:0:0:1::1")); !strings.HasPrefix(got, "229 ") {
		t.Errorf("another /64: %q", got)
	}
	if got, _ := announce(session("127.0.0.11")); !strings.HasPrefix(got, "229 ") {
		t.Errorf("an IPv4 client: %q", got)
	}
}

// TestListenerExpires: a port no transfer uses is closed after
// ListenerTimeout and a later transfer is told why.
func TestListenerExpires(t *testing.T) {
	p := New(Options{})
	p.SetLimits(Limits{ListenerTimeout: 50 * time.Millisecond})
	ch := p.NewChannel(newFake("RETR"))
	l, reply := libraryListen(t, p)
	ch.Passive("EPSV")
	ch.Reply(reply)
	deadline := time.Now().Add(20 * time.Second) // a margin no loaded machine reaches for 50 ms
	for p.Open() != 0 {
		if time.Now().After(deadline) {
			t.Fatal("port still open 20 s after a 50 ms listener timeout")
		}
		time.Sleep(10 * time.Millisecond)
	}
	if _, err := l.Accept(); err == nil || !strings.Contains(err.Error(), "expired") {
		t.Errorf("Accept on the expired port: %v", err)
	}
	if got := ch.Reply("425 failed to set deadline: use of closed network connection"); !strings.Contains(got, "data port expired") {
		t.Errorf("the library's reply for the expired port: %q", got)
	}
}

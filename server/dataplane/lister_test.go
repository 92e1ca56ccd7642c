package dataplane

import (
	"fmt"
	"net"
	"testing"
)

// listerSession is a fakeSession that streams listings: it marks the
// connections it was given.
type listerSession struct {
	*fakeSession
	given int
}

type marked struct{ net.Conn }

func (s *listerSession) ListingConn(c net.Conn) net.Conn {
	s.given++
	return marked{c}
}

// TestListerGetsListingsOnly: a listing command's data connection goes to
// the library through the session's ListingConn; a file transfer's does
// not (it stays a *net.TCPConn, for sendfile/splice and the driver's
// peer check).
func TestListerGetsListingsOnly(t *testing.T) {
	for _, tc := range []struct {
		cmd    string
		listed bool
	}{{"LIST", true}, {"NLST", true}, {"MLSD", true}, {"RETR", false}, {"STOR", false}} {
		t.Run(tc.cmd, func(t *testing.T) {
			p := New(Options{})
			s := &listerSession{fakeSession: newFake(tc.cmd)}
			ch := p.NewChannel(s)
			ch.Passive("EPSV")
			l, reply := libraryListen(t, p)
			ch.Reply(reply)
			dialFrom(t, "127.0.0.10", fmt.Sprintf("127.0.0.2:%d", l.Addr().(*net.TCPAddr).Port))
			c, err := l.Accept()
			if err != nil {
				t.Fatal(err)
			}
			defer c.Close()
			_, isMarked := c.(marked)
			_, isTCP := c.(*net.TCPConn)
			if isMarked != tc.listed || s.given != map[bool]int{true: 1, false: 0}[tc.listed] || isTCP == tc.listed {
				t.Fatalf("%s: library got %T, ListingConn called %d times", tc.cmd, c, s.given)
			}
		})
	}
}

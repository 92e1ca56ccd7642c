package dataplane

import (
	"errors"
	"net"
	"os"
	"testing"
	"time"
)

// tcpPair returns both ends of a loopback TCP connection.
func tcpPair(t *testing.T) (server, client *net.TCPConn) {
	t.Helper()
	ln, err := net.ListenTCP("tcp", &net.TCPAddr{IP: net.IPv4(127, 0, 0, 2)})
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	c, err := net.DialTCP("tcp", &net.TCPAddr{IP: net.IPv4(127, 0, 0, 10)}, ln.Addr().(*net.TCPAddr))
	if err != nil {
		t.Fatal(err)
	}
	s, err := ln.AcceptTCP()
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close(); s.Close() })
	return s, c
}

// TestIdleWatch: a connection whose bytes keep coming is never cut, for
// many times the timeout; once the peer goes silent, the blocked read
// fails with a deadline error and the watch reports it expired.
func TestIdleWatch(t *testing.T) {
	s, c := tcpPair(t)
	// 1 s timeout, a byte every 50 ms: a 20x margin for a loaded machine.
	w := watchIdle(s, time.Second)
	if w == nil {
		t.Fatal("no watch on a TCP connection")
	}
	defer w.end()
	stop := time.After(3 * time.Second)
	go func() {
		for {
			select {
			case <-stop:
				return // then silence
			case <-time.After(50 * time.Millisecond):
				if _, err := c.Write([]byte{1}); err != nil {
					return
				}
			}
		}
	}()
	start := time.Now()
	buf := make([]byte, 1)
	var n int
	var err error
	for {
		if _, err = s.Read(buf); err != nil {
			break
		}
		n++
		if time.Since(start) > time.Minute {
			t.Fatal("no deadline a minute after the peer went silent")
		}
	}
	if !errors.Is(err, os.ErrDeadlineExceeded) {
		t.Fatalf("read ended with %v, want a deadline error", err)
	}
	if d := time.Since(start); d < 3*time.Second {
		t.Errorf("read failed after %v (%d bytes), while the peer was still sending every 50 ms: a moving connection was cut", d, n)
	}
	if !w.expired() {
		t.Error("watch not expired after the deadline fired")
	}
	if watchIdle(nil, time.Second) != nil || watchIdle(s, 0) != nil {
		t.Error("watch without a TCP connection or a timeout")
	}
}

package ftpclient

import (
	"bufio"
	"bytes"
	"context"
	"net"
	"runtime"
	"strconv"
	"strings"
	"testing"
	"time"
)

// scripted starts a listener on 127.0.0.2 whose one connection is handed
// to serve: a malicious server that answers whatever the attack needs.
func scripted(t *testing.T, serve func(c net.Conn, r *bufio.Reader)) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.2:0")
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan struct{})
	t.Cleanup(func() { ln.Close(); <-done })
	go func() {
		defer close(done)
		c, err := ln.Accept()
		if err != nil {
			return
		}
		defer c.Close()
		serve(c, bufio.NewReader(c))
	}()
	return ln.Addr().String()
}

// heapSys is the memory the Go heap holds from the OS: it only grows when
// something needs it, so its growth bounds what a test made fxp hold.
func heapSys() uint64 {
	runtime.GC()
	var m runtime.MemStats
	runtime.ReadMemStats(&m)
	return m.HeapSys
}

// flood writes n bytes of b (repeated) to w, stopping at the first error.
func flood(w net.Conn, b []byte, n int) {
	for sent := 0; sent < n; sent += len(b) {
		if _, err := w.Write(b); err != nil {
			return
		}
	}
}

// TestIACDoubledOnWire: a 0xFF byte in a path goes out as IAC IAC (RFC
// 854/959), so a server that strips Telnet commands sees the name as sent.
func TestIACDoubledOnWire(t *testing.T) {
	got := make(chan []byte, 1)
	addr := scripted(t, func(c net.Conn, r *bufio.Reader) {
		c.Write([]byte("220 hi\r\n"))
		line, _ := r.ReadBytes('\n')
		got <- line
		c.Write([]byte("213 1\r\n"))
	})
	c, err := Dial(context.Background(), addr, Options{Timeout: 10 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	_, _ = c.Size("..\xff\xf1")
	if line := <-got; !bytes.Equal(line, []byte("SIZE ..\xff\xff\xf1\r\n")) {
		t.Fatalf("sent %q, want IAC doubled", line)
	}
	// A CR or LF in an argument would be a second command: refused.
	if _, err := c.Size("a\r\nDELE b"); err == nil || !strings.Contains(err.Error(), "line break") {
		t.Fatalf("CRLF in a name: %v", err)
	}
}

// TestHugeReplyBounded: a 200 MiB reply line, or a multi-line reply of
// 200 MiB, fails with a clear error and does not grow the heap.
func TestHugeReplyBounded(t *testing.T) {
	const size = 200 << 20
	for _, tc := range []struct {
		name, head string
		chunk      []byte
		want       string
	}{
		{"one line", "220 ", bytes.Repeat([]byte("A"), 64<<10), "reply line longer than"},
		{"multi-line", "220-hello\r\n", bytes.Repeat([]byte("A\r\n"), 20000), "reply longer than"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			addr := scripted(t, func(c net.Conn, r *bufio.Reader) {
				c.Write([]byte(tc.head))
				flood(c, tc.chunk, size)
			})
			before := heapSys()
			_, err := Dial(context.Background(), addr, Options{Timeout: 60 * time.Second})
			grew := int64(heapSys()) - int64(before)
			t.Logf("heap grew %d KiB reading a %d MiB reply", grew>>10, size>>20)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("err %v, want %q", err, tc.want)
			}
			if grew > 8<<20 {
				t.Fatalf("heap grew %d MiB", grew>>20)
			}
		})
	}
}

// pasvServer answers the greeting, then PASV with a listener of its own,
// and hands the data connection of the next command to data.
func pasvServer(t *testing.T, data func(d net.Conn)) string {
	return scripted(t, func(c net.Conn, r *bufio.Reader) {
		c.Write([]byte("220 hi\r\n"))
		dl, err := net.Listen("tcp", "127.0.0.2:0")
		if err != nil {
			return
		}
		defer dl.Close()
		for {
			line, err := r.ReadString('\n')
			if err != nil {
				return
			}
			switch {
			case strings.HasPrefix(line, "PASV"):
				p := dl.Addr().(*net.TCPAddr).Port
				c.Write([]byte("227 Entering Passive Mode (127,0,0,2," + strconv.Itoa(p>>8) + "," + strconv.Itoa(p&255) + ")\r\n"))
			default:
				c.Write([]byte("150 here\r\n"))
				d, err := dl.Accept()
				if err != nil {
					return
				}
				data(d)
				d.Close()
				c.Write([]byte("226 done\r\n"))
			}
		}
	})
}

// TestHugeListingBounded: a 200 MiB listing fails at the listing cap and
// does not grow the heap (lines are handed over one at a time).
func TestHugeListingBounded(t *testing.T) {
	const size = 200 << 20
	addr := pasvServer(t, func(d net.Conn) {
		flood(d, bytes.Repeat([]byte("type=file;size=1; x\r\n"), 4096), size)
	})
	c, err := Dial(context.Background(), addr, Options{Timeout: 60 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	before := heapSys()
	n := 0
	err = c.ListFunc("MLSD", "", func([]byte) error { n++; return nil })
	grew := int64(heapSys()) - int64(before)
	t.Logf("heap grew %d KiB reading a %d MiB listing (%d lines before the cap)", grew>>10, size>>20, n)
	if err == nil || !strings.Contains(err.Error(), "listing longer than") {
		t.Fatalf("err %v, want the listing cap", err)
	}
	if grew > 8<<20 {
		t.Fatalf("heap grew %d MiB", grew>>20)
	}
}

// TestSilentServerFails: a server that never greets, one that says nothing
// after the greeting, and a data connection that moves no byte all fail
// after the timeout instead of hanging.
func TestSilentServerFails(t *testing.T) {
	opts := Options{Timeout: 300 * time.Millisecond}
	t.Run("no greeting", func(t *testing.T) {
		addr := scripted(t, func(c net.Conn, r *bufio.Reader) { r.ReadByte() })
		if _, err := Dial(context.Background(), addr, opts); err == nil {
			t.Fatal("connected to a server that never greeted")
		}
	})
	t.Run("silent after greeting", func(t *testing.T) {
		addr := scripted(t, func(c net.Conn, r *bufio.Reader) { c.Write([]byte("220 hi\r\n")); drain(r) })
		c, err := Dial(context.Background(), addr, opts)
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		if err := c.Login("u", "p"); err == nil {
			t.Fatal("login answered by silence")
		}
	})
	// A listing whose data connection falls silent fails after the data
	// timeout (300ms); 60s is the only upper bound — generous, a loaded
	// machine is slow, a hang is forever. With a control timeout of 10
	// minutes, the reply a silent server owes is not waited for as well
	// (it used to be: the listing then ran past 60s).
	for name, opts := range map[string]Options{
		"silent data connection":                          opts,
		"silent data connection, patient control timeout": {Timeout: 10 * time.Minute, DataTimeout: 300 * time.Millisecond},
	} {
		t.Run(name, func(t *testing.T) {
			stop := make(chan struct{})
			addr := pasvServer(t, func(d net.Conn) { d.Write([]byte("type=file; a\r\n")); <-stop })
			defer close(stop)
			c, err := Dial(context.Background(), addr, opts)
			if err != nil {
				t.Fatal(err)
			}
			defer c.Close()
			done := make(chan error, 1)
			go func() { _, err := c.List("MLSD", ""); done <- err }()
			select {
			case err := <-done:
				if err == nil || !strings.Contains(err.Error(), "no data for 300ms") {
					t.Fatalf("err %v, want a data timeout", err)
				}
			case <-time.After(60 * time.Second):
				t.Fatal("listing on a silent data connection still running after 60s")
			}
		})
	}
}

func drain(r *bufio.Reader) {
	for {
		if _, err := r.ReadByte(); err != nil {
			return
		}
	}
}

// TestPrintable: controls, C1 (CSI), bidi overrides and isolates, the
// line and paragraph separators U+2028/U+2029 (a line break to some
// terminals and viewers, as logsafe.Escape knows), and invalid UTF-8
// become visible escapes; plain text is unchanged; applying
// it twice changes nothing more.
func TestPrintable(t *testing.T) {
	for in, want := range map[string]string{
		"plain name.txt":            "plain name.txt",
		"caf\u00e9 \u65e5\u672c":    "caf\u00e9 \u65e5\u672c",
		"a\x1b[2Jb":                 `a\x1b[2Jb`,
		"\x00\r\n\x7f":              `\x00\x0d\x0a\x7f`,
		"csi\u009b31m":              `csi\u009b31m`,
		"\u202etxt.exe":             `\u202etxt.exe`,
		"\u2066x\u2069\u200f":       `\u2066x\u2069\u200f`,
		"one\u2028two\u2029":        `one\u2028two\u2029`,
		"bad\xff\xfe":               `bad\xff\xfe`,
		`already \x1b escaped`:      `already \x1b escaped`,
		"\xc2\x9b (raw C1 in utf8)": `\u009b (raw C1 in utf8)`,
	} {
		got := Printable(in)
		if got != want {
			t.Errorf("Printable(%q) = %q, want %q", in, got, want)
		}
		if again := Printable(got); again != got {
			t.Errorf("not idempotent: %q -> %q", got, again)
		}
	}
}

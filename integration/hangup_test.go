package integration

import (
	"fmt"
	"net"
	"net/textproto"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"github.com/ftpd/ftpd/ftpclient"
)

// hangupClient is a bare control connection, so that a test can end it
// with a reset or a FIN at the moment it chooses.
type hangupClient struct {
	ctrl *net.TCPConn
	tp   *textproto.Conn
	data *net.TCPConn
}

// startHangupStor logs in as alice from client1 and starts "STOR name"
// (after "ALLO allo" when allo > 0) over a passive data connection, on
// which it sends body.
func startHangupStor(t *testing.T, a *instance, name string, allo int, body []byte) *hangupClient {
	t.Helper()
	ctrl := rawDial(t, client1, a.addr).(*net.TCPConn)
	h := &hangupClient{ctrl: ctrl, tp: textproto.NewConn(ctrl)}
	_ = ctrl.SetDeadline(time.Now().Add(30 * time.Second))
	h.expect(t, 220, "")
	h.expect(t, 331, "USER alice")
	h.expect(t, 230, "PASS "+testPass)
	if allo > 0 {
		h.expect(t, 200, fmt.Sprintf("ALLO %d", allo))
	}
	msg := h.expect(t, 227, "PASV")
	addr, err := ftpclient.ParsePASV("227 " + msg)
	if err != nil {
		t.Fatal(err)
	}
	h.data = rawDial(t, client1, addr.String()).(*net.TCPConn)
	h.expect(t, 150, "STOR "+name)
	if _, err := h.data.Write(body); err != nil {
		t.Fatal(err)
	}
	return h
}

// expect sends cmd (unless empty) and reads a reply, which must have code.
func (h *hangupClient) expect(t *testing.T, code int, cmd string) string {
	t.Helper()
	if cmd != "" {
		if err := h.tp.PrintfLine("%s", cmd); err != nil {
			t.Fatal(err)
		}
	}
	_, msg, err := h.tp.ReadResponse(code)
	if err != nil {
		t.Fatalf("%q: %v", cmd, err)
	}
	return msg
}

// reset closes c with a TCP reset (SO_LINGER 0), as a crashed host's
// kernel or a middlebox would.
func reset(c *net.TCPConn) {
	_ = c.SetLinger(0)
	_ = c.Close()
}

// noPartial fails if dir holds a partial upload file or if path does not
// hold want.
func noPartial(t *testing.T, path string, want []byte, why string) {
	t.Helper()
	if l := leftovers(t, filepath.Dir(path), filepath.Base(path)); len(l) != 0 {
		t.Fatalf("%s: left on disk: %v", why, l)
	}
	if fileSHA(t, path) != sha(want) {
		t.Fatalf("%s: %s changed", why, path)
	}
}

// TestStorHangupLeavesNoPartial: a client that hangs up during a STOR, in
// any order of its two connections, with or without QUIT, leaves neither a
// partial file nor a changed target, also when its session was the user's
// only one (the session's end used to close the user's root before the
// transfer could remove its partial file). The checks run once the server
// has logged both the session's end and the transfer's failure: the log,
// not a sleep, says the server is done.
func TestStorHangupLeavesNoPartial(t *testing.T) {
	orders := []struct {
		name string
		hang func(t *testing.T, a *instance, h *hangupClient)
	}{
		{"control closed, then data reset", func(t *testing.T, a *instance, h *hangupClient) {
			h.ctrl.Close()
			// The session ends while the transfer still runs.
			eventually(t, 20*time.Second, "session end logged", func() bool {
				return strings.Count(a.logs.String(), `"msg":"disconnected"`) >= 1
			})
			reset(h.data)
		}},
		{"data reset, then control closed", func(t *testing.T, a *instance, h *hangupClient) {
			reset(h.data)
			h.ctrl.Close()
		}},
		{"QUIT, then data reset", func(t *testing.T, a *instance, h *hangupClient) {
			if err := h.tp.PrintfLine("QUIT"); err != nil {
				t.Fatal(err)
			}
			reset(h.data)
		}},
		{"both reset at once (the client was killed)", func(t *testing.T, a *instance, h *hangupClient) {
			reset(h.ctrl)
			reset(h.data)
		}},
	}
	for _, o := range orders {
		t.Run(o.name, func(t *testing.T) {
			a := startServer(t, hostA, basicConfig("", ""))
			path, old := precious(t, a)
			h := startHangupStor(t, a, "precious.bin", 0, randomBytes(t, 256<<10))
			// The server has the bytes: the partial file holds them.
			eventually(t, 10*time.Second, "the upload's bytes on disk", func() bool {
				for _, e := range leftovers(t, filepath.Dir(path), "precious.bin") {
					if st, err := os.Stat(filepath.Join(filepath.Dir(path), e)); err == nil && st.Size() == 256<<10 {
						return true
					}
				}
				return false
			})
			o.hang(t, a, h)
			waitSessionEnds(t, a, 1)
			noPartial(t, path, old, o.name)
		})
	}
}

// waitSessionEnds waits until the server has logged n session ends and n
// failed transfers of precious.bin.
func waitSessionEnds(t *testing.T, a *instance, n int) {
	t.Helper()
	eventually(t, 20*time.Second, fmt.Sprintf("%d sessions and transfers ended", n), func() bool {
		log := a.logs.String()
		return strings.Count(log, `"msg":"disconnected"`) >= n &&
			strings.Count(log, `"msg":"transfer failed"`) >= n
	})
}

// TestStorCompleteThenHangup: a client sends a whole file, ends the data
// connection cleanly (FIN) and hangs up the control connection without
// waiting for the 226. The upload is complete, so it is kept. A client
// that announced a size with ALLO and ends the data connection cleanly
// short of it, then hangs up, did not complete: the old file stays and no
// partial file is left.
func TestStorCompleteThenHangup(t *testing.T) {
	t.Run("complete", func(t *testing.T) {
		a := startServer(t, hostA, basicConfig("", ""))
		path, _ := precious(t, a)
		body := randomBytes(t, 64<<20)
		h := startHangupStor(t, a, "precious.bin", 0, body)
		// The data connection completes cleanly: FIN after every byte, and
		// the server's kernel has acked all of it (so the server has the
		// whole stream and the FIN), before the control connection goes
		// without waiting for the 226. Without the wait, bytes and FIN
		// could still sit in our send queue when the control connection
		// closes (a loaded server reads slowly): that upload has not
		// completed yet, and cutting it is right.
		if err := h.data.CloseWrite(); err != nil {
			t.Fatal(err)
		}
		waitAllAcked(t, h.data)
		h.ctrl.Close() // no wait for the 226
		eventually(t, 20*time.Second, "session end and transfer logged", func() bool {
			log := a.logs.String()
			return strings.Contains(log, `"msg":"disconnected"`) &&
				(strings.Contains(log, `"msg":"transfer"`) || strings.Contains(log, `"msg":"transfer failed"`))
		})
		noPartial(t, path, body, "a complete upload whose client hung up before the 226")
	})
	t.Run("short of ALLO", func(t *testing.T) {
		a := startServer(t, hostA, basicConfig("", ""))
		path, old := precious(t, a)
		h := startHangupStor(t, a, "precious.bin", 8<<20, randomBytes(t, 4<<20))
		h.data.Close()
		h.ctrl.Close()
		waitSessionEnds(t, a, 1)
		noPartial(t, path, old, "an upload short of its ALLO size whose client hung up")
	})
}

// waitAllAcked waits until the peer's kernel has acknowledged everything
// written on c, its FIN included (the send queue, SIOCOUTQ, is empty).
func waitAllAcked(t *testing.T, c *net.TCPConn) {
	t.Helper()
	rc, err := c.SyscallConn()
	if err != nil {
		t.Fatal(err)
	}
	eventually(t, 30*time.Second, "the server acked every byte and the FIN", func() bool {
		outq := -1
		_ = rc.Control(func(fd uintptr) { outq, _ = unix.IoctlGetInt(int(fd), unix.SIOCOUTQ) })
		return outq == 0
	})
}

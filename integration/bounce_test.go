package integration

import (
	"fmt"
	"net"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/ftpd/ftpd/ftpclient"
)

// bounceHost stands in for a third host: nothing on it may ever receive a
// data connection from a server with FXP off.
const bounceHost = "127.0.0.99"

// bounceTrap listens on bounceHost at the given ports and records every
// connection that reaches it.
type bounceTrap struct {
	mu  sync.Mutex
	got []string
	lns []net.Listener
}

func newBounceTrap(t *testing.T, ports ...int) *bounceTrap {
	t.Helper()
	trap := &bounceTrap{}
	for _, p := range ports {
		if p < 1024 && os.Geteuid() != 0 {
			t.Logf("not root: port %d of the trap is not bound", p)
			continue
		}
		ln, err := net.Listen("tcp", fmt.Sprintf("%s:%d", bounceHost, p))
		if err != nil {
			t.Fatalf("trap on port %d: %v", p, err)
		}
		trap.lns = append(trap.lns, ln)
		go func(ln net.Listener) {
			for {
				c, err := ln.Accept()
				if err != nil {
					return
				}
				trap.mu.Lock()
				trap.got = append(trap.got, c.LocalAddr().String()+" from "+c.RemoteAddr().String())
				trap.mu.Unlock()
				c.Close()
			}
		}(ln)
	}
	t.Cleanup(func() {
		for _, ln := range trap.lns {
			ln.Close()
		}
	})
	return trap
}

func (tr *bounceTrap) hits() []string {
	tr.mu.Lock()
	defer tr.mu.Unlock()
	return append([]string(nil), tr.got...)
}

// finalReply reads replies until a final (non-1xx) one.
func finalReply(c *ftpclient.Conn) (int, string, error) {
	for {
		code, msg, err := c.ReadReply()
		if err != nil || code >= 200 {
			return code, msg, err
		}
	}
}

// bounceVariants are PORT/EPRT arguments that name a third host's port in
// forms a loose parser accepts; with FXP off none may lead to a connection.
var bounceVariants = []string{
	"EPRT |1|127.0.0.99|+25|",
	"EPRT |1|127.0.0.99|25|",
	"EPRT x|1|127.0.0.99|5000|",
	"EPRT |1|127.0.0.99|5000|x",
	"EPRT |2|127.0.0.99|5000|",
	"EPRT |1|::ffff:127.0.0.99|5000|",
	"EPRT |2|::ffff:127.0.0.99|5000|",
	"EPRT |1|127.0.0.99|+999|",
	"EPRT |1|127.0.0.99|05000|",
	"EPRT |1|127.0.0.99|5000.0|",
	"EPRT |1|127.0.0.99| 5000|",
	"EPRT |1| 127.0.0.99|5000|",
	"EPRT |1|127.000.0.99|5000|",
	"EPRT |1|127.0.0.99|5000||",
	"EPRT ||1|127.0.0.99|5000|",
	"EPRT |01|127.0.0.99|5000|",
	"EPRT |1|127.0.0.99|70536|",
	"EPRT  |1|127.0.0.99|5000|",
	"PORT 127,0,0,99,0,999",
	"PORT 127,0,0,99,18,392",
	"PORT 127,0,0,99,0,25",
	"PORT 127,0,0,99,+19,136",
	"PORT 127,0,0,99,19,+136",
	"PORT 127,0,0,99, 19,136",
	"PORT 127,0,0,99,19 ,136",
	"PORT 127,0,0,99,019,136",
	"PORT 127,0,0,99,19,136,",
	"PORT 127,0,0,99,19,136",
	"PORT 127,0,0,099,19,136",
	"PORT 127,0,0,355,19,136",
	"PORT 127.0.0.99,19,136",
	"PORT 127,0,0,99,0x13,136",
	"LPRT 4,4,127,0,0,99,2,19,136",
	"LPRT 4,4,127,0,0,99,2,0,25",
	"EPRT |1|127.0.0.99|5000|",
}

// TestBounceWithFXPOff tries every variant as anonymous and as a normal
// user against a server with FXP off: each is refused (4xx/5xx), the
// listing, RETR and STOR after it never reach the third host, and the
// server keeps serving.
func TestBounceWithFXPOff(t *testing.T) {
	trap := newBounceTrap(t, 25, 999, 5000)
	a := startServer(t, hostA, basicConfig("", ""))
	for _, name := range []string{"upload name HELO attacker.example", "MAIL FROM:<x@y>"} {
		writeFile(t, filepath.Join(a.root("alice"), name), []byte("x"))
		writeFile(t, filepath.Join(a.root("anonymous"), name), []byte("x"))
	}
	for _, login := range [][2]string{{"anonymous", "guest@"}, {"alice", testPass}} {
		t.Run(login[0], func(t *testing.T) {
			c := a.dial(client1, login[0], login[1])
			for _, v := range bounceVariants {
				code, msg, err := c.Cmd("%s", v)
				if err != nil {
					t.Fatalf("%s: %v", v, err)
				}
				if code < 400 {
					t.Errorf("%s: accepted with %d %s", v, code, msg)
				}
				for _, follow := range []string{"NLST", "LIST", "RETR upload name HELO attacker.example", "STOR bounced.txt"} {
					if err := c.Send("%s", follow); err != nil {
						t.Fatal(err)
					}
					code, msg, err := finalReply(c)
					if err != nil {
						t.Fatalf("%s then %s: %v", v, follow, err)
					}
					if code < 400 {
						t.Errorf("%s then %s: %d %s", v, follow, code, msg)
					}
				}
			}
			// Still serving: the client's own passive listing works.
			if list, err := c.List("NLST", ""); err != nil || len(list) != 2 {
				t.Fatalf("own listing afterwards: %q %v", list, err)
			}
		})
	}
	time.Sleep(200 * time.Millisecond) // let a late connection arrive
	if h := trap.hits(); len(h) > 0 {
		t.Fatalf("the third host received %d data connections: %v", len(h), h)
	}
}

// TestBounceStateConfusion: a refused or failed PORT/EPRT/PASV clears the
// data target, so the next transfer command has nowhere to go and never
// reaches an earlier (or the refused) address.
func TestBounceStateConfusion(t *testing.T) {
	trap := newBounceTrap(t, 5000)
	a := startServer(t, hostA, basicConfig("", "[fxp]\nenabled = true\npeers = [\"127.0.0.99/32\"]\n"))
	writeFile(t, filepath.Join(a.root("alice"), "secret.txt"), []byte("secret"))
	c := a.dial(client1, "alice", testPass)
	sequences := [][]string{
		// An allowed foreign PORT, then a PORT ftpd cannot parse naming
		// the client's own address: the first must not stay armed.
		{"PORT 127,0,0,99,19,136", "PORT 127,0,0,10, 19,136"},
		{"EPRT |1|127.0.0.99|5000|", "EPRT |1|127.0.0.10|+5000|"},
		// An allowed PORT, then one refused by policy.
		{"PORT 127,0,0,99,19,136", "PORT 127,0,0,10,0,25"},
		// An allowed PORT, then a refused LPRT.
		{"PORT 127,0,0,99,19,136", "LPRT 4,4,127,0,0,10,2,19,136"},
	}
	for _, seq := range sequences {
		for _, cmd := range seq {
			if _, _, err := c.Cmd("%s", cmd); err != nil {
				t.Fatal(err)
			}
		}
		for _, follow := range []string{"LIST", "RETR secret.txt"} {
			if err := c.Send("%s", follow); err != nil {
				t.Fatal(err)
			}
			code, msg, err := finalReply(c)
			if err != nil {
				t.Fatal(err)
			}
			if code < 400 {
				t.Errorf("%v then %s: %d %s", seq, follow, code, msg)
			}
		}
	}
	time.Sleep(200 * time.Millisecond)
	if h := trap.hits(); len(h) > 0 {
		t.Fatalf("a data connection reached %v after a refused command", h)
	}
	if list, err := c.List("NLST", ""); err != nil || len(list) != 1 || !strings.Contains(list[0], "secret") {
		t.Fatalf("own listing afterwards: %q %v", list, err)
	}
}

// TestNoDialBeforeVerdict: a RETR/LIST/STOR after a PORT the user may not
// use for that direction is refused without connecting anywhere.
func TestNoDialBeforeVerdict(t *testing.T) {
	trap := newBounceTrap(t, 5000)
	// alice may only receive by FXP: a RETR to a foreign PORT target is
	// refused before any connection, and so is a listing.
	a := startServer(t, hostA, strings.Replace(basicConfig("", "[fxp]\nenabled = true\npeers = [\"127.0.0.99/32\"]\n"),
		`root = "{{DIR}}/alice"`, `root = "{{DIR}}/alice"`+"\nfxp = \"receive\"", 1))
	writeFile(t, filepath.Join(a.root("alice"), "secret.txt"), []byte("secret"))
	c := a.dial(client1, "alice", testPass)
	for _, follow := range []string{"RETR secret.txt", "LIST", "NLST", "MLSD"} {
		if _, err := c.Expect(200, "PORT 127,0,0,99,19,136"); err != nil {
			t.Fatal(err)
		}
		if err := c.Send("%s", follow); err != nil {
			t.Fatal(err)
		}
		code, msg, err := finalReply(c)
		if err != nil {
			t.Fatal(err)
		}
		if code != 425 {
			t.Errorf("%s: %d %s, want 425", follow, code, msg)
		}
	}
	time.Sleep(200 * time.Millisecond)
	if h := trap.hits(); len(h) > 0 {
		t.Fatalf("connected before the verdict: %v", h)
	}
	a.logs.waitFor(t, `"msg":"data connection refused"`, `"reason":"direction"`, `"command":"RETR"`)
}

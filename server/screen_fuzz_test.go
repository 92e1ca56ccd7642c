package server

import (
	"io"
	"log/slog"
	"net"
	"net/netip"
	"strings"
	"testing"

	"github.com/ftpd/ftpd/conf"
	"github.com/ftpd/ftpd/server/controlconn"
	"github.com/ftpd/ftpd/server/dataplane"
)

// tcpLike is a connection with TCP addresses and nothing behind it: the
// screen only asks it for its local address.
type tcpLike struct {
	net.Conn
	local, remote *net.TCPAddr
}

func (c tcpLike) LocalAddr() net.Addr  { return c.local }
func (c tcpLike) RemoteAddr() net.Addr { return c.remote }

// screenSession is a logged-in session of alice from 127.0.0.10 on a
// server with FXP on for peer 127.0.0.3, without the FTP library.
func screenSession(t testing.TB) *session {
	t.Helper()
	cfg, err := conf.Parse("fuzz.toml", []byte(`
[server]
listen = "127.0.0.2:0"
[fxp]
enabled = true
peers = ["127.0.0.3/32"]
[[users]]
name = "alice"
password = "x"
backend = "memory"
root = "/alice"
`))
	if err != nil {
		t.Fatal(err)
	}
	s, err := New(cfg, Options{Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
	if err != nil {
		t.Fatal(err)
	}
	a, b := net.Pipe()
	t.Cleanup(func() { a.Close(); b.Close() })
	cc, err := controlconn.New(tcpLike{a, &net.TCPAddr{IP: net.IPv4(127, 0, 0, 2), Port: 21}, &net.TCPAddr{IP: net.IPv4(127, 0, 0, 10), Port: 40000}}, nil, false, 0)
	if err != nil {
		t.Fatal(err)
	}
	sess := &session{srv: s, conn: cc, clientIP: netip.MustParseAddr("127.0.0.10"), log: s.log, answerToken: "FTPD-TOKEN"}
	sess.data = s.plane.NewChannel(dataOwner{sess})
	name := "alice"
	sess.user.Store(&name)
	return sess
}

// FuzzScreenDataAddress is the differential check between ftpd and the
// FTP library: for any PORT/EPRT/LPRT line, the library either gets
// nothing to parse ("EPSV", when ftpd accepted the address with its strict
// parser, and then exactly the address ftpd decided on is the data target)
// or ftpd answered the line itself with 501/502. No PORT/EPRT/LPRT line,
// however written, reaches the library's looser parser.
func FuzzScreenDataAddress(f *testing.F) {
	for _, s := range []string{
		"PORT 127,0,0,10,156,64", "EPRT |1|127.0.0.10|40000|", "EPRT |1|127.0.0.99|+25|",
		"EPRT x|1|127.0.0.99|5000|", "EPRT |2|127.0.0.99|5000|", "EPRT |1|::ffff:127.0.0.99|5000|",
		"PORT 127,0,0,99,18,392", "PORT 127,0,0,10, 19,136", "port 127,0,0,3,19,136", "LPRT 4,4,127,0,0,1,2,19,136",
		"EPRT |2|::ffff:127.0.0.3|5000|", "PORT 127,0,0,10,0,25",
	} {
		f.Add(s)
	}
	sess := screenSession(f)
	f.Fuzz(func(t *testing.T, line string) {
		if strings.ContainsAny(line, "\r\n") {
			return // one command line; the control connection splits lines
		}
		verb, arg, _ := strings.Cut(line, " ")
		verb = strings.ToUpper(verb)
		if verb != "PORT" && verb != "EPRT" && verb != "LPRT" {
			return
		}
		sess.mu.Lock()
		sess.answers = nil
		sess.mu.Unlock()
		out := sess.Screen(line)
		outVerb, _, _ := strings.Cut(strings.ToUpper(out), " ")
		switch outVerb {
		case "EPSV":
			want, err := dataplane.Parse(verb, arg)
			if err != nil {
				t.Fatalf("%q reached the library although ftpd cannot parse it: %v", line, err)
			}
			if v := sess.judge(dataplane.Request{Command: verb, Peer: want, Active: true}); !v.Allowed() {
				t.Fatalf("%q reached the library although refused: %s", line, v.Message)
			}
			if got := sess.data.PendingTarget(); got != want {
				t.Fatalf("%q: data target %v, want %v", line, got, want)
			}
		case "SITE":
			sess.mu.Lock()
			answers := sess.answers
			sess.mu.Unlock()
			if len(answers) != 1 || (answers[0].code != 501 && answers[0].code != 502) {
				t.Fatalf("%q answered %+v, want one 501/502", line, answers)
			}
			if got := sess.data.PendingTarget(); got.IsValid() {
				t.Fatalf("%q refused but a data target %v is armed", line, got)
			}
		default:
			t.Fatalf("%q reached the library as %q", line, out)
		}
		sess.data.Clear()
		sess.data.Reply("421 drop the pending setup")
	})
}

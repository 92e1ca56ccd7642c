package integration

import (
	"context"
	"fmt"
	"io"
	"net"
	"net/netip"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/ftpd/ftpd/ftpclient"
)

// Resources a client holds must end: silent data connections, passive
// ports, REST offsets (issue 22, "ftpd under exhaustion").

// finalWithin reads replies until a final (non-1xx) one, for at most d.
func finalWithin(c *ftpclient.Conn, d time.Duration) (int, string, error) {
	ctx, cancel := context.WithTimeout(context.Background(), d)
	defer cancel()
	for {
		code, msg, err := c.WaitReply(ctx)
		if err != nil || code >= 200 {
			return code, msg, err
		}
	}
}

// sendOnPassive sends PASV, then cmd without waiting for its reply, and
// returns the passive address to connect to.
func sendOnPassive(t *testing.T, c *ftpclient.Conn, cmd string) string {
	t.Helper()
	addr, err := c.Pasv()
	if err != nil {
		t.Fatal(err)
	}
	if err := c.Send("%s", cmd); err != nil {
		t.Fatal(err)
	}
	return addr.String()
}

// dialSmallWindow connects to addr from clientIP with a small receive
// buffer, so that a sender fills it quickly when nobody reads.
func dialSmallWindow(t *testing.T, clientIP, addr string) net.Conn {
	t.Helper()
	d := net.Dialer{
		LocalAddr: &net.TCPAddr{IP: net.ParseIP(clientIP)},
		Timeout:   5 * time.Second,
		Control: func(_, _ string, rc syscall.RawConn) error {
			return rc.Control(func(fd uintptr) {
				_ = syscall.SetsockoptInt(int(fd), syscall.SOL_SOCKET, syscall.SO_RCVBUF, 4096)
			})
		},
	}
	conn, err := d.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.Close() })
	return conn
}

// TestSilentDataConnectionEnds: a data connection that moves no byte for
// data_timeout is closed and its transfer fails with 426, whether the
// client sends nothing (STOR) or reads nothing (RETR: the server's writes
// block); the session then ends at idle_timeout, and its connection slot
// is free again. Without data_timeout a client holds max_connections
// forever with sessions whose data connection is silent.
func TestSilentDataConnectionEnds(t *testing.T) {
	for _, cmd := range []string{"STOR", "RETR"} {
		t.Run(cmd, func(t *testing.T) {
			t.Parallel()
			a := startServer(t, hostA, basicConfig(`data_timeout = "300ms"
idle_timeout = "1s"`, `[limits]
max_connections = 2
max_connections_per_ip = 2`))
			if err := os.MkdirAll(a.root("alice"), 0o755); err != nil {
				t.Fatal(err)
			}
			// A sparse 1 GiB file: far more than any socket buffer.
			f, err := os.Create(filepath.Join(a.root("alice"), "big.bin"))
			if err != nil {
				t.Fatal(err)
			}
			if err := f.Truncate(1 << 30); err != nil {
				t.Fatal(err)
			}
			f.Close()
			arg := map[string]string{"STOR": "STOR up.bin", "RETR": "RETR big.bin"}[cmd]

			var holders []*ftpclient.Conn
			for i := 0; i < 2; i++ {
				c := a.dial(client1, "alice", testPass)
				dialSmallWindow(t, client1, sendOnPassive(t, c, arg)) // and never a byte, never a read
				holders = append(holders, c)
			}
			for i, c := range holders {
				// data_timeout is 300 ms; 20 s is a margin no loaded
				// machine reaches, and still far below "forever".
				code, msg, err := finalWithin(c, 20*time.Second)
				if err != nil {
					t.Fatalf("session %d, %s on a silent data connection: no final reply within 20 s (%v)", i, arg, err)
				}
				if code != 426 {
					t.Fatalf("session %d, %s on a silent data connection: %d %s, want 426", i, arg, code, msg)
				}
				t.Logf("%s: %d %s", arg, code, msg)
			}
			// The holders stay silent: idle_timeout (1 s) ends them, and
			// their two slots of max_connections = 2 are free again.
			deadline := time.Now().Add(20 * time.Second)
			for {
				c, err := ftpclient.Dial(context.Background(), a.addr, ftpclient.Options{
					LocalAddr: netip.MustParseAddr(client2), Timeout: 5 * time.Second,
				})
				if err == nil {
					err = c.Login("alice", testPass)
					c.Close()
				}
				if err == nil {
					break
				}
				if time.Now().After(deadline) {
					t.Fatalf("a new client 20 s after the silent transfers failed: %v", err)
				}
				time.Sleep(100 * time.Millisecond)
			}
			if _, err := os.Stat(filepath.Join(a.root("alice"), "up.bin")); !os.IsNotExist(err) {
				t.Errorf("the silent upload left a file: %v", err)
			}
			a.logs.waitFor(t, "data connection idle")
		})
	}
}

// TestSilentDataConnectionMovingIsKept: a transfer whose bytes keep moving
// is not cut by data_timeout, however long it lasts in total: a download
// read a little at a time over more than twice data_timeout.
func TestSilentDataConnectionMovingIsKept(t *testing.T) {
	// data_timeout 1 s, a read every 100 ms: a 10x margin for a loaded
	// machine. The server's send buffer is small (data_socket_buffer), so
	// the transfer cannot end before the client has read most of it.
	a := startServer(t, hostA, basicConfig(`data_timeout = "1s"
data_socket_buffer = "32KiB"`, ""))
	data := randomBytes(t, 1536<<10)
	writeFile(t, filepath.Join(a.root("alice"), "f.bin"), data)
	c := a.dial(client1, "alice", testPass)
	conn := dialSmallWindow(t, client1, sendOnPassive(t, c, "RETR f.bin"))
	start := time.Now()
	var got []byte
	buf := make([]byte, 64<<10)
	for len(got) < len(data) {
		_ = conn.SetReadDeadline(time.Now().Add(20 * time.Second))
		n, err := io.ReadFull(conn, buf[:min(len(buf), len(data)-len(got))])
		got = append(got, buf[:n]...)
		if err != nil {
			break
		}
		time.Sleep(100 * time.Millisecond)
	}
	code, msg, err := finalWithin(c, 20*time.Second)
	if err != nil || code != 226 || sha(got) != sha(data) {
		t.Fatalf("a slow but moving download: %d %s %v, %d of %d bytes", code, msg, err, len(got), len(data))
	}
	t.Logf("download of %d bytes took %v with data_timeout 1s", len(data), time.Since(start).Round(time.Millisecond))
}

// passiveRange returns n consecutive ports that were free a moment ago.
func passiveRange(t *testing.T, n int) int {
	for {
		p := freeDataPort(t)
		if p+n-1 <= 65535 && p >= 1024 {
			return p
		}
	}
}

// TestPassivePortsPerIP: one client address holds at most
// max_passive_per_ip ports of passive_ports, through PASV, EPSV or PORT;
// past that it gets 425 with a clear text, and another client still gets
// a port. A session's own new PASV is not held against it.
func TestPassivePortsPerIP(t *testing.T) {
	port := passiveRange(t, 8)
	a := startServer(t, hostA, basicConfig(fmt.Sprintf(`passive_ports = "%d-%d"`, port, port+7), `[limits]
max_passive_per_ip = 3`))
	var held []*ftpclient.Conn
	for i, cmd := range []string{"PASV", "EPSV", "PORT 127,0,0,10,200,10"} {
		c := a.dial(client1, "alice", testPass)
		code, msg, err := cmdWithin(t, c, 10*time.Second, cmd)
		if err != nil || code >= 300 {
			t.Fatalf("session %d, %s: %d %s %v", i, cmd, code, msg, err)
		}
		held = append(held, c)
	}
	// The same session asking again replaces its own port.
	if _, err := held[0].Pasv(); err != nil {
		t.Fatalf("a second PASV of a session that holds one port: %v", err)
	}
	for _, cmd := range []string{"PASV", "EPSV", "PORT 127,0,0,10,200,11", "EPRT |1|127.0.0.10|51211|"} {
		c := a.dial(client1, "alice", testPass)
		code, msg, err := cmdWithin(t, c, 10*time.Second, cmd)
		if err != nil {
			t.Fatal(err)
		}
		if code != 425 || !strings.Contains(msg, "max_passive_per_ip") {
			t.Errorf("%s from an address that holds 3 ports (max_passive_per_ip = 3): %d %s, want 425 naming the limit", cmd, code, msg)
		}
		if _, err := c.Expect(257, "PWD"); err != nil {
			t.Fatalf("the session after the refusal: %v", err)
		}
	}
	other := a.dial(client2, "bob", testPass)
	if _, err := other.Pasv(); err != nil {
		t.Fatalf("another client while the first holds its share: %v", err)
	}
	if _, err := other.Epsv(); err != nil {
		t.Fatalf("another client while the first holds its share (EPSV): %v", err)
	}
	a.logs.waitFor(t, "max_passive_per_ip", client1)
	// A port given back (QUIT) is free for the first address again.
	_ = held[1].Quit()
	deadline := time.Now().Add(10 * time.Second)
	for {
		c := a.dial(client1, "alice", testPass)
		code, msg, err := cmdWithin(t, c, 10*time.Second, "PASV")
		if err == nil && code == 227 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("PASV after one of the 3 sessions quit: %d %s %v", code, msg, err)
		}
		c.Close()
		time.Sleep(50 * time.Millisecond)
	}
}

// TestPassiveListenerExpires: a passive port announced and never
// connected to is closed after passive_listener_timeout: the port is free
// again (for the same address, under max_passive_per_ip = 1), and the
// session's transfer gets 425 saying why.
func TestPassiveListenerExpires(t *testing.T) {
	port := passiveRange(t, 4)
	a := startServer(t, hostA, basicConfig(fmt.Sprintf(`passive_ports = "%d-%d"
passive_listener_timeout = "2s"`, port, port+3), `[limits]
max_passive_per_ip = 1`))
	c := a.dial(client1, "alice", testPass)
	addr, err := c.Pasv()
	if err != nil {
		t.Fatal(err)
	}
	// The port closes: 20 s is a margin no loaded machine reaches for a
	// 2 s timer. (2 s, not less: the third session below must connect
	// within it after its PASV; that takes milliseconds when idle, and 2 s
	// is far past what a loaded machine adds.)
	deadline := time.Now().Add(20 * time.Second)
	for {
		conn, err := net.DialTimeout("tcp", addr.String(), time.Second)
		if err != nil {
			break
		}
		conn.Close()
		if time.Now().After(deadline) {
			t.Fatalf("passive port %s still open 20 s after PASV (passive_listener_timeout = 2s)", addr)
		}
		time.Sleep(50 * time.Millisecond)
	}
	code, msg, err := cmdWithin(t, c, 10*time.Second, "LIST")
	if err != nil || code != 425 || !strings.Contains(msg, "expired") {
		t.Errorf("LIST after the passive port expired: %d %s %v, want 425 saying it expired", code, msg, err)
	}
	second := a.dial(client1, "alice", testPass)
	if _, err := second.Pasv(); err != nil {
		t.Fatalf("PASV from the same address after the first port expired (max_passive_per_ip = 1): %v", err)
	}
	// A port in use (a transfer running) does not expire.
	writeFile(t, filepath.Join(a.root("alice"), "f.bin"), randomBytes(t, 64<<10))
	third := a.dial(client2, "alice", testPass)
	addr, err = third.Pasv()
	if err != nil {
		t.Fatal(err)
	}
	var got strings.Builder
	if err := third.Send("RETR f.bin"); err != nil {
		t.Fatal(err)
	}
	conn := rawDial(t, client2, addr.String())
	time.Sleep(2500 * time.Millisecond) // past the listener timeout, transfer accepted
	buf := make([]byte, 64<<10)
	for {
		n, err := conn.Read(buf)
		got.Write(buf[:n])
		if err != nil {
			break
		}
	}
	if code, msg, err := finalWithin(third, 10*time.Second); err != nil || code != 226 || got.Len() != 64<<10 {
		t.Fatalf("transfer on a port accepted before its timeout: %d %s %v, %d bytes", code, msg, err, got.Len())
	}
}

// TestRESTChecked: REST takes a non-negative decimal offset (else 501),
// and an offset beyond the file is refused for RETR and for STOR, so that
// no upload makes a sparse file of any size it names.
func TestRESTChecked(t *testing.T) {
	a := startServer(t, hostA, basicConfig("", ""))
	root := a.root("alice")
	writeFile(t, filepath.Join(root, "small"), []byte("0123456789"))
	c := a.dial(client1, "alice", testPass)
	for _, arg := range []string{"-5", "abc", "99999999999999999999", "+5", "", "5 6", "0x10"} {
		code, msg, err := c.Cmd("REST %s", arg)
		if err != nil {
			t.Fatal(err)
		}
		if code != 501 {
			t.Errorf("REST %q: %d %s, want 501", arg, code, msg)
		}
	}
	// A refused REST leaves no offset behind: RETR sends the whole file.
	var whole strings.Builder
	if _, err := c.Retr("small", &whole); err != nil || whole.String() != "0123456789" {
		t.Fatalf("RETR after refused RESTs: %q %v", whole.String(), err)
	}

	// RETR beyond the end.
	if _, err := c.Expect(350, "REST 11"); err != nil {
		t.Fatal(err)
	}
	if _, err := c.Pasv(); err != nil {
		t.Fatal(err)
	}
	if err := c.Send("RETR small"); err != nil {
		t.Fatal(err)
	}
	code, msg, err := finalWithin(c, 10*time.Second)
	if err != nil || code != 554 || !strings.Contains(msg, "beyond") {
		t.Errorf("REST 11 + RETR of a 10-byte file: %d %s %v, want 554 saying the offset is beyond the end", code, msg, err)
	}
	// At the end exactly: an empty transfer.
	if _, err := c.Expect(350, "REST 10"); err != nil {
		t.Fatal(err)
	}
	var rest strings.Builder
	if _, err := c.Retr("small", &rest); err != nil || rest.Len() != 0 {
		t.Errorf("REST 10 + RETR of a 10-byte file: %q %v, want an empty transfer", rest.String(), err)
	}

	// STOR at 1 TiB of a new file, and of an existing 10-byte one.
	for _, name := range []string{"sparse", "small"} {
		before, _ := os.ReadFile(filepath.Join(root, name))
		if _, err := c.Expect(350, "REST 1099511627776"); err != nil {
			t.Fatal(err)
		}
		_, err := c.Stor(name, strings.NewReader("x"))
		if err == nil || !strings.Contains(err.Error(), "554") {
			t.Errorf("REST 1099511627776 + STOR %s of 1 byte: %v, want 554", name, err)
		}
		var st syscall.Stat_t
		err = syscall.Stat(filepath.Join(root, name), &st)
		switch {
		case name == "sparse" && err == nil:
			t.Errorf("refused STOR left %s: st_size %d, st_blocks %d", name, st.Size, st.Blocks)
		case name == "small":
			after, _ := os.ReadFile(filepath.Join(root, name))
			if st.Size != 10 || string(after) != string(before) {
				t.Errorf("refused STOR changed %s: st_size %d, st_blocks %d, %q", name, st.Size, st.Blocks, after)
			}
		}
	}
	// Resuming within the file still works.
	if _, err := c.Expect(350, "REST 4"); err != nil {
		t.Fatal(err)
	}
	if _, err := c.Stor("small", strings.NewReader("ab")); err != nil {
		t.Fatalf("REST 4 + STOR: %v", err)
	}
	if got, _ := os.ReadFile(filepath.Join(root, "small")); string(got) != "0123ab" {
		t.Errorf("REST 4 + STOR ab: %q, want 0123ab", got)
	}
}

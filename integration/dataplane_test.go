package integration

import (
	"bytes"
	"context"
	"errors"
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
)

// TestActiveSourceAddress: ftpd's PORT and EPRT data connections, for a
// file and for a listing, leave from the server's own control address
// (127.0.0.2), never from the address the kernel would pick (127.0.0.1).
func TestActiveSourceAddress(t *testing.T) {
	a := startServer(t, hostA, basicConfig("", ""))
	writeFile(t, filepath.Join(a.root("alice"), "f.txt"), []byte("hello"))
	c := a.dial(client1, "alice", testPass)
	ln := listenLocal(t, client1)
	sources := make(chan netip.AddrPort, 8)
	go func() {
		for {
			conn, err := ln.Accept()
			if err != nil {
				return
			}
			sources <- netip.MustParseAddrPort(conn.RemoteAddr().String())
			go func() { _, _ = io.Copy(io.Discard, conn); conn.Close() }()
		}
	}()
	target := mustAP(ln.Addr().String())
	for _, extended := range []bool{false, true} {
		for _, cmd := range []string{"RETR f.txt", "LIST", "NLST"} {
			if err := c.Port(target, extended); err != nil {
				t.Fatal(err)
			}
			if err := c.Send("%s", cmd); err != nil {
				t.Fatal(err)
			}
			if code, msg, err := finalReply(c); err != nil || code != 226 {
				t.Fatalf("%s (extended=%v): %d %s %v", cmd, extended, code, msg, err)
			}
			select {
			case src := <-sources:
				if src.Addr() != netip.MustParseAddr(hostA) {
					t.Fatalf("%s (extended=%v): data connection from %s, want %s", cmd, extended, src.Addr(), hostA)
				}
			case <-time.After(5 * time.Second):
				t.Fatalf("%s: no data connection", cmd)
			}
		}
	}
}

// TestFXPOffDestinationOnOneMachine: C has FXP off. An FXP copy to C must
// be refused whether the FXP client connects from 127.0.0.1 (the address
// the source's data connection would come from if it did not bind its
// own) or from 127.0.0.10, with PASV on either side; C's file stays.
func TestFXPOffDestinationOnOneMachine(t *testing.T) {
	a := startServer(t, hostA, pairConfig(fxpOn, ""))
	c := startServer(t, hostB, pairConfig("", ""))
	writeFile(t, filepath.Join(a.root("alice"), "f.bin"), randomBytes(t, 512<<10))
	old := []byte("C's file, which no FXP may replace")
	keep := filepath.Join(c.root("alice"), "f.bin")
	writeFile(t, keep, old)
	for _, bind := range []string{"127.0.0.1", client1} {
		for _, passive := range []string{"src", "dst"} {
			t.Run(bind+"/passive-"+passive, func(t *testing.T) {
				_, errOut, code := fxpRun(t, nil, "copy", "--bind", bind, "--passive", passive, fxpURL(a, "f.bin"), fxpURL(c, "f.bin"))
				if code != 1 {
					t.Fatalf("exit %d, want 1\n%s", code, errOut)
				}
				if !strings.Contains(errOut, "FXP is disabled on this server") {
					t.Fatalf("stderr does not say why:\n%s", errOut)
				}
				if got, _ := os.ReadFile(keep); !bytes.Equal(got, old) {
					t.Fatalf("C's file changed (%d bytes)", len(got))
				}
			})
		}
	}
}

// TestPassivePortAnswersOnlyOnTheSessionAddress: the library binds passive
// ports on every address; a connection that reaches the session's port
// through another local address (127.0.0.5) gets nothing, and the real
// transfer still completes.
func TestPassivePortAnswersOnlyOnTheSessionAddress(t *testing.T) {
	a := startServer(t, hostA, basicConfig("", ""))
	data := randomBytes(t, 1<<20)
	writeFile(t, filepath.Join(a.root("alice"), "f.bin"), data)
	c := a.dial(client1, "alice", testPass)
	addr, err := c.Pasv()
	if err != nil {
		t.Fatal(err)
	}
	other := netip.AddrPortFrom(netip.MustParseAddr("127.0.0.5"), addr.Port())
	// The same client address, through the wrong local address: the port
	// is bound on the listen address only, so the kernel refuses it (the
	// data plane's own check of the arrival address stays for listen =
	// 0.0.0.0).
	d := net.Dialer{LocalAddr: &net.TCPAddr{IP: net.ParseIP(client1)}, Timeout: 5 * time.Second}
	if sneak, err := d.Dial("tcp", other.String()); err == nil {
		sneak.Close()
		t.Fatalf("passive port %d answered on 127.0.0.5; want it bound on %s only", addr.Port(), hostA)
	} else if !errors.Is(err, syscall.ECONNREFUSED) {
		t.Fatalf("dial via 127.0.0.5: %v, want connection refused", err)
	}
	if err := c.Send("RETR f.bin"); err != nil {
		t.Fatal(err)
	}
	real := rawDial(t, client1, addr.String())
	var buf bytes.Buffer
	if _, err := io.Copy(&buf, real); err != nil && !errors.Is(err, net.ErrClosed) {
		t.Fatal(err)
	}
	if code, msg, err := finalReply(c); err != nil || code != 226 {
		t.Fatalf("final reply %d %s %v", code, msg, err)
	}
	if sha(buf.Bytes()) != sha(data) {
		t.Fatalf("real client got %d bytes", buf.Len())
	}
}

// TestAborWhileWaitingForData: ABOR (and QUIT) while a transfer waits for a
// passive data connection that never comes are answered at once, not after
// the library's 30 s data timeout, and the session goes on working.
func TestAborWhileWaitingForData(t *testing.T) {
	a := startServer(t, hostA, basicConfig("", ""))
	writeFile(t, filepath.Join(a.root("alice"), "f.bin"), []byte("data"))
	c := a.dial(client1, "alice", testPass)
	for _, cmd := range []string{"RETR f.bin", "STOR up.bin", "LIST"} {
		if _, err := c.Pasv(); err != nil {
			t.Fatal(err)
		}
		if err := c.Send("%s", cmd); err != nil {
			t.Fatal(err)
		}
		time.Sleep(100 * time.Millisecond) // the transfer is now waiting
		start := time.Now()
		if err := c.Send("ABOR"); err != nil {
			t.Fatal(err)
		}
		code1, msg1, err := c.ReadReply()
		if err != nil {
			t.Fatal(err)
		}
		code2, msg2, err := c.ReadReply()
		if err != nil {
			t.Fatal(err)
		}
		// The alternative is the library's 30 s data timeout; 15 s keeps a
		// 2x margin from it while no loaded machine takes 15 s to answer.
		if d := time.Since(start); d > 15*time.Second {
			t.Fatalf("%s: ABOR answered after %v", cmd, d)
		}
		if code1 != 426 || code2 != 226 || !strings.Contains(msg2, "ABOR") {
			t.Fatalf("%s: ABOR replies %d %q, %d %q; want 426 then 226", cmd, code1, msg1, code2, msg2)
		}
	}
	if list, err := c.List("NLST", ""); err != nil || len(list) != 1 {
		t.Fatalf("session after ABOR: %q %v", list, err)
	}
	if _, err := os.Stat(filepath.Join(a.root("alice"), "up.bin")); err == nil {
		t.Fatal("aborted STOR left a file")
	}
	// QUIT while waiting: the goodbye comes at once.
	if _, err := c.Pasv(); err != nil {
		t.Fatal(err)
	}
	if err := c.Send("RETR f.bin"); err != nil {
		t.Fatal(err)
	}
	time.Sleep(100 * time.Millisecond)
	start := time.Now()
	if err := c.Send("QUIT"); err != nil {
		t.Fatal(err)
	}
	for {
		code, _, err := c.ReadReply()
		if err != nil {
			t.Fatalf("no 221 after QUIT: %v", err)
		}
		if code == 221 {
			break
		}
	}
	// As for ABOR: far below the library's 30 s data timeout it replaces.
	if d := time.Since(start); d > 15*time.Second {
		t.Fatalf("QUIT answered after %v", d)
	}
}

// TestIPv6FXP: FXP between two ftpd over IPv6 (EPSV on one side, EPRT on
// the other, both passive roles, both directions), peers given as IPv6
// prefixes, inside a private network namespace with fd00::2 and fd00::3.
func TestIPv6FXP(t *testing.T) {
	const v6A, v6B, v6Client = "fd00::2", "fd00::3", "fd00::10"
	if !inNetns(t, v6A, v6B, v6Client) {
		return
	}
	cfg := func(peer string) string {
		return strings.Replace(pairConfig("[fxp]\nenabled = true\npeers = [\""+peer+"/128\"]\n", ""),
			`listen = "{{HOST}}:0"`, `listen = "[{{HOST}}]:0"`, 1)
	}
	a := startServer(t, v6A, cfg(v6B))
	b := startServer(t, v6B, cfg(v6A))
	data := randomBytes(t, 8<<20)
	writeFile(t, filepath.Join(a.root("alice"), "a.bin"), data)
	writeFile(t, filepath.Join(b.root("alice"), "b.bin"), data)
	ca := a.dial(v6Client, "alice", testPass)
	cb := b.dial(v6Client, "alice", testPass)
	for _, passiveSrc := range []bool{true, false} {
		name := "pasv-on-destination"
		if passiveSrc {
			name = "pasv-on-source"
		}
		if r := fxpCopy(t, ca, cb, "a.bin", "from-a-"+name, passiveSrc, true); !r.ok() {
			t.Fatalf("A->B %s: %v", name, r)
		}
		if r := fxpCopy(t, cb, ca, "b.bin", "from-b-"+name, passiveSrc, true); !r.ok() {
			t.Fatalf("B->A %s: %v", name, r)
		}
		if fileSHA(t, filepath.Join(b.root("alice"), "from-a-"+name)) != sha(data) ||
			fileSHA(t, filepath.Join(a.root("alice"), "from-b-"+name)) != sha(data) {
			t.Fatalf("%s: copy differs", name)
		}
	}
	b.logs.waitFor(t, `"msg":"transfer"`, `"command":"STOR"`, `"foreign":true`, `"peer":"[fd00::2]:`)
	// A stranger's address is still refused over IPv6.
	if _, err := ca.Expect(501, "EPRT |2|fd00::10|5000|"); err == nil {
		t.Log("own address accepted as expected")
	}
	if msg, err := ca.Expect(501, "EPRT |2|fd00::99|5000|"); err != nil || !strings.Contains(msg, "not an allowed FXP peer") {
		t.Fatalf("EPRT to a stranger: %q %v", msg, err)
	}
}

// TestDataListenersDoNotLeak: each PORT/EPRT, PASV/EPSV, ABOR and a
// session's end close the session's previous data port at once: 1000 x
// (PASV; PORT) in one session over a 40-port range leaves the descriptors
// where they were, and another session still gets a passive port.
func TestDataListenersDoNotLeak(t *testing.T) {
	a := startServer(t, hostA, basicConfig(`passive_ports = "41000-41039"`, ""))
	c := a.dial(client1, "alice", testPass)
	other := a.dial(client2, "alice", testPass)
	if _, err := other.Pasv(); err != nil {
		t.Fatal(err)
	}
	time.Sleep(50 * time.Millisecond)
	base := openFDs(t)
	for i := 0; i < 1000; i++ {
		if _, err := c.Pasv(); err != nil {
			t.Fatalf("PASV #%d: %v", i, err)
		}
		if err := c.Port(mustAP(client1+":5000"), i%2 == 1); err != nil {
			t.Fatalf("PORT #%d: %v", i, err)
		}
	}
	if _, err := c.Expect(226, "ABOR"); err != nil {
		t.Fatal(err)
	}
	if n := openFDs(t); n > base+2 {
		t.Fatalf("descriptors %d after 1000 x (PASV; PORT) and ABOR, baseline %d", n, base)
	}
	// Other sessions keep getting passive ports, and their transfers work.
	for i := 0; i < 5; i++ {
		if list, err := other.List("NLST", ""); err != nil {
			t.Fatalf("other session's listing #%d: %q %v", i, list, err)
		}
	}
	c.Close()
	eventually(t, 5*time.Second, "descriptors back after the session ends", func() bool { return openFDs(t) <= base })
}

// TestActivePort20: with [server] active_port20 = true, active data
// connections leave from port 20 of the server's control address.
func TestActivePort20(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("needs root to bind port 20 (CI runs as root)")
	}
	a := startServer(t, hostA, basicConfig("active_port20 = true", ""))
	writeFile(t, filepath.Join(a.root("alice"), "f.txt"), []byte("hello"))
	c := a.dial(client1, "alice", testPass)
	ln := listenLocal(t, client1)
	sources := make(chan string, 4)
	go func() {
		for {
			conn, err := ln.Accept()
			if err != nil {
				return
			}
			sources <- conn.RemoteAddr().String()
			go func() { _, _ = io.Copy(io.Discard, conn); conn.Close() }()
		}
	}()
	for _, cmd := range []string{"RETR f.txt", "LIST", "RETR f.txt"} {
		if err := c.Port(mustAP(ln.Addr().String()), false); err != nil {
			t.Fatal(err)
		}
		if err := c.Send("%s", cmd); err != nil {
			t.Fatal(err)
		}
		if code, msg, err := finalReply(c); err != nil || code != 226 {
			t.Fatalf("%s: %d %s %v", cmd, code, msg, err)
		}
		if src := <-sources; src != hostA+":20" {
			t.Fatalf("%s: data connection from %s, want %s:20", cmd, src, hostA)
		}
	}
}

// TestActivePort20NeedsThePrivilege: a server that would run without the
// privilege to bind port 20 (run_as an ordinary user) is refused at start
// and by -check-config, with the key named, instead of failing every active
// transfer later.
func TestActivePort20NeedsThePrivilege(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("needs root to start ftpd that drops to run_as (CI runs as root)")
	}
	dir := t.TempDir()
	path := binWriteConfig(t, dir, `
[server]
listen = "`+hostA+`:0"
run_as = "nobody"
active_port20 = true

[[users]]
name = "bob"
password = "`+testPass+`"
backend = "memory"
root = "/bob"
`)
	binRefused(t, dir, path, "server.active_port20: cannot bind port 20")
}

// TestShutdownCutsRunningTransfer: when the shutdown grace period is
// over, a running transfer is cut at once (its data connection closed),
// not left to stream to the end.
func TestShutdownCutsRunningTransfer(t *testing.T) {
	for _, limited := range []bool{false, true} {
		t.Run(fmt.Sprintf("rate-limited=%v", limited), func(t *testing.T) {
			cfg := basicConfig("", "")
			if limited {
				cfg = strings.Replace(cfg, `root = "{{DIR}}/alice"`, `root = "{{DIR}}/alice"`+"\ndownload_rate = \"4MiB\"", 1)
			}
			a := startServer(t, hostA, cfg)
			const size = 64 << 20
			writeFile(t, filepath.Join(a.root("alice"), "big.bin"), randomBytes(t, size))
			c := a.dial(client1, "alice", testPass)
			addr, err := c.Pasv()
			if err != nil {
				t.Fatal(err)
			}
			if err := c.Send("RETR big.bin"); err != nil {
				t.Fatal(err)
			}
			data := rawDial(t, client1, addr.String())
			got := make(chan int64, 1)
			go func() { // a slow reader: the server's sends block
				var n int64
				buf := make([]byte, 64<<10)
				for {
					k, err := data.Read(buf)
					n += int64(k)
					if err != nil {
						got <- n
						return
					}
					time.Sleep(5 * time.Millisecond)
				}
			}()
			time.Sleep(300 * time.Millisecond)
			ctx, cancel := context.WithTimeout(context.Background(), 100*time.Millisecond)
			defer cancel()
			if err := a.srv.Shutdown(ctx); err == nil {
				t.Fatal("Shutdown reported no cut transfer")
			}
			select {
			case n := <-got:
				// The cut is shown by what did not go out, not by a time:
				// left alone, the reader would take the whole file.
				if n >= size {
					t.Fatalf("the whole file went out (%d bytes) after the grace period", n)
				}
			case <-time.After(60 * time.Second):
				t.Fatal("data connection still open 60 s after the grace period")
			}
		})
	}
}

// TestDataCommandReplies: LPRT, LPSV and SPSV answer 502 (not
// implemented, with the commands to use instead), and an EPRT to an
// address of the other family than the control connection is refused
// with 501, even to an allowed peer.
func TestDataCommandReplies(t *testing.T) {
	a := startServer(t, hostA, basicConfig("", "[fxp]\nenabled = true\npeers = [\"::1/128\"]\n"))
	c := a.dial(client1, "alice", testPass)
	for _, cmd := range []string{"LPRT 4,4,127,0,0,10,2,19,136", "LPSV", "SPSV"} {
		if msg, err := c.Expect(502, "%s", cmd); err != nil || !strings.Contains(msg, "use PORT/EPRT or PASV/EPSV") {
			t.Errorf("%s: %q %v", cmd, msg, err)
		}
	}
	if msg, err := c.Expect(501, "EPRT |2|::1|40000|"); err != nil || !strings.Contains(msg, "address family") {
		t.Fatalf("EPRT to IPv6 on an IPv4 control connection: %q %v", msg, err)
	}
}

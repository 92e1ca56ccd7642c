package integration

// Red-team tests: attacks on the data plane, secure FXP and the login
// paths. TestRedteamFinding* reproduced a defect and failed until it was
// fixed (all are fixed now: they guard against its return); TestRedteam*
// showed an attack already stopped.
//
// Findings, most severe first:
//   - PassivePortReuseDeadlock, PassiveRangeUnderLoad: a passive port
//     reused while its transfer runs deadlocks the data plane (every
//     PASV/EPSV/PORT of every session hangs).
//   - TokenScopeSymlink: a token reads and writes outside its path through
//     a symbolic link inside the user's root.
//   - PreLoginPROT: PROT before login reaches the library, which then wraps
//     data connections in TLS itself (require_data_session_reuse bypassed).
//   - XfersCrossesSessions: SITE XFERS shows token logins and anonymous
//     visitors the other sessions' transfers and client addresses.
//   - IPv6PerIPCap: one IPv6 /64 takes every connection slot.
//   - ClientTrustsPASVAddress: ftpclient (fxp listings) connects wherever a
//     server's 227 reply points.
//   - StatEndsShutdownGrace, PassiveExhaustedReply, ClearedTargetReply,
//     LongLineSilentHangup, ProtocolState: wrong codes, texts and states.
//
// Second round (issue 22's hardening attacked):
//   - BanPasswordOracle: only wrong passwords counted towards a ban, so
//     the ban told a right password refused for allowed_ips/max_sessions.
//   - ReceiveTokenFileOracle: CWD and MFMT told a receive token which
//     files exist.
//   - RefusedRestKeepsOffset: a 501 REST left the earlier REST's offset.
//   - TokenAncestorFacts: MDTM/MLST of a directory above a token's path
//     gave its date.

import (
	"bufio"
	"bytes"
	"context"
	"crypto/tls"
	"fmt"
	"io"
	"net"
	"net/netip"
	"net/textproto"
	"os"
	"path/filepath"
	"runtime/pprof"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/ftpd/ftpd/ftpclient"
)

// dialRaw connects from clientIP without logging in; TLS (explicit, AUTH
// TLS) when cfg is set.
func dialRaw(t *testing.T, in *instance, clientIP string, cfg *tls.Config) *ftpclient.Conn {
	t.Helper()
	opts := ftpclient.Options{LocalAddr: netip.MustParseAddr(clientIP), Timeout: 10 * time.Second}
	if cfg != nil {
		cfg = cfg.Clone()
		host, _, _ := strings.Cut(in.addr, ":")
		cfg.ServerName = host
		opts.TLS = cfg
	}
	c, err := ftpclient.Dial(context.Background(), in.addr, opts)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

// rawLogin logs in with USER/PASS and TYPE I only: no PBSZ/PROT after it.
func rawLogin(t *testing.T, c *ftpclient.Conn, user string) {
	t.Helper()
	if _, err := c.Expect(331, "USER %s", user); err != nil {
		t.Fatal(err)
	}
	if _, err := c.Expect(230, "PASS %s", testPass); err != nil {
		t.Fatal(err)
	}
	if _, err := c.Expect(200, "TYPE I"); err != nil {
		t.Fatal(err)
	}
}

// grabTLSData connects to a passive data port from clientIP as a TLS
// client with cfg while victim's transfer command waits for it, and
// returns what it read and victim's final reply.
func grabTLSData(t testing.TB, victim *ftpclient.Conn, clientIP string, addr netip.AddrPort, cfg *tls.Config) ([]byte, int, string) {
	t.Helper()
	tc := tls.Client(rawDial(t, clientIP, addr.String()), cfg)
	_ = tc.SetDeadline(time.Now().Add(5 * time.Second))
	got, _ := io.ReadAll(tc)
	code, msg, err := finalReply(victim)
	if err != nil {
		t.Fatal(err)
	}
	return got, code, msg
}

// TestRedteamFindingPreLoginPROT: PROT before login is not screened. The
// screen answers PROT itself only for logged-in sessions; before login the
// line goes to the FTP library, which records PROT P and from then on
// wraps every data connection of the session in TLS itself, with the
// plain server configuration. README: "SSCN, CPSV and PROT before AUTH TLS
// answer 503", "the FTP library never wraps a data connection", and
// require_data_session_reuse "refuses a data connection whose TLS session
// does not resume that client's control session".
//
// RFC 4217 lets a client send PBSZ/PROT before USER, so a conforming
// client loses the session-reuse protection: a data connection from its
// address with a fresh TLS session gets the file.
func TestRedteamFindingPreLoginPROT(t *testing.T) {
	a, cfg := startTLSServer(t, hostA, "explicit", false, "")
	writeFile(t, filepath.Join(a.root("alice"), "f.bin"), []byte("protected"))

	t.Run("PROT before AUTH TLS", func(t *testing.T) {
		c := dialRaw(t, a, client1, nil)
		for _, cmd := range []string{"PROT P", "SSCN ON", "CPSV"} {
			code, msg, err := c.Cmd("%s", cmd)
			if err != nil {
				t.Fatal(err)
			}
			if code != 503 && code != 530 {
				t.Errorf("%s on a clear control connection before login: got %d %q, want 503 (AUTH TLS first) or 530 (log in first)", cmd, code, msg)
			}
		}
	})

	t.Run("session reuse after PROT P before USER", func(t *testing.T) {
		victim := dialRaw(t, a, client1, cfg)
		if _, err := victim.Expect(200, "PBSZ 0"); err != nil {
			t.Fatal(err)
		}
		if _, err := victim.Expect(200, "PROT P"); err != nil {
			t.Fatal(err)
		}
		rawLogin(t, victim, "alice")
		addr, err := victim.Pasv()
		if err != nil {
			t.Fatal(err)
		}
		if err := victim.Send("RETR f.bin"); err != nil {
			t.Fatal(err)
		}
		// Someone on the victim's address, with a fresh TLS session.
		fresh := cfg.Clone()
		fresh.ServerName = hostA
		got, code, msg := grabTLSData(t, victim, client1, addr, fresh)
		if len(got) > 0 || code == 226 {
			t.Errorf("a fresh TLS session got the file: %q, reply %d %s (want a refusal: does not resume the control connection's session)", got, code, msg)
		}
	})
}

// freeDataPort returns a TCP port that is free on every address now (the
// library binds passive ports on 0.0.0.0).
func freeDataPort(t *testing.T) int {
	t.Helper()
	l, err := net.Listen("tcp", "0.0.0.0:0")
	if err != nil {
		t.Fatal(err)
	}
	port := l.Addr().(*net.TCPAddr).Port
	l.Close()
	return port
}

// cmdWithin sends a command and waits at most d for its reply.
func cmdWithin(t *testing.T, c *ftpclient.Conn, d time.Duration, cmd string) (int, string, error) {
	t.Helper()
	if err := c.Send("%s", cmd); err != nil {
		return 0, "", err
	}
	ctx, cancel := context.WithTimeout(context.Background(), d)
	defer cancel()
	return c.WaitReply(ctx)
}

// stuckIn reports the goroutines whose stacks hold every one of frames.
func stuckIn(frames ...string) string {
	var buf bytes.Buffer
	_ = pprof.Lookup("goroutine").WriteTo(&buf, 2)
	var out []string
	for _, g := range strings.Split(buf.String(), "\n\n") {
		all := true
		for _, f := range frames {
			all = all && strings.Contains(g, f)
		}
		if all {
			out = append(out, g)
		}
	}
	if len(out) == 0 {
		return ""
	}
	return "; goroutine(s) blocked in " + strings.Join(frames, " and ") + ":\n" + strings.Join(out, "\n\n")
}

// TestRedteamFindingPassivePortReuseDeadlock: once a passive transfer is
// accepted, the data plane closes the raw listener ("one connection per
// port") but keeps the port registered until the library closes it at the
// end of the transfer. A PASV of any other session that gets the same
// port meanwhile (a small passive_ports range, or chance) makes
// Plane.Wrap close the stale entry while holding the plane's lock, and
// Listener.close then asks for that lock again (Plane.forget): the plane
// deadlocks, and every PASV/EPSV/PORT of every session hangs from then on.
// One authenticated user with two sessions and a slow download stops
// all data connections of the server.
func TestRedteamFindingPassivePortReuseDeadlock(t *testing.T) {
	port := freeDataPort(t)
	a := startServer(t, hostA, basicConfig(fmt.Sprintf("passive_ports = \"%d-%d\"", port, port), ""))
	writeFile(t, filepath.Join(a.root("alice"), "big.bin"), make([]byte, 64<<20))

	holdDownload(t, a.dial(client1, "alice", testPass), client1, "big.bin")

	other := a.dial(client2, "bob", testPass)
	code, msg, err := cmdWithin(t, other, 5*time.Second, "PASV")
	if err != nil {
		t.Fatalf("PASV of another session while a passive download runs: no reply within 5 s (%v): the data plane is stuck%s", err, stuckIn("dataplane.(*Plane).forget", "dataplane.(*Plane).Wrap"))
	}
	t.Logf("PASV: %d %s", code, msg)
	// A third session, after that: still served?
	third := a.dial(client2, "bob", testPass)
	if code, msg, err := cmdWithin(t, third, 5*time.Second, "EPSV"); err != nil {
		t.Fatalf("EPSV of a third session: no reply within 5 s (%v)", err)
	} else {
		t.Logf("EPSV: %d %s", code, msg)
	}
}

// holdDownload starts a passive RETR of path on c and never reads the
// data, so the transfer stays in progress until the test ends.
func holdDownload(t *testing.T, c *ftpclient.Conn, clientIP, path string) {
	t.Helper()
	rawDial(t, clientIP, sendOnPassive(t, c, "RETR "+path))
	if code, msg, err := c.ReadReply(); err != nil || code != 150 {
		t.Fatalf("RETR %s: %d %s %v", path, code, msg, err)
	}
}

// mintSiteToken asks SITE TOKEN on owner and returns the token's login
// name and password.
func mintSiteToken(t *testing.T, owner *ftpclient.Conn, args string) (string, string) {
	t.Helper()
	msg, err := owner.Expect(200, "SITE TOKEN %s", args)
	if err != nil {
		t.Fatal(err)
	}
	f := strings.Fields(msg)
	if len(f) != 3 || f[0] != "TOKEN" {
		t.Fatalf("SITE TOKEN %s: %q", args, msg)
	}
	return f[1], f[2]
}

// TestRedteamFindingXfersCrossesSessions: SITE XFERS lists every running
// transfer of the user name, whichever session runs it. Two logins share a
// user name without sharing a person: a one-time token is handed to a
// partner for one path ("only the path"), and anonymous is everyone. Both
// learn the paths of the user's other transfers and the addresses of the
// other clients (peer=ip:port).
func TestRedteamFindingXfersCrossesSessions(t *testing.T) {
	t.Run("token", func(t *testing.T) {
		a := tokenServer(t, t.TempDir())
		writeFile(t, filepath.Join(a.root("alice"), "private/plan.bin"), make([]byte, 64<<20))
		writeFile(t, filepath.Join(a.root("alice"), "releases/x.iso"), []byte("x"))
		owner := a.dial(client1, "alice", testPass)
		login, pass := mintSiteToken(t, owner, "/releases/x.iso send 1h")
		holdDownload(t, owner, client1, "private/plan.bin")
		partner := a.dial(client2, login, pass)
		code, report, err := partner.Cmd("SITE XFERS")
		if err != nil {
			t.Fatal(err)
		}
		if strings.Contains(report, "plan.bin") || strings.Contains(report, client1) {
			t.Errorf("a login scoped to /releases/x.iso sees the owner's other transfer: %d %q", code, report)
		}
	})
	t.Run("anonymous", func(t *testing.T) {
		a := startServer(t, hostA, basicConfig("", ""))
		writeFile(t, filepath.Join(a.root("anonymous"), "big.iso"), make([]byte, 64<<20))
		visitor := a.dial(client1, "anonymous", "x@example.com")
		holdDownload(t, visitor, client1, "big.iso")
		other := a.dial(client2, "anonymous", "y@example.com")
		code, report, err := other.Cmd("SITE XFERS")
		if err != nil {
			t.Fatal(err)
		}
		if strings.Contains(report, client1) {
			t.Errorf("an anonymous visitor sees another visitor's address and download: %d %q", code, report)
		}
	})
}

// TestRedteamReloadKeepsDataSessionReuse (attack stopped): every
// configuration compile makes a new tls.Config; unless the process pins its
// session ticket keys, a reload (SIGHUP) — even one that changes nothing —
// leaves connected PROT P clients with tickets nobody can decrypt, and
// require_data_session_reuse then refuses all their data connections.
// Checked to fail with Server.pinTicketKeys left out of Reload.
func TestRedteamReloadKeepsDataSessionReuse(t *testing.T) {
	a, cfg := startTLSServer(t, hostA, "explicit", false, "")
	writeFile(t, filepath.Join(a.root("alice"), "f.bin"), []byte("protected"))
	c := dialTLS(t, a, cfg, false, false)
	var buf bytes.Buffer
	if _, err := c.Retr("f.bin", &buf); err != nil || buf.String() != "protected" {
		t.Fatalf("before the reload: %q %v", buf.String(), err)
	}
	a.reload(t) // the same file
	buf.Reset()
	if _, err := c.Retr("f.bin", &buf); err != nil || buf.String() != "protected" {
		t.Errorf("the same client after a reload that changed nothing: %q %v", buf.String(), err)
	}
}

// TestRedteamFindingProtocolState: control-channel state the screen does
// not keep, each checked against the RFC or README text it breaks.
func TestRedteamFindingProtocolState(t *testing.T) {
	a, cfg := startTLSServer(t, hostA, "explicit", false, "")
	t.Run("FEAT before login lists SSCN and CPSV", func(t *testing.T) {
		// README: "FEAT lists SSCN and CPSV when TLS is configured";
		// clients (lftp) ask FEAT right after AUTH TLS, before USER.
		c := dialRaw(t, a, client1, cfg)
		feat, err := c.Feat()
		if err != nil {
			t.Fatal(err)
		}
		if !contains(feat, "SSCN") || !contains(feat, "CPSV") {
			t.Errorf("FEAT before login: %q, want SSCN and CPSV", feat)
		}
	})
	t.Run("EPSV ALL refuses PORT, EPRT and PASV", func(t *testing.T) {
		// RFC 2428 section 4: after EPSV ALL "the server MUST reject all
		// data connection setup commands other than EPSV".
		c := a.dial(client1, "alice", testPass)
		if _, err := c.Expect(200, "EPSV ALL"); err != nil {
			t.Fatal(err)
		}
		for _, cmd := range []string{"PORT 127,0,0,10,200,10", "EPRT |1|127.0.0.10|51210|", "PASV"} {
			code, msg, err := c.Cmd("%s", cmd)
			if err != nil {
				t.Fatal(err)
			}
			if code < 500 {
				t.Errorf("%s after EPSV ALL: %d %s, want a 5xx refusal", cmd, code, msg)
			}
		}
	})
	t.Run("PROT without PBSZ", func(t *testing.T) {
		// RFC 4217 section 9: "The PROT command MUST be preceded by a PBSZ
		// command"; 503 otherwise.
		c := dialRaw(t, a, client1, cfg)
		rawLogin(t, c, "alice")
		code, msg, err := c.Cmd("PROT P")
		if err != nil {
			t.Fatal(err)
		}
		if code != 503 {
			t.Errorf("PROT P with no PBSZ before it: %d %s, want 503", code, msg)
		}
	})
}

// removeUser rewrites the instance's config without user name and reloads.
func removeUser(t *testing.T, in *instance, name, next string) {
	t.Helper()
	in.editConfig(t, func(text string) string {
		start := strings.Index(text, "[[users]]\nname = \""+name+"\"")
		end := strings.Index(text, "[[users]]\nname = \""+next+"\"")
		if start < 0 || end < start {
			t.Fatalf("no user %s before %s in the config", name, next)
		}
		return text[:start] + text[end:]
	})
	in.logs.waitFor(t, `"msg":"session revoked"`, `"user":"`+name+`"`, `"reason":"user_removed"`)
}

// TestRedteamRevocationCutsRunningTransfers (attack stopped): a reload
// that removes a user closes the user's control connection (421) and its
// running transfers too: a download stops short and an upload in progress
// is cut and leaves no file ("Revocation takes effect at once").
func TestRedteamRevocationCutsRunningTransfers(t *testing.T) {
	const size = 32 << 20
	// download_rate keeps the whole file from going out in less than 8 s,
	// so the download's short count proves the cut even when a loaded
	// machine delays it by seconds after the revocation is logged.
	a := startServer(t, hostA, strings.Replace(basicConfig("", ""),
		`root = "{{DIR}}/alice"`, `root = "{{DIR}}/alice"`+"\ndownload_rate = \"4MiB\"", 1))
	writeFile(t, filepath.Join(a.root("alice"), "big.bin"), make([]byte, size))
	down := a.dial(client1, "alice", testPass)
	up := a.dial(client1, "alice", testPass)
	open := func(c *ftpclient.Conn, cmd string) net.Conn {
		addr, err := c.Pasv()
		if err != nil {
			t.Fatal(err)
		}
		if err := c.Send("%s", cmd); err != nil {
			t.Fatal(err)
		}
		conn := rawDial(t, client1, addr.String())
		if code, msg, err := c.ReadReply(); err != nil || code != 150 {
			t.Fatalf("%s: %d %s %v", cmd, code, msg, err)
		}
		return conn
	}
	dl := open(down, "RETR big.bin")
	ul := open(up, "STOR new.bin")
	first := make([]byte, 1<<20)
	if _, err := io.ReadFull(dl, first); err != nil {
		t.Fatal(err)
	}
	if _, err := ul.Write(first); err != nil {
		t.Fatal(err)
	}

	removeUser(t, a, "alice", "bob")
	time.Sleep(500 * time.Millisecond) // ample time to cut the data connections

	_ = dl.SetReadDeadline(time.Now().Add(20 * time.Second))
	rest, err := io.Copy(io.Discard, dl)
	if got := int64(len(first)) + rest; got == size {
		t.Errorf("the removed user's download ran to its end after the revocation: %d of %d bytes (%v)", got, size, err)
	}
	var werr error
	deadline := time.Now().Add(10 * time.Second)
	for sent := len(first); werr == nil && sent < size && time.Now().Before(deadline); sent += len(first) {
		_ = ul.SetWriteDeadline(deadline)
		_, werr = ul.Write(first)
	}
	if werr == nil {
		t.Errorf("the removed user's upload still takes data after the revocation")
	}
	_ = ul.Close()
	// Wait until the upload's partial file is gone (removed when cut, or
	// renamed over new.bin had it finished), then look: no race with how
	// fast the server cleans up.
	eventually(t, 20*time.Second, "the cut upload's partial file gone", func() bool {
		for _, name := range leftovers(t, a.root("alice")) {
			if strings.HasPrefix(name, ".ftpd-upload-") {
				return false
			}
		}
		return true
	})
	if _, err := os.Stat(filepath.Join(a.root("alice"), "new.bin")); err == nil {
		t.Errorf("the cut upload left new.bin behind")
	}
}

// pipeline is a bare control connection whose commands are written several
// at a time, before any reply, as an attacker would.
type pipeline struct {
	t    *testing.T
	conn net.Conn
	r    *textproto.Reader
}

func dialPipeline(t *testing.T, in *instance, clientIP, user string) *pipeline {
	t.Helper()
	c := rawDial(t, clientIP, in.addr)
	p := &pipeline{t: t, conn: c, r: textproto.NewReader(bufio.NewReader(c))}
	_ = c.SetDeadline(time.Now().Add(60 * time.Second))
	if code, _ := p.final(); code != 220 {
		t.Fatalf("greeting: %d", code)
	}
	p.send("USER "+user, "PASS "+testPass, "TYPE I")
	for _, want := range []int{331, 230, 200} {
		if code, msg := p.final(); code != want {
			t.Fatalf("login: %d %s", code, msg)
		}
	}
	return p
}

// send writes every line in one write.
func (p *pipeline) send(lines ...string) {
	p.t.Helper()
	if _, err := p.conn.Write([]byte(strings.Join(lines, "\r\n") + "\r\n")); err != nil {
		p.t.Fatal(err)
	}
}

// final reads replies up to the next final (non-1xx) one.
func (p *pipeline) final() (int, string) {
	p.t.Helper()
	for {
		code, msg, err := p.r.ReadResponse(0)
		if err != nil && code == 0 {
			p.t.Fatalf("read reply: %v", err)
		}
		if code >= 200 {
			return code, msg
		}
	}
}

// countingTrap accepts and closes connections on ip:0 and counts them.
type countingTrap struct {
	ln net.Listener
	mu sync.Mutex
	n  int
}

func newCountingTrap(t *testing.T, ip string) *countingTrap {
	t.Helper()
	tr := &countingTrap{ln: listenLocal(t, ip)}
	go func() {
		for {
			c, err := tr.ln.Accept()
			if err != nil {
				return
			}
			tr.mu.Lock()
			tr.n++
			tr.mu.Unlock()
			c.Close()
		}
	}()
	return tr
}

func (tr *countingTrap) ap() netip.AddrPort { return tr.ln.Addr().(*net.TCPAddr).AddrPort() }

func (tr *countingTrap) count() int {
	tr.mu.Lock()
	defer tr.mu.Unlock()
	return tr.n
}

// TestRedteamPipelinedDataCommands (attack stopped): data commands written
// all at once, before any reply, in the orders an attacker would try
// (refused or unparsable PORT after an allowed one, ABOR/REIN between PORT
// and the transfer, lower case, Telnet IAC inside the verb, a listing or an
// upload toward an allowed send-only peer): no connection reaches a third
// host or the peer, except the one allowed RETR at the end (which proves
// the traps see connections).
func TestRedteamPipelinedDataCommands(t *testing.T) {
	victim := newCountingTrap(t, bounceHost)
	peer := newCountingTrap(t, hostB) // an allowed FXP peer: alice may send to it
	a := startServer(t, hostA, strings.Replace(basicConfig("", "[fxp]\nenabled = true\npeers = [\""+hostB+"/32\"]\n"),
		`root = "{{DIR}}/alice"`, `root = "{{DIR}}/alice"`+"\nfxp = \"send\"", 1))
	writeFile(t, filepath.Join(a.root("alice"), "f.txt"), []byte("file"))
	p := dialPipeline(t, a, client1, "alice")
	toPeer := ftpclient.PortCommand(peer.ap(), false)
	toPeerE := ftpclient.PortCommand(peer.ap(), true)
	toVictim := ftpclient.PortCommand(victim.ap(), false)
	for _, seq := range [][]string{
		{toPeer, "LIST"},
		{toPeerE, "NLST"},
		{toPeer, "MLSD"},
		{toPeer, "STOR up.txt"},
		{toPeer, "APPE up.txt"},
		{toPeer, toVictim, "RETR f.txt"},
		{toPeer, strings.Replace(toVictim, ",", ", ", 1), "RETR f.txt"},
		{toPeer, "ABOR", "RETR f.txt"},
		{toPeer, "REIN", "RETR f.txt"},
		{toPeer, "PASV", "EPRT |1|" + bounceHost + "|" + fmt.Sprint(victim.ap().Port()) + "|", "RETR f.txt"},
		{strings.ToLower(toVictim), "list"},
		{"PO\xff\xf4RT" + strings.TrimPrefix(toVictim, "PORT"), "RETR f.txt"},
		{toPeer, "LPRT 4,4,127,0,0,99,2,19,136", "RETR f.txt"},
		{toPeer, toVictim + " ", "RETR f.txt"},
		{toPeer, toVictim + "\t", "RETR f.txt"},
		{strings.Replace(toVictim, " ", "\t", 1), "RETR f.txt"},
		{" " + toVictim, "RETR f.txt"},
		{toPeer, "EPRT |1|" + bounceHost + "|" + fmt.Sprint(victim.ap().Port()) + "| ", "RETR f.txt"},
		{"EPRT\t|1|" + bounceHost + "|" + fmt.Sprint(victim.ap().Port()) + "|", "RETR f.txt"},
	} {
		p.send(seq...)
		var got []string
		for range seq {
			code, msg := p.final()
			got = append(got, fmt.Sprintf("%d %s", code, msg))
		}
		t.Logf("%q -> %q", seq, got)
		last := got[len(got)-1]
		if !strings.HasPrefix(last, "4") && !strings.HasPrefix(last, "5") {
			t.Errorf("%q: the transfer was not refused: %q", seq, got)
		}
	}
	time.Sleep(200 * time.Millisecond)
	if n := victim.count() + peer.count(); n != 0 {
		t.Fatalf("%d connection(s) reached the third host (%d) or the peer (%d)", n, victim.count(), peer.count())
	}
	// The positive control: an allowed RETR to the peer, pipelined too.
	p.send(toPeer, "RETR f.txt")
	p.final()
	p.final()
	eventually(t, 5*time.Second, "the allowed RETR reaches the peer", func() bool { return peer.count() == 1 })
}

// TestRedteamFindingClearedTargetReply: after a refused PORT (or ABOR,
// REIN, LPRT) the next transfer is refused, as it must be, but its reply
// is the library's internal error "425 failed to set deadline: use of
// closed network connection", not the data plane's own "no data
// connection prepared: send PASV/EPSV or PORT/EPRT first". The standard:
// bad input gets a clear error.
func TestRedteamFindingClearedTargetReply(t *testing.T) {
	a := startServer(t, hostA, basicConfig("", ""))
	writeFile(t, filepath.Join(a.root("alice"), "f.txt"), []byte("file"))
	c := a.dial(client1, "alice", testPass)
	l := listenLocal(t, client1)
	if err := c.Port(l.Addr().(*net.TCPAddr).AddrPort(), false); err != nil {
		t.Fatal(err)
	}
	if _, err := c.Expect(501, "PORT 127,0,0,10,0,25"); err != nil {
		t.Fatal(err)
	}
	if err := c.Send("RETR f.txt"); err != nil {
		t.Fatal(err)
	}
	code, msg, err := finalReply(c)
	if err != nil {
		t.Fatal(err)
	}
	if code != 425 || strings.Contains(msg, "closed network connection") || !strings.Contains(msg, "PASV") {
		t.Errorf("RETR after a refused PORT: %d %q, want 425 saying to send PASV/EPSV or PORT/EPRT first", code, msg)
	}
}

// TestRedteamForgedSiteAnswer (attack stopped): ftpd answers some commands
// itself by rewriting them into "SITE FTPD-<session token>", which the
// library hands back to ftpd in order. A client that writes its own
// "SITE FTPD-..." lines (a guess, another session's form) neither pops a
// queued answer nor shifts the order of the answers that follow.
func TestRedteamForgedSiteAnswer(t *testing.T) {
	a := startServer(t, hostA, basicConfig("", ""))
	p := dialPipeline(t, a, client1, "alice")
	forged := "SITE FTPD-" + strings.Repeat("0", 32)
	p.send("FOO", forged, "SITE FTPD-", "BAR", forged, "NOOP")
	want := []string{`500 Unknown command "FOO"`, "", "", `500 Unknown command "BAR"`, "", "200 "}
	for i, w := range want {
		code, msg := p.final()
		got := fmt.Sprintf("%d %s", code, msg)
		switch {
		case w == "" && (code < 500 || strings.Contains(msg, "Bad sequence")):
			t.Errorf("reply %d: a forged SITE FTPD- line was answered %q", i, got)
		case w != "" && !strings.HasPrefix(got, w):
			t.Errorf("reply %d: %q, want %q: answers out of order", i, got, w)
		}
	}
}

// TestRedteamTokenConcurrentLogins (attack stopped): a one-use token sent
// by 12 connections at once logs in exactly once.
func TestRedteamTokenConcurrentLogins(t *testing.T) {
	a := tokenServer(t, t.TempDir())
	writeFile(t, filepath.Join(a.root("alice"), "x.iso"), []byte("x"))
	owner := a.dial(client1, "alice", testPass)
	login, pass := mintSiteToken(t, owner, "/x.iso send 1h 1")
	const n = 12
	conns := make([]*ftpclient.Conn, n)
	for i := range conns {
		conns[i] = a.dial(client2, "", "")
		if _, err := conns[i].Expect(331, "USER %s", login); err != nil {
			t.Fatal(err)
		}
	}
	codes := make(chan int, n)
	var wg sync.WaitGroup
	for _, c := range conns {
		wg.Add(1)
		go func(c *ftpclient.Conn) {
			defer wg.Done()
			code, _, _ := c.Cmd("PASS %s", pass)
			codes <- code
		}(c)
	}
	wg.Wait()
	close(codes)
	ok := 0
	for code := range codes {
		if code == 230 {
			ok++
		}
	}
	if ok != 1 {
		t.Fatalf("%d of %d concurrent logins with a one-use token succeeded, want 1", ok, n)
	}
}

// TestRedteamFindingStatEndsShutdownGrace: a session counts as busy from
// its 150 reply to the next final reply, and STAT (answered during a
// transfer, 211) is such a final reply. A client that sends STAT while its
// download runs is no longer busy: a graceful shutdown (SIGTERM, -grace)
// does not wait for it and cuts the transfer at once.
func TestRedteamFindingStatEndsShutdownGrace(t *testing.T) {
	a := startServer(t, hostA, strings.Replace(basicConfig("", ""), `root = "{{DIR}}/alice"`, `root = "{{DIR}}/alice"`+"\ndownload_rate = \"4MiB\"", 1))
	writeFile(t, filepath.Join(a.root("alice"), "big.bin"), make([]byte, 64<<20))
	c := a.dial(client1, "alice", testPass)
	holdDownload(t, c, client1, "big.bin")
	if _, err := c.Expect(211, "STAT"); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	start := time.Now()
	err := a.srv.Shutdown(ctx)
	if err == nil {
		t.Errorf("Shutdown returned after %v without waiting for the running download (grace 2 s) and without reporting it cut", time.Since(start).Round(time.Millisecond))
	}
}

// TestRedteamFindingPassiveExhaustedReply: when passive_ports is used up,
// PASV/EPSV are answered with the library's "421 Could not listen for
// passive connection", passed through unchanged (a PORT in the same case
// is mended to 425). 421 tells the client that the server is closing the
// control connection (RFC 959), so clients hang up, though the session
// stays open and would work again once a port is free; 425 (cannot open
// data connection) is the right code.
func TestRedteamFindingPassiveExhaustedReply(t *testing.T) {
	port := freeDataPort(t)
	a := startServer(t, hostA, basicConfig(fmt.Sprintf("passive_ports = \"%d-%d\"", port, port), ""))
	holder := a.dial(client1, "alice", testPass)
	if _, err := holder.Pasv(); err != nil {
		t.Fatal(err)
	}
	c := a.dial(client2, "bob", testPass)
	for _, cmd := range []string{"PASV", "EPSV", "PORT 127,0,0,11,200,10"} {
		code, msg, err := cmdWithin(t, c, 5*time.Second, cmd)
		if err != nil {
			t.Fatal(err)
		}
		if code != 425 {
			t.Errorf("%s with no passive port free: %d %s, want 425", cmd, code, msg)
		}
	}
	if _, err := c.Expect(257, "PWD"); err != nil {
		t.Fatalf("the session after the refusals: %v", err)
	}
}

// TestRedteamFindingTokenScopeSymlink: a token's scope is checked on the
// path the client names, and the storage then follows symbolic links
// inside the user's root. A link inside the scope that points elsewhere in
// the root (a "latest -> ../releases" the owner keeps) takes a token
// scoped to /pub/ into /private: README "only the path: a file, or with a
// trailing / the subtree ... anything else is 550".
func TestRedteamFindingTokenScopeSymlink(t *testing.T) {
	a := tokenServer(t, t.TempDir())
	root := a.root("alice")
	writeFile(t, filepath.Join(root, "private/secret.txt"), []byte("secret"))
	writeFile(t, filepath.Join(root, "pub/readme.txt"), []byte("public"))
	if err := os.Symlink("../private", filepath.Join(root, "pub/latest")); err != nil {
		t.Fatal(err)
	}
	owner := a.dial(client1, "alice", testPass)
	login, pass := mintSiteToken(t, owner, "/pub/ send 1h 5")
	partner := a.dial(client2, login, pass)
	var buf bytes.Buffer
	if _, err := partner.Retr("/pub/readme.txt", &buf); err != nil || buf.String() != "public" {
		t.Fatalf("in scope: %q %v", buf.String(), err)
	}
	buf.Reset()
	_, err := partner.Retr("/pub/latest/secret.txt", &buf)
	if err == nil || buf.Len() > 0 {
		t.Errorf("a token scoped to /pub/ read /private/secret.txt through pub/latest: %q %v", buf.String(), err)
	}
	if list, err := partner.List("NLST", "/pub/latest"); err == nil {
		t.Errorf("a token scoped to /pub/ lists /private through pub/latest: %q", list)
	}

	// A receiving token writes through such a link too.
	if err := os.MkdirAll(filepath.Join(root, "in"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink("../private", filepath.Join(root, "in/out")); err != nil {
		t.Fatal(err)
	}
	login, pass = mintSiteToken(t, owner, "/in/ receive 1h")
	uploader := a.dial(client2, login, pass)
	_, err = uploader.Stor("/in/out/planted.txt", strings.NewReader("planted"))
	if _, serr := os.Stat(filepath.Join(root, "private/planted.txt")); serr == nil {
		t.Errorf("a token scoped to /in/ wrote /private/planted.txt through in/out (STOR: %v)", err)
	}
}

// fakePASVServer is a hostile FTP server on ip: it logs anyone in and
// answers PASV with the address pasv, then serves nothing.
func fakePASVServer(t *testing.T, ip string, pasv netip.AddrPort) string {
	t.Helper()
	ln := listenLocal(t, ip)
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			go func(c net.Conn) {
				defer c.Close()
				_ = c.SetDeadline(time.Now().Add(30 * time.Second))
				r := textproto.NewReader(bufio.NewReader(c))
				fmt.Fprintf(c, "220 hostile\r\n")
				for {
					line, err := r.ReadLine()
					if err != nil {
						return
					}
					verb, _, _ := strings.Cut(strings.ToUpper(line), " ")
					switch verb {
					case "USER":
						fmt.Fprintf(c, "331 ok\r\n")
					case "PASS":
						fmt.Fprintf(c, "230 ok\r\n")
					case "PASV":
						ip := pasv.Addr().As4()
						fmt.Fprintf(c, "227 Entering Passive Mode (%d,%d,%d,%d,%d,%d)\r\n", ip[0], ip[1], ip[2], ip[3], pasv.Port()>>8, pasv.Port()&0xff)
					case "MLSD", "LIST", "NLST", "RETR":
						fmt.Fprintf(c, "425 no data\r\n")
					default:
						fmt.Fprintf(c, "200 ok\r\n")
					}
				}
			}(c)
		}
	}()
	return ln.Addr().String()
}

// TestRedteamFindingClientTrustsPASVAddress: ftpclient (which fxp uses for
// its own listings: mirror, tree copies) connects to whatever address a
// server's 227 reply names. A hostile or compromised site makes the fxp
// host connect to any host and port it chooses (a third host's service, a
// scan from inside the client's network); curl ignores the PASV address by
// default for this reason (CVE-2020-8284). The control connection's host
// is the only address a client's own data connection should go to.
func TestRedteamFindingClientTrustsPASVAddress(t *testing.T) {
	victim := newCountingTrap(t, bounceHost)
	addr := fakePASVServer(t, hostA, victim.ap())
	c, err := ftpclient.Dial(context.Background(), addr, ftpclient.Options{
		LocalAddr: netip.MustParseAddr(client1), Timeout: 5 * time.Second,
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	if err := c.Login("alice", testPass); err != nil {
		t.Fatal(err)
	}
	_, _ = c.List("MLSD", "/")
	time.Sleep(200 * time.Millisecond)
	if n := victim.count(); n > 0 {
		t.Errorf("the client opened %d connection(s) to %s, the address a server's PASV reply named", n, victim.ap())
	}
}

// TestRedteamFindingLongLineSilentHangup: a command line of 4095 bytes
// ended by a bare LF fits the screen's 4096-byte limit, but the screen
// hands it on with CRLF (4097 bytes), over the library's own 4096-byte
// line buffer: the library drops the connection without a reply, where a
// line one byte longer gets "500 line too long" (README: "a line over 4096
// bytes gets 500 line too long").
func TestRedteamFindingLongLineSilentHangup(t *testing.T) {
	a := startServer(t, hostA, basicConfig("", ""))
	p := dialPipeline(t, a, client1, "alice")
	line := "NOOP " + strings.Repeat("a", 4090)
	if _, err := p.conn.Write([]byte(line + "\n")); err != nil {
		t.Fatal(err)
	}
	_ = p.conn.SetReadDeadline(time.Now().Add(5 * time.Second))
	code, msg, err := p.r.ReadResponse(0)
	if err != nil && code == 0 {
		t.Errorf("a %d-byte line ended by LF: the connection ended without a reply (%v)", len(line)+1, err)
	} else {
		t.Logf("reply %d %s", code, msg)
	}
}

// TestRedteamFindingPassiveRangeUnderLoad: the deadlock of
// TestRedteamFindingPassivePortReuseDeadlock needs no attacker: four
// clients downloading in a loop over a four-port passive range (no client
// misbehaves) stop the server's data plane.
func TestRedteamFindingPassiveRangeUnderLoad(t *testing.T) {
	port := freeDataPort(t)
	for port+3 > 65535 {
		port = freeDataPort(t)
	}
	a := startServer(t, hostA, basicConfig(fmt.Sprintf("passive_ports = \"%d-%d\"", port, port+3), ""))
	data := randomBytes(t, 256<<10)
	writeFile(t, filepath.Join(a.root("alice"), "f.bin"), data)
	const clients, rounds = 4, 30
	errs := make(chan error, clients)
	for i := 0; i < clients; i++ {
		c := a.dial(client1, "alice", testPass)
		go func() {
			for r := 0; r < rounds; r++ {
				done := make(chan error, 1)
				go func() {
					var buf bytes.Buffer
					_, err := c.Retr("f.bin", &buf)
					if err == nil && sha(buf.Bytes()) != sha(data) {
						err = fmt.Errorf("download differs")
					}
					done <- err
				}()
				select {
				case err := <-done:
					if err != nil && !strings.Contains(err.Error(), "425") && !strings.Contains(err.Error(), "421") {
						errs <- fmt.Errorf("round %d: %w", r, err)
						return
					}
				case <-time.After(10 * time.Second):
					errs <- fmt.Errorf("round %d: no answer within 10 s%s", r, stuckIn("dataplane.(*Plane).forget", "dataplane.(*Plane).Wrap"))
					return
				}
			}
			errs <- nil
		}()
	}
	for i := 0; i < clients; i++ {
		if err := <-errs; err != nil {
			t.Fatalf("a client of a busy server: %v", err)
		}
	}
}

// TestRedteamFindingIPv6PerIPCap: max_connections_per_ip counts exact
// addresses, and every IPv6 client holds a whole /64 (bans already treat
// the /64 as one client: ban_ipv6_prefix). One IPv6 client, cycling
// through addresses of its own /64, takes every connection slot of the
// server (max_connections) while staying under the per-IP cap, and locks
// every other client out until login_timeout.
func TestRedteamFindingIPv6PerIPCap(t *testing.T) {
	var addrs []string
	for i := 0; i < 8; i++ {
		addrs = append(addrs, fmt.Sprintf("fd00::%x", 0x10+i))
	}
	if !inNetns(t, append(addrs, "fd00::2", "fd00:0:0:1::10")...) {
		return
	}
	a := startServer(t, "[fd00::2]", basicConfig("", "[limits]\nmax_connections = 8\nmax_connections_per_ip = 2\n"))
	for _, ip := range addrs {
		c := rawDial(t, ip, a.addr)
		_ = c.SetReadDeadline(time.Now().Add(5 * time.Second))
		if line, _ := bufio.NewReader(c).ReadString('\n'); !strings.HasPrefix(line, "220") {
			t.Logf("%s: %q", ip, line)
		}
	}
	c := rawDial(t, "fd00:0:0:1::10", a.addr) // another client
	_ = c.SetReadDeadline(time.Now().Add(5 * time.Second))
	if line, _ := bufio.NewReader(c).ReadString('\n'); !strings.HasPrefix(line, "220") {
		t.Errorf("another client is locked out by one /64 holding %d connections under max_connections_per_ip = 2: %q", len(addrs), strings.TrimSpace(line))
	}
}

// TestRedteamFindingBanPasswordOracle: every refusal after PASS has one
// answer and one cost, so that it does not say which it was. But only a
// wrong password counted towards max_login_failures: the right password
// refused for allowed_ips (or max_sessions) did not, and a ban is plain to
// see (the next connection gets 421). From outside a user's allowed_ips,
// max_login_failures-1 wrong passwords and a guess told whether the guess
// was the password: banned if wrong, not banned if right. Now every
// refusal of a user's login counts, whatever the password.
func TestRedteamFindingBanPasswordOracle(t *testing.T) {
	cfg := strings.Replace(basicConfig("", "[limits]\nmax_login_failures = 2\nban_duration = \"1h\"\n"),
		`root = "{{DIR}}/alice"`, `root = "{{DIR}}/alice"`+"\nallowed_ips = [\"127.0.0.10/32\"]", 1)
	cfg = strings.Replace(cfg, `root = "{{DIR}}/bob"`, `root = "{{DIR}}/bob"`+"\nmax_sessions = 1", 1)
	cfg = strings.Replace(cfg, `root = "{{DIR}}/pub"`, `root = "{{DIR}}/pub"`+"\nmax_sessions = 1", 1)
	a := startServer(t, hostA, cfg)
	a.dial(client1, "bob", testPass)        // bob's one session
	a.dial(client1, "anonymous", "x@y.org") // anonymous's one session
	// Anonymous has no password to tell: a full public server does not
	// ban the visitors it turns away.
	for i := 0; i < 3; i++ {
		expectCode(t, a.dial("127.0.0.14", "", "").Login("anonymous", "x@y.org"), 530, "")
	}
	if g := readGreeting(t, a.addr, "127.0.0.14"); !strings.HasPrefix(g, "220") {
		t.Fatalf("anonymous refused for max_sessions three times: banned (%q)", g)
	}
	for _, tc := range []struct{ name, from, user string }{
		{"allowed_ips", "127.0.0.12", "alice"},
		{"max_sessions", "127.0.0.13", "bob"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c := a.dial(tc.from, "", "")
			expectCode(t, c.Login(tc.user, "wrong"), 530, "")
			c = a.dial(tc.from, "", "")
			expectCode(t, c.Login(tc.user, testPass), 530, "")
			// Two refusals from one IP with max_login_failures = 2: banned,
			// as after two wrong passwords.
			if g := readGreeting(t, a.addr, tc.from); !strings.HasPrefix(g, "421") {
				t.Fatalf("a wrong then the right password, both refused (%s), from %s: not banned (%q): the ban tells the right password", tc.name, tc.from, g)
			}
		})
	}
}

// TestRedteamFindingReceiveTokenFileOracle: a receive token "reads
// nothing ... beyond whether a directory exists". But CWD to a file
// answered "Not a Directory" where a missing name got "CD issue: ... no
// such file", and MFMT set the time of any existing file (213) where a
// missing one got 550: a partner with a receive token for a drop
// directory could tell which files the others had left there, and the
// token for one file whether that file was there. Now both answers are
// the same for a file and for nothing, and MFMT works only on what the
// login itself wrote.
func TestRedteamFindingReceiveTokenFileOracle(t *testing.T) {
	a := tokenServer(t, t.TempDir())
	root := a.root("alice")
	writeFile(t, filepath.Join(root, "incoming/old.bin"), []byte("old"))
	writeFile(t, filepath.Join(root, "drop/f.bin"), []byte("old"))
	for _, tc := range []struct{ scope, present, absent string }{
		{"/incoming/", "/incoming/old.bin", "/incoming/none.bin"},
		{"/drop/f.bin", "/drop/f.bin", ""},
	} {
		t.Run(tc.scope, func(t *testing.T) {
			raw := mintToken(t, a, "-user", "alice", "-path", tc.scope, "-fxp", "receive", "-ttl", "1h", "-uses", "5")
			if tc.absent == "" { // a token for one file: ask with and without it
				if err := os.Remove(filepath.Join(root, tc.present)); err != nil {
					t.Fatal(err)
				}
			}
			ask := func(p string) []string {
				c, err := tokenLogin(t, a, raw)
				if err != nil {
					t.Fatal(err)
				}
				var out []string
				for _, cmd := range []string{"CWD " + p, "MFMT 20200101000000 " + p} {
					code, msg, err := c.Cmd("%s", cmd)
					if err != nil {
						t.Fatal(err)
					}
					out = append(out, fmt.Sprintf("%d %s", code, strings.ReplaceAll(strings.ReplaceAll(msg, p, "PATH"), strings.TrimPrefix(p, "/"), "PATH")))
				}
				return out
			}
			var absent []string
			if tc.absent != "" {
				absent = ask(tc.absent)
			} else {
				absent = ask(tc.present)
				writeFile(t, filepath.Join(root, tc.present), []byte("old"))
			}
			present := ask(tc.present)
			for i := range present {
				if present[i] != absent[i] {
					t.Errorf("a receive token tells a file from nothing: %q there, %q when absent", present[i], absent[i])
				}
			}
			fi, err := os.Stat(filepath.Join(root, tc.present))
			if err != nil {
				t.Fatal(err)
			}
			if fi.ModTime().Year() == 2020 {
				t.Errorf("MFMT with a receive token set the time of a file it did not write")
			}
			// What the login wrote itself, it may date.
			c, err := tokenLogin(t, a, raw)
			if err != nil {
				t.Fatal(err)
			}
			if _, err := c.Stor(tc.present, strings.NewReader("new")); err != nil {
				t.Fatalf("STOR: %v", err)
			}
			if _, err := c.Expect(213, "MFMT 20200101000000 %s", tc.present); err != nil {
				t.Fatalf("MFMT of the file just stored: %v", err)
			}
		})
	}
}

// TestRedteamFindingRefusedRestKeepsOffset: a REST that ftpd refuses
// (501: not a decimal offset) set no offset, but the one of an earlier
// REST stayed set in the FTP library: after "REST 3", "REST x" (501) the
// client's RETR started at byte 3, and its STOR (expected to replace the
// file) wrote in place from byte 3, keeping the old file's first bytes.
// A refused REST now leaves no offset at all.
func TestRedteamFindingRefusedRestKeepsOffset(t *testing.T) {
	a := startServer(t, hostA, basicConfig("", ""))
	root := a.root("alice")
	writeFile(t, filepath.Join(root, "f.txt"), []byte("0123456789"))
	c := a.dial(client1, "alice", testPass)
	for _, bad := range []string{"x", "-1", "+3", "3 3", ""} {
		if _, err := c.Expect(350, "REST 3"); err != nil {
			t.Fatal(err)
		}
		if _, err := c.Expect(501, "REST %s", bad); err != nil {
			t.Fatalf("REST %q: %v", bad, err)
		}
		var got bytes.Buffer
		if _, err := c.Retr("f.txt", &got); err != nil {
			t.Fatal(err)
		}
		if got.String() != "0123456789" {
			t.Fatalf("RETR after REST 3 and a refused REST %q: %q, want the whole file", bad, got.String())
		}
	}
	if _, err := c.Expect(350, "REST 3"); err != nil {
		t.Fatal(err)
	}
	if _, err := c.Expect(501, "REST junk"); err != nil {
		t.Fatal(err)
	}
	if _, err := c.Stor("f.txt", strings.NewReader("new")); err != nil {
		t.Fatal(err)
	}
	if got, _ := os.ReadFile(filepath.Join(root, "f.txt")); string(got) != "new" {
		t.Fatalf("STOR after REST 3 and a refused REST: the file holds %q, want \"new\"", got)
	}
	// A REST that is accepted still works.
	if _, err := c.Expect(350, "REST 1"); err != nil {
		t.Fatal(err)
	}
	var got bytes.Buffer
	if _, err := c.Retr("f.txt", &got); err != nil || got.String() != "ew" {
		t.Fatalf("RETR after REST 1: %q %v", got.String(), err)
	}
}

// TestRedteamFindingTokenAncestorFacts: "directories above [the token's
// path] can be entered (CWD) but not listed". But MDTM, SIZE and MLST of
// such a directory gave its real facts: its modification time tells when
// anything was last added, removed or renamed there (another partner's
// upload in the user's root). Now a directory above the path shows only
// that it is a directory.
func TestRedteamFindingTokenAncestorFacts(t *testing.T) {
	a := tokenServer(t, t.TempDir())
	root := a.root("alice")
	writeFile(t, filepath.Join(root, "a/f.bin"), []byte("data"))
	when := time.Date(2001, 2, 3, 4, 5, 6, 0, time.UTC)
	for _, d := range []string{root, filepath.Join(root, "a")} {
		if err := os.Chtimes(d, when, when); err != nil {
			t.Fatal(err)
		}
	}
	c, err := tokenLogin(t, a, mintToken(t, a, "-user", "alice", "-path", "/a/f.bin", "-fxp", "send", "-ttl", "1h"))
	if err != nil {
		t.Fatal(err)
	}
	for _, cmd := range []string{"MDTM /", "MDTM /a", "MLST /", "MLST /a", "MLST"} {
		code, msg, err := c.Cmd("%s", cmd)
		if err != nil {
			t.Fatal(err)
		}
		if strings.Contains(msg, "2001") {
			t.Errorf("%s with a token for /a/f.bin: %d %q: the date of a directory above it", cmd, code, msg)
		}
	}
	// The file itself keeps its facts, and CWD still works.
	if _, err := c.Expect(213, "MDTM /a/f.bin"); err != nil {
		t.Fatal(err)
	}
	if _, err := c.Expect(250, "CWD /a"); err != nil {
		t.Fatal(err)
	}
}

package integration

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/ftpd/ftpd/ftpclient"
)

// fxpResult is how one server-to-server copy ended on each side.
type fxpResult struct {
	portErr          error // PORT/EPRT refused (nothing else was sent)
	srcCode, dstCode int   // final replies (0 if none)
	srcMsg, dstMsg   string
}

func (r fxpResult) ok() bool { return r.portErr == nil && r.srcCode == 226 && r.dstCode == 226 }

func (r fxpResult) String() string {
	if r.portErr != nil {
		return "port refused: " + r.portErr.Error()
	}
	return fmt.Sprintf("src %d %q, dst %d %q", r.srcCode, r.srcMsg, r.dstCode, r.dstMsg)
}

// fxpCopy copies srcPath on src's server to dstPath on dst's server, the
// data flowing directly between the servers. passiveSrc picks which side
// gets PASV (EPSV/EPRT when extended).
func fxpCopy(t testing.TB, src, dst *ftpclient.Conn, srcPath, dstPath string, passiveSrc, extended bool) fxpResult {
	t.Helper()
	passive := "PASV"
	if extended {
		passive = "EPSV"
	}
	return fxpCopyWith(t, src, dst, srcPath, dstPath, passiveSrc, passive)
}

// fxpCopyWith is fxpCopy with the passive side's command: PASV, EPSV, or
// CPSV (PASV whose server then takes the TLS client role).
func fxpCopyWith(t testing.TB, src, dst *ftpclient.Conn, srcPath, dstPath string, passiveSrc bool, passive string) fxpResult {
	t.Helper()
	pasvSide, portSide := dst, src
	if passiveSrc {
		pasvSide, portSide = src, dst
	}
	extended := passive == "EPSV"
	var addr = mustAP("0.0.0.0:0")
	var err error
	switch passive {
	case "EPSV":
		addr, err = pasvSide.Epsv()
	case "CPSV":
		var msg string
		if msg, err = pasvSide.Expect(227, "CPSV"); err == nil {
			addr, err = ftpclient.ParsePASV(msg)
		}
	default:
		addr, err = pasvSide.Pasv()
	}
	if err != nil {
		t.Fatalf("passive side: %v", err)
	}
	if err := portSide.Port(addr, extended); err != nil {
		return fxpResult{portErr: err}
	}
	if err := dst.Send("STOR %s", dstPath); err != nil {
		t.Fatal(err)
	}
	if err := src.Send("RETR %s", srcPath); err != nil {
		t.Fatal(err)
	}
	// As an FXP client does: once one side has failed, ABOR the other,
	// which may be waiting for a data connection that will never come.
	type final struct {
		src  bool
		code int
		msg  string
	}
	finals := make(chan final, 2)
	read := func(c *ftpclient.Conn, isSrc bool) {
		code, msg, err := finalReply(c)
		if err != nil {
			code, msg = 0, "read reply: "+err.Error()
		}
		finals <- final{isSrc, code, msg}
	}
	go read(src, true)
	go read(dst, false)
	var res fxpResult
	set := func(f final) {
		if f.src {
			res.srcCode, res.srcMsg = f.code, f.msg
		} else {
			res.dstCode, res.dstMsg = f.code, f.msg
		}
	}
	first := <-finals
	set(first)
	if first.code != 226 {
		other := src
		if first.src {
			other = dst
		}
		if err := other.Send("ABOR"); err != nil {
			t.Fatal(err)
		}
		second := <-finals
		set(second)
		// The ABOR's own reply follows the transfer's.
		if !strings.Contains(second.msg, "ABOR") {
			if _, _, err := finalReply(other); err != nil {
				t.Fatal(err)
			}
		}
	} else {
		set(<-finals)
	}
	return res
}

// fxpPair starts A and B with the given [fxp] tables (and extra user
// settings for alice, appended to her [[users]] entry).
func fxpPair(t testing.TB, fxpA, fxpB, aliceA, aliceB string) (*instance, *instance) {
	t.Helper()
	a := startServer(t, hostA, pairConfig(fxpA, aliceA))
	b := startServer(t, hostB, pairConfig(fxpB, aliceB))
	return a, b
}

func pairConfig(fxp, alice string) string {
	return `
[server]
listen = "{{HOST}}:0"

` + fxp + `

[[users]]
name = "alice"
password_hash = "` + testHash + `"
root = "{{DIR}}/alice"
` + alice + `

[[users]]
name = "anonymous"
root = "{{DIR}}/pub"
`
}

// fxpOn allows FXP with the other servers of the tests only, each named by
// its exact address: active data connections leave from a server's own
// control address.
const fxpOn = `
[fxp]
enabled = true
peers = [{{PEERS}}]
`

func TestFXPBothDirectionsBothPassiveSides(t *testing.T) {
	a, b := fxpPair(t, fxpOn, fxpOn, "", "")
	data := randomBytes(t, 20<<20)
	writeFile(t, filepath.Join(a.root("alice"), "a.bin"), data)
	writeFile(t, filepath.Join(b.root("alice"), "b.bin"), data)
	ca := a.dial(client1, "alice", testPass)
	cb := b.dial(client1, "alice", testPass)
	for _, tc := range []struct {
		name       string
		passiveSrc bool
		extended   bool
	}{{"pasv-on-source", true, false}, {"pasv-on-destination", false, false}, {"epsv-on-source", true, true}, {"epsv-on-destination", false, true}} {
		t.Run("A-to-B/"+tc.name, func(t *testing.T) {
			dst := "from-a-" + tc.name
			if r := fxpCopy(t, ca, cb, "a.bin", dst, tc.passiveSrc, tc.extended); !r.ok() {
				t.Fatal(r)
			}
			if fileSHA(t, filepath.Join(b.root("alice"), dst)) != sha(data) {
				t.Fatal("destination differs")
			}
		})
		t.Run("B-to-A/"+tc.name, func(t *testing.T) {
			dst := "from-b-" + tc.name
			if r := fxpCopy(t, cb, ca, "b.bin", dst, tc.passiveSrc, tc.extended); !r.ok() {
				t.Fatal(r)
			}
			if fileSHA(t, filepath.Join(a.root("alice"), dst)) != sha(data) {
				t.Fatal("destination differs")
			}
		})
	}
	line := b.logs.waitFor(t, `"msg":"transfer"`, `"command":"STOR"`, `"foreign":true`)
	if !strings.Contains(line, `"bytes":20971520`) {
		t.Fatalf("transfer log: %s", line)
	}
	a.logs.waitFor(t, `"msg":"foreign data connection"`, `"direction":"send"`)
}

func TestFXPDirectionPerUser(t *testing.T) {
	// alice may only send on A and only receive on B.
	a, b := fxpPair(t, fxpOn, fxpOn, `fxp = "send"`, `fxp = "receive"`)
	data := randomBytes(t, 1<<20)
	old := []byte("destination content that must survive")
	writeFile(t, filepath.Join(a.root("alice"), "a.bin"), data)
	writeFile(t, filepath.Join(b.root("alice"), "b.bin"), data)
	writeFile(t, filepath.Join(a.root("alice"), "keep.bin"), old)
	ca := a.dial(client1, "alice", testPass)
	cb := b.dial(client1, "alice", testPass)

	for _, passiveSrc := range []bool{true, false} {
		name := fmt.Sprintf("passiveSrc=%v", passiveSrc)
		t.Run("A-to-B allowed "+name, func(t *testing.T) {
			if r := fxpCopy(t, ca, cb, "a.bin", "got-"+name, passiveSrc, false); !r.ok() {
				t.Fatal(r)
			}
		})
		t.Run("B-to-A refused "+name, func(t *testing.T) {
			r := fxpCopy(t, cb, ca, "b.bin", "keep.bin", passiveSrc, false)
			if r.ok() {
				t.Fatal("B→A allowed")
			}
			// Both sides refuse: B may not send, A may not receive.
			if !strings.Contains(r.srcMsg+r.dstMsg, "not allowed for alice") {
				t.Fatalf("refusal does not say why: %v", r)
			}
			if got, _ := os.ReadFile(filepath.Join(a.root("alice"), "keep.bin")); !bytes.Equal(got, old) {
				t.Fatalf("refused FXP changed the destination: %q", got)
			}
		})
	}
	// With PASV on B, A refuses to dial for STOR; with PASV on A, B
	// refuses to dial for RETR: each before any connection exists.
	a.logs.waitFor(t, `"msg":"data connection refused"`, `"detail":"FXP receive not allowed for alice"`, `"command":"STOR"`)
	b.logs.waitFor(t, `"msg":"data connection refused"`, `"detail":"FXP send not allowed for alice"`, `"command":"RETR"`)
}

// TestFXPPolicyMatrix checks each rule on the destination side (B): B
// refuses to receive, and the file there stays as it was. The source A
// always allows.
func TestFXPPolicyMatrix(t *testing.T) {
	cases := []struct {
		name    string
		fxpB    string
		aliceB  string
		user    string // on both servers
		allowed bool
		reason  string // refusal reason logged by B
		text    string // in B's reply
	}{
		{"fxp disabled", "", "", "alice", false, "fxp_disabled", "FXP is disabled"},
		{"user fxp none", fxpOn, `fxp = "none"`, "alice", false, "direction", "not allowed for alice"},
		{"user fxp send only", fxpOn, `fxp = "send"`, "alice", false, "direction", "FXP receive not allowed for alice"},
		{"peer outside peers", "[fxp]\nenabled = true\npeers = [\"127.0.0.200/32\"]\n", "", "alice", false, "peers_list", "not an allowed FXP peer of this server"},
		{"peer inside peers", "[fxp]\nenabled = true\npeers = [\"127.0.0.2/32\"]\n", "", "alice", true, "", ""},
		{"user fxp_peers narrows", fxpOn, `fxp_peers = ["127.0.0.200/32"]`, "alice", false, "user_peers_list", "not an allowed FXP peer for alice"},
		{"user fxp_peers allows", fxpOn, `fxp_peers = ["127.0.0.2/32"]`, "alice", true, "", ""},
		{"client outside clients", "[fxp]\nenabled = true\nclients = [\"127.0.0.11/32\"]\n", "", "alice", false, "clients_list", "client 127.0.0.10 may not start FXP"},
		{"client inside clients", "[fxp]\nenabled = true\nclients = [\"127.0.0.10/32\"]\n", "", "alice", true, "", ""},
		{"anonymous refused", fxpOn, "", "anonymous", false, "anonymous", "anonymous"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			a, b := fxpPair(t, fxpOn+"allow_anonymous = true\n", tc.fxpB, "", tc.aliceB)
			data := randomBytes(t, 256<<10)
			old := []byte("old destination content")
			writeFile(t, filepath.Join(a.root(tc.user), "src.bin"), data)
			writeFile(t, filepath.Join(b.root(tc.user), "dst.bin"), old)
			if tc.user == "anonymous" {
				t.Skip("covered by TestFXPAnonymous (anonymous is read-only, so it can only be a source)")
			}
			ca := a.dial(client1, tc.user, testPass)
			cb := b.dial(client1, tc.user, testPass)
			for _, passiveSrc := range []bool{true, false} {
				r := fxpCopy(t, ca, cb, "src.bin", "dst.bin", passiveSrc, false)
				got, _ := os.ReadFile(filepath.Join(b.root(tc.user), "dst.bin"))
				if tc.allowed {
					if !r.ok() || !bytes.Equal(got, data) {
						t.Fatalf("passiveSrc=%v: want allowed: %v", passiveSrc, r)
					}
					continue
				}
				if r.ok() {
					t.Fatalf("passiveSrc=%v: want refused", passiveSrc)
				}
				if !bytes.Equal(got, old) {
					t.Fatalf("passiveSrc=%v: refused FXP changed the destination", passiveSrc)
				}
				msg := r.dstMsg
				if r.portErr != nil {
					msg = r.portErr.Error()
				}
				if !strings.Contains(msg, tc.text) {
					t.Fatalf("passiveSrc=%v: reply %q lacks %q (%v)", passiveSrc, msg, tc.text, r)
				}
			}
			if !tc.allowed {
				b.logs.waitFor(t, `"reason":"`+tc.reason+`"`)
			}
		})
	}
}

// TestFXPAnonymous: anonymous is read-only, so it can only be an FXP
// source; allow_anonymous decides whether it may.
func TestFXPAnonymous(t *testing.T) {
	for _, allow := range []bool{false, true} {
		t.Run(fmt.Sprintf("allow_anonymous=%v", allow), func(t *testing.T) {
			// allow_anonymous alone is not enough: anonymous's own fxp
			// setting defaults to "none" and must allow sending too.
			fxpA := fxpOn + fmt.Sprintf("allow_anonymous = %v\n", allow)
			a := startServer(t, hostA, strings.Replace(pairConfig(fxpA, ""), "name = \"anonymous\"", "name = \"anonymous\"\nfxp = \"send\"", 1))
			b := startServer(t, hostB, pairConfig(fxpOn, ""))
			data := randomBytes(t, 128<<10)
			writeFile(t, filepath.Join(a.root("anonymous"), "pub.bin"), data)
			ca := a.dial(client1, "anonymous", "guest@")
			cb := b.dial(client1, "alice", testPass)
			for _, passiveSrc := range []bool{true, false} {
				dst := fmt.Sprintf("pub-%v.bin", passiveSrc)
				r := fxpCopy(t, ca, cb, "pub.bin", dst, passiveSrc, false)
				if r.ok() != allow {
					t.Fatalf("passiveSrc=%v: ok=%v, want %v: %v", passiveSrc, r.ok(), allow, r)
				}
				_, err := os.Stat(filepath.Join(b.root("alice"), dst))
				if allow && (err != nil || fileSHA(t, filepath.Join(b.root("alice"), dst)) != sha(data)) {
					t.Fatalf("passiveSrc=%v: copy differs", passiveSrc)
				}
				if !allow {
					msg := r.srcMsg
					if r.portErr != nil {
						msg = r.portErr.Error()
					}
					if !strings.Contains(msg, "anonymous") {
						t.Fatalf("refusal does not say why: %v", r)
					}
				}
			}
		})
	}
}

func TestPortAndEprtRefusals(t *testing.T) {
	a := startServer(t, hostA, basicConfig("", fxpOn))
	off := startServer(t, hostB, basicConfig("", ""))
	c := a.dial(client1, "alice", testPass)
	cOff := off.dial(client1, "alice", testPass)
	cases := []struct {
		conn *ftpclient.Conn
		cmd  string
		text string
	}{
		{c, "PORT 127,0,0,10,0,21", "port 21"},
		{c, "PORT 127,0,0,10,0,0", "port 0"},
		{c, "PORT 127,0,0,3,3,255", "port 1023"},
		{c, "EPRT |1|127.0.0.10|21|", "below 1024"},
		{c, "EPRT |1|127.0.0.3|0|", ""},
		{c, "EPRT |2|::1|22|", "port 22"},
		{cOff, "PORT 127,0,0,99,156,64", "FXP is disabled"},
		{cOff, "EPRT |1|127.0.0.99|40000|", "foreign data address 127.0.0.99"},
		{cOff, "EPRT |2|::1|40000|", "foreign data address ::1"},
	}
	for _, tc := range cases {
		msg, err := tc.conn.Expect(501, "%s", tc.cmd)
		if err != nil {
			// The library may reject port 0 while parsing, also with 501.
			t.Errorf("%s: %v", tc.cmd, err)
			continue
		}
		if !strings.Contains(msg, tc.text) {
			t.Errorf("%s: reply %q lacks %q", tc.cmd, msg, tc.text)
		}
	}
	// Allowed forms still work: own address, and a foreign one with FXP on.
	for _, cmd := range []string{"PORT 127,0,0,10,156,64", "EPRT |1|127.0.0.10|40000|", "PORT 127,0,0,3,156,64"} {
		if _, err := c.Expect(200, "%s", cmd); err != nil {
			t.Errorf("%s: %v", cmd, err)
		}
	}
	a.logs.waitFor(t, `"msg":"data connection refused"`, `"reason":"privileged_port"`, `"port":21`, `"command":"PORT"`)
	off.logs.waitFor(t, `"reason":"fxp_disabled"`, `"peer":"127.0.0.99"`, `"command":"PORT"`)
}

func TestListingToForeignAddressRefused(t *testing.T) {
	a := startServer(t, hostA, basicConfig("", "[fxp]\nenabled = true\npeers = [\"127.0.0.12/32\"]\n"))
	writeFile(t, filepath.Join(a.root("alice"), "secret-name.txt"), []byte("x"))
	c := a.dial(client1, "alice", testPass)
	// A listener on another loopback address stands in for the victim.
	victim := listenLocal(t, "127.0.0.12")
	got := make(chan string, 1)
	go func() {
		conn, err := victim.Accept()
		if err != nil {
			got <- ""
			return
		}
		defer conn.Close()
		b, _ := io.ReadAll(io.LimitReader(conn, 1<<16))
		got <- string(b)
	}()
	if err := c.Port(mustAP(victim.Addr().String()), false); err != nil {
		t.Fatal(err) // FXP is on: the PORT itself is allowed
	}
	for _, cmd := range []string{"LIST", "NLST", "MLSD"} {
		msg, err := c.Expect(425, "%s", cmd)
		if err != nil || !strings.Contains(msg, "listings are never sent to a foreign address") {
			t.Fatalf("%s: %q %v", cmd, msg, err)
		}
	}
	victim.Close()
	if s := <-got; strings.Contains(s, "secret-name") {
		t.Fatalf("listing reached the foreign address: %q", s)
	}
	a.logs.waitFor(t, `"reason":"foreign_listing"`, `"command":"LIST"`)
	// A passive listing from another address is refused by the gate: the
	// stranger is closed, the real client still gets its listing.
	list, err := c.List("NLST", "")
	if err != nil || len(list) != 1 {
		t.Fatalf("own listing after refusals: %q %v", list, err)
	}
}

func TestPassivePortTheft(t *testing.T) {
	for _, fxpTable := range []string{"", fxpOn + "peers = [\"127.0.0.3/32\"]\n"} {
		name := "fxp-off"
		if fxpTable != "" {
			name = "fxp-on-with-peers"
		}
		t.Run(name, func(t *testing.T) {
			cfg := basicConfig("", strings.Replace(fxpTable, fxpOn, "[fxp]\nenabled = true\n", 1))
			a := startServer(t, hostA, cfg)
			data := randomBytes(t, 4<<20)
			writeFile(t, filepath.Join(a.root("alice"), "loot.bin"), data)
			c := a.dial(client1, "alice", testPass)
			addr, err := c.Pasv()
			if err != nil {
				t.Fatal(err)
			}
			// The attacker (127.0.0.11) connects first.
			attacker := rawDial(t, client2, addr.String())
			stolen := drainCount(attacker)
			if err := c.Send("RETR loot.bin"); err != nil {
				t.Fatal(err)
			}
			// The attacker is closed by the gate before the real client comes.
			select {
			case n := <-stolen:
				if n != 0 {
					t.Fatalf("attacker received %d bytes", n)
				}
			case <-time.After(10 * time.Second):
				t.Fatal("attacker connection was not closed")
			}
			real := rawDial(t, client1, addr.String())
			var buf bytes.Buffer
			if _, err := io.Copy(&buf, real); err != nil && !errors.Is(err, net.ErrClosed) {
				t.Fatal(err)
			}
			code, msg, err := c.ReadReply() // 150
			if err == nil && code == 150 {
				code, msg, err = c.ReadReply()
			}
			if err != nil || code != 226 {
				t.Fatalf("final reply %d %q %v", code, msg, err)
			}
			if sha(buf.Bytes()) != sha(data) {
				t.Fatalf("real client got %d bytes, want %d", buf.Len(), len(data))
			}
			a.logs.waitFor(t, `"msg":"passive connection from a stranger closed"`, `"peer":"127.0.0.11"`, `"reason":"port_theft"`)
		})
	}
}

func TestFXPPolicyReload(t *testing.T) {
	a, b := fxpPair(t, fxpOn, "", "", "")
	data := randomBytes(t, 256<<10)
	writeFile(t, filepath.Join(a.root("alice"), "src.bin"), data)
	ca := a.dial(client1, "alice", testPass)
	cb := b.dial(client1, "alice", testPass)
	if r := fxpCopy(t, ca, cb, "src.bin", "dst.bin", true, false); r.ok() {
		t.Fatal("allowed while B has FXP off")
	}
	// Turn FXP on in B's file and reload: the same session's next transfer
	// follows the new policy.
	b.editConfig(t, replaceOnce(t, "[[users]]", strings.ReplaceAll(fxpOn, "{{PEERS}}", peersOf(hostB))+"\n[[users]]"))
	if r := fxpCopy(t, ca, cb, "src.bin", "dst.bin", true, false); !r.ok() {
		t.Fatalf("after reload: %v", r)
	}
	if fileSHA(t, filepath.Join(b.root("alice"), "dst.bin")) != sha(data) {
		t.Fatal("copy differs")
	}
}

package integration

// One-time FXP links (issue 18): ftpd token and SITE TOKEN, used by fxp
// and by a plain client, between in-process servers.

import (
	"encoding/hex"
	"net/url"
	"os"
	"os/user"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/ftpd/ftpd/conf"
	"github.com/ftpd/ftpd/ftpclient"
	"github.com/ftpd/ftpd/server"
	"github.com/ftpd/ftpd/token"
)

// tokenServer starts A with token logins (key in keyDir, shared across
// restarts), alice (read-write) and carol (read-only), FXP on.
func tokenServer(t *testing.T, keyDir string) *instance {
	t.Helper()
	return startServer(t, hostA, tokenConfig(keyDir, ""))
}

// tokenConfig is tokenServer's config; extra goes before [tokens]'s keys
// (other tables).
func tokenConfig(keyDir, extra string) string {
	return strings.Replace(pairConfig(fxpOn, ""), "[[users]]",
		extra+"\n[tokens]\nkey_file = \""+filepath.Join(keyDir, "token.key")+"\"\n\n[[users]]", 1) + `
[[users]]
name = "carol"
password = "` + testPass + `"
root = "{{DIR}}/carol"
read_only = true
`
}

// mintToken runs the ftpd binary's token command against in's config.
func mintToken(t *testing.T, in *instance, args ...string) string {
	t.Helper()
	out, errOut, code := binRun(t, t.TempDir(), "", append([]string{"token", "-config", in.config, "-host", in.addr}, args...)...)
	if code != 0 {
		t.Fatalf("ftpd token: exit %d\n%s", code, errOut)
	}
	return strings.TrimSpace(out)
}

// tokenLogin logs in with a token URL's user and password; the reply
// error, if any.
func tokenLogin(t *testing.T, in *instance, raw string) (*ftpclient.Conn, error) {
	t.Helper()
	u, err := url.Parse(raw)
	if err != nil {
		t.Fatal(err)
	}
	c := in.dial(client1, "", "")
	pass, _ := u.User.Password()
	return c, c.Login(u.User.Username(), pass)
}

func TestTokenOneTimeFXP(t *testing.T) {
	keyDir := t.TempDir()
	a := tokenServer(t, keyDir)
	b := startServer(t, hostB, pairConfig(fxpOn, ""))
	data := randomBytes(t, 512<<10)
	writeFile(t, filepath.Join(a.root("alice"), "releases/x.iso"), data)
	writeFile(t, filepath.Join(a.root("alice"), "releases/other.iso"), []byte("other"))
	writeFile(t, filepath.Join(a.root("alice"), "private.txt"), []byte("secret"))
	if err := os.MkdirAll(b.root("alice"), 0o755); err != nil {
		t.Fatal(err)
	}

	// A one-use send token, used by fxp unchanged: works once.
	link := mintToken(t, a, "-user", "alice", "-path", "/releases/x.iso", "-fxp", "send", "-ttl", "1h")
	if !strings.HasPrefix(link, "ftp://alice.t.") {
		t.Fatalf("link %q", link)
	}
	out, errOut, code := fxpRun(t, nil, "copy", "--bind", client1, "--timeout", "10s", link, fxpURL(b, "isos/"))
	if code != 0 {
		t.Fatalf("fxp copy with the link: exit %d\n%s\n%s", code, out, errOut)
	}
	if fileSHA(t, filepath.Join(b.root("alice"), "isos/x.iso")) != sha(data) {
		t.Fatal("copy differs")
	}
	a.logs.waitFor(t, `"msg":"token login"`, `"path":"/releases/x.iso"`, `"direction":"send"`)
	_, err := tokenLogin(t, a, link)
	expectCode(t, err, 530, "")
	a.logs.waitFor(t, `"msg":"token refused"`, `"reason":"spent"`)

	// Scope: only that file, only that direction.
	link = mintToken(t, a, "-user", "alice", "-path", "/releases/x.iso", "-fxp", "send", "-ttl", "1h", "-uses", "5")
	c, err := tokenLogin(t, a, link)
	if err != nil {
		t.Fatal(err)
	}
	if n, err := c.Size("/releases/x.iso"); err != nil || n != int64(len(data)) {
		t.Fatalf("SIZE in scope: %d %v", n, err)
	}
	if h, err := c.Hash("SHA-256", "/releases/x.iso"); err != nil || h != sha(data) {
		t.Fatalf("HASH in scope: %q %v", h, err)
	}
	if _, err := c.Expect(250, "CWD /releases"); err != nil {
		t.Fatalf("CWD above the scope: %v", err)
	}
	var sink strings.Builder
	if _, err := c.Retr("/releases/x.iso", &sink); err != nil || sink.Len() != len(data) {
		t.Fatalf("RETR in scope: %d bytes, %v", sink.Len(), err)
	}
	_, err = c.Retr("/releases/other.iso", &sink)
	expectCode(t, err, 550, "")
	_, err = c.Retr("/private.txt", &sink)
	expectCode(t, err, 550, "")
	_, err = c.Stor("/releases/x.iso", strings.NewReader("overwrite"))
	expectCode(t, err, 550, "")
	if _, err := c.List("MLSD", "/releases"); err == nil {
		t.Fatal("a file token listed its directory")
	}
	if _, err := c.Expect(250, "DELE /releases/x.iso"); err == nil {
		t.Fatal("a send token deleted its file")
	}
	if fileSHA(t, filepath.Join(a.root("alice"), "releases/x.iso")) != sha(data) {
		t.Fatal("the file changed under a send token")
	}
	// A token login cannot mint tokens.
	if msg, err := c.Expect(200, "SITE TOKEN /releases/ both 1h"); err == nil {
		t.Fatalf("token login minted: %s", msg)
	}

	// A receive token for a subtree: stores there, reads nothing.
	link = mintToken(t, a, "-user", "alice", "-path", "/incoming/", "-fxp", "receive", "-ttl", "1h")
	if err := os.MkdirAll(filepath.Join(a.root("alice"), "incoming"), 0o755); err != nil {
		t.Fatal(err)
	}
	c, err = tokenLogin(t, a, link)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := c.Stor("/incoming/up.bin", strings.NewReader("payload")); err != nil {
		t.Fatalf("STOR in a receive subtree: %v", err)
	}
	_, err = c.Retr("/incoming/up.bin", &sink)
	expectCode(t, err, 550, "")
	if _, err := c.Expect(257, "MKD /incoming/sub"); err != nil {
		t.Fatalf("MKD in a receive subtree: %v", err)
	}
	if _, err := c.Expect(213, "MFMT 20200101000000 /incoming/up.bin"); err != nil {
		t.Fatalf("MFMT in a receive subtree: %v", err)
	}
	if _, err := c.Expect(257, "MKD /elsewhere"); err == nil {
		t.Fatal("MKD outside the subtree")
	}
	_, err = c.Stor("/outside.bin", strings.NewReader("x"))
	expectCode(t, err, 550, "")
	if got, _ := os.ReadFile(filepath.Join(a.root("alice"), "incoming/up.bin")); string(got) != "payload" {
		t.Fatalf("stored %q", got)
	}

	// Expired: 530.
	link = mintToken(t, a, "-user", "alice", "-path", "/releases/x.iso", "-fxp", "send", "-ttl", "1s")
	time.Sleep(1100 * time.Millisecond)
	_, err = tokenLogin(t, a, link)
	expectCode(t, err, 530, "")
	a.logs.waitFor(t, `"msg":"token refused"`, `"reason":"expired"`)

	// A tampered token (wider path, same secret): 530.
	spent := mintToken(t, a, "-user", "alice", "-path", "/releases/x.iso", "-fxp", "send", "-ttl", "1h")
	if _, err := tokenLogin(t, a, spent); err != nil {
		t.Fatal(err)
	}
	wrongClient := mintToken(t, a, "-user", "alice", "-path", "/releases/x.iso", "-fxp", "send", "-ttl", "1h", "-client", "10.0.0.0/8")
	_, err = tokenLogin(t, a, wrongClient)
	expectCode(t, err, 530, "")
	a.logs.waitFor(t, `"msg":"token refused"`, `"reason":"scope"`)

	// Still spent after a restart (same key file, new server).
	a2 := tokenServer(t, keyDir)
	if _, err := tokenLogin(t, a2, spent); err == nil {
		t.Fatal("a restart revived a spent token")
	}
	a2.logs.waitFor(t, `"msg":"token refused"`, `"reason":"spent"`)
}

func TestTokenSiteToken(t *testing.T) {
	a := tokenServer(t, t.TempDir())
	writeFile(t, filepath.Join(a.root("alice"), "pub/f.bin"), []byte("f"))
	writeFile(t, filepath.Join(a.root("carol"), "pub/f.bin"), []byte("f"))
	// A read-only user cannot mint a receiving token.
	carol := a.dial(client1, "carol", testPass)
	_, err := carol.Expect(200, "SITE TOKEN /pub/ receive 1h")
	expectCode(t, err, 550, "read-only")
	_, err = carol.Expect(200, "SITE TOKEN /pub/ both 1h")
	expectCode(t, err, 550, "read-only")
	msg, err := carol.Expect(200, "SITE TOKEN /pub/f.bin send 1h 2")
	if err != nil {
		t.Fatal(err)
	}
	f := strings.Fields(msg)
	if len(f) != 3 || f[0] != "TOKEN" || !strings.HasPrefix(f[1], "carol.t.") {
		t.Fatalf("SITE TOKEN reply %q", msg)
	}
	// The minted token works, for carol, read-only, twice.
	for range 2 {
		c := a.dial(client1, "", "")
		if err := c.Login(f[1], f[2]); err != nil {
			t.Fatal(err)
		}
		var sink strings.Builder
		if _, err := c.Retr("/pub/f.bin", &sink); err != nil || sink.String() != "f" {
			t.Fatalf("RETR with SITE TOKEN's token: %q %v", sink.String(), err)
		}
	}
	c := a.dial(client1, "", "")
	expectCode(t, c.Login(f[1], f[2]), 530, "")
	// Bad arguments: 501.
	alice := a.dial(client1, "alice", testPass)
	for _, bad := range []string{"SITE TOKEN", "SITE TOKEN /x sideways 1h", "SITE TOKEN /x send forever", "SITE TOKEN /x send 1h 0", "SITE TOKEN /x send 1h 1 notacidr"} {
		if _, err := alice.Expect(200, "%s", bad); err == nil {
			t.Fatalf("%q accepted", bad)
		}
	}
}

// testClock is an injected clock the test moves by hand.
type testClock struct {
	mu  sync.Mutex
	now time.Time
}

func (c *testClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

func (c *testClock) Add(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.now = c.now.Add(d)
}

// tokenServerAt is tokenServer on an injected clock, without a
// per-IP connection limit (the tests log in many times in a row).
func tokenServerAt(t *testing.T, keyDir string, clock *testClock) *instance {
	t.Helper()
	return startServerWith(t, hostA, tokenConfig(keyDir, "[limits]\nmax_connections_per_ip = 0\n"), server.Options{Now: clock.Now})
}

// siteToken mints a token with SITE TOKEN; it returns the login and
// password.
func siteToken(t *testing.T, c *ftpclient.Conn, args string) (string, string) {
	t.Helper()
	msg, err := c.Expect(200, "SITE TOKEN %s", args)
	if err != nil {
		t.Fatalf("SITE TOKEN %s: %v", args, err)
	}
	f := strings.Fields(msg)
	if len(f) != 3 || f[0] != "TOKEN" {
		t.Fatalf("SITE TOKEN reply %q", msg)
	}
	return f[1], f[2]
}

// countLines counts the lines of a file (0 when it does not exist).
func countLines(t *testing.T, file string) int {
	t.Helper()
	data, err := os.ReadFile(file)
	if err != nil && !os.IsNotExist(err) {
		t.Fatal(err)
	}
	return strings.Count(string(data), "\n")
}

// Issue 22: the spent file cannot grow without bound under a SITE TOKEN +
// login loop. Each token expires before the next is minted (the injected
// clock moves 2 minutes per round, TTL 1 minute); the file is compacted
// (expired entries dropped) whenever it reaches max(64, 2 x the entries
// live at the last compaction) lines, so after round i it holds exactly
// (i-1)%64+1 lines, never more than 64.
func TestTokenSpentFileBounded(t *testing.T) {
	keyDir := t.TempDir()
	clock := &testClock{now: time.Unix(1_800_000_000, 0)}
	a := tokenServerAt(t, keyDir, clock)
	writeFile(t, filepath.Join(a.root("alice"), "f.bin"), []byte("f"))
	alice := a.dial(client1, "alice", testPass)
	spentFile := filepath.Join(keyDir, "token.key.spent")
	const rounds = 200
	for i := 1; i <= rounds; i++ {
		login, pass := siteToken(t, alice, "/f.bin send 1m")
		c := a.dial(client2, "", "")
		if err := c.Login(login, pass); err != nil {
			t.Fatalf("round %d: token login: %v", i, err)
		}
		_ = c.Quit()
		if n, want := countLines(t, spentFile), (i-1)%64+1; n != want {
			t.Fatalf("round %d: spent file has %d lines, want %d", i, n, want)
		}
		clock.Add(2 * time.Minute)
	}
	// A spent, unexpired token stays spent through compactions (70
	// rounds: at least one more).
	login, pass := siteToken(t, alice, "/f.bin send 24h")
	c := a.dial(client2, "", "")
	if err := c.Login(login, pass); err != nil {
		t.Fatal(err)
	}
	for range 70 {
		l, p := siteToken(t, alice, "/f.bin send 1m")
		if err := a.dial(client2, "", "").Login(l, p); err != nil {
			t.Fatal(err)
		}
		clock.Add(2 * time.Minute)
	}
	expectCode(t, a.dial(client2, "", "").Login(login, pass), 530, "")
	a.logs.waitFor(t, `"msg":"token refused"`, `"reason":"spent"`)
}

// Issue 22: SITE TOKEN is rate-limited per user: a burst of 10, then one
// every 6 seconds (the defaults of [tokens] mint_burst and
// mint_interval); another user has a budget of their own.
func TestTokenSiteTokenRateLimit(t *testing.T) {
	clock := &testClock{now: time.Unix(1_800_000_000, 0)}
	a := tokenServerAt(t, t.TempDir(), clock)
	alice := a.dial(client1, "alice", testPass)
	for range 10 {
		siteToken(t, alice, "/f.bin send 1h")
	}
	_, err := alice.Expect(200, "SITE TOKEN /f.bin send 1h")
	expectCode(t, err, 450, "rate")
	clock.Add(5 * time.Second)
	_, err = alice.Expect(200, "SITE TOKEN /f.bin send 1h")
	expectCode(t, err, 450, "rate")
	clock.Add(time.Second)
	siteToken(t, alice, "/f.bin send 1h")
	_, err = alice.Expect(200, "SITE TOKEN /f.bin send 1h")
	expectCode(t, err, 450, "rate")
	a.logs.waitFor(t, `"msg":"SITE TOKEN rate-limited"`, `"user":"alice"`)
	// Another session of the same user shares the budget; another user
	// does not.
	_, err = a.dial(client2, "alice", testPass).Expect(200, "SITE TOKEN /f.bin send 1h")
	expectCode(t, err, 450, "rate")
	siteToken(t, a.dial(client2, "carol", testPass), "/f.bin send 1h")
}

// writeKey replaces the key file with a new random key (mode perm), as
// an operator rotating it does: a new file renamed over the old one.
func writeKey(t *testing.T, file string, perm os.FileMode) []byte {
	t.Helper()
	key := randomBytes(t, 32)
	tmp := file + ".new"
	if err := os.WriteFile(tmp, []byte(hex.EncodeToString(key)+"\n"), perm); err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(tmp, perm); err != nil { // past the umask
		t.Fatal(err)
	}
	if err := os.Rename(tmp, file); err != nil {
		t.Fatal(err)
	}
	return key
}

// Issue 22: a reload re-reads key_file. Tokens signed with the previous
// key keep working until they expire (previous_key = "accept", the
// default), or stop at once with previous_key = "drop". A reload that
// cannot read the key keeps the one in use and says so.
func TestTokenKeyRotation(t *testing.T) {
	keyDir := t.TempDir()
	keyFile := filepath.Join(keyDir, "token.key")
	a := tokenServer(t, keyDir)
	writeFile(t, filepath.Join(a.root("alice"), "f.bin"), []byte("f"))
	old := mintToken(t, a, "-user", "alice", "-path", "/f.bin", "-fxp", "send", "-ttl", "1h", "-uses", "5")
	oldLogin := func() error {
		c, err := tokenLogin(t, a, old)
		if err == nil {
			c.Quit()
		}
		return err
	}
	if err := oldLogin(); err != nil {
		t.Fatal(err)
	}

	// Rotate: new file, reload.
	newKey := writeKey(t, keyFile, 0o600)
	a.reload(t)
	// SITE TOKEN signs with the new key...
	login, pass := siteToken(t, a.dial(client1, "alice", testPass), "/f.bin send 1h 3")
	if _, err := token.Verify(newKey, login, pass); err != nil {
		t.Fatalf("SITE TOKEN after the rotation is not signed with the new key: %v", err)
	}
	a.logs.waitFor(t, `"msg":"token key loaded"`, `"previous_key":"accept"`)
	// ...and both the new key's and the previous key's tokens log in.
	if err := a.dial(client1, "", "").Login(login, pass); err != nil {
		t.Fatalf("new key's token: %v", err)
	}
	if err := oldLogin(); err != nil {
		t.Fatalf("previous key's token after a rotation (previous_key = accept): %v", err)
	}

	// previous_key = "drop": the previous key's tokens stop at once.
	a.editConfig(t, replaceOnce(t, "[tokens]\n", "[tokens]\nprevious_key = \"drop\"\n"))
	expectCode(t, oldLogin(), 530, "")
	if err := a.dial(client1, "", "").Login(login, pass); err != nil {
		t.Fatalf("current key's token after previous_key = drop: %v", err)
	}

	// A key the reload cannot use (group-readable) is not taken: the key
	// in use stays, and the log says so.
	unusable := writeKey(t, keyFile, 0o644)
	a.reload(t)
	a.logs.waitFor(t, `"msg":"token key not reloaded; keeping the key in use"`, "chmod 600")
	login, pass = siteToken(t, a.dial(client1, "alice", testPass), "/f.bin send 1h")
	if _, err := token.Verify(newKey, login, pass); err != nil {
		t.Fatalf("the key in use was not kept: %v", err)
	}
	if err := a.dial(client1, "", "").Login(login, pass); err != nil {
		t.Fatal(err)
	}
	forged, secret, err := token.Mint(unusable, token.Claims{User: "alice", Path: "/f.bin", Dir: token.Send,
		Expires: time.Now().Add(time.Hour).Unix(), Uses: 1, ID: token.NewID()})
	if err != nil {
		t.Fatal(err)
	}
	expectCode(t, a.dial(client1, "", "").Login(forged, secret), 530, "")

	// Another key file: the old file's tokens stop (their spend records
	// are in the old .spent file), the new file's key signs.
	if err := os.Chmod(keyFile, 0o600); err != nil {
		t.Fatal(err)
	}
	otherDir := t.TempDir()
	a.editConfig(t, replaceOnce(t, keyFile, filepath.Join(otherDir, "other.key")))
	expectCode(t, a.dial(client1, "", "").Login(login, pass), 530, "")
	login, pass = siteToken(t, a.dial(client1, "alice", testPass), "/f.bin send 1h")
	otherKey, err := token.LoadKey(filepath.Join(otherDir, "other.key"), false)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := token.Verify(otherKey, login, pass); err != nil {
		t.Fatalf("the new key file's key does not sign: %v", err)
	}

	// A reload that would put the key inside a user's root is rejected;
	// the running key stays.
	text, err := os.ReadFile(a.config)
	if err != nil {
		t.Fatal(err)
	}
	inRoot := strings.Replace(string(text), filepath.Join(otherDir, "other.key"), filepath.Join(a.root("alice"), "k"), 1)
	if err := os.WriteFile(a.config, []byte(inRoot), 0o600); err != nil {
		t.Fatal(err)
	}
	cfg, err := conf.Load(a.config)
	if err != nil {
		t.Fatal(err)
	}
	if err := a.srv.Reload(cfg); err == nil || !strings.Contains(err.Error(), `user "alice"`) {
		t.Fatalf("reload with the key inside alice's root: %v", err)
	}
	if err := a.dial(client1, "", "").Login(login, pass); err != nil {
		t.Fatalf("the running key after a rejected reload: %v", err)
	}
}

// Issue 22: a receive token reads nothing: SIZE, MDTM, MLST, HASH, MLSD, LIST,
// NLST and STAT of a path are 550 in and around its scope, while STOR,
// APPE and MFMT still work; RNFR, DELE and RMD are 550 at once with any token.
func TestTokenReceiveReadsNothing(t *testing.T) {
	a := tokenServer(t, t.TempDir())
	root := a.root("alice")
	writeFile(t, filepath.Join(root, "incoming/old.bin"), []byte("old"))
	writeFile(t, filepath.Join(root, "drop/f.bin"), []byte("old"))
	for _, tc := range []struct{ path, file, dir string }{
		{"/incoming/", "/incoming/old.bin", "/incoming"},
		{"/drop/f.bin", "/drop/f.bin", "/drop"},
	} {
		t.Run(tc.path, func(t *testing.T) {
			c, err := tokenLogin(t, a, mintToken(t, a, "-user", "alice", "-path", tc.path, "-fxp", "receive", "-ttl", "1h"))
			if err != nil {
				t.Fatal(err)
			}
			for _, cmd := range []string{"SIZE " + tc.file, "DSIZ " + tc.file, "MDTM " + tc.file, "MLST " + tc.file, "MLST " + tc.dir,
				"STAT " + tc.file, "STAT " + tc.dir, "HASH " + tc.file, "RNFR " + tc.file, "DELE " + tc.file, "RMD " + tc.dir} {
				code, msg, err := c.Cmd("%s", cmd)
				if err != nil || code != 550 {
					t.Errorf("%s with a receive token: %d %q %v, want 550", cmd, code, msg, err)
				}
			}
			for _, verb := range []string{"MLSD", "LIST", "NLST"} {
				for _, p := range []string{tc.dir, tc.file, ""} {
					if p == "" {
						if _, err := c.Expect(250, "CWD %s", tc.dir); err != nil {
							t.Fatal(err)
						}
					}
					_, err := c.List(verb, p)
					if re, ok := err.(*ftpclient.ReplyError); !ok || re.Code != 550 {
						t.Errorf("%s %q with a receive token: %v, want 550", verb, p, err)
					}
				}
			}
			// REST would tell the size by the offsets STOR accepts.
			if code, msg, err := c.Cmd("REST 2"); err != nil || code != 550 {
				t.Errorf("REST 2 with a receive token: %d %q %v, want 550", code, msg, err)
			}
			// What an upload needs still works.
			if _, err := c.Expect(350, "REST 0"); err != nil {
				t.Fatalf("REST 0: %v", err)
			}
			if _, err := c.Stor(tc.file, strings.NewReader("new")); err != nil {
				t.Fatalf("STOR: %v", err)
			}
			if _, err := c.Appe(tc.file, strings.NewReader("+")); err != nil {
				t.Fatalf("APPE: %v", err)
			}
			if _, err := c.Expect(213, "MFMT 20200101000000 %s", tc.file); err != nil {
				t.Fatalf("MFMT: %v", err)
			}
			if got, _ := os.ReadFile(filepath.Join(root, tc.file)); string(got) != "new+" {
				t.Fatalf("stored %q", got)
			}
		})
	}
	// RNFR with a send token, and with a both token: 550 at once.
	for _, dir := range []string{"send", "both"} {
		c, err := tokenLogin(t, a, mintToken(t, a, "-user", "alice", "-path", "/incoming/", "-fxp", dir, "-ttl", "1h"))
		if err != nil {
			t.Fatal(err)
		}
		if code, msg, err := c.Cmd("RNFR /incoming/old.bin"); err != nil || code != 550 {
			t.Errorf("RNFR with a %s token: %d %q %v, want 550", dir, code, msg, err)
		}
	}
}

// Issue 22: fxp copies to a receive token for a subtree although the
// token reads nothing: fxp takes a 550 to SIZE on the destination as "no
// file yet". The token renames nothing, so fxp writes the target itself
// (--in-place; TestFXPTempRefusedWritesTarget covers a token for one
// file, where fxp falls back to that on its own).
func TestTokenFXPToReceiveToken(t *testing.T) {
	a := tokenServer(t, t.TempDir())
	b := startServer(t, hostB, pairConfig(fxpOn, ""))
	data := randomBytes(t, 256<<10)
	writeFile(t, filepath.Join(b.root("alice"), "x.iso"), data)
	if err := os.MkdirAll(filepath.Join(a.root("alice"), "incoming"), 0o755); err != nil {
		t.Fatal(err)
	}
	// fxp may log in to the destination more than once (a second
	// connection watches the progress).
	link := mintToken(t, a, "-user", "alice", "-path", "/incoming/", "-fxp", "receive", "-ttl", "1h", "-uses", "20")
	out, errOut, code := fxpRun(t, nil, "copy", "--in-place", "--bind", client1, "--timeout", "10s", fxpURL(b, "x.iso"), link+"x.iso")
	if code != 0 {
		t.Fatalf("fxp copy --in-place to a receive token: exit %d\n%s\n%s", code, out, errOut)
	}
	if fileSHA(t, filepath.Join(a.root("alice"), "incoming/x.iso")) != sha(data) {
		t.Fatal("copy differs")
	}
}

// Issue 22: a key_file (or its .spent file) inside a user's root could be
// downloaded by that user and used to forge tokens for every user:
// -check-config and a start refuse it, naming the key and the user,
// also through symbolic links and when the root is a parent of the key.
func TestTokenKeyInsideRootRefused(t *testing.T) {
	dir := t.TempDir()
	for _, d := range []string{"alice", "real", "etc/keys"} {
		if err := os.MkdirAll(filepath.Join(dir, d), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	if err := os.Symlink(filepath.Join(dir, "real"), filepath.Join(dir, "linkroot")); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink(filepath.Join(dir, "alice"), filepath.Join(dir, "etc/alias")); err != nil {
		t.Fatal(err)
	}
	// A key file that is a link into the root, and a spent file that is.
	if err := os.Symlink(filepath.Join(dir, "alice/k"), filepath.Join(dir, "etc/linked.key")); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink(filepath.Join(dir, "alice/s"), filepath.Join(dir, "etc/spentlink.key.spent")); err != nil {
		t.Fatal(err)
	}
	config := func(root, key string) string {
		return binWriteConfig(t, dir, `
[server]
listen = "`+hostA+`:0"

[tokens]
key_file = "`+key+`"

[[users]]
name = "bob"
password = "`+testPass+`"
backend = "memory"
root = "/bob"

[[users]]
name = "alice"
password = "`+testPass+`"
root = "`+root+`"
`)
	}
	for _, tc := range []struct{ name, root, key string }{
		{"key in the root", "{{DIR}}/alice", "{{DIR}}/alice/token.key"},
		{"root is a parent", "{{DIR}}", "{{DIR}}/etc/keys/token.key"},
		{"root is a link", "{{DIR}}/linkroot", "{{DIR}}/real/token.key"},
		{"key path through a link", "{{DIR}}/alice", "{{DIR}}/etc/alias/token.key"},
		{"key is a link", "{{DIR}}/alice", "{{DIR}}/etc/linked.key"},
		{"spent file is a link", "{{DIR}}/alice", "{{DIR}}/etc/spentlink.key"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			path := config(tc.root, tc.key)
			binRefused(t, dir, path, "tokens.key_file", `user "alice"`)
		})
	}
	// Outside every root: valid.
	path := config("{{DIR}}/alice", "{{DIR}}/etc/keys/token.key")
	if stdout, stderr, code := binRun(t, dir, "", "-check-config", "-config", path); code != 0 {
		t.Fatalf("key outside the roots: exit %d\n%s%s", code, stdout, stderr)
	}
}

// Issue 22: with run_as, the key must be readable by the account ftpd
// serves as: a root-only key is refused by -check-config and at start
// (checked after the privilege drop, the same way), instead of every
// SITE TOKEN and token login failing later.
func TestTokenKeyUnreadableAfterRunAs(t *testing.T) {
	if os.Geteuid() != 0 {
		if interopCI() {
			t.Fatal("needs root to start ftpd that drops to run_as (CI=true: not skipped)")
		}
		t.Skip("needs root to start ftpd that drops to run_as (CI runs as root)")
	}
	nobody, err := user.Lookup("nobody")
	if err != nil {
		t.Fatalf("no user nobody: %v", err)
	}
	uid, _ := strconv.Atoi(nobody.Uid)
	gid, _ := strconv.Atoi(nobody.Gid)
	dir := t.TempDir()
	for _, d := range []string{filepath.Dir(dir), dir} {
		if err := os.Chmod(d, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	keys := filepath.Join(dir, "keys")
	if err := os.Mkdir(keys, 0o755); err != nil {
		t.Fatal(err)
	}
	keyFile := filepath.Join(keys, "token.key")
	writeKey(t, keyFile, 0o600) // owned by root
	path := binWriteConfig(t, dir, `
[server]
listen = "`+hostA+`:0"
run_as = "nobody"

[tokens]
key_file = "`+keyFile+`"

[[users]]
name = "bob"
password = "`+testPass+`"
backend = "memory"
root = "/bob"
`)
	binRefused(t, dir, path, "tokens.key_file", keyFile, "server.run_as", "permission denied")
	// The serving account may write the spent file: the key's
	// directory belongs to it. Owned by nobody, the key passes.
	for _, f := range []string{keys, keyFile} {
		if err := os.Chown(f, uid, gid); err != nil {
			t.Fatal(err)
		}
	}
	if stdout, stderr, code := binRun(t, dir, "", "-check-config", "-config", path); code != 0 {
		t.Fatalf("key readable by nobody: exit %d\n%s%s", code, stdout, stderr)
	}
}

package integration

// One-time FXP links (issue 18): ftpd token and SITE TOKEN, used by fxp
// and by a plain client, between in-process servers.

import (
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/ftpd/ftpd/ftpclient"
)

// tokenServer starts A with token logins (key in keyDir, shared across
// restarts), alice (read-write) and carol (read-only), FXP on.
func tokenServer(t *testing.T, keyDir string) *instance {
	t.Helper()
	return startServer(t, hostA, strings.Replace(pairConfig(fxpOn, ""), "[[users]]",
		"[tokens]\nkey_file = \""+filepath.Join(keyDir, "token.key")+"\"\n\n[[users]]", 1)+`
[[users]]
name = "carol"
password = "`+testPass+`"
root = "{{DIR}}/carol"
read_only = true
`)
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

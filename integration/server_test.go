package integration

import (
	"bytes"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
)

func TestLogin(t *testing.T) {
	a := startServer(t, hostA, basicConfig("", ""))
	cases := []struct {
		user, pass string
		ok         bool
	}{
		{"alice", testPass, true},    // bcrypt
		{"bob", testPass, true},      // plain
		{"alice", "wrong", false},    // bad bcrypt password
		{"bob", "wrong", false},      // bad plain password
		{"mallory", testPass, false}, // unknown user
		{"anonymous", "x@y", true},   // any password
		{"ftp", "", false},           // not configured here
	}
	for _, tc := range cases {
		t.Run(tc.user+"/"+tc.pass, func(t *testing.T) {
			c := a.dial(client1, "", "")
			err := c.Login(tc.user, tc.pass)
			if tc.ok {
				if err != nil {
					t.Fatal(err)
				}
				return
			}
			expectCode(t, err, 530, "")
		})
	}
	a.logs.waitFor(t, `"msg":"login failed"`, `"user":"mallory"`, `"client_ip":"127.0.0.10"`)
	a.logs.waitFor(t, `"msg":"login ok"`, `"user":"alice"`)
}

func TestUploadDownloadIdentical(t *testing.T) {
	a := startServer(t, hostA, basicConfig("", ""))
	c := a.dial(client1, "alice", testPass)
	data := randomBytes(t, 5<<20)
	if n, err := c.Stor("big.bin", bytes.NewReader(data)); err != nil || n != int64(len(data)) {
		t.Fatalf("stor: %d %v", n, err)
	}
	if got := fileSHA(t, filepath.Join(a.root("alice"), "big.bin")); got != sha(data) {
		t.Fatal("stored file differs")
	}
	var buf bytes.Buffer
	if _, err := c.Retr("big.bin", &buf); err != nil {
		t.Fatal(err)
	}
	if sha(buf.Bytes()) != sha(data) {
		t.Fatal("downloaded file differs")
	}
	if size, err := c.Size("big.bin"); err != nil || size != int64(len(data)) {
		t.Fatalf("SIZE = %d, %v", size, err)
	}
	if h, err := c.Hash("SHA-256", "big.bin"); err != nil || h != sha(data) {
		t.Fatalf("HASH = %q, %v", h, err)
	}
	// FEAT advertises HASH the way the HASH draft says: "HASH SHA-256*;...".
	if feat, err := c.Expect(211, "FEAT"); err != nil || !regexp.MustCompile(`(?m)^ ?HASH (\S+;)+$`).MatchString(feat) || !strings.Contains(feat, "SHA-256*;") {
		t.Fatalf("FEAT: %q %v", feat, err)
	}
	line := a.logs.waitFor(t, `"msg":"transfer"`, `"command":"RETR"`)
	for _, k := range []string{`"user":"alice"`, `"client_ip":"127.0.0.10"`, `"path":"/big.bin"`, `"bytes":5242880`, `"peer":"127.0.0.10:`, `"foreign":false`, `"duration":`} {
		if !strings.Contains(line, k) {
			t.Errorf("transfer log lacks %s: %s", k, line)
		}
	}
}

func TestListings(t *testing.T) {
	a := startServer(t, hostA, basicConfig("", ""))
	writeFile(t, filepath.Join(a.root("alice"), "dir", "f1.txt"), []byte("one"))
	writeFile(t, filepath.Join(a.root("alice"), "top.txt"), []byte("top"))
	c := a.dial(client1, "alice", testPass)
	list, err := c.List("LIST", "")
	if err != nil {
		t.Fatal(err)
	}
	joined := strings.Join(list, "\n")
	if !strings.Contains(joined, "top.txt") || !strings.Contains(joined, "dir") {
		t.Fatalf("LIST: %q", list)
	}
	mlsd, err := c.List("MLSD", "/dir")
	if err != nil {
		t.Fatal(err)
	}
	if fact := strings.ToLower(strings.Join(mlsd, "\n")); len(mlsd) != 1 || !strings.Contains(fact, "type=file") || !strings.HasSuffix(fact, " f1.txt") || !strings.Contains(fact, "size=3") {
		t.Fatalf("MLSD: %q", mlsd)
	}
	if _, err := c.Expect(250, "MLST top.txt"); err != nil {
		t.Fatal(err)
	}
	if _, err := c.Expect(213, "MDTM top.txt"); err != nil {
		t.Fatal(err)
	}
	if _, err := c.Expect(213, "MFMT 20200102030405 top.txt"); err != nil {
		t.Fatal(err)
	}
	st, _ := os.Stat(filepath.Join(a.root("alice"), "top.txt"))
	if st.ModTime().UTC().Format("20060102150405") != "20200102030405" {
		t.Fatalf("MFMT did not set mtime: %v", st.ModTime())
	}
}

func TestReadOnlyRefusals(t *testing.T) {
	a := startServer(t, hostA, basicConfig("", ""))
	for _, user := range []string{"carol", "anonymous"} {
		t.Run(user, func(t *testing.T) {
			root := a.root(user)
			writeFile(t, filepath.Join(root, "keep.txt"), []byte("original"))
			if err := os.MkdirAll(filepath.Join(root, "sub"), 0o755); err != nil {
				t.Fatal(err)
			}
			c := a.dial(client1, user, testPass)
			_, err := c.Stor("keep.txt", strings.NewReader("overwrite"))
			expectCode(t, err, 550, "read-only")
			_, err = c.Stor("new.txt", strings.NewReader("new"))
			expectCode(t, err, 550, "read-only")
			_, err = c.Appe("keep.txt", strings.NewReader("more"))
			expectCode(t, err, 550, "read-only")
			for _, cmd := range []string{"DELE keep.txt", "RMD sub", "MKD newdir", "SITE CHMOD 777 keep.txt", "MFMT 20200102030405 keep.txt", "SITE MKDIR x"} {
				if _, err := c.Expect(550, "%s", cmd); err != nil {
					t.Errorf("%s: %v", cmd, err)
				}
			}
			// A rename is refused at RNFR already; the RNTO after it has
			// no RNFR to complete.
			if _, err := c.Expect(550, "RNFR keep.txt"); err != nil {
				t.Fatal(err)
			}
			if _, err := c.Expect(503, "RNTO moved.txt"); err != nil {
				t.Error(err)
			}
			if got, _ := os.ReadFile(filepath.Join(root, "keep.txt")); string(got) != "original" {
				t.Fatalf("read-only file changed: %q", got)
			}
			if _, err := os.Stat(filepath.Join(root, "new.txt")); !os.IsNotExist(err) {
				t.Fatal("read-only upload created a file")
			}
			var buf bytes.Buffer
			if _, err := c.Retr("keep.txt", &buf); err != nil || buf.String() != "original" {
				t.Fatalf("read-only download: %q %v", buf.String(), err)
			}
		})
	}
}

func TestTraversalStaysInRoot(t *testing.T) {
	a := startServer(t, hostA, basicConfig("", ""))
	root := a.root("alice")
	outside := t.TempDir()
	secret := filepath.Join(outside, "secret.txt")
	writeFile(t, secret, []byte("outside secret"))
	writeFile(t, filepath.Join(root, "inside.txt"), []byte("inside"))
	if err := os.Symlink(outside, filepath.Join(root, "escape")); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink(secret, filepath.Join(root, "secretlink")); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink("inside.txt", filepath.Join(root, "goodlink")); err != nil {
		t.Fatal(err)
	}
	c := a.dial(client1, "alice", testPass)

	for _, p := range []string{"../../../../etc/passwd", "/etc/passwd", "/../../etc/hostname", "escape/secret.txt", "secretlink", "../" + filepath.Base(outside) + "/secret.txt"} {
		var buf bytes.Buffer
		_, err := c.Retr(p, &buf)
		if err == nil || strings.Contains(buf.String(), "outside secret") || strings.Contains(buf.String(), "root:") {
			t.Errorf("RETR %s escaped the root: err=%v data=%q", p, err, buf.String())
		}
	}
	for _, p := range []string{"escape/new.txt", "secretlink", "../evil.txt"} {
		if _, err := c.Stor(p, strings.NewReader("evil")); err == nil && p != "../evil.txt" {
			t.Errorf("STOR %s succeeded", p)
		}
	}
	// "../evil.txt" is cleaned to /evil.txt inside the root.
	if _, err := os.Stat(filepath.Join(root, "evil.txt")); err != nil {
		t.Errorf("../evil.txt should land inside the root: %v", err)
	}
	if _, err := os.Stat(filepath.Join(filepath.Dir(root), "evil.txt")); err == nil {
		t.Fatal("upload escaped the root")
	}
	if got, _ := os.ReadFile(secret); string(got) != "outside secret" {
		t.Fatal("file outside the root was modified")
	}
	if _, err := os.Stat(filepath.Join(outside, "new.txt")); err == nil {
		t.Fatal("file created outside the root")
	}
	if list, err := c.List("LIST", "escape"); err == nil && strings.Contains(strings.Join(list, " "), "secret.txt") {
		t.Fatalf("listing escaped the root: %q", list)
	}
	if _, err := c.Expect(550, "CWD escape"); err != nil {
		t.Error(err)
	}
	if _, err := c.Expect(250, "CWD ../../.."); err != nil {
		t.Error(err)
	}
	if msg, err := c.Expect(257, "PWD"); err != nil || !strings.Contains(msg, `"/"`) {
		t.Errorf("PWD after CWD ../../.. = %q %v", msg, err)
	}
	var buf bytes.Buffer
	if _, err := c.Retr("goodlink", &buf); err != nil || buf.String() != "inside" {
		t.Fatalf("symlink inside the root: %q %v", buf.String(), err)
	}
}

func TestRefusedAndFailedUploadKeepOldFile(t *testing.T) {
	a := startServer(t, hostA, basicConfig("", ""))
	path := filepath.Join(a.root("alice"), "precious.bin")
	old := randomBytes(t, 1<<20)
	writeFile(t, path, old)
	c := a.dial(client1, "alice", testPass)

	// Refused: PASV, then a stranger is the only one to connect... the
	// simplest refusal the client can trigger is a PORT to a foreign IP.
	if err := c.Port(mustAP("127.0.0.99:40000"), false); err == nil {
		t.Fatal("PORT to a foreign address accepted with FXP off")
	}
	if got := fileSHA(t, path); got != sha(old) {
		t.Fatal("refused PORT changed the file")
	}

	// Failed: PORT to our own address where nothing listens, so the data
	// connection cannot be opened; the STOR fails and the file is untouched.
	l := listenLocal(t, client1)
	deadPort := mustAP(l.Addr().String())
	l.Close()
	if err := c.Port(deadPort, false); err != nil {
		t.Fatal(err)
	}
	code, msg, err := c.Cmd("STOR precious.bin")
	if err != nil || code != 425 {
		t.Fatalf("STOR with a dead data port: %d %q %v", code, msg, err)
	}
	if got := fileSHA(t, path); got != sha(old) {
		t.Fatal("failed STOR changed the file")
	}
	// A new connection still works and the file is intact.
	c2 := a.dial(client1, "alice", testPass)
	var buf bytes.Buffer
	if _, err := c2.Retr("precious.bin", &buf); err != nil || sha(buf.Bytes()) != sha(old) {
		t.Fatalf("after failed STOR: %v", err)
	}
}

func TestResumeWithREST(t *testing.T) {
	a := startServer(t, hostA, basicConfig("", ""))
	data := randomBytes(t, 3<<20)
	path := filepath.Join(a.root("alice"), "resume.bin")
	// A partial upload of the first 1 MiB plus garbage that REST cuts off.
	writeFile(t, path, append(append([]byte{}, data[:1<<20]...), []byte("garbage tail")...))
	c := a.dial(client1, "alice", testPass)
	if _, err := c.Expect(350, "REST %d", 1<<20); err != nil {
		t.Fatal(err)
	}
	if _, err := c.Stor("resume.bin", bytes.NewReader(data[1<<20:])); err != nil {
		t.Fatal(err)
	}
	if fileSHA(t, path) != sha(data) {
		t.Fatal("REST+STOR result differs")
	}
	// APPE appends.
	if _, err := c.Appe("resume.bin", strings.NewReader("tail")); err != nil {
		t.Fatal(err)
	}
	want := append(append([]byte{}, data...), "tail"...)
	if fileSHA(t, path) != sha(want) {
		t.Fatal("APPE result differs")
	}
	// REST + RETR sends only the rest.
	if _, err := c.Expect(350, "REST %d", 2<<20); err != nil {
		t.Fatal(err)
	}
	var buf bytes.Buffer
	if _, err := c.Retr("resume.bin", &buf); err != nil {
		t.Fatal(err)
	}
	if sha(buf.Bytes()) != sha(want[2<<20:]) {
		t.Fatalf("REST+RETR got %d bytes, want %d", buf.Len(), len(want)-(2<<20))
	}
}

package integration

import (
	"bytes"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/ftpd/ftpd/ftpclient"
)

// openStor starts "cmd name" (STOR or APPE) on c over a passive data
// connection from clientIP and returns that connection once the server
// has answered 150.
func openStor(t testing.TB, c *ftpclient.Conn, clientIP, cmd, name string) *net.TCPConn {
	t.Helper()
	addr, err := c.Pasv()
	if err != nil {
		t.Fatal(err)
	}
	d := net.Dialer{LocalAddr: &net.TCPAddr{IP: net.ParseIP(clientIP)}, Timeout: 5 * time.Second}
	conn, err := d.Dial("tcp", addr.String())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.Close() })
	if _, err := c.Expect(150, "%s %s", cmd, name); err != nil {
		t.Fatal(err)
	}
	return conn.(*net.TCPConn)
}

// leftovers lists the entries of dir other than the names given.
func leftovers(t testing.TB, dir string, keep ...string) []string {
	t.Helper()
	entries, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, e := range entries {
		if !contains(keep, e.Name()) {
			out = append(out, e.Name())
		}
	}
	return out
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}

// eventuallyNoLeftovers waits until dir holds only keep.
func eventuallyNoLeftovers(t testing.TB, dir string, keep ...string) {
	t.Helper()
	eventually(t, 5*time.Second, "temporary upload file removed", func() bool {
		return len(leftovers(t, dir, keep...)) == 0
	})
}

// holdsOnly fails unless path holds want and its directory nothing but
// path and keep (no partial file left behind).
func holdsOnly(t testing.TB, path string, want []byte, why string, keep ...string) {
	t.Helper()
	if fileSHA(t, path) != sha(want) {
		t.Fatal(why)
	}
	eventuallyNoLeftovers(t, filepath.Dir(path), append(keep, filepath.Base(path))...)
}

// precious writes 1 MiB of old content to alice's precious.bin.
func precious(t testing.TB, a *instance) (path string, old []byte) {
	t.Helper()
	path = filepath.Join(a.root("alice"), "precious.bin")
	old = randomBytes(t, 1<<20)
	writeFile(t, path, old)
	return path, old
}

func TestStorResetKeepsOldFile(t *testing.T) {
	a := startServer(t, hostA, basicConfig("", ""))
	path, old := precious(t, a)
	c := a.dial(client1, "alice", testPass)
	data := openStor(t, c, client1, "STOR", "precious.bin")
	if _, err := data.Write(randomBytes(t, 100<<10)); err != nil {
		t.Fatal(err)
	}
	time.Sleep(100 * time.Millisecond) // let the server take the bytes
	_ = data.SetLinger(0)
	data.Close()
	code, msg, err := c.ReadReply()
	if err != nil || code == 226 || code/100 != 4 && code/100 != 5 {
		t.Fatalf("STOR after a reset: %d %q %v", code, msg, err)
	}
	holdsOnly(t, path, old, "a reset upload changed the existing file")
	a.logs.waitFor(t, `"msg":"transfer failed"`, `"path":"/precious.bin"`)
}

func TestStorAborKeepsOldFile(t *testing.T) {
	a := startServer(t, hostA, basicConfig("", ""))
	path, old := precious(t, a)
	c := a.dial(client1, "alice", testPass)
	data := openStor(t, c, client1, "STOR", "precious.bin")
	if _, err := data.Write(randomBytes(t, 100<<10)); err != nil {
		t.Fatal(err)
	}
	time.Sleep(100 * time.Millisecond)
	if err := c.Send("ABOR"); err != nil {
		t.Fatal(err)
	}
	var codes []int
	for len(codes) == 0 || codes[len(codes)-1] != 226 {
		code, msg, err := c.ReadReply()
		if err != nil {
			t.Fatalf("after ABOR: %v (codes %v)", err, codes)
		}
		if code == 226 && !strings.Contains(msg, "ABOR") {
			t.Fatalf("aborted upload answered %d %q", code, msg)
		}
		codes = append(codes, code)
	}
	holdsOnly(t, path, old, "an aborted upload changed the existing file")
	// The session goes on and a complete upload replaces the file.
	fresh := randomBytes(t, 300<<10)
	if _, err := c.Stor("precious.bin", bytes.NewReader(fresh)); err != nil {
		t.Fatal(err)
	}
	holdsOnly(t, path, fresh, "complete upload after ABOR differs")
}

// TestUploadInvisibleUntilDone: during an upload, readers get the old file
// whole, listings show no temporary file, and nothing can open, delete or
// rename the temporary file by name; at the end readers get the new file.
func TestUploadInvisibleUntilDone(t *testing.T) {
	a := startServer(t, hostA, basicConfig("", ""))
	path, old := precious(t, a)
	up := a.dial(client1, "alice", testPass)
	data := openStor(t, up, client1, "STOR", "precious.bin")
	fresh := randomBytes(t, 2<<20)
	if _, err := data.Write(fresh[:1<<20]); err != nil {
		t.Fatal(err)
	}
	var tmp string
	eventually(t, 5*time.Second, "temporary file on disk", func() bool {
		l := leftovers(t, a.root("alice"), "precious.bin")
		if len(l) == 1 {
			tmp = l[0]
		}
		return tmp != ""
	})

	reader := a.dial(client2, "alice", testPass)
	var buf bytes.Buffer
	if _, err := reader.Retr("precious.bin", &buf); err != nil || sha(buf.Bytes()) != sha(old) {
		t.Fatalf("reader during the upload got %d bytes (old: %v), err %v", buf.Len(), sha(buf.Bytes()) == sha(old), err)
	}
	for _, cmd := range []string{"LIST -a", "NLST", "MLSD"} {
		verb, arg, _ := strings.Cut(cmd, " ")
		lines, err := reader.List(verb, arg)
		if err != nil {
			t.Fatal(err)
		}
		if strings.Contains(strings.Join(lines, "\n"), tmp) {
			t.Errorf("%s shows the temporary file: %q", cmd, lines)
		}
	}
	for _, cmd := range []string{"SIZE " + tmp, "MDTM " + tmp, "DELE " + tmp, "RNFR " + tmp, "MLST " + tmp, "MKD " + tmp, "RMD " + tmp} {
		if code, msg, err := reader.Cmd("%s", cmd); err != nil || code/100 != 5 {
			t.Errorf("%s: %d %q %v (want a 5xx refusal)", cmd, code, msg, err)
		}
	}
	if _, err := reader.Retr(tmp, &bytes.Buffer{}); err == nil {
		t.Errorf("RETR of the temporary file succeeded")
	}
	if _, err := reader.Stor(tmp, strings.NewReader("x")); err == nil {
		t.Errorf("STOR to the temporary file's name succeeded")
	}
	if _, err := os.Stat(filepath.Join(a.root("alice"), tmp)); err != nil {
		t.Fatalf("the temporary file went away during the upload: %v", err)
	}

	if _, err := data.Write(fresh[1<<20:]); err != nil {
		t.Fatal(err)
	}
	data.Close()
	if code, msg, err := up.ReadReply(); err != nil || code != 226 {
		t.Fatalf("upload: %d %q %v", code, msg, err)
	}
	buf.Reset()
	if _, err := reader.Retr("precious.bin", &buf); err != nil || sha(buf.Bytes()) != sha(fresh) {
		t.Fatalf("reader after the upload: %d bytes, %v", buf.Len(), err)
	}
	holdsOnly(t, path, fresh, "file on disk differs")
}

// TestAppendAndRestStayInPlace: APPE and REST+STOR extend the existing
// file (resume semantics), so their partial data stays after a reset.
func TestAppendAndRestStayInPlace(t *testing.T) {
	a := startServer(t, hostA, basicConfig("", ""))
	path, old := precious(t, a)
	c := a.dial(client1, "alice", testPass)
	data := openStor(t, c, client1, "APPE", "precious.bin")
	extra := randomBytes(t, 64<<10)
	if _, err := data.Write(extra); err != nil {
		t.Fatal(err)
	}
	eventually(t, 5*time.Second, "APPE bytes in the file", func() bool {
		st, err := os.Stat(path)
		return err == nil && st.Size() == int64(len(old)+len(extra))
	})
	_ = data.SetLinger(0)
	data.Close()
	if code, _, err := c.ReadReply(); err != nil || code == 226 {
		t.Fatalf("reset APPE: %d %v", code, err)
	}
	if fileSHA(t, path) != sha(append(append([]byte{}, old...), extra...)) {
		t.Fatal("APPE did not extend the file in place")
	}
	eventuallyNoLeftovers(t, a.root("alice"), "precious.bin")
}

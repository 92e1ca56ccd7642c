package integration

import (
	"bytes"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestAlloShortUploadIs451: ALLO announces the size; a data stream that
// ends cleanly but short gets 451 and STOR keeps the old file.
func TestAlloShortUploadIs451(t *testing.T) {
	a := startServer(t, hostA, basicConfig("", ""))
	path, old := precious(t, a)
	c := a.dial(client1, "alice", testPass)
	for _, bad := range []string{"ALLO", "ALLO -1", "ALLO +5", "ALLO 12x", "ALLO 99999999999999999999", "ALLO 5 R", "ALLO 5 X 7"} {
		if code, msg, err := c.Cmd("%s", bad); err != nil || code != 501 {
			t.Errorf("%s: %d %q %v (want 501)", bad, code, msg, err)
		}
	}
	want := 2 << 20
	if _, err := c.Expect(200, "ALLO %d", want); err != nil {
		t.Fatal(err)
	}
	got := 600 << 10
	data := openStor(t, c, client1, "STOR", "precious.bin")
	if _, err := data.Write(randomBytes(t, got)); err != nil {
		t.Fatal(err)
	}
	data.Close() // a clean end, short of the announced size
	code, msg, err := c.ReadReply()
	if err != nil || code != 451 || msg != fmt.Sprintf("transfer incomplete: got %d of %d bytes", got, want) {
		t.Fatalf("short upload after ALLO: %d %q %v", code, msg, err)
	}
	if fileSHA(t, path) != sha(old) {
		t.Fatal("short upload replaced the file")
	}
	eventuallyNoLeftovers(t, a.root("alice"), "precious.bin")
	a.logs.waitFor(t, `"msg":"transfer failed"`, `transfer incomplete: got 614400 of 2097152 bytes`)

	// ALLO with the right size, then the whole file: 226.
	fresh := randomBytes(t, want)
	if _, err := c.Expect(200, "ALLO %d R 512", want); err != nil {
		t.Fatal(err)
	}
	if _, err := c.Stor("precious.bin", bytes.NewReader(fresh)); err != nil {
		t.Fatal(err)
	}
	if fileSHA(t, path) != sha(fresh) {
		t.Fatal("complete upload after ALLO differs")
	}
	// ALLO applies to the next transfer only.
	if _, err := c.Expect(200, "ALLO 999999"); err != nil {
		t.Fatal(err)
	}
	if _, err := c.Retr("precious.bin", &bytes.Buffer{}); err != nil {
		t.Fatal(err)
	}
	if _, err := c.Stor("small.bin", strings.NewReader("small")); err != nil {
		t.Fatalf("STOR after an ALLO used up by RETR: %v", err)
	}
	// APPE checks ALLO too (and, appending in place, keeps what came).
	if _, err := c.Expect(200, "ALLO 100"); err != nil {
		t.Fatal(err)
	}
	_, err = c.Appe("small.bin", strings.NewReader("12345"))
	expectCode(t, err, 451, "transfer incomplete: got 5 of 100 bytes")
}

// TestRetrShortIs451: a download that sends fewer bytes than the file held
// when it was opened (the file shrank under it) is not a 226: 451, logged
// and counted as failed.
func TestRetrShortIs451(t *testing.T) {
	a := startServer(t, hostA, strings.Replace(basicConfig("", "[metrics]\nlisten = \"{{HOST}}:0\"\n"),
		`root = "{{DIR}}/alice"`, `root = "{{DIR}}/alice"`+"\ndownload_rate = \"2MiB\"", 1))
	path := filepath.Join(a.root("alice"), "shrinks.bin")
	full := randomBytes(t, 4<<20)
	writeFile(t, path, full)
	c := a.dial(client1, "alice", testPass)
	// The file shrinks once the first bytes have arrived: the server has
	// opened it at its full size, and download_rate keeps it from having
	// read past 1 MiB yet. (A timer instead raced the RETR's start on a
	// loaded machine.)
	var buf bytes.Buffer
	_, err := c.Retr("shrinks.bin", writerFunc(func(p []byte) (int, error) {
		if buf.Len() == 0 && len(p) > 0 {
			if err := os.Truncate(path, 1<<20); err != nil {
				t.Error(err)
			}
		}
		return buf.Write(p)
	}))
	expectCode(t, err, 451, fmt.Sprintf("transfer incomplete: got %d of %d bytes", buf.Len(), len(full)))
	a.logs.waitFor(t, `"msg":"transfer failed"`, `"command":"RETR"`, `"path":"/shrinks.bin"`)
	m := scrape(t, a)
	if m[`ftpd_transfers_total{command="RETR",fxp="false",result="failed"}`] != 1 {
		t.Fatalf("failed RETR not counted: %v", m)
	}
}

// TestBackslashIsACharacter: names with a backslash are stored literally,
// never as a path with a separator.
func TestBackslashIsACharacter(t *testing.T) {
	a := startServer(t, hostA, basicConfig("", ""))
	root := a.root("alice")
	if err := os.MkdirAll(filepath.Join(root, "d"), 0o755); err != nil {
		t.Fatal(err)
	}
	c := a.dial(client1, "alice", testPass)
	for _, name := range []string{`back\slash.txt`, `d\x.txt`} {
		if _, err := c.Stor(name, strings.NewReader(name)); err != nil {
			t.Fatalf("STOR %s: %v", name, err)
		}
		if b, err := os.ReadFile(filepath.Join(root, name)); err != nil || string(b) != name {
			t.Fatalf("%s on disk: %q %v", name, b, err)
		}
	}
	if _, err := os.Stat(filepath.Join(root, "d", "x.txt")); !os.IsNotExist(err) {
		t.Fatalf(`STOR d\x.txt wrote d/x.txt (%v)`, err)
	}
	if _, err := c.Expect(257, `MKD e\f`); err != nil {
		t.Fatal(err)
	}
	if st, err := os.Stat(filepath.Join(root, `e\f`)); err != nil || !st.IsDir() {
		t.Fatalf(`MKD e\f: %v`, err)
	}
	var buf bytes.Buffer
	if _, err := c.Retr(`back\slash.txt`, &buf); err != nil || buf.String() != `back\slash.txt` {
		t.Fatalf("RETR back: %q %v", buf.String(), err)
	}
	names, err := c.List("NLST", "")
	if err != nil || !strings.Contains(strings.Join(names, "\n"), `back\slash.txt`) {
		t.Fatalf("NLST: %q %v", names, err)
	}
}

// TestMkdReplyRFC959: 257 "<path>" created, quotes doubled; Python's
// ftplib.mkd() returns the path from it.
func TestMkdReplyRFC959(t *testing.T) {
	a := startServer(t, hostA, basicConfig("", ""))
	c := a.dial(client1, "alice", testPass)
	msg, err := c.Expect(257, `MKD say "hi"`)
	if err != nil || msg != `"/say ""hi""" created` {
		t.Fatalf("MKD reply: %q %v", msg, err)
	}
	bin := interopNeed(t, "python3")
	h, p := interopHostPort(t, a.addr)
	script := `import ftplib, sys
f = ftplib.FTP()
f.connect(sys.argv[1], int(sys.argv[2]), source_address=(sys.argv[3], 0))
f.login("alice", sys.argv[4])
print(f.mkd("newdir"))
f.quit()
`
	out, err := interopRun(t, interopTimeout, "", bin, "-c", script, h, p, client1, testPass)
	if err != nil || strings.TrimSpace(out) != "/newdir" {
		t.Fatalf("ftplib mkd() = %q, %v", out, err)
	}
}

// writerFunc is an io.Writer from a function.
type writerFunc func([]byte) (int, error)

func (f writerFunc) Write(p []byte) (int, error) { return f(p) }

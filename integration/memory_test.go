package integration

import (
	"bytes"
	"strings"
	"testing"
)

// TestMemoryBackendRenameAfterReplace: on backend = "memory", renaming a
// file that an upload replaced must not take the server down. afero's
// MemMapFs loses a replaced file's parent link, and its Rename then
// panics ("parent of /d/f is nil"), which killed the whole process.
func TestMemoryBackendRenameAfterReplace(t *testing.T) {
	cfg := strings.Replace(basicConfig("", ""), `root = "{{DIR}}/bob"`, `root = "/bob"`+"\nbackend = \"memory\"", 1)
	a := startServer(t, hostA, cfg)
	c := a.dial(client1, "bob", testPass)
	if _, err := c.Expect(257, "MKD d"); err != nil {
		t.Fatal(err)
	}
	for _, body := range []string{"first", "second, replacing it"} {
		if _, err := c.Stor("d/f", strings.NewReader(body)); err != nil {
			t.Fatalf("STOR d/f: %v", err)
		}
	}
	if _, err := c.Expect(213, "MFMT 20200102030405 d/f"); err != nil {
		t.Fatal(err)
	}
	if _, err := c.Expect(350, "RNFR d/f"); err != nil {
		t.Fatal(err)
	}
	if _, err := c.Expect(250, "RNTO g"); err != nil {
		t.Fatal(err)
	}
	// The server is alive and the renamed file holds the second upload.
	other := a.dial(client2, "bob", testPass)
	var got bytes.Buffer
	if _, err := other.Retr("g", &got); err != nil || got.String() != "second, replacing it" {
		t.Fatalf("RETR g after the rename: %q %v", got.String(), err)
	}
}

// TestMemoryBackendSuite runs the storage suite on a memory user and on a
// disk user: the replies are the same, and the server survives it (it
// used to die of a MemMapFs panic at the suite's RNTO, after RMD had
// removed a non-empty directory; failed before with "panic: parent of
// /d/f is nil").
func TestMemoryBackendSuite(t *testing.T) {
	cfg := strings.Replace(basicConfig("", ""), `root = "{{DIR}}/bob"`, `root = "/bob"`+"\nbackend = \"memory\"", 1)
	a := startServer(t, hostA, cfg)
	for _, k := range []string{"x", "bob/x"} { // outside both users' roots
		writeFile(t, a.dir+"/"+k, []byte("outside"))
	}
	memLines := storageSuite(t, a.dial(client1, "bob", testPass))
	osLines := storageSuite(t, a.dial(client1, "alice", testPass))
	for i := range osLines {
		if i >= len(memLines) || osLines[i] != memLines[i] {
			t.Errorf("step %d differs:\n  os:     %s\n  memory: %s", i, osLines[i], memLines[min(i, len(memLines)-1)])
		}
	}
	if _, err := a.dial(client2, "bob", testPass).Expect(257, "PWD"); err != nil {
		t.Fatalf("server after the suite: %v", err)
	}
}

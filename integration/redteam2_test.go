package integration

// Second red-team pass. TestRedteam2Finding* reproduce a defect (they
// fail until it is fixed); TestRedteam2* show an attack already stopped.

import (
	"bufio"
	"net/textproto"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// TestRedteam2FindingAlloOutlivesFailedTransfer: README says "ALLO applies
// to the next transfer command only". An ALLO followed by a STOR or RETR
// that fails before its data connection (550: no such directory/file) is
// kept, and the announced size is then enforced on a later, unrelated
// upload, which is refused (451) and discarded.
func TestRedteam2FindingAlloOutlivesFailedTransfer(t *testing.T) {
	a := startServer(t, hostA, basicConfig("", ""))
	c := a.dial(client1, "alice", testPass)
	for _, failing := range []string{"STOR no/such/dir/x.bin", "RETR missing.bin", "APPE no/such/dir/x.bin"} {
		t.Run(strings.Fields(failing)[0], func(t *testing.T) {
			if _, err := c.Expect(200, "ALLO 1000000"); err != nil {
				t.Fatal(err)
			}
			// The transfer command that ALLO was for fails before any data.
			verb, name, _ := strings.Cut(failing, " ")
			var err error
			if verb == "RETR" {
				_, err = c.Retr(name, &strings.Builder{})
			} else if verb == "APPE" {
				_, err = c.Appe(name, strings.NewReader("x"))
			} else {
				_, err = c.Stor(name, strings.NewReader("x"))
			}
			expectCode(t, err, 550, "")
			// The next transfer is a different upload of 5 bytes.
			target := "after-" + verb + ".bin"
			if _, err := c.Stor(target, strings.NewReader("small")); err != nil {
				t.Fatalf("STOR after an ALLO whose %s failed: %v (want 226: the ALLO was for the failed command)", verb, err)
			}
			b, err := os.ReadFile(filepath.Join(a.root("alice"), target))
			if err != nil || string(b) != "small" {
				t.Fatalf("upload after failed %s not stored: %q %v", verb, b, err)
			}
		})
	}
}

// TestRedteam2FindingMirrorDeleteOnTypeConflict: where SRC has a file and
// DST a directory of the same name, fxp mirror --delete reports the
// conflict as a failure ("is a directory, the source has a file"), copies
// nothing there, and still deletes the whole directory with everything in
// it (the source "has" the name, so README's "removes DST files and
// directories SRC does not have" does not cover it). A source that lists
// one name with the wrong type (hostile, or changed between runs) thus
// wipes a destination subtree and puts nothing in its place. Expected: a
// path whose copy failed is not deleted (the run fails, DST keeps it).
func TestRedteam2FindingMirrorDeleteOnTypeConflict(t *testing.T) {
	a, b := fxpPair(t, fxpOn, fxpOn, "", "")
	srcRoot := filepath.Join(a.root("alice"), "src")
	dstRoot := filepath.Join(b.root("alice"), "dst")
	writeFile(t, filepath.Join(srcRoot, "keep.bin"), []byte("keep"))
	writeFile(t, filepath.Join(srcRoot, "data"), []byte("the source's data is a file"))
	precious := randomBytes(t, 4096)
	writeFile(t, filepath.Join(dstRoot, "keep.bin"), []byte("keep"))
	writeFile(t, filepath.Join(dstRoot, "data", "years", "of", "work.bin"), precious)

	r, code, out := fxpMirror(t, "--delete", fxpURL(a, "src"), fxpURL(b, "dst"))
	t.Logf("exit %d %+v\n%s", code, r, out)
	if code == 0 || r.Failed == 0 {
		t.Fatalf("type conflict not reported as a failure: exit %d %+v", code, r)
	}
	got, err := os.ReadFile(filepath.Join(dstRoot, "data", "years", "of", "work.bin"))
	if err != nil || sha(got) != sha(precious) {
		st, serr := os.Stat(filepath.Join(dstRoot, "data"))
		t.Fatalf("mirror --delete destroyed DST/data/ although its copy failed: work.bin: %v; DST/data now: %v %v (deleted %d)", err, st, serr, r.Deleted)
	}
}

// TestRedteam2PreLoginAnswersStayInOrder: ftpd's own pre-login answers
// ride on NOOP (their "200 OK" is replaced). Pipelined around USER, a
// repeated USER, PBSZ, the login and the client's own NOOPs, every reply
// still answers its own command and none leaks past the login. (A failed
// PASS is not in the pipeline: the library hangs up after it.)
func TestRedteam2PreLoginAnswersStayInOrder(t *testing.T) {
	a := startServer(t, hostA, basicConfig("", ""))
	for round := range 3 {
		c := rawDial(t, client1, a.addr)
		_ = c.SetDeadline(time.Now().Add(20 * time.Second))
		r := textproto.NewReader(bufio.NewReader(c))
		if code, _, err := r.ReadResponse(220); err != nil {
			t.Fatalf("greeting: %d %v", code, err)
		}
		steps := []struct {
			cmd  string
			code int
			text string
		}{
			{"NOOP", 200, "OK"},
			{"PROT P", 503, "needs a TLS control connection"},
			{"NOOP", 200, "OK"},
			{"SSCN ON", 503, "needs a TLS control connection"},
			{"CPSV", 503, "CPSV needs a TLS"},
			{"USER alice", 331, ""},
			{"PROT C", 503, "needs a TLS control connection"},
			{"NOOP", 200, "OK"},
			{"USER alice", 331, ""},
			{"USER alice", 331, ""},
			{"PBSZ 0", 0, ""}, // whatever the library says: it must be PBSZ's answer
			{"PASS " + testPass, 230, ""},
			{"NOOP", 200, "OK"},
			{"PROT P", 503, "needs a TLS control connection"},
			{"NOOP", 200, "OK"},
			{"PWD", 257, ""},
		}
		var lines []string
		for _, s := range steps {
			lines = append(lines, s.cmd)
		}
		if _, err := c.Write([]byte(strings.Join(lines, "\r\n") + "\r\n")); err != nil {
			t.Fatal(err)
		}
		for i, s := range steps {
			code, msg, err := r.ReadResponse(0)
			if err != nil && code == 0 {
				t.Fatalf("round %d, step %d %q: %v", round, i, s.cmd, err)
			}
			if s.code == 0 {
				if code == 200 && msg == "OK" {
					t.Fatalf("round %d: %q got a NOOP's reply", round, s.cmd)
				}
				continue
			}
			if code != s.code || !strings.Contains(msg, s.text) {
				t.Fatalf("round %d, step %d %q: got %d %q, want %d %q", round, i, s.cmd, code, msg, s.code, s.text)
			}
		}
	}
}

// TestRedteam2FileNamesLikeReplies: file names that read as replies ("227
// Entering Passive Mode (...)", "211 End", "421 ...") shown by STAT <dir>,
// STAT <file> and MLST never end a multi-line reply early nor reach the
// data plane as a reply of their own: PASV and transfers still work after
// each, and the listings come back whole.
func TestRedteam2FileNamesLikeReplies(t *testing.T) {
	a := startServer(t, hostA, basicConfig("", ""))
	names := []string{
		"227 Entering Passive Mode (127,0,0,2,1,2)",
		"229 Entering Extended Passive Mode (|||1234|)",
		"211 End",
		"213 End",
		"250 End",
		"421 Service not available",
		"150 Using transfer connection",
	}
	dir := filepath.Join(a.root("alice"), "odd")
	for _, n := range names {
		writeFile(t, filepath.Join(dir, n), []byte(n))
	}
	c := a.dial(client1, "alice", testPass)
	check := func(what string) {
		t.Helper()
		got, err := c.List("NLST", "odd")
		if err != nil || len(got) != len(names) {
			t.Fatalf("after %s: NLST: %v %q", what, err, got)
		}
		var b strings.Builder
		if _, err := c.Retr("odd/"+names[0], &b); err != nil || b.String() != names[0] {
			t.Fatalf("after %s: RETR: %v %q", what, err, b.String())
		}
	}
	for _, q := range []struct{ cmd, want string }{
		{"STAT odd", ""},
		{"STAT odd/" + names[0], names[0]},
		{"STAT odd/" + names[2], names[2]},
		{"MLST odd/" + names[0], names[0]},
		{"MLST odd/" + names[3], names[3]},
	} {
		cmd := q.cmd
		code, msg, err := c.Cmd("%s", cmd)
		if err != nil || code/100 != 2 {
			t.Fatalf("%s: %d %q %v", cmd, code, msg, err)
		}
		if q.want != "" && !strings.Contains(msg, q.want) {
			t.Fatalf("%s: body lost: %q", cmd, msg)
		}
		if q.want == "" {
			for _, n := range names {
				if !strings.Contains(msg, n) {
					t.Fatalf("%s: %q missing from %q", cmd, n, msg)
				}
			}
		}
		check(cmd)
	}
}

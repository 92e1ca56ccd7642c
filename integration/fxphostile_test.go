package integration

import (
	"context"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/ftpd/ftpd/fxp"
)

// TestFXPPlantedHostileNames: a user who may upload to an honest ftpd
// plants names that are not one plain path element (Telnet IAC bytes,
// backslashes, escape sequences, bidi overrides, edge spaces) in a tree;
// fxp copy -r and fxp mirror --delete from it create nothing but the
// plain names below the destination directory, and end as failed.
func TestFXPPlantedHostileNames(t *testing.T) {
	a, b := fxpPair(t, fxpOn, fxpOn, "", "")
	up := a.dial(client1, "alice", testPass)
	if _, err := up.Expect(257, "MKD tree"); err != nil {
		t.Fatal(err)
	}
	if _, err := up.Stor("tree/ok.txt", strings.NewReader("ok")); err != nil {
		t.Fatal(err)
	}
	planted := 0
	for _, name := range []string{"..\xff\xf1", "\xff\xf4x", `..\x`, "esc\x1b[2J", "csi\u009b2J", " lead", "trail ", "bad\xfe"} {
		if _, err := up.Stor("tree/"+name, strings.NewReader("evil")); err != nil {
			t.Logf("ftpd refused to create %q: %v", name, err)
			continue
		}
		planted++
	}
	if _, err := up.Expect(257, "MKD tree/..\xff\xf1"); err == nil {
		planted++
	}
	var onDisk []string
	entries, _ := os.ReadDir(filepath.Join(a.root("alice"), "tree"))
	for _, e := range entries {
		onDisk = append(onDisk, e.Name())
	}
	t.Logf("planted %d hostile names; on the source's disk: %q", planted, onDisk)
	if planted == 0 {
		t.Fatal("ftpd let no hostile name be created: nothing to test")
	}

	opts := fxpTestOptions(nil)
	opts.Recursive = true
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	sum, err := fxp.New(opts).Copy(ctx, fxpEP(a, "tree"), fxpEP(b, "copy"))
	if err == nil || !strings.Contains(err.Error(), "not one plain path element") || sum.Refused != planted {
		t.Errorf("copy -r: refused %d of %d, err %v", sum.Refused, planted, err)
	}
	_, err = fxp.New(fxpTestOptions(nil)).Mirror(ctx, fxpEP(a, "tree"), fxpEP(b, "mirror"), fxp.MirrorOptions{Delete: true})
	if err == nil || !strings.Contains(err.Error(), "not one plain path element") {
		t.Errorf("mirror --delete: err %v, want the refused names", err)
	}

	// The destination holds the plain names, below copy/ and mirror/ only.
	var got []string
	root := b.root("alice")
	_ = filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
		if err == nil && p != root {
			rel, _ := filepath.Rel(root, p)
			got = append(got, rel)
		}
		return nil
	})
	if want := "copy|copy/ok.txt|mirror|mirror/ok.txt"; strings.Join(got, "|") != want {
		t.Fatalf("destination holds %q, want %s", got, want)
	}
	if _, err := os.Stat(filepath.Join(filepath.Dir(root), "x")); err == nil {
		t.Fatal("a file appeared beside the destination root")
	}
}

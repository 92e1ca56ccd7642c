package integration

// Tests of fxp's operator features (issue 18): missing destination
// parents, sites file, mirror, job files with retries, state and lock.

import (
	"os"
	"path/filepath"
	"testing"
)

// TestFXPOpsRecursiveCreatesParents: fxp copy -r into a destination whose
// parents do not exist creates them (it used to fail with MKD ... 550).
func TestFXPOpsRecursiveCreatesParents(t *testing.T) {
	a, b := fxpPair(t, fxpOn, fxpOn, "", "")
	data := randomBytes(t, 64<<10)
	writeFile(t, filepath.Join(a.root("alice"), "tree/d/f.bin"), data)
	if err := os.MkdirAll(b.root("alice"), 0o755); err != nil {
		t.Fatal(err)
	}
	out, errOut, code := fxpRun(t, nil, "copy", "-r", "--bind", client1, "--timeout", "10s",
		fxpURL(a, "tree"), fxpURL(b, "missing/parents/"))
	if code != 0 {
		t.Fatalf("exit %d\n%s\n%s", code, out, errOut)
	}
	if fileSHA(t, filepath.Join(b.root("alice"), "missing/parents/tree/d/f.bin")) != sha(data) {
		t.Fatal("copy differs")
	}
}

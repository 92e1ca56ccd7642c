package integration

import (
	"encoding/json"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/ftpd/ftpd/fxp"
)

// TestFXPSourceKilledKeepsDestination: the source ftpd is killed (-9) in
// the middle of an FXP copy that writes the target itself (--in-place:
// ftpd's atomic STOR). fxp announced the size with ALLO, so the
// destination answers 451 instead of 226, keeps its old file and removes
// the partial one; fxp exits 1. (Without --in-place the bytes so far stay
// in fxp's temporary file: TestFXPOpsRunRetryResume.)
func TestFXPSourceKilledKeepsDestination(t *testing.T) {
	dir := t.TempDir()
	cfg := binWriteConfig(t, dir, `
[server]
listen = "`+hostA+`:0"
`+fxpOn+`
[[users]]
name = "alice"
password_hash = "`+testHash+`"
root = "{{DIR}}/alice"
download_rate = "8MiB"
`)
	data := randomBytes(t, 24<<20)
	writeFile(t, filepath.Join(dir, "alice", "big.bin"), data)
	src := binStart(t, dir, "-config", cfg)
	srcAddr := src.listening()

	b := startServer(t, hostB, pairConfig(fxpOn, ""))
	dstPath := filepath.Join(b.root("alice"), "big.bin")
	old := randomBytes(t, 1<<20)
	writeFile(t, dstPath, old)

	cp := fxpStart(t, "copy", "--json", "--in-place", "--bind", client1,
		"ftp://alice:"+testPass+"@"+srcAddr+"/big.bin", fxpURL(b, "big.bin"))
	eventually(t, 20*time.Second, "a few MiB copied", func() bool {
		return progressBytes(cp.stdout.String()) > 2<<20
	})
	_ = src.cmd.Process.Kill()
	if code := cp.waitExit(30 * time.Second); code != 1 {
		t.Fatalf("fxp exit code %d, want 1\n%s\n%s", code, cp.stdout.String(), cp.stderr.String())
	}
	line := b.logs.waitFor(t, `"msg":"transfer failed"`, `"command":"STOR"`, `transfer incomplete: got `, ` of 25165824 bytes`)
	if out := cp.stdout.String() + cp.stderr.String(); !strings.Contains(out, "451 transfer incomplete") {
		t.Errorf("fxp output does not show the destination's 451:\n%s", out)
	}
	if fileSHA(t, dstPath) != sha(old) {
		t.Fatalf("destination file replaced by a truncated copy (%s)", line)
	}
	eventuallyNoLeftovers(t, b.root("alice"), "big.bin")
}

// progressBytes is the byte count of the last JSON progress event in out.
func progressBytes(out string) int64 {
	var n int64
	for _, line := range strings.Split(out, "\n") {
		var e fxp.Event
		if json.Unmarshal([]byte(line), &e) == nil && e.Kind == fxp.EventProgress {
			n = e.Bytes
		}
	}
	return n
}

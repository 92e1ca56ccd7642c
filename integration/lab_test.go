package integration

// Tests of "ftpd lab": the binary starts two paired servers (on free ports
// of 127.0.0.2 and 127.0.0.3, never the default 2121), and its demo and
// printed command copy between them.

import (
	"regexp"
	"strings"
	"syscall"
	"testing"
	"time"
)

// labArgs are the lab flags tests use: port 0, so tests never collide.
var labArgs = []string{"lab", "-a", hostA + ":0", "-b", hostB + ":0", "-bind", client1}

func TestLabDemo(t *testing.T) {
	args := append(append([]string{}, labArgs...), "-demo", "-exit", "-size", "8MiB")
	start := time.Now()
	// binRun bounds the run (binWait); how long it took is only logged:
	// the demo's speed depends on the machine.
	stdout, stderr, code := binRun(t, t.TempDir(), "", args...)
	if code != 0 {
		t.Fatalf("ftpd lab -demo: exit %d\nstdout:\n%s\nstderr:\n%s", code, stdout, stderr)
	}
	m := regexp.MustCompile(`sample on A: sample\.bin \(8388608 bytes, sha256 ([0-9a-f]{64})\)`).FindStringSubmatch(stdout)
	if m == nil {
		t.Fatalf("no sample line:\n%s", stdout)
	}
	for _, want := range []string{
		"fxp copy --verify ftp://lab:",
		"verified sha256:" + m[1], // the demo's hash is the sample's
		"Demo done: 8388608 bytes from A to B",
	} {
		if !strings.Contains(stdout, want) {
			t.Fatalf("stdout lacks %q:\n%s", want, stdout)
		}
	}
	if strings.Contains(stdout, "Serving until Ctrl-C") {
		t.Fatal("-exit still served")
	}
	t.Logf("lab demo took %v", time.Since(start).Round(time.Millisecond))
}

func TestLabServesUntilSignal(t *testing.T) {
	args := append(append([]string{}, labArgs...), "-memory", "-size", "2MiB")
	p := binStart(t, t.TempDir(), args...)
	p.waitMatch(p.stdout, regexp.MustCompile(`Serving until Ctrl-C`))
	m := p.waitMatch(p.stdout, regexp.MustCompile(`fxp copy --verify (\S+) (\S+)`))
	// The printed command works as printed (plus a client address).
	out, errOut, code := fxpRun(t, nil, "copy", "--verify", "--bind", client1, m[1], m[2])
	if code != 0 || !strings.Contains(out, "verified sha256:") {
		t.Fatalf("printed command: exit %d\n%s\n%s", code, out, errOut)
	}
	// FXP is allowed only between A and B: B refuses PORT to a stranger.
	b := p.waitMatch(p.stdout, regexp.MustCompile(`B  ftp://(\S+)  user (\S+)  password (\S+)`))
	c := binDial(t, b[1], client1, b[2], b[3])
	msg, err := c.Expect(501, "PORT 127,0,0,12,156,64")
	if err != nil || !strings.Contains(msg, "127.0.0.12 is not an allowed FXP peer") {
		t.Fatalf("PORT to a stranger: %q %v", msg, err)
	}
	if _, err := c.Expect(200, "PORT 127,0,0,2,156,64"); err != nil {
		t.Fatalf("PORT to A: %v", err)
	}
	p.signal(syscall.SIGINT)
	if code := p.waitExit(binWait); code != 0 {
		t.Fatalf("exit %d after SIGINT\n%s", code, p.stderr.String())
	}
	if !strings.Contains(p.stdout.String(), "shutting down") {
		t.Fatalf("stdout:\n%s", p.stdout.String())
	}
}
